// Weighted Maglev lookup table: slot -> backend id, a pure function of (backends, size, seed).
//
// Eisenbud et al., "Maglev: A Fast and Reliable Software Network Load Balancer", NSDI 2016,
// §3.4 and Pseudocode 1: each backend i has a permutation of the M slots given by
// offset_i = h1(key_i) mod M and skip_i = h2(key_i) mod (M - 1) + 1; backends take turns
// claiming their next preferred empty slot until the table is full. M must be prime so that
// every skip is coprime with M and each permutation visits every slot.
//
// Weights: §3.4 notes a backend's share follows from how often it takes a turn. We give
// backend i a turn in round r (r = 1, 2, …) while claimed_i * maxWeight <= r * weight_i, i.e.
// the heaviest backend claims once per round and the others in proportion to their weight
// (the same rule as Envoy's weighted Maglev, in exact integer arithmetic so every director
// computes the same table). Weight 0 never takes a turn.
//
// Determinism: the input order does not matter. Backends are sorted by the UTF-8 bytes of
// `key` before population (ties are impossible: keys must be unique), so two directors that
// know the same (key, id, weight) set build byte-identical tables regardless of how they
// listed the reals. Ids are what the data plane stores; keys are what placement depends on,
// so a real keeps its slots when its id changes but its key (e.g. "10.0.0.5:80") does not.
import { XlvsError, ErrorCodes } from '../errors';
import { placementHashMod, OFFSET_DOMAIN, SKIP_DOMAIN } from './hash';

export interface MaglevBackend {
  /** Written into the slot; 1..2^32-1 (0 means "no backend"). */
  id: number;
  /** Stable identity that decides placement, e.g. "10.0.0.5:80". Unique within a table. */
  key: string;
  /** 0..65535 (ipvsadm's range); 0 = never selected. */
  weight: number;
}

/** Largest table we build: 2^24 slots is 64 MiB of u32, well beyond any VIP's needs. */
export const MAX_TABLE_SIZE = 16777213; // largest prime below 2^24
/** ipvsadm -w: weight is 0..65535 (ipvsadm(8), --weight). */
export const MAX_WEIGHT = 65535;

/** Trial division by 6k±1; table sizes are at most a few million, so this is microseconds. */
export function isPrime(n: number): boolean {
  if (!Number.isInteger(n) || n < 2) return false;
  if (n < 4) return true;
  if (n % 2 === 0 || n % 3 === 0) return false;
  for (let d = 5; d * d <= n; d += 6) {
    if (n % d === 0 || n % (d + 2) === 0) return false;
  }
  return true;
}


/**
 * Build the table. Throws XlvsError E_USAGE for a non-prime size, a bad id/weight or a
 * duplicate key. No backends, or every weight 0, gives an all-zero table.
 */
export function buildMaglevTable(backends: readonly MaglevBackend[], size: number, seed = 0): Uint32Array {
  if (!isPrime(size)) throw new XlvsError(ErrorCodes.USAGE, `maglev table size ${size} is not a prime number`);
  if (size > MAX_TABLE_SIZE) throw new XlvsError(ErrorCodes.USAGE, `maglev table size ${size} is above ${MAX_TABLE_SIZE}`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) {
    throw new XlvsError(ErrorCodes.USAGE, `maglev seed ${seed} is not an integer 0..4294967295`);
  }
  const table = new Uint32Array(size);
  const sorted = checkAndSort(backends);
  const live = sorted.filter((b) => b.weight > 0);
  if (live.length === 0) return table;

  // Per-backend state in typed arrays (struct of arrays): the fill loop below touches them for
  // every claim, and plain small-integer arrays keep it on integer arithmetic (a 1000-backend
  // build, median of 9: 7.6 -> 4.9 ms here).
  const n = live.length;
  const ids = new Uint32Array(n);
  const weights = new Int32Array(n);
  const pos = new Int32Array(n);
  const skip = new Int32Array(n);
  const claimed = new Float64Array(n); // claimed * maxWeight can pass 2^31
  const parked = new Uint8Array(n);
  let maxWeight = 0;
  live.forEach((b, i) => {
    ids[i] = b.id;
    weights[i] = b.weight;
    pos[i] = placementHashMod(OFFSET_DOMAIN, seed, b.bytes, size);
    skip[i] = placementHashMod(SKIP_DOMAIN, seed, b.bytes, size - 1) + 1;
    if (b.weight > maxWeight) maxWeight = b.weight;
  });
  const equal = weights.every((w) => w === maxWeight);

  // A backend waits for its turn in one of two ways. Soon (within PARK_ROUNDS): it stays in
  // the round's list and is skipped. Later: it is parked in the bucket of the round its turn
  // comes in, so with weights 65535 and 1 the 99 light reals are not checked 65000 times each
  // (that was 15 of a 17.7 ms build; now 2.6 ms, same table). The visiting order within a round
  // stays the index order, so the table is the same as checking every backend every round.
  // With equal weights every backend takes a turn every round: no check at all.
  let filled = 0;
  let active: number[] = Array.from({ length: n }, (_, i) => i);
  const waiting = new Map<number, number[]>();
  for (let round = 1; filled < size; round++) {
    let anyParked = false;
    for (let k = 0; k < active.length; k++) {
      const i = active[k];
      // Turn rule above: claimed * maxWeight <= round * weight (both < 2^53).
      if (!equal && claimed[i] * maxWeight > round * weights[i]) continue;
      let p = pos[i];
      const step = skip[i];
      while (table[p] !== 0) {
        p += step;
        if (p >= size) p -= size;
      }
      table[p] = ids[i];
      p += step;
      if (p >= size) p -= size;
      pos[i] = p;
      claimed[i]++;
      if (++filled === size) break;
      if (!equal && claimed[i] * maxWeight > (round + PARK_ROUNDS) * weights[i]) {
        const turn = turnRound(claimed[i], maxWeight, weights[i]);
        const w = waiting.get(turn);
        if (w) w.push(i);
        else waiting.set(turn, [i]);
        parked[i] = 1;
        anyParked = true;
      }
    }
    if (filled === size) break;
    if (anyParked) active = active.filter((i) => parked[i] === 0);
    const back = waiting.get(round + 1);
    if (back) {
      waiting.delete(round + 1);
      for (const i of back) parked[i] = 0;
      active = mergeSorted(active, back.sort((a, b) => a - b));
    }
  }
  return table;
}

