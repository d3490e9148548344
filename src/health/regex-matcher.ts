// Regular-expression matching of HTTP check bodies off the daemon's thread. JavaScript's
// RegExp backtracks: `(a+)+$` against 29 bytes of "a" and a "!" runs for seconds, and on the
// main thread that would stop every timer, VRRP advert and map write for as long. So matches
// run in one long-lived worker thread (regex-worker.ts), one at a time; when a check's deadline
// passes while its match runs, the worker is terminated (V8 interrupts the running regexp) and
// a new one is started for the next match. The main thread never waits for a match.
//
// One worker, not one per check: starting a worker costs tens of milliseconds and a V8 isolate.
// The price is a queue: a match waits while another check's match runs, at most until that
// check's deadline. `onStart` lets the caller tell the two cases apart in its timeout reason.
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { XlvsError, ErrorCodes } from '../errors';

export interface MatchRequest { id: number; pattern: string; text: string }
export type MatchReply = { id: number; matched: boolean } | { id: number; error: string };

/** The compiled worker script beside this file (dist/src/health/regex-worker.js). */
export const REGEX_WORKER_FILE = path.join(__dirname, 'regex-worker.js');

/** Heap cap of the worker: a 1 MiB body (http-body.ts MAX_BODY_BYTES) and its matches fit well within. */
const WORKER_HEAP_MB = 64;

/** The match was abandoned because the caller's signal fired (its deadline passed). */
export class MatchAborted extends Error {}

interface Job {
  req: MatchRequest;
  signal: AbortSignal;
  onAbort: () => void;
  onStart?: () => void;
  resolve: (matched: boolean) => void;
  reject: (e: Error) => void;
}

export class RegexMatcher {
  private worker: Worker | null = null;
  private current: Job | null = null;
  private readonly queue: Job[] = [];
  private nextId = 1;
  /** Workers started so far (the first, plus one after each overrun or crash). */
  spawned = 0;
  /** Workers terminated because a match overran its caller's deadline. */
  overruns = 0;

  constructor(private readonly workerFile: string = REGEX_WORKER_FILE) {}

  /**
   * Whether `pattern` matches somewhere in `text`. Rejects with MatchAborted when `signal`
   * fires first (the worker is then replaced if it was running this match), and with an
   * XlvsError(E_HEALTH) when the pattern does not compile or the worker dies.
   * `onStart` runs when the match is handed to the worker (it may wait behind another).
   */
  match(pattern: string, text: string, signal: AbortSignal, onStart?: () => void): Promise<boolean> {
    if (signal.aborted) return Promise.reject(new MatchAborted('aborted before the match started'));
    return new Promise<boolean>((resolve, reject) => {
      const job: Job = { req: { id: this.nextId++, pattern, text }, signal, onStart, resolve, reject, onAbort: () => this.abort(job) };
      signal.addEventListener('abort', job.onAbort, { once: true });
      this.queue.push(job);
      this.pump();
    });
  }

  /** Starts the worker now, so the first match does not wait for it (about 0.1-0.2 s here). */
  warm(): void {
    this.ensureWorker();
  }

  /** Terminates the worker; pending matches fail. */
  async close(): Promise<void> {
    const w = this.worker;
    this.worker = null;
    const jobs = [...(this.current ? [this.current] : []), ...this.queue.splice(0)];
    this.current = null;
    for (const j of jobs) this.settle(j, new MatchAborted('matcher closed'));
    if (w) await w.terminate();
  }

  private pump(): void {
    if (this.current || !this.queue.length) return;
    const job = this.queue.shift()!;
    this.current = job;
    job.onStart?.();
    this.ensureWorker().postMessage(job.req);
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const w = new Worker(this.workerFile, { resourceLimits: { maxOldGenerationSizeMb: WORKER_HEAP_MB } });
    this.spawned++;
    w.unref(); // an idle matcher does not keep the process alive
    w.on('message', (m: MatchReply) => {
      if (w !== this.worker || !this.current || this.current.req.id !== m.id) return;
      const job = this.current;
      this.current = null;
      if ('error' in m) this.settle(job, new XlvsError(ErrorCodes.HEALTH, `regex ${JSON.stringify(job.req.pattern)}: ${m.error}`));
      else this.settle(job, m.matched);
      this.pump();
    });
    const lost = (why: string) => {
      if (w !== this.worker) return; // terminated on purpose
      this.worker = null;
      const job = this.current;
      this.current = null;
      if (job) this.settle(job, new XlvsError(ErrorCodes.HEALTH, `regex worker ${why}`));
      this.pump();
    };
    w.on('error', (e) => lost(`failed: ${e.message}`));
    w.on('exit', (code) => lost(`exited with code ${code}`));
    this.worker = w;
    return w;
  }

  private abort(job: Job): void {
    if (job === this.current) {
      // The running match overran: drop the worker with it, the next match gets a new one.
      const w = this.worker;
      this.worker = null;
      this.current = null;
      this.overruns++;
      if (w) void w.terminate();
      this.ensureWorker(); // the replacement starts now, not on the next match's time
    } else {
      const i = this.queue.indexOf(job);
      if (i >= 0) this.queue.splice(i, 1);
    }
    this.settle(job, new MatchAborted('deadline passed'));
    this.pump();
  }

  private settle(job: Job, outcome: boolean | Error): void {
    job.signal.removeEventListener('abort', job.onAbort);
    if (outcome instanceof Error) job.reject(outcome);
    else job.resolve(outcome);
  }
}

let shared: RegexMatcher | null = null;

/** The process's matcher, started on first use. */
export function sharedRegexMatcher(): RegexMatcher {
  if (!shared) shared = new RegexMatcher();
  return shared;
}
