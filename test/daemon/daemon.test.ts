// The daemon end to end, in namespaces: `xlvs run` on a director namespace with two real
// servers behind a veth. Health checks flip reals in the maps (proved by packets through the
// pinned program), reload applies only the difference and refuses a bad file, SIGKILL does not
// stop forwarding, a restarted daemon adopts the pins without moving established flows, metrics
// count exactly the packets sent, and `xlvs stop` leaves nothing behind.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcess, execFileSync } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { run } from '../../src/sys/exec';
import { BpfMap, BpfProgram } from '../../src/loader';
import { controlRequest, controlStream } from '../../src/control/client';
import { reviveSnapshot } from '../../src/cli/commands/control';
import type { StatusSnapshot } from '../../src/common/status';
import { repoRoot } from '../../src/paths';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';

const lab = new Netlab('dmn');
const base = `/run/xlvs-test-dmn-${process.pid}`;
const bpffs = `${base}/bpffs`;
const sock = `${base}/ctl.sock`;
const cfgFile = `${base}/topology.yaml`;
const pinDir = `${bpffs}/dmn`;
const xlvs = path.join(repoRoot(), 'bin', 'xlvs.js');
const VIP = '10.77.0.100';
const R1 = '10.77.0.21';
const R2 = '10.77.0.22';
let dirNs = '';
let realNs = '';
let dirMac = '';
let realMac = '';
let daemon: ChildProcess | null = null;
let daemonLog = '';
const servers = new Map<string, ChildProcess>();

function topology(weights: [number, number], extra = ''): string {
  return `director:
  name: dmn
  interface: eth0
  xdp_mode: generic
  addresses: [10.77.0.1/24]
  pin_root: ${bpffs}
services:
  - vip: ${VIP}
    port: 80
    protocol: tcp
    method: dr
    on_down: expire
    check: { type: tcp, interval: 200ms, timeout: 150ms, rise: 1, fall: 2 }
    reals:
      - { address: ${R1}, weight: ${weights[0]} }
      - { address: ${R2}, weight: ${weights[1]} }
${extra}metrics: { listen: 127.0.0.1:9791 }
control: { socket: ${sock} }
`;
}

/** A TCP server on the real's address, resolved once it listens. */
function startServer(addr: string): Promise<void> {
  const p = lab.spawn(realNs, ['node', '-e', `require('net').createServer((s) => { s.on('error', () => {}); s.end('x'); }).listen(80, '${addr}', () => console.log('ready'))`]);
  servers.set(addr, p);
  return new Promise((resolve, reject) => {
    let err = '';
    p.stderr?.on('data', (d) => { err += d; });
    p.stdout?.on('data', (d) => { if (String(d).includes('ready')) resolve(); });
    p.once('exit', (code) => reject(new Error(`server on ${addr} exited (${code}): ${err}`)));
  });
}

function stopServer(addr: string): void {
  const p = servers.get(addr);
  if (!p || p.exitCode !== null || p.signalCode !== null) throw new Error(`server ${addr} is not running (exit ${p?.exitCode ?? p?.signalCode})\n${daemonLog}`);
  process.kill(p.pid!, 'SIGKILL');
  servers.delete(addr);
}

function startDaemon(): void {
  daemonLog = '';
  daemon = lab.spawn(dirNs, ['node', xlvs, 'run', '-c', cfgFile]);
  daemon.stdout?.on('data', (d) => { daemonLog += d; });
  daemon.stderr?.on('data', (d) => { daemonLog += d; });
}

async function waitFor<T>(what: string, fn: () => Promise<T | undefined> | T | undefined, ms = 10_000): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  while (Date.now() < end) {
    try {
      const v = await fn();
      if (v !== undefined && v !== null && (v as unknown) !== false) return v;
    } catch (e) { last = e; }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${(last as Error).message}` : ''}\ndaemon log:\n${daemonLog}`);
}

async function status(): Promise<StatusSnapshot> {
  return reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
}

