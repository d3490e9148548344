// The operator's overrides (`xlvs real drain|weight`) as a Director input: the desired state the
// reconciler would write, with a drained real in state 'drain' (established flows continue, no
// new ones), a weight override instead of the topology's weight, and health still in charge of
// reals that failed. No maps: the Director is given an empty stand-in data plane.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopology } from '../../src/config/load';
import { Director } from '../../src/director/director';
import type { Dataplane } from '../../src/dataplane/dataplane';
import type { RealOverride } from '../../src/director/desired-from-model';
import type { ServiceVerdict } from '../../src/health/quorum';

const topo = loadTopology(`
director: { name: d1, interface: eth0, addresses: [10.1.0.2/24] }
services:
  - vip: 10.1.0.100
    port: 80
    reals:
      - { address: 10.1.0.51, mac: "02:00:00:00:00:51", weight: 3 }
      - { address: 10.1.0.52, mac: "02:00:00:00:00:52" }
      - { address: 10.1.0.53, mac: "02:00:00:00:00:53", weight: 0 }
  - vip: 10.1.0.100
    port: 443
    reals:
      - { address: 10.1.0.51, mac: "02:00:00:00:00:51", weight: 3 }
`);
const WEB = '10.1.0.100:80/tcp';
const TLS = '10.1.0.100:443/tcp';

/** Just enough of a Dataplane for the constructor's look at what the maps hold: nothing. */
const emptyDataplane = { vips: { list: () => [] }, reals: { list: () => [] } } as unknown as Dataplane;

function realsOf(d: Director, service: string): Record<string, { weight: number; state: string }> {
  const svc = d.desired().services.get(service)!;
  return Object.fromEntries(svc.reals.map((r) => [r.key, { weight: r.weight, state: r.state }]));
}

function overrides(o: Record<string, Record<string, RealOverride>>): Map<string, Map<string, RealOverride>> {
  return new Map(Object.entries(o).map(([s, rs]) => [s, new Map(Object.entries(rs))]));
}

test('without overrides the desired state is the topology\'s', () => {
  const d = new Director(emptyDataplane, topo);
  assert.deepEqual(realsOf(d, WEB), {
    '10.1.0.51:80': { weight: 3, state: 'up' }, '10.1.0.52:80': { weight: 1, state: 'up' }, '10.1.0.53:80': { weight: 0, state: 'drain' },
  });
});

test('drained: state drain with the weight kept; only that service\'s real; undrain gives it back', () => {
  const d = new Director(emptyDataplane, topo);
  d.setOverrides(overrides({ [WEB]: { '10.1.0.51:80': { drained: true } } }));
  assert.deepEqual(realsOf(d, WEB)['10.1.0.51:80'], { weight: 3, state: 'drain' });
  assert.deepEqual(realsOf(d, WEB)['10.1.0.52:80'], { weight: 1, state: 'up' });
  assert.deepEqual(realsOf(d, TLS)['10.1.0.51:443'], { weight: 3, state: 'up' }, 'the same address in another service is untouched');
  assert.deepEqual(d.desiredService(WEB)!.reals[0].state, 'drain', 'desiredService (a one-service apply) agrees');
  d.setOverrides(new Map());
  assert.deepEqual(realsOf(d, WEB)['10.1.0.51:80'], { weight: 3, state: 'up' });
});

test('weight: replaces the topology\'s; 0 quiesces (drain); a weight brings up a real the topology had at 0', () => {
  const d = new Director(emptyDataplane, topo);
  d.setOverrides(overrides({ [WEB]: { '10.1.0.51:80': { weight: 7 }, '10.1.0.52:80': { weight: 0 }, '10.1.0.53:80': { weight: 2 } } }));
  assert.deepEqual(realsOf(d, WEB), {
    '10.1.0.51:80': { weight: 7, state: 'up' }, '10.1.0.52:80': { weight: 0, state: 'drain' }, '10.1.0.53:80': { weight: 2, state: 'up' },
  });
  d.setOverrides(overrides({ [WEB]: { '10.1.0.51:80': { weight: 7, drained: true } } }));
  assert.deepEqual(realsOf(d, WEB)['10.1.0.51:80'], { weight: 7, state: 'drain' }, 'drained and weighted: drained, the weight waits');
});

test('health stays in charge: an override never brings up a real that failed', () => {
  const d = new Director(emptyDataplane, topo);
  const svc = topo.services[0];
  const v: ServiceVerdict = {
    reals: [
      { key: svc.reals[0].key, weight: 0, state: 'down', reason: 'connect refused' },
      { key: svc.reals[1].key, weight: 0, state: 'drain', reason: 'inhibit_on_failure: timeout' },
      { key: svc.reals[2].key, weight: 0, state: 'drain', reason: 'weight 0' },
    ],
    sorry: false, quorumUp: true, healthyWeight: 0, reason: 'test',
  };
  d.setVerdict(WEB, v);
  d.setOverrides(overrides({ [WEB]: { '10.1.0.51:80': { weight: 5 }, '10.1.0.52:80': { weight: 5 }, '10.1.0.53:80': { weight: 5 } } }));
  assert.deepEqual(realsOf(d, WEB), {
    '10.1.0.51:80': { weight: 0, state: 'down' }, '10.1.0.52:80': { weight: 0, state: 'drain' }, '10.1.0.53:80': { weight: 5, state: 'up' },
  });
});

test('overrides of services or reals the topology does not have change nothing', () => {
  const d = new Director(emptyDataplane, topo);
  const before = realsOf(d, WEB);
  d.setOverrides(overrides({ '10.9.9.9:80/tcp': { '10.1.0.51:80': { drained: true } }, [WEB]: { '10.1.0.99:80': { drained: true } } }));
  assert.deepEqual(realsOf(d, WEB), before);
});
