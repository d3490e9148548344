// One connection-table entry as a listing shows it (ipvsadm -Lnc: pro, expire, source,
// virtual, destination; we show idle time, having no TCP state to expire by). Built from raw
// lb_conns keys/values in the worker; the text form is the CLI's.
import { formatAddr, AF4 } from '../dataplane/addr';
import { hostPort } from '../common/address';

export interface ConnRow {
  proto: 'tcp' | 'udp';
  /** Since the flow's last packet (resolution: the daemon's clock tick, 1 s). */
  idleMs: number;
  /** `address:port` (IPv6 in brackets). */
  client: string;
  vip: string;
  /** The real's `address:port` (DR and TUN keep the VIP's port), or `#id` for a real no longer configured. */
  real: string;
  realId: number;
  vipId: number;
}

/** `address:port` of the 16-byte address at `at` (IPv4 written directly: the listing's hot path). */
function endpoint(keys: Buffer, at: number, family: number, port: number): string {
  if (family === AF4) return `${keys[at]}.${keys[at + 1]}.${keys[at + 2]}.${keys[at + 3]}:${port}`;
  return hostPort(formatAddr(keys.subarray(at, at + 16), family), port);
}

/** A u64 (CLOCK_MONOTONIC ns) as a double: exact to a few ns for years of uptime, plenty for idle milliseconds, and no BigInt per row. */
function u64(b: Buffer, at: number): number {
  return b.readUInt32LE(at + 4) * 4294967296 + b.readUInt32LE(at);
}

/** The row of the entry at key offset `ko` / value offset `vo` (flow_key / conn_value layouts in filter.ts); `nowNs` as from process.hrtime.bigint(), as a number. */
function rowOf(keys: Buffer, ko: number, values: Buffer, vo: number, nowNs: number, realAddr: (id: number) => string | undefined): ConnRow {
  const family = keys[ko + 37];
  const dport = keys.readUInt16BE(ko + 34);
  const realId = values.readUInt32LE(vo);
  const idle = nowNs - u64(values, vo + 8);
  const addr = realAddr(realId);
  return {
    proto: keys[ko + 36] === 17 ? 'udp' : 'tcp',
    idleMs: idle > 0 ? Math.floor(idle / 1e6) : 0,
    client: endpoint(keys, ko, family, keys.readUInt16BE(ko + 32)),
    vip: endpoint(keys, ko + 16, family, dport),
    real: addr === undefined ? `#${realId}` : hostPort(addr, dport),
    realId,
    vipId: values.readUInt32LE(vo + 4),
  };
}

/**
 * rowOf as the JSON text of a control-socket item line (`{"item":{…}}\n`): every field is a
 * number or an address/port text that needs no escaping, so no JSON.stringify per row.
 */
export function rowLine(keys: Buffer, ko: number, values: Buffer, vo: number, nowNs: number, realAddr: (id: number) => string | undefined): string {
  const r = rowOf(keys, ko, values, vo, nowNs, realAddr);
  return `{"item":{"proto":"${r.proto}","idleMs":${r.idleMs},"client":"${r.client}","vip":"${r.vip}","real":"${r.real}","realId":${r.realId},"vipId":${r.vipId}}}\n`;
}

/** mm:ss (hh:mm:ss past an hour), as ipvsadm prints its expire column. */
export function formatIdle(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, '0');
  return s >= 3600 ? `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}` : `${two(Math.floor(s / 60))}:${two(s % 60)}`;
}

export const CONN_HEADER = 'Pro Idle     Source                                        Virtual                                       Destination\n';

export function formatConnRow(r: ConnRow): string {
  return `${r.proto.toUpperCase().padEnd(4)}${formatIdle(r.idleMs).padEnd(9)}${r.client.padEnd(46)}${r.vip.padEnd(46)}${r.real}\n`;
}
