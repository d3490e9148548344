// Helpers for the benchmarks that run in the namespace lab (src/lab/): bring it up with both
// directors running `xlvs run`, find the VRRP Master, run the load generator in the client
// namespace, and read CPU time from /proc. Traffic only between the lab's namespaces.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn, ChildProcess } from 'node:child_process';
import { labUp, labDown, labStatus, LabState } from '../../src/lab/site';
import type { LabLayout } from '../../src/lab/layout';
import { inNs } from '../../src/sys/exec';
import type { LoadOptions, LoadResult } from './loadgen';
import { sleep } from './stats';
import { runCollect } from './collect';

export interface Lab { prefix: string; L: LabLayout; state: LabState }

/** `xlvs lab up` with directors; resolves once one director holds the VIPs. */
export async function bringUp(prefix: string, log: (l: string) => void = () => undefined): Promise<Lab> {
  const { layout, state } = await labUp({ prefix, directors: 'yes', log });
  const lab = { prefix, L: layout, state };
  try {
    await waitFor(() => masterOf(lab) !== null, 20_000, 'a VRRP Master');
  } catch (e) {
    await labDown(prefix);
    throw e;
  }
  return lab;
}

export async function tearDown(lab: Lab): Promise<void> {
  await labDown(lab.prefix);
}

/** The director holding the VIPs (exactly one), or null. */
export function masterOf(lab: Lab): string | null {
  const m = labStatus(lab.prefix).directors.filter((d) => d.holdsVips.length > 0);
  return m.length === 1 ? m[0].name : null;
}

/** Does `director` hold the lab's VIPs (VRRP Master)? */
export function holdsVips(lab: Lab, director: string): boolean {
  return (labStatus(lab.prefix).directors.find((d) => d.name === director)?.holdsVips.length ?? 0) > 0;
}

export async function waitFor(cond: () => boolean | Promise<boolean>, ms: number, what: string, stepMs = 50): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return;
    await sleep(stepMs);
  }
  throw new Error(`timed out after ${ms} ms waiting for ${what}`);
}

const LOADGEN = path.join(__dirname, 'loadgen.js');

/** Runs the load generator in the client namespace and returns its result. */
export function load(lab: Lab, o: Omit<LoadOptions, 'sources'> & { sources?: string[] }): Promise<LoadResult> {
  const opts: LoadOptions = { sources: lab.L.clientAddresses, ...o };
  const argv = inNs(lab.L.ns.client, [process.execPath, LOADGEN, JSON.stringify(opts)]);
  return runCollect(argv).then(({ code, out, err }) => {
    const line = out.trim().split('\n').pop() ?? '';
    if (code === 0 && line.startsWith('{')) return JSON.parse(line) as LoadResult;
    throw new Error(`loadgen exited ${code}: ${err.trim() || out.trim()}`);
  });
}

/** USER_HZ: /proc/stat and /proc/<pid>/stat count in these ticks (proc(5)). */
const TICKS_PER_SECOND = 100;

/** Machine-wide softirq + irq seconds from /proc/stat's "cpu" line (proc(5): fields irq, softirq). */
export function irqSeconds(): number {
  const f = fs.readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
  return (f[5] + f[6]) / TICKS_PER_SECOND;
}

/** A process's user + system CPU seconds (proc(5) /proc/<pid>/stat fields 14, 15), with its reaped children's (16, 17). */
export function processCpuSeconds(pid: number): number {
  try {
    const s = fs.readFileSync(`/proc/${pid}/stat`, 'utf8');
    const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3 (state)
    return (f[11] + f[12] + f[13] + f[14]) / TICKS_PER_SECOND;
  } catch {
    return NaN;
  }
}

/** The PID of the director's `xlvs run` (recorded by the lab). */
export function daemonPid(lab: Lab, director: string): number {
  const p = lab.state.processes.find((x) => x.role === `xlvs run ${director}`);
  if (!p) throw new Error(`lab: no xlvs run process for ${director}`);
  return p.pid;
}

/** Starts a process in a namespace (ours to stop, by PID). */
export function startIn(ns: string, argv: string[], logFile: string): ChildProcess {
  const a = inNs(ns, argv);
  const fd = fs.openSync(logFile, 'a');
  const p = spawn(a[0], a.slice(1), { stdio: ['ignore', fd, fd] });
  fs.closeSync(fd);
  return p;
}

export function stop(p: ChildProcess | null, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!p || p.exitCode !== null || p.signalCode !== null || p.pid === undefined) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(() => { try { process.kill(p.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000);
    p.once('exit', () => { clearTimeout(t); resolve(); });
    try { process.kill(p.pid!, signal); } catch { clearTimeout(t); resolve(); }
  });
}
