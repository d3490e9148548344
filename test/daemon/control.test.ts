// The control socket never replaces what is not a stale socket: a file (control.socket:
// /etc/passwd), a symlink or a directory at the path stays untouched and the daemon refuses;
// a stale socket (its owner died) is replaced; a live one is "in use".
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { serveControl } from '../../src/control/server';
import { controlRequest } from '../../src/control/client';
import { isXlvsError } from '../../src/errors';

function tmpDir(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-test-control-'));
}

test('serveControl refuses a regular file, a symlink and a directory at the socket path, and leaves them', async () => {
  const dir = tmpDir();
  try {
    const file = path.join(dir, 'passwd');
    fs.writeFileSync(file, 'root:x:0:0::/root:/bin/sh\n');
    const link = path.join(dir, 'link.sock');
    fs.symlinkSync(file, link);
    const sub = path.join(dir, 'sub.sock');
    fs.mkdirSync(sub);
    for (const [p, kind] of [[file, 'regular file'], [link, 'symbolic link'], [sub, 'directory']]) {
      await assert.rejects(serveControl(p, () => 'x'), (e: unknown) => {
        assert.ok(isXlvsError(e, 'E_CONTROL'), String(e));
        assert.equal((e as Error).message, `control socket ${p}: a ${kind} is already there; it is not a stale socket, so it is left alone (choose another control.socket)`);
        return true;
      });
    }
    assert.equal(fs.readFileSync(file, 'utf8'), 'root:x:0:0::/root:/bin/sh\n');
    assert.ok(fs.lstatSync(link).isSymbolicLink());
    assert.ok(fs.statSync(sub).isDirectory());
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('serveControl replaces a stale socket and refuses a live one', async () => {
  const dir = tmpDir();
  try {
    const sock = path.join(dir, 'ctl.sock');
    // A process that binds the socket and exits without closing it leaves a stale socket file.
    const r = spawnSync(process.execPath, ['-e', `require('net').createServer().listen(${JSON.stringify(sock)}, () => process.exit(0))`], { timeout: 10_000 });
    assert.equal(r.status, 0, String(r.stderr));
    assert.ok(fs.lstatSync(sock).isSocket(), 'a stale socket is there');
    const server = await serveControl(sock, (req) => ({ echo: req.cmd }));
    try {
      assert.deepEqual(await controlRequest(sock, { cmd: 'ping' }), { echo: 'ping' });
      await assert.rejects(serveControl(sock, () => 'x'), (e: unknown) => isXlvsError(e, 'E_CONTROL') && /is in use/.test((e as Error).message));
    } finally {
      await new Promise<void>((res) => server.close(() => res()));
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
