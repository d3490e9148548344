// BpfMap.writeAllMmapped: a whole BPF_F_MMAPABLE array written through mmap, read back through
// the syscall interface the kernel offers BPF programs and tools alike.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { needsBpf } from '../lib/env';
import { BpfMap } from '../../src/loader';
import { LB } from '../../src/maps/lb';

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

test('an mmapable array takes a whole image at once; elements are 8 bytes apart for a 4-byte value', needsBpf(), () => {
  const n = 65538;
  const m = BpfMap.create({ type: 'ARRAY', name: 'mmap_test', keySize: 4, valueSize: 4, maxEntries: n, flags: LB.F_MMAPABLE });
  try {
    const image = Buffer.alloc(8 * n);
    for (let i = 0; i < n; i++) image.writeUInt32LE((i * 2654435761) >>> 0, 8 * i);
    m.writeAllMmapped(image);
    for (const i of [0, 1, 2, 4095, 4096, 32768, n - 1]) {
      assert.equal(m.lookup(u32(i))!.readUInt32LE(0), (i * 2654435761) >>> 0, `element ${i}`);
    }
    // A second write replaces every element.
    m.writeAllMmapped(Buffer.alloc(8 * n));
    assert.equal(m.lookup(u32(n - 1))!.readUInt32LE(0), 0);
  } finally {
    m.close();
  }
});

test('writeAllMmapped refuses an image of the wrong size and a map that is not mmapable', needsBpf(), () => {
  const m = BpfMap.create({ type: 'ARRAY', name: 'mmap_test2', keySize: 4, valueSize: 4, maxEntries: 10, flags: LB.F_MMAPABLE });
  const plain = BpfMap.create({ type: 'ARRAY', name: 'mmap_test3', keySize: 4, valueSize: 4, maxEntries: 10 });
  try {
    assert.throws(() => m.writeAllMmapped(Buffer.alloc(40)), /40 bytes, the array holds 80 \(10 x 8\)/);
    assert.throws(() => plain.writeAllMmapped(Buffer.alloc(80)), /needs an ARRAY created with BPF_F_MMAPABLE/);
  } finally {
    m.close();
    plain.close();
  }
});

test('mmappedChunks reads an mmapable array in chunks, as BPF_MAP_LOOKUP_BATCH does, and stays valid after', needsBpf(), () => {
  const n = 5000;
  const m = BpfMap.create({ type: 'ARRAY', name: 'mmap_test4', keySize: 4, valueSize: 64, maxEntries: n, flags: LB.F_MMAPABLE });
  const plain = BpfMap.create({ type: 'ARRAY', name: 'mmap_test5', keySize: 4, valueSize: 4, maxEntries: 10 });
  try {
    for (const i of [0, 1, 999, 1000, 4999]) { const v = Buffer.alloc(64, i & 0xff); v.writeUInt32LE(i, 0); m.update(u32(i), v); }
    const chunks = [...m.mmappedChunks(1000)];
    assert.deepEqual(chunks.map((c) => c.count), [1000, 1000, 1000, 1000, 1000]);
    const all = Buffer.concat(chunks.map((c) => c.values)); // read after the mapping is gone
    assert.deepEqual(all, Buffer.concat([...m.lookupBatchChunks(1000)].map((c) => c.values)));
    assert.equal(all.readUInt32LE(64 * 4999), 4999);
    assert.equal(all[64 * 999 + 5], 999 & 0xff);
    // A consumer that stops early unmaps (the generator's finally) and can read again.
    for (const c of m.mmappedChunks(100)) { assert.equal(c.count, 100); break; }
    assert.equal([...m.mmappedChunks()].length, 1);
    assert.throws(() => [...plain.mmappedChunks()], /needs an ARRAY created with BPF_F_MMAPABLE/);
  } finally {
    m.close();
    plain.close();
  }
});
