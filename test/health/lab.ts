// Namespace fixtures for the health tests: a checker namespace and a server namespace joined by
// a veth; the checks run in a child process inside the checker namespace (helpers/runner.js),
// the servers in the server namespace (helpers/servers.js).
import * as path from 'node:path';
import { ChildProcess, spawn } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { inNs } from '../../src/sys/exec';
import { CheckResult, CheckSpec, CheckerSpec, CheckEvent, HealthEvent } from '../../src/health/types';

export const CHK_ADDR = '10.77.0.1';
export const CHK_ADDR2 = '10.77.0.11';
export const SRV_ADDR = '10.77.0.2';

export interface Lab { lab: Netlab; chk: string; srv: string }

export function makeLab(prefix: string): Lab {
  const lab = new Netlab(prefix);
  const chk = lab.addNs('chk');
  const srv = lab.addNs('srv');
  lab.addVeth(chk, 'c0', srv, 's0');
  lab.addAddr(chk, 'c0', `${CHK_ADDR}/24`);
  lab.addAddr(chk, 'c0', `${CHK_ADDR2}/24`);
  lab.addAddr(srv, 's0', `${SRV_ADDR}/24`);
  return { lab, chk, srv };
}

const helper = (name: string) => path.join(__dirname, 'helpers', `${name}.js`);

function lines(p: ChildProcess, onLine: (l: string) => void): void {
  let buf = '';
  p.stdout!.setEncoding('utf8');
  p.stdout!.on('data', (d: string) => {
    buf += d;
    let i;
    while ((i = buf.indexOf('\n')) >= 0) { onLine(buf.slice(0, i)); buf = buf.slice(i + 1); }
  });
}

/** Starts helpers/servers.js in `ns` and resolves once it listens. */
export function startServer(l: Lab, cfg: Record<string, unknown>): Promise<ChildProcess> {
  const p = l.lab.spawn(l.srv, [process.execPath, helper('servers'), JSON.stringify(cfg)]);
  let err = '';
  p.stderr!.on('data', (d) => { err += String(d); });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`server did not start: ${err}`)), 15_000);
    lines(p, (line) => { if (line === 'ready') { clearTimeout(t); resolve(p); } });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`server exited ${code}: ${err}`)); });
  });
}

/** Kills a process we started, by its PID, and waits for it to go. */
export function stopProcess(p: ChildProcess): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => { p.once('exit', () => resolve()); process.kill(p.pid!, 'SIGKILL'); });
}

/** CheckSpec with Buffers as hex, as runner.js reads it. */
function wire(c: CheckSpec): Record<string, unknown> {
  if (c.type === 'udp') { const { payload, ...rest } = c; return { ...rest, payloadHex: payload.toString('hex') }; }
  return { ...c };
}

/** Runs the checks once, in parallel, inside the checker namespace. */
export async function checkOnce(l: Lab, specs: CheckSpec[]): Promise<CheckResult[]> {
  return (await checkOnceGaps(l, specs)).results;
}

/** checkOnce, and the runner's largest main-thread gap (ms) while the checks ran. */
export function checkOnceGaps(l: Lab, specs: CheckSpec[]): Promise<{ results: CheckResult[]; maxGapMs: number }> {
  const argv = inNs(l.chk, [process.execPath, helper('runner'), 'once', JSON.stringify(specs.map(wire))]);
  return new Promise((resolve, reject) => {
    const p = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    const t = setTimeout(() => { process.kill(p.pid!, 'SIGKILL'); reject(new Error('runner hung')); }, 30_000);
    p.stdout.on('data', (d) => { out += String(d); });
    p.stderr.on('data', (d) => { err += String(d); });
    p.once('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) reject(new Error(`runner exit ${code}: ${err}`));
      else resolve(JSON.parse(out) as { results: CheckResult[]; maxGapMs: number });
    });
  });
}

export type WireEvent = ({ kind: 'check' } & CheckEvent) | ({ kind: 'transition' } & HealthEvent);

export interface Managed {
  events: WireEvent[];
  /** Resolves with the first event (from `from` on) matching `pred`. */
  waitFor(pred: (e: WireEvent) => boolean, timeoutMs: number, from?: number): Promise<WireEvent>;
  stop(): Promise<void>;
}

/** Runs a HealthManager with `specs` inside the checker namespace, streaming its events. */
export function manage(l: Lab, specs: CheckerSpec[]): Managed {
  const p = l.lab.spawn(l.chk, [process.execPath, helper('runner'), 'manage', JSON.stringify(specs.map((s) => ({ ...s, check: wire(s.check) })))], { stdio: ['pipe', 'pipe', 'pipe'] });
  const events: WireEvent[] = [];
  const waiters: Array<() => void> = [];
  lines(p, (line) => { events.push(JSON.parse(line) as WireEvent); waiters.splice(0).forEach((w) => w()); });
  return {
    events,
    waitFor(pred, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`no matching event in ${timeoutMs} ms; saw ${JSON.stringify(events.slice(from))}`)), timeoutMs);
        const look = () => {
          const e = events.slice(from).find(pred);
          if (e) { clearTimeout(t); resolve(e); } else waiters.push(look);
        };
        look();
      });
    },
    stop: () => stopProcess(p),
  };
}
