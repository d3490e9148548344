// Helpers for the end-to-end tests on the lab (`xlvs lab up` built in-process with a prefix of the
// test's own): requests from the client namespace, the directors' status over their control
// sockets, TCP counters of a namespace, packet captures, and director daemons restarted by hand.
// Every process started here is recorded and killed by PID in `E2eLab.down()`, before `labDown`.
import { before, after } from 'node:test';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import * as readline from 'node:readline';
import assert from 'node:assert/strict';
import { run, inNs } from '../../../src/sys/exec';
import { needsCommand } from '../../lib/env';
import { labUp, labDown, labStatus, LabState } from '../../../src/lab/site';
import { LabLayout, LabDirector, LabReal, LAB } from '../../../src/lab/layout';
import { xlvsArgv } from '../../../src/lab/xlvs-cli';
import { controlRequest, controlStream } from '../../../src/control/client';
import { reviveSnapshot } from '../../../src/cli/commands/control';
import type { StatusSnapshot, ServiceStatus } from '../../../src/common/status';

/** Options for the e2e tests: skip (outside CI) with a printed reason when a program is missing. */
/**
 * One lab for a test file, the shape most e2e files use: `xlvs lab up` with prefix `prefix` before
 * the tests (director 1 the VRRP Master, then `ready`), removed after; skipped, with the printed
 * reason, where a command the tests need is missing.
 */
export function labForFile(prefix: string, commands: string[], ready?: (lab: E2eLab) => Promise<void>): { lab: E2eLab; G: { skip?: string } } {
  const G = e2eGate(...commands);
  const lab = new E2eLab(prefix);
  before(async () => {
    if (G.skip) return;
    await lab.up();
    await lab.waitMaster(lab.dir(1).name, 20_000);
    if (ready) await ready(lab);
  });
  after(async () => { if (!G.skip) await lab.down(); });
  return { lab, G };
}

export function e2eGate(...commands: string[]): { skip?: string } {
  for (const c of commands) {
    const g = needsCommand(c);
    if (g.skip) return g;
  }
  return {};
}

/**
 * New flows to `vip`:80 are scheduled by director `active` and the other director forwards
 * nothing: the client's traffic follows the VRRP Master.
 */
export async function assertTrafficOn(lab: E2eLab, vip: string, active: 1 | 2): Promise<void> {
  const other = active === 1 ? 2 : 1;
  const b1 = await lab.service(active, vip, 80);
  const b2 = await lab.service(other, vip, 80);
  const web = lab.shares(`http://${vip}/`, 10);
  if (web.get('failed') !== undefined) throw new Error(`${web.get('failed')} of 10 requests to ${vip} failed`);
  const a1 = await lab.service(active, vip, 80);
  const a2 = await lab.service(other, vip, 80);
  if (a1.counters.newFlows - b1.counters.newFlows < 10n) throw new Error(`director ${active} scheduled ${a1.counters.newFlows - b1.counters.newFlows} of 10 new flows`);
  if (a2.counters.packets !== b2.counters.packets) throw new Error(`director ${other} forwarded ${a2.counters.packets - b2.counters.packets} packets`);
}

export function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** Thrown from a `waitFor` condition to stop waiting at once (the thing waited for cannot happen). */
export class GiveUp extends Error {}

/**
 * Polls `fn` every `stepMs` until it returns something other than undefined/false; throws with
 * `what` after `ms`. Errors thrown by `fn` are retried (the last is reported), except `GiveUp`.
 */
export async function waitFor<T>(what: string, fn: () => Promise<T | undefined | false> | T | undefined | false, ms: number, stepMs = 100): Promise<T> {
  const end = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v as T;
    } catch (e) {
      if (e instanceof GiveUp) throw new Error(`gave up waiting for ${what}: ${e.message}`);
      last = e;
    }
    if (Date.now() > end) throw new Error(`timed out after ${ms} ms waiting for ${what}${last ? `: ${(last as Error).message}` : ''}`);
    await sleep(stepMs);
  }
}

export function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

export interface Shot { ok: boolean; real: string; body: string }

export class E2eLab {
  L!: LabLayout;
  state!: LabState;
  /** Processes this test started itself (daemons restarted by hand, keepalived, helpers). */
  private pids: number[] = [];
  private children: ChildProcess[] = [];

