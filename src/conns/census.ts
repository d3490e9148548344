// The connection census: per-real and per-VIP counts of the live entries of the three flow
// tables (src/conns/tables.ts), split as IPVS does: ESTABLISHED is active (ActiveConn), every
// other state, UDP's included, inactive (InActConn). An expired entry is not a connection, and
// persistence templates in lb_new are not connections either: both are skipped.
//
// The census is also the corrector of the data plane's own per-real counts. The data plane keeps
// lb_real_load by atomic adds as it creates entries, moves them between states and deletes them,
// but an entry that expires or is LRU-evicted without another packet is never subtracted (no
// program runs then). After each walk the census writes lb_real_load_fix = exact − raw, so that
// load + fix, which lc/wlc scheduling, connection thresholds and `xlvs list` read, equals what the
// walk counted (see fixesFor for the bound on the error).
//
// This file is the pure core: tallying chunks of raw conn_value entries as BPF_MAP_LOOKUP_BATCH
// returns them, and computing the corrections. The walk runs in a worker thread
// (src/conns/worker.ts); the daemon reads the latest result through `ConnCensus`.
import { CONN_VALUE_SIZE, V_EXPIRES, V_REAL, V_STATE, V_VIP, CS_ESTABLISHED, CS_TEMPLATE, isExpired } from './tables';

/** [active, inactive] */
export type ConnPair = [number, number];

/** What a census found, as it crosses from the worker (plain arrays, no Map/bigint). */
export interface CensusResult {
  /** Live entries (not expired, templates left out), confirmed + unconfirmed. */
  total: number;
  /** Live entries of lb_conns + lb_conns6 / of lb_new. */
  confirmed: number;
  unconfirmed: number;
  /** Entries past their expiry still in a table (room taken until reused or evicted). */
  expired: number;
  byReal: Array<[id: number, active: number, inactive: number]>;
  byVip: Array<[id: number, active: number, inactive: number]>;
  /** Reals whose lb_real_load_fix the census wrote after the walk. */
  fixed: number;
  /** Date.now() when the walk finished. */
  at: number;
  /** Wall time of the walk (and of the correction after it). */
  walkMs: number;
}

/** The counts the daemon reads: latest census, as maps. */
export interface ConnCounts {
  total: number;
  confirmed: number;
  unconfirmed: number;
  expired: number;
  byReal: Map<number, ConnPair>;
  byVip: Map<number, ConnPair>;
  /** Date.now() of the census these counts come from; null before the first one. */
  at: number | null;
  /** How long that census walked the tables; null before the first one. */
  walkMs: number | null;
}

/** Where the daemon gets its connection counts. Reading is O(reals), never a table walk. */
export interface ConnCensus {
  latest(): ConnCounts;
  close(): Promise<void>;
}

export function emptyCounts(): ConnCounts {
  return { total: 0, confirmed: 0, unconfirmed: 0, expired: 0, byReal: new Map(), byVip: new Map(), at: null, walkMs: null };
}

export function countsOf(r: CensusResult): ConnCounts {
  const m = (xs: CensusResult['byReal']) => new Map(xs.map(([id, a, i]) => [id, [a, i] as ConnPair]));
  return {
    total: r.total, confirmed: r.confirmed, unconfirmed: r.unconfirmed, expired: r.expired,
    byReal: m(r.byReal), byVip: m(r.byVip), at: r.at, walkMs: r.walkMs,
  };
}

/** Running tally of one walk, per real id and per VIP id, of the entries live at second `now`. */
export class Tally {
  confirmed = 0;
  unconfirmed = 0;
  expired = 0;
  readonly real = new Map<number, ConnPair>();
  private readonly vip = new Map<number, ConnPair>();

  /** `now`: the data plane's clock (lb_config.now_s, CLOCK_MONOTONIC seconds) when the walk started. */
  constructor(private readonly now: number) {}

  /** Adds `count` conn_value entries laid out back to back in `values`, of a confirmed table or lb_new. */
  add(values: Buffer, count: number, confirmed: boolean): void {
    if (values.length < count * CONN_VALUE_SIZE) throw new Error(`census: ${values.length} value bytes for ${count} entries of ${CONN_VALUE_SIZE}`);
    const now = this.now;
    let realId = -1;
    let vipId = -1;
    let r: ConnPair = [0, 0];
    let v: ConnPair = [0, 0];
    let live = 0;
    for (let i = 0, o = 0; i < count; i++, o += CONN_VALUE_SIZE) {
      const st = values[o + V_STATE];
      if (st === CS_TEMPLATE) continue;
      if (isExpired(values.readUInt32LE(o + V_EXPIRES), now)) { this.expired++; continue; }
      const rid = values.readUInt32LE(o + V_REAL);
      const vid = values.readUInt16LE(o + V_VIP);
      if (rid !== realId) { realId = rid; r = pair(this.real, rid); }
      if (vid !== vipId) { vipId = vid; v = pair(this.vip, vid); }
      const k = st === CS_ESTABLISHED ? 0 : 1;
      r[k]++;
      v[k]++;
      live++;
    }
    if (confirmed) this.confirmed += live;
    else this.unconfirmed += live;
  }

