// The two 64-bit hashes that place a backend in a Maglev table: FNV-1a 64 over the key bytes,
// finished with the SplitMix64 mixer so every output bit depends on every input bit.
//
// FNV-1a: Fowler, Noll, Vo, "The FNV Non-Cryptographic Hash Algorithm",
//   draft-eastlake-fnv (IETF), "FNV-1a" and the 64-bit "FNV Primes" / "FNV offset_basis" tables.
// SplitMix64 finaliser: Steele, Lea, Flood, "Fast Splittable Pseudorandom Number Generators",
//   OOPSLA 2014 (the `mix64` variant used by java.util.SplittableRandom).
//
// BigInt is fine here: the hashes run once per backend (hundreds), never per slot.

const MASK64 = (1n << 64n) - 1n;
/** FNV-64 offset basis (draft-eastlake-fnv, offset_basis table). */
const FNV64_OFFSET_BASIS = 0xcbf29ce484222325n;
/** FNV-64 prime, 2^40 + 2^8 + 0xb3 (draft-eastlake-fnv, FNV primes table). */
const FNV64_PRIME = 0x100000001b3n;

/** FNV-1a 64 of `bytes`: xor each octet into the state, then multiply by the prime. */
export function fnv1a64(bytes: Uint8Array): bigint {
  let h = FNV64_OFFSET_BASIS;
  for (let i = 0; i < bytes.length; i++) {
    h ^= BigInt(bytes[i]);
    h = (h * FNV64_PRIME) & MASK64;
  }
  return h;
}

/** SplitMix64 finaliser (Steele et al. 2014): xor-shift-multiply, constants from the paper. */
export function mix64(x: bigint): bigint {
  let z = x & MASK64;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK64;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK64;
  return z ^ (z >> 31n);
}

/**
 * One of the two independent placement hashes: `mix64(fnv1a64(domain ‖ seed_le32 ‖ key))`.
 * `domain` separates the offset hash (0x6f, 'o') from the skip hash (0x73, 's'), so the two
 * are different functions of the same (key, seed).
 */
export function placementHash(domain: number, seed: number, key: Uint8Array): bigint {
  const buf = new Uint8Array(5 + key.length);
  buf[0] = domain & 0xff;
  buf[1] = seed & 0xff;
  buf[2] = (seed >>> 8) & 0xff;
  buf[3] = (seed >>> 16) & 0xff;
  buf[4] = (seed >>> 24) & 0xff;
  buf.set(key, 5);
  return mix64(fnv1a64(buf));
}

export const OFFSET_DOMAIN = 0x6f; // 'o'
export const SKIP_DOMAIN = 0x73; // 's'
