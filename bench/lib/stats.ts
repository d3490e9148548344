// Small statistics for benchmarks: medians, percentiles and spreads over repeated runs. Every
// comparison in bench/ is a ratio of numbers measured in the same run (the machine is shared
// and noisy), reported as a median over repeats with its spread.

/** Median (mean of the middle two for an even count). NaN for no samples. */
export function median(xs: number[]): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
}

/** Nearest-rank percentile, p in 0..100. */
export function percentile(xs: number[], p: number): number {
  if (!xs.length) return NaN;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))];
}

export interface Summary { median: number; min: number; max: number; n: number; samples: number[] }

export function summarise(xs: number[]): Summary {
  return { median: median(xs), min: Math.min(...xs), max: Math.max(...xs), n: xs.length, samples: xs };
}

/** Milliseconds since `t0` (a process.hrtime.bigint()). */
export function msSince(t0: bigint): number {
  return Number(process.hrtime.bigint() - t0) / 1e6;
}

/** Runs `fn` `runs` times and returns its wall time in ms per run. */
export function timeRuns(runs: number, fn: (run: number) => void): number[] {
  const out: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = process.hrtime.bigint();
    fn(r);
    out.push(msSince(t0));
  }
  return out;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
