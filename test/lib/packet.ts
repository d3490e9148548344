// An independent packet builder for tests: readable chains that produce the exact bytes a test
// expects, never sharing code with the production encoders (docs/DEVELOPING.md, "expected bytes from an
// independent builder").
//
//   eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })
//     .vlan(100)
//     .ipv4({ src: '198.51.100.7', dst: '10.0.0.10', ttl: 64 })
//     .tcp({ sport: 40000, dport: 80, flags: 'S' })
//     .payload(Buffer.from('x'))
//     .build();
//
// Each call appends a layer; build() serialises from the innermost layer outward so that every
// length, "next protocol" field and checksum is derived from what really follows it. Any derived
// field can be overridden to build malformed packets (ihl, totalLength, checksum, protocol,
// payloadLength, dataOffset, length, …). `packet()` starts a chain without Ethernet (a bare IP
// packet, e.g. the inner packet of a tunnel).
import * as net from 'node:net';

/** EtherType values (IEEE 802 numbers registry, IANA "ieee-802-numbers"). */
export const ETH_P = { IPV4: 0x0800, IPV6: 0x86dd, VLAN: 0x8100, QINQ: 0x88a8, ARP: 0x0806 } as const;
/** IP protocol numbers (IANA "protocol-numbers"). */
export const IPPROTO = {
  HOPOPTS: 0, ICMP: 1, IPIP: 4, TCP: 6, UDP: 17, IPV6: 41, ROUTING: 43, FRAGMENT: 44,
  ICMPV6: 58, NONE: 59, DSTOPTS: 60,
} as const;

export interface EthOpts { src?: string; dst?: string; /** EtherType override */ type?: number }
export interface VlanOpts {
  id: number;
  pcp?: number;
  dei?: boolean;
  /** TPID written in the preceding header's type field; default 0x8100 (IEEE 802.1Q). */
  tpid?: number;
  /** EtherType override for what follows the tag. */
  type?: number;
}
export interface Ipv4Opts {
  src: string;
  dst: string;
  ttl?: number;
  id?: number;
  tos?: number;
  df?: boolean;
  mf?: boolean;
  /** Fragment offset in 8-octet units, as on the wire (RFC 791 §3.1). */
  fragOffset?: number;
  /** IP options; padded with zeros (End of Option List) to a multiple of 4 bytes. */
  options?: Buffer;
  ihl?: number;
  totalLength?: number;
  checksum?: number;
  protocol?: number;
  /** Version field override (default 4). */
  version?: number;
}
export interface Ipv6Opts {
  src: string;
  dst: string;
  hopLimit?: number;
  flowLabel?: number;
  trafficClass?: number;
  payloadLength?: number;
  nextHeader?: number;
  version?: number;
}
export type Ipv6ExtKind = 'hop' | 'routing' | 'dest' | 'fragment';
export interface Ipv6ExtOpts {
  /** hop/dest: option TLVs; routing: type-specific data after segments left. Padded to 8n. */
  data?: Buffer;
  /** routing header type and segments left (RFC 8200 §4.4). */
  routingType?: number;
  segmentsLeft?: number;
  /** fragment header (RFC 8200 §4.5): offset in 8-octet units, M flag, identification. */
  offset?: number;
  more?: boolean;
  id?: number;
  /** Overrides: Next Header, Hdr Ext Len. */
  nextHeader?: number;
  hdrExtLen?: number;
}
export interface TcpOpts {
  sport: number;
  dport: number;
  seq?: number;
  ack?: number;
  /** Any of F S R P A U E C, e.g. 'S', 'SA', 'A', 'PA', 'F', 'R'. */
  flags?: string;
  window?: number;
  urgent?: number;
  /** TCP options; padded with zeros (End of Option List) to a multiple of 4 bytes. */
  options?: Buffer;
  dataOffset?: number;
  checksum?: number;
}
export interface UdpOpts { sport: number; dport: number; length?: number; checksum?: number }
export interface IcmpOpts {
  type: number;
  code?: number;
  /** Echo identifier / sequence (used when body is absent). */
  id?: number;
  seq?: number;
  /** Everything after the checksum (rest of header + data). */
  body?: Buffer;
  checksum?: number;
}

