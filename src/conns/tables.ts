// The three flow tables of the data plane (bpf/include/conntrack.h) as the connection-table
// worker reads them: raw keys and values from BPF_MAP_LOOKUP_BATCH, no codec per entry.
//  - lb_conns: confirmed IPv4 flows, struct conn4_key (16 bytes): src@0 dst@4 (4 bytes each),
//    sport@8 dport@10 (network order), proto@12. An ARRAY of 64-byte lines of two 32-byte
//    entries (struct conn4_line: the key at 0, the conn_value at 16; proto 0 = a free entry);
//  - lb_conns6: confirmed IPv6 flows, struct flow_key (40 bytes): src[16]@0 dst[16]@16, sport@32
//    dport@34, proto@36, family@37;
//  - lb_new: unconfirmed flows of both families (flow_key), and the persistence templates of
//    unconfirmed flows (state LB_CS_TEMPLATE, proto 0): not connections, skipped everywhere.
//    lb_new is an ARRAY of 64-byte slots (struct new_slot: the flow_key at 0, the conn_value at
//    40; family 0 = an empty slot). flowChunks() hands the occupied entries of both arrays on
//    as keys and values, as lb_conns6 gives them.
// The value is struct conn_value (16 bytes) in all three: real_id@0 (u32), vip_id@4 (u16),
// state@6 (u8, LB_CS_*), nat_addr@7 (u8), expires@8 (u32, the CLOCK_MONOTONIC second after which
// it is unused), nat_port@12 (be16: full-NAT's source binding).
import { AF4 } from '../dataplane/addr';
import type { BpfMap } from '../loader';
import { LB } from '../maps/lb';

export interface KeyLayout {
  size: number;
  /** Bytes of each address in the key: 4 (conn4_key) or 16 (flow_key). */
  addrLen: number;
  src: number;
  dst: number;
  sport: number;
  dport: number;
  proto: number;
  /** Offset of the family byte, or null when the table holds one family (conn4_key: IPv4). */
  family: number | null;
}

export const CONN4_KEY: KeyLayout = { size: 16, addrLen: 4, src: 0, dst: 4, sport: 8, dport: 10, proto: 12, family: null };
export const FLOW_KEY: KeyLayout = { size: 40, addrLen: 16, src: 0, dst: 16, sport: 32, dport: 34, proto: 36, family: 37 };

export const CONN_VALUE_SIZE = 16;
export const V_REAL = 0;
export const V_VIP = 4;
export const V_STATE = 6;
export const V_EXPIRES = 8;
/** Full-NAT: 1 + the pool address index (u8) and the source port (network order). */
export const V_NAT_ADDR = 7;
export const V_NAT_PORT = 12;

/** An ARRAY whose values hold entries (key, then conn_value), `per` of `size` bytes each. */
export interface SlotLayout {
  /** Bytes of the map's value. */
  valueSize: number;
  /** Entries per value, and the bytes of each. */
  per: number;
  size: number;
  /** Offset of the conn_value in an entry (its key is at 0). */
  value: number;
  /** Offset in the key of a byte that is 0 in a free entry. */
  empty: number;
}

export interface FlowTable {
  map: 'lb_conns' | 'lb_conns6' | 'lb_new'; key: KeyLayout; confirmed: boolean;
  /** An ARRAY of entries managed by the program, not a hash of key -> value. */
  slots?: SlotLayout;
}

/** In walk order: lb_conns first (a data plane without it is no data plane at all). */
export const FLOW_TABLES: readonly FlowTable[] = [
  { map: 'lb_conns', key: CONN4_KEY, confirmed: true, slots: { valueSize: 64, per: 2, size: 32, value: 16, empty: CONN4_KEY.proto } },
  { map: 'lb_conns6', key: FLOW_KEY, confirmed: true },
  { map: 'lb_new', key: FLOW_KEY, confirmed: false, slots: { valueSize: 64, per: 1, size: 64, value: 40, empty: FLOW_KEY.family! } },
];

export const CS_ESTABLISHED = LB.CS_ESTABLISHED;
export const CS_TEMPLATE = LB.CS_TEMPLATE;

/** The key's family (LB_AF_*). */
export function familyOf(l: KeyLayout, keys: Buffer, ko: number): number {
  return l.family === null ? AF4 : keys[ko + l.family];
}

/**
 * Whether an entry that expires at `expires` is expired at second `now`: as the data plane's
 * cs_expired(), (s32)(now - expires) > 0, so a wrap of the u32 second is harmless.
 */
export function isExpired(expires: number, now: number): boolean {
  return ((now - expires) | 0) > 0;
}

/** The entry at value offset `vo` is a connection at second `now`: not a template, not expired. */
export function liveConn(values: Buffer, vo: number, now: number): boolean {
  return values[vo + V_STATE] !== CS_TEMPLATE && !isExpired(values.readUInt32LE(vo + V_EXPIRES), now);
}

/** The occupied entries of `count` values of a slot table as keys and values laid out like a hash's. */
export function slotEntries(l: SlotLayout, keySize: number, values: Buffer, count: number): { keys: Buffer; values: Buffer; count: number } {
  const at = (i: number) => Math.floor(i / l.per) * l.valueSize + (i % l.per) * l.size;
  const total = count * l.per;
  let n = 0;
  for (let i = 0; i < total; i++) if (values[at(i) + l.empty] !== 0) n++;
  const keys = Buffer.allocUnsafe(n * keySize);
  const out = Buffer.allocUnsafe(n * CONN_VALUE_SIZE);
  for (let i = 0, j = 0; i < total; i++) {
    const o = at(i);
    if (values[o + l.empty] === 0) continue;
    values.copy(keys, j * keySize, o, o + keySize);
    values.copy(out, j * CONN_VALUE_SIZE, o + l.value, o + l.value + CONN_VALUE_SIZE);
    j++;
  }
  return { keys, values: out, count: n };
}

/**
 * A flow table's entries in chunks of at most `chunk` values, as keys and values: the hash
 * through BPF_MAP_LOOKUP_BATCH, the arrays through their mapping (BpfMap.mmappedChunks: the
 * batch call copies an array element by element, about a second for a default lb_conns).
 */
export function* flowChunks(m: BpfMap, t: FlowTable, chunk: number): Generator<{ keys: Buffer; values: Buffer; count: number }> {
  if (!t.slots) {
    yield* m.lookupBatchChunks(chunk);
    return;
  }
  for (const c of m.mmappedChunks(chunk)) yield slotEntries(t.slots, t.key.size, c.values, c.count);
}
