// A health check's verdict takes a real out of new selection with one lb_reals write
// (Dataplane.reals.takeOutOfSelection), before the Maglev table is rebuilt: the lb program probes past
// slots whose real is not up. Also the flow clock (lb_config.now_s) connection entries expire by.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';
import { monotonicSeconds } from '../../src/dataplane/flows';

const VIP = '10.0.0.60';
const KEY = `${VIP}:80/tcp`;
const h = harness('outsel');
const real = (id: number, over: Partial<RealSpec> = {}): RealSpec =>
  ({ id, address: `10.4.0.${id}`, mac: realMac(id), weight: 1, state: 'up', ...over });
const pkt = (i: number, flags: string) =>
  eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: `198.18.${(i >> 8) & 255}.${i & 255}`, dst: VIP }).tcp({ sport: 20000 + (i % 40000), dport: 80, flags }).build();

/** Sends flow i; returns the real id it went to (destination MAC), or 0 when not forwarded. */
function send(i: number, flags: string): number {
  const r = h.dp().program.testRun(pkt(i, flags));
  return r.retval === XDP.XDP_TX ? r.data[5] : 0;
}
const countBy = (ids: number[]) => ids.reduce((m, id) => m.set(id, (m.get(id) ?? 0) + 1), new Map<number, number>());

describe('lb: reals out of selection before the table is rebuilt', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', onDown: 'expire', tableSize: 251 });
  });
  after(() => h.ctx.after!());

  test('a real taken down gets no new flow; its flows go elsewhere (expire); the others keep theirs', () => {
    h.dp().reals.set(KEY, [1, 2, 3, 4].map((id) => real(id)));
    const first = Array.from({ length: 400 }, (_, i) => send(i, 'S'));
    assert.ok(countBy(first).get(2)! > 50, `real 2 got ${countBy(first).get(2)} of 400 before`);
    assert.deepEqual(h.dp().reals.takeOutOfSelection([{ id: 2, state: 'down' }]), [2]);
    assert.equal(h.dp().reals.list(KEY).find((r) => r.id === 2)!.state, 'down');
    // No table rebuild happened: new flows that hash to real 2's slots probe on.
    const fresh = Array.from({ length: 400 }, (_, i) => send(10_000 + i, 'S'));
    assert.equal(fresh.filter((id) => id === 0).length, 0, 'a new flow was not forwarded');
    assert.equal(countBy(fresh).get(2), undefined, 'a new flow went to the real taken down');
    // Its share spreads over the other three rather than landing on one of them.
    for (const id of [1, 3, 4]) assert.ok(countBy(fresh).get(id)! > 80, `real ${id}: ${countBy(fresh).get(id)} of 400`);
    first.forEach((id, i) => {
      const now = send(i, 'A');
      if (id === 2) assert.notEqual(now, 2, `flow ${i} stayed on the down real (on_down expire)`);
      else assert.equal(now, id, `flow ${i} moved off real ${id}, which is still up`);
    });
  });

  test('drain keeps the real\'s flows and gives it no new ones; the rebuilt table agrees', () => {
    h.dp().reals.set(KEY, [1, 2, 3, 4].map((id) => real(id)));
    const first = Array.from({ length: 200 }, (_, i) => send(20_000 + i, 'S'));
    const on3 = first.map((id, i) => [id, i]).filter(([id]) => id === 3).map(([, i]) => i);
    assert.ok(on3.length > 0);
    h.dp().reals.takeOutOfSelection([{ id: 3, state: 'drain' }]);
    for (const i of on3) assert.equal(send(20_000 + i, 'A'), 3, `flow ${20_000 + i} left the draining real`);
    const fresh = Array.from({ length: 200 }, (_, i) => send(30_000 + i, 'S'));
    assert.equal(countBy(fresh).get(3), undefined);
    // The rebuild that follows (what the daemon's apply does) changes nothing for those flows.
    h.dp().reals.set(KEY, [real(1), real(2), real(3, { state: 'drain' }), real(4)]);
    for (const i of on3) assert.equal(send(20_000 + i, 'A'), 3);
  });

  test('every real out: the sorry real takes new flows, as with an empty table', () => {
    h.dp().reals.set(KEY, [real(1), real(2)], real(9));
    h.dp().reals.takeOutOfSelection([{ id: 1, state: 'down' }, { id: 2, state: 'down' }]);
    const got = Array.from({ length: 50 }, (_, i) => send(40_000 + i, 'S'));
    assert.deepEqual([...countBy(got).keys()], [9]);
  });

  test('an unknown real id is refused and nothing is written', () => {
    h.dp().reals.set(KEY, [real(1), real(2)]);
    assert.throws(() => h.dp().reals.takeOutOfSelection([{ id: 1, state: 'down' }, { id: 777, state: 'down' }]), /real id 777 is not in the data plane/);
    // The check comes first for every id: real 1 was not touched either.
    assert.equal(h.dp().reals.list(KEY).find((r) => r.id === 1)!.state, 'up');
  });

  test('connection entries expire by the flow clock once it is written, else by the kernel clock', () => {
    h.dp().reals.set(KEY, [real(1), real(2)]);
    const before = monotonicSeconds();
    send(50_000, 'S');
    const flowOf = (i: number) => h.dp().flows.connections().find((c) => c.client === `198.18.${(i >> 8) & 255}.${i & 255}` && c.clientPort === 20_000 + (i % 40000));
    const c1 = flowOf(50_000);
    assert.ok(c1, 'no connection entry');
    // A SYN's entry (SYN_RECV) lives 60 s from the kernel's coarse clock: CLOCK_MONOTONIC.
    assert.equal(c1.state, 'SYN_RECV');
    assert.ok(c1.expires >= before + 60 && c1.expires <= monotonicSeconds() + 60, `expires ${c1.expires} vs ${before}`);
    const t = before - 5000;
    h.dp().flows.tickClock(t);
    send(50_001, 'S');
    const c2 = flowOf(50_001);
    assert.equal(c2?.expires, t + 60);
  });
});