  constructor(readonly prefix: string, readonly config?: string) {}

  get client(): string { return this.L.ns.client; }
  dir(n: 1 | 2): LabDirector { return this.L.directors[n - 1]; }

  async up(): Promise<void> {
    ({ layout: this.L, state: this.state } = await labUp({ prefix: this.prefix, config: this.config, directors: 'yes' }));
  }

  /** Kills what this test started (by PID), then removes the lab. Safe to call twice. */
  async down(): Promise<void> {
    for (const c of this.children) if (c.exitCode === null && c.signalCode === null && c.pid) this.pids.push(c.pid);
    for (const pid of this.pids) if (alive(pid)) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
    const end = Date.now() + 3000;
    while (this.pids.some(alive) && Date.now() < end) await sleep(50);
    for (const pid of this.pids) if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
    this.pids = [];
    this.children = [];
    await labDown(this.prefix);
  }

  /** Names of the directors that hold every VIP on their LAN interface now. */
  masters(): string[] {
    return labStatus(this.prefix).directors.filter((d) => d.holdsVips.length === this.L.vips.length).map((d) => d.name);
  }
  holders(): string[] {
    return labStatus(this.prefix).directors.filter((d) => d.holdsVips.length > 0).map((d) => d.name);
  }

  /** Waits until exactly `name` holds the VIPs; returns the ms it took. */
  async waitMaster(name: string, ms = 20_000): Promise<number> {
    const t0 = Date.now();
    await waitFor(`${name} as the only VIP holder (now ${this.holders().join(', ') || 'none'})`, () => {
      const h = this.holders();
      return h.length === 1 && h[0] === name && this.masters().length === 1;
    }, ms, 100);
    return Date.now() - t0;
  }

  /** One HTTP GET from the client namespace with source address `src`: which real answered. */
  get(url: string, src: string, timeoutS = 2): Shot {
    const r = run(inNs(this.client, ['curl', '-s', '-m', String(timeoutS), '--interface', src, url]), { allowFail: true, timeoutMs: (timeoutS + 3) * 1000 });
    const body = r.stdout.trim();
    const ok = r.status === 0 && /^(real|nat)\d$/.test(body);
    return { ok, real: ok ? body : '', body: r.status === 0 ? body : `curl exit ${r.status}` };
  }

