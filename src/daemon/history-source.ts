// The status page's history (src/metrics/history.ts) samples this: each configured real's
// counters, read as the snapshot reads them (Stats.counters: one batch read per per-CPU map), in
// O(reals). The sorry server is not a configured real and is left out, as in the snapshot.
import type { Topology } from '../config/model';
import type { Dataplane } from '../dataplane/dataplane';
import type { RealTraffic } from '../metrics/history';

export function realTraffic(topo: Topology, dp: Dataplane): RealTraffic[] {
  const counters = new Map(dp.stats.counters().reals.map((r) => [r.id, r]));
  const byAddr = new Map<string, number>();
  for (const r of dp.reals.list()) if (!r.sorry) byAddr.set(`${r.vipKey}|${r.address}`, r.id);
  const out: RealTraffic[] = [];
  for (const svc of topo.services) {
    for (const r of svc.reals) {
      const id = byAddr.get(`${svc.key}|${r.address}`);
      const c = id === undefined ? undefined : counters.get(id);
      if (id === undefined || !c) continue;
      out.push({ service: svc.key, real: r.key, id, packets: c.packets, bytes: c.bytes, newFlows: c.newFlows });
    }
  }
  return out;
}
