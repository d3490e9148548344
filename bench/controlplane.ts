// Control-plane costs on the real Dataplane + Reconciler (the daemon's wiring) over a scratch
// pin dir, never attached: Maglev build, cold apply of many VIPs, a reload that changes one
// weight, one health flip from verdict to map write, and map updates one by one vs batched.
// Where an apply's time goes is measured by probing the Maglev builder and the loader's map
// calls (bench/lib/probe.ts) — the code under test is unchanged.
//
// Sizes: the full run applies 256 VIPs × 100 reals (the target's size) with 65537-slot tables;
// --quick applies 32 × 100 and gives 256 × 100 as an estimate from the per-VIP cost, marked so.
//
// Run: node dist/bench/controlplane.js [--quick]   (root; make build first)
import { BpfMap } from '../src/loader';
import * as maglevModule from '../src/maglev/maglev';
import type { DataplanePortAdapter } from '../src/director/dataplane-port';
import type { ServiceVerdict } from '../src/health/quorum';
import type { Topology } from '../src/config/model';
import type { Dataplane } from '../src/dataplane/dataplane';
import * as maglevBench from './maglev';
import * as mapsBench from './maps-update';
import { Probe, ProbeStat } from './lib/probe';
import { Row, atMost, info, renderTable } from './lib/report';
import { summarise, msSince, median } from './lib/stats';
import { syntheticTopology } from './lib/topo';
import { withScratchDataplane, directorFor } from './lib/scratch';

const SECTION = 'controlplane';
/** Issue 3: a 65537-slot table for 100 reals in ≤ 5 ms. */
const TARGET_MAGLEV_MS = 5;
/** Issue 9: cold apply of 256 VIPs × 100 reals in ≤ 2 s. */
const TARGET_COLD_MS = 2000;
const TARGET_COLD_VIPS = 256;
/** Issue 9: one health flip, verdict → map write, in ≤ 5 ms. */
const TARGET_FLIP_MS = 5;

export interface ControlplaneOptions { quick?: boolean; print?: boolean }

export interface ApplyBreakdown {
  totalMs: number;
  /** Port calls (the reconciler's writes) and loader calls, with time and entries written. */
  calls: Record<string, ProbeStat>;
}

export interface ColdApply { vips: number; reals: number; runsMs: number[]; perVipMs: number; breakdown: ApplyBreakdown }

export interface ControlplaneResult {
  rows: Row[];
  maglev: maglevBench.MaglevBenchResult[];
  configLoadMs: { vips: number; reals: number; ms: number };
  cold: ColdApply[];
  estimate256x100Ms: number;
  reload: { runsMs: number[]; breakdown: ApplyBreakdown };
  /** runsMs: down flips to the rebuilt table; outMs: down flips to the real out of selection; upMs: up flips. */
  flip: { runsMs: number[]; outMs: number[]; upMs: number[]; breakdown: ApplyBreakdown };
  mapsUpdate: mapsBench.MapsUpdateResult;
}

/** Probes the Maglev builder, the loader's map calls and the port's three writes. */
function probeApply(probe: Probe, port: DataplanePortAdapter): void {
  probe.wrap('maglev build', maglevModule, 'buildMaglevTable');
  probe.wrap('bpf map create', BpfMap, 'create');
  probe.wrap('bpf update (one element)', BpfMap.prototype, 'update');
  probe.wrap('bpf update per-CPU (one element)', BpfMap.prototype, 'updatePerCpu');
  probe.wrap('bpf batch update (elements)', BpfMap.prototype, 'updateBatchRaw', (self, args) => (args[0] as Buffer).length / (self as BpfMap).keySize);
  probe.wrap('bpf map-in-map swap', BpfMap.prototype, 'setInner');
  probe.wrap('bpf delete', BpfMap.prototype, 'delete');
  probe.wrap('port upsertVip', port, 'upsertVip');
  probe.wrap('port setReals', port, 'setReals');
  probe.wrap('port removeVip', port, 'removeVip');
}

function breakdown(probe: Probe, totalMs: number): ApplyBreakdown {
  const calls = Object.fromEntries(Object.entries(probe.read()).filter(([, s]) => s.calls > 0));
  return { totalMs, calls };
}

/** "maglev build 61% (40 calls), batch fill 30% (2,621,520 elements) …" for the table's note. */
function describeBreakdown(b: ApplyBreakdown): string {
  const parts: string[] = [];
  for (const [k, s] of Object.entries(b.calls)) {
    if (k.startsWith('port ')) continue;
    const share = (100 * s.ms) / b.totalMs;
    if (share < 1 && s.calls < 2) continue;
    parts.push(`${k} ${share.toFixed(0)}% (${s.calls} calls${s.entries !== s.calls ? `, ${s.entries} elements` : ''})`);
  }
  const probed = Object.entries(b.calls).filter(([k]) => !k.startsWith('port ')).reduce((a, [, s]) => a + s.ms, 0);
  parts.push(`rest (desired state, diff, codecs, JS) ${((100 * (b.totalMs - probed)) / b.totalMs).toFixed(0)}%`);
  const ports = Object.entries(b.calls).filter(([k]) => k.startsWith('port ')).map(([k, s]) => `${k.slice(5)}×${s.calls}`);
  return `writes: ${ports.join(', ') || 'none'}; ${parts.join(', ')}`;
}

