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

function macBytes(mac: string): Buffer {
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
  /** '' when the frame ends before the field. */
  dstMac: string;
  srcMac: string;
  /** Outer destination of a tunnelled frame. */
  outerDst: string | null;
  innerDst: string | null;
  /** The (innermost) TCP or UDP flow the frame carries, when it has one. */
  flow: { src: string; sport: number; dst: string; dport: number; protocol: 'tcp' | 'udp' } | null;
}

// Header sizes read by describeFrame (IEEE 802.3 / 802.1Q, RFC 791, RFC 8200, RFC 9293, RFC 768,
// RFC 792, RFC 4443).
const ETH_HLEN = 14;
const VLAN_TAG_LEN = 4;
const ETH_P_8021Q = 0x8100;
const IPV4_MIN_HLEN = 20;
const IPV6_HLEN = 40;
const TCP_MIN_HLEN = 20;
const UDP_HLEN = 8;
const ICMP_HLEN = 8; // RFC 792: type, code, checksum and 4 bytes of the rest of the header
const ICMPV6_HLEN = 4; // RFC 4443 §2.1: type, code, checksum

/** Where a frame ends before a header it announces does. */
class Truncated {
  constructor(readonly what: string, readonly start: number, readonly len: number) {}
}

/**
 * A one-line reading of any byte string as an Ethernet frame: MACs, IP header(s), tunnel if any,
 * ports. Never throws on content: a frame that ends inside a header is described up to there and
 * then "truncated at byte N inside the <header>"; nonsensical header fields are named.
 */
export function describeFrame(b: Buffer): FrameSummary {
  const sum: FrameSummary = { text: '', dstMac: '', srcMac: '', outerDst: null, innerDst: null, flow: null };
  const parts: string[] = [];
  const need = (start: number, len: number, what: string): void => {
    if (b.length < start + len) throw new Truncated(what, start, len);
  };
  try {
    read(b, need, parts, sum);
  } catch (e) {
    if (!(e instanceof Truncated)) throw e;
    parts.push(`truncated at byte ${b.length} inside the ${e.what} (bytes ${e.start}..${e.start + e.len - 1})`);
  }
  sum.text = parts.join(', ');
  return sum;
}

type Need = (start: number, len: number, what: string) => void;

function read(b: Buffer, need: Need, parts: string[], sum: FrameSummary): void {
  if (b.length >= 6) sum.dstMac = fmtMac(b, 0);
  if (b.length >= 12) sum.srcMac = fmtMac(b, 6);
  need(0, ETH_HLEN, 'Ethernet header');
  parts.push(`${sum.srcMac} > ${sum.dstMac}`);
  let off = 12;
  let type = b.readUInt16BE(off);
  if (type === ETH_P_8021Q) {
    need(off, VLAN_TAG_LEN + 2, '802.1Q tag');
    parts.push(`vlan ${b.readUInt16BE(off + 2) & 0x0fff}`);
    off += VLAN_TAG_LEN;
    type = b.readUInt16BE(off);
  }
  off += 2;
  if (type !== ETH_P_IP && type !== ETH_P_IPV6) {
    parts[parts.length - 1] += ` ethertype 0x${type.toString(16)}`;
    return;
  }
  let six = type === ETH_P_IPV6;
  let ip = readIp(b, off, six, '', need);
  if (!ip) { parts.push(`IPv4 header length ${(b[off] & 0x0f) * 4} is less than ${IPV4_MIN_HLEN}`); return; }
  if (ip.proto === 4 || ip.proto === 41) {
    parts.push(`IP${six ? '6' : ''} ${ip.src} > ${ip.dst} (tunnel, proto ${ip.proto})`);
    sum.outerDst = ip.dst;
    six = ip.proto === 41;
    const inner = readIp(b, ip.next, six, 'inner ', need);
    if (!inner) { parts.push(`inner IPv4 header length ${(b[ip.next] & 0x0f) * 4} is less than ${IPV4_MIN_HLEN}`); return; }
    ip = inner;
  }
  sum.innerDst = ip.dst;
  const v = `IP${six ? '6' : ''}`;
  const l4 = ip.next;
  // What the IP header says the packet holds against what the frame carries.
  const short = ip.end > b.length ? ` (IP length says ${ip.end - ip.start} bytes, the frame has ${b.length - ip.start})` : '';
  if (ip.proto === 6 || ip.proto === 17) {
    const name = ip.proto === 6 ? 'TCP' : 'UDP';
    const hlen = ip.proto === 6 ? TCP_MIN_HLEN : UDP_HLEN;
    if (b.length < l4 + hlen) parts.push(`${v} ${ip.src} > ${ip.dst} ${name} len ${ip.len}`);
    need(l4, hlen, `${name} header`);
    const sp = b.readUInt16BE(l4);
    const dp = b.readUInt16BE(l4 + 2);
    sum.flow = { src: ip.src, sport: sp, dst: ip.dst, dport: dp, protocol: ip.proto === 6 ? 'tcp' : 'udp' };
    parts.push(`${v} ${ip.src}.${sp} > ${ip.dst}.${dp} ${name}${ip.proto === 6 ? ` flags 0x${b[l4 + 13].toString(16)}` : ''} len ${ip.len}${short}`);
  } else if (ip.proto === 1 || ip.proto === 58) {
    const hlen = six ? ICMPV6_HLEN : ICMP_HLEN;
    if (b.length < l4 + hlen) parts.push(`${v} ${ip.src} > ${ip.dst} ICMP${six ? 'v6' : ''}`);
    need(l4, hlen, `ICMP${six ? 'v6' : ''} header`);
    parts.push(`${v} ${ip.src} > ${ip.dst} ICMP${six ? 'v6' : ''} type ${b[l4]} code ${b[l4 + 1]}${short}`);
  } else {
    parts.push(`${v} ${ip.src} > ${ip.dst} proto ${ip.proto}${short}`);
  }
}

