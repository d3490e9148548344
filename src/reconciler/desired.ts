// Desired data-plane state: what the maps should hold for each service, computed from the
// topology, the health verdicts and the VRRP state. Pure.

export type Method = 'dr' | 'tun';
export type RealState = 'up' | 'drain' | 'down';

export interface DesiredVip {
  /** `vip:port/proto` — the service key. */
  key: string;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  method: Method;
  scheduler: string;
  persistenceTimeoutMs: number;
  /** Prefix length the client address is masked to for persistence. */
  persistencePrefix: number;
  tableSize: number;
  onDown: 'expire' | 'keep';
}

export interface DesiredReal {
  /** `address:port` — unique within a service. */
  key: string;
  address: string;
  port: number;
  weight: number;
  state: RealState;
  mac: string | null;
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
  return a.key === b.key && a.address === b.address && a.port === b.port && a.protocol === b.protocol &&
    a.method === b.method && a.scheduler === b.scheduler && a.persistenceTimeoutMs === b.persistenceTimeoutMs &&
    a.persistencePrefix === b.persistencePrefix && a.tableSize === b.tableSize && a.onDown === b.onDown;
}

function realSig(r: DesiredReal | null): string {
  return r ? `${r.key}|${r.weight}|${r.state}|${r.mac ?? ''}` : '-';
}

/** True when the reals (set, weights, states, MACs) or the sorry server differ. */
export function sameReals(a: DesiredService, b: DesiredService): boolean {
  if (a.reals.length !== b.reals.length || realSig(a.sorry) !== realSig(b.sorry)) return false;
  const sa = a.reals.map(realSig).sort();
  const sb = b.reals.map(realSig).sort();
  return sa.every((s, i) => s === sb[i]);
}
