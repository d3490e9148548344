// A packet parser and per-layer diff for tests, independent of the production code. parsePacket()
// walks eth / vlan* / ipv4|ipv6 (+ extension headers) / nested IP (IPIP, 4in6, 6in4, IP6IP6) /
// tcp|udp|icmp|icmpv6 / payload and records every field; diffPackets() explains how two frames
// differ field by field ("ipv4.ttl: expected 64, got 63") plus the first differing byte.
import { ETH_P, IPPROTO, internetChecksum } from './packet';

export type FieldValue = number | string | boolean;

export interface ParsedLayer {
  /** eth, vlan, ipv4, ipv6, ipv6.hop, ipv6.routing, ipv6.dest, ipv6.fragment, tcp, udp, icmp, icmpv6. */
  name: string;
  /** Name used in diffs: an IP header that follows another IP header is `inner.ipv4` / `inner.ipv6`. */
  label: string;
  offset: number;
  length: number;
  fields: Record<string, FieldValue>;
  /** Present on layers with a checksum the parser could verify (whole segment present). */
  checksum?: { ok: boolean; got: number; correct: number };
}

export interface ParsedPacket {
  layers: ParsedLayer[];
  /** Bytes after the last parsed header (up to the end of the frame). */
  payload: Buffer;
  /** Why parsing stopped before the payload, e.g. "ipv4: truncated at 14 (need 20 bytes)". */
  error?: string;
}

export interface ParseOptions {
  /** What the first byte starts: an Ethernet frame (default) or a bare IP packet. */
  start?: 'eth' | 'ipv4' | 'ipv6';
}

/** First layer with that name (or label), the nth one when given. */
export function layer(p: ParsedPacket, name: string, nth = 0): ParsedLayer | undefined {
  return p.layers.filter((l) => l.name === name || l.label === name)[nth];
}

