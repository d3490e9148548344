// Maglev table build time. Target (issue 3): 65537 slots × 100 backends in ≤ 5 ms.
// Prints the median of a few runs and its ratio to the target; `run()` returns the numbers.
import { buildMaglevTable, MaglevBackend } from '../src/maglev/maglev';

export interface MaglevBenchResult { case: string; size: number; backends: number; medianMs: number; targetMs: number; ratio: number }

const TARGET_MS = 5;

function backends(n: number, weight: (i: number) => number): MaglevBackend[] {
  return Array.from({ length: n }, (_, i) => ({ id: i + 1, key: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}:80`, weight: weight(i) }));
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(label: string, b: MaglevBackend[], size: number, runs: number): MaglevBenchResult {
  buildMaglevTable(b, size); // warm up the JIT
  const ms: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    buildMaglevTable(b, size, r);
    ms.push(Number(process.hrtime.bigint() - t0) / 1e6);
  }
  const m = median(ms);
  return { case: label, size, backends: b.length, medianMs: m, targetMs: TARGET_MS, ratio: m / TARGET_MS };
}

export function run(runs = 9): MaglevBenchResult[] {
  return [
    time('equal weights', backends(100, () => 1), 65537, runs),
    time('weights 1..10', backends(100, (i) => 1 + (i % 10)), 65537, runs),
    time('one heavy (65535) + 99 light (1)', backends(100, (i) => (i === 0 ? 65535 : 1)), 65537, runs),
    time('1000 backends', backends(1000, () => 1), 65537, runs),
  ];
}

if (require.main === module) {
  for (const r of run()) {
    console.log(`maglev ${r.case}: ${r.backends} backends × ${r.size} slots: ${r.medianMs.toFixed(2)} ms (target ${r.targetMs} ms, ratio ${r.ratio.toFixed(2)})`);
  }
}
