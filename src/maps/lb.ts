// Codecs for the structs of bpf/include/lb_shared.h (the lb and decap programs). Offsets and
// sizes mirror the C definitions; test/maps checks every codec against the BTF of build/bpf/*.o.
// Addresses are raw 16-byte fields here; src/dataplane/addr.ts turns them into text with the
// struct's family field.
import * as os from 'node:os';
import { defineStruct } from './codec';

export interface VipKey { addr: Buffer; port: number; proto: number; family: number }
export const vipKey = defineStruct<VipKey>({
  cName: 'vip_key', size: 20, fields: [
    { name: 'addr', offset: 0, type: { bytes: 16 } },
    { name: 'port', offset: 16, type: 'be16' },
    { name: 'proto', offset: 18, type: 'u8' },
    { name: 'family', offset: 19, type: 'u8' },
  ],
});

export interface VipInfo {
  id: number; sorryReal: number; persistTimeoutMs: number; tableSize: number;
  method: number; hashFields: number; onDown: number; persistPrefix: number;
  /** LB_SCHED_*. */
  sched: number;
  /** LB_LOCAL_*: how the local real (localReal) takes this VIP's flows. */
  localMode: number;
  /** LB_VIP_F_*: GROUP for a grouped service (a port list or range under one id). */
  flags: number;
  /** Seconds: ESTABLISHED, FIN_WAIT and UDP idle timeouts (ipvsadm --set tcp tcpfin udp). */
  tmoTcp: number; tmoTcpFin: number; tmoUdp: number;
  /** Real id of this director's own real (LB_RF_LOCAL), 0 = none. */
  localReal: number;
}
export const vipInfo = defineStruct<VipInfo>({
  cName: 'vip_info', size: 40, fields: [
    { name: 'id', offset: 0, type: 'u32' },
    { name: 'sorryReal', cName: 'sorry_real', offset: 4, type: 'u32' },
    { name: 'persistTimeoutMs', cName: 'persist_timeout_ms', offset: 8, type: 'u32' },
    { name: 'tableSize', cName: 'table_size', offset: 12, type: 'u32' },
    { name: 'method', offset: 16, type: 'u8' },
    { name: 'hashFields', cName: 'hash_fields', offset: 17, type: 'u8' },
    { name: 'onDown', cName: 'on_down', offset: 18, type: 'u8' },
    { name: 'persistPrefix', cName: 'persist_prefix', offset: 19, type: 'u8' },
    { name: 'sched', offset: 20, type: 'u8' },
    { name: 'localMode', cName: 'local_mode', offset: 21, type: 'u8' },
    { name: 'flags', offset: 22, type: 'u8' },
    { name: 'pad1', offset: 23, type: { pad: 1 } },
    { name: 'tmoTcp', cName: 'tmo_tcp', offset: 24, type: 'u32' },
    { name: 'tmoTcpFin', cName: 'tmo_tcp_fin', offset: 28, type: 'u32' },
    { name: 'tmoUdp', cName: 'tmo_udp', offset: 32, type: 'u32' },
    { name: 'localReal', cName: 'local_real', offset: 36, type: 'u32' },
  ],
});

/** lb_vip_ids[id]: the VIP's lb_vips key and value, by id (the established-flow fast path). */
export interface VipEntry {
  /** A grouped VIP: its lowest port. */
  key: VipKey; info: VipInfo;
  /** A grouped VIP: its highest port (key.port..portHi spans the group); else 0. */
  portHi: number;
}
export const vipEntry = defineStruct<VipEntry>({
  cName: 'vip_entry', size: 64, fields: [
    { name: 'key', offset: 0, type: { struct: vipKey } },
    { name: 'info', offset: 20, type: { struct: vipInfo } },
    { name: 'portHi', cName: 'port_hi', offset: 60, type: 'be16' },
    { name: 'pad', offset: 62, type: { pad: 2 } },
  ],
});

