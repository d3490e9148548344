// Addresses as the data plane stores them: 16 bytes, IPv4 in the first 4 (the rest zero) with
// family 4, IPv6 as is with family 6 (bpf/include/lb_shared.h). Parsing names what is wrong.
import * as net from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import { parseIpv6, formatIpv6, formatIpv4, parseMac, formatMac } from '../maps/addr';
import { expandRuns, parsePortSpec, portSpecOf } from '../common/ports';

/** Stored family values (LB_AF_INET / LB_AF_INET6 in lb_shared.h). */
export const AF4 = 4;
export const AF6 = 6;
export type Family = typeof AF4 | typeof AF6;

export interface Addr {
  family: Family;
  /** 16 bytes, as stored in keys. */
  bytes: Buffer;
  /** Canonical text (IPv6 compressed, lower case). */
  text: string;
}

function usage(what: string, msg: string): XlvsError {
  return new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${what}: ${msg}`);
}

/** Parses an IPv4 or IPv6 address; `what` names the field in the error. */
export function parseAddr(s: string, what: string): Addr {
  if (typeof s !== 'string') throw usage(what, `expected an IP address, got ${typeof s}`);
  if (net.isIPv4(s)) {
    const bytes = Buffer.alloc(16);
    Buffer.from(s.split('.').map(Number)).copy(bytes, 0);
    return { family: AF4, bytes, text: s };
  }
  if (net.isIPv6(s)) {
    const b = parseIpv6(s);
    return { family: AF6, bytes: b, text: formatIpv6(b) };
  }
  throw usage(what, `"${s}" is not an IPv4 or IPv6 address`);
}

/** Text of a stored address (RFC 5952 for IPv6). */
export function formatAddr(bytes: Buffer, family: number): string {
  return family === AF4 ? formatIpv4(bytes.subarray(0, 4)) : formatIpv6(bytes.subarray(0, 16));
}

/** "aa:bb:cc:dd:ee:ff" → 6 bytes. */
export function parseMacAt(s: string, what: string): Buffer {
  try {
    return parseMac(s);
  } catch {
    throw usage(what, `"${String(s)}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  }
}

export { formatMac };

/** `10.0.0.1:80/tcp`, `[2001:db8::1]:443/tcp` — the service key used across xlvs; a grouped
 *  service has its canonical port list instead of the port (`10.0.0.1:80,443,8000-8100/tcp`). */
export function serviceKey(address: Addr, port: number | string, protocol: string): string {
  return address.family === AF6 ? `[${address.text}]:${port}/${protocol}` : `${address.text}:${port}/${protocol}`;
}

/** Inverse of serviceKey. `ports` is the canonical port list of a grouped service (two ports
 *  or more), else null; a group's `port` is 0. A list of one port is that port's key. */
export function parseServiceKey(key: string): { address: Addr; port: number; protocol: 'tcp' | 'udp'; ports: string | null } {
  const m = /^(?:\[([^\]]+)\]|([^:/\[\]]+)):([\d,-]+)\/(tcp|udp)$/.exec(key);
  if (!m) throw usage('vip', `"${key}" is not a service key (address:port/tcp|udp or address:80,443,8000-8100/tcp, IPv6 in brackets)`);
  const address = parseAddr(m[1] ?? m[2], `vip "${key}" address`);
  const protocol = m[4] as 'tcp' | 'udp';
  if (/^\d+$/.test(m[3])) {
    const port = Number(m[3]);
    if (port > 65535) throw usage('vip', `"${key}": port ${port} is not 0..65535`);
    return { address, port, protocol, ports: null };
  }
  const runs = parsePortSpec(m[3]);
  if (!runs) throw usage('vip', `"${key}": ${m[3]} is not a port list (e.g. 80,443,8000-8100, ports 1..65535)`);
  const list = expandRuns(runs);
  if (list.length === 1) return { address, port: list[0], protocol, ports: null };
  return { address, port: 0, protocol, ports: portSpecOf(list) };
}
