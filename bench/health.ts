// Health-check scale: 1,000 TCP reals checked every second, against local listeners in one
// network namespace. Reports the checker's CPU use (share of one core), the p99 lateness of
// checks against their schedule, and the time from a verdict to the transition callback (the
// map write behind that callback is measured by the daemon's own bench once wired).
// Targets (ours, for a 2-core director that also runs VRRP and the daemon): CPU ≤ 25 % of one
// core, p99 lateness ≤ 5 % of the interval, verdict → callback ≤ 1 ms. Ratios < 1 meet them.
// `run()` needs root (it makes a namespace); the bench re-executes this file inside it.
import { spawn } from 'node:child_process';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { Netlab } from '../src/lab/netns';
import { inNs } from '../src/sys/exec';
import { HealthManager } from '../src/health/manager';
import { CheckerSpec } from '../src/health/types';

export interface HealthBenchOptions { reals?: number; intervalMs?: number; seconds?: number; closeShare?: number }

export interface HealthBenchResult {
  reals: number;
  intervalMs: number;
  seconds: number;
  checks: number;
  checksPerSecond: number;
  failedChecks: number;
  cpuShareOfOneCore: number;
  lateP50Ms: number;
  lateP99Ms: number;
  lateMaxMs: number;
  durationP99Ms: number;
  transitions: number;
  verdictToCallbackP99Ms: number;
  ratios: { cpu: number; lateness: number; callback: number };
}

const TARGET_CPU = 0.25;
const TARGET_LATE_SHARE = 0.05;
const TARGET_CALLBACK_MS = 1;
const BASE_PORT = 20000;

function pct(xs: number[], p: number): number {
  if (!xs.length) return 0;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
}

/** Server mode: `n` listeners on 127.0.0.1; the last `close` of them shut at `closeAtMs`. */
async function serve(n: number, close: number, closeAtMs: number): Promise<void> {
  const servers: net.Server[] = [];
  await Promise.all(Array.from({ length: n }, (_, i) => new Promise<void>((r) => {
    const s = net.createServer((c) => c.destroy());
    servers.push(s);
    s.listen(BASE_PORT + i, '127.0.0.1', () => r());
  })));
  process.stdout.write('ready\n');
  setTimeout(() => servers.slice(n - close).forEach((s) => s.close()), closeAtMs);
  setInterval(() => undefined, 1 << 30);
}

/** Worker mode: the checkers, measured. */
async function work(o: Required<HealthBenchOptions>): Promise<HealthBenchResult> {
  const m = new HealthManager();
  const late: number[] = [];
  const durations: number[] = [];
  const callback: number[] = [];
  let checks = 0;
  let failed = 0;
  let measuring = false;
  m.on('check', (e) => {
    if (!measuring) return;
    checks++;
    if (!e.ok) failed++;
    late.push(e.lateMs);
    durations.push(e.durationMs);
  });
  m.on('transition', (e) => { callback.push(performance.now() - e.at); });
  const specs: CheckerSpec[] = Array.from({ length: o.reals }, (_, i) => ({
    serviceKey: '10.255.0.1:80/tcp', realKey: `127.0.0.1:${BASE_PORT + i}`,
    check: { type: 'tcp', address: '127.0.0.1', port: BASE_PORT + i, timeoutMs: Math.floor(o.intervalMs / 2) },
    timing: { intervalMs: o.intervalMs, rise: 1, fall: 1, delayBeforeRetryMs: o.intervalMs, warmupMs: 0, alpha: false },
  }));
  m.sync(specs);
  // Let the first round spread out, then measure.
  await new Promise((r) => setTimeout(r, Math.min(o.intervalMs, 1000) + 200));
  measuring = true;
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  await new Promise((r) => setTimeout(r, o.seconds * 1000));
  const wall = performance.now() - t0;
  const cpu = process.cpuUsage(cpu0);
  measuring = false;
  m.stop();
  const cpuShare = (cpu.user + cpu.system) / 1000 / wall;
  const p99 = pct(late, 99);
  const cb = pct(callback, 99);
  return {
    reals: o.reals, intervalMs: o.intervalMs, seconds: o.seconds, checks, checksPerSecond: checks / (wall / 1000), failedChecks: failed,
    cpuShareOfOneCore: cpuShare, lateP50Ms: pct(late, 50), lateP99Ms: p99, lateMaxMs: pct(late, 100), durationP99Ms: pct(durations, 99),
    transitions: callback.length, verdictToCallbackP99Ms: cb,
    ratios: { cpu: cpuShare / TARGET_CPU, lateness: p99 / (TARGET_LATE_SHARE * o.intervalMs), callback: cb / TARGET_CALLBACK_MS },
  };
}

function readLine(p: ReturnType<typeof spawn>, match: (l: string) => boolean, timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = '';
    const t = setTimeout(() => reject(new Error(`timed out waiting for output`)), timeoutMs);
    p.stdout!.on('data', (d) => {
      buf += String(d);
      for (const l of buf.split('\n')) if (match(l)) { clearTimeout(t); resolve(l); }
    });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`exited ${code}`)); });
  });
}

export async function run(opts: HealthBenchOptions = {}): Promise<HealthBenchResult> {
  const o: Required<HealthBenchOptions> = { reals: 1000, intervalMs: 1000, seconds: 8, closeShare: 0.1, ...opts };
  const lab = new Netlab('hbench');
  try {
    const ns = lab.addNs('n');
    const close = Math.floor(o.reals * o.closeShare);
    // Close the last listeners mid-measurement so transitions (and their callbacks) happen.
    const closeAt = Math.min(o.intervalMs, 1000) + 200 + (o.seconds * 1000) / 2;
    const server = lab.spawn(ns, [process.execPath, __filename, '--server', String(o.reals), String(close), String(closeAt)]);
    await readLine(server, (l) => l === 'ready', 30_000);
    const argv = inNs(ns, [process.execPath, __filename, '--worker', JSON.stringify(o)]);
    const worker = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] });
    const line = await readLine(worker, (l) => l.startsWith('{'), (o.seconds + 30) * 1000);
    return JSON.parse(line) as HealthBenchResult;
  } finally {
    await lab.cleanup();
  }
}

if (require.main === module) {
  const [mode, a, b, c] = process.argv.slice(2);
  if (mode === '--server') {
    void serve(Number(a), Number(b), Number(c));
  } else if (mode === '--worker') {
    void work(JSON.parse(a)).then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); });
  } else {
    run().then((r) => {
      console.log(`health: ${r.reals} TCP reals every ${r.intervalMs} ms for ${r.seconds} s: ${r.checks} checks (${r.checksPerSecond.toFixed(0)}/s, ${r.failedChecks} failed)`);
      console.log(`  cpu ${(r.cpuShareOfOneCore * 100).toFixed(1)} % of one core            ratio to 25 % target: ${r.ratios.cpu.toFixed(2)}`);
      console.log(`  lateness p50 ${r.lateP50Ms.toFixed(2)} ms p99 ${r.lateP99Ms.toFixed(2)} ms max ${r.lateMaxMs.toFixed(2)} ms   ratio to 5 % of interval: ${r.ratios.lateness.toFixed(2)}`);
      console.log(`  check duration p99 ${r.durationP99Ms.toFixed(2)} ms`);
      console.log(`  verdict → callback p99 ${(r.verdictToCallbackP99Ms * 1000).toFixed(1)} µs over ${r.transitions} transitions   ratio to 1 ms: ${r.ratios.callback.toFixed(3)}`);
    }).catch((e) => { console.error(e); process.exit(1); });
  }
}
