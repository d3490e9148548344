// ConnTable: the daemon's side of the connection-table worker (worker.ts). Keeps the latest
// census (ConnCensus: reading it is O(reals)), schedules the next census `intervalMs` after the
// previous one finished (never two walks at once), and streams listings chunk by chunk: the
// worker reads the next chunk only after the consumer asked for more, i.e. after the previous
// rows were written out. Nothing here touches the map itself.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { XlvsError, ErrorCodes } from '../errors';
import { CensusResult, ConnCensus, ConnCounts, countsOf, emptyCounts } from './census';
import type { ConnFilterSpec } from './filter';
import type { FromWorker, ListSummary, ToWorker, WorkerData } from './protocol';

export interface ConnTableOptions {
  /** The data plane's pinDir: the flow tables and lb_real_load(_fix) are pinned there. */
  pinDir: string;
  /** Pause between the end of one census and the start of the next; 0 = no periodic census. Default 5000. */
  intervalMs?: number;
  /** Entries per batch read. Default 8192. */
  chunk?: number;
  /** Nice value of the worker thread; default 19 (walks yield the CPU to the event loop). */
  nice?: number;
  /** Told when a census fails after one that did not (the previous counts stay, their age grows). */
  onError?: (message: string) => void;
}

export interface ConnListing {
  /** Control-socket item lines, a chunk's worth each; ask for the next only once this one is written. */
  lines: AsyncIterable<Buffer>;
  /** Scanned / matched / stopped at the limit; complete once `lines` ended. */
  summary(): ListSummary;
}

interface Pending { resolve(m: FromWorker): void }

export class ConnTable implements ConnCensus {
  private worker: Worker | null = null;
  private counts: ConnCounts = emptyCounts();
  private timer: NodeJS.Timeout | null = null;
  private inCensus = false;
  /** The last census failed: further failures are not reported again until one succeeds. */
  private failing = false;
  private censusWaiters: Array<(r: ConnCounts) => void> = [];
  private readonly lists = new Map<number, { queue: FromWorker[]; wake: Pending | null }>();
  private nextId = 1;
  private closed = false;
  readonly intervalMs: number;

  constructor(private readonly opts: ConnTableOptions) {
    if (!opts || typeof opts.pinDir !== 'string' || !opts.pinDir) throw new XlvsError(ErrorCodes.USAGE, 'ConnTable: pinDir required');
    this.intervalMs = opts.intervalMs ?? 5000;
    if (this.intervalMs > 0) this.censusNow();
  }

  private spawn(): Worker {
    if (this.worker) return this.worker;
    const data: WorkerData = {
      pinDir: this.opts.pinDir, chunk: this.opts.chunk ?? 8192, nice: this.opts.nice ?? 19,
    };
    const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: data });
    w.unref();
    w.on('message', (m: FromWorker) => this.onMessage(m));
    const gone = (why: string) => {
      if (this.worker !== w) return;
      this.worker = null;
      this.inCensus = false;
      for (const [id, l] of this.lists) this.deliver(id, l, { t: 'error', id, message: `connection-table worker ${why}` });
      if (!this.closed) this.opts.onError?.(`connection-table worker ${why}`);
      this.flushCensusWaiters();
      this.schedule(); // the next census spawns a new worker
    };
    w.on('error', (e) => gone(`failed: ${e.message}`));
    w.on('exit', (code) => gone(`exited (${code})`));
    this.worker = w;
    return w;
  }

  private send(m: ToWorker): void {
    this.spawn().postMessage(m);
    this.updateRef();
  }

  /** The worker keeps the process alive only while a census or a listing waits on it. */
  private updateRef(): void {
    const w = this.worker;
    if (!w) return;
    if (this.inCensus || this.lists.size > 0) w.ref();
    else w.unref();
  }

  private onMessage(m: FromWorker): void {
    if (m.t === 'census' || m.t === 'census-error') {
      this.inCensus = false;
      if (m.t === 'census') {
        this.counts = countsOf(m.result as CensusResult);
        this.failing = false;
      } else if (!this.failing) {
        this.failing = true;
        this.opts.onError?.(`connection census: ${m.message} (the counts stay those of the last census; reported once until one succeeds)`);
      }
      this.flushCensusWaiters();
      this.schedule();
      this.updateRef();
      return;
    }
    const l = this.lists.get(m.id);
    if (l) this.deliver(m.id, l, m);
  }

  private deliver(_id: number, l: { queue: FromWorker[]; wake: Pending | null }, m: FromWorker): void {
    if (l.wake) { const w = l.wake; l.wake = null; w.resolve(m); } else l.queue.push(m);
  }

  private flushCensusWaiters(): void {
    const ws = this.censusWaiters;
    this.censusWaiters = [];
    for (const w of ws) w(this.counts);
  }

  private schedule(): void {
    if (this.closed || this.intervalMs <= 0 || this.timer) return;
    this.timer = setTimeout(() => { this.timer = null; this.censusNow(); }, this.intervalMs);
    this.timer.unref();
  }

  /** Starts a census unless one is running; resolves with the counts once it (or the running one) ends. */
  censusNow(): Promise<ConnCounts> {
    if (this.closed) return Promise.resolve(this.counts);
    const p = new Promise<ConnCounts>((resolve) => this.censusWaiters.push(resolve));
    if (!this.inCensus) {
      if (this.timer) { clearTimeout(this.timer); this.timer = null; }
      this.inCensus = true;
      this.send({ t: 'census' });
    }
    return p;
  }

  /** The latest census (empty, at: null, before the first one finished). */
  latest(): ConnCounts {
    return this.counts;
  }

  /** A listing of the entries `filter` matches; `reals` names the destination column. */
  list(filter: ConnFilterSpec, reals: Array<{ id: number; address: string; port?: number }>, pools: Array<{ vipId: number; addresses: string[] }> = []): ConnListing {
    if (this.closed) throw new XlvsError(ErrorCodes.CONTROL, 'connection table: closed');
    const id = this.nextId++;
    const l = { queue: [] as FromWorker[], wake: null as Pending | null };
    let summary: ListSummary = { scanned: 0, matched: 0, truncated: false };
    const take = (): Promise<FromWorker> => {
      const m = l.queue.shift();
      if (m) return Promise.resolve(m);
      return new Promise((resolve) => { l.wake = { resolve }; });
    };
    const self = this;
    async function* lines(): AsyncGenerator<Buffer> {
      self.lists.set(id, l);
      let done = false;
      try {
        self.send({ t: 'list', id, filter, reals: reals.map((r) => [r.id, r.address, r.port ?? 0]), pools: pools.map((p) => [p.vipId, p.addresses]) });
        for (;;) {
          const m = await take();
          if (m.t === 'rows') {
            yield Buffer.from(m.bytes);
            self.worker?.postMessage({ t: 'more', id } satisfies ToWorker);
          } else if (m.t === 'end') {
            summary = m.summary;
            done = true;
            return;
          } else if (m.t === 'error') {
            done = true;
            throw new XlvsError((m.code as XlvsError['code']) ?? ErrorCodes.CONTROL, `connection listing: ${m.message}`);
          }
        }
      } finally {
        self.lists.delete(id);
        if (!done) self.worker?.postMessage({ t: 'cancel', id } satisfies ToWorker);
        self.updateRef();
      }
    }
    return { lines: lines(), summary: () => summary };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    const w = this.worker;
    this.worker = null;
    for (const [id, l] of this.lists) this.deliver(id, l, { t: 'error', id, message: 'connection table closed' });
    this.flushCensusWaiters();
    if (w) await w.terminate();
  }
}
