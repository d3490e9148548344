// Flows keep their real when the real set changes (connection table); a SYN on a known flow
// whose real left selection is scheduled again; drain keeps flows; down follows on_down.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';

const VIP = '10.0.0.50';
const KEY = `${VIP}:80/tcp`;
const h = harness('sticky');
const real = (id: number, over: Partial<RealSpec> = {}): RealSpec =>
  ({ id, address: `10.3.0.${id}`, mac: realMac(id), weight: 1, state: 'up', ...over });
const client = (i: number) => `203.0.113.${1 + (i % 200)}`;
const pkt = (i: number, flags: string) =>
  eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client(i), dst: VIP }).tcp({ sport: 30000 + i, dport: 80, flags }).build();

/** Sends flow i; returns the real id its frame went to (by destination MAC), checking the rest. */
function send(i: number, flags: string): number {
  const input = pkt(i, flags);
  const r = h.dp().program.testRun(input);
  assert.equal(r.retval, XDP.XDP_TX, `flow ${i} ${flags}: verdict ${r.retval}`);
  const id = r.data[5];
  const want = eth({ src: DIRECTOR_MAC, dst: realMac(id) }).ipv4({ src: client(i), dst: VIP }).tcp({ sport: 30000 + i, dport: 80, flags }).build();
  assert.equal(diffPackets(want, r.data), '', `flow ${i}: output differs`);
  return id;
}

const FLOWS = 64;

describe('lb: stickiness and rescheduling', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', onDown: 'expire' });
    h.dp().reals.set(KEY, [real(1), real(2), real(3), real(4)]);
  });
  after(() => h.ctx.after!());

  const first = new Map<number, number>();

  test('new flows spread over the reals', () => {
    for (let i = 0; i < FLOWS; i++) first.set(i, send(i, 'S'));
    const used = new Set(first.values());
    assert.ok(used.size >= 3, `64 flows used only reals ${[...used]}`);
    assert.equal(h.dp().flows.connections().length, FLOWS);
  });

  test('adding a real and changing weights does not move established flows', () => {
    h.dp().reals.set(KEY, [real(1, { weight: 5 }), real(2), real(3), real(4), real(5, { weight: 10 })]);
    for (let i = 0; i < FLOWS; i++) assert.equal(send(i, 'A'), first.get(i), `flow ${i} moved`);
    const fresh = Array.from({ length: FLOWS }, (_, i) => send(1000 + i, 'S'));
    assert.ok(fresh.includes(5), 'the new real with the largest weight got no new flow');
  });

  test('draining a real keeps its flows; a SYN on one of them is scheduled elsewhere', () => {
    h.dp().reals.set(KEY, [real(1, { weight: 5 }), real(2), real(3, { state: 'drain' }), real(4), real(5, { weight: 10 })]);
    const on3 = [...first].filter(([, id]) => id === 3).map(([i]) => i);
    assert.ok(on3.length > 0);
    for (const i of on3) assert.equal(send(i, 'A'), 3, `flow ${i} left the draining real`);
    const before = h.dp().stats.counters().reals.find((r) => r.id === 3)!.newFlows;
    for (const i of on3) assert.notEqual(send(i, 'S'), 3, `SYN of flow ${i} went to the draining real`);
    assert.equal(h.dp().stats.counters().reals.find((r) => r.id === 3)!.newFlows, before);
    for (let i = 0; i < FLOWS; i++) assert.notEqual(send(2000 + i, 'S'), 3);
  });

  test('a real marked down with on_down expire loses its flows at their next packet', () => {
    h.dp().reals.set(KEY, [real(1, { weight: 5 }), real(2, { state: 'down' }), real(3, { state: 'drain' }), real(4), real(5, { weight: 10 })]);
    const on2 = [...first].filter(([, id]) => id === 2).map(([i]) => i);
    assert.ok(on2.length > 0);
    for (const i of on2) {
      const id = send(i, 'A');
      assert.notEqual(id, 2);
      assert.equal(send(i, 'A'), id, `flow ${i} was not kept on its new real`);
    }
  });

  test('on_down keep leaves flows on a down real, but a SYN is scheduled again', () => {
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', onDown: 'keep' });
    h.dp().reals.set(KEY, [real(1, { weight: 5 }), real(2), real(3), real(4, { state: 'down' }), real(5, { weight: 10 })]);
    const on4 = [...first].filter(([, id]) => id === 4).map(([i]) => i);
    assert.ok(on4.length > 0);
    for (const i of on4) assert.equal(send(i, 'A'), 4);
    for (const i of on4) assert.notEqual(send(i, 'S'), 4);
  });

  test('a real removed from the set loses its flows', () => {
    h.dp().reals.set(KEY, [real(2), real(3), real(4), real(5)]);
    const on1 = [...first].filter(([, id]) => id === 1).map(([i]) => i);
    for (const i of on1) assert.notEqual(send(i, 'A'), 1);
    assert.equal(h.dp().reals.list(KEY).some((r) => r.id === 1), false);
  });

  test('no real in selection: the sorry real takes new flows; without one, the kernel gets them', () => {
    h.dp().reals.set(KEY, [real(2, { state: 'down' })], real(9));
    assert.equal(send(5000, 'S'), 9);
    h.dp().reals.set(KEY, [real(2, { state: 'down' })]);
    const before = h.dp().stats.counters().reasons.no_real;
    const r = h.dp().program.testRun(pkt(5001, 'S'));
    assert.equal(r.retval, XDP.XDP_PASS);
    assert.equal(h.dp().stats.counters().reasons.no_real, before + 1n);
  });
});
