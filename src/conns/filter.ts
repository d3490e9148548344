// Filters of a connection listing (`xlvs list --conns`): --vip ADDR[:PORT], --real ADDR,
// --client ADDR[/PREFIX], --state NAME[,NAME…], --limit N. Parsed on the daemon's main thread
// (bad input fails before any walk, with the option named), compiled into a plain spec that
// crosses to the worker, and matched there against the raw keys and values of each flow table
// (src/conns/tables.ts gives their layouts).
import { XlvsError, ErrorCodes } from '../errors';
import { parseAddr, AF6 } from '../dataplane/addr';
import { CONN_STATES, LB } from '../maps/lb';
import { KeyLayout, V_REAL, V_STATE, familyOf } from './tables';

/** What a client may ask for (the control request's fields). */
export interface ConnFilterRequest { vip?: unknown; real?: unknown; client?: unknown; state?: unknown; limit?: unknown }

/** The compiled filter, structured-clone safe. Addresses as stored: 16 bytes, family 4 or 6. */
export interface ConnFilterSpec {
  vip?: { bytes: Uint8Array; family: number; port: number | null; proto: number | null };
  client?: { bytes: Uint8Array; family: number; prefix: number };
  /** Real ids whose address is the --real address (empty: that address has no real: no match). */
  realIds?: number[];
  /** LB_CS_* values (--state). */
  states?: number[];
  limit?: number;
}

/** The state names --state takes: IPVS's (ipvsadm -Lnc's column) and UDP; not templates. */
export const STATE_NAMES: ReadonlyMap<string, number> = new Map(
  Object.entries(CONN_STATES).filter(([n]) => Number(n) !== LB.CS_TEMPLATE).map(([n, name]) => [name, Number(n)]));

/** --state: one name or several, comma-separated, any case (`established`, `SYN_RECV,FIN_WAIT`). */
function parseStateFilter(s: string): number[] {
  return s.split(',').map((x) => {
    const n = STATE_NAMES.get(x.trim().toUpperCase());
    if (n === undefined) throw usage(`--state: "${x}" is not a state (${[...STATE_NAMES.keys()].join(', ')})`);
    return n;
  });
}

function usage(msg: string): XlvsError {
  return new XlvsError(ErrorCodes.USAGE, msg);
}

function addrOf(s: string, what: string): { bytes: Uint8Array; family: number; text: string } {
  try {
    const a = parseAddr(s, what);
    return { bytes: new Uint8Array(a.bytes), family: a.family, text: a.text };
  } catch {
    throw usage(`${what}: "${s}" is not an IPv4 or IPv6 address`);
  }
}

/** --vip: `10.0.0.1`, `10.0.0.1:80`, `2001:db8::1`, `[2001:db8::1]:80`, optionally `/tcp` or `/udp`. */
export function parseVipFilter(s: string): NonNullable<ConnFilterSpec['vip']> {
  const m = /^(?:\[([^\]]+)\](?::(\d+))?|([^:/\[\]]+)(?::(\d+))?|([0-9A-Fa-f:.]*:[0-9A-Fa-f:.]*))(?:\/(tcp|udp))?$/.exec(s);
  if (!m) throw usage(`--vip: "${s}" is not ADDR[:PORT] (IPv6 with a port in brackets: [2001:db8::1]:80)`);
  const a = addrOf(m[1] ?? m[3] ?? m[5], '--vip');
  const portText = m[2] ?? m[4];
  let port: number | null = null;
  if (portText !== undefined) {
    port = Number(portText);
    if (port > 65535) throw usage(`--vip: port ${port} in "${s}" is not 0..65535`);
  }
  const proto = m[6] === 'tcp' ? 6 : m[6] === 'udp' ? 17 : null;
  return { bytes: a.bytes, family: a.family, port, proto };
}

