// The two 64-bit hashes that place a backend in a Maglev table: FNV-1a 64 over the key bytes,
// finished with the SplitMix64 mixer so every output bit depends on every input bit.
//
// FNV-1a: Fowler, Noll, Vo, "The FNV Non-Cryptographic Hash Algorithm",
//   draft-eastlake-fnv (IETF), "FNV-1a" and the 64-bit "FNV Primes" / "FNV offset_basis" tables.
// SplitMix64 finaliser: Steele, Lea, Flood, "Fast Splittable Pseudorandom Number Generators",
//   OOPSLA 2014 (the `mix64` variant used by java.util.SplittableRandom).
//
// 64-bit values are computed as two unsigned 32-bit halves [hi, lo] with exact double
// arithmetic (every intermediate below 2^53): BigInt cost about 1 µs per hash, 2 ms of a
// 6 ms build of a 1000-backend table.

/** A 64-bit value as unsigned 32-bit halves. */
export interface U64 { hi: number; lo: number }

const TWO32 = 4294967296;

/** FNV-64 offset basis 0xcbf29ce484222325 (draft-eastlake-fnv, offset_basis table). */
const FNV64_OFFSET_HI = 0xcbf29ce4;
const FNV64_OFFSET_LO = 0x84222325;
/** FNV-64 prime 0x100000001b3 = 2^40 + 0x1b3 (draft-eastlake-fnv, FNV primes table). */
const FNV64_PRIME_LOW = 0x1b3;

/** a * b mod 2^64. */
function mul64(ahi: number, alo: number, bhi: number, blo: number): U64 {
  const a1 = alo >>> 16, a0 = alo & 0xffff, b1 = blo >>> 16, b0 = blo & 0xffff;
  const mid = a0 * b1 + a1 * b0; // < 2^33
  const low = a0 * b0 + (mid % 65536) * 65536; // < 2^33
  const lo = low % TWO32;
  const carry = Math.floor(low / TWO32) + Math.floor(mid / 65536) + a1 * b1;
  const hi = (carry + Math.imul(ahi, blo) + Math.imul(alo, bhi)) >>> 0;
  return { hi, lo };
}

/** z ^ (z >> n), 0 < n < 32. */
function xorShift(z: U64, n: number): U64 {
  return { hi: (z.hi ^ (z.hi >>> n)) >>> 0, lo: (z.lo ^ ((z.lo >>> n) | (z.hi << (32 - n)))) >>> 0 };
}

function fnv1a64Halves(bytes: Uint8Array): U64 {
  let hi = FNV64_OFFSET_HI, lo = FNV64_OFFSET_LO;
  for (let i = 0; i < bytes.length; i++) {
    lo = (lo ^ bytes[i]) >>> 0;
    // h * (2^40 + 0x1b3) mod 2^64: lo * 0x1b3 with its carry into hi, hi * 0x1b3, and h << 40,
    // whose only part below 2^64 is lo << 8 in the high word.
    const p = lo * FNV64_PRIME_LOW; // < 2^41
    const nextLo = p % TWO32;
    hi = (Math.imul(hi, FNV64_PRIME_LOW) + (p - nextLo) / TWO32 + ((lo << 8) >>> 0)) >>> 0;
    lo = nextLo;
  }
  return { hi, lo };
}

function mix64Halves(x: U64): U64 {
  let z = xorShift(x, 30);
  z = mul64(z.hi, z.lo, 0xbf58476d, 0x1ce4e5b9);
  z = xorShift(z, 27);
  z = mul64(z.hi, z.lo, 0x94d049bb, 0x133111eb);
  return xorShift(z, 31);
}

const toBig = (v: U64): bigint => (BigInt(v.hi) << 32n) | BigInt(v.lo);

/** FNV-1a 64 of `bytes`: xor each octet into the state, then multiply by the prime. */
export function fnv1a64(bytes: Uint8Array): bigint {
  return toBig(fnv1a64Halves(bytes));
}

function placementHalves(domain: number, seed: number, key: Uint8Array): U64 {
  const buf = new Uint8Array(5 + key.length);
  buf[0] = domain & 0xff;
  buf[1] = seed & 0xff;
  buf[2] = (seed >>> 8) & 0xff;
  buf[3] = (seed >>> 16) & 0xff;
  buf[4] = (seed >>> 24) & 0xff;
  buf.set(key, 5);
  return mix64Halves(fnv1a64Halves(buf));
}

/**
 * One of the two independent placement hashes, `mix64(fnv1a64(domain ‖ seed_le32 ‖ key))` (mix64:
 * the SplitMix64 finaliser), mod m, for 1 <= m < 2^26, without BigInt. `domain` separates the
 * offset hash (0x6f, 'o') from the skip hash (0x73, 's'), so the two are different functions of
 * the same (key, seed).
 */
export function placementHashMod(domain: number, seed: number, key: Uint8Array, m: number): number {
  const h = placementHalves(domain, seed, key);
  // (hi * 2^32 + lo) mod m, every product below 2^52.
  return ((h.hi % m) * (TWO32 % m) + (h.lo % m)) % m;
}

export const OFFSET_DOMAIN = 0x6f; // 'o'
export const SKIP_DOMAIN = 0x73; // 's'
