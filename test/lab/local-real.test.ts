// Two machines that are each a director AND a real server of the same service, as in the LVS
// write-up xlvs replaces (two Redis hosts running keepalived, both listed as real_servers of the
// VIP on 6379): namespaces `a` and `b` each run an xlvs daemon and a TCP echo server on 6379, the
// client namespace opens long-lived connections to the VIP, one VRRP instance decides who holds
// it. The topology is the same on both but for the director's name, control socket and VRRP
// priority; nobody tells either daemon which real it is: each finds its own address on its
// interface. No notify script, no config swap.
//  1. Through the Master, connections reach both machines (counted by each machine's sockets and
//     by xlvs's per-real counters); the Backup forwards nothing and delivers exactly what the
//     Master sent it: no loop.
//  2. The Master dies (daemon and echo server killed by PID, link down): the survivor takes the
//     VIP, its established connections keep echoing, and it serves every new connection.
//  3. The old Master comes back and preempts: new connections reach both machines again, and the
//     established ones the new Master sends where the old one had them keep working.
//  4. `xlvs stop` puts the host back: the VIP leaves lo, arp_ignore/arp_announce as they were.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { run, inNs } from '../../src/sys/exec';
import { controlRequest, controlStream } from '../../src/control/client';
import { reviveSnapshot } from '../../src/cli/commands/control';
import type { StatusSnapshot, ServiceStatus } from '../../src/common/status';
import { needsBpf } from '../lib/env';
import { JsonLines, waitFor, sleep, tcpCounters, alive } from './lib/e2e-lab';
import { xlvsAt } from '../daemon/topology';

const NET = '10.231.0';
const VIP = `${NET}.100`;
const PORT = 6379;
const ADDR = { a: `${NET}.1`, b: `${NET}.2` } as const;
const CLIENTS = [`${NET}.10`, `${NET}.11`, `${NET}.12`, `${NET}.13`];
const base = `/run/xlvs-test-localreal-${process.pid}`;
type Host = 'a' | 'b';

/** The one topology both machines run; only name, socket and priority differ. */
function topology(h: Host, priority: number): string {
  return `director:
  name: lr-${h}
  interface: eth0
  xdp_mode: generic
  pin_root: ${base}/bpffs
vrrp:
  - { name: VI_1, vrid: 61, priority: ${priority}, version: 3, advert_interval: 100ms, vips: [${VIP}/24] }
services:
  - vip: ${VIP}
    port: ${PORT}
    method: dr
    check: { type: tcp, interval: 300ms, timeout: 200ms, rise: 1, fall: 2 }
    reals:
      - { address: ${ADDR.a} }
      - { address: ${ADDR.b} }
metrics: { enabled: false }
control: { socket: ${base}/${h}.sock }
`;
}

