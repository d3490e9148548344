// Test doubles for the health layer: a scriptable check function and spec builders.
import { CheckFn, CheckResult, CheckerSpec, CheckTiming } from '../../src/health/types';

export interface Script {
  /** What the next checks return; the last entry repeats. */
  results: Array<Partial<CheckResult> | 'hang'>;
  /** Clock times at which checks started. */
  calls: number[];
  /** Signals received, to see that hung checks were aborted. */
  signals: AbortSignal[];
}

export function scripted(now: () => number, results: Script['results']): { fn: CheckFn; s: Script } {
  const s: Script = { results, calls: [], signals: [] };
  const fn: CheckFn = (_spec, signal) => {
    s.calls.push(now());
    s.signals.push(signal);
    const r = s.results.length > 1 ? s.results.shift()! : s.results[0];
    if (r === 'hang') return new Promise<CheckResult>(() => undefined);
    return Promise.resolve({ ok: true, reason: 'fake', durationMs: 1, ...r });
  };
  return { fn, s };
}

export function timing(t: Partial<CheckTiming> = {}): CheckTiming {
  return { intervalMs: 1000, rise: 2, fall: 3, delayBeforeRetryMs: 200, warmupMs: 0, alpha: false, ...t };
}

export function tcpSpec(real: string, t: Partial<CheckTiming> = {}, timeoutMs = 300, service = '10.9.9.9:80/tcp'): CheckerSpec {
  const [address, port] = real.split(':');
  return {
    serviceKey: service, realKey: real,
    check: { type: 'tcp', address, port: Number(port), timeoutMs },
    timing: timing(t),
  };
}

/** Deterministic uniform [0,1) source (LCG, Numerical Recipes constants). */
export function lcg(seed = 1): () => number {
  let x = seed >>> 0;
  return () => {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    return x / 2 ** 32;
  };
}
