// What the control plane asks of the data plane — VIPs, reals, the director's identity — checked
// and turned into the map structs of src/maps/lb.ts. Pure: every error names the field.
import { XlvsError, ErrorCodes } from '../errors';
import { isPrime } from '../maglev/maglev';
import { LB, VipInfo, VipKey, RealInfo, LbConfig, SnatPool } from '../maps/lb';
import { expandPortSpec, expandRuns, parsePortSpec, portSpecOf } from '../common/ports';
import { Addr, AF4, AF6, parseAddr, parseMacAt, formatAddr, formatMac, serviceKey, parseServiceKey } from './addr';

export type Method = 'dr' | 'tun' | 'nat' | 'fullnat';
export const METHODS: readonly Method[] = ['dr', 'tun', 'nat', 'fullnat'];
const METHOD_NUM: Record<Method, number> = { dr: LB.METHOD_DR, tun: LB.METHOD_TUN, nat: LB.METHOD_NAT, fullnat: LB.METHOD_FULLNAT };
/** The Method of a vip_info.method value. */
export function methodName(n: number): Method {
  return n === LB.METHOD_TUN ? 'tun' : n === LB.METHOD_NAT ? 'nat' : n === LB.METHOD_FULLNAT ? 'fullnat' : 'dr';
}
/** NAT and full-NAT: the director rewrites addresses and sees the replies. */
export function isNatMethod(n: number): boolean {
  return n === LB.METHOD_NAT || n === LB.METHOD_FULLNAT;
}
export type OnDown = 'expire' | 'keep';
export type RealState = 'up' | 'drain' | 'down';
/** How this director's own real takes the VIP's flows (vip_info.local_mode, LB_LOCAL_*): none
 *  (no local real), active (we hold the VIP: schedule, deliver local picks here), backup (we do
 *  not hold it: deliver everything that reaches us here, forward nothing; IPVS backup_only). */
export type LocalMode = 'none' | 'active' | 'backup';
export const LOCAL_MODES: readonly LocalMode[] = ['none', 'active', 'backup'];
/** How a new flow's real is chosen (src/import/schedulers.ts names): the fields that pick the
 *  Maglev slot, or lc/wlc over the first candidates of the 5-tuple's probe sequence. */
export type Scheduler = 'maglev' | 'source-hash' | 'dest-hash' | 'maglev-source-port' | 'lc' | 'wlc';

/** Maglev table size when none is given: prime, Maglev §3.4 (Eisenbud et al., NSDI 2016). */
export const DEFAULT_TABLE_SIZE = 65537;
/** Largest per-VIP table (prime; 4 MiB of u32 per VIP): lb_shared.h LB_MAGLEV_MAX. */
export const MAX_TABLE_SIZE = LB.MAGLEV_MAX;
/** Ethernet MTU (RFC 894). */
export const DEFAULT_MTU = 1500;
/** IPv6 minimum link MTU (RFC 8200 §5) plus an outer IPv6 header: below this an IPv6 VIP over a
 *  tunnel could not carry a minimum-size packet. */
export const MIN_MTU = 1280 + 40;

const SCHEDULER_FIELDS: Record<Scheduler, number> = {
  'maglev': LB.HASH_5TUPLE,
  'source-hash': LB.HASH_SRC_ADDR, // ipvsadm -s sh
  'dest-hash': LB.HASH_DST_ADDR, // ipvsadm -s dh
  'maglev-source-port': LB.HASH_SRC_ADDR | LB.HASH_SRC_PORT, // sh-port / mh-port
  'lc': LB.HASH_5TUPLE, // ipvsadm -s lc
  'wlc': LB.HASH_5TUPLE, // ipvsadm -s wlc
};
const SCHEDULER_SCHED: Record<Scheduler, number> = {
  'maglev': LB.SCHED_HASH, 'source-hash': LB.SCHED_HASH, 'dest-hash': LB.SCHED_HASH, 'maglev-source-port': LB.SCHED_HASH,
  'lc': LB.SCHED_LC, 'wlc': LB.SCHED_WLC,
};

/** Idle timeouts in seconds (ipvsadm --set tcp tcpfin udp). */
export interface Timeouts { tcp: number; tcpFin: number; udp: number }
/** IPVS's defaults (ip_vs_proto_tcp.c tcp_timeouts ESTABLISHED 15 min, FIN_WAIT 2 min;
 *  ip_vs_proto_udp.c udp_timeouts NORMAL 5 min). */
