// The reconciler: diffs the desired state against what was last applied (or read back from the
// pinned maps after a restart) and writes only the difference. A VIP whose reals changed gets
// its Maglev table rebuilt and swapped whole; other VIPs are not touched. When a write fails,
// what this apply already wrote is undone and the previous state stays in force.
import { XlvsError, ErrorCodes } from '../errors';
import { DesiredReal, DesiredService, DesiredState, DesiredVip, leavingSelection, sameReals, sameVip } from './desired';
import { RealIds } from './ids';

export interface RealWithId extends DesiredReal { id: number }

/** The map writes the reconciler needs; implemented over the Dataplane. */
export interface DataplanePort {
  upsertVip(vip: DesiredVip): void;
  removeVip(vip: DesiredVip): void;
  /** Writes the reals and rebuilds the VIP's Maglev table; replaces the previous set whole. */
  setReals(vip: DesiredVip, reals: RealWithId[], sorry: RealWithId | null): void;
  /** Optional: run a whole apply's writes so the data plane can install its tables together. */
  batch?<T>(fn: () => T): T;
  /**
   * Takes reals out of new selection with one write each, before their VIP's table is rebuilt
   * (a health verdict must act at once; the rebuild follows in the next apply).
   */
  takeOutOfSelection(changes: ReadonlyArray<{ id: number; state: 'drain' | 'down' }>): number[];
  /** Replaces the set of addresses in no-accept mode (VRRP accept: false). */
  setNoAccept(addresses: readonly string[]): { added: string[]; removed: string[] };
}

export type Op =
  | { kind: 'upsert-vip'; key: string; vip: DesiredVip }
  | { kind: 'set-reals'; key: string; service: DesiredService }
  | { kind: 'remove-vip'; key: string; vip: DesiredVip };

export interface ApplyResult {
  ops: Op[];
  /** Human-readable summary per op, for logs and the event list. */
  summary: string[];
}

export class Reconciler {
  private applied: DesiredState = new Map();

  constructor(private readonly port: DataplanePort, readonly ids: RealIds) {}

  /** What the maps hold now (after adoption, or after the last successful apply). */
  current(): DesiredState {
    return this.applied;
  }

  /** Takes over state read back from pinned maps; ids must already be adopted into `ids`. */
  adopt(state: DesiredState): void {
    this.applied = new Map(state);
  }

  /**
   * The writes that turn what is applied into `desired`. With `only`, just those services are
   * compared (a health event touches one service; the other 255 need no look).
   */
  plan(desired: DesiredState, only?: ReadonlySet<string>): Op[] {
    const ops: Op[] = [];
    if (only) {
      for (const key of only) {
        const svc = desired.get(key);
        const cur = this.applied.get(key);
        if (svc) {
          if (!cur || !sameVip(cur.vip, svc.vip)) ops.push({ kind: 'upsert-vip', key, vip: svc.vip });
          if (!cur || !sameVip(cur.vip, svc.vip) || !sameReals(cur, svc)) ops.push({ kind: 'set-reals', key, service: svc });
        } else if (cur) {
          ops.push({ kind: 'remove-vip', key, vip: cur.vip });
        }
      }
      return ops;
    }
    for (const [key, svc] of desired) {
      const cur = this.applied.get(key);
      if (!cur || !sameVip(cur.vip, svc.vip)) ops.push({ kind: 'upsert-vip', key, vip: svc.vip });
      if (!cur || !sameVip(cur.vip, svc.vip) || !sameReals(cur, svc)) ops.push({ kind: 'set-reals', key, service: svc });
    }
    for (const [key, cur] of this.applied) {
      if (!desired.has(key)) ops.push({ kind: 'remove-vip', key, vip: cur.vip });
    }
    return ops;
  }

