// A synthetic daemon snapshot and event counters in which every metric family has samples
// (two reals, one down; a VRRP instance; reasons; reloads; failures), for tests that need the
// families and their labels as a real scrape shows them.
import type { StatusSnapshot } from '../../src/common/status';
import type { EventCounters } from '../../src/metrics/scrape';

export function syntheticSnapshot(): StatusSnapshot {
  const c = (p: number, b: number, n: number) => ({ packets: BigInt(p), bytes: BigInt(b), newFlows: BigInt(n) });
  return {
    director: 'edge-a', interface: 'eth0', xdpMode: 'native', startedAt: 0, adopted: false, configFile: 'x.yaml',
    services: [{
      key: '10.0.0.10:80/tcp', id: 1, vip: '10.0.0.10', port: 80, protocol: 'tcp', method: 'dr', scheduler: 'maglev',
      persistence: null, onDown: 'expire', sorryActive: false, counters: c(30, 3000, 3),
      reals: [
        { key: '10.0.1.1:80', id: 1, address: '10.0.1.1', port: 80, weight: 2, effectiveWeight: 2, state: 'up', reason: 'check ok', mac: null, activeConns: 1, inactiveConns: 0, counters: c(20, 2000, 2), override: { weight: 2, at: 1_700_000_000_000 } },
        { key: '10.0.1.2:80', id: 2, address: '10.0.1.2', port: 80, weight: 1, effectiveWeight: 0, state: 'down', reason: 'connection refused', mac: null, activeConns: 0, inactiveConns: 0, counters: c(10, 1000, 1) },
      ],
    }],
    vrrp: [{ name: 'VI_1', vrid: 51, interface: 'eth0', state: 'MASTER', priority: 100, effectivePriority: 100, vips: ['10.0.0.10/24'], since: 0 }],
    reasons: { tx_dr: 30n, not_vip: 7n },
    connections: 3,
    connTables: { confirmed: 2, unconfirmed: 1, expired: 4 },
    flows: { unconfirmed: 9, confirmed: 5, reused: 1, expired: 2 },
    census: { at: Date.now() - 2000, ageMs: 2000, walkMs: 12.5 },
    threads: [
      { name: 'main', running: true, loopDelayMaxMs: 12, loopDelayP99Ms: 3, lastReportAgeMs: 0, restarts: 0 },
      { name: 'health', running: true, loopDelayMaxMs: 2, loopDelayP99Ms: 1, lastReportAgeMs: 240, restarts: 0 },
      { name: 'vrrp', running: true, loopDelayMaxMs: 1, loopDelayP99Ms: 1, lastReportAgeMs: 310, restarts: 1 },
    ],
    events: [{ at: 0, kind: 'health', message: '10.0.1.2:80 down: connection refused' }],
  };
}

export const syntheticCounters: EventCounters = {
  reloads: { ok: 2, invalid: 1, failed: 0 },
  vrrpTransitions: { VI_1: 2 }, vrrpAdvertsReceived: { VI_1: 40 }, vrrpAdvertsRejected: { auth: 3 },
  healthFailures: [{ service: '10.0.0.10:80/tcp', real: '10.0.1.2:80', reason: 'refused', count: 4 }],
};
