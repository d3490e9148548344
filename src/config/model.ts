// The normalised topology: what the daemon, health checkers, VRRP and importers consume.
// Every default is filled in, durations are milliseconds, addresses are canonical (IPv6
// compressed lower-case, RFC 5952 §4), keepalived aliases are folded into xlvs names.
// It is plain JSON (no Buffers, no bigints) so it can be printed, diffed and golden-tested.

export type { Family } from '../common/address';
import type { Family } from '../common/address';
export type Argv = string[];

/** An address with its prefix length: a director address or a VRRP VIP. */
export interface PrefixedAddress {
  address: string;
  prefix: number;
  family: Family;
}

export interface DirectorModel {
  name: string;
  interface: string;
  xdpMode: 'native' | 'generic';
  /** `director.on_sigterm`: on SIGTERM/SIGINT, keep forwarding from the pins (default) or detach
   *  and unpin as `xlvs stop` does. VRRP hands the VIPs over either way. */
  onSigterm: 'keep' | 'remove';
  /** The director's own addresses on `interface` (DR subnet check, TUN outer source). */
  addresses: PrefixedAddress[];
  /** Outer source of IPv4 (proto 4) / IPv6 (proto 41) tunnels; null when the family has none. */
  tunSource4: string | null;
  tunSource6: string | null;
  pinRoot: string;
  /** `<pinRoot>/<name>`: where this director's programs and maps are pinned. */
  pinDir: string;
  /** NAT's inner arm (`director.inside_interface`): the link toward the reals when they sit on
   *  another one than the clients (two-armed NAT); absent = one-armed or no NAT. */
  insideInterface?: string | null;
  /** `director.snat_pool`: full-NAT source addresses for services without their own. */
  snatPool?: string[];
  /** Connection tables' entries (`director.conn_table`): IPv4 and IPv6 flows, the flows not
   *  yet confirmed (handshake incomplete or one packet seen: the only table a SYN flood churns),
   *  and NAT's reverse entries (one per NAT or full-NAT flow, for its replies). */
  connTable: { size: number; ipv6Size: number; unconfirmedSize: number; natSize: number };
  /** Persistence table's entries (`director.persistence_table.size`). */
  persistenceTable: { size: number };
}

/** Idle timeouts of a connection entry in whole seconds (ipvsadm --set tcp tcpfin udp). */
export interface TimeoutsModel {
  /** An established TCP flow. */
  tcp: number;
  /** A TCP flow after its FIN (or RST). */
  tcpFin: number;
  /** A UDP flow. */
  udp: number;
}

export interface VrrpNotifyModel {
  master: Argv | null;
  backup: Argv | null;
  fault: Argv | null;
  stop: Argv | null;
  any: Argv | null;
}

export interface VrrpInstanceModel {
  name: string;
  interface: string;
  vrid: number;
  priority: number;
  state: 'MASTER' | 'BACKUP';
  version: 2 | 3;
  /** Family of the VIPs (and of the adverts). */
  family: Family;
  advertIntervalMs: number;
  /** v2 simple-text password (RFC 2338 §5.3.6), at most 8 octets as sent; null = none. */
  auth: { type: 'pass'; secret: string } | null;
  vips: PrefixedAddress[];
  preempt: boolean;
  preemptDelayMs: number;
  accept: boolean;
  unicastSrc: string | null;
  unicastPeers: string[];
  trackInterfaces: { name: string; weight: number }[];
  trackScripts: string[];
  /** Sync group this instance belongs to, if any. */
  syncGroup: string | null;
  garp: { masterDelayMs: number; masterRepeat: number; refreshMs: number; refreshRepeat: number };
  notify: VrrpNotifyModel;
}

export interface VrrpScriptModel {
  name: string;
  command: Argv;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  weight: number;
}

export interface VrrpSyncGroupModel {
  name: string;
  instances: string[];
}

export type CheckType = 'tcp' | 'http' | 'https' | 'udp' | 'script' | 'none';

export interface HttpCheckModel {
  method: string;
  path: string;
  /** Host header; null = the connect address. */
  host: string | null;
  /** Accepted status codes, normalised: "200-299", "200,301-302". */
  status: string;
  /** Lower-case hex MD5 of the body; null = not checked. */
  digest: string | null;
  regex: string | null;
  /** TLS server name; null = the host when it is a name (config `sni: true` means the same). */
  sni: string | null;
  verify: boolean;
}