export interface RealInfo {
  addr: Buffer; mac: string; nexthopMac: string; family: number; state: number; vipId: number; weight: number;
  /** ipvsadm -x / -y: no new flows at upperThreshold connections until below lowerThreshold; 0 = none. */
  upperThreshold: number; lowerThreshold: number;
  /** LB_RF_*: LB_RF_LOCAL = this director's own address (delivered locally, never forwarded). */
  flags: number;
  /** NAT, full-NAT: the real's port (0 = the VIP's). DR and TUN keep the VIP's port. */
  port: number;
}
export const realInfo = defineStruct<RealInfo>({
  cName: 'real_info', size: 64, fields: [
    { name: 'addr', offset: 0, type: { bytes: 16 } },
    { name: 'mac', offset: 16, type: 'mac' },
    { name: 'nexthopMac', cName: 'nexthop_mac', offset: 22, type: 'mac' },
    { name: 'family', offset: 28, type: 'u8' },
    { name: 'state', offset: 29, type: 'u8' },
    { name: 'flags', offset: 30, type: 'u16' },
    { name: 'vipId', cName: 'vip_id', offset: 32, type: 'u32' },
    { name: 'weight', offset: 36, type: 'u32' },
    { name: 'upperThreshold', cName: 'upper_threshold', offset: 40, type: 'u32' },
    { name: 'lowerThreshold', cName: 'lower_threshold', offset: 44, type: 'u32' },
    { name: 'port', offset: 48, type: 'be16' },
    { name: 'pad2', offset: 50, type: { pad: 14 } },
  ],
});

export interface FlowKey { src: Buffer; dst: Buffer; sport: number; dport: number; proto: number; family: number }
export const flowKey = defineStruct<FlowKey>({
  cName: 'flow_key', size: 40, fields: [
    { name: 'src', offset: 0, type: { bytes: 16 } },
    { name: 'dst', offset: 16, type: { bytes: 16 } },
    { name: 'sport', offset: 32, type: 'be16' },
    { name: 'dport', offset: 34, type: 'be16' },
    { name: 'proto', offset: 36, type: 'u8' },
    { name: 'family', offset: 37, type: 'u8' },
    { name: 'pad', offset: 38, type: { pad: 2 } },
  ],
});

/** lb_peers' key: a peer director's (another real's) source MAC and the VIP id. */
export interface PeerKey { mac: string; vipId: number }
export const peerKey = defineStruct<PeerKey>({
  cName: 'peer_key', size: 8, fields: [
    { name: 'mac', offset: 0, type: 'mac' },
    { name: 'vipId', cName: 'vip_id', offset: 6, type: 'u16' },
  ],
});

/** lb_conns' key: an IPv4 flow in 16 bytes (addresses are 4-byte fields here). */
export interface Conn4Key { src: Buffer; dst: Buffer; sport: number; dport: number; proto: number }
export const conn4Key = defineStruct<Conn4Key>({
  cName: 'conn4_key', size: 16, fields: [
    { name: 'src', offset: 0, type: { bytes: 4 } },
    { name: 'dst', offset: 4, type: { bytes: 4 } },
    { name: 'sport', offset: 8, type: 'be16' },
    { name: 'dport', offset: 10, type: 'be16' },
    { name: 'proto', offset: 12, type: 'u8' },
    { name: 'pad', offset: 13, type: { pad: 3 } },
  ],
});

/** Connection states (LB_CS_*): IPVS's numbers and names for TCP. */
export const CONN_STATES: Record<number, string> = {
  0: 'NONE', 1: 'ESTABLISHED', 3: 'SYN_RECV', 4: 'FIN_WAIT', 5: 'TIME_WAIT', 6: 'CLOSE', 11: 'UDP', 12: 'TEMPLATE',
};

export interface ConnValue {
  realId: number; vipId: number; state: number; expires: number;
  /** Full-NAT: 1 + index of the flow's source in its VIP's snat pool (0 = none), and its port. */
  natAddr: number; natPort: number;
}
export const connValue = defineStruct<ConnValue>({
  cName: 'conn_value', size: 16, fields: [
    { name: 'realId', cName: 'real_id', offset: 0, type: 'u32' },
    { name: 'vipId', cName: 'vip_id', offset: 4, type: 'u16' },
    { name: 'state', offset: 6, type: 'u8' },
    { name: 'natAddr', cName: 'nat_addr', offset: 7, type: 'u8' },
    { name: 'expires', offset: 8, type: 'u32' },
    { name: 'natPort', cName: 'nat_port', offset: 12, type: 'be16' },
    { name: 'pad2', offset: 14, type: { pad: 2 } },
  ],
});

