// The fast path (lb_fast4 in bpf/lb.bpf.c): packets of a confirmed IPv4 flow in its steady state
// (a TCP ACK of an ESTABLISHED connection, a UDP datagram of a live flow) to a DR or TUN VIP of
// one port are forwarded by a compact copy of lb_process()'s work; anything else falls through
// to lb_process(). Each case below is a packet the fast path takes or must leave to the general
// path, with the verdict, counters and entry it must end with, through BPF_PROG_TEST_RUN.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth, internetChecksum } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, runCounted, flatCounters, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';
import { monotonicSeconds } from '../../src/dataplane/flows';

const DR = '10.0.0.70';
const TUN = '10.0.0.71';
const h = harness('fastpath');
const real = (id: number, net = '10.9.0'): RealSpec => ({ id, address: `${net}.${id}`, mac: realMac(id), weight: 1, state: 'up' });
const CLIENT = '198.18.7.1';

function frame(vip: string, sport: number, flags: string, o: { ttl?: number; udp?: boolean; vlan?: boolean } = {}): Buffer {
  const l2 = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
  const e = (o.vlan ? l2.vlan(5) : l2).ipv4({ src: CLIENT, dst: vip, ttl: o.ttl ?? 64 });
  return (o.udp ? e.udp({ sport, dport: 53 }) : e.tcp({ sport, dport: 80, flags })).payload(Buffer.alloc(30)).build();
}

/** A confirmed flow: its first two packets (SYN, ACK; or two datagrams). Returns the real's id. */
function open(vip: string, sport: number, udp = false): number {
  const a = h.dp().program.testRun(frame(vip, sport, udp ? '' : 'S', { udp }));
  const b = h.dp().program.testRun(frame(vip, sport, 'A', { udp }));
  assert.equal(a.retval, XDP.XDP_TX);
  assert.equal(b.retval, XDP.XDP_TX);
  return b.data[5];
}

const conn = (sport: number) => h.dp().flows.connections().find((c) => c.client === CLIENT && c.clientPort === sport)!;

