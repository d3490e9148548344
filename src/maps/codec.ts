// Typed codecs for the C structs shared with the BPF programs: a layout (name, offset, type of
// every member, explicit padding) that encodes a JS object into a zeroed Buffer and decodes it
// back. Every codec registers itself; test/maps/btf-layout.test.ts checks each one against the BTF
// of the built objects, so a TS layout cannot drift from its C definition in bpf/include/.
import { XlvsError, ErrorCodes } from '../errors';
import { writeIpv4, formatIpv4, parseIpv6, formatIpv6, parseMac, formatMac } from './addr';

export { parseIpv4, writeIpv4, formatIpv4, parseIpv6, formatIpv6, parseMac, formatMac } from './addr';

/** Scalar types: host-order (little-endian) unsigned ints, network-order be16/be32. */
export type ScalarType = 'u8' | 'u16' | 'u32' | 'u64' | 's64' | 'i32' | 'be16' | 'be32';

/**
 * A field's type.
 * - scalars: numbers (u64 and s64 as bigint; encode also takes a safe-integer number)
 * - 'ipv4': 4 bytes, network order ↔ "192.0.2.1"
 * - 'ipv6': 16 bytes ↔ "2001:db8::1"
 * - { ip16: 'mapped' }: 16 bytes holding either family; IPv4 as ::ffff:a.b.c.d (RFC 4291 §2.5.5.2)
 * - { ip16: 'first4' }: 16 bytes; IPv4 in the first 4 bytes, the rest zero. Decodes as IPv4 when
 *   bytes 4..15 are zero, so pair it with a family field when an IPv6 address could look like that.
 * - 'mac': 6 bytes ↔ "aa:bb:cc:dd:ee:ff"
 * - { bytes: N }: raw Buffer of exactly N bytes
 * - { pad: N }: N zero bytes, not part of the JS value
 * - { array: scalar, length: N }: N scalars ↔ number[] (bigint[] for u64)
 * - { struct: codec }: a nested struct
 */
export type FieldType =
  | ScalarType | 'ipv4' | 'ipv6' | 'mac'
  | { ip16: 'mapped' | 'first4' }
  | { bytes: number }
  | { pad: number }
  | { array: ScalarType; length: number }
  | { struct: StructCodec<any> };

export interface FieldDef {
  /** JS property name. */
  name: string;
  offset: number;
  type: FieldType;
  /** The C member's name when it differs from `name` (checked against BTF). */
  cName?: string;
}

export interface StructDef {
  /** `struct <cName>` in bpf/include/ (or test/bpf/include/). */
  cName: string;
  size: number;
  fields: FieldDef[];
}

export interface StructCodec<T> {
  readonly cName: string;
  readonly size: number;
  readonly fields: ReadonlyArray<Readonly<FieldDef> & { size: number }>;
  /** A new zeroed Buffer of `size` bytes with every field of `v` written. */
  encode(v: T): Buffer;
  /** Writes `v` into `buf` at `offset` (bytes not covered by a value field are zeroed). */
  encodeInto(v: T, buf: Buffer, offset: number): void;
  decode(b: Buffer, offset?: number): T;
}

const SCALAR_SIZE: Record<ScalarType, number> = { u8: 1, u16: 2, u32: 4, u64: 8, s64: 8, i32: 4, be16: 2, be32: 4 };

function fieldSize(t: FieldType): number {
  if (typeof t === 'string') {
    if (t in SCALAR_SIZE) return SCALAR_SIZE[t as ScalarType];
    if (t === 'ipv4') return 4;
    if (t === 'ipv6') return 16;
    if (t === 'mac') return 6;
  } else if ('ip16' in t) return 16;
  else if ('bytes' in t) return t.bytes;
  else if ('pad' in t) return t.pad;
  else if ('array' in t) return SCALAR_SIZE[t.array] * t.length;
  else if ('struct' in t) return t.struct.size;
  throw new XlvsError(ErrorCodes.CODEC, `unknown field type ${JSON.stringify(t)}`);
}

const registry = new Map<string, StructCodec<unknown>>();

/** Every codec defined so far (each module that calls defineStruct registers on import). */
export function allCodecs(): StructCodec<unknown>[] {
  return [...registry.values()];
}

