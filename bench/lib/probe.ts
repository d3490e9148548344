// Counts and times calls to methods of live objects or module exports, to say where a
// benchmark's time goes (e.g. how much of an apply is the Maglev build vs. bpf() map writes)
// without changing the code under test. Wrap, measure, then restore.

export interface ProbeStat { calls: number; ms: number; entries: number }

export class Probe {
  readonly stats = new Map<string, ProbeStat>();
  private restores: Array<() => void> = [];

  /**
   * Wraps `target[method]`; `entries` tells how many elements one call writes (default 1).
   * Calls nested in another probed call are timed in both.
   */
  wrap<T extends object>(label: string, target: T, method: string, entries?: (self: unknown, args: unknown[]) => number): void {
    const t = target as Record<string, unknown>;
    const orig = t[method];
    if (typeof orig !== 'function') throw new Error(`probe ${label}: ${method} is not a function`);
    const stat = this.stat(label);
    t[method] = function probed(this: unknown, ...args: unknown[]) {
      const t0 = process.hrtime.bigint();
      try {
        return (orig as (...a: unknown[]) => unknown).apply(this, args);
      } finally {
        stat.ms += Number(process.hrtime.bigint() - t0) / 1e6;
        stat.calls++;
        stat.entries += entries ? entries(this, args) : 1;
      }
    };
    this.restores.push(() => { t[method] = orig; });
  }

  stat(label: string): ProbeStat {
    let s = this.stats.get(label);
    if (!s) this.stats.set(label, (s = { calls: 0, ms: 0, entries: 0 }));
    return s;
  }

  reset(): void {
    for (const s of this.stats.values()) { s.calls = 0; s.ms = 0; s.entries = 0; }
  }

  /** A copy of the current numbers. */
  read(): Record<string, ProbeStat> {
    return Object.fromEntries([...this.stats].map(([k, v]) => [k, { ...v }]));
  }

  restore(): void {
    for (const r of this.restores.reverse()) r();
    this.restores = [];
  }
}