type Layer =
  | { kind: 'eth'; o: EthOpts }
  | { kind: 'vlan'; o: VlanOpts }
  | { kind: 'ipv4'; o: Ipv4Opts }
  | { kind: 'ipv6'; o: Ipv6Opts }
  | { kind: 'ipv6ext'; ext: Ipv6ExtKind; o: Ipv6ExtOpts }
  | { kind: 'tcp'; o: TcpOpts }
  | { kind: 'udp'; o: UdpOpts }
  | { kind: 'icmp'; o: IcmpOpts }
  | { kind: 'icmpv6'; o: IcmpOpts }
  | { kind: 'payload'; data: Buffer };

const TCP_FLAG_BITS: Record<string, number> = { F: 0x01, S: 0x02, R: 0x04, P: 0x08, A: 0x10, U: 0x20, E: 0x40, C: 0x80 };
const EXT_PROTO: Record<Ipv6ExtKind, number> = {
  hop: IPPROTO.HOPOPTS, routing: IPPROTO.ROUTING, dest: IPPROTO.DSTOPTS, fragment: IPPROTO.FRAGMENT,
};

export class PacketBuilder {
  private readonly layers: Layer[] = [];
  private cut: number | undefined;

  eth(o: EthOpts = {}): this {
    if (o.src !== undefined) mac(o.src); // reject bad text here, where the test wrote it
    if (o.dst !== undefined) mac(o.dst);
    return this.push({ kind: 'eth', o });
  }

  /** One 802.1Q tag per id: `.vlan(100)`, `.vlan(100, 200)` (QinQ), or `.vlan({ id, pcp, tpid })`. */
  vlan(...tags: (number | VlanOpts)[]): this {
    if (tags.length === 0) throw new Error('vlan(): give at least one tag');
    for (const t of tags) this.push({ kind: 'vlan', o: typeof t === 'number' ? { id: t } : t });
    return this;
  }

  ipv4(o: Ipv4Opts): this { ip4(o.src); ip4(o.dst); return this.push({ kind: 'ipv4', o }); }
  ipv6(o: Ipv6Opts): this { ip6(o.src); ip6(o.dst); return this.push({ kind: 'ipv6', o }); }
  ipv6ext(ext: Ipv6ExtKind, o: Ipv6ExtOpts = {}): this { return this.push({ kind: 'ipv6ext', ext, o }); }
  tcp(o: TcpOpts): this { return this.push({ kind: 'tcp', o }); }
  udp(o: UdpOpts): this { return this.push({ kind: 'udp', o }); }
  icmp(o: IcmpOpts): this { return this.push({ kind: 'icmp', o }); }
  icmpv6(o: IcmpOpts): this { return this.push({ kind: 'icmpv6', o }); }

  payload(data: Buffer | string): this {
    return this.push({ kind: 'payload', data: typeof data === 'string' ? Buffer.from(data) : data });
  }

  /** Cut the built frame to its first n bytes (all fields computed on the full packet first). */
  truncate(n: number): this {
    if (!Number.isInteger(n) || n < 0) throw new Error(`truncate(${n}): need a non-negative integer`);
    this.cut = n;
    return this;
  }

  /** A copy of this chain that can be extended without changing the original. */
  clone(): PacketBuilder {
    const b = new PacketBuilder();
    b.layers.push(...this.layers);
    b.cut = this.cut;
    return b;
  }

  build(): Buffer {
    let bytes: Buffer = Buffer.alloc(0);
    for (let i = this.layers.length - 1; i >= 0; i--) bytes = this.encode(i, bytes);
    return this.cut === undefined ? bytes : Buffer.from(bytes.subarray(0, this.cut));
  }

  private push(l: Layer): this {
    const last = this.layers[this.layers.length - 1];
    if (last && last.kind === 'payload') throw new Error(`${l.kind}(): nothing can follow payload()`);
    this.layers.push(l);
    return this;
  }

