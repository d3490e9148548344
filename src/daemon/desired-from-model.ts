// From the normalised topology plus what the daemon has learned (health verdicts, MACs) to the
// reconciler's desired state. Pure.
import type { ServiceModel, Topology } from '../config/model';
import type { ServiceVerdict } from '../health/quorum';
import { DesiredReal, DesiredService, DesiredState } from '../reconciler/desired';
import { hostPort } from '../config/address';

/** Stored for a real whose MAC is not known yet; such a real is kept out of selection. */
export const NO_MAC = '00:00:00:00:00:00';

export type MacLookup = (address: string) => string | null;

export function desiredService(svc: ServiceModel, verdict: ServiceVerdict | undefined, macOf: MacLookup): DesiredService {
  const eff = new Map((verdict?.reals ?? []).map((r) => [r.key, r]));
  const reals: DesiredReal[] = svc.reals.map((r) => {
    const e = eff.get(r.key);
    const mac = r.mac ?? macOf(r.address);
    let state = e ? e.state : r.weight > 0 ? 'up' : 'drain';
    if (!mac) state = 'down';
    // Quorum lost: the sorry server takes every new flow; established flows drain.
    if (verdict?.sorry && svc.sorryServer && state === 'up') state = 'drain';
    return { key: r.key, address: r.address, port: r.port, weight: e ? e.weight : r.weight, state, mac: mac ?? NO_MAC };
  });
  let sorry: DesiredReal | null = null;
  if (verdict?.sorry && svc.sorryServer) {
    const s = svc.sorryServer;
    const mac = macOf(s.address);
    sorry = { key: hostPort(s.address, s.port), address: s.address, port: s.port, weight: 1, state: mac ? 'up' : 'down', mac: mac ?? NO_MAC };
  }
  return {
    vip: {
      key: svc.key,
      address: svc.vip,
      port: svc.port,
      protocol: svc.protocol,
      method: svc.method,
      scheduler: svc.scheduler,
      persistenceTimeoutMs: svc.persistence?.timeoutMs ?? 0,
      persistencePrefix: svc.persistence?.prefix ?? (svc.family === 4 ? 32 : 128),
      tableSize: svc.tableSize,
      onDown: svc.onDown,
    },
    reals,
    sorry,
  };
}

export function desiredState(topo: Topology, verdicts: Map<string, ServiceVerdict>, macOf: MacLookup): DesiredState {
  const out: DesiredState = new Map();
  for (const svc of topo.services) out.set(svc.key, desiredService(svc, verdicts.get(svc.key), macOf));
  return out;
}

/**
 * The reals of `d` that the data plane may take out of new selection before the table is
 * rebuilt (Dataplane.takeOutOfSelection): those no longer up with a weight, whose id is known.
 * Nothing while the sorry server takes over: that needs the VIP rewritten by the full apply,
 * and draining every real first would leave new flows with no real in between.
 */
export function leavingSelection(d: DesiredService, idOf: (realKey: string) => number | undefined): { id: number; state: 'drain' | 'down' }[] {
  if (d.sorry) return [];
  const out: { id: number; state: 'drain' | 'down' }[] = [];
  for (const r of d.reals) {
    if (r.state === 'up' && r.weight > 0) continue;
    const id = idOf(r.key);
    if (id !== undefined) out.push({ id, state: r.state === 'down' ? 'down' : 'drain' });
  }
  return out;
}
