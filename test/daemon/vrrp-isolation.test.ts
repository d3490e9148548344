// VRRP on its own thread, against a real keepalived: the daemon's main thread is blocked for 5 s
// on purpose (SIGUSR2 in stall-daemon.ts) while xlvs is VRRPv3 Master at 100 ms adverts and
// Debian's keepalived is Backup. With VRRP on the main thread keepalived would take the VIP after
// ~0.36 s (3 × 100 ms + skew); with VRRP on its own thread it never does.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { needsBpf } from '../lib/env';
import { VrrpLab, Speaker, keepalivedConf, sleep, waitUntil } from '../vrrp/lab';
import { testTopology } from './topology';

const NET = '10.79.0';
const VIP = `${NET}.100`;
const base = `/run/xlvs-test-stall-${process.pid}`;
const STALL_MS = 5000;

const topology = (): string => testTopology({ name: 'stall', net: NET, vrid: 61, base, reals: [50] });

/** Lines of keepalived's log that say it took the VIP. */
function takeovers(sp: Speaker): number {
  return (sp.log().match(/Entering MASTER STATE/g) ?? []).length;
}

describe('VRRP keeps its Master while the main thread is blocked', needsBpf(), () => {
  let lab: VrrpLab;
  let ka: Speaker | null = null;
  let xl: Speaker | null = null;
  before(() => {
    fs.mkdirSync(base, { recursive: true });
    lab = new VrrpLab('vstall', NET);
  });
  after(async () => {
    await xl?.stop('SIGTERM');
    await ka?.stop('SIGTERM');
    await lab?.cleanup();
    fs.rmSync(base, { recursive: true, force: true });
  });

  test('a 5 s stall of the main thread: zero Backup→Master transitions on keepalived, the VIP stays', async () => {
    const cfg = lab.file('stall.yaml', topology());
    const runner = path.join(__dirname, 'stall-daemon.js');
    xl = lab.speakerOf(lab.lab.spawn(lab.a, [process.execPath, runner, cfg, String(STALL_MS)]));
    await xl.waitLog(/VI_1 BACKUP -> MASTER/, 10_000);
    await waitUntil(() => lab.hasVip(lab.a, VIP), 5000);
    ka = lab.keepalived(lab.b, 'ka', keepalivedConf([{ vrid: 61, priority: 100, vip: `${VIP}/24`, advert: '0.1', version: 3 }]));
    await ka.waitLog(/Entering BACKUP STATE/, 10_000);
    await sleep(1000); // keepalived has heard our adverts for a while
    const before = takeovers(ka);
    assert.equal(before, 0, `keepalived took over before the stall:\n${ka.log()}`);

    process.kill(xl.proc.pid!, 'SIGUSR2');
    await xl.waitLog(/stalled \d+ ms/, STALL_MS + 10_000);
    const stalled = Number(/stalled (\d+) ms/.exec(xl.log())![1]);
    assert.ok(stalled >= STALL_MS, `the main thread was blocked ${stalled} ms`);
    await sleep(500);
    assert.equal(takeovers(ka), 0, `keepalived took the VIP while the daemon's main thread was blocked:\n${ka.log()}`);
    assert.ok(lab.hasVip(lab.a, VIP), 'the xlvs Master still holds the VIP');
    assert.ok(!lab.hasVip(lab.b, VIP), 'keepalived does not hold the VIP');
  });
});