/** lb_new's value: an unconfirmed flow's key and entry in one 64-byte slot; key.family 0 = empty. */
export interface NewSlot { key: FlowKey; val: ConnValue }
export const newSlot = defineStruct<NewSlot>({
  cName: 'new_slot', size: 64, fields: [
    { name: 'key', offset: 0, type: { struct: flowKey } },
    { name: 'val', offset: 40, type: { struct: connValue } },
    { name: 'pad', offset: 56, type: { pad: 8 } },
  ],
});

const fmix32 = (x: number): number => {
  let h = x >>> 0;
  h = Math.imul(h ^ (h >>> 16), 0x85ebca6b) >>> 0;
  h = Math.imul(h ^ (h >>> 13), 0xc2b2ae35) >>> 0;
  return (h ^ (h >>> 16)) >>> 0;
};

/**
 * The first slot of a flow_key's pair (40 bytes, as in lb_new) in a table of `n` slots:
 * new_slot_index() of bpf/include/lb_shared.h, word for word; the flow sits in this slot or the
 * next. test/dataplane/new-table.test.ts checks both agree.
 */
export function newSlotIndex(key: Buffer, n: number): number {
  const w = (i: number) => key.readUInt32LE(4 * i);
  let h = fmix32(Math.imul((w(0) ^ w(1) ^ w(2) ^ w(3)) >>> 0, 0x9e3779b1) + w(8));
  h = fmix32(h ^ w(4) ^ w(5) ^ w(6) ^ w(7) ^ Math.imul(w(9), 0x27d4eb2f));
  return 2 * Number((BigInt(h) * BigInt(n >>> 1)) >> 32n);
}

/** lb_conns's value: a 64-byte line of two confirmed IPv4 flows; key.proto 0 = a free entry. */
export interface Conn4Entry { k: Conn4Key; v: ConnValue }
export const conn4Entry = defineStruct<Conn4Entry>({
  cName: 'conn4_entry', size: 32, fields: [
    { name: 'k', offset: 0, type: { struct: conn4Key } },
    { name: 'v', offset: 16, type: { struct: connValue } },
  ],
});

/** The two lines a confirmed IPv4 flow may sit in (conn4_hash, conn4_line1, conn4_line2 of bpf/include/lb_shared.h) in a table of `n` lines. */
export function conn4Lines(key: Buffer, n: number): [number, number] {
  const w = (i: number) => key.readUInt32LE(4 * i);
  const h = fmix32(fmix32(Math.imul(w(0), 0x9e3779b1) + w(2)) ^ w(1) ^ Math.imul(w(3), 0x27d4eb2f));
  const range = (x: number) => Number((BigInt(x >>> 0) * BigInt(n)) >> 32n);
  return [range(h), range(fmix32(h ^ 0x5bd1e995))];
}

/** lb_nat_rev's value: the forward flow (client -> VIP) a reply belongs to. */
export interface NatRev { orig: FlowKey; realId: number; vipId: number }
export const natRev = defineStruct<NatRev>({
  cName: 'nat_rev', size: 48, fields: [
    { name: 'orig', offset: 0, type: { struct: flowKey } },
    { name: 'realId', cName: 'real_id', offset: 40, type: 'u32' },
    { name: 'vipId', cName: 'vip_id', offset: 44, type: 'u32' },
  ],
});

/** lb_snat[vip id]: a full-NAT VIP's source pool (LB.SNAT_ADDRS addresses at most). */
export interface SnatPool { addr: Buffer; portLo: number; portHi: number; count: number; family: number }
export const snatPool = defineStruct<SnatPool>({
  cName: 'snat_pool', size: 136, fields: [
    { name: 'addr', offset: 0, type: { bytes: 128 } },
    { name: 'portLo', cName: 'port_lo', offset: 128, type: 'u16' },
    { name: 'portHi', cName: 'port_hi', offset: 130, type: 'u16' },
    { name: 'count', offset: 132, type: 'u8' },
    { name: 'family', offset: 133, type: 'u8' },
    { name: 'pad', offset: 134, type: { pad: 2 } },
  ],
});

