// One checker's timing and verdicts, with one meaning for haproxy's and keepalived's words:
//   - a check runs every `interval` (keepalived delay_loop, haproxy inter), bounded by `timeout`;
//   - up → down after `fall` failures in a row; after a failure while up the next attempts come
//     `delay_before_retry` apart (keepalived retry = fall − 1 more tries), then back to interval;
//   - down → up after `rise` successes in a row (haproxy rise);
//   - `alpha` starts down and needs one success to come up; otherwise the checker starts up;
//   - the first check waits a random time up to `warmup` (or up to
//     min(interval, 1 s)), and
//     every later delay is spread by ±JITTER so a thousand checks do not fire together.
// The clock and the random source are injected so tests run on a fake clock.
import { Clock } from './clock';
import { CheckFn, CheckResult, CheckerSpec, CheckerStatus, CheckEvent, HealthEvent, HealthState } from './types';

/** Each delay is multiplied by 1 ± JITTER (haproxy `spread-checks` uses up to 50 %; 10 % keeps
 *  the interval recognisable while breaking up bursts). */
export const JITTER = 0.1;
/** Without warmup, the first check comes at a random time within min(interval, this), so a
 *  thousand checkers started together spread over a second instead of firing at once. */
export const FIRST_SPREAD_MAX_MS = 1000;
/** Transitions kept per checker for the status page. */
export const HISTORY = 20;

export interface CheckerHooks {
  transition(e: HealthEvent): void;
  check(e: CheckEvent): void;
}

export class Checker {
  private state: HealthState;
  private reason: string;
  private since: number;
  private weight?: number;
  private failures = 0;   // consecutive, while up
  private successes = 0;  // consecutive, while down
  private needRise: number;
  private timer: unknown = null;
  private inflight: AbortController | null = null;
  private stopped = true;
  private dueAt = 0;
  private counts = { checks: 0, failures: 0 };
  private last: { at: number; durationMs: number; ok: boolean } | null = null;
  private history: HealthEvent[] = [];

  constructor(
    readonly id: string,
    readonly spec: CheckerSpec,
    private readonly fn: CheckFn,
    private readonly clock: Clock,
    private readonly hooks: CheckerHooks,
    private readonly random: () => number = Math.random,
  ) {
    const t = spec.timing;
    this.state = t.alpha ? 'down' : 'up';
    this.reason = t.alpha ? 'alpha: down until the first success' : 'initial: up until a check fails';
    this.needRise = t.alpha ? 1 : t.rise;
    this.since = clock.wall();
  }

  start(): void {
    if (!this.stopped) return;
    this.stopped = false;
    const t = this.spec.timing;
    const first = t.warmupMs > 0 ? this.random() * t.warmupMs : this.random() * Math.min(t.intervalMs, FIRST_SPREAD_MAX_MS);
    this.schedule(first, false);
  }

  stop(): void {
    this.stopped = true;
    if (this.timer !== null) this.clock.clearTimer(this.timer);
    this.timer = null;
    this.inflight?.abort();
    this.inflight = null;
  }

  status(): CheckerStatus {
    return {
      id: this.id, serviceKey: this.spec.serviceKey, realKey: this.spec.realKey,
      state: this.state, reason: this.reason, weight: this.weight, since: this.since,
      lastCheckAt: this.last?.at, lastDurationMs: this.last?.durationMs, lastOk: this.last?.ok,
      checks: this.counts.checks, failures: this.counts.failures, history: [...this.history],
    };
  }

  private schedule(ms: number, jitter = true): void {
    if (this.stopped) return;
    const delay = jitter ? ms * (1 + (this.random() * 2 - 1) * JITTER) : ms;
    this.dueAt = this.clock.now() + delay;
    this.timer = this.clock.setTimer(() => { this.timer = null; void this.runOnce(); }, delay);
  }

  private async runOnce(): Promise<void> {
    if (this.stopped) return;
    const startedAt = this.clock.now();
    const lateMs = Math.max(0, startedAt - this.dueAt);
    const ctrl = new AbortController();
    this.inflight = ctrl;
    const timeoutMs = this.spec.check.timeoutMs;
    let timeoutTimer: unknown = null;
    const timedOut = new Promise<CheckResult>((resolve) => {
      timeoutTimer = this.clock.setTimer(() => {
        ctrl.abort();
        resolve({ ok: false, reason: `timeout after ${timeoutMs}ms`, durationMs: timeoutMs });
      }, timeoutMs);
    });
    let r: CheckResult;
    try {
      r = await Promise.race([
        this.fn(this.spec.check, ctrl.signal).catch((e: unknown): CheckResult => ({
          ok: false, reason: e instanceof Error ? e.message : String(e), durationMs: this.clock.now() - startedAt,
        })),
        timedOut,
      ]);
    } finally {
      if (timeoutTimer !== null) this.clock.clearTimer(timeoutTimer);
      if (this.inflight === ctrl) this.inflight = null;
    }
    if (this.stopped) return;
    this.verdict(r, lateMs);
  }

  /** Applies one result: counters, transition, and the next delay. */
  private verdict(r: CheckResult, lateMs: number): void {
    const now = this.clock.now();
    const t = this.spec.timing;
    this.counts.checks++;
    if (!r.ok) this.counts.failures++;
    this.last = { at: this.clock.wall(), durationMs: r.durationMs, ok: r.ok };
    this.hooks.check({
      id: this.id, serviceKey: this.spec.serviceKey, realKey: this.spec.realKey,
      ok: r.ok, reason: r.reason, durationMs: r.durationMs, at: now, time: this.clock.wall(), lateMs,
    });

    let next = t.intervalMs;
    if (this.state === 'up') {
      if (r.ok) {
        this.failures = 0;
        this.reason = r.reason;
        if (r.weight !== this.weight) {
          this.weight = r.weight;
          this.emit('up', 'up', `weight ${r.weight ?? 'configured'}: ${r.reason}`, now);
        }
      } else {
        this.failures++;
        if (this.failures >= t.fall) {
          this.failures = 0;
          this.successes = 0;
          this.needRise = t.rise;
          this.weight = undefined;
          this.transition('down', t.fall > 1 ? `${r.reason} (${t.fall} failures)` : r.reason, now);
        } else {
          next = t.delayBeforeRetryMs;
          this.reason = `${r.reason} (retry ${this.failures}/${t.fall - 1})`;
        }
      }
    } else if (r.ok) {
      this.successes++;
      if (this.successes >= this.needRise) {
        const needed = this.needRise;
        this.successes = 0;
        this.failures = 0;
        this.needRise = t.rise;
        this.weight = r.weight;
        this.transition('up', needed > 1 ? `${r.reason} (${needed} successes)` : r.reason, now);
      } else {
        this.reason = `${r.reason} (rise ${this.successes}/${this.needRise})`;
      }
    } else {
      this.successes = 0;
      this.reason = r.reason;
    }
    this.schedule(next);
  }

  private transition(to: HealthState, reason: string, now: number): void {
    const from = this.state;
    this.state = to;
    this.reason = reason;
    this.since = this.clock.wall();
    this.emit(from, to, reason, now);
  }

  private emit(from: HealthState, to: HealthState, reason: string, at: number): void {
    const e: HealthEvent = { id: this.id, serviceKey: this.spec.serviceKey, realKey: this.spec.realKey, from, to, reason, at, time: this.clock.wall() };
    if (to === 'up' && this.weight !== undefined) e.weight = this.weight;
    this.history.push(e);
    if (this.history.length > HISTORY) this.history.shift();
    this.hooks.transition(e);
  }
}
