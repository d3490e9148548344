// From the normalised topology plus what the daemon has learned (health verdicts, MACs) to the
// reconciler's desired state. Pure.
import type { ServiceModel, Topology } from '../config/model';
import type { ServiceVerdict } from '../health/quorum';
import { DesiredReal, DesiredService, DesiredState, LocalMode } from '../reconciler/desired';
import { hostPort } from '../common/address';
import { effectiveLowerThreshold } from '../dataplane/spec';

/** Stored for a real whose MAC is not known yet; such a real is kept out of selection. */
export const NO_MAC = '00:00:00:00:00:00';

export type MacLookup = (address: string) => string | null;

/**
 * An operator's runtime override of one real (`xlvs real drain|weight`, ipvsadm -e): `weight`
 * replaces the topology's weight; `drained` takes a real that would be up out of new selection
 * (state 'drain': its established flows continue). Neither brings up a real health took down.
 */
export interface RealOverride { weight?: number; drained?: boolean }

/** Overrides by service key, then real key. */
export type OverrideLookup = (serviceKey: string, realKey: string) => RealOverride | undefined;

/**
 * What makes a real this director's own and whether this director holds a VIP: the addresses
 * of the machine (director.addresses and those found on director.interface), and the VRRP
 * state of the instance that carries the VIP.
 */
export interface LocalView {
  isLocal(address: string): boolean;
  /** True while we hold the service's VIP: Master of an instance whose VIPs include it, or no instance does. */
  holdsVip(vip: string, serviceKey: string): boolean;
}

/** No local reals (a director that is no real of its services, tests). */
export const NO_LOCAL: LocalView = { isLocal: () => false, holdsVip: () => true };

/**
 * The VRRP side of LocalView: a VIP is held when an instance that lists it is MASTER, or when no
 * instance lists it (a static VIP, always ours). INIT, BACKUP and FAULT do not hold it.
 */
export function holdsVip(t: Topology, state: (instance: string) => string | undefined, vip: string): boolean {
  const covering = t.vrrp.filter((i) => i.vips.some((v) => v.address === vip));
  return covering.length === 0 || covering.some((i) => state(i.name) === 'MASTER');
}

export function desiredService(svc: ServiceModel, verdict: ServiceVerdict | undefined, macOf: MacLookup, overrideOf: OverrideLookup = () => undefined, localView: LocalView = NO_LOCAL): DesiredService {
  const eff = new Map((verdict?.reals ?? []).map((r) => [r.key, r]));
  let hasLocal = false;
  const nat = svc.method === 'nat' || svc.method === 'fullnat';
  const reals: DesiredReal[] = svc.reals.map((r) => {
    const e = eff.get(r.key);
    // A local real is not sent to: it needs no MAC, and one found for its address is not used.
    const local = !hasLocal && (r.local || localView.isLocal(r.address));
    if (local) hasLocal = true;
    const mac = local ? NO_MAC : r.mac ?? macOf(r.address);
    const ov = overrideOf(svc.key, r.key);
    let weight = e ? e.weight : r.weight;
    let state = e ? e.state : r.weight > 0 ? 'up' : 'drain';
    // The operator's weight stands for the configured (or misc_dynamic) one of a real health
    // finds healthy; 0 quiesces it (LVS). A failed real (down, or drained by inhibit_on_failure)
    // stays as health put it.
    if (ov?.weight !== undefined && (!e || e.state === 'up' || (e.state === 'drain' && !e.reason.startsWith('inhibit_on_failure')))) {
      weight = ov.weight;
      state = weight > 0 ? 'up' : 'drain';
    }
    if (ov?.drained && state === 'up') state = 'drain';
    // DR and TUN send to the real's MAC; NAT's next hop comes from the kernel's routes.
    if (!mac && !nat) state = 'down';
    // Quorum lost: the sorry server takes every new flow; established flows drain.
    if (verdict?.sorry && svc.sorryServer && state === 'up') state = 'drain';
    return {
      key: r.key, address: r.address, port: r.port, weight, state, mac: mac ?? NO_MAC,
      upperThreshold: r.upperThreshold, lowerThreshold: effectiveLowerThreshold(r.upperThreshold, r.lowerThreshold), local,
    };
  });
  const localMode: LocalMode = !hasLocal ? 'none' : localView.holdsVip(svc.vip, svc.key) ? 'active' : 'backup';
  let sorry: DesiredReal | null = null;
  if (verdict?.sorry && svc.sorryServer) {
    const s = svc.sorryServer;
    const mac = macOf(s.address);
    sorry = {
      key: hostPort(s.address, s.port), address: s.address, port: s.port, weight: 1, state: mac || nat ? 'up' : 'down', mac: mac ?? NO_MAC,
      upperThreshold: 0, lowerThreshold: 0, local: false,
    };
  }
  return {
    vip: {
      key: svc.key,
      address: svc.vip,
      port: svc.port,
      protocol: svc.protocol,
      ports: svc.ports,
      method: svc.method,
      scheduler: svc.scheduler,
      persistenceTimeoutMs: svc.persistence?.timeoutMs ?? 0,
      persistencePrefix: svc.persistence?.prefix ?? (svc.family === 4 ? 32 : 128),
      tableSize: svc.tableSize,
      onDown: svc.onDown,
      timeouts: { ...svc.timeouts },
      localMode,
      ...(svc.method === 'fullnat' ? { snatPool: [...(svc.snatPool ?? [])] } : {}),
    },
    reals,
    sorry,
  };
}

export function desiredState(topo: Topology, verdicts: Map<string, ServiceVerdict>, macOf: MacLookup, overrideOf?: OverrideLookup, localView?: LocalView): DesiredState {
  const out: DesiredState = new Map();
  for (const svc of topo.services) out.set(svc.key, desiredService(svc, verdicts.get(svc.key), macOf, overrideOf, localView));
  return out;
}

/**
 * The addresses the lb program must not let the kernel accept (written by the reconciler): the
 * VIPs of VRRP instances with accept: false (keepalived no_accept), unless the instance is the
 * address owner (priority 255), which always accepts (RFC 5798 §6.4.3).
 */
export function noAcceptAddresses(t: Topology): string[] {
  const out = new Set<string>();
  for (const i of t.vrrp) {
    if (i.accept || i.priority === 255) continue;
    for (const v of i.vips) out.add(v.address);
  }
  return [...out];
}