/** lb_real_load[real id]: the data plane's counts (atomic adds); fix: the census's correction. */
export interface RealLoad { active: bigint; inactive: bigint; overloaded: number }
export const realLoad = defineStruct<RealLoad>({
  cName: 'real_load', size: 24, fields: [
    { name: 'active', offset: 0, type: 's64' },
    { name: 'inactive', offset: 8, type: 's64' },
    { name: 'overloaded', offset: 16, type: 'u32' },
    { name: 'pad', offset: 20, type: { pad: 4 } },
  ],
});

/**
 * lb_real_load_fix[real id]: the census's correction (src/conns/census.ts, fixesFor), written only
 * by the connection-table worker after each walk, so that load + fix is the walk's live count;
 * nothing else writes it (the data plane only reads it).
 */
export interface RealLoadFix { active: bigint; inactive: bigint }
export const realLoadFix = defineStruct<RealLoadFix>({
  cName: 'real_load_fix', size: 16, fields: [
    { name: 'active', offset: 0, type: 's64' },
    { name: 'inactive', offset: 8, type: 's64' },
  ],
});

export interface LbFlowStats { unconfirmed: bigint; confirmed: bigint; reused: bigint; expired: bigint; displaced: bigint }
export const lbFlowStats = defineStruct<LbFlowStats>({
  cName: 'lb_flow_stats', size: 40, fields: [
    { name: 'unconfirmed', offset: 0, type: 'u64' },
    { name: 'confirmed', offset: 8, type: 'u64' },
    { name: 'reused', offset: 16, type: 'u64' },
    { name: 'expired', offset: 24, type: 'u64' },
    { name: 'displaced', offset: 32, type: 'u64' },
  ],
});

export interface PersistKey { client: Buffer; vipId: number; family: number }
export const persistKey = defineStruct<PersistKey>({
  cName: 'persist_key', size: 24, fields: [
    { name: 'client', offset: 0, type: { bytes: 16 } },
    { name: 'vipId', cName: 'vip_id', offset: 16, type: 'u32' },
    { name: 'family', offset: 20, type: 'u8' },
    { name: 'pad', offset: 21, type: { pad: 3 } },
  ],
});

export interface PersistValue { realId: number; lastUsedNs: bigint }
export const persistValue = defineStruct<PersistValue>({
  cName: 'persist_value', size: 16, fields: [
    { name: 'realId', cName: 'real_id', offset: 0, type: 'u32' },
    { name: 'pad', offset: 4, type: { pad: 4 } },
    { name: 'lastUsedNs', cName: 'last_used_ns', offset: 8, type: 'u64' },
  ],
});

export interface LbConfig {
  mac: string; tunSrc4: Buffer; tunSrc6: Buffer; mtu: number; hashSeed: number;
  /** CLOCK_MONOTONIC in whole seconds (the flow clock, Flows.tickClock); 0 = unset. */
  nowS: number;
}
export const lbConfig = defineStruct<LbConfig>({
  cName: 'lb_config', size: 40, fields: [
    { name: 'mac', offset: 0, type: 'mac' },
    { name: 'pad0', offset: 6, type: { pad: 2 } },
    { name: 'tunSrc4', cName: 'tun_src4', offset: 8, type: { bytes: 4 } },
    { name: 'tunSrc6', cName: 'tun_src6', offset: 12, type: { bytes: 16 } },
    { name: 'mtu', offset: 28, type: 'u32' },
    { name: 'hashSeed', cName: 'hash_seed', offset: 32, type: 'u32' },
    { name: 'nowS', cName: 'now_s', offset: 36, type: 'u32' },
  ],
});

export interface LbCounters { packets: bigint; bytes: bigint; newFlows: bigint }
export const lbCounters = defineStruct<LbCounters>({
  cName: 'lb_counters', size: 24, fields: [
    { name: 'packets', offset: 0, type: 'u64' },
    { name: 'bytes', offset: 8, type: 'u64' },
    { name: 'newFlows', cName: 'new_flows', offset: 16, type: 'u64' },
  ],
});