describe('a director that is also a real server (LVS backup_only)', needsBpf(), () => {
  const lab = new Netlab('lrl');
  const ns = { a: '', b: '', c: '' };
  const daemons: Record<Host, ChildProcess | null> = { a: null, b: null };
  const servers: Record<Host, ChildProcess | null> = { a: null, b: null };
  const logs: Record<Host, string> = { a: '', b: '' };
  let client: JsonLines;
  let clientProc: ChildProcess;
  const sock = (h: Host) => `${base}/${h}.sock`;
  /** b's arp_ignore/arp_announce per device before its daemon started. */
  const arpBefore: Record<string, string> = {};

  async function status(h: Host): Promise<StatusSnapshot> {
    return reviveSnapshot(await controlRequest(sock(h), { cmd: 'status' }, 5000));
  }
  async function service(h: Host): Promise<ServiceStatus> {
    return (await status(h)).services.find((s) => s.vip === VIP)!;
  }
  const realOf = (s: ServiceStatus, h: Host) => s.reals.find((r) => r.address === ADDR[h])!;
  const vrrpState = async (h: Host) => (await status(h)).vrrp[0]?.state;

  /** Client `addr:port` of every connection established to the VIP on machine `h` (its own sockets). */
  function acceptedOn(h: Host): Set<string> {
    const out = run(inNs(ns[h], ['ss', '-Htn', 'state', 'established', `( sport = :${PORT} )`])).stdout;
    const set = new Set<string>();
    // The echo server listens on :: (dual stack): IPv4 peers show as [::ffff:a.b.c.d]:port.
    const v4 = (x: string) => x.replace(/^\[::ffff:([0-9.]+)\]/, '$1');
    for (const l of out.split('\n')) {
      const f = l.trim().split(/\s+/);
      if (f.length >= 4 && v4(f[2]) === `${VIP}:${PORT}`) set.add(v4(f[3]));
    }
    return set;
  }

  async function startServer(h: Host): Promise<void> {
    const p = lab.spawn(ns[h], [process.execPath, path.join(__dirname, '..', '..', 'src', 'lab', 'servers.js'), '--name', h, '--echo', String(PORT)]);
    let out = '';
    p.stdout?.on('data', (d) => { out += d; });
    servers[h] = p;
    await waitFor(`echo server on ${h}`, () => out.includes('ready '), 10_000);
  }

  async function startDaemon(h: Host): Promise<void> {
    fs.rmSync(sock(h), { force: true });
    const p = lab.spawn(ns[h], xlvsArgv(['run', '-c', `${base}/${h}.yaml`]));
    p.stdout?.on('data', (d) => { logs[h] += d; });
    p.stderr?.on('data', (d) => { logs[h] += d; });
    daemons[h] = p;
    await waitFor(`xlvs on ${h}\n${logs[h]}`, async () => fs.existsSync(sock(h)) && (await status(h)).director === `lr-${h}`, 20_000);
  }

  /** Both reals up (checked and resolved) as director `h` sees them. */
  async function bothUp(h: Host, ms = 15_000): Promise<void> {
    await waitFor(`both reals up on ${h}`, async () => (await service(h)).reals.every((r) => r.state === 'up'), ms);
  }

  async function open(n: number, what: string): Promise<string[]> {
    const r = await client.ask<{ results: { source: string; localPort?: number; ok: boolean; error?: string }[] }>(
      { op: 'open', host: VIP, port: PORT, sources: CLIENTS, n, timeoutMs: 5000 });
    assert.deepEqual(r.results.filter((x) => !x.ok), [], what);
    return r.results.map((o) => `${o.source}:${o.localPort}`);
  }

  /** One echo on every connection opened so far: ok per connection (`source:port`). */
  let opened: string[] = [];
  async function round(tag: string, timeoutMs = 5000): Promise<Map<string, boolean>> {
    const r = await client.ask<{ results: { key: string; ok: boolean }[] }>({ op: 'round', tag, timeoutMs }, timeoutMs + 10_000);
    return new Map(r.results.map((x) => [x.key, x.ok]));
  }

  async function connTable(h: Host): Promise<Map<string, string>> {
    const rows = new Map<string, string>();
    await controlStream(sock(h), { cmd: 'conns' }, (x) => { const c = x as { client: string; real: string }; rows.set(c.client, c.real); }, 5000);
    return rows;
  }

  before(async () => {
    fs.mkdirSync(`${base}/bpffs`, { recursive: true });
    run(['mount', '-t', 'bpf', 'bpf', `${base}/bpffs`]);
    lab.onCleanup(() => {
      run(['umount', `${base}/bpffs`], { allowFail: true });
      fs.rmSync(base, { recursive: true, force: true });
    });
    const sw = lab.addNs('sw');
    lab.addBridge(sw, 'br0');
    for (const h of ['a', 'b', 'c'] as const) {
      ns[h] = lab.addNs(h);
      lab.addVeth(ns[h], 'eth0', sw, `p${h}`, { bMaster: 'br0' });
    }
    lab.addAddr(ns.a, 'eth0', `${ADDR.a}/24`);
    lab.addAddr(ns.b, 'eth0', `${ADDR.b}/24`);
    for (const c of CLIENTS) lab.addAddr(ns.c, 'eth0', `${c}/24`);
    // A veth sender leaves TCP checksums partial (docs/lab-notes.md); the directors pass its
    // frames on through XDP.
    lab.exec(ns.c, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    for (const dev of ['all', 'eth0']) {
      arpBefore[dev] = run(inNs(ns.b, ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_ignore`])).stdout.trim() + '/' +
        run(inNs(ns.b, ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_announce`])).stdout.trim();
    }
    fs.writeFileSync(`${base}/a.yaml`, topology('a', 150));
    fs.writeFileSync(`${base}/b.yaml`, topology('b', 100));
    await startServer('a');
    await startServer('b');
    await startDaemon('a');
    await startDaemon('b');
    clientProc = lab.spawn(ns.c, [process.execPath, path.join(__dirname, 'lib', 'echo-client.js')], { stdio: ['pipe', 'pipe', 'pipe'] });
    client = new JsonLines(clientProc);
    await waitFor('a Master and b Backup', async () => (await vrrpState('a')) === 'MASTER' && (await vrrpState('b')) === 'BACKUP', 20_000);
    await bothUp('a');
    await bothUp('b');
  });

  after(async () => {
    if (clientProc && clientProc.exitCode === null) { try { await client.ask({ op: 'close' }, 3000); } catch { /* gone */ } }
    for (const h of ['a', 'b'] as const) {
      const d = daemons[h];
      if (d && d.exitCode === null && d.signalCode === null) {
        // xlvs stop: detaches and undoes the host setup (VIP on lo, sysctls) in the namespace.
        try { await controlRequest(sock(h), { cmd: 'stop' }, 5000); } catch { /* gone */ }
        await waitFor(`daemon ${h} to exit`, () => d.exitCode !== null || d.signalCode !== null, 5000).catch(() => undefined);
      }
    }
    await lab.cleanup();
  });

  test('each daemon finds its own real and sets the host up: VIP on lo, ARP sysctls', async () => {
    for (const h of ['a', 'b'] as const) {
      const s = await service(h);
      assert.deepEqual(s.reals.map((r) => [r.address, !!r.local]), [[ADDR.a, h === 'a'], [ADDR.b, h === 'b']], `${h} knows which real it is`);
      assert.ok(fs.existsSync(`${base}/lr-${h}.local-real.json`), `${h}: what it changed is kept beside its socket`);
      const lo = run(inNs(ns[h], ['ip', '-j', 'addr', 'show', 'dev', 'lo'])).stdout;
      assert.match(lo, new RegExp(`"local":"${VIP.replace(/\./g, '\\.')}","prefixlen":32`), `${h}: VIP on lo`);
      for (const dev of ['all', 'eth0']) {
        assert.equal(run(inNs(ns[h], ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_ignore`])).stdout.trim(), '1', `${h} ${dev} arp_ignore`);
        assert.equal(run(inNs(ns[h], ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_announce`])).stdout.trim(), '2', `${h} ${dev} arp_announce`);
      }
    }
    // `xlvs list` says so as ipvsadm does for a local real: forwarding "Local".
    const list = xlvsAt(sock('a'))('list', '-n');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`-> ${ADDR.a.replace(/\./g, '\\.')}:${PORT} +Local `), list.stdout);
    assert.match(list.stdout, new RegExp(`-> ${ADDR.b.replace(/\./g, '\\.')}:${PORT} +Route `), list.stdout);
    // Only the Master answers ARP for the VIP (b has it on lo only, and arp_ignore=1).
    const arp = run(inNs(ns.c, ['arping', '-c', '3', '-w', '4', '-I', 'eth0', VIP]), { allowFail: true }).stdout;
    const macA = (JSON.parse(run(inNs(ns.a, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])).stdout) as { address: string }[])[0].address;
    const repliers = [...arp.matchAll(/reply from \S+ \[([0-9A-Fa-f:]{17})\]/g)].map((m) => m[1].toLowerCase());
    assert.ok(repliers.length > 0, `an ARP reply for the VIP: ${arp}`);
    assert.deepEqual([...new Set(repliers)], [macA], `only the Master (${macA}) answers: ${arp}`);
  });

  test('through the Master, connections reach both machines; the Backup forwards nothing, no packet loops', async () => {
    const seg0 = tcpCounters(ns.c).outSegs;
    opened = await open(16, 'connections through the VIP');
    const ok = await round('one');
    assert.ok([...ok.values()].every(Boolean), `every connection echoes: ${JSON.stringify([...ok])}`);
    await sleep(500);
    const onA = acceptedOn('a');
    const onB = acceptedOn('b');
    process.stdout.write(`# 16 connections: ${onA.size} served by a (the Master, locally), ${onB.size} by b (forwarded)\n`);
    assert.ok(onA.size > 0 && onB.size > 0, `both machines serve: a ${onA.size}, b ${onB.size}`);
    assert.equal(onA.size + onB.size, 16);
    for (const c of opened) assert.ok(onA.has(c) !== onB.has(c), `${c} is served by exactly one machine`);

    const [sa, sb] = [await status('a'), await status('b')];
    const [svcA, svcB] = [sa.services[0], sb.services[0]];
    const sent = BigInt(tcpCounters(ns.c).outSegs - seg0);
    // The Master: its own real's packets were delivered locally, the other's forwarded by DR.
    assert.equal(sa.reasons.local, realOf(svcA, 'a').counters.packets, 'a: local deliveries are its own real\'s packets');
    assert.equal(sa.reasons.tx_dr, realOf(svcA, 'b').counters.packets, 'a: forwarded = b\'s packets');
    assert.equal(realOf(svcA, 'a').counters.newFlows, BigInt(onA.size), 'a counts the connections it kept');
    assert.equal(realOf(svcA, 'b').counters.newFlows, BigInt(onB.size), 'a counts the connections it sent to b');
    assert.ok(svcA.counters.packets <= sent, `a handled ${svcA.counters.packets} packets of the ${sent} the client sent`);
    // The Backup: nothing forwarded; exactly what the Master sent it delivered to its own real.
    assert.equal(sb.reasons.tx_dr, 0n, 'b forwarded nothing');
    assert.equal(sb.reasons.tx_tun, 0n);
    assert.equal(realOf(svcB, 'a').counters.packets, 0n, 'b sent nothing to a');
    assert.equal(realOf(svcB, 'b').counters.packets, realOf(svcA, 'b').counters.packets, 'b delivered exactly what a forwarded to it');
    assert.equal(sb.reasons.local, realOf(svcB, 'b').counters.packets);
  });

  test('the Master dies: the survivor takes the VIP, keeps its connections and serves every new one', async () => {
    const onB = acceptedOn('b');
    const t0 = Date.now();
    process.kill(daemons.a!.pid!, 'SIGKILL');
    process.kill(servers.a!.pid!, 'SIGKILL');
    run(inNs(ns.a, ['ip', 'link', 'set', 'eth0', 'down']));
    await waitFor('b Master', async () => (await vrrpState('b')) === 'MASTER', 10_000);
    await waitFor('b to take a\'s real down', async () => realOf(await service('b'), 'a').state === 'down', 10_000);
    process.stdout.write(`# b Master and a's real down ${Date.now() - t0} ms after a died\n`);
    const ok = await round('two', 8000);
    for (const c of onB) assert.equal(ok.get(c), true, `${c}, served by b, still echoes through b as Master`);
    const before = tcpCounters(ns.b).inSegs;
    const fresh = await open(8, 'new connections through the survivor');
    opened = [...opened, ...fresh];
    const nowB = acceptedOn('b');
    for (const c of fresh) assert.ok(nowB.has(c), `${c} served by b`);
    assert.ok(tcpCounters(ns.b).inSegs > before);
    const okNew = await round('three', 8000);
    for (const c of [...onB, ...fresh]) assert.equal(okNew.get(c), true, `${c} echoes`);
  });

  test('the old Master comes back and preempts: both machines serve again', async () => {
    const onB = acceptedOn('b');
    run(inNs(ns.a, ['ip', 'link', 'set', 'eth0', 'up']));
    await startServer('a');
    await startDaemon('a');
    await waitFor('a Master again, b Backup', async () => (await vrrpState('a')) === 'MASTER' && (await vrrpState('b')) === 'BACKUP', 20_000);
    await bothUp('a');
    await bothUp('b');
    const txB = (await status('b')).reasons.tx_dr;
    // Established connections on b: those the new Master (a) sends to b, as b did, keep working
    // ("failover keeps established connections where both machines choose alike").
    const ok = await round('four', 8000);
    const tableA = await connTable('a');
    let kept = 0;
    for (const c of onB) {
      if (tableA.get(c) === `${ADDR.b}:${PORT}`) {
        assert.equal(ok.get(c), true, `${c}: a sends it to b, where it lives`);
        kept++;
      }
    }
    process.stdout.write(`# after a came back: ${kept} of ${onB.size} connections on b kept (a chose b for them)\n`);
    // A connection a took back from b is reset by a, but b never hears of it: its socket stays
    // ESTABLISHED there. A new connection from the same client port is then a's, not b's, yet
    // shows on b too; sockets b held before these connections are not counted as b's.
    const [staleA, staleB] = [acceptedOn('a'), acceptedOn('b')];
    const fresh = await open(16, 'new connections after the comeback');
    opened = [...opened, ...fresh];
    const [onA2, onB2] = [acceptedOn('a'), acceptedOn('b')];
    const a = fresh.filter((c) => onA2.has(c) && !staleA.has(c)).length;
    const b = fresh.filter((c) => onB2.has(c) && !staleB.has(c)).length;
    process.stdout.write(`# 16 new connections: ${a} on a, ${b} on b\n`);
    assert.ok(a > 0 && b > 0, `both serve again: a ${a}, b ${b}`);
    assert.equal(a + b, 16);
    const okNew = await round('five', 8000);
    for (const c of fresh) assert.equal(okNew.get(c), true, `${c} echoes`);
    assert.equal((await status('b')).reasons.tx_dr, txB, 'b, Backup again, forwards nothing');
    assert.ok(alive(daemons.a!.pid!));
  });

  test('xlvs stop undoes the host setup: the VIP leaves lo, the ARP sysctls are back', async () => {
    const d = daemons.b!;
    await controlRequest(sock('b'), { cmd: 'stop' }, 5000);
    await waitFor('b\'s daemon to exit', () => d.exitCode !== null || d.signalCode !== null, 10_000);
    const lo = run(inNs(ns.b, ['ip', '-j', 'addr', 'show', 'dev', 'lo'])).stdout;
    assert.ok(!lo.includes(`"${VIP}"`), `VIP gone from lo: ${lo}`);
    for (const dev of ['all', 'eth0']) {
      const now = run(inNs(ns.b, ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_ignore`])).stdout.trim() + '/' +
        run(inNs(ns.b, ['cat', `/proc/sys/net/ipv4/conf/${dev}/arp_announce`])).stdout.trim();
      assert.equal(now, arpBefore[dev], `${dev}: arp_ignore/arp_announce as before the daemon`);
    }
    assert.ok(!fs.existsSync(`${base}/lr-b.local-real.json`), 'its state file is gone');
  });
});
