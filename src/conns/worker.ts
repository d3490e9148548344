// The connection-table worker: a worker_threads thread that opens the pinned flow tables
// (lb_conns, lb_conns6, lb_new: src/conns/tables.ts) and walks them in bounded chunks
// (BPF_MAP_LOOKUP_BATCH), so the daemon's event loop never does. It answers two requests
// (protocol.ts): a census (counts per real and per VIP, then the correction of the data plane's
// per-real counts, lb_real_load_fix, of which it is the only writer) and a listing (filtered rows,
// one chunk at a time, the next chunk read only when the main thread says the previous one was
// written out). Listings wait between chunks, so a census can run meanwhile.
import * as path from 'node:path';
import { parentPort, workerData } from 'node:worker_threads';
import { BpfMap, setThreadNice } from '../loader';
import { monotonicSeconds } from '../dataplane/flows';
import { lbConfig } from '../maps/lb';
import { Tally, fixesFor, REAL_LOAD_SIZE, REAL_LOAD_FIX_SIZE } from './census';
import { matcherOf, ConnMatcher } from './filter';
import { rowLine, RowNames } from './rows';
import { FLOW_TABLES, FlowTable, CONN_VALUE_SIZE, liveConn, flowChunks } from './tables';
import type { FromWorker, ToWorker, WorkerData, ListSummary } from './protocol';
import type { ConnFilterSpec } from './filter';

const data = workerData as WorkerData;
const port = parentPort!;
const pinned = (name: string) => BpfMap.openPinned(path.join(data.pinDir, name));

// Walks are background work: at nice 19 this thread takes a CPU only when the event loop (and
// the VRRP thread) do not want it. Best effort: without the right to, it runs at the process's nice.
if (data.nice !== undefined) {
  try { setThreadNice(data.nice); } catch { /* keep the inherited priority */ }
}

function post(m: FromWorker): void {
  port.postMessage(m);
}

function errorFields(e: unknown): { message: string; code?: string } {
  const err = e as Error & { code?: string };
  return { message: err?.message ?? String(e), code: typeof err?.code === 'string' ? err.code : undefined };
}

/** The second entries expire by, as the data plane reads it (lb_config.now_s; while nobody writes it, the kernel's monotonic clock). */
function dataplaneNow(): number {
  const m = pinned('lb_cfg');
  try {
    const v = m.lookup(Buffer.alloc(4));
    const t = v ? lbConfig.decode(v).nowS : 0;
    return t !== 0 ? t : monotonicSeconds() >>> 0;
  } finally {
    m.close();
  }
}

/** A whole ARRAY map (ids 0..max_entries-1 in order) into one buffer of `size`-byte entries. */
function readArray(m: BpfMap, size: number): { buf: Buffer; n: number } {
  const parts: Buffer[] = [];
  let n = 0;
  for (const c of m.lookupBatchChunks(data.chunk)) { parts.push(c.values); n += c.count; }
  const buf = Buffer.concat(parts);
  if (buf.length !== n * size) throw new Error(`census: ${m.name}: ${buf.length} bytes for ${n} entries of ${size}`);
  return { buf, n };
}

function census(): void {
  const t0 = process.hrtime.bigint();
  const maps = FLOW_TABLES.map((t) => pinned(t.map));
  try {
    const tally = new Tally(dataplaneNow());
    FLOW_TABLES.forEach((t, i) => {
      for (const c of flowChunks(maps[i], t, data.chunk)) tally.add(c.values, c.count, t.confirmed);
    });
    const fixed = reconcile(tally);
    post({ t: 'census', result: tally.result(Date.now(), Number(process.hrtime.bigint() - t0) / 1e6, fixed) });
  } finally {
    for (const m of maps) m.close();
  }
}

/**
 * lb_real_load_fix = exact − lb_real_load for every real the walk counted or the data plane
 * counts (census.ts, fixesFor, says how far off that can be). Two batch reads of the ARRAYs and
 * one batch write of the changed entries; returns how many were written.
 */
function reconcile(tally: Tally): number {
  const load = pinned('lb_real_load');
  const fix = pinned('lb_real_load_fix');
  try {
    const l = readArray(load, REAL_LOAD_SIZE);
    const f = readArray(fix, REAL_LOAD_FIX_SIZE);
    const w = fixesFor(tally.real, l.buf, f.buf, Math.min(l.n, f.n));
    if (w.count > 0) fix.updateBatchRaw(w.keys, w.values);
    return w.count;
  } finally {
    load.close();
    fix.close();
  }
}

