// VRRP advertisement codec, pure: VRRPv2 (RFC 3768, incl. simple-password auth) and VRRPv3
// (RFC 5798, IPv4 and IPv6), plus the IPv4 header keepalived puts around it. Decoding never
// throws on wire input: it returns a stable reason code for the shell to count and log.
import { isIPv4 } from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import type { VrrpVersion, Family } from './types';

export const IPPROTO_VRRP = 112; // RFC 5798 §5.1.1.4 (IANA protocol number)
export const VRRP_TTL = 255; // RFC 5798 §5.1.1.3 / RFC 3768 §5.2.3: TTL/hop limit must be 255
export const VRRP_TYPE_ADVERT = 1; // RFC 5798 §5.2.2: the only defined type
export const VRRP_MCAST_V4 = '224.0.0.18'; // RFC 5798 §5.1.1.2
export const VRRP_MCAST_V6 = 'ff02::12'; // RFC 5798 §5.1.2.2
export const VRRP_HDR_LEN = 8; // RFC 5798 §5.1: fixed part of the message
export const AUTH_DATA_LEN = 8; // RFC 3768 §5.3.10 (authentication data, 2 × 32 bits)
export const AUTH_NONE = 0; // RFC 2338 §5.3.6
export const AUTH_PASS = 1; // RFC 2338 §5.3.6: simple text password
export const IPV4_TOS_VRRP = 0xc0; // keepalived sets IPTOS_PREC_INTERNETCONTROL (vectors/README)
export const MAX_V3_INTERVAL_CS = 0x0fff; // RFC 5798 §5.2.7: 12 bits
export const MAX_V2_INTERVAL_S = 255; // RFC 3768 §5.3.7: one octet of seconds
export const MIN_INTERVAL_MS = 10; // RFC 5798 §5.2.7: the smallest non-zero v3 interval, 1 cs
export const MAX_INTERVAL_MS = MAX_V3_INTERVAL_CS * 10; // 40.95 s, the largest v3 interval

export interface Advert {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  /** v2: seconds × 1000; v3: centiseconds × 10. */
  intervalMs: number;
  addresses: string[];
  /** v2 only: AUTH_NONE or AUTH_PASS. */
  authType: number;
  /** v2 PASS: the 8 octets as sent (NUL padded). */
  authData: Buffer | null;
}

/** Reasons an advertisement is discarded. Stable strings: metrics and logs use them. */
export const RejectReasons = [
  'too-short', // shorter than the fixed header or the IP header
  'bad-ip-header', // not IPv4 / wrong protocol / bad header length
  'bad-version', // version nibble not 2 or 3, or not the one configured
  'bad-type', // type nibble not 1 (advertisement)
  'bad-ttl', // TTL / hop limit not 255 (RFC 5798 §7.1)
  'bad-checksum',
  'bad-length', // address count does not fit the message length
  'address-family', // v2 over IPv6
  'auth-type-mismatch', // RFC 3768 §7.1
  'auth-mismatch', // password differs
  'interval-mismatch', // v2: advert interval differs from ours (RFC 3768 §7.1)
  'bad-interval', // advert interval 0: outside RFC 3768 §5.3.7 (v2, 1..255 s) / RFC 5798 §5.2.7 (v3, 1..4095 cs)
  'interval-clamped', // v3: advert used, but the Master's interval was too far from ours to learn (state.ts boundedMasterInterval)
  'address-mismatch', // address count or list differs from our VIPs
  'own-address', // our own advert looped back
] as const;
export type RejectReason = (typeof RejectReasons)[number];

export type DecodeResult = { ok: true; advert: Advert } | { ok: false; reason: RejectReason; detail: string };

// ---------------------------------------------------------------- addresses and checksums

