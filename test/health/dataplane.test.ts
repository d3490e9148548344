// From a health verdict to where new flows go, with the real pieces the daemon wires together:
// a topology (loadTopology) → checker specs → HealthManager running real TCP checks against real
// listeners in a namespace (and real script checks) → the Director the daemon uses (verdicts
// with quorum, hysteresis, misc_dynamic, inhibit_on_failure; the out-of-selection write; its
// reconciler) over a real Dataplane on a scratch pin dir.
// After each transition, packets through the XDP program (BPF_PROG_TEST_RUN) show the effect:
// the real a frame is sent to is read from its destination MAC.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';
import { XDP, SMALL_TEST_TABLES } from '../lib/fixtures';
import { Netlab } from '../../src/lab/netns';
import { pinThreadToCpu } from '../../src/loader';
import { Dataplane } from '../../src/dataplane/dataplane';
import { loadTopology } from '../../src/config/load';
import type { Topology } from '../../src/config/model';
import { HealthManager } from '../../src/health/manager';
import { checkerSpecs } from '../../src/health/from-config';
import type { CheckResult, CheckSpec, HealthEvent } from '../../src/health/types';
import { Director } from '../../src/director/director';

const PREFIX = 'obshd';
const PIN_DIR = `/sys/fs/bpf/xlvs-test-health-dp-${process.pid}`;
const DIRECTOR_MAC = '02:00:00:00:00:01';
const ROUTER_MAC = '02:00:00:00:00:fe';
const CHK_ADDR = '10.78.0.1';
const macOf = (addr: string) => `02:00:00:00:02:${Number(addr.split('.')[3]).toString(16).padStart(2, '0')}`;
const addrOfMac = (m: Buffer) => `10.78.0.${m[5]}`;

const TCP_REALS = ['10.78.0.11', '10.78.0.12', '10.78.0.13'];
const SCRIPT_REALS = ['10.78.0.21', '10.78.0.22', '10.78.0.23'];
const QUORUM_REALS = ['10.78.0.31', '10.78.0.32', '10.78.0.33'];
const INHIBIT_REALS = ['10.78.0.41', '10.78.0.42', '10.78.0.43'];
const SORRY = '10.78.0.99';
const VIP_TCP = '10.0.0.50';
const VIP_SCRIPT = '10.0.0.51';
const VIP_QUORUM = '10.0.0.52';
const VIP_INHIBIT = '10.0.0.53';
/** haproxy-style timing, short so a transition takes well under a second. */
const FALL = 2;
const RISE = 2;
const TIMING = `interval: 300ms, timeout: 1s, rise: ${RISE}, fall: ${FALL}, delay_before_retry: 150ms`;

function topologyYaml(scriptDir: string): string {
  const reals = (addrs: string[]) => addrs.map((a) => `      - { address: ${a}, mac: "${macOf(a)}" }`).join('\n');
  return `director: { name: health-dp, interface: eth0 }
services:
  - name: tcp
    vip: ${VIP_TCP}
    port: 80
    method: dr
    on_down: expire
    check: { type: tcp, ${TIMING} }
    reals:
${reals(TCP_REALS)}
  - name: script
    vip: ${VIP_SCRIPT}
    port: 80
    method: dr
    check: { type: script, ${TIMING}, script: { dynamic: true, command: [/bin/sh, -c, 'exit "$(cat "$0")"', "${scriptDir}/%address%"] } }
    reals:
${reals(SCRIPT_REALS)}
  - name: quorum
    vip: ${VIP_QUORUM}
    port: 80
    method: dr
    quorum: { min: 2, hysteresis: 1 }
    sorry_server: { address: ${SORRY}, port: 80 }
    check: { type: tcp, ${TIMING} }
    reals:
${reals(QUORUM_REALS)}
  - name: inhibit
    vip: ${VIP_INHIBIT}
    port: 80
    method: dr
    on_down: expire
    inhibit_on_failure: true
    check: { type: tcp, ${TIMING} }
    reals:
${reals(INHIBIT_REALS)}
`;
}

