// xlvs's VRRP against Debian's keepalived 2.2.7, in namespaces this file creates: A runs xlvs
// (10.N.0.1), B runs keepalived (10.N.0.2), both on a bridge in a third namespace where tcpdump
// listens. Each case uses its own VRID and VIP, and stops what it started even when it fails.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { VrrpLab, keepalivedConf, waitUntil, sleep, Speaker } from './lab';
import { readPcap } from './pcap';
import { needsCommand } from '../lib/env';
import { masterDownMs } from '../../src/vrrp/state';

const NET = '10.236.0';
let L: VrrpLab;

type Doc = Record<string, unknown>;
function xlvsInstance(o: Doc): Doc {
  return { name: `VI_${o.vrid}`, interface: 'eth0', priority: 100, garp: { master_delay: '1s' }, ...o };
}
/** Counters printed by the runner when it stops (SIGTERM). */
function finalCounters(sp: Speaker): Record<string, { rejected: Record<string, number>; advertsReceived: number; advertsSent: number; priorityZeroSent: number; state: string }> {
  const m = /counters (\{.*\})/.exec(sp.log());
  assert.ok(m, `no counters line in:\n${sp.log()}`);
  return JSON.parse(m[1]);
}
async function stopAll(...sps: (Speaker | undefined)[]): Promise<void> {
  await Promise.all(sps.map((s) => s?.stop()));
}

