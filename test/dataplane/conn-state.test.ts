// Connection state and expiry (IPVS's input-only TCP states, `ipvsadm --set tcp tcpfin udp`):
// real packets through BPF_PROG_TEST_RUN, time moved by writing the flow clock (Flows.tickClock). A flow is confirmed
// (lb_conns) by its second packet; a SYN on a connection the client closed, and any packet after
// expiry but a TCP non-SYN, is scheduled afresh; a TCP non-SYN on an expired entry goes to the
// kernel. "Afresh" shows as a different real: the flow's Maglev choice changes under it when a
// second real is added, while a live entry keeps the flow where it was.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';
import { Connection, monotonicSeconds } from '../../src/dataplane/flows';

const VIP = '10.0.0.70';
const TCP_KEY = `${VIP}:80/tcp`;
const UDP_KEY = `${VIP}:53/udp`;
const CLIENT = '203.0.113.9';
const h = harness('connstate');
const real = (id: number, over: Partial<RealSpec> = {}): RealSpec =>
  ({ id, address: `10.7.0.${id}`, mac: realMac(id), weight: 1, state: 'up', ...over });
// Real 1 serves TCP, 11 UDP; reals 2 and 12 are added to move Maglev choices.
const A = 1;
const B = 2;

let clock = 0;
const tick = (s: number) => { clock += s; h.dp().flows.tickClock(clock); };

function frame(proto: 'tcp' | 'udp', sport: number, flags = 'A'): Buffer {
  const ip = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst: VIP });
  return (proto === 'tcp' ? ip.tcp({ sport, dport: 80, flags }) : ip.udp({ sport, dport: 53 })).build();
}

/** Sends one packet: the real id it went to (its MAC's last byte), or the XDP verdict as a string. */
function send(proto: 'tcp' | 'udp', sport: number, flags = 'A'): number | string {
  const r = h.dp().program.testRun(frame(proto, sport, flags));
  if (r.retval !== XDP.XDP_TX) return Object.entries(XDP).find(([, v]) => v === r.retval)![0];
  return r.data[5]; // realMac(id) ends in the id
}

function entry(proto: 'tcp' | 'udp', sport: number): Connection | undefined {
  return h.dp().flows.connections().find((c) => c.protocol === proto && c.clientPort === sport && c.client === CLIENT);
}

/** A client port whose Maglev choice with both reals up is the second real (probed with new
 *  flows, whose entries the caller lets expire). */
function portMovingTo(proto: 'tcp' | 'udp', second: number, from: number): number {
  for (let p = from; p < from + 200; p++) {
    if (send(proto, p, proto === 'tcp' ? 'S' : '') === second) return p;
  }
  throw new Error('no port maps to the second real');
}

