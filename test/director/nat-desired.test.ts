// NAT and full-NAT services from the model to the maps: the desired state keeps the method, each
// real's own port and the full-NAT pool; a NAT real needs no MAC (the kernel's routes give its
// next hop), where a DR real without one is down; the reconciler's data-plane port writes the
// method, ports and pool, and reads them back when a restarted daemon adopts the pins.
import { SMALL_TEST_TABLES } from '../lib/fixtures';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopology } from '../../src/config/load';
import { desiredService } from '../../src/director/desired-from-model';
import { DataplanePortAdapter, adoptedState } from '../../src/director/dataplane-port';
import { Dataplane } from '../../src/dataplane/dataplane';
import { pinThreadToCpu } from '../../src/loader';
import { needsBpf } from '../lib/env';
import type { ServiceModel } from '../../src/config/model';

const topo = loadTopology(`
director: { name: d1, interface: eth0, addresses: [10.1.0.2/24] }
services:
  - vip: 10.0.0.10
    port: 80
    reals:
      - { address: 10.1.0.51 }
      - { address: 10.1.0.52 }
`);
// The real ports NAT maps to (validation of nat in the topology is not part of this change).
const base: ServiceModel = {
  ...topo.services[0],
  reals: topo.services[0].reals.map((r, i) => ({ ...r, port: 8080 + i, key: `${r.address}:${8080 + i}` })),
};
const noMac = () => null;

test('NAT: reals without a MAC are up, with their own ports; DR ones are down', () => {
  const nat = desiredService({ ...base, method: 'nat' } as ServiceModel, undefined, noMac);
  assert.equal(nat.vip.method, 'nat');
  assert.deepEqual(nat.reals.map((r) => [r.key, r.port, r.state]), [['10.1.0.51:8080', 8080, 'up'], ['10.1.0.52:8081', 8081, 'up']]);
  assert.equal(nat.vip.snatPool, undefined);
  const dr = desiredService({ ...base, method: 'dr' } as ServiceModel, undefined, noMac);
  assert.deepEqual(dr.reals.map((r) => r.state), ['down', 'down']);
});

test('full-NAT: the pool is part of the VIP (a change of pool is a change of the VIP)', () => {
  const a = desiredService({ ...base, method: 'fullnat', snatPool: ['10.1.0.100'] } as ServiceModel, undefined, noMac);
  assert.deepEqual(a.vip.snatPool, ['10.1.0.100']);
});

test('the data-plane port writes method, real ports and pool, and adoption reads them back', needsBpf(), () => {
  pinThreadToCpu(0);
  const pinDir = `/sys/fs/bpf/xlvs-test-natdesired-${process.pid}`;
  const dp = Dataplane.create({ pinDir, mac: '02:00:00:00:00:01', tables: SMALL_TEST_TABLES });
  try {
    const port = new DataplanePortAdapter(dp);
    const svc = desiredService({ ...base, method: 'fullnat', snatPool: ['10.1.0.100', '10.1.0.101'] } as ServiceModel, undefined, noMac);
    port.upsertVip(svc.vip);
    port.setReals(svc.vip, svc.reals.map((r, i) => ({ ...r, id: i + 1 })), null);
    const v = dp.vips.list()[0];
    assert.equal(v.method, 'fullnat');
    assert.deepEqual(v.snatPool, { addresses: ['10.1.0.100', '10.1.0.101'], portMin: 1024, portMax: 65535 });
    assert.deepEqual(dp.reals.list().map((r) => [r.address, r.port]), [['10.1.0.51', 8080], ['10.1.0.52', 8081]]);
    const { state } = adoptedState(dp, { ...topo, services: [] });
    const back = state.get(svc.vip.key)!;
    assert.equal(back.vip.method, 'fullnat');
    assert.deepEqual(back.vip.snatPool, ['10.1.0.100', '10.1.0.101']);
    assert.deepEqual(back.reals.map((r) => r.key), ['10.1.0.51:8080', '10.1.0.52:8081'], 'real keys with their own ports, without the topology');
  } finally {
    dp.destroy();
  }
});