  /** The value for the previous header's "next protocol" field describing layer i. */
  private nextType(i: number, family: 'ether' | 'ip'): number | undefined {
    const l = this.layers[i];
    if (!l) return undefined;
    if (family === 'ether') {
      switch (l.kind) {
        case 'vlan': return l.o.tpid ?? ETH_P.VLAN;
        case 'ipv4': return ETH_P.IPV4;
        case 'ipv6': return ETH_P.IPV6;
        default: return undefined;
      }
    }
    switch (l.kind) {
      case 'ipv4': return IPPROTO.IPIP;
      case 'ipv6': return IPPROTO.IPV6;
      case 'ipv6ext': return EXT_PROTO[l.ext];
      case 'tcp': return IPPROTO.TCP;
      case 'udp': return IPPROTO.UDP;
      case 'icmp': return IPPROTO.ICMP;
      case 'icmpv6': return IPPROTO.ICMPV6;
      default: return undefined;
    }
  }

  /** The nearest IP header before layer i: its addresses form the L4 pseudo-header. */
  private enclosingIp(i: number): Layer | undefined {
    for (let j = i - 1; j >= 0; j--) {
      const k = this.layers[j].kind;
      if (k === 'ipv4' || k === 'ipv6') return this.layers[j];
    }
    return undefined;
  }

  private encode(i: number, inner: Buffer): Buffer {
    const l = this.layers[i];
    switch (l.kind) {
      case 'payload': return l.data;
      case 'eth': {
        const h = Buffer.alloc(14);
        mac(l.o.dst ?? '02:00:00:00:00:02').copy(h, 0);
        mac(l.o.src ?? '02:00:00:00:00:01').copy(h, 6);
        h.writeUInt16BE(l.o.type ?? this.nextType(i + 1, 'ether') ?? 0, 12);
        return Buffer.concat([h, inner]);
      }
      case 'vlan': {
        // 802.1Q tag after the TPID: PCP(3) DEI(1) VID(12), then the inner EtherType.
        const h = Buffer.alloc(4);
        h.writeUInt16BE(((l.o.pcp ?? 0) << 13) | (l.o.dei ? 0x1000 : 0) | (l.o.id & 0x0fff), 0);
        h.writeUInt16BE(l.o.type ?? this.nextType(i + 1, 'ether') ?? 0, 2);
        return Buffer.concat([h, inner]);
      }
      case 'ipv4': return this.ipv4Header(i, l.o, inner);
      case 'ipv6': {
        // RFC 8200 §3: version(4) traffic class(8) flow label(20), payload length, next header, hop limit.
        const o = l.o;
        const h = Buffer.alloc(40);
        h.writeUInt32BE((((o.version ?? 6) << 28) | ((o.trafficClass ?? 0) << 20) | ((o.flowLabel ?? 0) & 0xfffff)) >>> 0, 0);
        h.writeUInt16BE(o.payloadLength ?? inner.length, 4);
        h[6] = o.nextHeader ?? this.nextType(i + 1, 'ip') ?? IPPROTO.NONE;
        h[7] = o.hopLimit ?? 64;
        ip6(o.src).copy(h, 8);
        ip6(o.dst).copy(h, 24);
        return Buffer.concat([h, inner]);
      }
      case 'ipv6ext': return Buffer.concat([this.ipv6ExtHeader(i, l.ext, l.o), inner]);
      case 'tcp': {
        const o = l.o;
        const opts = pad(o.options ?? Buffer.alloc(0), 4, 0);
        const h = Buffer.alloc(20 + opts.length);
        h.writeUInt16BE(o.sport, 0);
        h.writeUInt16BE(o.dport, 2);
        h.writeUInt32BE((o.seq ?? 0) >>> 0, 4);
        h.writeUInt32BE((o.ack ?? 0) >>> 0, 8);
        h[12] = (o.dataOffset ?? h.length / 4) << 4; // RFC 9293 §3.1: data offset in 32-bit words
        h[13] = tcpFlags(o.flags ?? 'A');
        h.writeUInt16BE(o.window ?? 65535, 14);
        h.writeUInt16BE(o.urgent ?? 0, 18);
        opts.copy(h, 20);
        const seg = Buffer.concat([h, inner]);
        seg.writeUInt16BE(o.checksum ?? this.l4Checksum(i, IPPROTO.TCP, seg), 16);
        return seg;
      }
      case 'udp': {
        const o = l.o;
        const seg = Buffer.concat([Buffer.alloc(8), inner]);
        seg.writeUInt16BE(o.sport, 0);
        seg.writeUInt16BE(o.dport, 2);
        seg.writeUInt16BE(o.length ?? seg.length, 4);
        let sum = o.checksum;
        if (sum === undefined) {
          sum = this.l4Checksum(i, IPPROTO.UDP, seg);
          if (sum === 0) sum = 0xffff; // RFC 768: a computed zero is sent as all ones
        }
        seg.writeUInt16BE(sum, 6);
        return seg;
      }
      case 'icmp':
      case 'icmpv6': {
        const o = l.o;
        let body = o.body;
        if (!body) {
          body = Buffer.alloc(4);
          body.writeUInt16BE(o.id ?? 0, 0);
          body.writeUInt16BE(o.seq ?? 0, 2);
        }
        const msg = Buffer.concat([Buffer.from([o.type, o.code ?? 0, 0, 0]), body, inner]);
        // ICMPv4 (RFC 792): checksum over the message; ICMPv6 (RFC 4443 §2.3): with pseudo-header.
        const sum = o.checksum ?? (l.kind === 'icmp' ? internetChecksum(msg) : this.l4Checksum(i, IPPROTO.ICMPV6, msg));
        msg.writeUInt16BE(sum, 2);
        return msg;
      }
    }
  }

