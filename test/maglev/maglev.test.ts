// Property tests for the weighted Maglev builder (balance, disruption, determinism, weights),
// in the manner of vc5's maglev_test.go: bounds on shares, never hard-coded tables.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { buildMaglevTable, isPrime, maglevShares, MaglevBackend } from '../../src/maglev/maglev';
import { fnv1a64 } from '../../src/maglev/hash';
import { isXlvsError } from '../../src/errors';

const M = 65537;

function reals(n: number, weight: (i: number) => number = () => 1): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, key: `10.1.${i >> 8}.${i & 255}:80`, weight: weight(i) }));
}

/** Assert each backend's slot count is within ±1% (of the table) of weight/Σweight. */
function assertShares(table: Uint32Array, backends: MaglevBackend[], tolerance = 0.01): void {
  const shares = maglevShares(table);
  const total = backends.reduce((s, b) => s + b.weight, 0);
  assert.equal(shares.get(0), undefined, 'no empty slot when some weight > 0');
  for (const b of backends) {
    const got = (shares.get(b.id) ?? 0) / table.length;
    const want = b.weight / total;
    assert.ok(Math.abs(got - want) <= tolerance * want,
      `backend ${b.id} (weight ${b.weight}) holds ${(got * 100).toFixed(3)}% of slots, want ${(want * 100).toFixed(3)}% ±1%`);
  }
}

test('FNV-1a 64 matches the published test vectors', () => {
  // Vectors from the FNV reference test suite (draft-eastlake-fnv, test vectors).
  assert.equal(fnv1a64(new Uint8Array()), 0xcbf29ce484222325n);
  assert.equal(fnv1a64(Buffer.from('a')), 0xaf63dc4c8601ec8cn);
  assert.equal(fnv1a64(Buffer.from('foobar')), 0x85944171f73967e8n);
});

test('isPrime', () => {
  const primes = [2, 3, 5, 7, 251, 65537, 131071, 1000003];
  const composite = [0, 1, 4, 9, 65535, 65536, 1000001, 25, 49, -7, 2.5, NaN];
  for (const p of primes) assert.equal(isPrime(p), true, String(p));
  for (const c of composite) assert.equal(isPrime(c), false, String(c));
});

test('equal weights, 100 backends, 65537 slots: each within ±1% of its share', () => {
  const b = reals(100);
  assertShares(buildMaglevTable(b, M), b);
});

test('weighted shares within ±1% of weight / total', () => {
  const b = reals(20, (i) => 1 + (i % 5) * 3); // weights 1, 4, 7, 10, 13
  assertShares(buildMaglevTable(b, M), b);
  const two = [{ id: 7, key: 'a', weight: 3 }, { id: 9, key: 'b', weight: 1 }];
  assertShares(buildMaglevTable(two, M), two);
});

test('removing one of N moves at most 1/N + 1% of slots', () => {
  for (const n of [5, 20, 100]) {
    const b = reals(n);
    const before = buildMaglevTable(b, M);
    for (const gone of [0, Math.floor(n / 2), n - 1]) {
      const after = buildMaglevTable(b.filter((_, i) => i !== gone), M);
      let moved = 0;
      for (let s = 0; s < M; s++) if (before[s] !== after[s]) moved++;
      const bound = 1 / n + 0.01;
      assert.ok(moved / M <= bound, `n=${n} remove #${gone}: ${(moved / M * 100).toFixed(2)}% moved > ${(bound * 100).toFixed(2)}%`);
      // The removed backend's own slots must move; nothing maps to it afterwards.
      assert.ok(!after.includes(gone + 1));
    }
  }
});

test('setting a weight to 0 behaves like removing the backend', () => {
  const b = reals(10);
  const zeroed = b.map((x, i) => (i === 3 ? { ...x, weight: 0 } : x));
  assert.deepEqual(buildMaglevTable(zeroed, 251), buildMaglevTable(b.filter((_, i) => i !== 3), 251));
});

test('identical output for identical input; input order does not matter; seed does', () => {
  const b = reals(30, (i) => 1 + (i % 3));
  const t1 = buildMaglevTable(b, M, 7);
  const t2 = buildMaglevTable(b.map((x) => ({ ...x })), M, 7);
  assert.deepEqual(t1, t2);
  const shuffled = [...b].reverse();
  shuffled.push(shuffled.shift()!);
  assert.deepEqual(buildMaglevTable(shuffled, M, 7), t1);
  const other = buildMaglevTable(b, M, 8);
  let differ = 0;
  for (let s = 0; s < M; s++) if (other[s] !== t1[s]) differ++;
  assert.ok(differ > M / 2, `a different seed should reshuffle most slots, ${differ} differ`);
});

test('weight 0 backends never appear', () => {
  const b = reals(50, (i) => (i % 2 === 0 ? 0 : 1 + (i % 7)));
  const t = buildMaglevTable(b, M);
  const zeroIds = new Set(b.filter((x) => x.weight === 0).map((x) => x.id));
  for (let s = 0; s < M; s++) assert.ok(!zeroIds.has(t[s]), `slot ${s} holds weight-0 backend ${t[s]}`);
  assertShares(t, b.filter((x) => x.weight > 0));
});

test('no backends or all weights 0: all zeros', () => {
  assert.ok(buildMaglevTable([], 251).every((x) => x === 0));
  assert.ok(buildMaglevTable(reals(4, () => 0), 251).every((x) => x === 0));
});

test('one backend owns every slot; extreme weight ratio still gives the light one its share', () => {
  assert.ok(buildMaglevTable([{ id: 42, key: 'x', weight: 5 }], 13).every((x) => x === 42));
  const b = [{ id: 1, key: 'heavy', weight: 65535 }, { id: 2, key: 'light', weight: 655 }];
  const shares = maglevShares(buildMaglevTable(b, M));
  const want = (M * 655) / (65535 + 655);
  assert.ok(Math.abs(shares.get(2)! - want) <= 0.01 * want + 1, `light got ${shares.get(2)}, want ≈${want.toFixed(0)}`);
});

test('bad input is refused with E_USAGE naming the problem', () => {
  const cases: [() => unknown, RegExp][] = [
    [() => buildMaglevTable(reals(2), 65536), /65536 is not a prime/],
    [() => buildMaglevTable(reals(2), 1), /1 is not a prime/],
    [() => buildMaglevTable([{ id: 0, key: 'a', weight: 1 }], 13), /backends\[0\]\.id: 0/],
    [() => buildMaglevTable([{ id: 1, key: 'a', weight: 70000 }], 13), /backends\[0\]\.weight: 70000/],
    [() => buildMaglevTable([{ id: 1, key: 'a', weight: -1 }], 13), /backends\[0\]\.weight: -1/],
    [() => buildMaglevTable([{ id: 1, key: 'a', weight: 1 }, { id: 2, key: 'a', weight: 1 }], 13), /backends\[1\]\.key: "a" appears twice/],
    [() => buildMaglevTable([{ id: 1, key: 'a', weight: 1 }, { id: 1, key: 'b', weight: 1 }], 13), /backends\[1\]\.id: 1 appears twice/],
    [() => buildMaglevTable(reals(1), 13, -1), /seed -1/],
  ];
  for (const [fn, re] of cases) {
    assert.throws(fn, (e: unknown) => isXlvsError(e, 'E_USAGE') && re.test((e as Error).message));
  }
});