interface Listing {
  /** Index in FLOW_TABLES of the table being walked, its map and chunks (null once done with it). */
  table: number;
  map: BpfMap | null;
  chunks: Generator<{ keys: Buffer; values: Buffer; count: number }> | null;
  filter: ConnFilterSpec;
  match: ConnMatcher;
  names: RowNames;
  limit: number;
  summary: ListSummary;
}

const listings = new Map<number, Listing>();

/** Opens table `i` of a listing (the previous one closed). */
function openTable(l: Listing, i: number): void {
  closeTable(l);
  l.table = i;
  if (i >= FLOW_TABLES.length) return;
  l.map = pinned(FLOW_TABLES[i].map);
  l.chunks = flowChunks(l.map, FLOW_TABLES[i], data.chunk);
  l.match = matcherOf(l.filter, FLOW_TABLES[i].key);
}

function closeTable(l: Listing): void {
  l.chunks?.return(undefined);
  l.map?.close();
  l.chunks = null;
  l.map = null;
}

function startList(id: number, filter: ConnFilterSpec, reals: Array<[number, string, number]>, pools: Array<[number, string[]]> = []): void {
  const byId = new Map(reals.map(([rid, address, port]) => [rid, { address, port }]));
  const poolOf = new Map(pools);
  const names: RowNames = { real: (rid) => byId.get(rid), pool: (vipId, ix) => poolOf.get(vipId)?.[ix - 1] };
  const l: Listing = {
    table: 0, map: null, chunks: null, filter, match: () => false, names,
    limit: filter.limit ?? Infinity, summary: { scanned: 0, matched: 0, truncated: false },
  };
  listings.set(id, l);
  openTable(l, 0);
  next(id);
}

function finish(id: number): void {
  const l = listings.get(id);
  if (!l) return;
  listings.delete(id);
  closeTable(l);
}

/**
 * Reads chunks until one has matching rows (posted) or the tables or the limit end (end posted).
 * Expired entries and persistence templates are not connections: read (scanned), never listed.
 */
function next(id: number): void {
  const l = listings.get(id);
  if (!l) return;
  const now = dataplaneNow();
  for (;;) {
    if (l.summary.matched >= l.limit) {
      l.summary.truncated = true;
      break;
    }
    if (!l.chunks) break;
    const it = l.chunks.next();
    if (it.done) { openTable(l, l.table + 1); continue; }
    const t: FlowTable = FLOW_TABLES[l.table];
    const ks = t.key.size;
    const { keys, values, count } = it.value;
    let text = '';
    let n = 0;
    for (let i = 0; i < count && l.summary.matched < l.limit; i++) {
      l.summary.scanned++;
      const ko = i * ks;
      const vo = i * CONN_VALUE_SIZE;
      if (!liveConn(values, vo, now) || !l.match(keys, ko, values, vo)) continue;
      text += rowLine(t.key, t.confirmed, keys, ko, values, vo, now, l.names);
      n++;
      l.summary.matched++;
    }
    if (n > 0) {
      // Its own ArrayBuffer (never the shared pool of small Buffers), handed over, not copied.
      const bytes = Buffer.allocUnsafeSlow(text.length);
      bytes.write(text, 'latin1');
      port.postMessage({ t: 'rows', id, bytes: bytes.buffer, n } satisfies FromWorker, [bytes.buffer as ArrayBuffer]);
      return;
    }
  }
  const summary = l.summary;
  finish(id);
  post({ t: 'end', id, summary });
}

port.on('message', (m: ToWorker) => {
  switch (m.t) {
    case 'census':
      try { census(); } catch (e) { post({ t: 'census-error', ...errorFields(e) }); }
      return;
    case 'list':
      try { startList(m.id, m.filter, m.reals, m.pools); } catch (e) { finish(m.id); post({ t: 'error', id: m.id, ...errorFields(e) }); }
      return;
    case 'more':
      try { next(m.id); } catch (e) { finish(m.id); post({ t: 'error', id: m.id, ...errorFields(e) }); }
      return;
    case 'cancel':
      finish(m.id);
      return;
  }
});
