// lb_new, the unconfirmed flows, is an array of 64-byte slots the program manages itself
// (bpf/include/conntrack.h): a flow sits in one of the two slots new_slot_index() of its key
// names, a new entry takes a free one or else the older entry's, a second packet empties it. Real packets through BPF_PROG_TEST_RUN; the
// slots read back from the pinned map.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';
import { BpfMap } from '../../src/loader';
import { flowKey, newSlot, newSlotIndex, LB } from '../../src/maps/lb';
import { AF4 } from '../../src/dataplane/addr';
import { u32 } from '../../src/dataplane/state';
import { monotonicSeconds } from '../../src/dataplane/flows';

const VIP = '10.0.0.95';
const SLOTS = 3000; // not a power of two: the index is a multiply onto [0, n), not a mask
const h = harness('newtable', { tables: { unconfirmed: SLOTS } });
const real = (id: number): RealSpec => ({ id, address: `10.9.0.${id}`, mac: realMac(id), weight: 1, state: 'up' });
const REALS = [1, 2, 3, 4];

function tcp(client: string, sport: number, flags: string): number {
  const r = h.dp().program.testRun(eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: VIP }).tcp({ sport, dport: 80, flags }).build());
  assert.equal(r.retval, XDP.XDP_TX, `${client}:${sport} ${flags}`);
  return r.data[5];
}

const a4 = (s: string) => Buffer.concat([Buffer.from(s.split('.').map(Number)), Buffer.alloc(12)]);
const keyOf = (client: string, sport: number) =>
  flowKey.encode({ src: a4(client), dst: a4(VIP), sport, dport: 80, proto: 6, family: AF4 });

describe('lb: the unconfirmed table (lb_new) as slots', h.ctx.testOptions ?? {}, () => {
  let slots: BpfMap;
  const slot = (i: number) => newSlot.decode(slots.lookup(u32(i))!);
  /** The slot of the flow's pair that holds it, or null. */
  const held = (k: Buffer) => {
    const i = newSlotIndex(k, SLOTS);
    return [i, i + 1].find((j) => flowKey.encode(slot(j).key).equals(k)) ?? null;
  };
  const inactive = () => REALS.reduce((n, id) => n + h.dp().flows.realConns(id).inactive, 0);

  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
    h.dp().reals.set(`${VIP}:80/tcp`, REALS.map(real));
    slots = BpfMap.openPinned(path.join(h.dp().pinDir, 'lb_new'));
  });
  after(() => {
    slots?.close();
    return h.ctx.after!();
  });

  test('the table has the size asked for, and a SYN\'s entry is in the pair newSlotIndex() names', () => {
    assert.equal(slots.maxEntries, SLOTS);
    for (let p = 0; p < 20; p++) {
      const id = tcp('198.18.0.1', 2000 + p, 'S');
      const i = held(keyOf('198.18.0.1', 2000 + p));
      assert.notEqual(i, null, `flow ${p}: its key in its pair`);
      const s = slot(i!);
      assert.equal(s.val.state, LB.CS_SYN_RECV);
      assert.equal(s.val.realId, id);
    }
  });

  test('the second packet confirms the flow and empties its slot', () => {
    const k = keyOf('198.18.0.2', 3000);
    const id = tcp('198.18.0.2', 3000, 'S');
    assert.equal(tcp('198.18.0.2', 3000, 'A'), id);
    assert.equal(held(k), null, 'slot emptied');
    const c = h.dp().flows.connections().find((x) => x.client === '198.18.0.2' && x.clientPort === 3000);
    assert.ok(c?.confirmed, 'in lb_conns');
    assert.equal(c.state, 'ESTABLISHED');
    assert.equal(c.realId, id);
  });

  test('a pair holds two flows; a third takes the older one\'s slot, which leaves InActConn, and its ACK is picked up on the same real', () => {
    const client = '198.18.0.3';
    const ix = newSlotIndex(keyOf(client, 4000), SLOTS);
    const ports = [4000];
    for (let p = 4001; ports.length < 3; p++) if (newSlotIndex(keyOf(client, p), SLOTS) === ix) ports.push(p);
    const t0 = monotonicSeconds();
    h.dp().flows.tickClock(t0);
    const before = inactive();
    const idFirst = tcp(client, ports[0], 'S');
    h.dp().flows.tickClock(t0 + 1); // the second and third expire a second later
    tcp(client, ports[1], 'S');
    assert.equal(inactive(), before + 2);
    assert.notEqual(held(keyOf(client, ports[0])), null, 'two flows of one pair: both held');
    assert.notEqual(held(keyOf(client, ports[1])), null);
    tcp(client, ports[2], 'S');
    assert.equal(held(keyOf(client, ports[0])), null, 'the older entry lost its slot');
    assert.notEqual(held(keyOf(client, ports[1])), null, 'the newer one kept its own');
    assert.notEqual(held(keyOf(client, ports[2])), null);
    assert.equal(inactive(), before + 2, 'the displaced SYN_RECV entry left its real\'s count');
    // The first flow's ACK finds no entry: picked up mid-stream, Maglev gives the same real.
    assert.equal(tcp(client, ports[0], 'A'), idFirst);
    const c = h.dp().flows.connections().find((x) => x.client === client && x.clientPort === ports[0]);
    assert.equal(c?.realId, idFirst);
    assert.equal(c?.confirmed, false, 'picked up: an unconfirmed ESTABLISHED entry until its next packet');
  });

  test('connections() and clear() see the slots: an emptied table lists no unconfirmed flow', () => {
    tcp('198.18.0.4', 5000, 'S');
    assert.ok(h.dp().flows.connections().some((c) => !c.confirmed && c.client === '198.18.0.4'));
    h.dp().flows.clear();
    assert.deepEqual(h.dp().flows.connections(), []);
  });
});
