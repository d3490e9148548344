// Desired data-plane state: what the maps should hold for each service, computed from the
// topology, the health verdicts and the VRRP state. Pure.

export type Method = 'dr' | 'tun' | 'nat' | 'fullnat';
export type RealState = 'up' | 'drain' | 'down';
/** How this director's own real takes the VIP's flows (src/dataplane/spec.ts LocalMode). */
export type LocalMode = 'none' | 'active' | 'backup';

export interface DesiredVip {
  /** `vip:port/proto` — the service key. */
  key: string;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** A grouped service's ports (`80,443,10000-10100`, port 0); null for one port. */
  ports: string | null;
  method: Method;
  scheduler: string;
  persistenceTimeoutMs: number;
  /** Prefix length the client address is masked to for persistence. */
  persistencePrefix: number;
  tableSize: number;
  onDown: 'expire' | 'keep';
  /** Idle timeouts of the service's connection entries, whole seconds (ipvsadm --set). */
  timeouts: { tcp: number; tcpFin: number; udp: number };
  /** 'none' without a local real; else 'active' while we hold the VIP, 'backup' while not. */
  localMode: LocalMode;
  /** fullnat: the source pool's addresses (absent for other methods). */
  snatPool?: string[];
}

export interface DesiredReal {
  /** `address:port` — unique within a service. */
  key: string;
  address: string;
  port: number;
  weight: number;
  state: RealState;
  mac: string | null;
  /** Connections (active + inactive) at which the real takes no new flows; 0 = none (ipvsadm -x). */
  upperThreshold: number;
  /** Below this it takes new flows again; 0 = 3/4 of the upper (ipvsadm -y). */
  lowerThreshold: number;
  /** This director's own address: delivered to the local kernel, never forwarded. */
  local: boolean;
}

export interface DesiredService {
  vip: DesiredVip;
  reals: DesiredReal[];
  /** The sorry server takes all new flows while set (quorum lost). */
  sorry: DesiredReal | null;
}

export type DesiredState = Map<string, DesiredService>;

/** Stable comparison of a VIP's own parameters (not its reals). */
export function sameVip(a: DesiredVip, b: DesiredVip): boolean {
  return sameVipTable(a, b) && a.localMode === b.localMode;
}

/**
 * The same VIP but for its local mode, which a VRRP transition flips: only the VIP entry is
 * rewritten then, its reals and Maglev table stay (no rebuild on the VRRP path).
 */
export function sameVipTable(a: DesiredVip, b: DesiredVip): boolean {
  return a.key === b.key && a.address === b.address && a.port === b.port && a.protocol === b.protocol && a.ports === b.ports &&
    a.method === b.method && a.scheduler === b.scheduler && a.persistenceTimeoutMs === b.persistenceTimeoutMs &&
    a.persistencePrefix === b.persistencePrefix && a.tableSize === b.tableSize && a.onDown === b.onDown &&
    a.timeouts.tcp === b.timeouts.tcp && a.timeouts.tcpFin === b.timeouts.tcpFin && a.timeouts.udp === b.timeouts.udp &&
    (a.snatPool ?? []).join(',') === (b.snatPool ?? []).join(',');
}

function realSig(r: DesiredReal | null): string {
  return r ? `${r.key}|${r.weight}|${r.state}|${r.mac ?? ''}|${r.upperThreshold}|${r.lowerThreshold}|${r.local ? 'local' : ''}` : '-';
}

/** True when the reals (set, weights, states, MACs, thresholds) and the sorry server are the same. */
export function sameReals(a: DesiredService, b: DesiredService): boolean {
  if (a.reals.length !== b.reals.length || realSig(a.sorry) !== realSig(b.sorry)) return false;
  const sa = a.reals.map(realSig).sort();
  const sb = b.reals.map(realSig).sort();
  return sa.every((s, i) => s === sb[i]);
}

/**
 * The reals of `d` that the data plane may take out of new selection before the table is
 * rebuilt (DataplanePort.takeOutOfSelection): those no longer up with a weight, whose id is known.
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
