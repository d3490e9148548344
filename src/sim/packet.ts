// Frames for `xlvs simulate`: one Ethernet + IPv4/IPv6 + TCP/UDP packet built from a flow, and a
// one-line reading of what the data plane sent back. (Tests use their own, independent builder in
// test/lib/packet.ts.)
import * as net from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import { parseIpv4, parseIpv6, formatIpv4, formatIpv6, parseMac, formatMac } from '../maps/addr';

export interface Flow {
  client: string;
  clientPort: number;
  vip: string;
  vipPort: number;
  protocol: 'tcp' | 'udp';
  /** TCP flags: SYN for a new connection (default), ACK for an established one. */
  syn?: boolean;
  payload?: Buffer;
}

const ETH_P_IP = 0x0800;
const ETH_P_IPV6 = 0x86dd;
const PROTO = { tcp: 6, udp: 17 } as const;

function ipBytes(a: string): Buffer {
  if (net.isIPv4(a)) return parseIpv4(a);
  if (net.isIPv6(a)) return parseIpv6(a);
  throw new XlvsError(ErrorCodes.USAGE, `"${a}" is not an IP address`);
}

function sum16(b: Buffer, acc = 0): number {
  for (let i = 0; i + 1 < b.length; i += 2) acc += b.readUInt16BE(i);
  if (b.length % 2) acc += b[b.length - 1] << 8;
  return acc;
}

function fold(acc: number): number {
  while (acc > 0xffff) acc = (acc & 0xffff) + (acc >>> 16);
  return ~acc & 0xffff;
}

export function macBytes(mac: string): Buffer {
  try {
    return parseMac(mac);
  } catch {
    throw new XlvsError(ErrorCodes.USAGE, `"${mac}" is not a MAC address`);
  }
}

/** An Ethernet frame carrying the flow's first (SYN) or a later (ACK) packet. */
export function buildFrame(f: Flow, srcMac: string, dstMac: string): Buffer {
  const six = net.isIPv6(f.client);
  if (six !== net.isIPv6(f.vip)) throw new XlvsError(ErrorCodes.USAGE, `client ${f.client} and VIP ${f.vip} are of different families`);
  const src = ipBytes(f.client);
  const dst = ipBytes(f.vip);
  const payload = f.payload ?? Buffer.alloc(0);
  let l4: Buffer;
  if (f.protocol === 'tcp') {
    l4 = Buffer.alloc(20 + payload.length);
    l4.writeUInt16BE(f.clientPort, 0);
    l4.writeUInt16BE(f.vipPort, 2);
    l4.writeUInt32BE(1, 4);
    l4[12] = 5 << 4;
    l4[13] = f.syn === false ? 0x10 : 0x02;
    l4.writeUInt16BE(64240, 14);
    payload.copy(l4, 20);
  } else {
    l4 = Buffer.alloc(8 + payload.length);
    l4.writeUInt16BE(f.clientPort, 0);
    l4.writeUInt16BE(f.vipPort, 2);
    l4.writeUInt16BE(l4.length, 4);
    payload.copy(l4, 8);
  }
  const pseudo = Buffer.concat([src, dst, six ? Buffer.from([0, 0, l4.length >> 8, l4.length & 0xff, 0, 0, 0, PROTO[f.protocol]]) : Buffer.from([0, PROTO[f.protocol], l4.length >> 8, l4.length & 0xff])]);
  const ck = fold(sum16(l4, sum16(pseudo)));
  l4.writeUInt16BE(f.protocol === 'udp' && ck === 0 ? 0xffff : ck, f.protocol === 'tcp' ? 16 : 6);
  let ip: Buffer;
  if (six) {
    ip = Buffer.alloc(40);
    ip.writeUInt32BE(0x60000000, 0);
    ip.writeUInt16BE(l4.length, 4);
    ip[6] = PROTO[f.protocol];
    ip[7] = 64;
    src.copy(ip, 8);
    dst.copy(ip, 24);
  } else {
    ip = Buffer.alloc(20);
    ip[0] = 0x45;
    ip.writeUInt16BE(20 + l4.length, 2);
    ip.writeUInt16BE(0x4000, 6); // DF
    ip[8] = 64;
    ip[9] = PROTO[f.protocol];
    src.copy(ip, 12);
    dst.copy(ip, 16);
    ip.writeUInt16BE(fold(sum16(ip)), 10);
  }
  const eth = Buffer.concat([macBytes(dstMac), macBytes(srcMac), Buffer.from([six ? ETH_P_IPV6 >> 8 : ETH_P_IP >> 8, six ? ETH_P_IPV6 & 0xff : ETH_P_IP & 0xff])]);
  return Buffer.concat([eth, ip, l4]);
}

