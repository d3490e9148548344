// argv that runs this build's `xlvs` CLI, so the lab and tests run the same code they were built
// with (dist/ or an engineer's dist-NAME/), inside any namespace (`inNs(ns, xlvsArgv([...]))`).
import * as path from 'node:path';

/** The compiled CLI module next to this file: <out>/src/cli/main.js. */
export function cliMain(): string {
  return path.join(__dirname, '..', 'cli', 'main.js');
}

/** `node -e 'require(main).main(argv)' xlvs ARGS…` (commander drops argv[0..1]). */
export function xlvsArgv(args: string[]): string[] {
  return [process.execPath, '-e', `require(${JSON.stringify(cliMain())}).main(process.argv)`, 'xlvs', ...args];
}
