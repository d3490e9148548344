// What the daemon derives from the model before it writes the maps: which reals a health
// verdict takes out of selection at once, and which VRRP addresses are in no-accept mode.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopology } from '../../src/config/load';
import { desiredService, noAcceptAddresses } from '../../src/director/desired-from-model';
import { leavingSelection } from '../../src/reconciler/desired';
import type { ServiceVerdict } from '../../src/health/quorum';

const topo = loadTopology(`
director: { name: d1, interface: eth0, addresses: [10.1.0.2/24] }
vrrp:
  - { name: A, vrid: 1, priority: 100, vips: [10.1.0.100/24] }
  - { name: B, vrid: 2, priority: 100, accept: false, vips: [10.1.0.101/24, 10.1.0.102/24] }
  - { name: C, vrid: 3, priority: 255, accept: false, vips: [10.1.0.103/24] }
services:
  - vip: 10.1.0.100
    port: 80
    protocol: tcp
    sorry_server: { address: 10.1.0.60, port: 80 }
    reals:
      - { address: 10.1.0.51 }
      - { address: 10.1.0.52, weight: 2 }
      - { address: 10.1.0.53 }
`);
const svc = topo.services[0];
const mac = () => '02:00:00:00:00:01';
const ids = new Map(svc.reals.map((r, i) => [r.key, i + 1]));
const verdict = (states: Array<['up' | 'down' | 'drain', number]>, sorry = false): ServiceVerdict => ({
  reals: svc.reals.map((r, i) => ({ key: r.key, state: states[i][0], weight: states[i][1], reason: 'test' })),
  sorry, quorumUp: !sorry, healthyWeight: 0, reason: 'test',
});

test('a real that is down, drained or at weight 0 leaves selection at once; one still up does not', () => {
  const d = desiredService(svc, verdict([['up', 1], ['down', 0], ['up', 0]]), mac);
  assert.deepEqual(leavingSelection(d, (k) => ids.get(k)), [{ id: 2, state: 'down' }, { id: 3, state: 'drain' }]);
  assert.deepEqual(leavingSelection(desiredService(svc, verdict([['up', 1], ['up', 2], ['up', 1]]), mac), (k) => ids.get(k)), []);
});

test('nothing leaves early while the sorry server takes over, or for a real without an id yet', () => {
  const d = desiredService(svc, verdict([['down', 0], ['down', 0], ['down', 0]], true), mac);
  assert.deepEqual(leavingSelection(d, (k) => ids.get(k)), []);
  const d2 = desiredService(svc, verdict([['down', 0], ['up', 2], ['up', 1]]), mac);
  assert.deepEqual(leavingSelection(d2, () => undefined), []);
});

test('no-accept addresses: the VIPs of accept: false instances, except the address owner (priority 255)', () => {
  assert.deepEqual(noAcceptAddresses(topo).sort(), ['10.1.0.101', '10.1.0.102']);
  assert.equal(topo.vrrp[0].accept, true, 'accept is the default, as keepalived without vrrp_strict');
});

test('inhibit_on_failure: a failed real is drained (weight 0, flows continue), not down; the real\'s own setting overrides the service\'s', async () => {
  const { FakeClock } = await import('../../src/health/clock');
  const { HealthManager } = await import('../../src/health/manager');
  const { checkerSpecs } = await import('../../src/health/from-config');
  const { realInputs } = await import('../../src/health/service');
  const { computeService } = await import('../../src/health/quorum');
  const t = loadTopology(`
director: { name: d1, interface: eth0, addresses: [10.1.0.2/24] }
services:
  - vip: 10.1.0.100
    port: 80
    inhibit_on_failure: true
    check: { type: tcp, interval: 1s, timeout: 300ms, fall: 1 }
    reals:
      - { address: 10.1.0.51 }
      - { address: 10.1.0.52, inhibit_on_failure: false }
      - { address: 10.1.0.53, weight: 3 }
  - vip: 10.1.0.100
    port: 443
    check: { type: tcp, interval: 1s, timeout: 300ms, fall: 1 }
    reals:
      - { address: 10.1.0.51 }
      - { address: 10.1.0.52, inhibit_on_failure: true }
`);
  const [web, tls] = t.services;
  assert.deepEqual(web.reals.map((r) => r.inhibitOnFailure), [true, false, true], 'the service sets the default, a real overrides it');
  assert.deepEqual(tls.reals.map((r) => r.inhibitOnFailure), [false, true], 'off unless asked (keepalived default)');

  // Real checkers on a fake clock; every check of .51 and .52 fails, .53 answers.
  const clock = new FakeClock();
  const failing = new Set(['10.1.0.51', '10.1.0.52']);
  const m = new HealthManager({
    clock, random: () => 0.5,
    checkFns: { tcp: async (s) => (failing.has(s.address) ? { ok: false, reason: 'connection refused', durationMs: 1 } : { ok: true, reason: 'connected', durationMs: 1 }) },
  });
  m.sync(checkerSpecs(t.services));
  await clock.advance(2000);
  const desired = (svc: typeof web) => {
    const v = computeService(realInputs(svc.key, svc.reals, (s, r) => m.find(s, r)), { min: 1, hysteresis: 0, hasSorry: false });
    return desiredService(svc, v, mac);
  };
  const d = desired(web);
  assert.deepEqual(d.reals.map((r) => [r.address, r.state, r.weight]), [['10.1.0.51', 'drain', 0], ['10.1.0.52', 'down', 0], ['10.1.0.53', 'up', 3]]);
  // In the maps: LB_REAL_DRAIN keeps established flows on the real (bpf/include/lb_shared.h);
  // LB_REAL_DOWN hands them to the VIP's on_down.
  assert.deepEqual(leavingSelection(d, (k) => ({ '10.1.0.51:80': 1, '10.1.0.52:80': 2 } as Record<string, number>)[k]), [{ id: 1, state: 'drain' }, { id: 2, state: 'down' }]);
  const d2 = desired(tls);
  assert.deepEqual(d2.reals.map((r) => [r.address, r.state, r.weight]), [['10.1.0.51', 'down', 0], ['10.1.0.52', 'drain', 0]]);

  // Back up: configured weight again.
  failing.clear();
  await clock.advance(3000);
  assert.deepEqual(desired(web).reals.map((r) => [r.state, r.weight]), [['up', 1], ['up', 1], ['up', 3]]);
  m.stop();
});

test('desired state: the service\'s timeouts on the VIP; the sorry server has no thresholds', () => {
  const d = desiredService(svc, verdict([['down', 0], ['down', 0], ['down', 0]], true), mac);
  assert.deepEqual(d.vip.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  assert.deepEqual(d.reals.map((r) => [r.upperThreshold, r.lowerThreshold]), [[0, 0], [0, 0], [0, 0]]);
  assert.deepEqual([d.sorry?.upperThreshold, d.sorry?.lowerThreshold], [0, 0]);
});