  result(at: number, walkMs: number, fixed: number): CensusResult {
    const flat = (m: Map<number, ConnPair>) => [...m].map(([id, [a, i]]) => [id, a, i] as [number, number, number]);
    return {
      total: this.confirmed + this.unconfirmed, confirmed: this.confirmed, unconfirmed: this.unconfirmed, expired: this.expired,
      byReal: flat(this.real), byVip: flat(this.vip), fixed, at, walkMs,
    };
  }
}

function pair(m: Map<number, ConnPair>, id: number): ConnPair {
  let p = m.get(id);
  if (!p) m.set(id, (p = [0, 0]));
  return p;
}

/** struct real_load (24 bytes: s64 active@0, s64 inactive@8, u32 overloaded@16) and struct real_load_fix (16: active@0, inactive@8). */
export const REAL_LOAD_SIZE = 24;
export const REAL_LOAD_FIX_SIZE = 16;

/**
 * The lb_real_load_fix entries to write after a walk: for every real id the walk counted or whose
 * raw count or correction is nonzero, fix = exact − raw for active and inactive, so that the data
 * plane's load + fix is the walk's count. `load` and `fix` are the two ARRAYs as read after the
 * walk, entry `id` at id × size; `ids` of them. Only entries that change are returned (keys u32,
 * values struct real_load_fix, back to back, for one BPF_MAP_UPDATE_BATCH).
 *
 * The bound on the error. The walk is not a snapshot: it reads the tables over [t0, t1] and the
 * raw counts at t2 > t1. Afterwards load(t) + fix = exact + (load(t) − load(t2)): the data plane's
 * later changes are kept, and the count is off from the truth by what the walk got wrong about
 * the moment t2, i.e. for each real by at most the number of its entries that were created,
 * changed state (ESTABLISHED ↔ other), were deleted or expired between t0 and t2 (an entry
 * expiring in that interval was counted live; an entry created behind the walk's cursor was not
 * counted but is in load). Between censuses, entries that expire or are evicted without a packet
 * stay counted. Both errors are undone by the next census (every 5 s in the daemon). The
 * effective count is clamped at 0 by the data plane, so a transient negative is harmless.
 */
export function fixesFor(exact: ReadonlyMap<number, ConnPair>, load: Buffer, fix: Buffer, ids: number): { keys: Buffer; values: Buffer; count: number } {
  const keys: number[] = [];
  const vals: number[] = [];
  for (let id = 1; id < ids; id++) {
    const lo = id * REAL_LOAD_SIZE;
    const fo = id * REAL_LOAD_FIX_SIZE;
    const e = exact.get(id);
    // Most of the 65,536 ids are unused: skip them at once.
    if (!e && (load.readInt32LE(lo) | load.readInt32LE(lo + 4) | load.readInt32LE(lo + 8) | load.readInt32LE(lo + 12) |
      fix.readInt32LE(fo) | fix.readInt32LE(fo + 4) | fix.readInt32LE(fo + 8) | fix.readInt32LE(fo + 12)) === 0) continue;
    const wa = (e?.[0] ?? 0) - s64(load, lo);
    const wi = (e?.[1] ?? 0) - s64(load, lo + 8);
    if (wa === s64(fix, fo) && wi === s64(fix, fo + 8)) continue;
    keys.push(id);
    vals.push(wa, wi);
  }
  const kb = Buffer.alloc(keys.length * 4);
  const vb = Buffer.alloc(keys.length * REAL_LOAD_FIX_SIZE);
  keys.forEach((id, i) => {
    kb.writeUInt32LE(id, i * 4);
    putS64(vb, i * REAL_LOAD_FIX_SIZE, vals[2 * i]);
    putS64(vb, i * REAL_LOAD_FIX_SIZE + 8, vals[2 * i + 1]);
  });
  return { keys: kb, values: vb, count: keys.length };
}

/** An s64 as a number, without a BigInt (counts are far below 2^53). */
function s64(b: Buffer, at: number): number {
  return b.readInt32LE(at + 4) * 4294967296 + b.readUInt32LE(at);
}

function putS64(b: Buffer, at: number, x: number): void {
  const hi = Math.floor(x / 4294967296);
  b.writeInt32LE(hi, at + 4);
  b.writeUInt32LE(x - hi * 4294967296, at);
}