  private ipv4Header(i: number, o: Ipv4Opts, inner: Buffer): Buffer {
    // RFC 791 §3.1.
    const opts = pad(o.options ?? Buffer.alloc(0), 4, 0);
    const h = Buffer.alloc(20 + opts.length);
    h[0] = ((o.version ?? 4) << 4) | ((o.ihl ?? h.length / 4) & 0x0f);
    h[1] = o.tos ?? 0;
    h.writeUInt16BE(o.totalLength ?? h.length + inner.length, 2);
    h.writeUInt16BE(o.id ?? 0, 4);
    h.writeUInt16BE((o.df ? 0x4000 : 0) | (o.mf ? 0x2000 : 0) | ((o.fragOffset ?? 0) & 0x1fff), 6);
    h[8] = o.ttl ?? 64;
    h[9] = o.protocol ?? this.nextType(i + 1, 'ip') ?? 0xff; // 255: reserved, "nothing known follows"
    ip4(o.src).copy(h, 12);
    ip4(o.dst).copy(h, 16);
    opts.copy(h, 20);
    h.writeUInt16BE(o.checksum ?? internetChecksum(h), 10);
    return Buffer.concat([h, inner]);
  }

  private ipv6ExtHeader(i: number, ext: Ipv6ExtKind, o: Ipv6ExtOpts): Buffer {
    const next = o.nextHeader ?? this.nextType(i + 1, 'ip') ?? IPPROTO.NONE;
    if (ext === 'fragment') {
      // RFC 8200 §4.5: next header, reserved, offset(13) res(2) M(1), identification(32).
      const h = Buffer.alloc(8);
      h[0] = next;
      h[1] = o.hdrExtLen ?? 0;
      h.writeUInt16BE((((o.offset ?? 0) & 0x1fff) << 3) | (o.more ? 1 : 0), 2);
      h.writeUInt32BE((o.id ?? 0) >>> 0, 4);
      return h;
    }
    let body: Buffer;
    if (ext === 'routing') {
      // RFC 8200 §4.4: routing type, segments left, then type-specific data.
      // Without data, 4 zero bytes make the minimal 8-byte header.
      const head = Buffer.from([o.routingType ?? 0, o.segmentsLeft ?? 0]);
      body = pad(Buffer.concat([head, o.data ?? Buffer.alloc(4)]), 8, 2, 0);
    } else {
      // Hop-by-Hop / Destination options (RFC 8200 §4.3, §4.6), padded with Pad1/PadN TLVs (§4.2).
      body = padOptions(o.data ?? Buffer.alloc(0));
    }
    const h = Buffer.concat([Buffer.from([next, 0]), body]);
    h[1] = o.hdrExtLen ?? h.length / 8 - 1; // in 8-octet units, not counting the first 8
    return h;
  }