function fmtMac(b: Buffer, off: number): string {
  return formatMac(b.subarray(off, off + 6));
}

function fmtIp(b: Buffer, off: number, six: boolean): string {
  return six ? formatIpv6(b.subarray(off, off + 16)) : formatIpv4(b.subarray(off, off + 4));
}

export interface FrameSummary {
  text: string;
  dstMac: string;
  srcMac: string;
  /** Outer destination of a tunnelled frame. */
  outerDst: string | null;
  innerDst: string | null;
}

/** A one-line reading of an Ethernet frame: MACs, IP header(s), tunnel if any. */
export function describeFrame(b: Buffer): FrameSummary {
  const dstMac = fmtMac(b, 0);
  const srcMac = fmtMac(b, 6);
  let off = 12;
  let type = b.readUInt16BE(off);
  if (type === 0x8100) { off += 4; type = b.readUInt16BE(off); }
  off += 2;
  const parts = [`${srcMac} > ${dstMac}`];
  let outerDst: string | null = null;
  let innerDst: string | null = null;
  const ipAt = (o: number, six: boolean): { proto: number; next: number; src: string; dst: string; len: number } => six
    ? { proto: b[o + 6], next: o + 40, src: fmtIp(b, o + 8, true), dst: fmtIp(b, o + 24, true), len: 40 + b.readUInt16BE(o + 4) }
    : { proto: b[o + 9], next: o + (b[o] & 0x0f) * 4, src: fmtIp(b, o + 12, false), dst: fmtIp(b, o + 16, false), len: b.readUInt16BE(o + 2) };
  if (type !== ETH_P_IP && type !== ETH_P_IPV6) return { text: `${parts[0]} ethertype 0x${type.toString(16)}`, dstMac, srcMac, outerDst, innerDst };
  let six = type === ETH_P_IPV6;
  let ip = ipAt(off, six);
  if (ip.proto === 4 || ip.proto === 41) {
    parts.push(`IP${six ? '6' : ''} ${ip.src} > ${ip.dst} (tunnel, proto ${ip.proto})`);
    outerDst = ip.dst;
    six = ip.proto === 41;
    ip = ipAt(ip.next, six);
  }
  innerDst = ip.dst;
  const l4 = ip.next;
  if (ip.proto === 6 || ip.proto === 17) {
    const sp = b.readUInt16BE(l4);
    const dp = b.readUInt16BE(l4 + 2);
    const name = ip.proto === 6 ? 'TCP' : 'UDP';
    parts.push(`IP${six ? '6' : ''} ${ip.src}.${sp} > ${ip.dst}.${dp} ${name}${ip.proto === 6 ? ` flags 0x${b[l4 + 13].toString(16)}` : ''} len ${ip.len}`);
  } else if (ip.proto === 1 || ip.proto === 58) {
    parts.push(`IP${six ? '6' : ''} ${ip.src} > ${ip.dst} ICMP${six ? 'v6' : ''} type ${b[l4]} code ${b[l4 + 1]}`);
  } else {
    parts.push(`IP${six ? '6' : ''} ${ip.src} > ${ip.dst} proto ${ip.proto}`);
  }
  return { text: parts.join(', '), dstMac, srcMac, outerDst, innerDst };
}