  /** `n` requests spread over the client addresses: answers per real ('failed' counts the rest). */
  shares(url: string, n: number, sources = this.L.clientAddresses): Map<string, number> {
    const m = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const s = this.get(`${url}?i=${i}`, sources[i % sources.length]);
      const k = s.ok ? s.real : 'failed';
      m.set(k, (m.get(k) ?? 0) + 1);
    }
    return m;
  }

  async status(n: 1 | 2): Promise<StatusSnapshot> {
    return reviveSnapshot(await controlRequest(this.dir(n).socket, { cmd: 'status' }, 5000));
  }

  async service(n: 1 | 2, vip: string, port: number): Promise<ServiceStatus> {
    const s = (await this.status(n)).services.find((x) => x.vip === vip && x.port === port);
    if (!s) throw new Error(`director ${n} has no service ${vip}:${port}`);
    return s;
  }

  /** Director `n`'s connection table: client `addr:port` → the real's `addr:port`. */
  async connections(n: 1 | 2): Promise<Map<string, string>> {
    const rows = new Map<string, string>();
    await controlStream(this.dir(n).socket, { cmd: 'conns' }, (r) => { const c = r as { client: string; real: string }; rows.set(c.client, c.real); }, 5000);
    return rows;
  }

  real(short: string): LabReal {
    const r = this.L.reals.find((x) => x.short === short);
    if (!r) throw new Error(`no real ${short}`);
    return r;
  }

  /** The PID of a process `xlvs lab up` started (`servers real2`, `xlvs run <name>`), or one restarted here. */
  pidOf(role: string): number {
    const p = this.state.processes.filter((x) => x.role === role).pop();
    if (!p) throw new Error(`lab has no process "${role}"`);
    return p.pid;
  }

  /** Starts a detached process in `ns` with output to `log`, recorded under `role` (replaces an older one). */
  startProcess(role: string, ns: string, argv: string[], log: string): number {
    const fd = fs.openSync(log, 'a');
    let pid: number | undefined;
    try {
      const full = inNs(ns, argv);
      const p = spawn(full[0], full.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
      p.unref();
      pid = p.pid;
    } finally {
      fs.closeSync(fd);
    }
    if (!pid) throw new Error(`cannot start ${argv.join(' ')} in ${ns}`);
    this.pids.push(pid);
    this.state.processes.push({ role, ns, pid, argv, log, marker: argv[argv.length - 1] });
    return pid;
  }

  /** Restarts the lab's HTTP/echo (and, on a NAT real, UDP) servers on a real (after the test stopped them). */
  async startServers(short: string): Promise<void> {
    const nat = this.L.natReals.find((x) => x.short === short);
    const ns = nat ? nat.ns : this.real(short).ns;
    const servers = path.join(__dirname, '..', '..', '..', 'src', 'lab', 'servers.js');
    const log = path.join(this.L.dir, `${short}.restart.log`);
    fs.writeFileSync(log, '');
    const argv = [process.execPath, servers, '--name', short, '--http', String(LAB.httpPort), '--echo', String(LAB.echoPort), ...(nat ? ['--udp', String(LAB.udpPort)] : [])];
    const pid = this.startProcess(`servers ${short}`, ns, argv, log);
    await waitFor(`servers on ${short} (log ${log})`, () => {
      if (!alive(pid)) throw new GiveUp(`exited: ${fs.readFileSync(log, 'utf8').trim()}`);
      return fs.readFileSync(log, 'utf8').includes('ready ');
    }, 10_000);
  }

  /**
   * Starts `xlvs run -c topo` in director `n`'s namespace the way the lab does: the lab's bpffs
   * bind-mounted over /sys/fs/bpf so the daemon finds its pins. Waits for the control socket.
   */
  async startDaemon(n: 1 | 2, topo: string): Promise<number> {
    const d = this.dir(n);
    const log = path.join(this.L.dir, `${d.short}.restart.log`);
    fs.rmSync(d.socket, { force: true });
    const argv = ['sh', '-c', 'mount --bind "$0" /sys/fs/bpf && exec "$@"', this.L.pinRoot, ...xlvsArgv(['run', '-c', topo])];
    const pid = this.startProcess(`xlvs run ${d.name}`, d.ns, argv, log);
    await waitFor(`xlvs run ${d.name} (log ${log})`, async () => {
      if (!alive(pid)) throw new GiveUp(`exited: ${fs.readFileSync(log, 'utf8').trim().split('\n').slice(-5).join(' | ')}`);
      return fs.existsSync(d.socket) && (await this.status(n)).director === d.name;
    }, 20_000);
    return pid;
  }

  /** Waits until `name` holds every VIP (whatever the other director says); returns the ms it took. */
  async waitHolds(name: string, ms = 20_000): Promise<number> {
    const t0 = Date.now();
    await waitFor(`${name} to hold the VIPs`, () => this.masters().includes(name), ms, 100);
    return Date.now() - t0;
  }

  /** Waits until `name` holds no VIP; returns the ms it took. */
  async waitReleases(name: string, ms = 20_000): Promise<number> {
    const t0 = Date.now();
    await waitFor(`${name} to release the VIPs`, () => !this.holders().includes(name), ms, 100);
    return Date.now() - t0;
  }

  /** The MAC the client's neighbour table holds for `addr` ('' when none). */
  clientNeighMac(addr: string): string {
    const j = JSON.parse(run(inNs(this.client, ['ip', '-j', 'neigh', 'show', addr])).stdout || '[]') as { lladdr?: string }[];
    return j[0]?.lladdr ?? '';
  }

  /** Director `n`'s machine fails the way `make demo` shows it: daemon SIGKILLed, LAN link down. */
  failDirector(n: 1 | 2): void {
    const d = this.dir(n);
    process.kill(this.pidOf(`xlvs run ${d.name}`), 'SIGKILL');
    run(inNs(d.ns, ['ip', 'link', 'set', this.L.interface, 'down']));
    if (this.L.inner) run(inNs(d.ns, ['ip', 'link', 'set', this.L.inner.interface, 'down']));
  }

  /**
   * Director `n`'s link comes back with its network configuration, as at boot: the kernel dropped
   * the route to the TUN segment when the link went down, so it is added again.
   */
  directorLinkUp(n: 1 | 2): void {
    const d = this.dir(n);
    run(inNs(d.ns, ['ip', 'link', 'set', this.L.interface, 'up']));
    if (this.L.inner) run(inNs(d.ns, ['ip', 'link', 'set', this.L.inner.interface, 'up']));
    if (this.L.tunCidr) run(inNs(d.ns, ['ip', 'route', 'replace', this.L.tunCidr, 'via', this.L.routerLan, 'dev', this.L.interface]));
  }

  /** The id of the XDP program attached to director `n`'s LAN interface. */
  xdpProgId(n: 1 | 2): number | undefined {
    return labStatus(this.prefix).xdp.find((x) => x.role === `director ${this.dir(n).name}`)?.progId;
  }

  topologyFile(n: 1 | 2): string { return path.join(this.L.dir, `${this.dir(n).short}.yaml`); }

  /** A long-running helper (compiled next to this file) inside `ns`, killed at `down()`. */
  helper(ns: string, script: string, args: string[] = []): ChildProcess {
    const full = inNs(ns, [process.execPath, path.join(__dirname, script), ...args]);
    const p = spawn(full[0], full.slice(1), { stdio: ['pipe', 'pipe', 'pipe'] });
    this.children.push(p);
    return p;
  }
}

