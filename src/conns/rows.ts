// One connection-table entry as a listing shows it (ipvsadm -Lnc: pro, expire, source,
// virtual, destination; we show idle time, having no TCP state to expire by). Built from raw
// lb_conns keys/values in the worker; the text form is the CLI's.
import { formatAddr } from '../dataplane/addr';
import { hostPort } from '../config/address';

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

/** The row of the entry at key offset `ko` / value offset `vo` (flow_key / conn_value layouts in filter.ts). */
export function rowOf(keys: Buffer, ko: number, values: Buffer, vo: number, nowNs: bigint, realAddr: (id: number) => string | undefined): ConnRow {
  const family = keys[ko + 37];
  const dport = keys.readUInt16BE(ko + 34);
  const realId = values.readUInt32LE(vo);
  const last = values.readBigUInt64LE(vo + 8);
  const addr = realAddr(realId);
  return {
    proto: keys[ko + 36] === 17 ? 'udp' : 'tcp',
    idleMs: last >= nowNs ? 0 : Number((nowNs - last) / 1_000_000n),
    client: hostPort(formatAddr(keys.subarray(ko, ko + 16), family), keys.readUInt16BE(ko + 32)),
    vip: hostPort(formatAddr(keys.subarray(ko + 16, ko + 32), family), dport),
    real: addr === undefined ? `#${realId}` : hostPort(addr, dport),
    realId,
    vipId: values.readUInt32LE(vo + 4),
  };
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