export function parsePacket(buf: Buffer, opts: ParseOptions = {}): ParsedPacket {
  const out: ParsedPacket = { layers: [], payload: Buffer.alloc(0) };
  let off = 0;
  let next: { kind: 'ether'; type: number } | { kind: 'ip'; proto: number } | { kind: 'end' };
  let lastIp: ParsedLayer | undefined;
  let ipEnd = buf.length; // end of the innermost IP packet by its length field, clamped to the frame
  const need = (name: string, n: number): boolean => {
    if (off + n <= buf.length) return true;
    out.error = `${name}: truncated at ${off} (need ${n} bytes, ${buf.length - off} left)`;
    return false;
  };
  const add = (name: string, length: number, fields: Record<string, FieldValue>): ParsedLayer => {
    const innerIp = (name === 'ipv4' || name === 'ipv6') && lastIp !== undefined;
    const l: ParsedLayer = { name, label: innerIp ? `inner.${name}` : name, offset: off, length, fields };
    out.layers.push(l);
    return l;
  };

  if (opts.start === 'ipv4') next = { kind: 'ether', type: ETH_P.IPV4 };
  else if (opts.start === 'ipv6') next = { kind: 'ether', type: ETH_P.IPV6 };
  else {
    if (!need('eth', 14)) return finish();
    add('eth', 14, { dst: macStr(buf, 0), src: macStr(buf, 6), type: buf.readUInt16BE(12) });
    next = { kind: 'ether', type: buf.readUInt16BE(12) };
    off = 14;
  }

  for (;;) {
    if (next.kind === 'end') break;
    if (next.kind === 'ether') {
      const t: number = next.type;
      if (t === ETH_P.VLAN || t === ETH_P.QINQ) {
        if (!need('vlan', 4)) break;
        const tci = buf.readUInt16BE(off);
        const type = buf.readUInt16BE(off + 2);
        add('vlan', 4, { pcp: tci >> 13, dei: (tci & 0x1000) !== 0, id: tci & 0x0fff, type });
        off += 4;
        next = { kind: 'ether', type };
      } else if (t === ETH_P.IPV4 || t === ETH_P.IPV6) {
        next = { kind: 'ip', proto: t === ETH_P.IPV4 ? IPPROTO.IPIP : IPPROTO.IPV6 };
      } else break;
      continue;
    }
    const proto = next.proto;
    if (proto === IPPROTO.IPIP) {
      // RFC 791 §3.1
      if (!need('ipv4', 20)) break;
      const ihl = buf[off] & 0x0f;
      const hlen = ihl * 4;
      const frag = buf.readUInt16BE(off + 6);
      const fields: Record<string, FieldValue> = {
        version: buf[off] >> 4, ihl, tos: buf[off + 1], totalLength: buf.readUInt16BE(off + 2),
        id: buf.readUInt16BE(off + 4), df: (frag & 0x4000) !== 0, mf: (frag & 0x2000) !== 0,
        fragOffset: frag & 0x1fff, ttl: buf[off + 8], protocol: buf[off + 9], checksum: buf.readUInt16BE(off + 10),
        src: ip4Str(buf, off + 12), dst: ip4Str(buf, off + 16),
      };
      if (hlen < 20) {
        add('ipv4', 20, fields);
        out.error = `ipv4: ihl ${ihl} is below the minimum 5`;
        off += 20;
        break;
      }
      if (!need('ipv4', hlen)) { add('ipv4', Math.min(hlen, buf.length - off), fields); break; }
      fields.options = buf.subarray(off + 20, off + hlen).toString('hex');
      const l = add('ipv4', hlen, fields);
      const correct = checksumWithZeroedField(buf.subarray(off, off + hlen), 10);
      l.checksum = { ok: internetChecksum(buf.subarray(off, off + hlen)) === 0, got: fields.checksum as number, correct };
      lastIp = l;
      ipEnd = Math.min(buf.length, off + (fields.totalLength as number));
      off += hlen;
      // A later fragment carries no transport header (RFC 791 §3.2).
      next = (fields.fragOffset as number) !== 0 ? { kind: 'end' } : { kind: 'ip', proto: fields.protocol as number };
      continue;
    }
    if (proto === IPPROTO.IPV6) {
      // RFC 8200 §3
      if (!need('ipv6', 40)) break;
      const w = buf.readUInt32BE(off);
      const fields: Record<string, FieldValue> = {
        version: w >>> 28, trafficClass: (w >>> 20) & 0xff, flowLabel: w & 0xfffff,
        payloadLength: buf.readUInt16BE(off + 4), nextHeader: buf[off + 6], hopLimit: buf[off + 7],
        src: ip6Str(buf, off + 8), dst: ip6Str(buf, off + 24),
      };
      lastIp = add('ipv6', 40, fields);
      ipEnd = Math.min(buf.length, off + 40 + (fields.payloadLength as number));
      off += 40;
      next = { kind: 'ip', proto: fields.nextHeader as number };
      continue;
    }
    if (proto === IPPROTO.HOPOPTS || proto === IPPROTO.ROUTING || proto === IPPROTO.DSTOPTS || proto === IPPROTO.FRAGMENT) {
      const name = { [IPPROTO.HOPOPTS]: 'ipv6.hop', [IPPROTO.ROUTING]: 'ipv6.routing', [IPPROTO.DSTOPTS]: 'ipv6.dest', [IPPROTO.FRAGMENT]: 'ipv6.fragment' }[proto] as string;
      if (!need(name, 8)) break;
      const nh = buf[off];
      if (proto === IPPROTO.FRAGMENT) {
        // RFC 8200 §4.5
        const v = buf.readUInt16BE(off + 2);
        add(name, 8, { nextHeader: nh, reserved: buf[off + 1], offset: v >> 3, more: (v & 1) !== 0, id: buf.readUInt32BE(off + 4) });
        off += 8;
        next = v >> 3 !== 0 ? { kind: 'end' } : { kind: 'ip', proto: nh };
        continue;
      }
      const len = (buf[off + 1] + 1) * 8;
      if (!need(name, len)) break;
      const fields: Record<string, FieldValue> = { nextHeader: nh, hdrExtLen: buf[off + 1] };
      if (proto === IPPROTO.ROUTING) {
        fields.routingType = buf[off + 2];
        fields.segmentsLeft = buf[off + 3];
        fields.data = buf.subarray(off + 4, off + len).toString('hex');
      } else fields.options = buf.subarray(off + 2, off + len).toString('hex');
      add(name, len, fields);
      off += len;
      next = { kind: 'ip', proto: nh };
      continue;
    }
    if (proto === IPPROTO.TCP) {
      // RFC 9293 §3.1
      if (!need('tcp', 20)) break;
      const doff = buf[off + 12] >> 4;
      const hlen = Math.max(20, doff * 4);
      const fields: Record<string, FieldValue> = {
        sport: buf.readUInt16BE(off), dport: buf.readUInt16BE(off + 2), seq: buf.readUInt32BE(off + 4),
        ack: buf.readUInt32BE(off + 8), dataOffset: doff, flags: tcpFlagStr(buf[off + 13]),
        window: buf.readUInt16BE(off + 14), checksum: buf.readUInt16BE(off + 16), urgent: buf.readUInt16BE(off + 18),
      };
      if (!need('tcp', hlen)) { add('tcp', 20, fields); break; }
      fields.options = buf.subarray(off + 20, off + hlen).toString('hex');
      const l = add('tcp', hlen, fields);
      l.checksum = l4Checksum(buf, off, ipEnd, lastIp, IPPROTO.TCP, 16);
      off += hlen;
      break;
    }
    if (proto === IPPROTO.UDP) {
      // RFC 768
      if (!need('udp', 8)) break;
      const fields = { sport: buf.readUInt16BE(off), dport: buf.readUInt16BE(off + 2), length: buf.readUInt16BE(off + 4), checksum: buf.readUInt16BE(off + 6) };
      const l = add('udp', 8, fields);
      if (!(lastIp?.name === 'ipv4' && fields.checksum === 0)) l.checksum = l4Checksum(buf, off, ipEnd, lastIp, IPPROTO.UDP, 6);
      off += 8;
      break;
    }
    if (proto === IPPROTO.ICMP || proto === IPPROTO.ICMPV6) {
      const name = proto === IPPROTO.ICMP ? 'icmp' : 'icmpv6';
      if (!need(name, 8)) break;
      const fields = { type: buf[off], code: buf[off + 1], checksum: buf.readUInt16BE(off + 2), rest: buf.subarray(off + 4, off + 8).toString('hex') };
      const l = add(name, 8, fields);
      if (proto === IPPROTO.ICMP) {
        const msg = buf.subarray(off, ipEnd);
        l.checksum = { ok: internetChecksum(msg) === 0, got: fields.checksum, correct: checksumWithZeroedField(msg, 2) };
      } else l.checksum = l4Checksum(buf, off, ipEnd, lastIp, IPPROTO.ICMPV6, 2);
      off += 8;
      break;
    }
    break; // unknown protocol: the rest is payload
  }
  return finish();

  function finish(): ParsedPacket {
    out.payload = Buffer.from(buf.subarray(Math.min(off, buf.length)));
    return out;
  }
}