/** TCP segment counters of a namespace (/proc/net/snmp is per network namespace). */
export function tcpCounters(ns: string): { outSegs: number; inSegs: number; retransSegs: number } {
  const lines = run(inNs(ns, ['cat', '/proc/net/snmp'])).stdout.split('\n').filter((l) => l.startsWith('Tcp:'));
  const names = lines[0].split(/\s+/);
  const vals = lines[1].split(/\s+/).map(Number);
  const get = (k: string): number => vals[names.indexOf(k)];
  return { outSegs: get('OutSegs'), inSegs: get('InSegs'), retransSegs: get('RetransSegs') };
}

export function interfaceMac(ns: string, dev: string): string {
  const j = JSON.parse(run(inNs(ns, ['ip', '-j', 'link', 'show', 'dev', dev])).stdout) as { address: string }[];
  return j[0].address;
}

/** A frame as tcpdump -e -n prints it. */
export interface Frame { srcMac: string; dstMac: string; line: string }

/** tcpdump in `ns` on `dev` with `filter`; `stop()` returns what it saw and the kernel's drop count. */
export class Capture {
  private out = '';
  private err = '';
  private readonly p: ChildProcess;
  constructor(readonly ns: string, readonly dev: string, readonly filter: string) {
    const argv = inNs(ns, ['tcpdump', '-i', dev, '-n', '-e', '-l', '--immediate-mode', '-s', '128', filter]);
    this.p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    this.p.stdout!.on('data', (d) => { this.out += d; });
    this.p.stderr!.on('data', (d) => { this.err += d; });
  }

  async ready(): Promise<void> {
    await waitFor(`tcpdump on ${this.ns}/${this.dev} (${this.err.trim()})`, () => {
      if (this.p.exitCode !== null) throw new GiveUp(`tcpdump exited ${this.p.exitCode}: ${this.err}`);
      return /listening on/.test(this.err);
    }, 5000, 50);
  }

  async stop(): Promise<{ frames: Frame[]; dropped: number; stderr: string }> {
    await sleep(300); // --immediate-mode: frames are printed as they come; leave the last ones time to arrive
    if (this.p.exitCode === null && this.p.pid) process.kill(this.p.pid, 'SIGINT');
    await waitFor('tcpdump to exit', () => this.p.exitCode !== null || this.p.signalCode !== null, 5000, 50);
    const frames = this.out.split('\n').filter((l) => l.trim()).map((line) => {
      const m = /^\S+\s+([0-9a-f:]{17}) > ([0-9a-f:]{17}),/.exec(line);
      return { srcMac: m?.[1] ?? '', dstMac: m?.[2] ?? '', line };
    });
    const dm = /(\d+) packets dropped by kernel/.exec(this.err);
    return { frames, dropped: dm ? Number(dm[1]) : -1, stderr: this.err };
  }