/** Rounds a backend may wait in the visiting list before it is parked instead. */
const PARK_ROUNDS = 16;

/** The first round r in which a backend that claimed `claimed` slots takes a turn: the least r
 *  with claimed * maxWeight <= r * weight (the turn rule above), in exact integers (< 2^53). */
function turnRound(claimed: number, maxWeight: number, weight: number): number {
  const need = claimed * maxWeight;
  let r = Math.floor(need / weight);
  while (r * weight < need) r++;
  while (r > 0 && (r - 1) * weight >= need) r--;
  return r;
}

function mergeSorted(a: number[], b: number[]): number[] {
  const out: number[] = new Array(a.length + b.length);
  let i = 0, j = 0, k = 0;
  while (i < a.length && j < b.length) out[k++] = a[i] < b[j] ? a[i++] : b[j++];
  while (i < a.length) out[k++] = a[i++];
  while (j < b.length) out[k++] = b[j++];
  return out;
}

interface Checked { id: number; weight: number; key: string; bytes: Uint8Array }

function checkAndSort(backends: readonly MaglevBackend[]): Checked[] {
  const out: Checked[] = [];
  const keys = new Set<string>();
  const ids = new Set<number>();
  backends.forEach((b, i) => {
    if (!Number.isInteger(b.id) || b.id < 1 || b.id > 0xffffffff) {
      throw new XlvsError(ErrorCodes.USAGE, `maglev backends[${i}].id: ${b.id} is not an integer 1..4294967295 (0 means "no backend")`);
    }
    if (!Number.isInteger(b.weight) || b.weight < 0 || b.weight > MAX_WEIGHT) {
      throw new XlvsError(ErrorCodes.USAGE, `maglev backends[${i}].weight: ${b.weight} is not an integer 0..${MAX_WEIGHT}`);
    }
    if (typeof b.key !== 'string' || b.key.length === 0) {
      throw new XlvsError(ErrorCodes.USAGE, `maglev backends[${i}].key: must be a non-empty string`);
    }
    if (keys.has(b.key)) throw new XlvsError(ErrorCodes.USAGE, `maglev backends[${i}].key: "${b.key}" appears twice`);
    keys.add(b.key);
    if (ids.has(b.id)) throw new XlvsError(ErrorCodes.USAGE, `maglev backends[${i}].id: ${b.id} appears twice`);
    ids.add(b.id);
    out.push({ id: b.id, weight: b.weight, key: b.key, bytes: Buffer.from(b.key, 'utf8') });
  });
  out.sort((a, b) => Buffer.compare(a.bytes, b.bytes));
  return out;
}

/** Slots per backend id in a table (tests, `xlvs` listings). */
export function maglevShares(table: Uint32Array): Map<number, number> {
  const m = new Map<number, number>();
  for (let i = 0; i < table.length; i++) m.set(table[i], (m.get(table[i]) ?? 0) + 1);
  return m;
}
