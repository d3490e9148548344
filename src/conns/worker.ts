// The connection-table worker: a worker_threads thread that opens the pinned lb_conns map and
// walks it in bounded chunks (BPF_MAP_LOOKUP_BATCH), so the daemon's event loop never does.
// It answers two requests (protocol.ts): a census (counts per real and per VIP) and a listing
// (filtered rows, one chunk at a time, the next chunk read only when the main thread says the
// previous one was written out). Listings wait between chunks, so a census can run meanwhile.
import { parentPort, workerData } from 'node:worker_threads';
import { BpfMap, setThreadNice } from '../loader';
import { Tally } from './census';
import { matcherOf, FLOW_KEY_SIZE, CONN_VALUE_SIZE } from './filter';
import { rowLine } from './rows';
import type { FromWorker, ToWorker, WorkerData, ListSummary } from './protocol';
import type { ConnFilterSpec } from './filter';

const data = workerData as WorkerData;
const port = parentPort!;
const windowNs = BigInt(data.activeWindowNs);

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

function census(): void {
  const t0 = process.hrtime.bigint();
  const map = BpfMap.openPinned(data.mapPath);
  try {
    const tally = new Tally(process.hrtime.bigint(), windowNs);
    for (const c of map.lookupBatchChunks(data.chunk)) tally.add(c.values, c.count);
    post({ t: 'census', result: tally.result(Date.now(), Number(process.hrtime.bigint() - t0) / 1e6) });
  } finally {
    map.close();
  }
}

interface Listing {
  map: BpfMap;
  chunks: Generator<{ keys: Buffer; values: Buffer; count: number }>;
  match: ReturnType<typeof matcherOf>;
  reals: Map<number, string>;
  limit: number;
  summary: ListSummary;
}

const listings = new Map<number, Listing>();

function startList(id: number, filter: ConnFilterSpec, reals: Array<[number, string]>): void {
  const map = BpfMap.openPinned(data.mapPath);
  listings.set(id, {
    map, chunks: map.lookupBatchChunks(data.chunk), match: matcherOf(filter), reals: new Map(reals),
    limit: filter.limit ?? Infinity, summary: { scanned: 0, matched: 0, truncated: false },
  });
  next(id);
}

function finish(id: number): void {
  const l = listings.get(id);
  if (!l) return;
  listings.delete(id);
  l.chunks.return(undefined);
  l.map.close();
}

/** Reads chunks until one has matching rows (posted) or the table or the limit ends (end posted). */
function next(id: number): void {
  const l = listings.get(id);
  if (!l) return;
  const now = Number(process.hrtime.bigint());
  const realAddr = (rid: number) => l.reals.get(rid);
  for (;;) {
    if (l.summary.matched >= l.limit) {
      l.summary.truncated = true;
      break;
    }
    const it = l.chunks.next();
    if (it.done) break;
    const { keys, values, count } = it.value;
    let text = '';
    let n = 0;
    for (let i = 0; i < count && l.summary.matched < l.limit; i++) {
      l.summary.scanned++;
      if (!l.match(keys, i * FLOW_KEY_SIZE, values, i * CONN_VALUE_SIZE)) continue;
      text += rowLine(keys, i * FLOW_KEY_SIZE, values, i * CONN_VALUE_SIZE, now, realAddr);
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
      try { startList(m.id, m.filter, m.reals); } catch (e) { finish(m.id); post({ t: 'error', id: m.id, ...errorFields(e) }); }
      return;
    case 'more':
      try { next(m.id); } catch (e) { finish(m.id); post({ t: 'error', id: m.id, ...errorFields(e) }); }
      return;
    case 'cancel':
      finish(m.id);
      return;
  }
});