/**
 * Verdict reasons (enum lb_reason): code → name of its counter in lb_reason_stats. Stable: a
 * code is never renumbered or reused; a retired one keeps its slot.
 */
export const REASONS = [
  'unused', 'tx_dr', 'tx_tun', 'not_ip', 'not_vip', 'proto', 'malformed', 'fragment', 'ip_options',
  'ipv6_ext', 'ttl', 'no_real', 'tx_too_big', 'drop_too_big', 'config', 'internal', 'not_ours',
  'no_accept', 'tx_icmp', 'conn_expired',
  // 20 is LB_PASS_LOCAL's (another change); NAT and full-NAT from 21.
  'local', 'tx_nat', 'redir_nat', 'tx_nat_reply', 'redir_nat_reply', 'redir_icmp', 'nat_no_entry',
  'no_neigh', 'no_route', 'no_tx_port', 'snat_exhausted',
] as const;
export type ReasonName = (typeof REASONS)[number];
export type LbReasonStats = Record<ReasonName, bigint>;
export const lbReasonStats = defineStruct<LbReasonStats>({
  cName: 'lb_reason_stats', size: 8 * REASONS.length,
  fields: REASONS.map((name, i) => ({ name, offset: 8 * i, type: 'u64' as const })),
});

/** lb_ifaces[ifindex]: an interface the lb program runs on and its MAC (NAT replies come to it). */
export interface LbIface { mac: string }
export const lbIface = defineStruct<LbIface>({
  cName: 'lb_iface', size: 8, fields: [
    { name: 'mac', offset: 0, type: 'mac' },
    { name: 'pad', offset: 6, type: { pad: 2 } },
  ],
});

export interface DecapKey { addr: Buffer; family: number }
export const decapKey = defineStruct<DecapKey>({
  cName: 'decap_key', size: 20, fields: [
    { name: 'addr', offset: 0, type: { bytes: 16 } },
    { name: 'family', offset: 16, type: 'u8' },
    { name: 'pad', offset: 17, type: { pad: 3 } },
  ],
});

export interface DecapStats { decap4: bigint; decap6: bigint; notOurs: bigint; passed: bigint }
export const decapStats = defineStruct<DecapStats>({
  cName: 'decap_stats', size: 32, fields: [
    { name: 'decap4', offset: 0, type: 'u64' },
    { name: 'decap6', offset: 8, type: 'u64' },
    { name: 'notOurs', cName: 'not_ours', offset: 16, type: 'u64' },
    { name: 'passed', offset: 24, type: 'u64' },
  ],
});

