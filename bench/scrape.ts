// /metrics scrape cost at 256 VIPs × 100 reals. Two parts:
//  - the whole scrape over HTTP from the real metrics server (src/metrics/server.ts) whose
//    snapshot source is buildSnapshot (src/daemon/snapshot.ts) over a topology of 256 × 100 and a
//    stand-in for the Dataplane that returns 25,600 reals with non-zero counters — the reals map
//    holds 4,095 ids (LB_MAX_REALS), so a real data plane of that size cannot exist;
//  - buildSnapshot against a real Dataplane with the largest size that fits applied (40 × 100),
//    which adds the per-CPU counter reads (one bpf() lookup per VIP and per real) and the
//    connection-table walk the daemon does at most once a second.
// Scrapes are spaced past the scrape cache (250 ms in src/metrics/scrape.ts) so each one
// builds its snapshot. Loopback only (127.0.0.1, an ephemeral port).
//
// Run: node dist/bench/scrape.js [--quick]   (root; make build first)
import * as http from 'node:http';
import type { Dataplane, Counters, RealState, VipState } from '../src/dataplane/dataplane';
import { buildSnapshot, summariseConnections, SnapshotInputs } from '../src/daemon/snapshot';
import { desiredState } from '../src/daemon/desired-from-model';
import { startMetricsServer } from '../src/metrics/server';
import { REASONS } from '../src/maps/lb';
import type { Topology } from '../src/config/model';
import type { StatusSnapshot } from '../src/daemon/status';
import { Row, info, atMost, renderTable } from './lib/report';
import { summarise, msSince, sleep } from './lib/stats';
import { syntheticTopology, benchMac } from './lib/topo';
import { withScratchDataplaneAsync, reconcilerFor } from './lib/scratch';

const SECTION = 'scrape';
/** Ours: a scrape of the largest supported site well inside Prometheus's default 10 s scrape timeout; 1 s leaves room for a 15 s interval on a busy director. */
const TARGET_SCRAPE_MS = 1000;
/** src/metrics/scrape.ts caches a snapshot this long (+ margin). */
const SCRAPE_CACHE_MS = 260;

export interface ScrapeOptions { quick?: boolean; print?: boolean }

export interface ScrapeResult {
  rows: Row[];
  synthetic: { vips: number; reals: number; snapshotMs: number[]; scrapeMs: number[]; bytes: number; series: number };
  real: { vips: number; reals: number; snapshotMs: number[]; connWalkMs: number[] };
}

/** A Dataplane stand-in holding what buildSnapshot reads, for sizes the maps cannot hold. */
function fakeDataplane(topo: Topology): Dataplane {
  const vips: VipState[] = topo.services.map((s, i) => ({
    key: s.key, id: i + 1, address: s.vip, port: s.port, protocol: s.protocol, method: s.method, scheduler: s.scheduler,
    persistenceTimeoutMs: 0, persistencePrefix: 32, tableSize: s.tableSize, onDown: s.onDown, sorryReal: 0,
  }));
  const reals: RealState[] = [];
  topo.services.forEach((s) => s.reals.forEach((r) => reals.push({
    id: reals.length + 1, vipKey: s.key, address: r.address, mac: benchMac(), nexthopMac: null, weight: r.weight, state: 'up', sorry: false,
  })));
  const traffic = (n: number) => ({ packets: BigInt(n * 1000 + 7), bytes: BigInt(n * 150_000 + 11), newFlows: BigInt(n * 10 + 3) });
  const counters = (): Counters => ({
    vips: vips.map((v) => ({ key: v.key, id: v.id, ...traffic(v.id) })),
    reals: reals.map((r) => ({ id: r.id, vipKey: r.vipKey, ...traffic(r.id) })),
    reasons: Object.fromEntries(REASONS.map((x, i) => [x, BigInt(i * 5)])) as Counters['reasons'],
  });
  return { listVips: () => vips, listReals: () => reals, counters } as unknown as Dataplane;
}

function inputs(topo: Topology, dp: Dataplane, conns = summariseConnections([])): SnapshotInputs {
  return {
    topo, dp, verdicts: new Map(), macs: new Map(), conns,
    health: () => ({ state: 'up', reason: 'bench', lastDurationMs: 1.5 }),
    vrrp: [], xdpMode: 'native', startedAt: Date.now(), adopted: false, configFile: '<bench>', events: [],
  };
}