/** Defines a codec and registers it. The layout is checked here: fields in order, inside `size`, not overlapping. */
export function defineStruct<T>(def: StructDef): StructCodec<T> {
  const where = `struct ${def.cName}`;
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(def.cName)) throw new XlvsError(ErrorCodes.CODEC, `${where}: cName must be a C identifier`);
  if (!Number.isInteger(def.size) || def.size <= 0) throw new XlvsError(ErrorCodes.CODEC, `${where}: size ${def.size} must be a positive integer`);
  const fields = def.fields.map((f) => ({ ...f, size: fieldSize(f.type) }));
  let end = 0;
  const names = new Set<string>();
  for (const f of fields) {
    const fw = `${where}.${f.name}`;
    if (names.has(f.name)) throw new XlvsError(ErrorCodes.CODEC, `${fw}: defined twice`);
    names.add(f.name);
    if (!Number.isInteger(f.offset) || f.offset < end) throw new XlvsError(ErrorCodes.CODEC, `${fw}: offset ${f.offset} overlaps the previous field (ends at ${end}) or is out of order`);
    if (!Number.isInteger(f.size) || f.size <= 0) throw new XlvsError(ErrorCodes.CODEC, `${fw}: size ${f.size} must be positive`);
    if (f.offset + f.size > def.size) throw new XlvsError(ErrorCodes.CODEC, `${fw}: offset ${f.offset} + size ${f.size} runs past the struct size ${def.size}`);
    end = f.offset + f.size;
  }
  const prev = registry.get(def.cName);
  if (prev && JSON.stringify(layoutOf(prev)) !== JSON.stringify(layoutOf({ size: def.size, fields }))) {
    throw new XlvsError(ErrorCodes.CODEC, `${where}: a different codec of that name is already registered`);
  }
  const valueFields = fields.filter((f) => !(typeof f.type === 'object' && 'pad' in f.type)).map((f) => ({ ...f, where: `${where}.${f.name}` }));

  const codec: StructCodec<T> = {
    cName: def.cName,
    size: def.size,
    fields,
    encode(v: T): Buffer {
      const b = Buffer.alloc(def.size);
      codec.encodeInto(v, b, 0);
      return b;
    },
    encodeInto(v: T, buf: Buffer, offset: number): void {
      if (v === null || typeof v !== 'object') throw new XlvsError(ErrorCodes.CODEC, `${where}: value must be an object, got ${v === null ? 'null' : typeof v}`);
      if (offset < 0 || offset + def.size > buf.length) throw new XlvsError(ErrorCodes.CODEC, `${where}: buffer of ${buf.length} bytes cannot hold ${def.size} at offset ${offset}`);
      buf.fill(0, offset, offset + def.size);
      const rec = v as Record<string, unknown>;
      for (const f of valueFields) {
        const x = rec[f.name];
        if (x === undefined) throw new XlvsError(ErrorCodes.CODEC, `${f.where}: missing`);
        writeField(f.where, f.type, x, buf, offset + f.offset);
      }
    },
    decode(b: Buffer, offset = 0): T {
      if (!Buffer.isBuffer(b) || b.length - offset < def.size) {
        throw new XlvsError(ErrorCodes.CODEC, `${where}: decode needs ${def.size} bytes at offset ${offset}, got ${Buffer.isBuffer(b) ? b.length : typeof b}`);
      }
      const out: Record<string, unknown> = {};
      for (const f of valueFields) out[f.name] = readField(f.type, b, offset + f.offset);
      return out as T;
    },
  };
  registry.set(def.cName, codec as StructCodec<unknown>);
  return codec;
}

function layoutOf(c: { size: number; fields: ReadonlyArray<{ name: string; offset: number; size: number }> }) {
  return { size: c.size, fields: c.fields.map((f) => [f.name, f.offset, f.size]) };
}

function fail(where: string, what: string): never {
  throw new XlvsError(ErrorCodes.CODEC, `${where}: ${what}`);
}

function writeScalar(where: string, t: ScalarType, x: unknown, b: Buffer, off: number): void {
  if (t === 'u64' || t === 's64') {
    let v: bigint;
    if (typeof x === 'bigint') v = x;
    else if (typeof x === 'number' && Number.isSafeInteger(x)) v = BigInt(x);
    else fail(where, `${String(x)} is not an integer for ${t}`);
    if (t === 's64') {
      if (v < -(2n ** 63n) || v >= 2n ** 63n) fail(where, `${v} does not fit in s64`);
      b.writeBigInt64LE(v, off);
      return;
    }
    if (v < 0n || v > 0xffffffffffffffffn) fail(where, `${v} does not fit in u64`);
    b.writeBigUInt64LE(v, off);
    return;
  }
  if (typeof x !== 'number' || !Number.isInteger(x)) fail(where, `${String(x)} is not an integer for ${t}`);
  const n = x as number;
  const max = t === 'i32' ? 0x7fffffff : 2 ** (SCALAR_SIZE[t] * 8) - 1;
  const min = t === 'i32' ? -0x80000000 : 0;
  if (n < min || n > max) fail(where, `${n} does not fit in ${t} (${min}..${max})`);
  switch (t) {
    case 'u8': b.writeUInt8(n, off); break;
    case 'u16': b.writeUInt16LE(n, off); break;
    case 'u32': b.writeUInt32LE(n, off); break;
    case 'i32': b.writeInt32LE(n, off); break;
    case 'be16': b.writeUInt16BE(n, off); break;
    case 'be32': b.writeUInt32BE(n, off); break;
  }
}

