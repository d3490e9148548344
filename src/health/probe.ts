// Shared shell of every check function: a deadline, a link to the caller's abort signal, and
// the duration. The body gets a signal that fires on either and must release its socket/process.
import { performance } from 'node:perf_hooks';
import { CheckResult } from './types';

export interface Verdict { ok: boolean; reason: string; weight?: number }

/** What a check body tells the shell while it runs. */
export interface ProbeContext {
  /** The reason to report if the deadline passes now (default "timeout after Nms"), e.g.
   *  "regex timed out after 300ms" while the body's regular expression is being matched. */
  timeoutReason?: string;
}

export async function probe(
  timeoutMs: number,
  outer: AbortSignal,
  body: (signal: AbortSignal, ctx: ProbeContext) => Promise<Verdict>,
): Promise<CheckResult> {
  const start = performance.now();
  const done = (v: Verdict): CheckResult => ({ ...v, durationMs: performance.now() - start });
  if (outer.aborted) return done({ ok: false, reason: 'aborted' });
  const ctrl = new AbortController();
  const ctx: ProbeContext = {};
  let why = '';
  let onAbort: () => void = () => undefined;
  const stopped = new Promise<Verdict>((resolve) => {
    onAbort = () => { why = 'aborted'; ctrl.abort(); resolve({ ok: false, reason: 'aborted' }); };
    outer.addEventListener('abort', onAbort, { once: true });
  });
  const timer = setTimeout(() => { why = ctx.timeoutReason || `timeout after ${timeoutMs}ms`; ctrl.abort(); }, timeoutMs);
  const timedOut = new Promise<Verdict>((resolve) => {
    ctrl.signal.addEventListener('abort', () => resolve({ ok: false, reason: why || 'aborted' }), { once: true });
  });
  try {
    const work = body(ctrl.signal, ctx).catch((e: unknown): Verdict => {
      if (ctrl.signal.aborted) return { ok: false, reason: why || 'aborted' };
      return { ok: false, reason: errText(e) };
    });
    return done(await Promise.race([work, timedOut, stopped]));
  } finally {
    clearTimeout(timer);
    outer.removeEventListener('abort', onAbort);
    if (!ctrl.signal.aborted) ctrl.abort();
  }
}

/** "ECONNREFUSED connect 10.0.0.2:80" style text from a Node error. */
function errText(e: unknown): string {
  const err = e as NodeJS.ErrnoException;
  if (err && err.code === 'ECONNREFUSED') return 'connection refused';
  if (err && err.code === 'EHOSTUNREACH') return 'host unreachable';
  if (err && err.code === 'ENETUNREACH') return 'network unreachable';
  if (err && err.code === 'ECONNRESET') return 'connection reset';
  if (err && err.code) return `${err.code}: ${err.message}`;
  return err instanceof Error ? err.message : String(e);
}