/** Constants of lb_shared.h the control plane needs (same names, same values). */
export const LB = {
  MAX_VIPS: 1024,
  /** LB_VIP_KEYS: lb_vips' entries, one per port of every service (a grouped one has many). */
  VIP_KEYS: 65536,
  /** vip_info.flags: a grouped service (port list or ranges under one VIP id). */
  VIP_F_GROUP: 0x01,
  MAX_REALS: 65536,
  /** LB_MAGLEV_MAX: the largest per-VIP Maglev table (prime; the inner map's max_entries). */
  MAGLEV_MAX: 1048573,
  /** Default max_entries of the flow tables (LB_CONN_ENTRIES …), each shared by per-CPU LRU
   *  lists (BPF_F_NO_COMMON_LRU); the daemon sizes them from the topology. */
  CONN_ENTRIES: 1048576,
  CONN6_ENTRIES: 262144,
  NEW_ENTRIES: 131072,
  PERSIST_ENTRIES: 262144,
  SCHED_HASH: 0,
  SCHED_LC: 1,
  SCHED_WLC: 2,
  CS_NONE: 0,
  CS_ESTABLISHED: 1,
  CS_SYN_RECV: 3,
  CS_FIN_WAIT: 4,
  CS_TIME_WAIT: 5,
  CS_CLOSE: 6,
  CS_UDP: 11,
  CS_TEMPLATE: 12,
  AF_INET: 4,
  AF_INET6: 6,
  METHOD_DR: 1,
  METHOD_TUN: 2,
  METHOD_NAT: 3,
  METHOD_FULLNAT: 4,
  /** Addresses of one full-NAT pool (LB_SNAT_ADDRS). */
  SNAT_ADDRS: 8,
  /** Default max_entries of lb_nat_rev (LB_NAT_ENTRIES). */
  NAT_ENTRIES: 262144,
  /** Interfaces the lb program may redirect to (LB_TX_PORTS). */
  TX_PORTS: 64,
  HASH_SRC_ADDR: 0x01,
  HASH_SRC_PORT: 0x02,
  HASH_DST_ADDR: 0x04,
  HASH_DST_PORT: 0x08,
  HASH_PROTO: 0x10,
  HASH_5TUPLE: 0x1f,
  ON_DOWN_EXPIRE: 1,
  ON_DOWN_KEEP: 2,
  REAL_NONE: 0,
  REAL_UP: 1,
  REAL_DRAIN: 2,
  REAL_DOWN: 3,
  VIP_FILTER_BITS: 16,
  VIP_FILTER_SLOTS: 1 << 16,
  VIP_FILTER_MULT: 0x9e3779b9,
  VF_TCP: 0x01,
  VF_TCP_ALL: 0x02,
  VF_UDP: 0x04,
  VF_UDP_ALL: 0x08,
  /** An address of a VRRP instance in no-accept mode (lb_no_accept). */
  VF_NO_ACCEPT: 0x10,
  /** vip_info.local_mode: no local real; we hold the VIP; we do not (deliver everything here). */
  LOCAL_NONE: 0,
  LOCAL_ACTIVE: 1,
  LOCAL_BACKUP: 2,
  /** real_info.flags: this director's own address. */
  RF_LOCAL: 0x0001,
  MAX_PEERS: 65536,
  /** The address of a NAT or full-NAT real (source slot of its replies). */
  VF_NAT_SRC: 0x20,
  /** An address of a full-NAT source pool. */
  VF_SNAT: 0x40,
  /** Every slot while some VIP is NAT or full-NAT (the source slot may have VF_NAT_SRC). */
  VF_NAT_ON: 0x80,
  /** BPF_F_INNER_MAP (uapi/linux/bpf.h): inner maps of one outer may differ in max_entries. */
  F_INNER_MAP: 1 << 12,
  /** BPF_F_MMAPABLE: an array the control plane can write through mmap (Maglev tables). */
  F_MMAPABLE: 1 << 10,
} as const;

/**
 * lb_vip_filter slot of a 16-byte key address (lb_vip_slot in bpf/lb.bpf.c): the four 32-bit
 * words as the host loads them, XORed, times VIP_FILTER_MULT, top VIP_FILTER_BITS bits.
 */
export function vipFilterSlot(addr: Buffer): number {
  const le = os.endianness() === 'LE';
  let x = 0;
  for (let i = 0; i < 16; i += 4) x ^= le ? addr.readUInt32LE(i) : addr.readUInt32BE(i);
  return Math.imul(x, LB.VIP_FILTER_MULT) >>> (32 - LB.VIP_FILTER_BITS);
}

/** The lb_vip_filter bit of a VIP (LB_VF_*): by protocol (6 TCP, 17 UDP) and port 0 or not. */
export function vipFilterBit(proto: number, port: number): number {
  if (proto === 17) return port === 0 ? LB.VF_UDP_ALL : LB.VF_UDP;
  return port === 0 ? LB.VF_TCP_ALL : LB.VF_TCP;
}

/** Map names in build/bpf/lb.bpf.o and build/bpf/decap.bpf.o (also their pin file names). */
export const LB_MAPS = ['lb_vips', 'lb_reals', 'lb_cfg', 'lb_maglev', 'lb_conns', 'lb_conns6', 'lb_new', 'lb_persist', 'lb_real_load', 'lb_real_load_fix', 'lb_flow_stats', 'lb_vip_stats', 'lb_real_stats', 'lb_reasons', 'lb_vip_filter', 'lb_vip_ids', 'lb_no_accept', 'lb_peers', 'lb_nat_rev', 'lb_snat', 'lb_tx_ports', 'lb_ifaces'] as const;
