// Time for the health layer, injectable so the scheduler's unit tests run on a fake clock.
// The system clock is monotonic (performance.now) so wall-clock steps never fire checks early.
import { performance } from 'node:perf_hooks';
import { timerMs } from '../config/limits';

export type TimerHandle = unknown;

export interface Clock {
  /** Milliseconds, monotonic: schedules and durations. */
  now(): number;
  /** Milliseconds since the epoch: what logs and the status page show. */
  wall(): number;
  setTimer(fn: () => void, ms: number): TimerHandle;
  clearTimer(h: TimerHandle): void;
}

export const systemClock: Clock = {
  now: () => performance.now(),
  wall: () => Date.now(),
  setTimer: (fn, ms) => {
    const t = setTimeout(fn, timerMs(ms));
    // A check loop alone must not keep the process alive; the daemon has its own handles.
    t.unref();
    return t;
  },
  clearTimer: (h) => clearTimeout(h as NodeJS.Timeout),
};

interface FakeTimer { id: number; at: number; fn: () => void }

/**
 * A clock that moves only when told. `advance(ms)` fires every timer due in order, letting
 * promises settle between timers, so async code scheduled on it runs as it would in real time.
 */
export class FakeClock implements Clock {
  private t = 0;
  private seq = 0;
  private timers: FakeTimer[] = [];

  constructor(start = 0) { this.t = start; }

  now(): number { return this.t; }

  /** The fake clock's wall time is its own time. */
  wall(): number { return this.t; }

  setTimer(fn: () => void, ms: number): TimerHandle {
    const timer = { id: ++this.seq, at: this.t + Math.max(0, ms), fn };
    this.timers.push(timer);
    return timer.id;
  }

  clearTimer(h: TimerHandle): void {
    this.timers = this.timers.filter((x) => x.id !== h);
  }

  /** Timers still pending. */
  pending(): number { return this.timers.length; }

  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    await settle();
    for (;;) {
      let next: FakeTimer | undefined;
      for (const x of this.timers) if (x.at <= end && (!next || x.at < next.at || (x.at === next.at && x.id < next.id))) next = x;
      if (!next) break;
      this.timers = this.timers.filter((x) => x !== next);
      this.t = next.at;
      next.fn();
      await settle();
    }
    this.t = end;
    await settle();
  }
}

/** Lets pending promise chains run (a few macrotask turns). */
async function settle(): Promise<void> {
  for (let i = 0; i < 3; i++) await new Promise<void>((r) => setImmediate(r));
}
