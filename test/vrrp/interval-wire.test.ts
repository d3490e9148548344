// Bounded advert intervals on the wire: xlvs's VRRP runner in namespace A, forged VRRPv3 adverts
// from namespace B (inject.ts). An interval of 0 is counted as bad-interval and ignored (the
// Master stays Master); a higher-priority advert claiming 40.95 s makes xlvs Backup, but its
// master-down timer comes from the clamped 4 s, so it takes over again after ≈ 14.4 s, not 148 s.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { VrrpLab, Speaker, sleep, waitUntil } from './lab';
import { needsBpf } from '../lib/env';
import { masterDownMs, MAX_INTERVAL_FACTOR } from '../../src/vrrp/state';

const NET = '10.237.0';
let L: VrrpLab;

function finalCounters(sp: Speaker): Record<string, { rejected: Record<string, number>; advertsReceived: number }> {
  const m = /counters (\{.*\})/.exec(sp.log());
  assert.ok(m, `no counters line in:\n${sp.log()}`);
  return JSON.parse(m[1]);
}

describe('VRRP advert intervals from a peer, on the wire', needsBpf(), () => {
  before(() => { L = new VrrpLab('vrivl', NET); });
  after(async () => { await L?.cleanup(); });

  test('interval 0 is ignored and counted; a 40.95 s interval is clamped to 4 × ours for the master-down timer', async () => {
    const vip = `${NET}.150`;
    let x: Speaker | undefined;
    const inject = (prio: number, word: number) =>
      L.lab.exec(L.b, [process.execPath, path.join(__dirname, 'inject.js'), '4', 'eth0', L.addr(L.b), '255', '150', String(prio), '1000', vip, String(word)]);
    try {
      x = L.xlvs(L.a, 'x150', { vrrp: [{ name: 'VI_150', interface: 'eth0', vrid: 150, priority: 100, version: 3, advert_interval: '1s', garp: { master_delay: '1s' }, vips: [`${vip}/24`] }] });
      await x.waitLog(/VI_150\) BACKUP -> MASTER/, 8000);

      inject(254, 0x0000);
      await x.waitLog(/rejected: bad-interval: advert interval 0/, 2000);
      await sleep(300);
      assert.doesNotMatch(x.log(), /MASTER -> BACKUP/, 'an advert with interval 0 must not be obeyed');

      const bounded = 1000 * MAX_INTERVAL_FACTOR;
      const wait = masterDownMs(100, bounded);
      assert.ok(wait < 15_000 && masterDownMs(100, 40_950) > 140_000);
      const t0 = Date.now();
      inject(254, 0x0fff); // 4095 cs, the largest RFC 5798 value
      await x.waitLog(/VI_150\) MASTER -> BACKUP/, 2000);
      assert.match(x.log(), /interval not learned: interval-clamped: Master advertises 40950ms, ours is 1000ms: master-down interval computed from 4000ms/);
      const from = x.log().length; // the first takeover (at startup) is already in the log
      await waitUntil(() => /VI_150\) BACKUP -> MASTER: master-down timer expired/.test(x!.log().slice(from)), wait + 3000, 50);
      const took = Date.now() - t0;
      process.stdout.write(`# Backup took over ${took} ms after the last 40.95 s advert (bounded master-down ${wait} ms)\n`);
      assert.ok(took >= wait - 200, `took over after ${took} ms, before the bounded master-down interval ${wait} ms`);
      await x.stop();
      const c = finalCounters(x).VI_150;
      assert.deepEqual(c.rejected, { 'bad-interval': 1, 'interval-clamped': 1 });
      assert.equal(c.advertsReceived, 1);
    } finally { await x?.stop(); }
  });
});