export const DEFAULT_TIMEOUTS: Readonly<Timeouts> = { tcp: 900, tcpFin: 120, udp: 300 };
/** The longest timeout: a year, far inside the u32 seconds an entry's expiry is kept in. */
export const MAX_TIMEOUT_S = 365 * 86400;

export interface VipSpec {
  address: string;
  /** 0 = every port of the address (ipvsadm's persistent port-0 services, fwmark-like). */
  port: number;
  protocol: 'tcp' | 'udp';
  /** A grouped service: its ports (`80,443,10000-10100`, src/common/ports.ts), all under one
   *  VIP id (one Maglev table, one persistence template per client); `port` is then 0. */
  ports?: string | null;
  method: Method;
  /** Default 'maglev' (the 5-tuple). */
  scheduler?: Scheduler | string;
  /** ipvsadm -p, in ms; 0 or absent = no persistence. */
  persistenceTimeoutMs?: number;
  /** ipvsadm -M as a prefix length; default /32 (IPv4) or /128 (IPv6). */
  persistencePrefix?: number;
  /** Maglev table size, a prime; default 65537. */
  tableSize?: number;
  /** Flows of a real marked down: 'expire' (rescheduled, default) or 'keep'. */
  onDown?: OnDown;
  /** Idle timeouts in seconds; default DEFAULT_TIMEOUTS. */
  timeouts?: Timeouts;
  /** Default 'none'; 'active'/'backup' only matter while the VIP has a local real. */
  localMode?: LocalMode;
  /** Full-NAT only: the source addresses (and port range) the director puts on packets toward
   *  the reals; required for 'fullnat', refused for other methods. */
  snatPool?: SnatPoolSpec;
}

/** A full-NAT VIP's source pool: 1..LB.SNAT_ADDRS addresses of the VIP's family, owned by the
 *  director (its inside addresses), and the ports allocated on each (default 1024..65535). */
export interface SnatPoolSpec {
  addresses: string[];
  portMin?: number;
  portMax?: number;
}
export const DEFAULT_SNAT_PORTS = { min: 1024, max: 65535 } as const;

/** A VIP by its service key (`10.0.0.1:80/tcp`, `[2001:db8::1]:443/tcp`) or its fields. */
export type VipRef = string | { address: string; port: number; protocol: 'tcp' | 'udp'; ports?: string | null };

export interface RealSpec {
  /** 1..LB.MAX_REALS-1, chosen by the caller and kept stable (a flow remembers its real by id). */
  id: number;
  address: string;
  /** DR: the real's MAC. TUN: the MAC of the real or of the next hop toward it. */
  mac: string;
  /** TUN: the next hop's MAC when the real is not on the segment (overrides mac for TUN). */
  nexthopMac?: string;
  /** 0..65535; 0 = out of new selection (like drain). */
  weight: number;
  state: RealState;
  /** ipvsadm -x: no new flows at this many connections (active + inactive); 0/absent = none. */
  upperThreshold?: number;
  /** ipvsadm -y: ... until below this many; 0/absent = 3/4 of upperThreshold, as IPVS. */
  lowerThreshold?: number;
  /** This director's own address: its packets go to the local kernel, never out (needs no MAC). */
  local?: boolean;
  /** NAT, full-NAT: the real's port (VIP:80 -> real:8080); 0/absent = the VIP's port. DR and
   *  TUN cannot change the port: refused there unless it equals the VIP's. */
  port?: number;
}

export interface DirectorConfig {
  /** The director's MAC: source of every frame sent. */
  mac: string;
  /** Outer source for TUN to IPv4 reals and of ICMP "too big" (IPv4). */
  tunSource4?: string;
  /** Outer source for TUN to IPv6 reals and of ICMPv6 "packet too big". */
  tunSource6?: string;
  /** MTU toward the reals (default 1500); TUN packets that exceed it get "too big". */
  mtu?: number;
  /** Flow hash seed (default 0): identical on every director so they all pick the same real. */
  hashSeed?: number;
}

