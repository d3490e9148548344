// One flow-table entry as a listing shows it (ipvsadm -Lnc: pro, expire, state, source,
// virtual, destination; and whether the flow is confirmed, i.e. in lb_conns/lb_conns6 rather
// than lb_new). Built from raw keys/values (src/conns/tables.ts) in the worker; the text form
// is the CLI's.
import { formatAddr, AF4 } from '../dataplane/addr';
import { hostPort } from '../common/address';
import { CONN_STATES } from '../maps/lb';
import { KeyLayout, V_EXPIRES, V_REAL, V_STATE, V_VIP, V_NAT_ADDR, V_NAT_PORT, familyOf } from './tables';

export interface ConnRow {
  proto: 'tcp' | 'udp';
  /** IPVS's state name (ESTABLISHED, SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, NONE) or UDP. */
  state: string;
  /** Seconds until the entry expires (the data plane's clock, 1 s resolution). */
  expiresIn: number;
  /** A second packet of the flow was seen (lb_conns / lb_conns6); false: lb_new. */
  confirmed: boolean;
  /** `address:port` (IPv6 in brackets). */
  client: string;
  vip: string;
  /** The real's `address:port` (DR and TUN keep the VIP's port; NAT: the real's own), or `#id` for a real no longer configured. */
  real: string;
  realId: number;
  vipId: number;
  /** Full-NAT: the source the real sees (`pool address:port`), the director's mapping. */
  snat?: string;
}

/** What a row needs besides the entry: each real's address and port (0 = the VIP's), and the
 *  address of a full-NAT VIP's pool by index (1-based, as conn_value.nat_addr holds it). */
export interface RowNames {
  real(id: number): { address: string; port: number } | undefined;
  pool(vipId: number, ix: number): string | undefined;
}

/** `address:port` of the address at `at` (IPv4 written directly: the listing's hot path). */
function endpoint(keys: Buffer, at: number, family: number, port: number): string {
  if (family === AF4) return `${keys[at]}.${keys[at + 1]}.${keys[at + 2]}.${keys[at + 3]}:${port}`;
  return hostPort(formatAddr(keys.subarray(at, at + 16), family), port);
}

/** The row of the entry at key offset `ko` (layout `l`) / value offset `vo`, at data-plane second `now`. */
function rowOf(l: KeyLayout, confirmed: boolean, keys: Buffer, ko: number, values: Buffer, vo: number, now: number, names: RowNames): ConnRow {
  const family = familyOf(l, keys, ko);
  const dport = keys.readUInt16BE(ko + l.dport);
  const realId = values.readUInt32LE(vo + V_REAL);
  const st = values[vo + V_STATE];
  const left = (values.readUInt32LE(vo + V_EXPIRES) - now) | 0;
  const real = names.real(realId);
  const vipId = values.readUInt16LE(vo + V_VIP);
  const natAddr = values[vo + V_NAT_ADDR];
  const pool = natAddr ? names.pool(vipId, natAddr) : undefined;
  const row: ConnRow = {
    proto: keys[ko + l.proto] === 17 ? 'udp' : 'tcp',
    state: CONN_STATES[st] ?? `STATE_${st}`,
    expiresIn: left > 0 ? left : 0,
    confirmed,
    client: endpoint(keys, ko + l.src, family, keys.readUInt16BE(ko + l.sport)),
    vip: endpoint(keys, ko + l.dst, family, dport),
    real: real === undefined ? `#${realId}` : hostPort(real.address, real.port || dport),
    realId,
    vipId,
  };
  if (pool !== undefined) row.snat = hostPort(pool, values.readUInt16BE(vo + V_NAT_PORT));
  return row;
}

/**
 * rowOf as the JSON text of a control-socket item line (`{"item":{…}}\n`): every field is a
 * number, a boolean, a state name or an address/port text that needs no escaping, so no
 * JSON.stringify per row.
 */
export function rowLine(l: KeyLayout, confirmed: boolean, keys: Buffer, ko: number, values: Buffer, vo: number, now: number, names: RowNames): string {
  const r = rowOf(l, confirmed, keys, ko, values, vo, now, names);
  const snat = r.snat === undefined ? '' : `,"snat":"${r.snat}"`;
  return `{"item":{"proto":"${r.proto}","state":"${r.state}","expiresIn":${r.expiresIn},"confirmed":${r.confirmed},"client":"${r.client}","vip":"${r.vip}","real":"${r.real}","realId":${r.realId},"vipId":${r.vipId}${snat}}}\n`;
}

/** mm:ss (h:mm:ss past an hour), as ipvsadm prints its expire column. */
export function formatExpire(seconds: number): string {
  const s = Math.max(0, Math.floor(seconds));
  const two = (n: number) => String(n).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

/** ipvsadm -Lnc's columns, then whether the flow is confirmed (a second packet seen). */
export const CONN_HEADER = 'Pro Expire  State       Source                                        Virtual                                       Destination                                   Confirmed\n';

export function formatConnRow(r: ConnRow): string {
  // Full-NAT: the source the real sees, after the columns ipvsadm has.
  const via = r.snat === undefined ? '' : `        via ${r.snat}`;
  return `${r.proto.toUpperCase().padEnd(4)}${formatExpire(r.expiresIn).padEnd(8)}${r.state.padEnd(12)}${r.client.padEnd(46)}${r.vip.padEnd(46)}${r.real.padEnd(46)}${r.confirmed ? 'yes' : 'no '}${via}\n`.replace(/ +\n$/, '\n');
}
