// `xlvs zero [SERVICE]` (ipvsadm -Z): counter baselines. The BPF counters are never written
// (Prometheus counters stay monotonic; only the data plane and the reconciler write the maps):
// zeroing records the counters of a service and its reals as they are now, and `xlvs list`
// shows the counters minus that baseline; /metrics keeps the raw counters.
//
// A baseline belongs to one map entry: the VIP or real id it was taken from. The data plane
// starts an entry's counters at zero when it takes an id into use, so a baseline whose entry is
// gone (id absent from the maps, or another id under the same key) or whose counters went below
// it (the entry was removed and added again with the same id) is dropped, never subtracted: the
// entry's raw counters then count only traffic since it was added, which is after the zero. A
// count shown is never negative.
//
// Baselines live in the daemon's memory: a restarted daemon shows the counters since each entry
// was created (they live on in the pinned maps). ipvsadm's zeroing is in the kernel and lasts
// until the service is removed or the machine reboots.
import type { RealStatus, ServiceStatus, StatusSnapshot, TrafficCounters } from '../common/status';
import { parseServiceKey, serviceKey } from '../dataplane/addr';
import type { ZeroResult } from '../control/protocol';
import { XlvsError, ErrorCodes } from '../errors';

interface Baseline {
  /** The VIP or real id the counters were read from. */
  id: number;
  /** When (ms since the epoch). */
  at: number;
  counters: TrafficCounters;
}

function realKey(service: string, real: string): string {
  return `${service}|${real}`;
}

function below(c: TrafficCounters, b: TrafficCounters): boolean {
  return c.packets < b.packets || c.bytes < b.bytes || c.newFlows < b.newFlows;
}

function minus(c: TrafficCounters, b: TrafficCounters): TrafficCounters {
  return { packets: c.packets - b.packets, bytes: c.bytes - b.bytes, newFlows: c.newFlows - b.newFlows };
}

/** `service` as the service key the snapshot uses (`10.0.0.1:80/tcp`, `[2001:db8::1]:53/udp`), or an E_USAGE error. */
function canonicalService(service: unknown): string {
  if (typeof service !== 'string') throw new XlvsError(ErrorCodes.USAGE, `zero: the service must be a service key (address:port/tcp|udp), got ${typeof service}`);
  try {
    const k = parseServiceKey(service);
    return serviceKey(k.address, k.ports ?? k.port, k.protocol);
  } catch {
    throw new XlvsError(ErrorCodes.USAGE, `zero: "${service}" is not a service key (address:port/tcp|udp, IPv6 in brackets)`);
  }
}

export class CounterBaselines {
  /** By service key. */
  private readonly vips = new Map<string, Baseline>();
  /** By `service|real`. */
  private readonly reals = new Map<string, Baseline>();

  /**
   * Takes the counters of `snap` (raw, as the maps hold them) as the baseline of `service` and
   * its reals, or of every service when `service` is undefined. An unknown service is an
   * E_USAGE error naming it, and nothing is zeroed. An entry not in the maps (id 0) has no
   * counters to zero: it gets no baseline and counts from zero once it is added.
   */
  zero(snap: StatusSnapshot, service?: unknown, now = Date.now()): ZeroResult {
    let services = snap.services;
    if (service !== undefined) {
      const key = canonicalService(service);
      services = services.filter((s) => s.key === key);
      if (!services.length) {
        const known = snap.services.map((s) => s.key).join(', ') || 'none';
        throw new XlvsError(ErrorCodes.USAGE, `zero: no service ${key} (configured: ${known}); nothing zeroed`);
      }
    }
    for (const s of services) {
      this.take(this.vips, s.key, s, now);
      for (const r of s.reals) this.take(this.reals, realKey(s.key, r.key), r, now);
    }
    return { zeroed: services.map((s) => s.key), at: now };
  }

  private take(into: Map<string, Baseline>, key: string, e: ServiceStatus | RealStatus, at: number): void {
    if (e.id === 0) into.delete(key);
    else into.set(key, { id: e.id, at, counters: { ...e.counters } });
  }

  /**
   * `snap` with every counter minus its baseline (what `xlvs list` shows) and `zeroedAt` on the
   * entries that have one. Baselines of entries gone, replaced or reset are dropped here.
   */
  apply(snap: StatusSnapshot): StatusSnapshot {
    const seenVips = new Set<string>();
    const seenReals = new Set<string>();
    const services = snap.services.map((s) => {
      seenVips.add(s.key);
      const reals = s.reals.map((r) => {
        const k = realKey(s.key, r.key);
        seenReals.add(k);
        return this.since(this.reals, k, r);
      });
      return { ...this.since(this.vips, s.key, s), reals };
    });
    for (const k of [...this.vips.keys()]) if (!seenVips.has(k)) this.vips.delete(k);
    for (const k of [...this.reals.keys()]) if (!seenReals.has(k)) this.reals.delete(k);
    return { ...snap, services };
  }

  private since<T extends ServiceStatus | RealStatus>(from: Map<string, Baseline>, key: string, e: T): T {
    const b = from.get(key);
    if (!b) return e;
    if (e.id !== b.id || below(e.counters, b.counters)) {
      from.delete(key);
      return e;
    }
    return { ...e, counters: minus(e.counters, b.counters), zeroedAt: b.at };
  }

  /**
   * Drops the baselines whose VIP or real id is no longer in the maps. The daemon calls it after
   * every apply, so an entry removed and later added again under the same id never meets its
   * old baseline, however much traffic it carried before anyone listed it.
   */
  retain(vipIds: Iterable<number>, realIds: Iterable<number>): void {
    const keep = (m: Map<string, Baseline>, ids: Set<number>) => {
      for (const [k, b] of [...m]) if (!ids.has(b.id)) m.delete(k);
    };
    keep(this.vips, new Set(vipIds));
    keep(this.reals, new Set(realIds));
  }
}