function bad(what: string, msg: string): XlvsError {
  return new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${what}: ${msg}`);
}

function intIn(v: unknown, lo: number, hi: number, what: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) {
    throw bad(what, `${JSON.stringify(v)} is not an integer ${lo}..${hi}`);
  }
  return v;
}

function oneOf<T extends string>(v: unknown, allowed: readonly T[], what: string): T {
  if (typeof v !== 'string' || !allowed.includes(v as T)) throw bad(what, `${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

export const PROTO_NUM = { tcp: 6, udp: 17 } as const;

/**
 * A VIP resolved: `ports` is a group's canonical port list (null for one port or port 0),
 * `portList` every port it takes in lb_vips (one key each), `vipKey` the key of its lowest port
 * (what lb_vip_ids holds for it).
 */
export interface ResolvedVip {
  key: string; address: Addr; port: number; protocol: 'tcp' | 'udp'; vipKey: VipKey;
  ports: string | null; portList: number[];
}

export function resolveVipRef(ref: VipRef): ResolvedVip {
  let address: Addr;
  let port: number;
  let protocol: 'tcp' | 'udp';
  let ports: string | null = null;
  if (typeof ref === 'string') {
    ({ address, port, protocol, ports } = parseServiceKey(ref));
  } else if (ref && typeof ref === 'object') {
    address = parseAddr(ref.address, 'vip.address');
    protocol = oneOf(ref.protocol, ['tcp', 'udp'] as const, 'vip.protocol');
    if (ref.ports !== undefined && ref.ports !== null) {
      const runs = typeof ref.ports === 'string' ? parsePortSpec(ref.ports) : null;
      if (!runs) throw bad('vip.ports', `${JSON.stringify(ref.ports)} is not a port list (e.g. "80,443,10000-10100", ports 1..65535)`);
      const list = expandRuns(runs);
      if (list.length === 1) port = list[0];
      else {
        if (ref.port !== 0 && ref.port !== undefined) throw bad('vip.port', `${JSON.stringify(ref.port)}: a grouped VIP (ports ${ref.ports}) has port 0`);
        port = 0;
        ports = portSpecOf(list);
      }
    } else {
      port = intIn(ref.port, 0, 65535, 'vip.port');
    }
  } else {
    throw bad('vip', 'expected a service key or {address, port, protocol}');
  }
  const portList = ports === null ? [port] : expandPortSpec(ports);
  return {
    key: serviceKey(address, ports ?? port, protocol), address, port, protocol, ports, portList,
    vipKey: { addr: address.bytes, port: portList[0], proto: PROTO_NUM[protocol], family: address.family },
  };
}

/** Everything of vip_info except id, sorry_real and local_real, which the Dataplane owns. */
export function vipPolicy(spec: VipSpec, family: number, where = 'vip'): Omit<VipInfo, 'id' | 'sorryReal' | 'localReal'> {
  const method = oneOf(spec.method, METHODS, `${where}.method`);
  const scheduler = oneOf(spec.scheduler ?? 'maglev', Object.keys(SCHEDULER_FIELDS) as Scheduler[], `${where}.scheduler`);
  const maxPrefix = family === AF6 ? 128 : 32;
  const tableSize = spec.tableSize ?? DEFAULT_TABLE_SIZE;
  intIn(tableSize, 2, MAX_TABLE_SIZE, `${where}.tableSize`);
  if (!isPrime(tableSize)) throw bad(`${where}.tableSize`, `${tableSize} is not prime (Maglev §3.4 needs a prime; e.g. 65537)`);
  return {
    method: METHOD_NUM[method],
    hashFields: SCHEDULER_FIELDS[scheduler],
    persistTimeoutMs: intIn(spec.persistenceTimeoutMs ?? 0, 0, 0xffffffff, `${where}.persistenceTimeoutMs`),
    persistPrefix: intIn(spec.persistencePrefix ?? maxPrefix, 0, maxPrefix, `${where}.persistencePrefix`),
    tableSize,
    onDown: oneOf(spec.onDown ?? 'expire', ['expire', 'keep'] as const, `${where}.onDown`) === 'keep' ? LB.ON_DOWN_KEEP : LB.ON_DOWN_EXPIRE,
    sched: SCHEDULER_SCHED[scheduler],
    localMode: LOCAL_MODES.indexOf(oneOf(spec.localMode ?? 'none', LOCAL_MODES, `${where}.localMode`)),
    flags: 0,
    tmoTcp: intIn(spec.timeouts?.tcp ?? DEFAULT_TIMEOUTS.tcp, 1, MAX_TIMEOUT_S, `${where}.timeouts.tcp`),
    tmoTcpFin: intIn(spec.timeouts?.tcpFin ?? DEFAULT_TIMEOUTS.tcpFin, 1, MAX_TIMEOUT_S, `${where}.timeouts.tcpFin`),
    tmoUdp: intIn(spec.timeouts?.udp ?? DEFAULT_TIMEOUTS.udp, 1, MAX_TIMEOUT_S, `${where}.timeouts.udp`),
  };
}

/** Checks a full-NAT VIP's pool and encodes its snat_pool. */
export function snatPoolOf(spec: VipSpec, family: number, where = 'vip'): SnatPool {
  const p = spec.snatPool;
  if (!p || typeof p !== 'object' || !Array.isArray(p.addresses)) throw bad(`${where}.snatPool`, 'a fullnat VIP needs {addresses: [...]} (the director\'s source addresses toward the reals)');
  if (p.addresses.length < 1 || p.addresses.length > LB.SNAT_ADDRS) throw bad(`${where}.snatPool.addresses`, `${p.addresses.length} addresses: 1..${LB.SNAT_ADDRS}`);
  const addr = Buffer.alloc(16 * LB.SNAT_ADDRS);
  const seen = new Set<string>();
  p.addresses.forEach((a, i) => {
    const x = parseAddr(a, `${where}.snatPool.addresses[${i}]`);
    if (x.family !== family) throw bad(`${where}.snatPool.addresses[${i}]`, `${x.text} is not of the VIP's family (IPv${family})`);
    if (seen.has(x.text)) throw bad(`${where}.snatPool.addresses[${i}]`, `${x.text} is listed twice`);
    seen.add(x.text);
    x.bytes.copy(addr, 16 * i);
  });
  const portLo = intIn(p.portMin ?? DEFAULT_SNAT_PORTS.min, 1, 65535, `${where}.snatPool.portMin`);
  const portHi = intIn(p.portMax ?? DEFAULT_SNAT_PORTS.max, portLo, 65535, `${where}.snatPool.portMax`);
  return { addr, portLo, portHi, count: p.addresses.length, family };
}

export function schedulerName(hashFields: number, sched: number = LB.SCHED_HASH): string {
  if (sched === LB.SCHED_LC) return 'lc';
  if (sched === LB.SCHED_WLC) return 'wlc';
  const e = Object.entries(SCHEDULER_FIELDS).find(([k, v]) => v === hashFields && SCHEDULER_SCHED[k as Scheduler] === LB.SCHED_HASH);
  return e ? e[0] : `hash-fields-0x${hashFields.toString(16)}`;
}

const STATE_NUM: Record<RealState, number> = { up: LB.REAL_UP, drain: LB.REAL_DRAIN, down: LB.REAL_DOWN };
export function stateName(n: number): RealState | 'none' {
  return n === LB.REAL_UP ? 'up' : n === LB.REAL_DRAIN ? 'drain' : n === LB.REAL_DOWN ? 'down' : 'none';
}

const ZERO_MAC = '00:00:00:00:00:00';

/**
 * Checks one real and encodes its real_info (owned by `vipId`). `vip` (its method, family and
 * port) decides what the real needs: DR and TUN a MAC to send to; NAT and full-NAT none (the
 * kernel's routes and neighbours give the next hop, bpf_fib_lookup) but the VIP's family.
 */
export function realInfoOf(r: RealSpec, vipId: number, where: string, vip?: { method: number; family: number; port: number }): { info: RealInfo; addr: Addr } {
  if (!r || typeof r !== 'object') throw bad(where, 'expected {id, address, mac, weight, state}');
  intIn(r.id, 1, LB.MAX_REALS - 1, `${where}.id`);
  const addr = parseAddr(r.address, `${where}.address`);
  const mac = formatMac(parseMacAt(r.mac, `${where}.mac`));
  const nexthopMac = r.nexthopMac === undefined ? ZERO_MAC : formatMac(parseMacAt(r.nexthopMac, `${where}.nexthopMac`));
  const weight = intIn(r.weight, 0, 65535, `${where}.weight`);
  const state = STATE_NUM[oneOf(r.state, ['up', 'drain', 'down'] as const, `${where}.state`)];
  if (r.local !== undefined && typeof r.local !== 'boolean') throw bad(`${where}.local`, `${JSON.stringify(r.local)} is not a boolean`);
  const local = r.local === true;
  const nat = vip !== undefined && isNatMethod(vip.method);
  // A real whose MAC is not known yet may be configured only as down (never selected); a local
  // real is not sent to, and NAT finds its next hop by route (bpf_fib_lookup).
  if (!local && !nat && mac === ZERO_MAC && nexthopMac === ZERO_MAC && state !== STATE_NUM.down) throw bad(`${where}.mac`, 'a real needs a MAC to send to (or state down)');
  const port = intIn(r.port ?? 0, 0, 65535, `${where}.port`);
  if (vip && !nat && port !== 0 && port !== vip.port) throw bad(`${where}.port`, `${port}: DR and TUN keep the VIP's port ${vip.port} (use method nat or fullnat to map ports)`);
  if (nat && vip.port === 0 && port !== 0) throw bad(`${where}.port`, `${port}: a port-0 (all ports) VIP keeps each packet's port`);
  if (nat && addr.family !== vip.family) throw bad(`${where}.address`, `${addr.text}: NAT cannot change the address family (the VIP is IPv${vip.family})`);
  const upperThreshold = intIn(r.upperThreshold ?? 0, 0, 0xffffffff, `${where}.upperThreshold`);
  const lowerThreshold = intIn(r.lowerThreshold ?? 0, 0, 0xffffffff, `${where}.lowerThreshold`);
  if (lowerThreshold && !upperThreshold) throw bad(`${where}.lowerThreshold`, 'needs an upperThreshold');
  if (upperThreshold && lowerThreshold >= upperThreshold) throw bad(`${where}.lowerThreshold`, `${lowerThreshold} is not below upperThreshold ${upperThreshold}`);
  return {
    info: {
      addr: addr.bytes, mac, nexthopMac, family: addr.family, state, vipId, weight, upperThreshold,
      lowerThreshold: effectiveLowerThreshold(upperThreshold, lowerThreshold), flags: local ? LB.RF_LOCAL : 0, port: nat ? port : 0,
    },
    addr,
  };
}

/** IPVS (ip_vs_unbind_dest): without a lower threshold, overload ends below 3/4 of the upper.
 *  The desired state makes it explicit too (desired-from-model), so the maps hold what it says. */
export function effectiveLowerThreshold(upper: number, lower: number): number {
  return upper && !lower ? Math.ceil((upper * 3) / 4) : lower;
}

/** Is this real part of new selection (in the Maglev table)? */
export function selectable(info: RealInfo): boolean {
  return info.state === LB.REAL_UP && info.weight > 0;
}

export function configOf(c: DirectorConfig): LbConfig {
  if (!c || typeof c !== 'object') throw bad('config', 'expected {mac, tunSource4?, tunSource6?, mtu?}');
  const mac = formatMac(parseMacAt(c.mac, 'config.mac'));
  if (mac === ZERO_MAC) throw bad('config.mac', 'must not be 00:00:00:00:00:00');
  const tunSrc4 = Buffer.alloc(4);
  const tunSrc6 = Buffer.alloc(16);
  if (c.tunSource4 !== undefined) {
    const a = parseAddr(c.tunSource4, 'config.tunSource4');
    if (a.family !== AF4) throw bad('config.tunSource4', `"${c.tunSource4}" is not an IPv4 address`);
    a.bytes.copy(tunSrc4, 0, 0, 4);
  }
  if (c.tunSource6 !== undefined) {
    const a = parseAddr(c.tunSource6, 'config.tunSource6');
    if (a.family !== AF6) throw bad('config.tunSource6', `"${c.tunSource6}" is not an IPv6 address`);
    a.bytes.copy(tunSrc6);
  }
  return {
    mac, tunSrc4, tunSrc6,
    mtu: intIn(c.mtu ?? DEFAULT_MTU, MIN_MTU, 65535, 'config.mtu'),
    hashSeed: intIn(c.hashSeed ?? 0, 0, 0xffffffff, 'config.hashSeed'),
    nowS: 0, // the flow clock is the Dataplane's own (Flows.tickClock), not configuration
  };
}

export function configFrom(c: LbConfig): Required<DirectorConfig> | (DirectorConfig & { mtu: number; hashSeed: number }) {
  const out: DirectorConfig & { mtu: number; hashSeed: number } = { mac: c.mac, mtu: c.mtu, hashSeed: c.hashSeed };
  if (c.tunSrc4.some((x) => x !== 0)) out.tunSource4 = formatAddr(Buffer.concat([c.tunSrc4, Buffer.alloc(12)]), AF4);
  if (c.tunSrc6.some((x) => x !== 0)) out.tunSource6 = formatAddr(c.tunSrc6, AF6);
  return out;
}

export { AF4, AF6, formatAddr, formatMac };
