// The flow side of the maps: the clock flow entries expire by (lb_config.now_s), the flow tables (a
// whole walk, for tests: the daemon counts and lists connections off its main thread, src/conns),
// the per-real connection counts and persistence templates.
import {
  CONN_STATES, LB, connValue as connValueCodec, conn4Key as conn4KeyCodec, flowKey as flowKeyCodec,
  persistKey as persistKeyCodec, persistValue as persistValueCodec, realLoad as realLoadCodec,
  realLoadFix as realLoadFixCodec, lbFlowStats as lbFlowStatsCodec, LbFlowStats, ConnValue, lbConfig as lbConfigCodec,
} from '../maps/lb';
import { VipRef, formatAddr, AF4, AF6 } from './spec';
import { parseAddr } from './addr';
import { DataplaneIndex, u32 } from './state';
import { FLOW_TABLES, CONN_VALUE_SIZE, flowChunks } from '../conns/tables';

export interface Connection {
  protocol: 'tcp' | 'udp';
  client: string;
  clientPort: number;
  vip: string;
  vipPort: number;
  realId: number;
  vipId: number;
  /** IPVS's state name (ESTABLISHED, SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, NONE) or UDP. */
  state: string;
  /** The CLOCK_MONOTONIC second after which the entry is not used (monotonicSeconds()). */
  expires: number;
  /** In lb_conns/lb_conns6 (a second packet seen), else in lb_new. */
  confirmed: boolean;
  /** Full-NAT: the source the real sees for this flow (the director's mapping, for its logs). */
  snat?: { address: string; port: number };
}

/** CLOCK_MONOTONIC in whole seconds: the base of the flow clock and of Connection.expires. */
export function monotonicSeconds(): number {
  return Number(process.hrtime.bigint() / 1_000_000_000n);
}

/** A real's connections as the data plane counts them, with the census's correction applied. */
export interface RealConns { active: number; inactive: number; overloaded: boolean }

