// Messages between the daemon's main thread (src/conns/table.ts) and the connection-table
// worker (src/conns/worker.ts). Structured-clone safe: no bigint, no Map.
import type { CensusResult } from './census';
import type { ConnFilterSpec } from './filter';

export interface WorkerData {
  /** The data plane's pinDir: lb_conns, lb_conns6, lb_new, lb_cfg (the clock), lb_real_load(_fix) are
   *  pinned there (reopened for every walk: a restarted daemon may re-pin them). */
  pinDir: string;
  /** Entries per BPF_MAP_LOOKUP_BATCH call. */
  chunk: number;
  /** Nice value of the worker thread (default in ConnTable: 19). */
  nice?: number;
}

export type ToWorker =
  | { t: 'census' }
  | { t: 'list'; id: number; filter: ConnFilterSpec; reals: Array<[number, string, number]>; pools?: Array<[number, string[]]> }
  /** The previous rows of listing `id` were written out: read the next chunk. */
  | { t: 'more'; id: number }
  | { t: 'cancel'; id: number };

export interface ListSummary { scanned: number; matched: number; truncated: boolean }

export type FromWorker =
  | { t: 'census'; result: CensusResult }
  | { t: 'census-error'; message: string; code?: string }
  /**
   * Rows of listing `id`, already serialised as control-socket item lines (`{"item":…}\n`, ASCII),
   * in an ArrayBuffer transferred to the main thread: no copy and no string on its heap.
   */
  | { t: 'rows'; id: number; bytes: ArrayBuffer; n: number }
  | { t: 'end'; id: number; summary: ListSummary }
  | { t: 'error'; id: number; message: string; code?: string };
