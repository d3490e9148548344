// ensureBpffs never mounts over a directory that holds files (a pin_root of /etc would hide the
// host's configuration) nor over a file; the directory and its files are left as they were.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ensureBpffs, onBpffs } from '../../src/loader';
import { isXlvsError } from '../../src/errors';

test('ensureBpffs refuses a directory that holds files, and a path that is a file', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-test-bpffs-refuse-'));
  try {
    fs.writeFileSync(path.join(dir, 'passwd'), 'root:x:0:0::/root:/bin/sh\n');
    fs.mkdirSync(path.join(dir, 'sub'));
    assert.throws(() => ensureBpffs(dir), (e: unknown) => {
      assert.ok(isXlvsError(e, 'E_BPF_PIN'), String(e));
      assert.equal((e as Error).message, `will not mount a bpffs at ${dir}: ${dir} is not on a BPF filesystem and holds 2 entries (passwd, sub); a bpffs mounted there would hide them (mount one there first, or choose an empty directory)`);
      return true;
    });
    assert.equal(onBpffs(dir), false, 'nothing was mounted');
    assert.equal(fs.readFileSync(path.join(dir, 'passwd'), 'utf8'), 'root:x:0:0::/root:/bin/sh\n');

    const file = path.join(dir, 'passwd');
    assert.throws(() => ensureBpffs(file), (e: unknown) => isXlvsError(e, 'E_BPF_PIN') && (e as Error).message.includes(`${file} exists and is not a directory`));
    assert.equal(onBpffs(file), false);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
