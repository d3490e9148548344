// The flow side of the maps: the clock flow entries are stamped with (lb_clock), the connection
// table (a whole walk, for tests: the daemon counts and lists connections off its main thread,
// src/conns) and persistence templates.
import { connValue as connValueCodec, flowKey as flowKeyCodec, persistKey as persistKeyCodec, persistValue as persistValueCodec } from '../maps/lb';
import { VipRef, formatAddr, AF6 } from './spec';
import { parseAddr } from './addr';
import { DataplaneIndex, u32 } from './state';

export interface Connection {
  protocol: 'tcp' | 'udp';
  client: string;
  clientPort: number;
  vip: string;
  vipPort: number;
  realId: number;
  vipId: number;
  /** CLOCK_MONOTONIC of the last packet: lb_clock as the daemon keeps it (Dataplane.flows.startClock, once a second), or the kernel's coarse clock while nobody writes it. */
  lastSeenNs: bigint;
}

export class Flows {
  private clockTimer: NodeJS.Timeout | null = null;

  constructor(private readonly ix: DataplaneIndex) {}

  /**
   * Writes the clock connection entries are stamped with (lb_clock in bpf/lb.bpf.c):
   * CLOCK_MONOTONIC, the base of Connection.lastSeenNs. The daemon calls it once a second;
   * until someone does, the program reads the kernel's coarse clock itself, per packet.
   */
  tickClock(nowNs: bigint = process.hrtime.bigint()): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(nowNs);
    this.ix.maps.lb_clock.update(u32(0), b);
  }

  /** Keeps lb_clock current: a tick now and every `everyMs` until stopClock() or close(). */
  startClock(everyMs: number): void {
    this.stopClock();
    this.tickClock();
    this.clockTimer = setInterval(() => { try { this.tickClock(); } catch { /* the next tick retries */ } }, everyMs);
    this.clockTimer.unref();
  }

  stopClock(): void {
    if (this.clockTimer) clearInterval(this.clockTimer);
    this.clockTimer = null;
  }

  /**
   * The whole connection table (client → VIP flow → real), one get_next_key + lookup per entry
   * on the calling thread: seconds for a full table. For tests only; the daemon counts and lists
   * connections from a worker thread (src/conns), never with this.
   */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const [k, v] of this.ix.maps.lb_conns.entries()) {
      const f = flowKeyCodec.decode(k);
      const c = connValueCodec.decode(v);
      out.push({
        protocol: f.proto === 17 ? 'udp' : 'tcp', client: formatAddr(f.src, f.family), clientPort: f.sport,
        vip: formatAddr(f.dst, f.family), vipPort: f.dport, realId: c.realId, vipId: c.vipId, lastSeenNs: c.lastSeenNs,
      });
    }
    return out;
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
}