  kill(): void {
    if (this.p.exitCode === null && this.p.signalCode === null && this.p.pid) { try { process.kill(this.p.pid, 'SIGKILL'); } catch { /* gone */ } }
  }
}

/** Line-oriented JSON conversation with a helper process (echo-client.js). */
export class JsonLines {
  private queue: unknown[] = [];
  private waiters: ((v: unknown) => void)[] = [];
  private err = '';
  constructor(readonly p: ChildProcess) {
    readline.createInterface({ input: p.stdout! }).on('line', (l) => {
      const v = JSON.parse(l) as unknown;
      const w = this.waiters.shift();
      if (w) w(v); else this.queue.push(v);
    });
    p.stderr!.on('data', (d) => { this.err += d; });
  }

  async ask<T>(msg: unknown, timeoutMs = 30_000): Promise<T> {
    this.p.stdin!.write(JSON.stringify(msg) + '\n');
    if (this.queue.length) return this.queue.shift() as T;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`helper did not answer ${JSON.stringify(msg)} within ${timeoutMs} ms; stderr: ${this.err}`)), timeoutMs);
      this.waiters.push((v) => { clearTimeout(t); resolve(v as T); });
    });
  }
}

/**
 * Long-lived TCP connections from the client namespace (echo-client.js): `open` asserts that each
 * one connected and returns them as `source:localPort` (the key of `E2eLab.connections`),
 * `round` asserts that every one echoes a line.
 */
export class EchoClient {
  private j: JsonLines;
  constructor(readonly lab: E2eLab) { this.j = new JsonLines(lab.helper(lab.client, 'echo-client.js')); }

  async open(host: string, port: number, n: number, what: string, timeoutMs = 5000): Promise<string[]> {
    const r = await this.j.ask<{ results: { i: number; source: string; localPort?: number; ok: boolean; error?: string }[] }>(
      { op: 'open', host, port, sources: this.lab.L.clientAddresses, n, timeoutMs });
    assert.deepEqual(r.results.filter((x) => !x.ok), [], what);
    return r.results.map((o) => `${o.source}:${o.localPort}`);
  }

  async round(tag: string, what: string, timeoutMs = 5000): Promise<void> {
    const r = await this.j.ask<{ results: { i: number; ok: boolean; error?: string }[] }>({ op: 'round', tag, timeoutMs });
    assert.deepEqual(r.results.filter((x) => !x.ok), [], what);
  }

  async close(): Promise<void> { await this.j.ask({ op: 'close' }); }
}

/** Starts the request loop (load-client.js) in the client namespace; `finish()` stops it and returns its summary. */
export function startLoad(lab: E2eLab, opts: { urls: string[]; sources?: string[]; timeoutMs?: number; gapMs?: number; maxMs?: number }): { finish(): Promise<LoadSummary> } {
  const o = { sources: lab.L.clientAddresses, timeoutMs: 3000, gapMs: 20, maxMs: 120_000, ...opts };
  const p = lab.helper(lab.client, 'load-client.js', [JSON.stringify(o)]);
  let out = '';
  let err = '';
  p.stdout!.on('data', (d) => { out += d; });
  p.stderr!.on('data', (d) => { err += d; });
  return {
    async finish(): Promise<LoadSummary> {
      p.stdin!.end('stop\n');
      await waitFor('the request loop to finish', () => p.exitCode !== null, o.timeoutMs + 5000, 50);
      if (!out.trim()) throw new Error(`request loop printed nothing (exit ${p.exitCode}): ${err}`);
      return JSON.parse(out.trim().split('\n').pop()!) as LoadSummary;
    },
  };
}

export interface LoadSummary { sent: number; ok: number; failed: { at: number; url: string; source: string; error: string }[]; reals: Record<string, number>; maxLatencyMs: number }

/** Sum of a counter over a service's reals. */
export function realPackets(s: ServiceStatus): Map<string, bigint> {
  return new Map(s.reals.map((r) => [r.address, r.counters.packets]));
}

export { LabLayout, LAB };
