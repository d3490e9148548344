// The connection table at scale (issue 12): what a full table costs the daemon's event loop.
//  - GET /metrics at 256 VIPs × 100 reals with 1,000,000 flows in lb_conns, against the same
//    with an empty table, in one run. Table counts come from the census (src/conns, a worker
//    thread), per-real counts from the data plane's lb_real_load + fix (two batch reads); each
//    full-table scrape is taken while a census is walking the tables, the worst case for
//    contention. Target: ≤ 1 s, and no slower than empty beyond noise.
//  - The census walk itself (worker thread, BPF_MAP_LOOKUP_BATCH chunks of the three flow tables,
//    then the correction of lb_real_load_fix).
//  - A full listing of the 1,000,000 flows through the streaming path: the control socket served
//    here with the daemon's handler (src/conns/reply.ts), read first by a raw client that only
//    counts lines (the daemon side's cost), then by the real CLI (`xlvs list --conns`, output to
//    /dev/null), as an operator gets it. Wall time, the daemon side's RSS before and at its peak
//    and its largest event-loop gap while streaming, and the CLI's peak RSS.
// Flows are a real SYN and ACK each through the lb program (bench/lib/fill-flows.ts): confirmed,
// ESTABLISHED entries in lb_conns, spread over 16 VIPs.
// --quick: 32 × 100 and 200,000 flows.
//
// Run: node dist/bench/conns.js [--quick]   (root; make build first)
import * as fs from 'node:fs';
import * as http from 'node:http';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFile } from 'node:child_process';
import type { Server } from 'node:net';
import type { Dataplane } from '../src/dataplane/dataplane';
import { buildSnapshot, SnapshotInputs } from '../src/daemon/snapshot';
import { startMetricsServer } from '../src/metrics/server';
import { ControlRequest } from '../src/control/protocol';
import { serveControl } from '../src/control/server';
import { ConnTable } from '../src/conns/table';
import { connsReply } from '../src/conns/reply';
import type { ConnCounts } from '../src/conns/census';
import type { Topology } from '../src/config/model';
import { repoRoot } from '../src/paths';
import { Row, info, atMost, renderTable } from './lib/report';
import { summarise, msSince, sleep } from './lib/stats';
import { syntheticTopology, vipAddress } from './lib/topo';
import { withScratchDataplaneAsync, directorFor } from './lib/scratch';
import { fillFlows } from './lib/fill-flows';
import { countListedItems } from './lib/raw-listing';

const SECTION = 'conns';
const TARGET_SCRAPE_MS = 1000;
/** src/metrics/scrape.ts caches a snapshot 250 ms (+ margin). */
const SCRAPE_CACHE_MS = 260;
const FILL_VIPS = 16;
/** bench/lib/scratch.ts creates its data plane with this MAC. */
const SCRATCH_MAC = '02:00:00:00:00:fe';

export interface ConnsOptions { quick?: boolean; print?: boolean }

function inputs(topo: Topology, dp: Dataplane, conns: ConnCounts): SnapshotInputs {
  return {
    topo, dp, verdicts: () => undefined, macs: new Map(), conns,
    health: () => ({ state: 'up', reason: 'bench', lastDurationMs: 1.5 }),
    vrrp: [], xdpMode: 'native', startedAt: Date.now(), adopted: false, configFile: '<bench>', events: [],
  };
}

function get(port: number, p: string): Promise<{ ms: number; body: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    http.get({ host: '127.0.0.1', port, path: p, agent: false }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => (res.statusCode !== 200 ? reject(new Error(`GET ${p}: HTTP ${res.statusCode}`)) : resolve({ ms: msSince(t0), body: Buffer.concat(chunks).toString() })));
    }).on('error', reject);
  });
}

