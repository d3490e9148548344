// IP addresses as text: parse, canonical text (RFC 5952 for IPv6), prefixes, dotted IPv4 masks,
// subnet membership and `addr:port` keys. Pure and shared by the config, the Director, the CLI
// and the connection listings; errors are returned as text for the caller to place.

/** Address family (4 or 6). */
export type Family = 4 | 6;

export interface Ip {
  family: Family;
  bytes: Uint8Array; // 4 or 16 octets
}

/** IPv4 dotted quad, strict: four decimal octets 0..255 without leading zeros (no octal doubt). */
function parse4(s: string): Uint8Array | null {
  const parts = s.split('.');
  if (parts.length !== 4) return null;
  const out = new Uint8Array(4);
  for (let i = 0; i < 4; i++) {
    const p = parts[i];
    if (!/^(0|[1-9]\d{0,2})$/.test(p)) return null;
    const n = Number(p);
    if (n > 255) return null;
    out[i] = n;
  }
  return out;
}

/** IPv6 text forms of RFC 4291 §2.2 (hex groups, one `::`, trailing dotted IPv4). No zone ids. */
function parse6(s: string): Uint8Array | null {
  if (!/^[0-9a-fA-F:.]+$/.test(s)) return null;
  let text = s;
  if (s.includes('.')) {
    // x:x:x:x:x:x:d.d.d.d — rewrite the dotted tail as two hex groups.
    const lastColon = s.lastIndexOf(':');
    const tail = parse4(s.slice(lastColon + 1));
    if (!tail) return null;
    text = s.slice(0, lastColon + 1) + ((tail[0] << 8) | tail[1]).toString(16) + ':' + ((tail[2] << 8) | tail[3]).toString(16);
  }
  const halves = text.split('::');
  if (halves.length > 2) return null;
  const groups = (h: string): number[] | null => {
    if (h === '') return [];
    const out: number[] = [];
    for (const g of h.split(':')) {
      if (!/^[0-9a-fA-F]{1,4}$/.test(g)) return null;
      out.push(parseInt(g, 16));
    }
    return out;
  };
  let all: number[];
  if (halves.length === 2) {
    const a = groups(halves[0]);
    const b = groups(halves[1]);
    if (!a || !b || a.length + b.length > 7) return null;
    all = [...a, ...new Array<number>(8 - a.length - b.length).fill(0), ...b];
  } else {
    const a = groups(text);
    if (!a || a.length !== 8) return null;
    all = a;
  }
  const out = new Uint8Array(16);
  for (let i = 0; i < 8; i++) {
    out[2 * i] = all[i] >> 8;
    out[2 * i + 1] = all[i] & 0xff;
  }
  return out;
}

export function parseIp(text: string): Ip | null {
  if (typeof text !== 'string') return null;
  if (text.includes(':')) {
    const b = parse6(text);
    return b ? { family: 6, bytes: b } : null;
  }
  const b = parse4(text);
  return b ? { family: 4, bytes: b } : null;
}

/** Canonical text: dotted quad, or RFC 5952 §4 (lower case, no leading zeros, longest zero run ≥ 2 as ::). */
export function formatIp(ip: Ip): string {
  const b = ip.bytes;
  if (ip.family === 4) return `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push((b[2 * i] << 8) | b[2 * i + 1]);
  // RFC 5952 §4.2.3: the longest run of zero groups, the first one on a tie; §4.2.2: never a single group.
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) { i++; continue; }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) { best = i; bestLen = j - i; }
    i = j;
  }
  const hex = (xs: number[]): string => xs.map((x) => x.toString(16)).join(':');
  if (best < 0) return hex(g);
  return `${hex(g.slice(0, best))}::${hex(g.slice(best + bestLen))}`;
}

/** Canonical text of an address, or null when it does not parse. */
export function canonicalIp(text: string): string | null {
  const ip = parseIp(text);
  return ip ? formatIp(ip) : null;
}

export function familyName(f: Family): string {
  return f === 4 ? 'IPv4' : 'IPv6';
}

/** The host part of `ip` under `prefix` is zero everywhere after the prefix (a network address)? */
export function inSubnet(net: Ip, prefix: number, addr: Ip): boolean {
  if (net.family !== addr.family) return false;
  for (let bit = 0; bit < prefix; bit++) {
    const byte = bit >> 3;
    const mask = 0x80 >> (bit & 7);
    if ((net.bytes[byte] & mask) !== (addr.bytes[byte] & mask)) return false;
  }
  return true;
}

/** A dotted IPv4 mask's prefix length, or null when its one-bits are not contiguous from the left. */
export function maskToPrefix(mask: Ip): number | null {
  let prefix = 0;
  let seenZero = false;
  for (const byte of mask.bytes) {
    for (let bit = 7; bit >= 0; bit--) {
      if (byte & (1 << bit)) {
        if (seenZero) return null;
        prefix++;
      } else {
        seenZero = true;
      }
    }
  }
  return prefix;
}

/** The mask of `prefix` bits written as an address of the family. */
export function prefixToMask(family: Family, prefix: number): string {
  const bytes = new Uint8Array(family === 4 ? 4 : 16);
  for (let bit = 0; bit < prefix; bit++) bytes[bit >> 3] |= 0x80 >> (bit & 7);
  return formatIp({ family, bytes });
}

export function maxPrefix(f: Family): number {
  return f === 4 ? 32 : 128;
}

/** `<addr>:<port>` with IPv6 in brackets. */
export function hostPort(address: string, port: number): string {
  return address.includes(':') ? `[${address}]:${port}` : `${address}:${port}`;
}