/** Recomputes a checksum with its own field taken as zero. */
function checksumWithZeroedField(b: Buffer, at: number): number {
  const c = Buffer.from(b);
  c.writeUInt16BE(0, at);
  return internetChecksum(c);
}

function l4Checksum(buf: Buffer, off: number, end: number, ip: ParsedLayer | undefined, proto: number, at: number): ParsedLayer['checksum'] {
  const seg = buf.subarray(off, Math.max(off, end));
  let pseudo: Buffer;
  if (ip?.name === 'ipv4') {
    pseudo = Buffer.alloc(12);
    buf.copy(pseudo, 0, ip.offset + 12, ip.offset + 20);
    pseudo[9] = proto;
    pseudo.writeUInt16BE(seg.length, 10);
  } else if (ip?.name === 'ipv6') {
    pseudo = Buffer.alloc(40);
    buf.copy(pseudo, 0, ip.offset + 8, ip.offset + 40);
    pseudo.writeUInt32BE(seg.length, 32);
    pseudo[39] = proto;
  } else pseudo = Buffer.alloc(0);
  const whole = Buffer.concat([pseudo, seg]);
  const got = seg.length >= at + 2 ? seg.readUInt16BE(at) : 0;
  let correct = checksumWithZeroedField(whole, pseudo.length + at);
  if (proto === IPPROTO.UDP && correct === 0) correct = 0xffff; // RFC 768
  return { ok: internetChecksum(whole) === 0, got, correct };
}