describe('VRRP interop with keepalived', needsCommand('keepalived'), () => {
  before(() => { L = new VrrpLab('vrint', NET); });
  after(async () => { await L?.cleanup(); });

  test('1. xlvs 100 vs keepalived 99 (v2, PASS): xlvs Master, keepalived Backup, VIP only on xlvs; notify gets keepalived\'s arguments', async () => {
    const vip = `${NET}.101`;
    const notifyOut = path.join(L.dir, 'notify1.txt');
    const script = L.file('notify1.sh', `#!/bin/sh\nprintf '%s|' "$@" >> ${notifyOut}\necho >> ${notifyOut}\n`);
    fs.chmodSync(script, 0o755);
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      x = L.xlvs(L.a, 'x1', { vrrp: [xlvsInstance({ vrid: 101, priority: 100, auth: { type: 'pass', secret: 's3cret' }, vips: [`${vip}/24`], notify: { any: [script], master: [script, 'M', '%instance%', 'a;b $(id) `x`'] } })] });
      k = L.keepalived(L.b, 'k1', keepalivedConf([{ vrid: 101, priority: 99, vip: `${vip}/24`, pass: 's3cret' }]));
      await x.waitLog(/VI_101\) BACKUP -> MASTER/, 8000);
      await waitUntil(() => L.hasVip(L.a, vip), 2000);
      await sleep(2500); // a few adverts: keepalived must stay Backup
      assert.match(k.log(), /\(VI_101\) Entering BACKUP STATE/);
      const kaMasterLines = k.log().split('\n').filter((l) => /VI_101\) Entering MASTER STATE/.test(l)).length;
      const kaBackupLines = k.log().split('\n').filter((l) => /VI_101\) Entering BACKUP STATE/.test(l)).length;
      assert.ok(kaBackupLines > kaMasterLines, `keepalived must end in Backup:\n${k.log()}`);
      assert.equal(L.hasVip(L.b, vip), false, 'VIP must not be on keepalived\'s side');
      assert.ok(L.hasVip(L.a, vip));
      // A forged v2-incompatible (v3) priority-254 advert with TTL 1 from B: counted, not obeyed.
      L.lab.exec(L.b, [process.execPath, path.join(__dirname, 'inject.js'), '4', 'eth0', L.addr(L.b), '1', '101', '254', '1000', vip]);
      await x.waitLog(/rejected: bad-ttl: ttl 1/, 2000);
      const lines = fs.readFileSync(notifyOut, 'utf8').split('\n').filter(Boolean);
      assert.ok(lines.includes('INSTANCE|VI_101|BACKUP|100|'), lines.join('\n'));
      assert.ok(lines.includes('INSTANCE|VI_101|MASTER|100|'), lines.join('\n'));
      assert.ok(lines.includes('M|VI_101|a;b $(id) `x`|'), lines.join('\n'));
      await x.stop();
      const c = finalCounters(x).VI_101;
      assert.equal(c.priorityZeroSent, 1);
      assert.deepEqual(c.rejected, { 'bad-ttl': 1 });
      assert.doesNotMatch(x.log(), /MASTER -> BACKUP/);
      await waitUntil(() => L.hasVip(L.b, vip), 3000); // priority 0: keepalived takes over after skew
      assert.equal(L.hasVip(L.a, vip), false, 'SIGTERM removes the VIP');
    } finally { await stopAll(x, k); }
  });

  test('2+3. keepalived 100 vs xlvs 99: keepalived Master; SIGKILL it → xlvs owns the VIP within 3×advert_int+skew and ARPs for it', async () => {
    const vip = `${NET}.102`;
    let x: Speaker | undefined, k: Speaker | undefined, dump: Speaker | undefined;
    try {
      k = L.keepalived(L.b, 'k2', keepalivedConf([{ vrid: 102, priority: 100, vip: `${vip}/24`, pass: 's3cret' }]));
      await k.waitLog(/VI_102\) Entering MASTER STATE/, 8000);
      x = L.xlvs(L.a, 'x2', { vrrp: [xlvsInstance({ vrid: 102, priority: 99, auth: { type: 'pass', secret: 's3cret' }, vips: [`${vip}/24`] })] });
      await x.waitLog(/VI_102\) INIT -> BACKUP/, 3000);
      await sleep(4500); // longer than xlvs's master-down interval: adverts keep it Backup
      assert.doesNotMatch(x.log(), /-> MASTER/);
      assert.ok(L.hasVip(L.b, vip) && !L.hasVip(L.a, vip));
      const pcap = path.join(L.dir, 'garp.pcap');
      dump = await L.tcpdump(pcap, ['arp']);
      const t0 = Date.now();
      L.killKeepalived('k2', k);
      const took = await waitUntil(() => L.hasVip(L.a, vip), 8000);
      const bound = masterDownMs(99, 1000);
      assert.ok(took <= bound + 400, `took over after ${took} ms, bound ${bound} ms (+400 ms polling/scheduling slack)`);
      assert.ok(Date.now() - t0 >= 2000, 'took over before a dead master could have been detected');
      await sleep(300);
      await dump.stop();
      const mac = Buffer.from(L.lab.exec(L.a, ['cat', '/sys/class/net/eth0/address']).stdout.trim().split(':').map((h) => parseInt(h, 16)));
      const vipBytes = Buffer.from(vip.split('.').map(Number));
      const garps = readPcap(pcap).map((r) => r.frame).filter((f) => f.readUInt16BE(12) === 0x0806 && f.readUInt16BE(20) === 1
        && f.subarray(22, 28).equals(mac) && f.subarray(28, 32).equals(vipBytes) && f.subarray(38, 42).equals(vipBytes)
        && f.subarray(32, 38).equals(Buffer.alloc(6, 0xff)) && f.subarray(0, 6).equals(Buffer.alloc(6, 0xff)));
      assert.ok(garps.length >= 5, `expected a burst of gratuitous ARPs from xlvs, saw ${garps.length}`);
    } finally { await stopAll(dump, x, k); }
  });

  test('4. authentication mismatch: adverts rejected and counted, never acted upon', async () => {
    const vip = `${NET}.104`;
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      // keepalived as address owner (255) is Master at once and advertises every second.
      k = L.keepalived(L.b, 'k4', keepalivedConf([{ vrid: 104, priority: 255, vip: `${vip}/24`, pass: 'right' }]));
      await k.waitLog(/VI_104\) Entering MASTER STATE/, 5000);
      x = L.xlvs(L.a, 'x4', { vrrp: [xlvsInstance({ vrid: 104, priority: 50, auth: { type: 'pass', secret: 'wrong' }, vips: [`${vip}/24`] })] });
      await x.waitLog(/rejected: auth-mismatch/, 4000);
      await x.stop();
      const c = finalCounters(x).VI_104;
      assert.ok((c.rejected['auth-mismatch'] ?? 0) >= 1, JSON.stringify(c));
      assert.equal(c.advertsReceived, 0, 'a rejected advert must not count as received');
    } finally { await stopAll(x, k); }
  });

  test('5. VRRPv3 advert_int 0.1: failover under 0.5 s both ways', async () => {
    const vip = `${NET}.105`;
    let x: Speaker | undefined, k: Speaker | undefined, k2: Speaker | undefined;
    try {
      x = L.xlvs(L.a, 'x5', { vrrp: [xlvsInstance({ vrid: 105, version: 3, advert_interval: '100ms', priority: 100, vips: [`${vip}/24`] })] });
      k = L.keepalived(L.b, 'k5', keepalivedConf([{ vrid: 105, priority: 99, vip: `${vip}/24`, version: 3, advert: '0.1' }]));
      await x.waitLog(/VI_105\) BACKUP -> MASTER/, 3000);
      await k.waitLog(/VI_105\) Entering BACKUP STATE/, 3000);
      await sleep(500);
      // xlvs crashes (SIGKILL: no priority 0) → keepalived must notice within its master-down interval.
      x.proc.kill('SIGKILL');
      const t1 = await waitUntil(() => L.hasVip(L.b, vip), 3000, 10);
      assert.ok(t1 < 500, `keepalived took over after ${t1} ms`);
      L.lab.exec(L.a, ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], { allowFail: true }); // the crashed side's leftover
      // The other way: xlvs 99 as Backup, keepalived 100 crashes.
      await k.stop();
      k2 = L.keepalived(L.b, 'k5b', keepalivedConf([{ vrid: 105, priority: 100, vip: `${vip}/24`, version: 3, advert: '0.1' }]));
      x = L.xlvs(L.a, 'x5b', { vrrp: [xlvsInstance({ vrid: 105, version: 3, advert_interval: '100ms', priority: 99, vips: [`${vip}/24`] })] });
      await k2.waitLog(/VI_105\) Entering MASTER STATE/, 3000);
      await x.waitLog(/VI_105\) INIT -> BACKUP/, 3000);
      await sleep(600);
      assert.equal(L.hasVip(L.a, vip), false);
      L.killKeepalived('k5b', k2);
      const t2 = await waitUntil(() => L.hasVip(L.a, vip), 3000, 10);
      assert.ok(t2 < 500, `xlvs took over after ${t2} ms`);
    } finally { await stopAll(x, k, k2); }
  });

  test('6. unicast peers: xlvs Backup on unicast adverts only, takes over on keepalived\'s priority 0', async () => {
    const vip = `${NET}.106`;
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      k = L.keepalived(L.b, 'k6', keepalivedConf([{ vrid: 106, priority: 100, vip: `${vip}/24`, version: 3, advert: '0.1', unicastSrc: `${NET}.2`, unicastPeers: [`${NET}.1`] }]));
      await k.waitLog(/VI_106\) Entering MASTER STATE/, 3000);
      x = L.xlvs(L.a, 'x6', { vrrp: [xlvsInstance({ vrid: 106, version: 3, advert_interval: '100ms', priority: 99, vips: [`${vip}/24`], unicast_src: `${NET}.1`, unicast_peers: [`${NET}.2`] })] });
      await x.waitLog(/unicast to 10\.236\.0\.2/, 3000);
      await sleep(1000); // > master-down (≈ 361 ms): unicast adverts hold xlvs in Backup
      assert.doesNotMatch(x.log(), /-> MASTER/);
      await k.stop(); // SIGTERM: keepalived sends priority 0 to its unicast peer
      const t = await waitUntil(() => L.hasVip(L.a, vip), 2000, 10);
      assert.ok(t < 1000, `took over ${t} ms after keepalived stopped`);
      await x.stop();
      const c = finalCounters(x).VI_106;
      assert.ok(c.advertsReceived >= 5, JSON.stringify(c));
      assert.deepEqual(c.rejected, {});
    } finally { await stopAll(x, k); }
  });

  test('7. nopreempt keeps a lower-priority Master; preempt_delay waits, then preempts', async () => {
    const vip = `${NET}.107`;
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      k = L.keepalived(L.b, 'k7', keepalivedConf([{ vrid: 107, priority: 50, vip: `${vip}/24`, version: 3, advert: '0.1' }]));
      await k.waitLog(/VI_107\) Entering MASTER STATE/, 3000);
      x = L.xlvs(L.a, 'x7', { vrrp: [xlvsInstance({ vrid: 107, version: 3, advert_interval: '100ms', priority: 200, preempt: false, vips: [`${vip}/24`] })] });
      await x.waitLog(/INIT -> BACKUP/, 3000);
      await sleep(1500); // ≈ 4 master-down intervals
      assert.doesNotMatch(x.log(), /-> MASTER/, 'nopreempt: must not take over from a lower-priority Master');
      assert.ok(L.hasVip(L.b, vip));
      await x.stop();
      // preempt_delay 1 s: keepalived.conf(5) "seconds after startup or seeing a lower priority master until preemption".
      const started = Date.now();
      x = L.xlvs(L.a, 'x7b', { vrrp: [xlvsInstance({ vrid: 107, version: 3, advert_interval: '100ms', priority: 200, preempt_delay: '1s', vips: [`${vip}/24`] })] });
      await x.waitLog(/INIT -> BACKUP/, 3000);
      await sleep(700);
      assert.doesNotMatch(x.log(), /-> MASTER/, 'preempted before preempt_delay');
      await x.waitLog(/BACKUP -> MASTER/, 4000);
      const after = Date.now() - started;
      assert.ok(after >= 1000, `preempted after ${after} ms`);
      await k.waitLog(/VI_107\) Entering BACKUP STATE/, 2000);
      await waitUntil(() => L.hasVip(L.a, vip) && !L.hasVip(L.b, vip), 2000);
    } finally { await stopAll(x, k); }
  });

  test('8. two VRIDs, each side Master for one; kill one side → the other holds both', async () => {
    const v1 = `${NET}.181`, v2 = `${NET}.182`;
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      x = L.xlvs(L.a, 'x8', { vrrp: [
        xlvsInstance({ vrid: 181, version: 3, advert_interval: '100ms', priority: 150, vips: [`${v1}/24`] }),
        xlvsInstance({ vrid: 182, version: 3, advert_interval: '100ms', priority: 50, vips: [`${v2}/24`] }),
      ] });
      k = L.keepalived(L.b, 'k8', keepalivedConf([
        { vrid: 181, priority: 50, vip: `${v1}/24`, version: 3, advert: '0.1' },
        { vrid: 182, priority: 150, vip: `${v2}/24`, version: 3, advert: '0.1' },
      ]));
      await waitUntil(() => L.hasVip(L.a, v1) && L.hasVip(L.b, v2), 4000);
      await sleep(500);
      assert.ok(L.hasVip(L.a, v1) && !L.hasVip(L.a, v2) && L.hasVip(L.b, v2) && !L.hasVip(L.b, v1), 'each side Master for one VRID');
      L.killKeepalived('k8', k);
      await waitUntil(() => L.hasVip(L.a, v1) && L.hasVip(L.a, v2), 2000, 10);
      // The address can appear before the log line reaches our pipe: wait for the line, do not race it.
      await x.waitLog(/VI_182\) BACKUP -> MASTER/, 2000);
    } finally { await stopAll(x, k); }
  });

  test('9. VRRPv3 over IPv6: xlvs Master with unsolicited NA, keepalived Backup; SIGTERM hands over', async () => {
    const vip = '2001:db8:236::10';
    const has6 = (ns: string) => L.lab.exec(ns, ['ip', '-6', '-o', 'addr', 'show', 'dev', 'eth0']).stdout.includes(` ${vip}/`);
    let x: Speaker | undefined, k: Speaker | undefined, dump: Speaker | undefined;
    try {
      // Link-local addresses must have finished DAD before anyone can send from them.
      await waitUntil(() => ![L.a, L.b].some((ns) => /tentative/.test(L.lab.exec(ns, ['ip', '-6', 'addr', 'show', 'dev', 'eth0']).stdout)), 5000, 100);
      const pcap = path.join(L.dir, 'na.pcap');
      dump = await L.tcpdump(pcap, ['icmp6']);
      x = L.xlvs(L.a, 'x9', { vrrp: [xlvsInstance({ vrid: 109, version: 3, advert_interval: '100ms', priority: 100, vips: [`${vip}/64`] })] });
      k = L.keepalived(L.b, 'k9', keepalivedConf([{ vrid: 109, priority: 99, vip: `${vip}/64`, version: 3, advert: '0.1' }]));
      await x.waitLog(/VI_109\) BACKUP -> MASTER/, 3000);
      await waitUntil(() => has6(L.a) && !has6(L.b), 3000);
      await sleep(500);
      assert.ok(has6(L.a) && !has6(L.b), 'VIP only on xlvs\'s side');
      await dump.stop();
      const mac = Buffer.from(L.lab.exec(L.a, ['cat', '/sys/class/net/eth0/address']).stdout.trim().split(':').map((h) => parseInt(h, 16)));
      const target = Buffer.from('20010db8023600000000000000000010', 'hex');
      // Ethernet 14 + IPv6 40: ICMPv6 type 136 (NA), Override flag, target = VIP, option 2 = our MAC.
      const nas = readPcap(pcap).map((r) => r.frame).filter((f) => f.readUInt16BE(12) === 0x86dd && f[20] === 58 && f[21] === 255 && f[54] === 136
        && (f[58] & 0x20) !== 0 && f.subarray(62, 78).equals(target) && f[78] === 2 && f.subarray(80, 86).equals(mac));
      assert.ok(nas.length >= 5, `expected unsolicited NAs from xlvs, saw ${nas.length}`);
      // A forged priority-254 advert with hop limit 1 (RFC 5798 §7.1: must be 255) is counted, not obeyed.
      const ll = JSON.parse(L.lab.exec(L.b, ['ip', '-j', '-6', 'addr', 'show', 'dev', 'eth0', 'scope', 'link']).stdout)[0].addr_info[0].local;
      L.lab.exec(L.b, [process.execPath, path.join(__dirname, 'inject.js'), '6', 'eth0', ll, '1', '109', '254', '100', vip]);
      await x.waitLog(/rejected: bad-ttl: ttl 1/, 2000);
      await sleep(200);
      assert.doesNotMatch(x.log(), /MASTER -> BACKUP/);
      await x.stop();
      await waitUntil(() => has6(L.b) && !has6(L.a), 2000);
      const c = finalCounters(x).VI_109;
      assert.deepEqual(c.rejected, { 'bad-ttl': 1 });
      assert.equal(c.priorityZeroSent, 1);
    } finally { await stopAll(dump, x, k); }
  });
});
