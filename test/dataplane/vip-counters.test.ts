// A VIP's counters are its reals' (the program counts per real only) plus what reals that left
// carried: they never go down while the VIP exists, as Prometheus counters must not.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';

const VIP = '10.0.0.95';
const KEY = `${VIP}:80/tcp`;
const h = harness('vipcounters');
const real = (id: number): RealSpec => ({ id, address: `10.9.5.${id}`, mac: realMac(id), weight: 1, state: 'up' });

let port = 1000;
function syns(n: number): void {
  for (let i = 0; i < n; i++) {
    const r = h.dp().program.testRun(eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: '203.0.113.50', dst: VIP }).tcp({ sport: port++, dport: 80, flags: 'S' }).build());
    assert.equal(r.retval, XDP.XDP_TX);
  }
}
const vip = () => h.dp().stats.counters().vips.find((v) => v.key === KEY)!;
const realsOf = () => h.dp().stats.counters().reals.filter((r) => r.vipKey === KEY);

describe('lb: VIP counters', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
  });
  after(() => h.ctx.after!());

  test('a VIP counts what its reals carried, those that left included', () => {
    h.dp().reals.set(KEY, [real(1), real(2), real(3)]);
    syns(90);
    assert.equal(vip().packets, 90n);
    assert.equal(vip().newFlows, 90n);
    assert.equal(realsOf().reduce((a, r) => a + r.packets, 0n), 90n);
    const gone = realsOf().find((r) => r.id === 3)!.packets;
    assert.ok(gone > 0n);
    h.dp().reals.set(KEY, [real(1), real(2)]);
    assert.equal(vip().packets, 90n, 'real 3 left: its packets stay in the VIP');
    assert.equal(realsOf().reduce((a, r) => a + r.packets, 0n), 90n - gone);
    syns(10);
    assert.equal(vip().packets, 100n);
    assert.equal(vip().bytes, 100n * 40n);
    // Real 3's id taken into use again starts from zero; the VIP keeps counting up.
    h.dp().reals.set(KEY, [real(1), real(2), real(3)]);
    assert.equal(realsOf().find((r) => r.id === 3)!.packets, 0n);
    assert.equal(vip().packets, 100n);
  });

  test('a VIP removed and added again starts from zero', () => {
    h.dp().vips.remove(KEY);
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
    h.dp().reals.set(KEY, [real(1)]);
    assert.equal(vip().packets, 0n);
    syns(5);
    assert.equal(vip().packets, 5n);
  });
});
