// The poll-on-a-worker-thread design of src/sys/poller.ts, on a FIFO (no namespace needed):
// readiness reaches the main thread, the event loop keeps running while poll waits, and a
// removed fd is closed only after the in-flight poll returned.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { Poller } from '../../src/sys/poller';
import { STANDALONE } from './lab';

test('poller: readable FIFO wakes the handler; timers keep running meanwhile; remove closes the fd', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-vrrp-poll-'));
  const poller = new Poller();
  try {
    const fifo = path.join(dir, 'f');
    execFileSync('mkfifo', [fifo]);
    const fd = fs.openSync(fifo, fs.constants.O_RDWR | fs.constants.O_NONBLOCK);
    const got: string[] = [];
    let wake: (() => void) | null = null;
    poller.add(fd, () => {
      const b = Buffer.alloc(64);
      for (;;) {
        let n = 0;
        try { n = fs.readSync(fd, b, 0, 64, null); } catch (e) { if ((e as NodeJS.ErrnoException).code === 'EAGAIN') break; throw e; }
        if (n <= 0) break;
        got.push(b.subarray(0, n).toString());
      }
      wake?.();
    });
    // While poll() blocks on its worker thread, the main thread still runs timers.
    let ticks = 0;
    const iv = setInterval(() => { ticks++; }, 5);
    await new Promise((r) => setTimeout(r, 100));
    assert.ok(ticks >= 5, `event loop blocked: ${ticks} ticks in 100 ms`);
    const t0 = process.hrtime.bigint();
    const arrived = new Promise<void>((r) => { wake = r; });
    fs.writeSync(fd, 'hello');
    await arrived;
    const us = Number(process.hrtime.bigint() - t0) / 1000;
    clearInterval(iv);
    assert.deepEqual(got, ['hello']);
    assert.ok(us < 1_000_000, `handler ran after ${us} µs`);
    poller.removeAndClose(fd);
    await new Promise((r) => setTimeout(r, 50));
    assert.throws(() => fs.fstatSync(fd), /EBADF/, 'fd must be closed once the poll returned');
  } finally {
    poller.close();
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('xlvs vrrp: a bad file fails with the path of the bad field and exit status 1, nothing started', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-vrrp-cli-'));
  try {
    const f = path.join(dir, 'bad.json');
    fs.writeFileSync(f, JSON.stringify({ vrrp: [{ name: 'VI_1', interface: 'lo', vrid: 300, vips: ['10.0.0.1/24'] }] }));
    const r = spawnSync(process.execPath, [STANDALONE, '-c', f], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(r.status, 1, r.stderr);
    assert.match(r.stderr, /bad\.json: vrrp\[0\]\.vrid: must be an integer 1\.\.255 \(got 300\) \[E_CONFIG_INVALID\]/);
    const ok = path.join(dir, 'ok.yaml');
    fs.writeFileSync(ok, 'vrrp:\n  - { name: VI_1, interface: lo, vrid: 5, advert_interval: 2s, vips: [10.0.0.1/24] }\n');
    const c = spawnSync(process.execPath, [STANDALONE, '-c', ok, '--check'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(c.status, 0, c.stderr);
    assert.equal(JSON.parse(c.stdout).instances[0].advertIntervalMs, 2000);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