describe('lb: connection state and expiry', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    clock = monotonicSeconds();
    h.dp().flows.tickClock(clock);
    const timeouts = { tcp: 50, tcpFin: 20, udp: 30 };
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', timeouts });
    h.dp().vips.upsert({ address: VIP, port: 53, protocol: 'udp', method: 'dr', timeouts });
  });
  after(() => h.ctx.after!());

  const oneReal = () => { h.dp().reals.set(TCP_KEY, [real(A)]); h.dp().reals.set(UDP_KEY, [real(11)]); };
  const twoReals = () => { h.dp().reals.set(TCP_KEY, [real(A), real(B)]); h.dp().reals.set(UDP_KEY, [real(11), real(12)]); };
  /** A TCP connection opened and confirmed on A while A is alone, on a port whose new flows go
   *  to B once B is added (the probe's entries left to expire first). */
  const establishedOnA = (from: number): number => {
    oneReal();
    twoReals();
    const port = portMovingTo('tcp', B, from);
    tick(61);
    oneReal();
    assert.equal(send('tcp', port, 'S'), A);
    assert.equal(send('tcp', port, 'A'), A);
    return port;
  };

  test('SYN, ACK, FIN: SYN_RECV in lb_new, then ESTABLISHED and FIN_WAIT confirmed, each with its timeout', () => {
    oneReal();
    assert.equal(send('tcp', 1000, 'S'), A);
    let e = entry('tcp', 1000)!;
    assert.deepEqual([e.state, e.confirmed, e.expires], ['SYN_RECV', false, clock + 60]);
    assert.deepEqual(h.dp().flows.realConns(A), { active: 0, inactive: 1, overloaded: false });
    assert.equal(send('tcp', 1000, 'A'), A);
    e = entry('tcp', 1000)!;
    assert.deepEqual([e.state, e.confirmed, e.expires], ['ESTABLISHED', true, clock + 50]);
    assert.deepEqual(h.dp().flows.realConns(A), { active: 1, inactive: 0, overloaded: false });
    tick(10);
    assert.equal(send('tcp', 1000, 'PA'), A);
    assert.equal(entry('tcp', 1000)!.expires, clock + 50, 'every packet re-arms the timeout');
    assert.equal(send('tcp', 1000, 'FA'), A);
    e = entry('tcp', 1000)!;
    assert.deepEqual([e.state, e.expires], ['FIN_WAIT', clock + 20]);
    assert.deepEqual(h.dp().flows.realConns(A), { active: 0, inactive: 1, overloaded: false });
  });

  test('a SYN on an ESTABLISHED flow stays; a SYN after the client\'s FIN picks afresh', () => {
    oneReal();
    send('tcp', 2000, 'S');
    twoReals();
    const port = portMovingTo('tcp', B, 2100); // a new flow on that port goes to B...
    oneReal();
    const reusedBefore = h.dp().flows.flowStats().reused;
    tick(61); // ...the probe's SYN_RECV entry expires; open the flow on A while A is alone
    assert.equal(send('tcp', port, 'S'), A);
    assert.equal(send('tcp', port, 'A'), A);
    twoReals();
    assert.equal(send('tcp', port, 'S'), A, 'SYN on ESTABLISHED: same connection (IPVS sES + syn = sES)');
    assert.equal(entry('tcp', port)!.state, 'ESTABLISHED');
    assert.equal(send('tcp', port, 'FA'), A);
    assert.equal(entry('tcp', port)!.state, 'FIN_WAIT');
    assert.equal(send('tcp', port, 'S'), B, 'new connection on the reused port: scheduled afresh');
    const e = entry('tcp', port)!;
    assert.deepEqual([e.state, e.confirmed, e.realId], ['SYN_RECV', false, B]);
    assert.equal(h.dp().flows.flowStats().reused - reusedBefore, 1n);
  });

  test('RST closes: CLOSE for 10 s, then a non-SYN goes to the kernel and a SYN picks afresh', () => {
    const port = establishedOnA(3000);
    assert.equal(send('tcp', port, 'R'), A);
    assert.deepEqual([entry('tcp', port)!.state, entry('tcp', port)!.expires], ['CLOSE', clock + 10]);
    twoReals();
    tick(11);
    const before = h.dp().stats.counters().reasons.conn_expired;
    assert.equal(send('tcp', port, 'A'), 'XDP_PASS', 'an expired connection is the kernel\'s to reset (IPVS)');
    assert.equal(h.dp().stats.counters().reasons.conn_expired - before, 1n);
    assert.equal(entry('tcp', port)!.state, 'CLOSE', 'the expired entry stays until a SYN replaces it');
    assert.equal(send('tcp', port, 'S'), B);
  });

  test('an idle ESTABLISHED flow expires after timeouts.tcp', () => {
    const port = establishedOnA(4000);
    twoReals();
    tick(50);
    assert.equal(send('tcp', port, 'A'), A, 'at the timeout: still live');
    tick(51);
    assert.equal(send('tcp', port, 'A'), 'XDP_PASS');
    assert.equal(send('tcp', port, 'S'), B);
  });

  test('UDP: one state; confirmed by the second packet; after timeouts.udp scheduled afresh', () => {
    oneReal();
    twoReals();
    const port = portMovingTo('udp', 12, 5000);
    tick(31);
    oneReal();
    assert.equal(send('udp', port), 11);
    assert.deepEqual([entry('udp', port)!.state, entry('udp', port)!.confirmed], ['UDP', false]);
    assert.equal(send('udp', port), 11);
    assert.deepEqual([entry('udp', port)!.state, entry('udp', port)!.confirmed, entry('udp', port)!.expires], ['UDP', true, clock + 30]);
    twoReals();
    tick(30);
    assert.equal(send('udp', port), 11, 'live: stays');
    tick(31);
    assert.equal(send('udp', port), 12, 'expired: scheduled afresh');
    assert.equal(entry('udp', port)!.confirmed, false);
  });

  test('a data plane left without its clock keeper goes back to the kernel clock, not a frozen one', () => {
    oneReal();
    h.dp().flows.startClock(3_600_000);
    h.dp().flows.tickClock(clock - 5000); // the keeper's last tick, long ago
    h.dp().flows.stopClock(); // a daemon stopping with the data plane left forwarding
    const before = monotonicSeconds();
    assert.equal(send('tcp', 9000, 'S'), A);
    const e = entry('tcp', 9000)!;
    const now = monotonicSeconds(); // after the walk of the tables, which takes its time
    assert.ok(e.expires >= before + 59 && e.expires <= now + 60, `SYN_RECV expires ${e.expires}, now ${before}..${now}: from the kernel clock`);
  });
});
