// Reading the per-CPU counters: per real (one batch read for every real), per VIP (its reals',
// plus what reals that left carried) and per verdict reason, summed over CPUs.
import type { BpfMap } from '../loader';
import { REASONS, ReasonName, lbCounters, lbReasonStats } from '../maps/lb';
import { u32 } from './state';
import type { DataplaneIndex } from './state';
import type { VipTable } from './vips';
import type { RealTable } from './reals';

export interface Traffic { packets: bigint; bytes: bigint; newFlows: bigint }

export interface Counters {
  vips: Array<{ key: string; id: number } & Traffic>;
  reals: Array<{ id: number; vipKey: string } & Traffic>;
  reasons: Record<ReasonName, bigint>;
}

export class Stats {
  constructor(private readonly ix: DataplaneIndex, private readonly vips: VipTable, private readonly reals: RealTable) {}

  private sumPerCpu(map: BpfMap, id: number): Traffic {
    const per = map.lookupPerCpu(u32(id)) ?? [];
    const t: Traffic = { packets: 0n, bytes: 0n, newFlows: 0n };
    for (const b of per) {
      const c = lbCounters.decode(b);
      t.packets += c.packets;
      t.bytes += c.bytes;
      t.newFlows += c.newFlows;
    }
    return t;
  }

  /**
   * Every id's counters of a per-CPU lb_counters array in one batch read (one syscall per 8192
   * ids instead of one per id), summed over CPUs on demand.
   */
  private sumAllPerCpu(map: BpfMap): (id: number) => Traffic {
    const { keys, values, count } = map.lookupBatchRaw();
    const slot = Math.ceil(lbCounters.size / 8) * 8;
    const per = values.length / Math.max(count, 1);
    const cpus = per / slot;
    const at = new Map<number, number>();
    for (let i = 0; i < count; i++) at.set(keys.readUInt32LE(i * 4), i * per);
    return (id) => {
      const t: Traffic = { packets: 0n, bytes: 0n, newFlows: 0n };
      const base = at.get(id);
      if (base === undefined) return t;
      for (let c = 0; c < cpus; c++) {
        const o = base + c * slot;
        t.packets += values.readBigUInt64LE(o);
        t.bytes += values.readBigUInt64LE(o + 8);
        t.newFlows += values.readBigUInt64LE(o + 16);
      }
      return t;
    };
  }

  /** Per VIP, per real and per reason, summed over CPUs. */
  counters(): Counters {
    const realStats = this.sumAllPerCpu(this.ix.maps.lb_real_stats);
    const reals = this.reals.list().map((r) => ({ id: r.id, vipKey: r.vipKey, ...realStats(r.id) }));
    // A VIP's traffic: its reals' now, plus what reals that left carried (lb_vip_stats, folded
    // in by RealTable.clear): the data plane counts per real only.
    const byVip = new Map<string, Traffic>();
    for (const r of reals) {
      const t = byVip.get(r.vipKey) ?? { packets: 0n, bytes: 0n, newFlows: 0n };
      t.packets += r.packets;
      t.bytes += r.bytes;
      t.newFlows += r.newFlows;
      byVip.set(r.vipKey, t);
    }
    const vips = this.vips.list().map((v) => {
      const t = { key: v.key, id: v.id, ...this.sumPerCpu(this.ix.maps.lb_vip_stats, v.id) };
      const own = byVip.get(v.key);
      if (own) {
        t.packets += own.packets;
        t.bytes += own.bytes;
        t.newFlows += own.newFlows;
      }
      return t;
    });
    const reasons = Object.fromEntries(REASONS.map((r) => [r, 0n])) as Record<ReasonName, bigint>;
    for (const b of this.ix.maps.lb_reasons.lookupPerCpu(u32(0)) ?? []) {
      const s = lbReasonStats.decode(b);
      for (const r of REASONS) reasons[r] += s[r];
    }
    return { vips, reals, reasons };
  }
}
