// Per-service health state for the daemon: keeps the previous quorum verdict (for hysteresis),
// recomputes the effective set with quorum.ts, and runs quorum_up/quorum_down and per-real
// notify_up/notify_down commands on changes.
import { EventEmitter } from 'node:events';
import { computeService, QuorumConfig, QuorumRealInput, ServiceVerdict } from './quorum';
import { NotifyResult, runNotify } from './notify';
import { HealthEvent } from './types';
import type { RealModel } from '../config/model';

export interface ServiceNotify {
  /** keepalived quorum_up. */
  quorumUp?: string[] | null;
  /** keepalived quorum_down. */
  quorumDown?: string[] | null;
}

export interface RealNotify { notifyUp?: string[] | null; notifyDown?: string[] | null }

export type Runner = (argv: string[], vars: Record<string, string>) => Promise<NotifyResult>;

/**
 * Events: 'notify' NotifyResult & { event } after each command finishes (for logs).
 */
export class ServiceHealth extends EventEmitter {
  private prev = new Map<string, boolean>();
  constructor(private readonly runner: Runner = runNotify) { super(); }

  /** The verdict for `serviceKey` now; runs quorum commands when quorum changed since last time. */
  update(serviceKey: string, reals: QuorumRealInput[], cfg: QuorumConfig, notify: ServiceNotify = {}): ServiceVerdict {
    const before = this.prev.get(serviceKey);
    const v = computeService(reals, cfg, before);
    this.prev.set(serviceKey, v.quorumUp);
    // The first verdict after start only runs quorum_down (nothing was up to lose), like keepalived.
    if (before !== v.quorumUp && !(before === undefined && v.quorumUp)) {
      const argv = v.quorumUp ? notify.quorumUp : notify.quorumDown;
      const event = v.quorumUp ? 'quorum_up' : 'quorum_down';
      if (argv && argv.length) {
        this.run(argv, { event, service: serviceKey, reason: v.reason, weight: String(v.healthyWeight), min: String(cfg.min) });
      }
    }
    return v;
  }

  /** Runs notify_up / notify_down for a real's transition (weight-only changes run nothing). */
  realEvent(e: HealthEvent, notify: RealNotify, address: string, port: number): void {
    if (e.from === e.to) return;
    const argv = e.to === 'up' ? notify.notifyUp : notify.notifyDown;
    if (!argv || !argv.length) return;
    this.run(argv, {
      event: e.to === 'up' ? 'notify_up' : 'notify_down', service: e.serviceKey, real: e.realKey,
      address, port: String(port), reason: e.reason, state: e.to, weight: e.weight === undefined ? '' : String(e.weight),
    });
  }

  forget(serviceKey: string): void { this.prev.delete(serviceKey); }

  private run(argv: string[], vars: Record<string, string>): void {
    void this.runner(argv, vars).then((r) => this.emit('notify', { ...r, event: vars.event }));
  }
}

/** A configured real as the model has it (a RealModel fits), for `realInputs`. */
export type ConfiguredReal = Pick<RealModel, 'key' | 'weight' | 'inhibitOnFailure'>;

/** Reads one checker's state; `HealthManager.find` fits. */
export type StatusLookup = (serviceKey: string, realKey: string) => { state: 'up' | 'down'; weight?: number; reason: string } | undefined;

/**
 * The quorum inputs of a service from its configured reals and the running checkers. A real
 * without a checker (check type `none`) counts as up with its configured weight. A down real
 * with inhibit_on_failure is drained by computeService, not taken down.
 */
export function realInputs(serviceKey: string, reals: ConfiguredReal[], lookup: StatusLookup): QuorumRealInput[] {
  return reals.map((r) => {
    const s = lookup(serviceKey, r.key);
    return {
      key: r.key, weight: r.weight, inhibitOnFailure: r.inhibitOnFailure,
      health: s ? s.state : 'up', dynamicWeight: s?.weight, reason: s ? s.reason : 'no check',
    };
  });
}