  /**
   * Applies `desired` (with `only`: just those services of it, the others stay as applied); on
   * failure undoes this call's writes and throws E_APPLY.
   */
  apply(desired: DesiredState, only?: ReadonlySet<string>): ApplyResult {
    const ops = this.plan(desired, only);
    const before = new Map(this.applied);
    const idsBefore = this.ids.snapshot();
    const done: Op[] = [];
    // Removals run after the batch has installed the new Maglev tables: a VIP that replaces one
    // it overlaps (a grouped service whose ports changed is a new service key) takes over the
    // old one's ports when the old one is removed, and must have its table by then.
    const runAll = (list: Op[]) => () => {
      for (const op of list) {
        this.run(op);
        done.push(op);
      }
    };
    const first = ops.filter((op) => op.kind !== 'remove-vip');
    const removals = ops.filter((op) => op.kind === 'remove-vip');
    let installed = false;
    try {
      if (this.port.batch && first.length > 1) this.port.batch(runAll(first));
      else runAll(first)();
      installed = true;
      runAll(removals)();
    } catch (e) {
      const undoErrors = this.undo(done, before);
      this.ids.restore(idsBefore);
      this.applied = before;
      const order = [...first, ...removals];
      const failed = done.length < first.length || installed ? describe(order[done.length]) : 'installing the new Maglev tables';
      throw new XlvsError(ErrorCodes.APPLY,
        `apply failed at ${failed}: ${(e as Error).message}; previous state kept` +
        (undoErrors.length ? ` (undo problems: ${undoErrors.join('; ')})` : ''), { cause: e });
    }
    // Ids of reals that are gone are released only once the writes succeeded.
    for (const [key, cur] of before) {
      if (only && !only.has(key)) continue;
      const next = desired.get(key);
      const keep = new Set(next ? [...next.reals, ...(next.sorry ? [next.sorry] : [])].map((r) => r.key) : []);
      for (const r of [...cur.reals, ...(cur.sorry ? [cur.sorry] : [])]) if (!keep.has(r.key)) this.ids.release(key, r.key);
    }
    if (only) {
      for (const key of only) {
        const svc = desired.get(key);
        if (svc) this.applied.set(key, svc);
        else this.applied.delete(key);
      }
    } else {
      this.applied = new Map(desired);
    }
    return { ops, summary: ops.map(describe) };
  }

  /**
   * The fast half of a health verdict: the reals of `svc` that left (leavingSelection) go out of
   * new selection now, one write each, while the table keeps its slots (the lb program probes
   * past them); the next apply of `svc` rebuilds the table. Returns the real ids written.
   */
  outOfSelection(svc: DesiredService): number[] {
    const out = leavingSelection(svc, (realKey) => this.ids.get(svc.vip.key, realKey));
    return out.length ? this.port.takeOutOfSelection(out) : [];
  }

  /** Puts the no-accept address set in force (written whole; the port diffs). */
  applyNoAccept(addresses: readonly string[]): { added: string[]; removed: string[] } {
    return this.port.setNoAccept(addresses);
  }

  private withIds(svc: DesiredService): { reals: RealWithId[]; sorry: RealWithId | null } {
    const reals = svc.reals.map((r) => ({ ...r, id: this.ids.ensure(svc.vip.key, r.key) }));
    const sorry = svc.sorry ? { ...svc.sorry, id: this.ids.ensure(svc.vip.key, svc.sorry.key) } : null;
    return { reals, sorry };
  }

  private run(op: Op): void {
    switch (op.kind) {
      case 'upsert-vip':
        this.port.upsertVip(op.vip);
        return;
      case 'set-reals': {
        const { reals, sorry } = this.withIds(op.service);
        this.port.setReals(op.service.vip, reals, sorry);
        return;
      }
      case 'remove-vip':
        this.port.removeVip(op.vip);
        return;
    }
  }

  /** Restores what `done` changed, newest first, from the state before the apply. */
  private undo(done: Op[], before: DesiredState): string[] {
    const problems: string[] = [];
    for (const op of [...done].reverse()) {
      const prev = before.get(op.key);
      try {
        if (op.kind === 'upsert-vip') {
          if (prev) this.port.upsertVip(prev.vip);
          else this.port.removeVip(op.vip);
        } else if (op.kind === 'set-reals') {
          if (prev) {
            const { reals, sorry } = this.withIds(prev);
            this.port.setReals(prev.vip, reals, sorry);
          }
        } else if (prev) {
          this.port.upsertVip(prev.vip);
          const { reals, sorry } = this.withIds(prev);
          this.port.setReals(prev.vip, reals, sorry);
        }
      } catch (e) {
        problems.push(`${describe(op)}: ${(e as Error).message}`);
      }
    }
    return problems;
  }
}

export function describe(op: Op | undefined): string {
  if (!op) return '(nothing)';
  switch (op.kind) {
    case 'upsert-vip': return `set VIP ${op.key}`;
    case 'remove-vip': return `remove VIP ${op.key}`;
    case 'set-reals': {
      const s = op.service;
      const up = s.reals.filter((r) => r.state === 'up').length;
      return `set reals of ${op.key} (${s.reals.length} reals, ${up} up${s.sorry ? ', sorry server active' : ''})`;
    }
  }
}
