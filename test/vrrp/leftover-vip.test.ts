// A speaker killed while Master leaves its VIP on the interface. Its successor starts as Backup
// and must remove it, as keepalived does: otherwise two routers answer ARP for the VIP. Here
// keepalived (B) is Master; the VIP is also on A's eth0 as a killed xlvs would have left it;
// xlvs starts on A as Backup and takes it off.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { VrrpLab, keepalivedConf, waitUntil, sleep, Speaker } from './lab';
import { needsCommand } from '../lib/env';

const NET = '10.237.0';

describe('a Backup removes the VIPs a killed predecessor left', needsCommand('keepalived'), () => {
  let L: VrrpLab;
  let k: Speaker | undefined;
  let x: Speaker | undefined;
  before(() => { L = new VrrpLab('vrleft', NET); });
  after(async () => {
    await Promise.all([x?.stop(), k?.stop()]);
    await L?.cleanup();
  });

  test('xlvs starting as Backup deletes the VIP left on its interface; keepalived keeps it', async () => {
    const vip = `${NET}.110`;
    k = L.keepalived(L.b, 'k', keepalivedConf([{ vrid: 110, priority: 150, vip: `${vip}/24`, advert: '0.1', version: 3 }]));
    await k.waitLog(/VI_110\) Entering MASTER STATE/, 8000);
    L.lab.exec(L.a, ['ip', 'addr', 'add', `${vip}/24`, 'dev', 'eth0']);
    assert.ok(L.hasVip(L.a, vip), 'the leftover VIP is in place before xlvs starts');
    x = L.xlvs(L.a, 'x', { vrrp: [{ name: 'VI_110', interface: 'eth0', vrid: 110, priority: 100, version: 3, advert_interval: '100ms', vips: [`${vip}/24`] }] });
    await x.waitLog(/VI_110\) INIT -> BACKUP/, 5000);
    await waitUntil(() => !L.hasVip(L.a, vip), 3000);
    await sleep(500);
    assert.doesNotMatch(x.log(), /-> MASTER/);
    assert.ok(L.hasVip(L.b, vip), 'keepalived, the Master, still holds the VIP');
  });
});
