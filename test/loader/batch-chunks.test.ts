// BpfMap.lookupBatchChunks: a hash map read back chunk by chunk, each chunk within the asked
// size, together exactly the map's entries; lookupBatchRaw (built on it) still returns them all.
import { describe, test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { BpfMap } from '../../src/loader';
import { needsBpf } from '../lib/env';

describe('BpfMap.lookupBatchChunks', needsBpf(), () => {
  const maps: BpfMap[] = [];
  after(() => { for (const m of maps) m.close(); });

  test('a 20,000-entry hash in chunks of at most 1000', () => {
    const m = BpfMap.create({ type: 'HASH', name: 'chunks_t', keySize: 8, valueSize: 4, maxEntries: 32768 });
    maps.push(m);
    const N = 20_000;
    const keys = Buffer.alloc(N * 8);
    const vals = Buffer.alloc(N * 4);
    for (let i = 0; i < N; i++) { keys.writeBigUInt64LE(BigInt(i) * 7919n, i * 8); vals.writeUInt32LE(i, i * 4); }
    m.updateBatchRaw(keys, vals);
    const seen = new Map<bigint, number>();
    let chunks = 0;
    for (const c of m.lookupBatchChunks(1000)) {
      chunks++;
      assert.ok(c.count > 0 && c.count <= 1000, `chunk of ${c.count}`);
      assert.equal(c.keys.length, c.count * 8);
      assert.equal(c.values.length, c.count * 4);
      for (let i = 0; i < c.count; i++) seen.set(c.keys.readBigUInt64LE(i * 8), c.values.readUInt32LE(i * 4));
    }
    assert.ok(chunks >= 20, `${chunks} chunks`);
    assert.equal(seen.size, N);
    for (let i = 0; i < N; i += 997) assert.equal(seen.get(BigInt(i) * 7919n), i);
    assert.equal(m.lookupBatchRaw().count, N);
    assert.throws(() => m.lookupBatchChunks(0).next(), /chunk 0 must be a positive integer/);
  });

  test('an empty map yields no chunk', () => {
    const m = BpfMap.create({ type: 'LRU_HASH', name: 'chunks_e', keySize: 40, valueSize: 16, maxEntries: 1024 });
    maps.push(m);
    assert.deepEqual([...m.lookupBatchChunks()], []);
    assert.equal(m.lookupBatchRaw().count, 0);
  });
});