function readScalar(t: ScalarType, b: Buffer, off: number): number | bigint {
  switch (t) {
    case 'u8': return b.readUInt8(off);
    case 'u16': return b.readUInt16LE(off);
    case 'u32': return b.readUInt32LE(off);
    case 'i32': return b.readInt32LE(off);
    case 'u64': return b.readBigUInt64LE(off);
    case 's64': return b.readBigInt64LE(off);
    case 'be16': return b.readUInt16BE(off);
    case 'be32': return b.readUInt32BE(off);
  }
}

function writeField(where: string, t: FieldType, x: unknown, b: Buffer, off: number): void {
  if (typeof t === 'string') {
    if (t in SCALAR_SIZE) return writeScalar(where, t as ScalarType, x, b, off);
    if (typeof x !== 'string') fail(where, `expected an address string, got ${typeof x}`);
    const s = x as string;
    if (t === 'ipv4') return wrap(where, () => writeIpv4(s, b, off));
    if (t === 'ipv6') return void wrap(where, () => parseIpv6(s)).copy(b, off);
    if (t === 'mac') return void wrap(where, () => parseMac(s)).copy(b, off);
  } else if ('ip16' in t) {
    if (typeof x !== 'string') fail(where, `expected an address string, got ${typeof x}`);
    const s = x as string;
    if (s.includes(':')) return void wrap(where, () => parseIpv6(s)).copy(b, off);
    if (t.ip16 === 'mapped') {
      wrap(where, () => writeIpv4(s, b, off + 12));
      b[off + 10] = 0xff;
      b[off + 11] = 0xff;
    } else wrap(where, () => writeIpv4(s, b, off));
    return;
  } else if ('bytes' in t) {
    if (!Buffer.isBuffer(x)) fail(where, `expected a Buffer of ${t.bytes} bytes, got ${typeof x}`);
    if ((x as Buffer).length !== t.bytes) fail(where, `Buffer of ${(x as Buffer).length} bytes does not fit ${t.bytes}`);
    (x as Buffer).copy(b, off);
    return;
  } else if ('array' in t) {
    if (!Array.isArray(x)) fail(where, `expected an array of ${t.length}`);
    const arr = x as unknown[];
    if (arr.length > t.length) fail(where, `${arr.length} elements do not fit ${t.length}`);
    arr.forEach((e, i) => writeScalar(`${where}[${i}]`, t.array, e, b, off + i * SCALAR_SIZE[t.array]));
    return;
  } else if ('struct' in t) {
    return t.struct.encodeInto(x, b, off);
  }
  fail(where, `cannot encode field type ${JSON.stringify(t)}`);
}

function readField(t: FieldType, b: Buffer, off: number): unknown {
  if (typeof t === 'string') {
    if (t in SCALAR_SIZE) return readScalar(t as ScalarType, b, off);
    if (t === 'ipv4') return formatIpv4(b.subarray(off, off + 4));
    if (t === 'ipv6') return formatIpv6(b.subarray(off, off + 16));
    if (t === 'mac') return formatMac(b.subarray(off, off + 6));
  } else if ('ip16' in t) {
    const a = b.subarray(off, off + 16);
    if (t.ip16 === 'mapped') {
      const mapped = a.subarray(0, 10).every((x) => x === 0) && a.readUInt16BE(10) === 0xffff;
      return mapped ? formatIpv4(a.subarray(12, 16)) : formatIpv6(a);
    }
    return a.subarray(4).every((x) => x === 0) ? formatIpv4(a.subarray(0, 4)) : formatIpv6(a);
  } else if ('bytes' in t) return Buffer.from(b.subarray(off, off + t.bytes));
  else if ('array' in t) {
    const out: Array<number | bigint> = [];
    for (let i = 0; i < t.length; i++) out.push(readScalar(t.array, b, off + i * SCALAR_SIZE[t.array]));
    return out;
  } else if ('struct' in t) return t.struct.decode(b, off);
  return undefined;
}

function wrap<R>(where: string, fn: () => R): R {
  try {
    return fn();
  } catch (e) {
    fail(where, (e as Error).message);
  }
}
