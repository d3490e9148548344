#!/usr/bin/env node
'use strict';
// Entry point for the `xlvs` command; the code lives in dist/ after `make build`.
const path = require('node:path');
const fs = require('node:fs');
const main = path.join(__dirname, '..', 'dist', 'src', 'cli', 'main.js');
if (!fs.existsSync(main)) {
  process.stderr.write('xlvs: not built yet; run `make build` in ' + path.join(__dirname, '..') + '\n');
  process.exit(1);
}
require(main).main(process.argv);