function realState(s: StatusSnapshot, addr: string): string {
  return s.services[0].reals.find((r) => r.address === addr)!.state;
}

/** A TCP packet from client:port to the VIP through the pinned program: the real's MAC it went to. */
function send(prog: BpfProgram, clientPort: number, flags: string, client = '198.51.100.7'): { verdict: number; dst: string } {
  const pkt = eth({ src: '02:00:00:00:00:aa', dst: dirMac }).ipv4({ src: client, dst: VIP }).tcp({ sport: clientPort, dport: 80, flags }).build();
  const r = prog.testRun(pkt);
  return { verdict: r.retval, dst: [...r.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':') };
}

function scrape(): string {
  return run(['ip', 'netns', 'exec', dirNs, 'curl', '-s', 'http://127.0.0.1:9791/metrics']).stdout;
}

describe('xlvs daemon', needsBpf(), () => {
  before(async () => {
    fs.mkdirSync(bpffs, { recursive: true });
    run(['mount', '-t', 'bpf', 'bpf', bpffs]);
    lab.onCleanup(() => { run(['umount', bpffs], { allowFail: true }); fs.rmSync(base, { recursive: true, force: true }); });
    dirNs = lab.addNs('dir');
    realNs = lab.addNs('real');
    lab.addVeth(dirNs, 'eth0', realNs, 'eth0');
    lab.addAddr(dirNs, 'eth0', '10.77.0.1/24');
    lab.addAddr(realNs, 'eth0', `${R1}/24`);
    lab.addAddr(realNs, 'eth0', `${R2}/24`);
    dirMac = JSON.parse(lab.exec(dirNs, ['ip', '-j', 'link', 'show', 'eth0']).stdout)[0].address;
    realMac = JSON.parse(lab.exec(realNs, ['ip', '-j', 'link', 'show', 'eth0']).stdout)[0].address;
    await Promise.all([startServer(R1), startServer(R2)]);
    fs.writeFileSync(cfgFile, topology([1, 1]));
  });
  after(async () => {
    if (daemon?.pid && daemon.exitCode === null) {
      // Leave nothing attached or pinned even when a test failed midway.
      try { await controlRequest(sock, { cmd: 'stop' }, 3000); } catch { /* already gone */ }
    }
    await lab.cleanup();
  });

  let prog: BpfProgram;
  let flowReal = '';

  test('starts, pins, attaches, resolves MACs and brings both reals up', async () => {
    startDaemon();
    const s = await waitFor('both reals up', async () => {
      const s = await status();
      return s.services[0]?.reals.every((r) => r.state === 'up') ? s : undefined;
    });
    assert.equal(s.director, 'dmn');
    assert.equal(s.xdpMode, 'generic');
    assert.equal(s.adopted, false);
    assert.deepEqual(s.services[0].reals.map((r) => r.mac), [realMac, realMac]);
    assert.ok(fs.existsSync(path.join(pinDir, 'xdp_lb')));
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.ok(link.xdp, 'an XDP program is attached to eth0');
    prog = BpfProgram.openPinned(path.join(pinDir, 'xdp_lb'));
    const r = send(prog, 40000, 'S');
    assert.equal(r.verdict, 3, 'XDP_TX');
    assert.equal(r.dst, realMac);
  });

  test('metrics count exactly the packets sent through the program', async () => {
    const before = /xlvs_vip_packets_total\{vip="10\.77\.0\.100:80\/tcp"\} (\d+)/.exec(scrape());
    const n0 = Number(before?.[1] ?? 0);
    for (let i = 0; i < 25; i++) assert.equal(send(prog, 41000 + i, 'S').verdict, 3);
    await new Promise((r) => setTimeout(r, 300)); // the scrape cache lives 250 ms
    const text = scrape();
    const after = Number(/xlvs_vip_packets_total\{vip="10\.77\.0\.100:80\/tcp"\} (\d+)/.exec(text)?.[1]);
    assert.equal(after - n0, 25);
    const perReal = [...text.matchAll(/xlvs_real_packets_total\{vip="10\.77\.0\.100:80\/tcp",real="[^"]+"\} (\d+)/g)].map((m) => Number(m[1]));
    assert.equal(perReal.reduce((a, b) => a + b, 0), after, 'reals add up to the VIP');
  });

  test('a stopped real leaves selection after fall checks and its flows are rescheduled', async () => {
    // Find which real flow 42000 lands on: both reals share one MAC, so tell them apart by the
    // daemon's per-real counters.
    const before = await status();
    send(prog, 42000, 'S');
    const after = await status();
    const moved = after.services[0].reals.find((r) => r.counters.packets !== before.services[0].reals.find((x) => x.key === r.key)!.counters.packets)!;
    flowReal = moved.address;
    const other = flowReal === R1 ? R2 : R1;
    stopServer(flowReal);
    await waitFor(`${flowReal} down`, async () => realState(await status(), flowReal) === 'down');
    const s1 = await status();
    send(prog, 42000, 'A');
    for (let i = 0; i < 20; i++) send(prog, 43000 + i, 'S');
    const s2 = await status();
    const delta = (s: StatusSnapshot, a: string) => s.services[0].reals.find((r) => r.address === a)!.counters.packets;
    assert.equal(delta(s2, flowReal) - delta(s1, flowReal), 0n, 'no packet to the down real (on_down: expire moves its flow too)');
    assert.equal(delta(s2, other) - delta(s1, other), 21n);
    assert.ok(s2.events.some((e) => e.kind === 'health' && e.message.includes(`${flowReal}:80 down`)));
    await startServer(flowReal);
    await waitFor(`${flowReal} up again`, async () => realState(await status(), flowReal) === 'up');
  });

  test('reload applies only the changed weight; an invalid file leaves the running state', async () => {
    fs.writeFileSync(cfgFile, topology([3, 1]));
    const res = (await controlRequest(sock, { cmd: 'reload' })) as { summary: string[] };
    assert.deepEqual(res.summary, ['set reals of 10.77.0.100:80/tcp (2 reals, 2 up)']);
    let s = await status();
    assert.deepEqual(s.services[0].reals.map((r) => r.effectiveWeight), [3, 1]);
    fs.writeFileSync(cfgFile, topology([3, 70000]));
    await assert.rejects(controlRequest(sock, { cmd: 'reload' }), /services\[0\]\.reals\[1\]\.weight/);
    s = await status();
    assert.deepEqual(s.services[0].reals.map((r) => r.effectiveWeight), [3, 1]);
    const idle = (await controlRequest(sock, { cmd: 'reload' }).catch((e) => e)) as Error;
    assert.ok(idle instanceof Error, 'still invalid');
    fs.writeFileSync(cfgFile, topology([3, 1]));
    const same = (await controlRequest(sock, { cmd: 'reload' })) as { summary: string[] };
    assert.deepEqual(same.summary, [], 'nothing changed, nothing written');
    assert.match(scrape(), /xlvs_config_reloads_total\{result="invalid"\} 2/);
  });

  test('a VRRP instance with accept: false: after a reload the program drops what no service takes to its VIP; accept: true undoes it', async () => {
    const ping = () => prog.testRun(eth({ src: '02:00:00:00:00:aa', dst: dirMac }).ipv4({ src: '198.51.100.7', dst: VIP }).icmp({ type: 8, id: 1, seq: 1 }).build()).retval;
    const vrrp = (accept: boolean) => `vrrp:\n  - { name: VI_T, vrid: 77, priority: 100, version: 3, advert_interval: 100ms, accept: ${accept}, vips: [${VIP}/24] }\n`;
    assert.equal(ping(), 2, 'XDP_PASS: the kernel answers pings to the VIP');
    try {
      fs.writeFileSync(cfgFile, topology([3, 1], vrrp(false)));
      let res = (await controlRequest(sock, { cmd: 'reload' })) as { summary: string[] };
      assert.ok(res.summary.includes(`no-accept ${VIP}`), JSON.stringify(res.summary));
      assert.equal(ping(), 1, 'XDP_DROP');
      assert.equal(send(prog, 46000, 'S').verdict, 3, 'the service on the VIP still forwards');
      await new Promise((r) => setTimeout(r, 300)); // past the scrape's 250 ms snapshot cache
      assert.match(scrape(), /xlvs_verdicts_total\{[^}]*reason="no_accept"[^}]*\} [1-9]/);
      fs.writeFileSync(cfgFile, topology([3, 1], vrrp(true)));
      res = (await controlRequest(sock, { cmd: 'reload' })) as { summary: string[] };
      assert.ok(res.summary.includes(`accept ${VIP}`), JSON.stringify(res.summary));
      assert.equal(ping(), 2);
    } finally {
      fs.writeFileSync(cfgFile, topology([3, 1]));
      await controlRequest(sock, { cmd: 'reload' });
    }
  });

  test('SIGKILL does not stop forwarding; a restarted daemon (of a build with other maps) takes over the pins and keeps flows on their real', async () => {
    const before = await status();
    const ids = before.services[0].reals.map((r) => [r.key, r.id]);
    const flows = Array.from({ length: 30 }, (_, i) => 44000 + i);
    for (const p of flows) send(prog, p, 'S');
    const conns = async () => {
      const rows: { client: string; realId: number }[] = [];
      await controlStream(sock, { cmd: 'conns' }, (r) => rows.push(r as { client: string; realId: number }));
      return rows;
    };
    const conns0 = await conns();
    const realOf = new Map(conns0.map((c) => [c.client, c.realId]));
    process.kill(daemon!.pid!, 'SIGKILL');
    await new Promise((r) => daemon!.once('exit', r));
    // Forwarding goes on without the daemon.
    assert.equal(send(prog, 44000, 'A').verdict, 3);
    // Pins as an older build would leave them: no lb_flow_stats, an lb_reasons of another layout.
    fs.unlinkSync(path.join(pinDir, 'lb_flow_stats'));
    fs.unlinkSync(path.join(pinDir, 'lb_reasons'));
    const odd = BpfMap.create({ type: 'PERCPU_ARRAY', name: 'lb_reasons', keySize: 4, valueSize: 8 * 17, maxEntries: 1 });
    odd.pin(path.join(pinDir, 'lb_reasons'));
    odd.close();
    const oldId = prog.id;
    startDaemon();
    const s = await waitFor('daemon over the pins', async () => {
      const s = await status();
      return s.adopted && s.services[0].reals.every((r) => r.state === 'up') ? s : undefined;
    });
    assert.deepEqual(s.services[0].reals.map((r) => [r.key, r.id]), ids, 'real ids kept');
    assert.match(daemonLog, /took over the pinned data plane .*new: lb_maglev, lb_flow_stats, lb_reasons\)/);
    assert.match(daemonLog, new RegExp(`replaced XDP program ${oldId} with \\d+`));
    // The interface now runs the program pinned by the new daemon, not the old one.
    prog.close();
    prog = BpfProgram.openPinned(path.join(pinDir, 'xdp_lb'));
    assert.notEqual(prog.id, oldId);
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.equal(link.xdp?.prog?.id ?? link.xdp?.attached?.[0]?.prog?.id, prog.id, JSON.stringify(link.xdp));
    for (const p of flows) send(prog, p, 'A');
    const conns1 = await conns();
    for (const c of conns1) if (realOf.has(c.client)) assert.equal(c.realId, realOf.get(c.client), `${c.client} kept its real`);
    assert.ok(conns1.filter((c) => realOf.has(c.client)).length >= flows.length);
  });

  test('xlvs list prints the ipvsadm-style table', async () => {
    const out = execFileSync('node', [xlvs, 'list', '-n', '--socket', sock], { encoding: 'utf8' });
    assert.match(out, /^TCP  10\.77\.0\.100:80 mh/m);
    assert.match(out, /-> 10\.77\.0\.21:80\s+Route\s+3/);
    const stats = execFileSync('node', [xlvs, 'list', '--stats', '--socket', sock], { encoding: 'utf8' });
    assert.match(stats, /Conns\s+InPkts\s+OutPkts\s+InBytes\s+OutBytes/);
    // The connection table, streamed and filtered (flows of the tests above are still in it).
    const conns = execFileSync('node', [xlvs, 'list', '--conns', '--vip', '10.77.0.100:80', '--limit', '3', '--socket', sock], { encoding: 'utf8' });
    assert.match(conns, /^Pro Expire\s+State\s+Source\s+Virtual\s+Destination\s+Confirmed$/m);
    assert.equal(conns.trim().split('\n').length, 4, conns);
    assert.match(conns, /^TCP +\d\d:\d\d +[A-Z_]+ +\S+ +10\.77\.0\.100:80 +10\.77\.0\.2\d:80 +(yes|no)$/m);
    const json = execFileSync('node', [xlvs, 'list', '--conns', '--json', '--limit', '2', '--socket', sock], { encoding: 'utf8' }).trim().split('\n');
    assert.equal(json.length, 2);
    for (const l of json) {
      const row = JSON.parse(l) as { proto: string; state: string; expiresIn: number; confirmed: boolean };
      assert.equal(row.proto, 'tcp');
      assert.match(row.state, /^[A-Z_]+$/);
      assert.ok(Number.isInteger(row.expiresIn) && row.expiresIn >= 0, l);
      assert.equal(typeof row.confirmed, 'boolean');
    }
    // The table's count comes from the census (a worker walks the tables; the restarted daemon ran
    // one at start, with the flows above in the pinned tables); ActiveConn/InActConn from the data
    // plane's per-real counts, which that census corrected: they agree.
    const st = await status();
    assert.ok(st.census?.at, 'a census has run');
    assert.ok(st.connections > 0, `${st.connections} connections`);
    const svc = st.services[0];
    assert.equal((svc.activeConns ?? 0) + (svc.inactiveConns ?? 0), st.connections, 'one service holds every flow');
    assert.equal(svc.reals.reduce((a, r) => a + r.activeConns + r.inactiveConns, 0), st.connections, 'its reals add up');
  });

  test('xlvs stop --keep-forwarding leaves XDP and pins for the next daemon', async () => {
    execFileSync('node', [xlvs, 'stop', '--keep-forwarding', '--socket', sock], { encoding: 'utf8' });
    await waitFor('daemon exit', () => daemon!.exitCode !== null || daemon!.signalCode !== null);
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.ok(link.xdp, 'still attached');
    assert.equal(send(prog, 45000, 'S').verdict, 3, 'still forwarding');
    const before = prog.id;
    startDaemon();
    await waitFor('adopted again', async () => (await status()).adopted);
    // The same build: the pins are adopted as they are, the program is not replaced.
    assert.match(daemonLog, /adopted pinned data plane/);
    prog.close();
    prog = BpfProgram.openPinned(path.join(pinDir, 'xdp_lb'));
    assert.equal(prog.id, before);
    const attached = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.equal(attached.xdp?.prog?.id ?? attached.xdp?.attached?.[0]?.prog?.id, before);
  });

  test('xlvs stop detaches XDP and removes the pins', async () => {
    execFileSync('node', [xlvs, 'stop', '--socket', sock], { encoding: 'utf8' });
    await waitFor('daemon exit', () => daemon!.exitCode !== null || daemon!.signalCode !== null);
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.equal(link.xdp, undefined, 'no XDP program left');
    assert.equal(fs.existsSync(path.join(pinDir, 'xdp_lb')), false);
    prog.close();
  });
});