function macStr(b: Buffer, o: number): string {
  return [...b.subarray(o, o + 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
function ip4Str(b: Buffer, o: number): string { return [...b.subarray(o, o + 4)].join('.'); }
/** RFC 5952 text: lowercase, longest zero run (≥ 2 words) compressed. */
export function ip6Str(b: Buffer, o: number): string {
  const w: number[] = [];
  for (let i = 0; i < 8; i++) w.push(b.readUInt16BE(o + i * 2));
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (w[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && w[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = w.map((x) => x.toString(16));
  if (best < 0) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}
function tcpFlagStr(f: number): string {
  // Same letters as the builder, in a fixed order so that 'SA' and 'AS' compare equal.
  return ['C', 'E', 'U', 'A', 'P', 'R', 'S', 'F'].filter((_, i) => (f & (0x80 >> i)) !== 0).join('') || '-';
}

function show(v: FieldValue | undefined): string {
  if (v === undefined) return '(absent)';
  if (typeof v === 'string') return v === '' ? '""' : v;
  return String(v);
}

/**
 * '' when the frames are byte-identical; otherwise one line per differing field
 * ("ipv4.ttl: expected 64, got 63"), layers present on one side only, checksum validity of each
 * layer where it differs or is wrong in the actual frame, the payload, and the first differing
 * byte offset. Both frames are parsed with the same options.
 */
export function diffPackets(expected: Buffer, actual: Buffer, opts: ParseOptions = {}): string {
  if (expected.equals(actual)) return '';
  const e = parsePacket(expected, opts);
  const a = parsePacket(actual, opts);
  const lines: string[] = [];
  const n = Math.max(e.layers.length, a.layers.length);
  for (let i = 0; i < n; i++) {
    const el = e.layers[i];
    const al = a.layers[i];
    if (!el || !al || el.name !== al.name) {
      lines.push(`layer ${i}: expected ${el ? el.label : '(none)'}, got ${al ? al.label : '(none)'}`);
      if (el && al) break; // different structure: field comparison below this point means nothing
      continue;
    }
    const keys = new Set([...Object.keys(el.fields), ...Object.keys(al.fields)]);
    for (const k of keys) {
      if (el.fields[k] !== al.fields[k]) {
        let ev = show(el.fields[k]), av = show(al.fields[k]);
        if (k === 'checksum' || k === 'type') { ev = hex16(el.fields[k]); av = hex16(al.fields[k]); }
        lines.push(`${al.label}.${k}: expected ${ev}, got ${av}`);
      }
    }
    const ec = el.checksum, ac = al.checksum;
    if (ac && !ac.ok) lines.push(`${al.label} checksum: invalid in actual (0x${hex(ac.got)}, correct 0x${hex(ac.correct)})${ec && !ec.ok ? ' (also invalid in expected)' : ''}`);
    else if (ec && !ec.ok) lines.push(`${el.label} checksum: invalid in expected (0x${hex(ec.got)}, correct 0x${hex(ec.correct)})`);
  }
  if (e.error !== a.error) lines.push(`parse: expected ${e.error ?? 'complete'}, got ${a.error ?? 'complete'}`);
  if (!e.payload.equals(a.payload)) {
    lines.push(`payload: expected ${e.payload.length} bytes ${preview(e.payload)}, got ${a.payload.length} bytes ${preview(a.payload)}`);
  }
  if (expected.length !== actual.length) lines.push(`length: expected ${expected.length}, got ${actual.length}`);
  let first = 0;
  while (first < expected.length && first < actual.length && expected[first] === actual[first]) first++;
  lines.push(`first differing byte at offset ${first} (expected ${byteAt(expected, first)}, got ${byteAt(actual, first)})`);
  return lines.join('\n');
}

/** Checksum problems of a frame, one line per bad layer; '' when all verifiable checksums hold. */
export function checksumReport(buf: Buffer, opts: ParseOptions = {}): string {
  return parsePacket(buf, opts).layers
    .filter((l) => l.checksum && !l.checksum.ok)
    .map((l) => `${l.label} checksum: 0x${hex(l.checksum!.got)}, correct 0x${hex(l.checksum!.correct)}`)
    .join('\n');
}

function hex(n: number): string { return n.toString(16).padStart(4, '0'); }
function hex16(v: FieldValue | undefined): string { return typeof v === 'number' ? `0x${hex(v)}` : show(v); }
function byteAt(b: Buffer, i: number): string { return i < b.length ? `0x${b[i].toString(16).padStart(2, '0')}` : 'end of frame'; }
function preview(b: Buffer): string {
  return b.length === 0 ? '' : `(${b.subarray(0, 16).toString('hex')}${b.length > 16 ? '…' : ''})`;
}
