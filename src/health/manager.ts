// HealthManager: the set of running checkers, kept in step with the config by `sync()`.
// Identity is the hash of each checker's config (identity.ts): on reload an unchanged checker
// keeps its state, counters, history and schedule; a changed one starts fresh; a removed one stops.
//
// Events (EventEmitter):
//   'transition' HealthEvent   — up/down changes and misc_dynamic weight changes
//   'check'      CheckEvent    — every finished probe (duration, lateness)
//   'removed'    { id, serviceKey, realKey } — a checker stopped by sync()/stop()
import { EventEmitter } from 'node:events';
import { XlvsError, ErrorCodes } from '../errors';
import { Clock, systemClock } from './clock';
import { CheckFns, defaultCheckFns } from './checks';
import { checkerId } from './identity';
import { Checker } from './scheduler';
import { CheckerSpec, CheckerStatus, CheckEvent, HealthEvent } from './types';
import { validateCheckerSpec } from './validate';
import { sharedRegexMatcher } from './regex-matcher';

export interface HealthManagerOptions {
  clock?: Clock;
  random?: () => number;
  /** Replace check functions (tests, benchmarks). */
  checkFns?: Partial<CheckFns>;
}

export interface SyncResult { kept: string[]; started: string[]; stopped: string[] }

export interface HealthManager {
  on(event: 'transition', fn: (e: HealthEvent) => void): this;
  on(event: 'check', fn: (e: CheckEvent) => void): this;
  on(event: 'removed', fn: (e: { id: string; serviceKey: string; realKey: string }) => void): this;
}

export class HealthManager extends EventEmitter {
  private checkers = new Map<string, Checker>();
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly fns: CheckFns;

  constructor(opts: HealthManagerOptions = {}) {
    super();
    this.clock = opts.clock ?? systemClock;
    this.random = opts.random ?? Math.random;
    this.fns = { ...defaultCheckFns, ...opts.checkFns };
  }

  /** Ids of the given specs, in order. Validates everything before changing anything. */
  plan(specs: CheckerSpec[]): string[] {
    const ids: string[] = [];
    const seen = new Map<string, number>();
    specs.forEach((s, i) => {
      validateCheckerSpec(s, `checkers[${i}] (${s?.serviceKey} ${s?.realKey})`);
      const id = checkerId(s);
      const dup = seen.get(id);
      if (dup !== undefined) {
        throw new XlvsError(ErrorCodes.HEALTH, `checkers[${i}]: same service, real and check as checkers[${dup}] (${s.serviceKey} ${s.realKey})`);
      }
      seen.set(id, i);
      ids.push(id);
    });
    return ids;
  }

  /**
   * Makes the running checkers match `specs` (start and every reload). Throws XlvsError(E_HEALTH)
   * naming the bad field, with nothing changed, when any spec is invalid.
   */
  sync(specs: CheckerSpec[]): SyncResult {
    const ids = this.plan(specs);
    const want = new Set(ids);
    const res: SyncResult = { kept: [], started: [], stopped: [] };
    for (const [id, c] of this.checkers) {
      if (!want.has(id)) {
        c.stop();
        this.checkers.delete(id);
        res.stopped.push(id);
        this.emit('removed', { id, serviceKey: c.spec.serviceKey, realKey: c.spec.realKey });
      }
    }
    specs.forEach((s, i) => {
      const id = ids[i];
      if (this.checkers.has(id)) { res.kept.push(id); return; }
      const c = new Checker(id, s, this.fns[s.check.type], this.clock, {
        transition: (e) => this.emit('transition', e),
        check: (e) => this.emit('check', e),
      }, this.random);
      this.checkers.set(id, c);
      res.started.push(id);
      c.start();
    });
    // Body regexes run in a worker (regex-matcher.ts); start it before the first check needs it.
    if (res.started.length && specs.some((s) => (s.check.type === 'http' || s.check.type === 'https') && s.check.regex)) sharedRegexMatcher().warm();
    return res;
  }

  status(id: string): CheckerStatus | undefined {
    return this.checkers.get(id)?.status();
  }

  statuses(): CheckerStatus[] {
    return [...this.checkers.values()].map((c) => c.status());
  }

  /** The status of the checker for (service, real), if one runs. */
  find(serviceKey: string, realKey: string): CheckerStatus | undefined {
    for (const c of this.checkers.values()) {
      if (c.spec.serviceKey === serviceKey && c.spec.realKey === realKey) return c.status();
    }
    return undefined;
  }

  stop(): void {
    this.sync([]);
  }
}