export function ipToBytes(addr: string): Buffer {
  if (isIPv4(addr)) return Buffer.from(addr.split('.').map(Number));
  // IPv6: expand "::" then 8 groups of 16 bits.
  const [head, tail] = addr.includes('::') ? addr.split('::') : [addr, null];
  const hs = head ? head.split(':') : [];
  const ts = tail ? tail.split(':') : [];
  if (ts.length && ts[ts.length - 1].includes('.')) throw new XlvsError(ErrorCodes.CODEC, `embedded IPv4 in "${addr}" not supported`);
  const groups = tail === null ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  if (groups.length !== 8) throw new XlvsError(ErrorCodes.CODEC, `"${addr}" is not an IP address`);
  const b = Buffer.alloc(16);
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

export function bytesToIp(b: Buffer): string {
  if (b.length === 4) return Array.from(b).join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i).toString(16));
  // RFC 5952 §4.2: compress the longest run (≥ 2) of zero groups.
  let best = -1, bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i; while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { best = i; bestLen = j - i; }
    i = j;
  }
  if (best < 0) return groups.join(':');
  return `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
}

/** RFC 1071 one's-complement sum of `bufs`, folded and complemented. */
export function inetChecksum(...bufs: Buffer[]): number {
  let sum = 0;
  let odd: number | null = null;
  for (const b of bufs) {
    for (let i = 0; i < b.length; i++) {
      if (odd === null) odd = b[i];
      else { sum += (odd << 8) | b[i]; odd = null; }
    }
  }
  if (odd !== null) sum += odd << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return ~sum & 0xffff;
}

/** RFC 5798 §5.2.8: v3 checksum covers the pseudo-header (RFC 8200 §8.1 for IPv6). */
function pseudoHeader(src: string, dst: string, len: number): Buffer {
  const s = ipToBytes(src), d = ipToBytes(dst);
  if (s.length === 4) {
    const p = Buffer.alloc(12);
    s.copy(p, 0); d.copy(p, 4); p[9] = IPPROTO_VRRP; p.writeUInt16BE(len, 10);
    return p;
  }
  const p = Buffer.alloc(40);
  s.copy(p, 0); d.copy(p, 16); p.writeUInt32BE(len, 32); p[39] = IPPROTO_VRRP;
  return p;
}

// ---------------------------------------------------------------- VRRP message

export interface EncodeInput {
  version: VrrpVersion;
  vrid: number;
  priority: number;
  intervalMs: number;
  addresses: string[];
  /** v2: password (cut/padded to 8 octets) or null for no authentication. */
  authPass?: string | null;
  /** Needed for the v3 pseudo-header checksum. */
  src?: string;
  dst?: string;
}

function authBytes(pass: string): Buffer {
  const b = Buffer.alloc(AUTH_DATA_LEN);
  Buffer.from(pass, 'utf8').copy(b, 0, 0, AUTH_DATA_LEN);
  return b;
}

/** Builds the VRRP message (no IP header). Throws E_CODEC when a value does not fit. */
export function encodeAdvert(a: EncodeInput): Buffer {
  const field = (name: string, v: number, lo: number, hi: number) => {
    if (!Number.isInteger(v) || v < lo || v > hi) throw new XlvsError(ErrorCodes.CODEC, `vrrp ${name}: ${v} not in ${lo}..${hi}`);
  };
  field('vrid', a.vrid, 1, 255);
  field('priority', a.priority, 0, 255);
  field('address count', a.addresses.length, 1, 255);
  const addrs = a.addresses.map(ipToBytes);
  const alen = addrs[0].length;
  if (addrs.some((x) => x.length !== alen)) throw new XlvsError(ErrorCodes.CODEC, 'vrrp addresses: mixed IPv4 and IPv6');
  if (a.version === 2 && alen !== 4) throw new XlvsError(ErrorCodes.CODEC, 'vrrp v2 carries IPv4 addresses only (RFC 3768)');
  const auth = a.version === 2 && a.authPass ? authBytes(a.authPass) : null;
  const len = VRRP_HDR_LEN + addrs.length * alen + (a.version === 2 ? AUTH_DATA_LEN : 0);
  const b = Buffer.alloc(len);
  b[0] = (a.version << 4) | VRRP_TYPE_ADVERT;
  b[1] = a.vrid;
  b[2] = a.priority;
  b[3] = addrs.length;
  if (a.version === 2) {
    field('advert interval (s)', a.intervalMs / 1000, 1, 255);
    b[4] = auth ? AUTH_PASS : AUTH_NONE;
    b[5] = a.intervalMs / 1000;
  } else {
    field('max advert interval (cs)', a.intervalMs / 10, 1, MAX_V3_INTERVAL_CS);
    b.writeUInt16BE(a.intervalMs / 10, 4);
  }
  addrs.forEach((x, i) => x.copy(b, VRRP_HDR_LEN + i * alen));
  if (auth) auth.copy(b, len - AUTH_DATA_LEN);
  let ck: number;
  if (a.version === 2) ck = inetChecksum(b); // RFC 3768 §5.3.8: VRRP message only
  else {
    if (!a.src || !a.dst) throw new XlvsError(ErrorCodes.CODEC, 'vrrp v3 checksum needs src and dst (pseudo-header)');
    ck = inetChecksum(pseudoHeader(a.src, a.dst, len), b);
  }
  b.writeUInt16BE(ck, 6);
  return b;
}

export interface DecodeContext {
  family: Family;
  src: string;
  dst: string;
  /** TTL (IPv4) or hop limit (IPv6); null when the socket cannot tell (checked elsewhere). */
  ttl: number | null;
}

/** Decodes and checks the message itself (version, type, TTL, length, checksum). */
export function decodeAdvert(b: Buffer, ctx: DecodeContext): DecodeResult {
  const fail = (reason: RejectReason, detail: string): DecodeResult => ({ ok: false, reason, detail });
  if (b.length < VRRP_HDR_LEN) return fail('too-short', `${b.length} bytes, need ${VRRP_HDR_LEN}`);
  if (ctx.ttl !== null && ctx.ttl !== VRRP_TTL) return fail('bad-ttl', `ttl ${ctx.ttl}, must be ${VRRP_TTL}`);
  const version = b[0] >> 4;
  const type = b[0] & 0x0f;
  if (version !== 2 && version !== 3) return fail('bad-version', `version ${version}`);
  if (type !== VRRP_TYPE_ADVERT) return fail('bad-type', `type ${type}`);
  if (version === 2 && ctx.family === 6) return fail('address-family', 'VRRPv2 over IPv6');
  const alen = ctx.family === 4 ? 4 : 16;
  const count = b[3];
  const need = VRRP_HDR_LEN + count * alen + (version === 2 ? AUTH_DATA_LEN : 0);
  if (count === 0 || b.length < need) return fail('bad-length', `count ${count} needs ${need} bytes, have ${b.length}`);
  const msg = b.subarray(0, need);
  const ck = version === 2 ? inetChecksum(msg) : inetChecksum(pseudoHeader(ctx.src, ctx.dst, need), msg);
  if (ck !== 0) return fail('bad-checksum', `checksum 0x${b.readUInt16BE(6).toString(16)} does not verify`);
  // An interval of 0 is outside both RFCs' ranges (v2 1..255 s, v3 1..4095 cs; the 12-bit v3
  // field cannot exceed 4095 and its 4 reserved bits are ignored, RFC 5798 §5.2.7): a Backup
  // would derive a master-down interval of Skew_Time ≈ 0 from it and take over at once.
  const rawInterval = version === 2 ? b[5] : b.readUInt16BE(4) & MAX_V3_INTERVAL_CS;
  if (rawInterval === 0) return fail('bad-interval', `advert interval 0 (VRRPv${version} allows ${version === 2 ? `1..${MAX_V2_INTERVAL_S} s` : `1..${MAX_V3_INTERVAL_CS} cs`})`);
  const addresses: string[] = [];
  for (let i = 0; i < count; i++) addresses.push(bytesToIp(b.subarray(VRRP_HDR_LEN + i * alen, VRRP_HDR_LEN + (i + 1) * alen)));
  const advert: Advert = {
    version: version as VrrpVersion,
    vrid: b[1],
    priority: b[2],
    intervalMs: version === 2 ? rawInterval * 1000 : rawInterval * 10,
    addresses,
    authType: version === 2 ? b[4] : AUTH_NONE,
    authData: version === 2 && b[4] === AUTH_PASS ? Buffer.from(b.subarray(need - AUTH_DATA_LEN, need)) : null,
  };
  return { ok: true, advert };
}

export interface InstanceExpectation {
  version: VrrpVersion;
  intervalMs: number;
  authPass: string | null;
  addresses: string[];
}

/**
 * The per-instance receive checks (RFC 3768 §7.1, RFC 5798 §7.1) on a decoded advert of our VRID.
 * Priority 0 adverts are checked the same way.
 */
export function checkAdvert(a: Advert, want: InstanceExpectation): { ok: true } | { ok: false; reason: RejectReason; detail: string } {
  if (a.version !== want.version) return { ok: false, reason: 'bad-version', detail: `version ${a.version}, configured ${want.version}` };
  if (a.version === 2) {
    const wantType = want.authPass ? AUTH_PASS : AUTH_NONE;
    if (a.authType !== wantType) return { ok: false, reason: 'auth-type-mismatch', detail: `auth type ${a.authType}, configured ${wantType}` };
    if (want.authPass && !authBytes(want.authPass).equals(a.authData!)) return { ok: false, reason: 'auth-mismatch', detail: 'password differs' };
    if (a.intervalMs !== want.intervalMs) return { ok: false, reason: 'interval-mismatch', detail: `interval ${a.intervalMs}ms, configured ${want.intervalMs}ms` };
  }
  const norm = (xs: string[]) => xs.map((x) => bytesToIp(ipToBytes(x))).sort().join(',');
  if (a.addresses.length !== want.addresses.length || norm(a.addresses) !== norm(want.addresses)) {
    return { ok: false, reason: 'address-mismatch', detail: `advert has [${a.addresses.join(', ')}], configured [${want.addresses.join(', ')}]` };
  }
  return { ok: true };
}

// ---------------------------------------------------------------- IPv4 header

export interface Ipv4Header { tos: number; id: number; ttl: number; protocol: number; src: string; dst: string }
export const IPV4_HDR_LEN = 20; // RFC 791, no options (keepalived sends none)

/** An IPv4 packet as keepalived sends it with IP_HDRINCL: TOS 0xc0, TTL 255, DF clear. */
export function encodeIpv4(h: { src: string; dst: string; id: number; tos?: number; ttl?: number }, payload: Buffer): Buffer {
  const b = Buffer.alloc(IPV4_HDR_LEN + payload.length);
  b[0] = 0x45;
  b[1] = h.tos ?? IPV4_TOS_VRRP;
  b.writeUInt16BE(b.length, 2);
  b.writeUInt16BE(h.id & 0xffff, 4);
  b.writeUInt16BE(0, 6); // no DF, as keepalived (vectors/README)
  b[8] = h.ttl ?? VRRP_TTL;
  b[9] = IPPROTO_VRRP;
  ipToBytes(h.src).copy(b, 12);
  ipToBytes(h.dst).copy(b, 16);
  b.writeUInt16BE(inetChecksum(b.subarray(0, IPV4_HDR_LEN)), 10);
  payload.copy(b, IPV4_HDR_LEN);
  return b;
}

/** Splits a received IPv4 packet (raw sockets deliver the header) into header and payload. */
export function decodeIpv4(b: Buffer): { ok: true; header: Ipv4Header; payload: Buffer } | { ok: false; reason: RejectReason; detail: string } {
  if (b.length < IPV4_HDR_LEN) return { ok: false, reason: 'too-short', detail: `${b.length} bytes, no IPv4 header` };
  const ihl = (b[0] & 0x0f) * 4;
  if (b[0] >> 4 !== 4 || ihl < IPV4_HDR_LEN || b.length < ihl) return { ok: false, reason: 'bad-ip-header', detail: `version/ihl 0x${b[0].toString(16)}` };
  const total = Math.min(b.readUInt16BE(2), b.length);
  if (b[9] !== IPPROTO_VRRP) return { ok: false, reason: 'bad-ip-header', detail: `protocol ${b[9]}` };
  return {
    ok: true,
    header: { tos: b[1], id: b.readUInt16BE(4), ttl: b[8], protocol: b[9], src: bytesToIp(b.subarray(12, 16)), dst: bytesToIp(b.subarray(16, 20)) },
    payload: b.subarray(ihl, total),
  };
}
