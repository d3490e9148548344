// /metrics scrape cost at 256 VIPs × 100 reals, against a real Dataplane with that applied
// (scratch pin dir, never attached) and the real metrics server (src/metrics/server.ts) whose
// snapshot source is buildSnapshot (src/daemon/snapshot.ts), as in the daemon:
//  - buildSnapshot alone: topology × map read-back, per-CPU counters (one bpf() lookup per VIP
//    and per real); connection counts come from the census (src/conns, a worker thread; its
//    cost against a full table is in bench/conns.ts), here an empty one;
//  - GET /metrics over HTTP: snapshot + rendering every family + transfer.
// Scrapes are spaced past the scrape cache (250 ms in src/metrics/scrape.ts) so each one
// builds its snapshot. Loopback only (127.0.0.1, an ephemeral port). --quick: 32 × 100.
//
// Run: node dist/bench/scrape.js [--quick]   (root; make build first)
import * as http from 'node:http';
import type { Dataplane } from '../src/dataplane/dataplane';
import { buildSnapshot, SnapshotInputs } from '../src/daemon/snapshot';
import { emptyCounts } from '../src/conns/census';
import { startMetricsServer } from '../src/metrics/server';
import type { Topology } from '../src/config/model';
import { Row, info, atMost, renderTable } from './lib/report';
import { summarise, msSince, sleep } from './lib/stats';
import { syntheticTopology } from './lib/topo';
import { withScratchDataplaneAsync, directorFor } from './lib/scratch';

const SECTION = 'scrape';
/** Ours: well inside Prometheus's default scrape_timeout (10 s) at the largest supported site, with room for a busy director. */
const TARGET_SCRAPE_MS = 1000;
/** src/metrics/scrape.ts caches a snapshot 250 ms (+ margin). */
const SCRAPE_CACHE_MS = 260;

export interface ScrapeOptions { quick?: boolean; print?: boolean }

export interface ScrapeResult {
  rows: Row[];
  vips: number;
  reals: number;
  snapshotMs: number[];
  scrapeMs: number[];
  buildsPerScrape: number[];
  bytes: number;
  series: number;
}

function inputs(topo: Topology, dp: Dataplane): SnapshotInputs {
  return {
    topo, dp, verdicts: () => undefined, macs: new Map(), conns: emptyCounts(),
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
  const size = quick ? { vips: 32, reals: 100 } : { vips: 256, reals: 100 };
  const topo = syntheticTopology(size);
  const res = await withScratchDataplaneAsync('scrape', async (dp) => {
    directorFor(dp, topo).apply();
    const snapshotMs: number[] = [];
    const countersMs: number[] = [];
    const listRealsMs: number[] = [];
    for (let r = 0; r < runs; r++) {
      let t0 = process.hrtime.bigint();
      dp.stats.counters();
      countersMs.push(msSince(t0));
      t0 = process.hrtime.bigint();
      dp.reals.list();
      listRealsMs.push(msSince(t0));
      t0 = process.hrtime.bigint();
      const s = buildSnapshot(inputs(topo, dp));
      snapshotMs.push(msSince(t0));
      const n = s.services.reduce((a, x) => a + x.reals.filter((y) => y.id > 0).length, 0);
      if (n !== size.vips * size.reals) throw new Error(`snapshot: ${n} reals found in the maps, expected ${size.vips * size.reals}`);
    }
    let builds = 0;
    const server = await startMetricsServer('127.0.0.1:0', {
      snapshot: () => { builds++; return buildSnapshot(inputs(topo, dp)); },
      eventCounters: () => ({ reloads: { ok: 1, invalid: 0, failed: 0 }, vrrpTransitions: {}, vrrpAdvertsReceived: {}, vrrpAdvertsRejected: {}, healthFailures: [] }),
      version: 'bench',
    });
    const scrapeMs: number[] = [];
    const buildsPerScrape: number[] = [];
    let body = '';
    try {
      const port = server.address().port;
      await get(port, '/metrics'); // warm up
      for (let r = 0; r < runs; r++) {
        await sleep(SCRAPE_CACHE_MS);
        const b0 = builds;
        const g = await get(port, '/metrics');
        scrapeMs.push(g.ms);
        buildsPerScrape.push(builds - b0);
        body = g.body;
      }
    } finally {
      await server.close();
    }
    return { snapshotMs, countersMs, listRealsMs, scrapeMs, buildsPerScrape, body };
  });
  const series = res.body.split('\n').filter((l) => l && !l.startsWith('#')).length;
  // A scrape that lost the reals would be fast for the wrong reason.
  const realLines = res.body.split('\n').filter((l) => l.startsWith('xlvs_real_') && l.includes('10.128.')).length;
  if (realLines < size.vips * size.reals) throw new Error(`scrape: ${realLines} real series for ${size.vips * size.reals} reals`);

  const rows: Row[] = [
    info(SECTION, `buildSnapshot ${size.vips} × ${size.reals} (real maps, per-CPU counters)`, summarise(res.snapshotMs), 'ms', 'connection counts from the census (no walk)'),
    info(SECTION, `of which Dataplane.stats.counters() (per-CPU lookups for ${size.vips} VIPs + ${size.vips * size.reals} reals)`, summarise(res.countersMs), 'ms', 'it calls reals.list() too'),
    info(SECTION, 'of which Dataplane.reals.list()', summarise(res.listRealsMs), 'ms', 'buildSnapshot calls it twice (directly and in counters())'),
    atMost(SECTION, `GET /metrics ${size.vips} × ${size.reals} (snapshot + render + HTTP)`, summarise(res.scrapeMs), 'ms', TARGET_SCRAPE_MS,
      `${series} series, ${(res.body.length / 1e6).toFixed(1)} MB`),
    // One scrape should build one snapshot; src/metrics/scrape.ts caches it 250 ms from the
    // start of the build, so a build slower than that is repeated by later families.
    info(SECTION, 'snapshots built per scrape', summarise(res.buildsPerScrape), 'builds', 'expected 1'),
  ];
  if (opts.print) process.stdout.write(renderTable(rows) + '\n');
  return { rows, ...size, snapshotMs: res.snapshotMs, scrapeMs: res.scrapeMs, buildsPerScrape: res.buildsPerScrape, bytes: res.body.length, series };
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick'), print: true }).catch((e) => { console.error(e); process.exit(1); });
}
