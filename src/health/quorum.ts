// What the data plane needs per service, from the reals' health. Pure.
//   - a down real leaves selection (state 'down'); with inhibit_on_failure it stays with weight 0
//     ('drain'), so its established flows keep going (keepalived inhibit_on_failure);
//   - an up real's weight is its misc_dynamic weight when a script set one, else its configured
//     weight; weight 0 means 'drain' (LVS quiescent real);
//   - quorum: the sum of weights of up reals. Lost when it drops below `min`; regained once it is
//     at least `min + hysteresis` (a flap dampener, keepalived `hysteresis`). While lost, the
//     sorry server (if any) takes the new flows.
import { RealState } from '../reconciler/desired';
import { HealthState } from './types';

export interface QuorumRealInput {
  key: string;
  health: HealthState;
  /** Configured weight. */
  weight: number;
  /** misc_dynamic weight from the last script check, if any. */
  dynamicWeight?: number;
  inhibitOnFailure?: boolean;
  /** Why it is in its health state (checker reason). */
  reason?: string;
}

export interface QuorumConfig {
  /** Minimum sum of healthy weights (keepalived `quorum`, default 1). */
  min: number;
  /** keepalived `hysteresis`, default 0. */
  hysteresis: number;
  hasSorry: boolean;
}

export interface EffectiveReal { key: string; weight: number; state: RealState; reason: string }

export interface ServiceVerdict {
  reals: EffectiveReal[];
  /** The sorry server takes new flows. */
  sorry: boolean;
  quorumUp: boolean;
  /** Sum of weights of up reals. */
  healthyWeight: number;
  reason: string;
}

/** keepalived.conf(5) virtual_server: "quorum" default 1, "hysteresis" default 0. */
export const DEFAULT_QUORUM: QuorumConfig = { min: 1, hysteresis: 0, hasSorry: false };

/**
 * @param prevQuorumUp the previous verdict's quorumUp, or undefined on the first computation
 *   (then quorum holds exactly when healthy weight >= min).
 */
export function computeService(reals: QuorumRealInput[], cfg: QuorumConfig, prevQuorumUp?: boolean): ServiceVerdict {
  const out: EffectiveReal[] = [];
  let healthy = 0;
  for (const r of reals) {
    if (r.health === 'up') {
      const w = r.dynamicWeight ?? r.weight;
      healthy += w;
      out.push({ key: r.key, weight: w, state: w > 0 ? 'up' : 'drain', reason: w > 0 ? (r.reason ?? 'up') : `weight 0${r.dynamicWeight !== undefined ? ' (misc_dynamic)' : ''}` });
    } else if (r.inhibitOnFailure) {
      out.push({ key: r.key, weight: 0, state: 'drain', reason: `inhibit_on_failure: ${r.reason ?? 'down'}` });
    } else {
      out.push({ key: r.key, weight: 0, state: 'down', reason: r.reason ?? 'down' });
    }
  }
  let quorumUp: boolean;
  let reason: string;
  const high = cfg.min + cfg.hysteresis;
  if (prevQuorumUp === undefined) {
    quorumUp = healthy >= cfg.min;
    reason = quorumUp ? `quorum: healthy weight ${healthy} >= ${cfg.min}` : `quorum lost: healthy weight ${healthy} < ${cfg.min}`;
  } else if (prevQuorumUp) {
    quorumUp = healthy >= cfg.min;
    reason = quorumUp ? `quorum: healthy weight ${healthy} >= ${cfg.min}` : `quorum lost: healthy weight ${healthy} < ${cfg.min}`;
  } else {
    quorumUp = healthy >= high;
    reason = quorumUp
      ? `quorum regained: healthy weight ${healthy} >= ${cfg.min} + hysteresis ${cfg.hysteresis}`
      : `quorum lost: healthy weight ${healthy} < ${high}${cfg.hysteresis ? ` (${cfg.min} + hysteresis ${cfg.hysteresis})` : ''}`;
  }
  const sorry = !quorumUp && cfg.hasSorry;
  if (sorry) reason += '; sorry server in use';
  return { reals: out, sorry, quorumUp, healthyWeight: healthy, reason };
}