export interface CheckModel {
  type: CheckType;
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  delayBeforeRetryMs: number;
  warmupMs: number;
  alpha: boolean;
  /** Port probed: the config's `port`/`connect_port`, else the real's port. 0 for type none/script. */
  port: number;
  /** Address probed: `connect_ip`, else the real's address (canonical). */
  connectIp: string;
  bindto: string | null;
  http: HttpCheckModel | null;
  /** UDP payload as lower-case hex ("" = empty datagram). */
  udp: { payloadHex: string } | null;
  /** `dynamic`: keepalived misc_dynamic (exit 1 = down, 2..255 = up with weight code − 2);
   *  false: any non-zero exit is down (keepalived MISC_CHECK without misc_dynamic). */
  script: { command: Argv; dynamic: boolean } | null;
}

export interface RealModel {
  /** `<address>:<port>` (IPv6 in brackets): how the reconciler and health checkers key reals. */
  key: string;
  address: string;
  family: Family;
  port: number;
  weight: number;
  /** ipvsadm -x / keepalived uthreshold: at or above this many connections (active + inactive)
   *  the real takes no new flows until it falls below `lowerThreshold`. 0 = none. */
  upperThreshold: number;
  /** ipvsadm -y / keepalived lthreshold; 0 = none (then below 3/4 of the upper, as IPVS). */
  lowerThreshold: number;
  /** keepalived inhibit_on_failure: a failed check drains the real (weight 0, established flows
   *  continue) instead of taking it down. The real's own setting, else the service's, else false. */
  inhibitOnFailure: boolean;
  /** Lower-case colon-separated; null = resolve by neighbour lookup. */
  mac: string | null;
  /** `local: true`: this real is the director itself even though its address is not one of
   *  `director.addresses` (a real whose address is found on the director at run time is local
   *  too, without this). Its flows are delivered to this machine's kernel, never forwarded. */
  local: boolean;
  /** The service's check with this real's overrides, resolved against this real. */
  check: CheckModel;
  notifyUp: Argv | null;
  notifyDown: Argv | null;
}

export interface PersistenceModel {
  timeoutMs: number;
  /** Client prefix length the persistence entry covers (ipvsadm -M as a prefix). */
  prefix: number;
  /** The same mask written out: dotted for IPv4, compressed for IPv6. */
  netmask: string;
}

/** Hash schedulers pick a real by Maglev table; lc/wlc (IPVS least-connection, weighted
 *  least-connection) by the reals' connection counts. */
export const SCHEDULERS = ['maglev', 'source-hash', 'dest-hash', 'maglev-source-port', 'lc', 'wlc'] as const;
export type Scheduler = (typeof SCHEDULERS)[number];

export interface ServiceModel {
  /** `<vip>:<port>/<protocol>` (IPv6 in brackets); a grouped service has its port list in place
   *  of the port: `<vip>:80,443,10000-10100/<protocol>` (src/common/ports.ts, canonical). */
  key: string;
  name: string;
  vip: string;
  family: Family;
  /** 0 for a grouped service (and for port 0, every port). */
  port: number;
  /** A grouped service (`ports:`, keepalived virtual_server fwmark): its canonical port list,
   *  two ports or more under one VIP id; null otherwise. */
  ports: string | null;
  protocol: 'tcp' | 'udp';
  /** dr (ipvsadm -g), tun (-i), nat (-m: destination address and port rewritten, replies back
   *  through the director), fullnat (nat with the source rewritten to an address of snatPool). */
  method: 'dr' | 'tun' | 'nat' | 'fullnat';
  /** fullnat: the director-owned source addresses the reals see (`snat_pool`, else
   *  `director.snat_pool`); absent for other methods. */
  snatPool?: string[];
  scheduler: Scheduler;
  /** null = no persistence (no `persistence`, or timeout 0). */
  persistence: PersistenceModel | null;
  /** The service's `timeouts` over the top-level ones, field by field, over IPVS's defaults. */
  timeouts: TimeoutsModel;
  tableSize: number;
  onDown: 'expire' | 'keep';
  quorum: { min: number; hysteresis: number; up: Argv | null; down: Argv | null };
  sorryServer: { address: string; family: Family; port: number } | null;
  reals: RealModel[];
}

export interface MetricsModel {
  enabled: boolean;
  host: string;
  port: number;
}

export interface Topology {
  director: DirectorModel;
  vrrp: VrrpInstanceModel[];
  vrrpScripts: VrrpScriptModel[];
  vrrpSyncGroups: VrrpSyncGroupModel[];
  services: ServiceModel[];
  /** The top-level `timeouts` over IPVS's defaults (each service's own are in ServiceModel). */
  timeouts: TimeoutsModel;
  metrics: MetricsModel;
  control: { socket: string };
  /** keepalived script_user: every command runs as this user (uid/gid from /etc/passwd); null = root. */
  scriptUser: string | null;
}

/** One thing wrong with a topology, in operator words, with where it is. */
export interface Problem {
  /** `services[1].reals[2].weight`; `(root)` for the document itself. */
  path: string;
  message: string;
  /** 1-based; 0 when the input had no position (e.g. an object given to the validator). */
  line: number;
  col: number;
}