function coldApply(topo: Topology, runs: number): ColdApply {
  const vips = topo.services.length;
  const reals = topo.services[0]?.reals.length ?? 0;
  const runsMs: number[] = [];
  let last: ApplyBreakdown | null = null;
  for (let r = 0; r < runs; r++) {
    withScratchDataplane(`cold${r}`, (dp) => {
      const director = directorFor(dp, topo);
      const probe = new Probe();
      probeApply(probe, director.port);
      try {
        const t0 = process.hrtime.bigint();
        director.apply();
        const ms = msSince(t0);
        runsMs.push(ms);
        last = breakdown(probe, ms);
      } finally {
        probe.restore();
      }
      if (dp.vips.list().length !== vips) throw new Error(`cold apply: ${dp.vips.list().length} VIPs in the maps, expected ${vips}`);
    });
  }
  return { vips, reals, runsMs, perVipMs: median(runsMs) / vips, breakdown: last! };
}

/** Verdicts with every real up, except `down` (a real key) of service `svc`. */
function verdict(topo: Topology, svc: number, down: string | null): ServiceVerdict {
  const s = topo.services[svc];
  const reals = s.reals.map((r) => ({ key: r.key, weight: r.key === down ? 0 : r.weight, state: r.key === down ? 'down' as const : 'up' as const, reason: r.key === down ? 'bench: stopped' : 'up' }));
  const healthy = reals.reduce((a, r) => a + (r.state === 'up' ? r.weight : 0), 0);
  return { reals, sorry: false, quorumUp: true, healthyWeight: healthy, reason: 'bench' };
}

/** On an applied data plane: reloads with one weight changed, then health flips. */
function reloadAndFlip(dp: Dataplane, topo: Topology, runs: number): { reload: ControlplaneResult['reload']; flip: ControlplaneResult['flip'] } {
  const director = directorFor(dp, topo);
  director.apply();
  const probe = new Probe();
  probeApply(probe, director.port);
  try {
    // Reload: a new topology object (as a reloaded file gives) with one real's weight changed.
    const reloadMs: number[] = [];
    let reloadB: ApplyBreakdown | null = null;
    const mid = topo.services.length >> 1;
    for (let r = 0; r < runs; r++) {
      const next: Topology = structuredClone(topo);
      next.services[mid].reals[0].weight = 10 + (r % 2); // differs from the last applied every run
      probe.reset();
      const t0 = process.hrtime.bigint();
      director.setTopology(next);
      const res = director.apply();
      const ms = msSince(t0);
      if (res.summary.length !== 1) throw new Error(`reload: expected 1 write for one changed weight, got ${res.summary.join('; ')}`);
      reloadMs.push(ms);
      reloadB = breakdown(probe, ms);
    }
    director.setTopology(topo);
    director.apply();

    // Health flip, as the daemon does it through the Director: the verdict of the one service it
    // touched; a real that left selection is written out of it at once (the lb program probes
    // past its slots); then the apply of that service alone rebuilds and swaps its Maglev table.
    const flipMs: number[] = [];
    const outMs: number[] = [];
    const upMs: number[] = [];
    let flipB: ApplyBreakdown | null = null;
    const svc = topo.services.length - 1;
    const model = topo.services[svc];
    const real = model.reals[0];
    const only = new Set([model.key]);
    for (let r = 0; r < runs * 2; r++) {
      const down = r % 2 === 0;
      probe.reset();
      const t0 = process.hrtime.bigint();
      director.setVerdict(model.key, verdict(topo, svc, down ? real.key : null));
      const leaving = director.outOfSelection(model.key);
      const tOut = msSince(t0);
      director.apply(only);
      const ms = msSince(t0);
      const inMaps = dp.reals.list(model.key).find((x) => x.address === real.address);
      if (inMaps?.state !== (down ? 'down' : 'up')) throw new Error(`flip: ${real.key} is ${inMaps?.state} in the maps after the ${down ? 'down' : 'up'} verdict`);
      if (down) {
        if (leaving.length !== 1) throw new Error(`flip: expected one real leaving selection, got ${leaving.length}`);
        outMs.push(tOut);
        flipMs.push(ms);
        flipB = breakdown(probe, ms);
      } else {
        upMs.push(ms);
      }
    }
    return { reload: { runsMs: reloadMs, breakdown: reloadB! }, flip: { runsMs: flipMs, outMs, upMs, breakdown: flipB! } };
  } finally {
    probe.restore();
  }
}

