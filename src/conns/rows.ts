// One flow-table entry as a listing shows it (ipvsadm -Lnc: pro, expire, state, source,
// virtual, destination; and whether the flow is confirmed, i.e. in lb_conns/lb_conns6 rather
// than lb_new). Built from raw keys/values (src/conns/tables.ts) in the worker; the text form
// is the CLI's.
import { formatAddr, AF4 } from '../dataplane/addr';
import { hostPort } from '../common/address';
import { CONN_STATES } from '../maps/lb';
import { KeyLayout, V_EXPIRES, V_REAL, V_STATE, V_VIP, familyOf } from './tables';

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
  /** The real's `address:port` (DR and TUN keep the VIP's port), or `#id` for a real no longer configured. */
  real: string;
  realId: number;
  vipId: number;
}

/** `address:port` of the address at `at` (IPv4 written directly: the listing's hot path). */
function endpoint(keys: Buffer, at: number, family: number, port: number): string {
  if (family === AF4) return `${keys[at]}.${keys[at + 1]}.${keys[at + 2]}.${keys[at + 3]}:${port}`;
  return hostPort(formatAddr(keys.subarray(at, at + 16), family), port);
}

/** The row of the entry at key offset `ko` (layout `l`) / value offset `vo`, at data-plane second `now`. */
function rowOf(l: KeyLayout, confirmed: boolean, keys: Buffer, ko: number, values: Buffer, vo: number, now: number, realAddr: (id: number) => string | undefined): ConnRow {
  const family = familyOf(l, keys, ko);
  const dport = keys.readUInt16BE(ko + l.dport);
  const realId = values.readUInt32LE(vo + V_REAL);
  const st = values[vo + V_STATE];
  const left = (values.readUInt32LE(vo + V_EXPIRES) - now) | 0;
  const addr = realAddr(realId);
  return {
    proto: keys[ko + l.proto] === 17 ? 'udp' : 'tcp',
    state: CONN_STATES[st] ?? `STATE_${st}`,
    expiresIn: left > 0 ? left : 0,
    confirmed,
    client: endpoint(keys, ko + l.src, family, keys.readUInt16BE(ko + l.sport)),
    vip: endpoint(keys, ko + l.dst, family, dport),
    real: addr === undefined ? `#${realId}` : hostPort(addr, dport),
    realId,
    vipId: values.readUInt16LE(vo + V_VIP),
  };
}

/**
 * rowOf as the JSON text of a control-socket item line (`{"item":{…}}\n`): every field is a
 * number, a boolean, a state name or an address/port text that needs no escaping, so no
 * JSON.stringify per row.
 */
export function rowLine(l: KeyLayout, confirmed: boolean, keys: Buffer, ko: number, values: Buffer, vo: number, now: number, realAddr: (id: number) => string | undefined): string {
  const r = rowOf(l, confirmed, keys, ko, values, vo, now, realAddr);
  return `{"item":{"proto":"${r.proto}","state":"${r.state}","expiresIn":${r.expiresIn},"confirmed":${r.confirmed},"client":"${r.client}","vip":"${r.vip}","real":"${r.real}","realId":${r.realId},"vipId":${r.vipId}}}\n`;
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
  return `${r.proto.toUpperCase().padEnd(4)}${formatExpire(r.expiresIn).padEnd(8)}${r.state.padEnd(12)}${r.client.padEnd(46)}${r.vip.padEnd(46)}${r.real.padEnd(46)}${r.confirmed ? 'yes' : 'no'}\n`;
}
