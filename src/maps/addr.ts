// Address text ↔ bytes for codecs: IPv4 (RFC 791 dotted quad), IPv6 (RFC 4291 §2.2 text forms,
// RFC 5952 canonical output), MAC (colon-separated hex).
import { isIPv6 } from 'node:net';

/** "192.0.2.1" → 4 bytes in network order. */
export function parseIpv4(s: string): Buffer {
  const b = Buffer.alloc(4);
  writeIpv4(s, b, 0);
  return b;
}

/**
 * Writes a dotted quad at `off` without allocating (codecs encode many keys per reload).
 * Four decimal octets 0..255, no leading zeros (as node:net isIPv4 accepts).
 */
export function writeIpv4(s: string, b: Buffer, off: number): void {
  let octet = 0, digits = 0, part = 0;
  for (let i = 0; i <= s.length; i++) {
    const ch = i < s.length ? s.charCodeAt(i) : 46; // a final '.' closes the last octet
    if (ch >= 48 && ch <= 57) {
      if (digits > 0 && octet === 0) part = 5; // leading zero: reject below
      octet = octet * 10 + (ch - 48);
      digits++;
      if (digits > 3 || octet > 255) part = 5;
    } else if (ch === 46 && digits > 0 && part < 4) {
      b[off + part++] = octet;
      octet = 0;
      digits = 0;
    } else {
      part = 5;
    }
    if (part > 4) break;
  }
  if (part !== 4) throw new Error(`"${s}" is not an IPv4 address`);
}

export function formatIpv4(b: Buffer): string {
  return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
}

/** Any RFC 4291 §2.2 text form (with "::" and a trailing dotted quad) → 16 bytes. */
export function parseIpv6(s: string): Buffer {
  if (!isIPv6(s)) throw new Error(`"${s}" is not an IPv6 address`);
  let text = s;
  const out = Buffer.alloc(16);
  // A trailing IPv4 (::ffff:192.0.2.1) becomes two hex groups.
  const dotted = /(\d+\.\d+\.\d+\.\d+)$/.exec(text);
  if (dotted) {
    const v4 = parseIpv4(dotted[1]);
    text = text.slice(0, dotted.index) + `${v4.readUInt16BE(0).toString(16)}:${v4.readUInt16BE(2).toString(16)}`;
  }
  const [head, tail] = text.split('::');
  const h = head ? head.split(':') : [];
  const t = tail !== undefined && tail !== '' ? tail.split(':') : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill('0'), ...t];
  groups.forEach((g, i) => out.writeUInt16BE(parseInt(g, 16), i * 2));
  return out;
}

/** 16 bytes → RFC 5952 text: lower case, leading zeros dropped, the longest run (≥ 2) of zero groups as "::". */
export function formatIpv6(b: Buffer): string {
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2));
  if (g.slice(0, 5).every((x) => x === 0) && g[5] === 0xffff) return `::ffff:${formatIpv4(b.subarray(12, 16))}`;
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestLen < 2) return hex.join(':');
  return `${hex.slice(0, best).join(':')}::${hex.slice(best + bestLen).join(':')}`;
}

/** "aa:bb:cc:dd:ee:ff" (or with '-') → 6 bytes. */
export function parseMac(s: string): Buffer {
  const parts = s.split(/[:-]/);
  if (parts.length !== 6 || !parts.every((p) => /^[0-9a-fA-F]{2}$/.test(p))) throw new Error(`"${s}" is not a MAC address (aa:bb:cc:dd:ee:ff)`);
  return Buffer.from(parts.map((p) => parseInt(p, 16)));
}

export function formatMac(b: Buffer): string {
  return [...b.subarray(0, 6)].map((x) => x.toString(16).padStart(2, '0')).join(':');
}
