// End to end in the namespace lab (config/lab.yaml via `xlvs lab up`): requests per second and
// latency of short HTTP requests (keep-alive) and of new TCP connections from the client
// namespace — through xlvs DR, xlvs TUN, and haproxy in `mode tcp` on the Master director's
// namespace, to the same reals, interleaved in every round of the same run. A run straight to
// one real (no director) is the baseline for the CPU estimate.
//
// Director CPU per 10,000 requests (method and limits in BENCHMARKS.md):
//   xlvs:    (machine softirq+irq seconds per request − the same for the direct run) + the Master
//            daemon's process CPU, × 10,000. XDP runs in softirq on the receiving CPU.
//   haproxy: its process CPU + (softirq per request − direct's), × 10,000.
// The softirq difference also carries the extra veth/bridge hop every director path adds, so
// both numbers are upper bounds of the director's own work, and the same hop is in both.
//
// Run: node dist/bench/e2e.js [--quick]   (root; make build; haproxy installed)
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync, ChildProcess } from 'node:child_process';
import { LAB } from '../src/lab/layout';
import type { LoadResult } from './lib/loadgen';
import { Lab, bringUp, tearDown, masterOf, load, irqSeconds, processCpuSeconds, daemonPid, startIn, stop, waitFor } from './lib/lab';
import { Row, renderTable, spreadOf } from './lib/report';
import { median, summarise } from './lib/stats';

const SECTION = 'e2e';
const PREFIX = 'xbe';
const HAPROXY_PORT = 8080;
/** Issue 9: xlvs DR at least 2× haproxy's requests/s, at most 0.2× its director CPU. */
const TARGET_RPS_RATIO = 2;
const TARGET_CPU_RATIO = 0.2;

export interface E2eOptions { quick?: boolean; print?: boolean; log?: (l: string) => void }

interface PathDef { name: string; host: string; port: number; kind: 'direct' | 'xlvs' | 'haproxy' }
interface Sample { path: string; mode: 'conn' | 'keepalive'; round: number; load: LoadResult; irqS: number; processS: number }

export interface E2eResult { rows: Row[]; samples: Sample[]; haproxyVersion: string; master: string }

function haproxyConfig(bind: string, reals: string[]): string {
  return [
    '# xlvs bench: haproxy as a layer-4 balancer, the comparison for xlvs DR/TUN',
    'global',
    "  maxconn 8000 # FDs ≈ 2 × maxconn; the lab's limit is 20000",
    'defaults',
    '  mode tcp',
    '  timeout connect 3s',
    '  timeout client 10s',
    '  timeout server 10s',
    'frontend bench',
    `  bind ${bind}:${HAPROXY_PORT}`,
    '  default_backend reals',
    'backend reals',
    '  balance roundrobin',
    ...reals.map((r, i) => `  server real${i + 1} ${r}:${LAB.httpPort}`),
    '',
  ].join('\n');
}

export async function run(opts: E2eOptions = {}): Promise<E2eResult> {
  const quick = !!opts.quick;
  const log = opts.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const rounds = quick ? 1 : 3;
  const sizes = {
    conn: { count: quick ? 2000 : 10_000, maxSeconds: quick ? 3 : 6, concurrency: 32 },
    keepalive: { count: quick ? 5000 : 40_000, maxSeconds: quick ? 3 : 6, concurrency: 32 },
  };
  const version = execFileSync('haproxy', ['-v'], { encoding: 'utf8' }).split('\n')[0];
  let lab: Lab | null = null;
  let haproxy: ChildProcess | null = null;
  try {
    lab = await bringUp(PREFIX);
    const L = lab.L;
    const master = masterOf(lab)!;
    const md = L.directors.find((d) => d.name === master)!;
    const cfg = path.join(L.dir, 'haproxy.cfg');
    fs.writeFileSync(cfg, haproxyConfig(md.address, L.reals.map((r) => r.lanAddress)));
    haproxy = startIn(md.ns, ['haproxy', '-db', '-f', cfg], path.join(L.dir, 'haproxy.log'));
    const lab0 = lab;
    await waitFor(async () => (await load(lab0, { host: md.address, port: HAPROXY_PORT, mode: 'conn', concurrency: 1, count: 1, maxSeconds: 2 })).ok === 1, 10_000, 'haproxy to answer');
    log(`e2e: lab up, ${master} is Master; haproxy ${version.split(' ')[2]} on ${md.ns} ${md.address}:${HAPROXY_PORT}`);

    const paths: PathDef[] = [
      { name: 'direct to one real (no director)', host: L.reals[0].lanAddress, port: LAB.httpPort, kind: 'direct' },
      { name: 'xlvs DR', host: L.vips[0], port: LAB.httpPort, kind: 'xlvs' },
      ...(L.vips[1] ? [{ name: 'xlvs TUN', host: L.vips[1], port: LAB.httpPort, kind: 'xlvs' as const }] : []),
      { name: 'haproxy mode tcp', host: md.address, port: HAPROXY_PORT, kind: 'haproxy' },
    ];
    const dpid = daemonPid(lab, master);
    const samples: Sample[] = [];
    for (let round = 0; round < rounds; round++) {
      for (const mode of ['conn', 'keepalive'] as const) {
        // Rotate the order per round so no path always runs first (warm caches, drift).
        const order = paths.map((_, i) => paths[(i + round) % paths.length]);
        for (const p of order) {
          const pid = p.kind === 'haproxy' ? haproxy.pid! : p.kind === 'xlvs' ? dpid : 0;
          const irq0 = irqSeconds();
          const cpu0 = pid ? processCpuSeconds(pid) : 0;
          const r = await load(lab, { host: p.host, port: p.port, mode, ...sizes[mode] });
          const s: Sample = { path: p.name, mode, round, load: r, irqS: irqSeconds() - irq0, processS: pid ? processCpuSeconds(pid) - cpu0 : 0 };
          samples.push(s);
          log(`e2e: round ${round + 1}/${rounds} ${mode.padEnd(9)} ${p.name.padEnd(33)} ${r.rps.toFixed(0).padStart(6)} req/s p50 ${r.p50Ms.toFixed(2)} ms p99 ${r.p99Ms.toFixed(2)} ms` +
            ` errors ${r.errors} reals ${JSON.stringify(r.byReal)}`);
        }
      }
    }
    return { rows: rows(samples, paths), samples, haproxyVersion: version, master };
  } finally {
    await stop(haproxy);
    if (lab) await tearDown(lab);
  }
}