  private l4Checksum(i: number, proto: number, seg: Buffer): number {
    const ip = this.enclosingIp(i);
    if (!ip || (ip.kind !== 'ipv4' && ip.kind !== 'ipv6')) return internetChecksum(seg);
    return internetChecksum(Buffer.concat([pseudoHeader(ip, proto, seg.length), seg]));
  }
}

/** Starts a chain with an Ethernet header. */
export function eth(o: EthOpts = {}): PacketBuilder { return new PacketBuilder().eth(o); }
/** Starts an empty chain (bare IP packet). */
export function packet(): PacketBuilder { return new PacketBuilder(); }

/** RFC 768 / RFC 9293 §3.1 (IPv4) and RFC 8200 §8.1 (IPv6) pseudo-headers. */
function pseudoHeader(ip: Layer, proto: number, len: number): Buffer {
  if (ip.kind === 'ipv4') {
    const p = Buffer.alloc(12);
    ip4(ip.o.src).copy(p, 0);
    ip4(ip.o.dst).copy(p, 4);
    p[9] = proto;
    p.writeUInt16BE(len, 10);
    return p;
  }
  if (ip.kind !== 'ipv6') throw new Error('pseudo-header needs an IP layer');
  const p = Buffer.alloc(40);
  ip6(ip.o.src).copy(p, 0);
  ip6(ip.o.dst).copy(p, 16);
  p.writeUInt32BE(len, 32);
  p[39] = proto;
  return p;
}

/** RFC 1071 one's-complement sum of 16-bit words, complemented. */
export function internetChecksum(b: Buffer): number {
  let sum = 0;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length & 1) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

export function mac(s: string): Buffer {
  const parts = s.split(':');
  if (parts.length !== 6 || parts.some((p) => !/^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`bad MAC address "${s}"`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function ip4(s: string): Buffer {
  if (!net.isIPv4(s)) throw new Error(`bad IPv4 address "${s}"`);
  return Buffer.from(s.split('.').map(Number));
}

export function ip6(s: string): Buffer {
  if (!net.isIPv6(s)) throw new Error(`bad IPv6 address "${s}"`);
  let [head, tail] = s.includes('::') ? s.split('::') : [s, undefined];
  const words = (x: string | undefined): number[] => {
    if (!x) return [];
    const out: number[] = [];
    for (const part of x.split(':')) {
      if (part.includes('.')) {
        const v4 = ip4(part);
        out.push(v4.readUInt16BE(0), v4.readUInt16BE(2));
      } else out.push(parseInt(part, 16));
    }
    return out;
  };
  const h = words(head);
  const t = words(tail);
  const all = tail === undefined ? h : [...h, ...new Array(8 - h.length - t.length).fill(0), ...t];
  const b = Buffer.alloc(16);
  all.forEach((w, k) => b.writeUInt16BE(w, k * 2));
  return b;
}

function tcpFlags(s: string): number {
  let v = 0;
  for (const ch of s.toUpperCase()) {
    const bit = TCP_FLAG_BITS[ch];
    if (bit === undefined) throw new Error(`tcp flags "${s}": unknown flag "${ch}" (use F S R P A U E C)`);
    v |= bit;
  }
  return v;
}

/** Pads b with `fill` so that (b.length + bias) is a multiple of n. */
function pad(b: Buffer, n: number, bias = 0, fill = 0): Buffer {
  const rem = (((b.length + bias) % n) + n) % n;
  return rem === 0 ? b : Buffer.concat([b, Buffer.alloc(n - rem, fill)]);
}

/** Option TLVs for hop/dest headers padded so that 2 + length is a multiple of 8 (RFC 8200 §4.2). */
function padOptions(tlvs: Buffer): Buffer {
  const missing = (8 - ((2 + tlvs.length) % 8)) % 8;
  if (missing === 0) return tlvs;
  if (missing === 1) return Buffer.concat([tlvs, Buffer.from([0])]); // Pad1
  return Buffer.concat([tlvs, Buffer.from([1, missing - 2]), Buffer.alloc(missing - 2)]); // PadN
}