/** Long-lived helper processes inside the namespaces, driven by JSON lines on stdin. */
class LineProc {
  private seq = 0;
  private waiting = new Map<number, (v: unknown) => void>();
  private buf = '';
  constructor(readonly p: ChildProcess, readonly what: string) {
    p.stdout!.setEncoding('utf8');
    p.stdout!.on('data', (d: string) => {
      this.buf += d;
      let i;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const msg = JSON.parse(this.buf.slice(0, i)) as { id: number; value: unknown };
        this.buf = this.buf.slice(i + 1);
        this.waiting.get(msg.id)?.(msg.value);
        this.waiting.delete(msg.id);
      }
    });
    let err = '';
    p.stderr!.on('data', (d) => { err += String(d); });
    p.once('exit', (code) => { for (const [, w] of this.waiting) w({ error: `${what} exited ${code}: ${err}` }); this.waiting.clear(); });
  }
  call<T>(req: Record<string, unknown>): Promise<T> {
    const id = ++this.seq;
    return new Promise((resolve) => {
      this.waiting.set(id, resolve as (v: unknown) => void);
      this.p.stdin!.write(JSON.stringify({ id, ...req }) + '\n');
    });
  }
}

/** Listeners the test opens and closes by address: "stop one real's server" closes its socket. */
const SERVERS_JS = `
const net = require('node:net'); const rl = require('node:readline').createInterface({ input: process.stdin });
const open = new Map();
rl.on('line', (l) => { const m = JSON.parse(l); const reply = (value) => process.stdout.write(JSON.stringify({ id: m.id, value }) + '\\n');
  if (m.op === 'start') { const s = net.createServer((c) => { c.on('error', () => {}); c.end(); });
    s.once('error', (e) => reply({ error: String(e) })); s.listen(m.port, m.address, () => { open.set(m.address, s); reply('ok'); }); }
  else if (m.op === 'stop') { const s = open.get(m.address); open.delete(m.address); if (!s) return reply('not running'); s.close(); reply('ok'); } });`;

/** The real check functions (src/health/checks) run inside the checker namespace. */
function runnerJs(checksModule: string): string {
  return `
const { runCheck } = require(${JSON.stringify(checksModule)}); const rl = require('node:readline').createInterface({ input: process.stdin });
rl.on('line', (l) => { const m = JSON.parse(l);
  runCheck(m.spec).then((value) => process.stdout.write(JSON.stringify({ id: m.id, value }) + '\\n'),
    (e) => process.stdout.write(JSON.stringify({ id: m.id, value: { ok: false, reason: String(e && e.message || e), durationMs: 0 } }) + '\\n')); });`;
}

