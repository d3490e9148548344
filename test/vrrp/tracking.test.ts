// Tracking, sync groups and dual-master recovery of the runner, against keepalived in
// namespaces this file creates (xlvs in A, keepalived in B, bridge in a third namespace).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { VrrpLab, keepalivedConf, waitUntil, sleep, Speaker } from './lab';
import { execFileSync } from 'node:child_process';
import { readPcap } from './pcap';
import { needsCommand } from '../lib/env';

const NET = '10.238.0';
let L: VrrpLab;

const v3 = { version: 3, advert_interval: '100ms', interface: 'eth0', garp: { master_delay: '0s', master_repeat: 2 } };

describe('VRRP tracking, sync groups and dual-master recovery', needsCommand('keepalived'), () => {
  before(() => {
    L = new VrrpLab('vrtrk', NET);
    // A tracked link in A: t0, whose peer t1 we set down to take t0's carrier away.
    L.lab.exec(L.a, ['ip', 'link', 'add', 't0', 'type', 'veth', 'peer', 'name', 't1']);
    L.lab.exec(L.a, ['ip', 'link', 'set', 't0', 'up']);
    L.lab.exec(L.a, ['ip', 'link', 'set', 't1', 'up']);
  });
  after(async () => { await L?.cleanup(); });

  test('track_interface (weight 0) puts a sync group in FAULT together; recovery preempts back', async () => {
    const va = `${NET}.121`, vb = `${NET}.122`;
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      x = L.xlvs(L.a, 'xs', {
        vrrp: [
          { ...v3, name: 'VI_A', vrid: 121, priority: 100, vips: [`${va}/24`], track_interfaces: [{ name: 't0', weight: 0 }] },
          { ...v3, name: 'VI_B', vrid: 122, priority: 100, vips: [`${vb}/24`] },
        ],
        vrrp_sync_groups: [{ name: 'G', instances: ['VI_A', 'VI_B'] }],
      });
      k = L.keepalived(L.b, 'ks', keepalivedConf([
        { vrid: 121, priority: 99, vip: `${va}/24`, version: 3, advert: '0.1' },
        { vrid: 122, priority: 99, vip: `${vb}/24`, version: 3, advert: '0.1' },
      ]));
      await waitUntil(() => L.hasVip(L.a, va) && L.hasVip(L.a, vb) && !L.hasVip(L.b, va) && !L.hasVip(L.b, vb), 4000);
      L.lab.exec(L.a, ['ip', 'link', 'set', 't1', 'down']);
      await waitUntil(() => L.hasVip(L.b, va) && L.hasVip(L.b, vb) && !L.hasVip(L.a, va) && !L.hasVip(L.a, vb), 3000);
      assert.ok(!L.hasVip(L.a, va) && !L.hasVip(L.a, vb), 'FAULT removes the VIPs of both members');
      // The log reaches us through a pipe, possibly after the addresses changed: wait for it.
      await x.waitLog(/\(VI_A\) MASTER -> FAULT: tracked interface/, 2000);
      await x.waitLog(/\(VI_B\) MASTER -> FAULT: sync group member in fault/, 2000);
      L.lab.exec(L.a, ['ip', 'link', 'set', 't1', 'up']);
      await waitUntil(() => L.hasVip(L.a, va) && L.hasVip(L.a, vb), 4000);
      await waitUntil(() => !L.hasVip(L.b, va) && !L.hasVip(L.b, vb), 2000);
    } finally {
      L.lab.exec(L.a, ['ip', 'link', 'set', 't1', 'up'], { allowFail: true });
      await Promise.all([x?.stop(), k?.stop()]);
    }
  });

  test('track_script with a negative weight lowers the priority so keepalived preempts; rise brings it back', async () => {
    const vip = `${NET}.123`;
    const flag = L.file('healthy', 'ok');
    let x: Speaker | undefined, k: Speaker | undefined;
    try {
      x = L.xlvs(L.a, 'xt', {
        vrrp: [{ ...v3, name: 'VI_T', vrid: 123, priority: 100, vips: [`${vip}/24`], track_scripts: ['chk'] }],
        vrrp_scripts: [{ name: 'chk', command: ['/usr/bin/test', '-e', flag], interval: '100ms', timeout: '1s', rise: 2, fall: 2, weight: -20 }],
      });
      k = L.keepalived(L.b, 'kt', keepalivedConf([{ vrid: 123, priority: 90, vip: `${vip}/24`, version: 3, advert: '0.1' }]));
      await waitUntil(() => L.hasVip(L.a, vip) && !L.hasVip(L.b, vip), 4000);
      L.lab.exec(L.a, ['rm', '-f', flag]);
      await waitUntil(() => L.hasVip(L.b, vip) && !L.hasVip(L.a, vip), 4000); // 100 − 20 = 80 < 90
      await x.waitLog(/vrrp_script chk now fails/, 1000);
      await x.waitLog(/\(VI_T\) MASTER -> BACKUP: higher priority 90 from 10\.238\.0\.2 \(ours 80\)/, 1000);
      L.file('healthy', 'ok');
      await waitUntil(() => L.hasVip(L.a, vip), 4000);
    } finally { await Promise.all([x?.stop(), k?.stop()]); }
  });

  test('after a dual-master heals, the winner sends gratuitous ARP again (keepalived #166)', async () => {
    const vip = `${NET}.124`;
    let x: Speaker | undefined, k: Speaker | undefined, dump: Speaker | undefined;
    const port = 'vrtrkb'; // B's bridge port (VrrpLab names it <prefix>b)
    try {
      x = L.xlvs(L.a, 'xd', { vrrp: [{ ...v3, name: 'VI_D', vrid: 124, priority: 100, vips: [`${vip}/24`] }] });
      k = L.keepalived(L.b, 'kd', keepalivedConf([{ vrid: 124, priority: 90, vip: `${vip}/24`, version: 3, advert: '0.1' }]));
      await waitUntil(() => L.hasVip(L.a, vip) && !L.hasVip(L.b, vip), 4000);
      // Partition without taking any carrier down: stop the bridge forwarding B's port.
      L.lab.exec(L.br, ['bridge', 'link', 'set', 'dev', port, 'state', '0']);
      await waitUntil(() => L.hasVip(L.b, vip), 3000);
      assert.ok(L.hasVip(L.a, vip), 'both sides Master during the partition');
      const pcap = path.join(L.dir, 'heal.pcap');
      dump = await L.tcpdump(pcap, ['arp']);
      const logBefore = x.log().length;
      // Heal in two steps so the order is certain: first B → A only (the bridge stops flooding
      // multicast to B's port, so xlvs hears keepalived's lower-priority adverts but keepalived
      // does not hear xlvs), then both ways.
      L.lab.exec(L.br, ['bridge', 'link', 'set', 'dev', port, 'mcast_flood', 'off']);
      L.lab.exec(L.br, ['bridge', 'link', 'set', 'dev', port, 'state', '3']); // forwarding
      await waitUntil(() => /lower priority 90 advert from 10\.238\.0\.2: sending gratuitous ARP again/.test(x!.log().slice(logBefore)), 2000);
      await sleep(200);
      await dump.stop();
      L.lab.exec(L.br, ['bridge', 'link', 'set', 'dev', port, 'mcast_flood', 'on']);
      await waitUntil(() => !L.hasVip(L.b, vip), 3000);
      const mac = Buffer.from(L.lab.exec(L.a, ['cat', '/sys/class/net/eth0/address']).stdout.trim().split(':').map((h) => parseInt(h, 16)));
      const vipBytes = Buffer.from(vip.split('.').map(Number));
      const ours = readPcap(pcap).filter((r) => r.frame.readUInt16BE(12) === 0x0806 && r.frame.subarray(22, 28).equals(mac) && r.frame.subarray(28, 32).equals(vipBytes));
      assert.ok(ours.length >= 2, `expected xlvs's gratuitous ARPs after healing, saw ${ours.length} of ${readPcap(pcap).length} ARP frames\n${x.log()}\n${dump.log()}\n${new Date().toISOString()}`);
      assert.ok(L.hasVip(L.a, vip));
    } finally {
      L.lab.exec(L.br, ['bridge', 'link', 'set', 'dev', port, 'state', '3', 'mcast_flood', 'on'], { allowFail: true });
      await Promise.all([dump?.stop(), x?.stop(), k?.stop()]);
    }
  });

  test('in-process runner: onStateChange sees the VIPs already added (Master) or removed (Backup/stop); events stream', async () => {
    const vip = `${NET}.125`;
    const src = path.join(__dirname, '..', '..', 'src', 'vrrp');
    const script = L.file('hooked.js', `
      const { execFileSync } = require('node:child_process');
      const { VrrpRunner } = require(${JSON.stringify(path.join(src, 'runner.js'))});
      const { normaliseVrrp } = require(${JSON.stringify(path.join(src, 'types.js'))});
      const cfg = normaliseVrrp(${JSON.stringify({ vrrp: [{ ...v3, name: 'VI_H', vrid: 125, priority: 100, vips: [`${vip}/24`] }] })});
      const has = () => execFileSync('ip', ['-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).includes(' ${vip}/');
      const r = new VrrpRunner(cfg, { logger: { info() {}, warn: (m) => console.log('WARN ' + m) }, hooks: {
        onStateChange: (c) => console.log('HOOK ' + JSON.stringify({ from: c.from, to: c.to, vips: c.vips, vipPresent: has() })),
      } });
      r.on('transition', (c) => console.log('EVENT ' + c.from + '>' + c.to));
      r.on('advert-sent', () => {});
      r.start();
      process.on('SIGTERM', () => r.stop().then(() => { console.log('COUNTERS ' + JSON.stringify(r.counters())); process.exit(0); }));
    `);
    const sp = L.lab.spawn(L.a, [process.execPath, script]);
    let out = '';
    sp.stdout!.on('data', (d) => { out += d; });
    try {
      await waitUntil(() => /HOOK .*"to":"MASTER"/.test(out), 3000);
      const exited = new Promise((r) => sp.once('exit', r));
      process.kill(sp.pid!, 'SIGTERM');
      await exited;
      const hooks = out.split('\n').filter((l) => l.startsWith('HOOK ')).map((l) => JSON.parse(l.slice(5)));
      assert.deepEqual(hooks.map((h) => `${h.from}>${h.to}:${h.vipPresent}`), ['INIT>BACKUP:false', 'BACKUP>MASTER:true', 'MASTER>INIT:false'], out);
      assert.deepEqual(hooks[1].vips, [{ address: vip, prefix: 24 }]);
      assert.deepEqual(out.split('\n').filter((l) => l.startsWith('EVENT ')), ['EVENT INIT>BACKUP', 'EVENT BACKUP>MASTER', 'EVENT MASTER>INIT']);
      const counters = JSON.parse(/COUNTERS (.*)/.exec(out)![1]).VI_H;
      assert.equal(counters.becameMaster, 1);
      assert.equal(counters.priorityZeroSent, 1);
      assert.ok(counters.advertsSent >= 2);
      assert.equal(execFileSync('ip', ['netns', 'exec', L.a, 'ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0'], { encoding: 'utf8' }).includes(vip), false);
    } finally {
      if (sp.exitCode === null) sp.kill('SIGKILL');
    }
  });
  test('gratuitous ARP: a burst of master_repeat on Master, again after master_delay, then refresh_repeat every refresh', async () => {
    const vip = `${NET}.125`;
    let x: Speaker | undefined, dump: Speaker | undefined;
    try {
      const pcap = path.join(L.dir, 'refresh.pcap');
      dump = await L.tcpdump(pcap, ['arp']);
      x = L.xlvs(L.a, 'xr', { vrrp: [{ ...v3, name: 'VI_R', vrid: 125, priority: 100, vips: [`${vip}/24`], accept: false,
        garp: { master_delay: '1500ms', master_repeat: 3, refresh: '1s', refresh_repeat: 2 } }] });
      await x.waitLog(/VI_R\) BACKUP -> MASTER/, 3000);
      // Without the director's XDP program nothing enforces no-accept: the runner says so.
      assert.match(x.log(), /\(VI_R\) accept: false is enforced by the director's XDP program/);
      await sleep(3700);
      await x.stop();
      await sleep(200);
      await dump.stop();
      const mac = Buffer.from(L.lab.exec(L.a, ['cat', '/sys/class/net/eth0/address']).stdout.trim().split(':').map((h) => parseInt(h, 16)));
      const vipBytes = Buffer.from(vip.split('.').map(Number));
      const ts = readPcap(pcap).filter((r) => {
        const f = r.frame;
        return f.readUInt16BE(12) === 0x0806 && f.subarray(22, 28).equals(mac) && f.subarray(28, 32).equals(vipBytes) && f.subarray(38, 42).equals(vipBytes);
      }).map((r) => r.tsUs / 1000);
      assert.ok(ts.length > 0, 'no gratuitous ARP seen');
      // Bursts: frames less than 300 ms apart belong together.
      const bursts: number[][] = [];
      for (const t of ts) {
        const last = bursts[bursts.length - 1];
        if (last && t - last[last.length - 1] < 300) last.push(t);
        else bursts.push([t]);
      }
      const t0 = bursts[0][0];
      const summary = bursts.map((b) => `${Math.round(b[0] - t0)} ms x${b.length}`).join(', ');
      // 0 ms x3 (Master), 1000 x2 and 2000 x2 (refresh), 1500 x3 (master_delay), 3000 x2 (refresh).
      // 400 ms of slack: the first burst waits for the address to be added, timers do not.
      const at = (ms: number, n: number) => bursts.some((b) => Math.abs(b[0] - t0 - ms) < 400 && b.length === n);
      assert.equal(bursts[0].length, 3, summary);
      assert.ok(at(1500, 3), `no second burst of 3 after master_delay: ${summary}`);
      for (const ms of [1000, 2000, 3000]) assert.ok(at(ms, 2), `no refresh burst of 2 at ${ms} ms: ${summary}`);
    } finally { await Promise.all([x?.stop(), dump?.stop()]); }
  });
});