/** --client: `ADDR` or `ADDR/PREFIX`. */
function parseClientFilter(s: string): NonNullable<ConnFilterSpec['client']> {
  const [addr, prefixText, extra] = s.split('/');
  if (extra !== undefined) throw usage(`--client: "${s}" is not ADDR[/PREFIX]`);
  const a = addrOf(addr, '--client');
  const max = a.family === AF6 ? 128 : 32;
  let prefix = max;
  if (prefixText !== undefined) {
    if (!/^\d+$/.test(prefixText) || Number(prefixText) > max) throw usage(`--client: prefix "/${prefixText}" in "${s}" is not 0..${max}`);
    prefix = Number(prefixText);
  }
  return { bytes: a.bytes, family: a.family, prefix };
}

/** Checks and compiles a request; `reals` (id, address) resolves --real to ids. */
export function compileConnFilter(req: ConnFilterRequest, reals: Array<{ id: number; address: string }>): ConnFilterSpec {
  const spec: ConnFilterSpec = {};
  const str = (v: unknown, what: string): string => {
    if (typeof v !== 'string' || v === '') throw usage(`${what}: expected an address, got ${JSON.stringify(v)}`);
    return v;
  };
  if (req.vip !== undefined && req.vip !== null) spec.vip = parseVipFilter(str(req.vip, '--vip'));
  if (req.client !== undefined && req.client !== null) spec.client = parseClientFilter(str(req.client, '--client'));
  if (req.real !== undefined && req.real !== null) {
    const a = addrOf(str(req.real, '--real'), '--real');
    spec.realIds = reals.filter((r) => r.address === a.text).map((r) => r.id);
  }
  if (req.state !== undefined && req.state !== null) {
    if (typeof req.state !== 'string' || req.state === '') throw usage(`--state: expected a state name, got ${JSON.stringify(req.state)}`);
    spec.states = parseStateFilter(req.state);
  }
  if (req.limit !== undefined && req.limit !== null) {
    const n = typeof req.limit === 'string' && /^\d+$/.test(req.limit) ? Number(req.limit) : req.limit;
    if (typeof n !== 'number' || !Number.isInteger(n) || n < 1) throw usage(`--limit: expected a positive integer, got ${JSON.stringify(req.limit)}`);
    spec.limit = n;
  }
  return spec;
}

/** A matcher over the entry at key offset `ko` (laid out as `l`) / value offset `vo`. */
export type ConnMatcher = (keys: Buffer, ko: number, values: Buffer, vo: number) => boolean;

/** The matcher of `spec` for one table's key layout. */
export function matcherOf(spec: ConnFilterSpec, l: KeyLayout): ConnMatcher {
  const tests: ConnMatcher[] = [];
  const n = l.addrLen;
  if (spec.vip) {
    const { family, port, proto } = spec.vip;
    const bytes = Buffer.from(spec.vip.bytes);
    const len = family === AF6 ? 16 : 4;
    if (len > n) return () => false; // an IPv6 VIP in the IPv4 table
    tests.push((k, ko) => familyOf(l, k, ko) === family && k.compare(bytes, 0, len, ko + l.dst, ko + l.dst + len) === 0 &&
      (port === null || k.readUInt16BE(ko + l.dport) === port) && (proto === null || k[ko + l.proto] === proto));
  }
  if (spec.client) {
    const { family, prefix } = spec.client;
    const bytes = Buffer.from(spec.client.bytes);
    if ((family === AF6 ? 16 : 4) > n) return () => false;
    const whole = prefix >> 3;
    const rest = prefix & 7;
    const mask = (0xff << (8 - rest)) & 0xff;
    const src = l.src;
    tests.push((k, ko) => {
      if (familyOf(l, k, ko) !== family) return false;
      if (whole > 0 && k.compare(bytes, 0, whole, ko + src, ko + src + whole) !== 0) return false;
      return rest === 0 || (k[ko + src + whole] & mask) === (bytes[whole] & mask);
    });
  }
  if (spec.realIds) {
    const ids = new Set(spec.realIds);
    tests.push((_k, _ko, v, vo) => ids.has(v.readUInt32LE(vo + V_REAL)));
  }
  if (spec.states) {
    const states = new Set(spec.states);
    tests.push((_k, _ko, v, vo) => states.has(v[vo + V_STATE]));
  }
  if (tests.length === 0) return () => true;
  return (k, ko, v, vo) => tests.every((t) => t(k, ko, v, vo));
}