/** Largest gap between 5 ms timer ticks while `fn` runs, its result, and the RSS before and at its peak. */
async function withGapMeter<T>(fn: () => Promise<T>): Promise<{ value: T; maxGapMs: number; peakRssGrowthMb: number; rssBeforeMb: number; rssPeakMb: number }> {
  let last = performance.now();
  let maxGap = 0;
  const rss0 = process.memoryUsage().rss;
  let peak = rss0;
  const t = setInterval(() => {
    const now = performance.now();
    maxGap = Math.max(maxGap, now - last);
    last = now;
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 5);
  try {
    const value = await fn();
    return { value, maxGapMs: maxGap, peakRssGrowthMb: (peak - rss0) / 1e6, rssBeforeMb: rss0 / 1e6, rssPeakMb: peak / 1e6 };
  } finally {
    clearInterval(t);
  }
}

/** `xlvs list --conns` as a child, stdout to /dev/null; its wall time and peak RSS (GNU time). */
function cliListing(sock: string): Promise<{ ms: number; maxRssMb: number; stderr: string }> {
  return new Promise((resolve, reject) => {
    const t0 = process.hrtime.bigint();
    const cmd = `/usr/bin/time -f 'maxrss_kb=%M' ${process.execPath} ${path.join(repoRoot(), 'bin', 'xlvs.js')} list --conns --socket ${sock} > /dev/null`;
    execFile('sh', ['-c', cmd], { maxBuffer: 1 << 20 }, (err, _out, stderr) => {
      if (err) return reject(new Error(`xlvs list --conns: ${err.message}\n${stderr}`));
      const kb = Number(/maxrss_kb=(\d+)/.exec(stderr)?.[1] ?? NaN);
      resolve({ ms: msSince(t0), maxRssMb: kb / 1024, stderr });
    });
  });
}

export async function run(opts: ConnsOptions = {}): Promise<{ rows: Row[]; raw: Record<string, unknown> }> {
  const quick = !!opts.quick;
  const runs = quick ? 3 : 7;
  const flows = quick ? 200_000 : 1_000_000;
  const size = quick ? { vips: 32, reals: 100 } : { vips: 256, reals: 100 };
  const topo = syntheticTopology(size);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-bench-conns-'));
  try {
    const raw = await withScratchDataplaneAsync('conns', async (dp) => {
      directorFor(dp, topo).apply();
      dp.flows.tickClock();
      // As the daemon's, but no periodic census: the scrapes below start one each when they
      // measure contention with a walk, and none otherwise.
      const table = new ConnTable({ pinDir: dp.pinDir, intervalMs: 0 });
      let server: Awaited<ReturnType<typeof startMetricsServer>> | null = null;
      let control: Server | null = null;
      try {
        server = await startMetricsServer('127.0.0.1:0', {
          snapshot: () => buildSnapshot(inputs(topo, dp, table.latest())),
          eventCounters: () => ({ reloads: { ok: 1, invalid: 0, failed: 0 }, vrrpTransitions: {}, vrrpAdvertsReceived: {}, vrrpAdvertsRejected: {}, healthFailures: [] }),
          version: 'bench',
        });
        const port = server.address().port;
        const scrapes = async (duringCensus: boolean): Promise<{ ms: number[]; gap: number[]; body: string }> => {
          await get(port, '/metrics'); // warm up
          const ms: number[] = [];
          const gap: number[] = [];
          let body = '';
          for (let r = 0; r < runs; r++) {
            await sleep(SCRAPE_CACHE_MS);
            const census = duringCensus ? table.censusNow() : Promise.resolve(null);
        if (duringCensus) await sleep(20); // the walk is under way when the scrape starts
            const g = await withGapMeter(() => get(port, '/metrics'));
            await census;
            ms.push(g.value.ms);
            gap.push(g.maxGapMs);
            body = g.value.body;
          }
          return { ms, gap, body };
        };

        await table.censusNow();
        const empty = await scrapes(false);
        process.stdout.write(`conns: filling ${flows} flows over ${FILL_VIPS} VIPs…\n`);
        const fillT0 = process.hrtime.bigint();
        for (let v = 0; v < FILL_VIPS; v++) {
          const n = Math.floor(flows / FILL_VIPS) + (v < flows % FILL_VIPS ? 1 : 0);
          fillFlows({ prog: dp.program, dirMac: SCRATCH_MAC, vip: vipAddress(v), vipPort: 80, count: n, srcBase: '100.64.0.0' });
        }
        const fillMs = msSince(fillT0);
        const censusMs: number[] = [];
        for (let r = 0; r < runs; r++) censusMs.push((await table.censusNow()).walkMs ?? NaN);
        const inTable = table.latest().total;
        const still = await scrapes(false);
        const full = await scrapes(true);
        const m = /xlvs_conntrack_entries\{table="confirmed"\} (\d+)/.exec(full.body);
        if (!m || Number(m[1]) < flows * 0.99) throw new Error(`scrape with a full table reports ${m?.[1]} entries, ${flows} filled`);

        const sock = path.join(dir, 'control.sock');
        control = await serveControl(sock, (req: ControlRequest) => connsReply(table, req, dp.reals.list()));
        const raw = await withGapMeter(() => countListedItems(sock));
        if (raw.value.items !== inTable) throw new Error(`raw listing: ${raw.value.items} items, ${inTable} in the table`);
        const listing = await withGapMeter(() => cliListing(sock));
        return {
          stillMs: still.ms, stillGap: still.gap, rawListMs: raw.value.ms, rawGapMs: raw.maxGapMs, rawRssBeforeMb: raw.rssBeforeMb, rawRssPeakMb: raw.rssPeakMb,
          listRssBeforeMb: listing.rssBeforeMb, listRssPeakMb: listing.rssPeakMb,
          fillMs, inTable, censusMs, emptyMs: empty.ms, fullMs: full.ms, emptyGap: empty.gap, fullGap: full.gap,
          listMs: listing.value.ms, cliMaxRssMb: listing.value.maxRssMb, daemonRssGrowthMb: listing.peakRssGrowthMb, listGapMs: listing.maxGapMs,
        };
      } finally {
        await new Promise<void>((r) => (control ? control.close(() => r()) : r()));
        await server?.close();
        await table.close();
      }
    });
    const full = summarise(raw.fullMs);
    const still = summarise(raw.stillMs);
    const empty = summarise(raw.emptyMs);
    const label = `${size.vips} × ${size.reals}`;
    const rows: Row[] = [
      info(SECTION, `fill: ${flows.toLocaleString('en-US')} flows (SYN + ACK) through the lb program (BPF_PROG_TEST_RUN)`, raw.fillMs / 1000, 's', `${(raw.fillMs * 1000 / flows).toFixed(1)} µs/flow; ${raw.inTable.toLocaleString('en-US')} in the table`),
      info(SECTION, `census walk of ${raw.inTable.toLocaleString('en-US')} entries (worker thread)`, summarise(raw.censusMs), 'ms', 'BPF_MAP_LOOKUP_BATCH, 8192 per call, three tables, then lb_real_load_fix'),
      info(SECTION, `GET /metrics ${label}, empty table`, empty, 'ms'),
      { ...atMost(SECTION, `GET /metrics ${label}, ${flows.toLocaleString('en-US')} flows, census walking meanwhile`, full, 'ms', TARGET_SCRAPE_MS), note: `${(full.median / empty.median).toFixed(2)}× the empty table (same run)` },
      { ...atMost(SECTION, `GET /metrics ${label}, ${flows.toLocaleString('en-US')} flows, no census running`, still, 'ms', TARGET_SCRAPE_MS), note: `${(still.median / empty.median).toFixed(2)}× the empty table (same run)` },
      info(SECTION, 'largest event-loop gap during a full-table scrape', summarise(raw.fullGap), 'ms', `empty table: ${summarise(raw.emptyGap).median.toFixed(0)} ms (the scrape's own snapshot and rendering)`),
      info(SECTION, `stream ${raw.inTable.toLocaleString('en-US')} entries to a raw client (no parsing)`, raw.rawListMs / 1000, 's',
        `daemon side: RSS ${raw.rawRssBeforeMb.toFixed(0)} → peak ${raw.rawRssPeakMb.toFixed(0)} MB, largest event-loop gap ${raw.rawGapMs.toFixed(0)} ms`),
      info(SECTION, `xlvs list --conns, ${raw.inTable.toLocaleString('en-US')} entries (CLI → /dev/null)`, raw.listMs / 1000, 's',
        `CLI peak RSS ${raw.cliMaxRssMb.toFixed(0)} MB; daemon side: RSS ${raw.listRssBeforeMb.toFixed(0)} → peak ${raw.listRssPeakMb.toFixed(0)} MB, largest event-loop gap ${raw.listGapMs.toFixed(0)} ms`),
    ];
    if (opts.print) process.stdout.write(renderTable(rows) + '\n');
    return { rows, raw: { ...raw, flows, ...size } };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

if (require.main === module) {
  run({ quick: process.argv.includes('--quick'), print: true }).catch((e) => { console.error(e); process.exit(1); });
}