interface IpRead { proto: number; start: number; next: number; end: number; src: string; dst: string; len: number }

/** The IP header at `o`, or null for an IPv4 header length under 20 (nothing to read past it). */
function readIp(b: Buffer, o: number, six: boolean, prefix: string, need: Need): IpRead | null {
  if (six) {
    need(o, IPV6_HLEN, `${prefix}IPv6 header`);
    const len = IPV6_HLEN + b.readUInt16BE(o + 4);
    return { proto: b[o + 6], start: o, next: o + IPV6_HLEN, end: o + len, src: fmtIp(b, o + 8, true), dst: fmtIp(b, o + 24, true), len };
  }
  need(o, IPV4_MIN_HLEN, `${prefix}IPv4 header`);
  const ihl = (b[o] & 0x0f) * 4;
  if (ihl < IPV4_MIN_HLEN) return null;
  need(o, ihl, `${prefix}IPv4 options`);
  const len = b.readUInt16BE(o + 2);
  return { proto: b[o + 9], start: o, next: o + ihl, end: o + len, src: fmtIp(b, o + 12, false), dst: fmtIp(b, o + 16, false), len };
}

/**
 * `--hex` text to bytes. Whitespace may separate digits (as tcpdump -xx prints them); anything
 * else that is not a hex digit, or an odd number of digits, is a usage error naming the offset
 * (0-based, in the text as given) of the first bad character.
 */
export function parseHexFrame(text: string): Buffer {
  const digits: string[] = [];
  let last = -1;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (/\s/.test(c)) continue;
    last = i;
    if (!/[0-9a-fA-F]/.test(c)) {
      const shown = /^[\x21-\x7e]$/.test(c) ? `'${c}'` : `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`;
      throw new XlvsError(ErrorCodes.USAGE, `--hex: ${shown} at offset ${i} is not a hex digit`);
    }
    digits.push(c);
  }
  if (digits.length === 0) throw new XlvsError(ErrorCodes.USAGE, '--hex: no hex digits (give an Ethernet frame, e.g. as tcpdump -xx prints it)');
  if (digits.length % 2) throw new XlvsError(ErrorCodes.USAGE, `--hex: odd number of hex digits (${digits.length}): the digit at offset ${last} has no partner`);
  const frame = Buffer.from(digits.join(''), 'hex');
  if (frame.length < ETH_HLEN) throw new XlvsError(ErrorCodes.USAGE, `--hex: ${frame.length} bytes is shorter than an Ethernet header (${ETH_HLEN}); the XDP test run needs at least that`);
  return frame;
}