function rows(samples: Sample[], paths: PathDef[]): Row[] {
  const out: Row[] = [];
  for (const mode of ['keepalive', 'conn'] as const) {
    const what = mode === 'conn' ? 'new TCP connections' : 'HTTP keep-alive requests';
    const of = (p: string) => samples.filter((s) => s.path === p && s.mode === mode);
    const direct = of(paths[0].name);
    const irqPerReq = (ss: Sample[]) => median(ss.map((s) => s.irqS / Math.max(1, s.load.ok)));
    const baseIrq = irqPerReq(direct);
    /** Director CPU seconds per 10k requests, per round. */
    const cpu10k = (ss: Sample[]) => ss.map((s) => 10_000 * (Math.max(0, s.irqS / Math.max(1, s.load.ok) - baseIrq) + s.processS / Math.max(1, s.load.ok)));
    const hap = of('haproxy mode tcp');
    const hapRps = median(hap.map((s) => s.load.rps));
    const hapCpu = median(cpu10k(hap));
    for (const p of paths) {
      const ss = of(p.name);
      if (!ss.length) continue;
      const rps = summarise(ss.map((s) => s.load.rps));
      const errs = ss.reduce((a, s) => a + s.load.errors, 0);
      const reals = Object.keys(Object.assign({}, ...ss.map((s) => s.load.byReal))).length;
      const isDr = p.name === 'xlvs DR';
      const r: Row = { section: SECTION, case: `${what}: ${p.name}`, value: rps.median, unit: 'req/s', spread: spreadOf(rps), note: `${errs} errors, ${reals} reals answered` };
      if (p.kind !== 'haproxy') {
        r.ratio = rps.median / hapRps;
        r.ref = isDr ? `haproxy (same run), target ≥ ${TARGET_RPS_RATIO}` : 'haproxy (same run)';
        if (isDr) r.met = r.ratio >= TARGET_RPS_RATIO;
      }
      out.push(r);
      const p50 = summarise(ss.map((s) => s.load.p50Ms));
      const p99 = summarise(ss.map((s) => s.load.p99Ms));
      out.push({ section: SECTION, case: `${what}: ${p.name} latency p50 / p99`, value: p50.median, unit: 'ms (p50)', spread: spreadOf(p50), note: `p99 ${p99.median.toFixed(2)} ms (${spreadOf(p99)})` });
      if (p.kind !== 'direct') {
        const c = summarise(cpu10k(ss));
        const cr: Row = { section: SECTION, case: `${what}: ${p.name} director CPU per 10k requests`, value: c.median, unit: 'CPU s', spread: spreadOf(c),
          note: p.kind === 'xlvs' ? `softirq over direct + daemon ${median(ss.map((s) => s.processS)).toFixed(2)} s` : `process ${median(ss.map((s) => s.processS)).toFixed(2)} s + softirq over direct` };
        if (p.kind === 'xlvs') {
          cr.ratio = c.median / hapCpu;
          cr.ref = isDr ? `haproxy (same run), target ≤ ${TARGET_CPU_RATIO}` : 'haproxy (same run)';
          if (isDr) cr.met = cr.ratio <= TARGET_CPU_RATIO;
        }
        out.push(cr);
      }
    }
  }
  return out;
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick') }).then((r) => process.stdout.write(renderTable(r.rows) + '\n'), (e) => { console.error(e); process.exit(1); });
}