export class Flows {
  private clockTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ix: DataplaneIndex) {}

  /**
   * Writes the clock flow entries expire by (lb_config.now_s, bpf/lb.bpf.c): CLOCK_MONOTONIC in
   * whole seconds, in the config's entry (read, then written back whole: the config is written
   * from the same thread only). The daemon calls it once a second; until someone does, the
   * program reads the kernel's coarse clock itself, per packet. Tests write it to move time.
   */
  tickClock(nowS: number = monotonicSeconds()): void {
    const cur = this.ix.maps.lb_cfg.lookup(u32(0));
    if (!cur) return;
    const c = lbConfigCodec.decode(cur);
    c.nowS = nowS >>> 0;
    this.ix.maps.lb_cfg.update(u32(0), lbConfigCodec.encode(c));
  }

  /** Keeps the flow clock current: a tick now and every `everyMs` until stopClock() or close(). */
  startClock(everyMs: number): void {
    this.stopClock();
    this.tickClock();
    this.clockTimer = setInterval(() => { try { this.tickClock(); } catch { /* the next tick retries */ } }, everyMs);
    this.clockTimer.unref();
  }

  /**
   * Stops keeping the clock. If it was being kept, it is handed back to the kernel (now_s = 0:
   * the program reads the coarse CLOCK_MONOTONIC itself, the same clock): a data plane left
   * forwarding without a daemon (`xlvs stop --keep-forwarding`, SIGTERM) must not expire flows
   * by a clock frozen at the last tick — after a long stop the next daemon's first tick would
   * jump past every timeout at once.
   */
  stopClock(): void {
    if (!this.clockTimer) return;
    clearInterval(this.clockTimer);
    this.clockTimer = null;
    try { this.tickClock(0); } catch { /* the maps are gone: nothing reads the clock */ }
  }

  /**
   * Every flow entry of the three tables (client → VIP flow → real, state, expiry), persistence
   * templates of unconfirmed flows left out; read whole on the calling thread (0.1 s for empty
   * default tables, more as they fill). For tests only; the daemon counts and lists connections
   * from a worker thread (src/conns), never with this.
   */
  connections(): Connection[] {
    const out: Connection[] = [];
    const push = (f: { src: Buffer; dst: Buffer; sport: number; dport: number; proto: number; family: number }, c: ConnValue, confirmed: boolean) => {
      if (c.state === LB.CS_TEMPLATE) return;
      out.push({
        protocol: f.proto === 17 ? 'udp' : 'tcp', client: formatAddr(f.src, f.family), clientPort: f.sport,
        vip: formatAddr(f.dst, f.family), vipPort: f.dport, realId: c.realId, vipId: c.vipId,
        state: CONN_STATES[c.state] ?? `state-${c.state}`, expires: c.expires, confirmed,
        ...(c.natAddr ? { snat: this.snatOf(c) } : {}),
      });
    };
    // The tables as the connection worker reads them (src/conns/tables.ts): the arrays through
    // their mappings, only their occupied entries handed on.
    for (const t of FLOW_TABLES) {
      for (const c of flowChunks(this.ix.maps[t.map], t, 65536)) {
        for (let i = 0; i < c.count; i++) {
          const k = c.keys.subarray(i * t.key.size, (i + 1) * t.key.size);
          const f = t.key.family === null ? { ...conn4KeyCodec.decode(k), family: AF4 } : flowKeyCodec.decode(k);
          const v = connValueCodec.decode(c.values.subarray(i * CONN_VALUE_SIZE, (i + 1) * CONN_VALUE_SIZE));
          push({ ...f, src: Buffer.concat([f.src, Buffer.alloc(16 - f.src.length)]), dst: Buffer.concat([f.dst, Buffer.alloc(16 - f.dst.length)]) }, v, t.confirmed);
        }
      }
    }
    return out;
  }

  /**
   * Empties the three flow tables (lb_conns's lines and lb_new's slots are zeroed: an array's
   * entries cannot be deleted). For tests and benchmarks that need the scheduler alone to decide.
   */
  clear(): void {
    for (const k of [...this.ix.maps.lb_conns6.keys()]) this.ix.maps.lb_conns6.delete(k);
    for (const slots of [this.ix.maps.lb_conns, this.ix.maps.lb_new]) {
      const chunk = 4096;
      const zero = Buffer.alloc(chunk * slots.valueSize);
      for (let first = 0; first < slots.maxEntries; first += chunk) {
        const n = Math.min(chunk, slots.maxEntries - first);
        const keys = Buffer.alloc(4 * n);
        for (let i = 0; i < n; i++) keys.writeUInt32LE(first + i, 4 * i);
        slots.updateBatchRaw(keys, zero.subarray(0, n * slots.valueSize));
      }
    }
  }

  /** A full-NAT flow's source binding: pool address (by index) and port. */
  private snatOf(c: ConnValue): { address: string; port: number } | undefined {
    const p = this.ix.pools.get(c.vipId);
    if (!p || c.natAddr < 1 || c.natAddr > p.count) return undefined;
    return { address: formatAddr(p.addr.subarray(16 * (c.natAddr - 1), 16 * c.natAddr), p.family), port: c.natPort };
  }

  /** A real's connection counts as the data plane keeps them (lb_real_load + lb_real_load_fix). */
  realConns(realId: number): RealConns {
    const l = this.ix.maps.lb_real_load.lookup(u32(realId));
    const f = this.ix.maps.lb_real_load_fix.lookup(u32(realId));
    const load = l ? realLoadCodec.decode(l) : { active: 0n, inactive: 0n, overloaded: 0 };
    const fix = f ? realLoadFixCodec.decode(f) : { active: 0n, inactive: 0n };
    const clamp = (x: bigint) => (x < 0n ? 0 : Number(x));
    return { active: clamp(load.active + fix.active), inactive: clamp(load.inactive + fix.inactive), overloaded: load.overloaded !== 0 };
  }

  /**
   * Sets a real's correction (lb_real_load_fix): what the census writes from its worker
   * (src/conns) so the data plane's counts match the live entries. For tests.
   */
  setConnsFix(realId: number, fix: { active: number; inactive: number }): void {
    this.ix.maps.lb_real_load_fix.update(u32(realId), realLoadFixCodec.encode({ active: BigInt(fix.active), inactive: BigInt(fix.inactive) }));
  }

  /** What happened to new flows, summed over CPUs (lb_flow_stats). */
  flowStats(): LbFlowStats {
    const sum: LbFlowStats = { unconfirmed: 0n, confirmed: 0n, reused: 0n, expired: 0n, displaced: 0n };
    for (const v of this.ix.maps.lb_flow_stats.lookupPerCpu(u32(0)) ?? []) {
      const s = lbFlowStatsCodec.decode(v);
      sum.unconfirmed += s.unconfirmed; sum.confirmed += s.confirmed; sum.reused += s.reused; sum.expired += s.expired; sum.displaced += s.displaced;
    }
    return sum;
  }

  /** The real a persistence template holds for a client (tests, `xlvs` listings), or null. */
  persistence(ref: VipRef, client: string): { realId: number; lastUsedNs: bigint } | null {
    const v = this.ix.vipOf(ref);
    const a = parseAddr(client, 'client');
    const prefix = v.info.persistPrefix;
    const masked = Buffer.alloc(16);
    for (let i = 0; i < (a.family === AF6 ? 16 : 4); i++) {
      const bits = Math.max(0, Math.min(8, prefix - 8 * i));
      masked[i] = a.bytes[i] & ((0xff << (8 - bits)) & 0xff);
    }
    const raw = this.ix.maps.lb_persist.lookup(persistKeyCodec.encode({ client: masked, vipId: v.info.id, family: a.family }));
    if (!raw) return null;
    const p = persistValueCodec.decode(raw);
    return { realId: p.realId, lastUsedNs: p.lastUsedNs };
  }

  /**
   * realConns() for every real id up to `maxId`, from two batch reads of lb_real_load and
   * lb_real_load_fix (the arrays up to the chunk holding maxId): the status snapshot's
   * ActiveConn/InActConn without two lookups per real. Ids with no connections are left out.
   */
  realConnsUpTo(maxId: number): Map<number, RealConns> {
    const out = new Map<number, RealConns>();
    if (maxId < 1) return out;
    const chunk = Math.min(maxId + 1, 8192);
    const read = (m: { lookupBatchChunks(chunk: number): Generator<{ values: Buffer; count: number }> }, size: number): Buffer => {
      const parts: Buffer[] = [];
      let n = 0;
      for (const c of m.lookupBatchChunks(chunk)) {
        parts.push(c.values);
        n += c.count;
        if (n > maxId) break;
      }
      return Buffer.concat(parts).subarray(0, Math.min(n, maxId + 1) * size);
    };
    const load = read(this.ix.maps.lb_real_load, 24);
    const fix = read(this.ix.maps.lb_real_load_fix, 16);
    const clamp = (x: bigint) => (x < 0n ? 0 : Number(x));
    for (let id = 1; id * 24 < load.length && id * 16 < fix.length; id++) {
      const a = clamp(load.readBigInt64LE(id * 24) + fix.readBigInt64LE(id * 16));
      const i = clamp(load.readBigInt64LE(id * 24 + 8) + fix.readBigInt64LE(id * 16 + 8));
      if (a || i) out.set(id, { active: a, inactive: i, overloaded: load.readUInt32LE(id * 24 + 16) !== 0 });
    }
    return out;
  }
}