export function run(opts: ControlplaneOptions = {}): ControlplaneResult {
  const quick = !!opts.quick;
  const rows: Row[] = [];

  const maglev = maglevBench.run(quick ? 3 : 9);
  for (const m of maglev) {
    rows.push({ section: SECTION, case: `maglev build ${m.size} × ${m.backends} (${m.case})`, value: m.medianMs, unit: 'ms', ratio: m.ratio, ref: `target ≤ ${TARGET_MAGLEV_MS} ms`, met: m.medianMs <= TARGET_MAGLEV_MS });
  }

  // Config load of the full 256 × 100 file: parse, schema, normalisation (what a reload pays first).
  const t0 = process.hrtime.bigint();
  syntheticTopology({ vips: TARGET_COLD_VIPS, reals: 100 });
  const configLoadMs = { vips: TARGET_COLD_VIPS, reals: 100, ms: msSince(t0) };
  rows.push(info(SECTION, `config load ${TARGET_COLD_VIPS} VIPs × 100 reals (YAML, schema, normalise)`, configLoadMs.ms, 'ms', 'one run; a reload pays it before the diff'));

  const size = quick ? { vips: 32, reals: 100 } : { vips: TARGET_COLD_VIPS, reals: 100 };
  const topo = syntheticTopology(size);
  const c = coldApply(topo, quick ? 1 : 3);
  const cold: ColdApply[] = [c];
  const estimate = c.perVipMs * TARGET_COLD_VIPS;
  if (size.vips === TARGET_COLD_VIPS) {
    rows.push({ ...atMost(SECTION, `cold apply ${size.vips} VIPs × ${size.reals} reals (65537-slot tables)`, summarise(c.runsMs), 'ms', TARGET_COLD_MS), note: describeBreakdown(c.breakdown) });
  } else {
    rows.push(info(SECTION, `cold apply ${size.vips} VIPs × ${size.reals} reals (65537-slot tables)`, summarise(c.runsMs), 'ms', describeBreakdown(c.breakdown)));
    rows.push({
      section: SECTION, case: `cold apply ${TARGET_COLD_VIPS} VIPs × 100 reals (estimate)`, value: estimate, unit: 'ms',
      ratio: estimate / TARGET_COLD_MS, ref: `target ≤ ${TARGET_COLD_MS} ms`, met: estimate <= TARGET_COLD_MS,
      note: `--quick: ${c.perVipMs.toFixed(1)} ms/VIP at ${size.vips}×100, × ${TARGET_COLD_VIPS}`,
    });
  }
  rows.push(info(SECTION, 'cold apply per VIP (Maglev build + table fill + swap + reals)', c.perVipMs, 'ms/VIP'));

  const rf = withScratchDataplane('reload', (dp) => reloadAndFlip(dp, topo, quick ? 3 : 9));
  rows.push(info(SECTION, `reload, one weight changed (${size.vips}×${size.reals} applied)`, summarise(rf.reload.runsMs), 'ms', describeBreakdown(rf.reload.breakdown)));
  rows.push({ ...atMost(SECTION, `health flip down, verdict → real out of new selection (${size.vips}×${size.reals} applied)`, summarise(rf.flip.outMs), 'ms', TARGET_FLIP_MS), note: 'one lb_reals write (Dataplane.takeOutOfSelection); the lb program probes past its slots until the rebuilt table lands' });
  rows.push(info(SECTION, `health flip down, verdict → Maglev table rebuilt and swapped (one service)`, summarise(rf.flip.runsMs), 'ms', describeBreakdown(rf.flip.breakdown)));
  rows.push(info(SECTION, `health flip up, verdict → real back in the table (one service)`, summarise(rf.flip.upMs), 'ms', 'a real enters selection only with the rebuilt table'));

  const mu = mapsBench.run(quick ? { entries: 20_000, batchSize: 5_000 } : {});
  rows.push(info(SECTION, `map update one by one (${mu.entries} entries)`, mu.oneByOneNsPerEntry, 'ns/entry'));
  rows.push({ section: SECTION, case: `map update batched by ${mu.batchSize}`, value: mu.batchNsPerEntry, unit: 'ns/entry', ratio: mu.ratio, ref: 'one-by-one / batched (same run)' });

  const res: ControlplaneResult = { rows, maglev, configLoadMs, cold, estimate256x100Ms: estimate, reload: rf.reload, flip: rf.flip, mapsUpdate: mu };
  if (opts.print) process.stdout.write(renderTable(rows) + '\n');
  return res;
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick'), print: true });
}
