// Connection timeouts (ipvsadm --set, keepalived lvs_timeouts) and real thresholds (ipvsadm
// -x/-y, keepalived uthreshold/lthreshold) as the topology writes them, from whichever importer
// read them. What IPVS would accept but the topology refuses is adjusted or dropped, with a note.
import { MAX_TIMEOUT_S } from '../config/tables';
import type { RealOut, TimeoutsOut } from './types';

/** Seconds as IPVS takes them, 0 = leave unchanged (ipvsadm(8) --set; keepalived lvs_timeouts). */
export interface IpvsTimeouts { tcp: number; tcpfin: number; udp: number }

const FIELDS = [['tcp', 'tcp'], ['tcpfin', 'tcp_fin'], ['udp', 'udp']] as const;

/** The top-level `timeouts`, or undefined when every value is 0 (unchanged: IPVS's defaults). */
export function timeoutsOut(t: IpvsTimeouts, note: (message: string) => void, what: string): TimeoutsOut | undefined {
  const out: TimeoutsOut = {};
  for (const [from, to] of FIELDS) {
    const s = t[from];
    if (s === 0) continue;
    if (s > MAX_TIMEOUT_S) {
      note(`${what} ${from} ${s}s is above xlvs's longest connection timeout (${MAX_TIMEOUT_S}s, 365 days); not mapped, the default applies`);
      continue;
    }
    out[to] = `${s}s`;
  }
  return Object.keys(out).length ? out : undefined;
}

/**
 * upper_threshold / lower_threshold of a real (0 = none, omitted). IPVS ignores a lower threshold
 * without an upper one; with a lower one at or above the upper one it lets the real take flows
 * again as soon as it is below the upper one, which the topology writes as upper − 1.
 */
export function thresholdsOut(real: RealOut, upper: number, lower: number, note: (message: string) => void, names: { upper: string; lower: string }): void {
  if (upper > 0) real.upper_threshold = upper;
  if (lower === 0) return;
  if (upper === 0) {
    note(`${names.lower} ${lower} without ${names.upper} has no effect in IPVS; dropped`);
  } else if (lower >= upper) {
    if (upper > 1) real.lower_threshold = upper - 1;
    note(`${names.lower} ${lower} is not below ${names.upper} ${upper}: IPVS lets the real take new flows again once it is below ${upper}; ` +
      (upper > 1 ? `mapped as lower_threshold ${upper - 1}` : 'dropped (the lower threshold defaults to 3/4 of the upper)'));
  } else {
    real.lower_threshold = lower;
  }
}
