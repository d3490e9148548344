// The daemon's view of itself, as the CLI, the metrics and the status page read it. Counters are
// bigint in-process and decimal strings once they cross the control socket.

export type RealState = 'up' | 'drain' | 'down';

export interface TrafficCounters {
  packets: bigint;
  bytes: bigint;
  /** Flows scheduled (new connection-table entries), ipvsadm's "Conns". */
  newFlows: bigint;
}

export interface RealStatus {
  /** `address:port` (IPv6 in brackets). */
  key: string;
  id: number;
  address: string;
  port: number;
  /** Configured weight. */
  weight: number;
  /** Weight in force (after health / misc_dynamic / drain). */
  effectiveWeight: number;
  state: RealState;
  /** Why it is in that state (health reason, "admin drain", …). */
  reason: string;
  mac: string | null;
  /** ipvsadm's ActiveConn / InActConn: the real's ESTABLISHED / other live entries, as the data plane counts them (lb_real_load, corrected by the census). */
  activeConns: number;
  inactiveConns: number;
  counters: TrafficCounters;
  lastCheckMs?: number;
  /** Over the control socket: when `xlvs zero` last zeroed it (ms since the epoch); `counters` are then counts since that moment. */
  zeroedAt?: number;
  /** The operator's runtime override (`xlvs real drain|weight`), when one is in force; `weight` above stays the topology's. */
  override?: { weight?: number; drained?: boolean; at: number };
  /** This director itself (a local real): its flows are delivered here, never forwarded. */
  local?: boolean;
}

/** How `xlvs list` and the status page describe an override: `drained by operator; topology 3`. */
export function describeOverride(o: { weight?: number; drained?: boolean }, topologyWeight: number): string {
  const parts: string[] = [];
  if (o.drained) parts.push('drained by operator');
  if (o.weight !== undefined) parts.push(`weight ${o.weight} by operator`);
  return `${parts.join(', ')}; topology ${topologyWeight}`;
}

export interface ServiceStatus {
  /** `vip:port/proto`. */
  key: string;
  id: number;
  vip: string;
  port: number;
  /** A grouped service's ports (`80,443,10000-10100`; port is 0); null or absent otherwise. */
  ports?: string | null;
  protocol: 'tcp' | 'udp';
  method: 'dr' | 'tun' | 'nat' | 'fullnat';
  scheduler: string;
  persistence: { timeoutMs: number; netmask: string } | null;
  onDown: 'expire' | 'keep';
  sorryActive: boolean;
  reals: RealStatus[];
  /** The sums of its reals' ActiveConn / InActConn (absent from older daemons). */
  activeConns?: number;
  inactiveConns?: number;
  counters: TrafficCounters;
  /** Over the control socket: when `xlvs zero` last zeroed it (ms since the epoch); `counters` are then counts since that moment. */
  zeroedAt?: number;
}

export interface VrrpStatus {
  name: string;
  vrid: number;
  interface: string;
  state: string;
  priority: number;
  effectivePriority: number;
  vips: string[];
  since: number;
}

/** One thread of the daemon (main: config, reconciler, checks, metrics; vrrp: adverts and timers). */
export interface ThreadStatus {
  name: string;
  running: boolean;
  /** Largest event-loop delay since the last report (ms). */
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  /** How long ago the thread last reported (ms; -1 never; 0 for main, which is asking). */
  lastReportAgeMs: number;
  /** Times it was started again after dying. */
  restarts: number;
}

export interface DaemonEvent {
  at: number;
  kind: 'health' | 'vrrp' | 'reload' | 'apply' | 'daemon';
  message: string;
}

export interface StatusSnapshot {
  director: string;
  interface: string;
  xdpMode: string;
  startedAt: number;
  adopted: boolean;
  configFile: string;
  services: ServiceStatus[];
  vrrp: VrrpStatus[];
  reasons: Record<string, bigint>;
  /** Connections in the flow tables (latest census): live entries, expired ones and persistence templates left out. */
  connections: number;
  /** The same by table (confirmed: lb_conns + lb_conns6; unconfirmed: lb_new), and the expired entries still held (absent from older daemons). */
  connTables?: { confirmed: number; unconfirmed: number; expired: number };
  /** What happened to new flows since the data plane was loaded (lb_flow_stats, summed over CPUs; absent from older daemons). */
  flows?: { unconfirmed: number; confirmed: number; reused: number; expired: number; displaced?: number };
  /** The census the connection counts come from: when it finished (ms since the epoch), its age when this snapshot was built, how long it walked; null before the first. */
  census?: { at: number | null; ageMs: number | null; walkMs: number | null };
  events: DaemonEvent[];
  threads: ThreadStatus[];
}
