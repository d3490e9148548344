// Map update cost through the loader: 100,000 entries of a hash map written one bpf() call per
// entry, then with BPF_MAP_UPDATE_BATCH. Prints ns per entry and the ratio; run() returns the
// numbers for bench/run.ts. Needs root (it creates real maps).
import { BpfMap } from '../src/loader';
import { defineStruct } from '../src/maps/codec';

export interface MapsUpdateResult {
  entries: number;
  /** Codec encode of key + value, per entry (no syscall). */
  encodeNsPerEntry: number;
  oneByOneNsPerEntry: number;
  batchNsPerEntry: number;
  batchSize: number;
  /** oneByOne / batch: how many times faster batching is. */
  ratio: number;
}

// The shape of a typical xlvs key/value (a VIP: 16-byte address, port, proto, pad → a 16-byte value).
interface Key { addr: string; port: number; proto: number }
const key = defineStruct<Key>({
  cName: 'bench_maps_key', size: 20,
  fields: [
    { name: 'addr', offset: 0, type: { ip16: 'mapped' } }, { name: 'port', offset: 16, type: 'be16' },
    { name: 'proto', offset: 18, type: 'u8' }, { name: 'pad', offset: 19, type: { pad: 1 } },
  ],
});
interface Val { id: number; flags: number; hits: bigint }
const val = defineStruct<Val>({
  cName: 'bench_maps_val', size: 16,
  fields: [{ name: 'id', offset: 0, type: 'u32' }, { name: 'flags', offset: 4, type: 'u32' }, { name: 'hits', offset: 8, type: 'u64' }],
});

function ns(start: bigint): number {
  return Number(process.hrtime.bigint() - start);
}

export function run(opts: { entries?: number; batchSize?: number } = {}): MapsUpdateResult {
  const entries = opts.entries ?? 100_000;
  const batchSize = opts.batchSize ?? 10_000;
  let t = process.hrtime.bigint();
  const keys: Buffer[] = [];
  const values: Buffer[] = [];
  for (let i = 0; i < entries; i++) {
    keys.push(key.encode({ addr: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, port: 1 + (i % 65535), proto: 6 }));
    values.push(val.encode({ id: i, flags: 0, hits: 0n }));
  }
  const encodeNs = ns(t);

  const one = BpfMap.create({ type: 'hash', name: 'xlvs_bench_one', keySize: key.size, valueSize: val.size, maxEntries: entries });
  const batch = BpfMap.create({ type: 'hash', name: 'xlvs_bench_bat', keySize: key.size, valueSize: val.size, maxEntries: entries });
  try {
    t = process.hrtime.bigint();
    for (let i = 0; i < entries; i++) one.update(keys[i], values[i]);
    const oneNs = ns(t);

    t = process.hrtime.bigint();
    for (let i = 0; i < entries; i += batchSize) batch.updateBatch(keys.slice(i, i + batchSize), values.slice(i, i + batchSize));
    const batchNs = ns(t);

    const written = batch.lookupBatch().length;
    if (written !== entries) throw new Error(`batch wrote ${written} of ${entries} entries`);
    return {
      entries, batchSize,
      encodeNsPerEntry: encodeNs / entries,
      oneByOneNsPerEntry: oneNs / entries,
      batchNsPerEntry: batchNs / entries,
      ratio: oneNs / batchNs,
    };
  } finally {
    one.close();
    batch.close();
  }
}

if (require.main === module) {
  const r = run();
  const f = (x: number) => x.toFixed(0).padStart(7);
  process.stdout.write(
    `maps-update: ${r.entries} entries of a ${key.size}-byte key / ${val.size}-byte value hash map\n` +
    `  codec encode (key+value)   ${f(r.encodeNsPerEntry)} ns/entry\n` +
    `  update one by one          ${f(r.oneByOneNsPerEntry)} ns/entry\n` +
    `  update batched (${r.batchSize}) ${f(r.batchNsPerEntry)} ns/entry\n` +
    `  ratio one-by-one / batched ${r.ratio.toFixed(1).padStart(7)}x\n`);
}
