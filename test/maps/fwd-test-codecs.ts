// Codecs of the test-only structs in test/bpf/include/fwd_test.h. The BTF layout test imports this
// file, so these layouts are checked against build/test-bpf/fwd_test.bpf.o like the real ones.
import { defineStruct } from '../../src/maps/codec';

export interface FwdTestKey { daddr: string; dport: number; proto: number }
export const fwdTestKey = defineStruct<FwdTestKey>({
  cName: 'fwd_test_key',
  size: 8,
  fields: [
    { name: 'daddr', offset: 0, type: 'ipv4' },
    { name: 'dport', offset: 4, type: 'be16' },
    { name: 'proto', offset: 6, type: 'u8' },
    { name: 'pad', offset: 7, type: { pad: 1 } },
  ],
});

/** enum fwd_test_action (fwd_test.h). */
export const FwdTestAction = { PASS: 0, DROP: 1, TX: 2 } as const;

export interface FwdTestValue { action: number; mac: string }
export const fwdTestValue = defineStruct<FwdTestValue>({
  cName: 'fwd_test_value',
  size: 12,
  fields: [
    { name: 'action', offset: 0, type: 'u32' },
    { name: 'mac', offset: 4, type: 'mac' },
    { name: 'pad', offset: 10, type: { pad: 2 } },
  ],
});

export interface FwdTestCounters { packets: bigint; bytes: bigint; hits: bigint; misses: bigint }
export const fwdTestCounters = defineStruct<FwdTestCounters>({
  cName: 'fwd_test_counters',
  size: 32,
  fields: [
    { name: 'packets', offset: 0, type: 'u64' },
    { name: 'bytes', offset: 8, type: 'u64' },
    { name: 'hits', offset: 16, type: 'u64' },
    { name: 'misses', offset: 24, type: 'u64' },
  ],
});

/** Sum of per-CPU counter values, field by field. */
export function sumCounters(perCpu: Buffer[]): FwdTestCounters {
  const total: FwdTestCounters = { packets: 0n, bytes: 0n, hits: 0n, misses: 0n };
  for (const b of perCpu) {
    const c = fwdTestCounters.decode(b);
    total.packets += c.packets; total.bytes += c.bytes; total.hits += c.hits; total.misses += c.misses;
  }
  return total;
}