function get(port: number, path: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        if (res.statusCode !== 200) reject(new Error(`GET ${path}: HTTP ${res.statusCode}`));
        else resolve({ ms: msSince(t0), body: Buffer.concat(chunks).toString() });
      });
    }).on('error', reject);
  });
}

export async function run(opts: ScrapeOptions = {}): Promise<ScrapeResult> {
  const quick = !!opts.quick;
  const runs = quick ? 3 : 7;
  const rows: Row[] = [];
  const size = { vips: 256, reals: 100 };
  const topo = syntheticTopology(size);
  const fake = fakeDataplane(topo);

  const snapshotMs: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    buildSnapshot(inputs(topo, fake));
    snapshotMs.push(msSince(t0));
  }

  const server = await startMetricsServer('127.0.0.1:0', {
    snapshot: (): StatusSnapshot => buildSnapshot(inputs(topo, fake)),
    eventCounters: () => ({ reloads: { ok: 1, invalid: 0, failed: 0 }, vrrpTransitions: {}, vrrpAdvertsReceived: {}, vrrpAdvertsRejected: {}, healthFailures: [] }),
    version: 'bench',
  });
  const scrapeMs: number[] = [];
  let body = '';
  try {
    const port = server.address().port;
    await get(port, '/metrics'); // warm up
    for (let r = 0; r < runs; r++) {
      await sleep(SCRAPE_CACHE_MS);
      const g = await get(port, '/metrics');
      scrapeMs.push(g.ms);
      body = g.body;
    }
  } finally {
    await server.close();
  }
  const series = body.split('\n').filter((l) => l && !l.startsWith('#')).length;
  // A scrape that lost the reals would be fast for the wrong reason.
  const realSeries = body.split('\n').filter((l) => l.startsWith('xlvs_real_') && l.includes('10.128.')).length;
  if (realSeries < size.vips * size.reals) throw new Error(`scrape: ${realSeries} real series for ${size.vips * size.reals} reals`);

  rows.push(info(SECTION, `buildSnapshot ${size.vips} × ${size.reals} (stand-in data plane)`, summarise(snapshotMs), 'ms'));
  rows.push(atMost(SECTION, `GET /metrics ${size.vips} × ${size.reals} (snapshot + render + HTTP)`, summarise(scrapeMs), 'ms', TARGET_SCRAPE_MS,
    `${series} series, ${(body.length / 1e6).toFixed(1)} MB`));

  // The real data plane at the largest size that fits.
  const realSize = quick ? { vips: 10, reals: 100 } : { vips: 40, reals: 100 };
  const rtopo = syntheticTopology(realSize);
  const real = await withScratchDataplaneAsync('scrape', async (dp) => {
    reconcilerFor(dp).reconciler.apply(desiredState(rtopo, new Map(), benchMac));
    const snap: number[] = [];
    const walk: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = process.hrtime.bigint();
      const conns = summariseConnections(dp.connections());
      walk.push(msSince(t0));
      t0 = process.hrtime.bigint();
      const s = buildSnapshot(inputs(rtopo, dp, conns));
      snap.push(msSince(t0));
      const n = s.services.reduce((a, x) => a + x.reals.filter((y) => y.id > 0).length, 0);
      if (n !== realSize.vips * realSize.reals) throw new Error(`snapshot: ${n} reals found in the maps, expected ${realSize.vips * realSize.reals}`);
    }
    return { snapshotMs: snap, connWalkMs: walk };
  });
  rows.push(info(SECTION, `buildSnapshot ${realSize.vips} × ${realSize.reals} (real maps, per-CPU counters)`, summarise(real.snapshotMs), 'ms'));
  rows.push(info(SECTION, 'connection-table walk (empty table, real maps)', summarise(real.connWalkMs), 'ms', 'daemon does it at most once a second'));

  const res: ScrapeResult = {
    rows,
    synthetic: { ...size, snapshotMs, scrapeMs, bytes: body.length, series },
    real: { ...realSize, ...real },
  };
  if (opts.print) process.stdout.write(renderTable(rows) + '\n');
  return res;
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick'), print: true }).catch((e) => { console.error(e); process.exit(1); });
}