describe('lb: the fast path of an established flow', h.ctx.testOptions ?? {}, () => {
  let now = 0;
  before(async () => {
    await h.ctx.before!();
    now = monotonicSeconds();
    h.dp().flows.tickClock(now);
    h.dp().vips.upsert({ address: DR, port: 80, protocol: 'tcp', method: 'dr', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } });
    h.dp().vips.upsert({ address: DR, port: 53, protocol: 'udp', method: 'dr', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } });
    h.dp().vips.upsert({ address: TUN, port: 80, protocol: 'tcp', method: 'tun' });
    h.dp().reals.set(`${DR}:80/tcp`, [1, 2, 3].map((id) => real(id)));
    h.dp().reals.set(`${DR}:53/udp`, [4, 5].map((id) => real(id)));
    h.dp().reals.set(`${TUN}:80/tcp`, [6, 7].map((id) => real(id)));
  });
  after(() => h.ctx.after!());

  test('an ACK: forwarded to its real, counted once as tx_dr and on the real, its expiry moved on', () => {
    const id = open(DR, 1000);
    h.dp().flows.tickClock(now + 5);
    const before = flatCounters(h.dp());
    const f = frame(DR, 1000, 'A');
    const r = runCounted(h.dp(), f);
    assert.equal(r.verdict, XDP.XDP_TX);
    assert.deepEqual(r.reasons, { tx_dr: 1n });
    assert.equal(r.out[5], id);
    assert.deepEqual(r.out.subarray(12), f.subarray(12), 'DR: only the MACs change');
    const after = flatCounters(h.dp());
    assert.equal(after[`real.${id}.packets`] - before[`real.${id}.packets`], 1n);
    assert.equal(after[`real.${id}.bytes`] - before[`real.${id}.bytes`], BigInt(f.length - 14));
    assert.equal(after[`real.${id}.newFlows`], before[`real.${id}.newFlows`]);
    assert.equal(conn(1000).expires, now + 5 + 900, 'ESTABLISHED: now + the VIP\'s tcp timeout');
    h.dp().flows.tickClock(now);
  });

  test('UDP: a datagram of a live flow, its expiry moved by the udp timeout', () => {
    const f = frame(DR, 1001, '', { udp: true });
    open(DR, 1001, true);
    h.dp().flows.tickClock(now + 7);
    const r = runCounted(h.dp(), f);
    assert.equal(r.verdict, XDP.XDP_TX);
    assert.deepEqual(r.reasons, { tx_dr: 1n });
    assert.equal(conn(1001).expires, now + 7 + 300);
    h.dp().flows.tickClock(now);
  });

  test('TUN: encapsulated toward the real, counted as tx_tun', () => {
    const id = open(TUN, 1002);
    const f = frame(TUN, 1002, 'A');
    const r = runCounted(h.dp(), f);
    assert.equal(r.verdict, XDP.XDP_TX);
    assert.deepEqual(r.reasons, { tx_tun: 1n });
    assert.equal(r.out.length, f.length + 20);
    assert.equal(r.out[14], 0x45);
    assert.equal(r.out[14 + 9], 4, 'IP-in-IP');
    assert.equal(internetChecksum(r.out.subarray(14, 34)), 0, 'outer header checksum');
    assert.deepEqual([...r.out.subarray(30, 34)], [10, 9, 0, id], 'outer destination: the real');
    assert.deepEqual(r.out.subarray(34), f.subarray(14), 'the client\'s packet inside, unchanged');
  });

  test('left to the general path, with its verdicts: FIN, TTL 1, a bad checksum, a VLAN tag, an expired entry', () => {
    const id = open(DR, 1003);
    // FIN: a state change (ESTABLISHED -> FIN_WAIT), done by lb_process.
    let r = runCounted(h.dp(), frame(DR, 1003, 'FA'));
    assert.deepEqual([r.verdict, r.reasons, r.out[5]], [XDP.XDP_TX, { tx_dr: 1n }, id]);
    assert.equal(conn(1003).state, 'FIN_WAIT');
    open(DR, 1004);
    r = runCounted(h.dp(), frame(DR, 1004, 'A', { ttl: 1 }));
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_PASS, { ttl: 1n }]);
    const bad = frame(DR, 1004, 'A');
    bad[24] ^= 0xff;
    r = runCounted(h.dp(), bad);
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_DROP, { malformed: 1n }]);
    r = runCounted(h.dp(), frame(DR, 1004, 'A', { vlan: true }));
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_TX, { tx_dr: 1n }]);
    h.dp().flows.tickClock(now + 901);
    r = runCounted(h.dp(), frame(DR, 1004, 'A'));
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_PASS, { conn_expired: 1n }], 'an expired connection\'s ACK goes to the kernel');
    h.dp().flows.tickClock(now);
  });

  test('a real drained keeps its flows; a real down (on_down expire, the default) does not; a VIP switched to TUN encapsulates at once', () => {
    const id = open(DR, 1005);
    h.dp().reals.takeOutOfSelection([{ id, state: 'drain' }]);
    let r = runCounted(h.dp(), frame(DR, 1005, 'A'));
    assert.deepEqual([r.verdict, r.reasons, r.out[5]], [XDP.XDP_TX, { tx_dr: 1n }, id]);
    h.dp().reals.set(`${DR}:80/tcp`, [1, 2, 3].map((x) => real(x)));
    const idDown = open(DR, 1008);
    h.dp().reals.takeOutOfSelection([{ id: idDown, state: 'down' }]);
    r = runCounted(h.dp(), frame(DR, 1008, 'A'));
    assert.equal(r.verdict, XDP.XDP_TX);
    assert.notEqual(r.out[5], idDown, 'down: the flow is rescheduled (on_down expire)');
    h.dp().reals.set(`${DR}:80/tcp`, [1, 2, 3].map((x) => real(x)));
    const id2 = open(DR, 1006);
    h.dp().vips.upsert({ address: DR, port: 80, protocol: 'tcp', method: 'tun', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } });
    r = runCounted(h.dp(), frame(DR, 1006, 'A'));
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_TX, { tx_tun: 1n }]);
    assert.equal(r.out[14 + 19], id2, 'to the same real, now inside IP-in-IP');
    h.dp().vips.upsert({ address: DR, port: 80, protocol: 'tcp', method: 'dr', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } });
  });

  test('not ours: another address, and a frame to another MAC', () => {
    let r = runCounted(h.dp(), eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT, dst: '10.0.0.99' }).tcp({ sport: 1, dport: 80, flags: 'A' }).build());
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_PASS, { not_vip: 1n }]);
    open(DR, 1007);
    r = runCounted(h.dp(), eth({ src: ROUTER_MAC, dst: '02:00:00:00:00:77' }).ipv4({ src: CLIENT, dst: DR }).tcp({ sport: 1007, dport: 80, flags: 'A' }).build());
    assert.deepEqual([r.verdict, r.reasons], [XDP.XDP_PASS, { not_ours: 1n }]);
  });
});
