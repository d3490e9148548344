// The status snapshot (src/common/status.ts) from the daemon's parts: topology, data plane
// read-back and counters, health, VRRP. Built on demand (CLI, scrape, status page).
import type { Topology } from '../config/model';
import type { Dataplane } from '../dataplane/dataplane';
import type { ConnCounts } from '../conns/census';
import type { ServiceVerdict } from '../health/quorum';
import type { VrrpInstanceStatus } from '../vrrp/thread-protocol';
import { describeOverride } from '../common/status';
import type { DaemonEvent, RealStatus, ServiceStatus, StatusSnapshot, ThreadStatus, TrafficCounters, VrrpStatus } from '../common/status';

/**
 * Table-wide connection counts come from the census (src/conns): the latest one, never a walk
 * here. Per-real ActiveConn/InActConn are the data plane's own counts (lb_real_load + the
 * census's correction, Flows.realConnsUpTo), read when the snapshot is built.
 */
export type ConnSummary = ConnCounts;

export interface SnapshotInputs {
  topo: Topology;
  dp: Dataplane;
  verdicts: (serviceKey: string) => ServiceVerdict | undefined;
  macs: ReadonlyMap<string, string | null>;
  conns: ConnSummary;
  health: (service: string, real: string) => { state: string; reason: string; lastDurationMs?: number } | undefined;
  /** The operator's override of a real (`xlvs real drain|weight`), if any. */
  overrides?: (service: string, real: string) => { weight?: number; drained?: boolean; at: number } | undefined;
  vrrp: VrrpInstanceStatus[];
  threads?: ThreadStatus[];
  xdpMode: string;
  startedAt: number;
  adopted: boolean;
  configFile: string;
  events: DaemonEvent[];
}

const ZERO: TrafficCounters = { packets: 0n, bytes: 0n, newFlows: 0n };

export function buildSnapshot(i: SnapshotInputs): StatusSnapshot {
  const counters = i.dp.stats.counters();
  const vipCounters = new Map(counters.vips.map((v) => [v.key, v]));
  const realCounters = new Map(counters.reals.map((r) => [r.id, r]));
  const mapReals = i.dp.reals.list();
  const realsByVip = new Map<string, typeof mapReals>();
  for (const r of mapReals) {
    const l = realsByVip.get(r.vipKey);
    if (l) l.push(r);
    else realsByVip.set(r.vipKey, [r]);
  }
  const mapVips = new Map(i.dp.vips.list().map((v) => [v.key, v]));
  const realConns = i.dp.flows.realConnsUpTo(mapReals.reduce((m, r) => Math.max(m, r.id), 0));
  const flowStats = i.dp.flows.flowStats();
  const services: ServiceStatus[] = i.topo.services.map((svc) => {
    const verdict = i.verdicts(svc.key);
    const eff = new Map((verdict?.reals ?? []).map((r) => [r.key, r]));
    const inMaps = realsByVip.get(svc.key) ?? [];
    const reals: RealStatus[] = svc.reals.map((r) => {
      const m = inMaps.find((x) => x.address === r.address && !x.sorry);
      const e = eff.get(r.key);
      const h = i.health(svc.key, r.key);
      const c = m ? realCounters.get(m.id) : undefined;
      const rc = m ? realConns.get(m.id) : undefined;
      const act = rc?.active ?? 0;
      const inact = rc?.inactive ?? 0;
      const mac = r.mac ?? i.macs.get(r.address) ?? null;
      const ov = i.overrides?.(svc.key, r.key);
      const state = m ? m.state : 'down';
      const local = m?.local ?? false;
      return {
        key: r.key, id: m?.id ?? 0, address: r.address, port: r.port, weight: r.weight,
        effectiveWeight: m ? m.weight : e?.weight ?? r.weight,
        state,
        reason: !mac && !local ? 'MAC not resolved' : ov && state !== 'down' && (ov.drained || e?.state !== 'drain') ? describeOverride(ov, r.weight)
          : e?.reason ?? h?.reason ?? (m ? 'configured' : 'not applied'),
        mac, activeConns: act, inactiveConns: inact,
        counters: c ? { packets: c.packets, bytes: c.bytes, newFlows: c.newFlows } : ZERO,
        lastCheckMs: h?.lastDurationMs,
        ...(ov ? { override: { weight: ov.weight, drained: ov.drained, at: ov.at } } : {}),
        ...(local ? { local: true } : {}),
      };
    });
    const vc = vipCounters.get(svc.key);
    const sorryId = mapVips.get(svc.key)?.sorryReal ?? 0;
    const vipId = mapVips.get(svc.key)?.id ?? 0;
    // The service's connections: those of every real the data plane holds for it (sorry server and
    // reals being removed included), as `ipvsadm -L` would sum its destinations.
    let vAct = 0;
    let vInact = 0;
    for (const r of inMaps) {
      const rc = realConns.get(r.id);
      if (rc) { vAct += rc.active; vInact += rc.inactive; }
    }
    return {
      key: svc.key, id: vipId, vip: svc.vip, port: svc.port, ports: svc.ports, protocol: svc.protocol,
      method: svc.method, scheduler: svc.scheduler,
      persistence: svc.persistence ? { timeoutMs: svc.persistence.timeoutMs, netmask: svc.persistence.netmask } : null,
      onDown: svc.onDown, sorryActive: sorryId !== 0 && !!verdict?.sorry, reals, activeConns: vAct, inactiveConns: vInact,
      counters: vc ? { packets: vc.packets, bytes: vc.bytes, newFlows: vc.newFlows } : ZERO,
    };
  });
  const vrrp: VrrpStatus[] = i.vrrp.map((v) => ({
    name: v.name, vrid: v.vrid, interface: v.interface, state: v.state,
    priority: v.priority, effectivePriority: v.effectivePriority, vips: v.vips, since: v.since,
  }));
  return {
    director: i.topo.director.name, interface: i.topo.director.interface, xdpMode: i.xdpMode,
    startedAt: i.startedAt, adopted: i.adopted, configFile: i.configFile, services, vrrp,
    reasons: counters.reasons as Record<string, bigint>, connections: i.conns.total,
    connTables: { confirmed: i.conns.confirmed, unconfirmed: i.conns.unconfirmed, expired: i.conns.expired },
    flows: { unconfirmed: Number(flowStats.unconfirmed), confirmed: Number(flowStats.confirmed), reused: Number(flowStats.reused), expired: Number(flowStats.expired), displaced: Number(flowStats.displaced) },
    census: { at: i.conns.at, ageMs: i.conns.at === null ? null : Math.max(0, Date.now() - i.conns.at), walkMs: i.conns.walkMs }, events: [...i.events],
    threads: i.threads ?? [],
  };
}