describe('health transitions reach the data plane', needsBpf(), () => {
  let lab: Netlab;
  let dp: Dataplane | null = null;
  let servers: LineProc;
  let checker: LineProc;
  let scriptDir: string;
  let topo: Topology;
  let director: Director;
  const health = new HealthManager({
    checkFns: { tcp: (spec: CheckSpec) => checker.call<CheckResult>({ spec }) },
  });
  const verdicts = { get: (key: string) => director.verdict(key) };
  const transitions: HealthEvent[] = [];
  const applyLog: string[] = [];
  let round = 0;

  /** What the daemon does on each transition: the Director's health event, then the apply. */
  function onTransition(e: HealthEvent): void {
    const r = director.healthEvent(e);
    if (r) applyLog.push(...director.apply(new Set([r.service])).summary);
  }

  /** The next transition of `real` matching `pred`, after the daemon-like handler applied it. */
  function nextTransition(real: string, pred: (e: HealthEvent) => boolean, ms = 8000): Promise<HealthEvent> {
    const from = transitions.length;
    return new Promise((resolve, reject) => {
      const look = () => transitions.slice(from).find((e) => e.realKey === `${real}:80` && pred(e));
      const t = setTimeout(() => { health.off('transition', on); reject(new Error(`no transition of ${real} in ${ms} ms; status ${JSON.stringify(health.statuses().filter((s) => s.realKey === `${real}:80`))}`)); }, ms);
      const on = () => { const e = look(); if (e) { clearTimeout(t); health.off('transition', on); resolve(e); } };
      health.on('transition', on);
    });
  }

  /** Sends one TCP packet of flow (client, sport) to `vip`; returns the real it went to. */
  function send(vip: string, client: string, sport: number, flags: string): string {
    const frame = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport, dport: 80, flags }).build();
    const r = dp!.program.testRun(frame);
    assert.equal(r.retval, XDP.XDP_TX, `${client}:${sport} → ${vip} ${flags}: verdict ${r.retval}, not XDP_TX`);
    assert.equal(r.data.subarray(6, 12).toString('hex'), DIRECTOR_MAC.replace(/:/g, ''), 'source MAC is the director');
    return addrOfMac(r.data.subarray(0, 6));
  }

  /** `n` new flows (SYNs from fresh clients/ports) to `vip`; count per real. */
  function newFlows(vip: string, n: number): Map<string, number> {
    round++;
    const counts = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const client = `198.18.${round}.${1 + (i % 250)}`;
      const real = send(vip, client, 10000 + i, 'S');
      counts.set(real, (counts.get(real) ?? 0) + 1);
    }
    return counts;
  }

  before(async () => {
    pinThreadToCpu(0); // per-CPU connection table and counters: one CPU for every test run (docs/lab-notes.md)
    scriptDir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-health-dp-'));
    for (const a of SCRIPT_REALS) fs.writeFileSync(path.join(scriptDir, a), '0\n');
    topo = loadTopology(topologyYaml(scriptDir), 'health-dataplane.yaml');

    lab = new Netlab(PREFIX);
    const chk = lab.addNs('chk');
    const srv = lab.addNs('srv');
    lab.addVeth(chk, 'c0', srv, 's0');
    lab.addAddr(chk, 'c0', `${CHK_ADDR}/24`);
    for (const a of [...TCP_REALS, ...QUORUM_REALS, ...INHIBIT_REALS]) lab.addAddr(srv, 's0', `${a}/24`);
    const stdio = { stdio: ['pipe', 'pipe', 'pipe'] as ('pipe')[] };
    servers = new LineProc(lab.spawn(srv, [process.execPath, '-e', SERVERS_JS], stdio), 'servers');
    checker = new LineProc(lab.spawn(chk, [process.execPath, '-e', runnerJs(path.join(__dirname, '..', '..', 'src', 'health', 'checks.js'))], stdio), 'checker');
    for (const a of [...TCP_REALS, ...QUORUM_REALS, ...INHIBIT_REALS]) assert.equal(await servers.call({ op: 'start', address: a, port: 80 }), 'ok');

    dp = Dataplane.create({ pinDir: PIN_DIR, mac: DIRECTOR_MAC, mtu: 1500, tables: SMALL_TEST_TABLES });
    director = new Director(dp, topo, { health: (s, r) => health.find(s, r) });
    for (const svc of topo.services) for (const r of svc.reals) director.setMac(r.address, r.mac ?? macOf(r.address));
    if (topo.services[2].sorryServer) director.setMac(SORRY, macOf(SORRY));
    health.on('transition', (e: HealthEvent) => { transitions.push(e); onTransition(e); });
    health.sync(checkerSpecs(topo.services));
    director.refreshVerdicts();
    applyLog.push(...director.apply().summary);
    // Every checker has run and passed once before the cases start.
    const end = Date.now() + 8000;
    while (health.statuses().some((s) => s.checks === 0 || !s.lastOk) && Date.now() < end) await new Promise((r) => setTimeout(r, 50));
    assert.deepEqual(health.statuses().filter((s) => !s.lastOk).map((s) => `${s.realKey} ${s.reason}`), [], 'every check passes at start');
  });

  after(async () => {
    health.stop();
    if (dp) dp.destroy();
    dp = null;
    if (lab) await lab.cleanup();
    if (scriptDir) fs.rmSync(scriptDir, { recursive: true, force: true });
  });

  test(`TCP server stopped: after ${FALL} failures no new flow goes to it and its flows move (on_down expire); back after ${RISE} successes`, async () => {
    const victim = TCP_REALS[1];
    // Established flows on every real before the failure.
    const first = new Map<number, string>();
    for (let i = 0; i < 60; i++) first.set(i, send(VIP_TCP, '203.0.113.9', 40000 + i, 'S'));
    const onVictim = [...first].filter(([, r]) => r === victim).map(([i]) => i);
    assert.ok(onVictim.length > 0 && onVictim.length < 60, `60 flows put ${onVictim.length} on ${victim}`);

    const down = nextTransition(victim, (e) => e.to === 'down');
    const stoppedAt = Date.now();
    assert.equal(await servers.call({ op: 'stop', address: victim }), 'ok');
    const e = await down;
    const tookMs = Date.now() - stoppedAt;
    assert.match(e.reason, new RegExp(`refused.*\\(${FALL} failures\\)`));
    assert.equal(health.find(`${VIP_TCP}:80/tcp`, `${victim}:80`)?.state, 'down');
    process.stdout.write(`# measured: ${victim} stopped → down in the data plane after ${tookMs} ms (interval 300ms, retry 150ms, fall ${FALL})\n`);

    const fresh = newFlows(VIP_TCP, 50);
    assert.equal(fresh.get(victim) ?? 0, 0, `new flows to the down real: ${JSON.stringify([...fresh])}`);
    assert.equal([...fresh.values()].reduce((a, b) => a + b, 0), 50);
    // on_down expire: the down real's flows move at their next packet and then stay put;
    // flows on the healthy reals do not move.
    const moved = new Map<number, string>();
    for (const i of onVictim) {
      const to = send(VIP_TCP, '203.0.113.9', 40000 + i, 'A');
      assert.notEqual(to, victim, `flow ${i} still goes to the down real`);
      moved.set(i, to);
    }
    for (const [i, r] of first) {
      const now = send(VIP_TCP, '203.0.113.9', 40000 + i, 'A');
      assert.equal(now, moved.get(i) ?? r, `flow ${i} moved unexpectedly`);
    }

    const up = nextTransition(victim, (x) => x.to === 'up');
    assert.equal(await servers.call({ op: 'start', address: victim, port: 80 }), 'ok');
    const u = await up;
    assert.match(u.reason, new RegExp(`connected.*\\(${RISE} successes\\)`));
    const again = newFlows(VIP_TCP, 150);
    assert.ok((again.get(victim) ?? 0) >= 25, `the real back up got ${again.get(victim) ?? 0} of 150 new flows: ${JSON.stringify([...again])}`);
    // Flows that moved while it was down stay where they went.
    for (const [i, r] of moved) assert.equal(send(VIP_TCP, '203.0.113.9', 40000 + i, 'A'), r, `flow ${i} moved back`);
  });

  test('script exit 7 gives weight 5 (misc_dynamic): the real takes ~5/7 of new flows; exit 1 takes it out', async () => {
    const [a, b, c] = SCRIPT_REALS;
    const even = newFlows(VIP_SCRIPT, 900);
    for (const r of SCRIPT_REALS) {
      const share = (even.get(r) ?? 0) / 900;
      assert.ok(Math.abs(share - 1 / 3) < 0.06, `equal weights: ${r} got ${(share * 100).toFixed(1)} %`);
    }

    const weighted = nextTransition(a, (e) => e.from === 'up' && e.to === 'up' && e.weight === 5);
    fs.writeFileSync(path.join(scriptDir, a), '7\n');
    const e = await weighted;
    assert.match(e.reason, /exit 7: weight 5/);
    const v = verdicts.get(`${VIP_SCRIPT}:80/tcp`)!;
    assert.deepEqual(v.reals.map((r) => [r.key, r.weight, r.state]), [[`${a}:80`, 5, 'up'], [`${b}:80`, 1, 'up'], [`${c}:80`, 1, 'up']]);
    assert.equal(dp!.reals.list(`${VIP_SCRIPT}:80/tcp`).find((r) => r.address === a)?.weight, 5, 'weight 5 in the reals map');
    const n = 2000;
    const counts = newFlows(VIP_SCRIPT, n);
    const share = (r: string) => (counts.get(r) ?? 0) / n;
    process.stdout.write(`# measured: weights 5:1:1 → shares ${SCRIPT_REALS.map((r) => (share(r) * 100).toFixed(1)).join(' : ')} % of ${n} new flows (ideal 71.4 : 14.3 : 14.3)\n`);
    assert.ok(Math.abs(share(a) - 5 / 7) < 0.04, `weight 5 of 7: ${a} got ${(share(a) * 100).toFixed(1)} %`);
    for (const r of [b, c]) assert.ok(Math.abs(share(r) - 1 / 7) < 0.04, `weight 1 of 7: ${r} got ${(share(r) * 100).toFixed(1)} %`);

    const down = nextTransition(a, (x) => x.to === 'down');
    fs.writeFileSync(path.join(scriptDir, a), '1\n');
    assert.match((await down).reason, /exit 1/);
    const none = newFlows(VIP_SCRIPT, 50);
    assert.equal(none.get(a) ?? 0, 0, `new flows to a real whose script exits 1: ${JSON.stringify([...none])}`);

    const back = nextTransition(a, (x) => x.to === 'up');
    fs.writeFileSync(path.join(scriptDir, a), '0\n');
    await back;
    assert.equal(dp!.reals.list(`${VIP_SCRIPT}:80/tcp`).find((r) => r.address === a)?.weight, 1, 'exit 0: configured weight again');
  });

  test('inhibit_on_failure: a failed real is drained (weight 0): no new flows, its established flows stay on it despite on_down expire', async () => {
    const victim = INHIBIT_REALS[0];
    const key = `${VIP_INHIBIT}:80/tcp`;
    const first = new Map<number, string>();
    for (let i = 0; i < 60; i++) first.set(i, send(VIP_INHIBIT, '203.0.113.10', 41000 + i, 'S'));
    const onVictim = [...first].filter(([, r]) => r === victim).map(([i]) => i);
    assert.ok(onVictim.length > 0 && onVictim.length < 60, `60 flows put ${onVictim.length} on ${victim}`);

    const down = nextTransition(victim, (e) => e.to === 'down');
    assert.equal(await servers.call({ op: 'stop', address: victim }), 'ok');
    await down;
    const r = dp!.reals.list(key).find((x) => x.address === victim)!;
    assert.deepEqual([r.state, r.weight], ['drain', 0], 'inhibited: drained in the reals map, not down');
    const fresh = newFlows(VIP_INHIBIT, 50);
    assert.equal(fresh.get(victim) ?? 0, 0, `new flows to the inhibited real: ${JSON.stringify([...fresh])}`);
    // LB_REAL_DRAIN: established flows continue on the real (keepalived's weight 0), where a
    // down real's would move (the TCP case above, same on_down).
    for (const [i, real] of first) assert.equal(send(VIP_INHIBIT, '203.0.113.10', 41000 + i, 'A'), real, `flow ${i} moved`);

    const up = nextTransition(victim, (e) => e.to === 'up');
    assert.equal(await servers.call({ op: 'start', address: victim, port: 80 }), 'ok');
    await up;
    assert.deepEqual(dp!.reals.list(key).filter((x) => x.address === victim).map((x) => [x.state, x.weight]), [['up', 1]]);
  });

  test('quorum lost → new flows go to the sorry server; regained only once healthy weight reaches min + hysteresis', async () => {
    const [a, b, c] = QUORUM_REALS;
    const key = `${VIP_QUORUM}:80/tcp`;
    const start = newFlows(VIP_QUORUM, 60);
    assert.equal(start.get(SORRY) ?? 0, 0, 'quorum holds at start: nothing to the sorry server');
    assert.equal(start.size, 3);

    // Two of three down: healthy weight 1 < min 2.
    const downs = [nextTransition(a, (e) => e.to === 'down'), nextTransition(b, (e) => e.to === 'down')];
    await servers.call({ op: 'stop', address: a });
    await servers.call({ op: 'stop', address: b });
    await Promise.all(downs);
    assert.equal(verdicts.get(key)?.sorry, true, verdicts.get(key)?.reason);
    const lost = newFlows(VIP_QUORUM, 50);
    assert.deepEqual([...lost], [[SORRY, 50]], 'quorum lost: every new flow to the sorry server');
    assert.ok(applyLog.some((l) => l.includes(key) && l.includes('sorry server active')), applyLog.join('\n'));

    // One back: healthy weight 2 >= min, but < min + hysteresis 3: still the sorry server.
    const upA = nextTransition(a, (e) => e.to === 'up');
    await servers.call({ op: 'start', address: a, port: 80 });
    await upA;
    assert.equal(verdicts.get(key)?.sorry, true, `hysteresis holds: ${verdicts.get(key)?.reason}`);
    assert.match(verdicts.get(key)!.reason, /< 3 \(2 \+ hysteresis 1\)/);
    assert.deepEqual([...newFlows(VIP_QUORUM, 50)], [[SORRY, 50]], 'within the hysteresis band: still the sorry server');

    // Both back: 3 >= 2 + 1, quorum regained, the reals take new flows again.
    const upB = nextTransition(b, (e) => e.to === 'up');
    await servers.call({ op: 'start', address: b, port: 80 });
    await upB;
    assert.equal(verdicts.get(key)?.sorry, false, verdicts.get(key)?.reason);
    const regained = newFlows(VIP_QUORUM, 150);
    assert.equal(regained.get(SORRY) ?? 0, 0, `sorry server after quorum regained: ${JSON.stringify([...regained])}`);
    for (const r of [a, b, c]) assert.ok((regained.get(r) ?? 0) >= 25, `${r} got ${regained.get(r) ?? 0} of 150`);
  });
});
