// The connection census: per-real and per-VIP counts of connection-table entries, split into
// active (a packet within the active window) and inactive, ipvsadm's ActiveConn / InActConn. We
// keep no TCP state, so recency stands in for ESTABLISHED.
//
// This file is the pure core: tallying chunks of raw lb_conns values (struct conn_value,
// bpf/include/lb_shared.h) as BPF_MAP_LOOKUP_BATCH returns them. The walk runs in a worker
// thread (src/conns/worker.ts); the daemon only reads the latest result through `ConnCensus`.
// A data plane that keeps its own active/inactive counters can replace the census behind that
// interface.

/** A flow counts as active when it saw a packet this recently. */
export const ACTIVE_WINDOW_NS = 60_000_000_000n;

/** struct conn_value: real_id@0 (u32), vip_id@4 (u32), last_seen_ns@8 (u64); 16 bytes. */
const CONN_VALUE_SIZE = 16;

/** [active, inactive] */
export type ConnPair = [number, number];

/** What a census found, as it crosses from the worker (plain arrays, no Map/bigint). */
export interface CensusResult {
  total: number;
  byReal: Array<[id: number, active: number, inactive: number]>;
  byVip: Array<[id: number, active: number, inactive: number]>;
  /** Date.now() when the walk finished. */
  at: number;
  /** Wall time of the walk. */
  walkMs: number;
}

/** The counts the daemon reads: latest census, as maps. */
export interface ConnCounts {
  total: number;
  byReal: Map<number, ConnPair>;
  byVip: Map<number, ConnPair>;
  /** Date.now() of the census these counts come from; null before the first one. */
  at: number | null;
  /** How long that census walked the table; null before the first one. */
  walkMs: number | null;
}

/** Where the daemon gets its connection counts. Reading is O(reals), never a table walk. */
export interface ConnCensus {
  latest(): ConnCounts;
  close(): Promise<void>;
}

export function emptyCounts(): ConnCounts {
  return { total: 0, byReal: new Map(), byVip: new Map(), at: null, walkMs: null };
}

export function countsOf(r: CensusResult): ConnCounts {
  const m = (xs: CensusResult['byReal']) => new Map(xs.map(([id, a, i]) => [id, [a, i] as ConnPair]));
  return { total: r.total, byReal: m(r.byReal), byVip: m(r.byVip), at: r.at, walkMs: r.walkMs };
}

/** Running tally of one walk, per real id and per VIP id. */
export class Tally {
  total = 0;
  private readonly real = new Map<number, ConnPair>();
  private readonly vip = new Map<number, ConnPair>();

  /** Entries last seen at or after this (ns, as a double: see rows.ts u64) are active. */
  private readonly cut: number;

  constructor(nowNs: bigint, windowNs: bigint = ACTIVE_WINDOW_NS) {
    this.cut = Number(nowNs - windowNs);
  }

  /** Adds `count` conn_value entries laid out back to back in `values`. */
  add(values: Buffer, count: number): void {
    if (values.length < count * CONN_VALUE_SIZE) throw new Error(`census: ${values.length} value bytes for ${count} entries of ${CONN_VALUE_SIZE}`);
    const cut = this.cut;
    let realId = -1;
    let vipId = -1;
    let r: ConnPair = [0, 0];
    let v: ConnPair = [0, 0];
    for (let i = 0, o = 0; i < count; i++, o += CONN_VALUE_SIZE) {
      const rid = values.readUInt32LE(o);
      const vid = values.readUInt32LE(o + 4);
      if (rid !== realId) { realId = rid; r = pair(this.real, rid); }
      if (vid !== vipId) { vipId = vid; v = pair(this.vip, vid); }
      // u64 last_seen_ns as a double, no BigInt per entry (exact to a few ns: ms matter here).
      const k = values.readUInt32LE(o + 12) * 4294967296 + values.readUInt32LE(o + 8) >= cut ? 0 : 1;
      r[k]++;
      v[k]++;
    }
    this.total += count;
  }

  result(at: number, walkMs: number): CensusResult {
    const flat = (m: Map<number, ConnPair>) => [...m].map(([id, [a, i]]) => [id, a, i] as [number, number, number]);
    return { total: this.total, byReal: flat(this.real), byVip: flat(this.vip), at, walkMs };
  }
}

function pair(m: Map<number, ConnPair>, id: number): ConnPair {
  let p = m.get(id);
  if (!p) m.set(id, (p = [0, 0]));
  return p;
}
