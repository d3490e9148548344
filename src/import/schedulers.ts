// IPVS schedulers (ipvsadm(8) "-s, --scheduler") mapped to what xlvs runs. lc and wlc run as
// themselves (least-connection on the reals' connection counts); the other schedulers that
// balance on live state or take turns become weighted Maglev; hashing schedulers keep their key.
import type { ServiceOut } from './types';

export interface SchedulerMapping {
  scheduler: ServiceOut['scheduler'];
  /** What differs from the original, or undefined when the behaviour is the same. */
  differs?: string;
}

const MAGLEV = 'Maglev by consistent hash of the flow, weights kept';

const TABLE: Record<string, SchedulerMapping> = {
  rr: { scheduler: 'maglev', differs: `rr takes reals in turn; ${MAGLEV} (equal weights)` },
  wrr: { scheduler: 'maglev', differs: `wrr takes reals in weighted turn; ${MAGLEV}` },
  lc: { scheduler: 'lc' },
  wlc: { scheduler: 'wlc' },
  lblc: { scheduler: 'maglev', differs: `lblc keeps a destination on its least-loaded real; ${MAGLEV}` },
  lblcr: { scheduler: 'maglev', differs: `lblcr keeps a destination on a set of least-loaded reals; ${MAGLEV}` },
  sed: { scheduler: 'maglev', differs: `sed picks the shortest expected delay from connection counts; ${MAGLEV}` },
  nq: { scheduler: 'maglev', differs: `nq prefers an idle real, then shortest expected delay; ${MAGLEV}` },
  fo: { scheduler: 'maglev', differs: `fo sends everything to the highest-weight available real; ${MAGLEV} (give the standby weight 0 to keep it idle)` },
  ovf: { scheduler: 'maglev', differs: `ovf fills the highest-weight real up to its weight in connections; ${MAGLEV}` },
  twos: { scheduler: 'maglev', differs: `twos picks the less loaded of two random reals; ${MAGLEV}` },
  sh: { scheduler: 'source-hash', differs: 'sh uses a static 256-slot table; source-hash uses a Maglev table of the client address (same real for a client while the set of reals is unchanged, fewer moves when it changes)' },
  dh: { scheduler: 'dest-hash', differs: 'dh uses a static 256-slot table; dest-hash uses a Maglev table of the destination address' },
  mh: { scheduler: 'maglev', differs: 'mh runs Maglev on the client address only (a client keeps its real); xlvs maglev hashes the whole flow, weights kept (use source-hash for per-client affinity)' },
};

/**
 * Map an IPVS scheduler name and its flags (`-b sh-port,…` / keepalived `sh-port`, `mh-port`)
 * to an xlvs scheduler. Unknown names return undefined.
 */
export function mapScheduler(name: string, flags: string[] = []): SchedulerMapping | undefined {
  const n = name.toLowerCase();
  // mh-port: IPVS mh hashes client address and port (ipvsadm(8) "-b mh-port").
  if (n === 'mh' && flags.includes('mh-port')) return { scheduler: 'maglev-source-port' };
  if (n === 'sh' && flags.includes('sh-port')) {
    return { scheduler: 'maglev-source-port', differs: 'sh with sh-port hashes client address and port in a static table; maglev-source-port hashes them with Maglev' };
  }
  const m = TABLE[n];
  if (!m) return undefined;
  return m;
}

/** Scheduler flags with no xlvs equivalent (ipvsadm -b / keepalived flag-N, *-fallback). */
export function unmappedSchedulerFlags(flags: string[]): string[] {
  return flags.filter((f) => f !== 'sh-port' && f !== 'mh-port');
}
