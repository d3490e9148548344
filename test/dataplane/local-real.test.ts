// A director that is also a real server of its VIP (LVS "backup_only"): a pick of the local real
// goes to this machine's kernel untouched (XDP_PASS, reason local) and is counted on that real;
// while the director does not hold the VIP every packet to it is delivered here and none is
// forwarded; a frame a peer director forwarded (its source MAC is another real's) is never sent
// on again. Real packets through BPF_PROG_TEST_RUN; counters prove where each one went.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, runCounted, flatCounters, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, realMac } from './fixtures/harness';
import { LB } from '../../src/maps/lb';
import type { RealSpec } from '../../src/dataplane/spec';

const VIP = '10.0.0.80';
const KEY = `${VIP}:6379/tcp`;
const LOCAL = 1; // real id of this director's own address
const PEER = 2; // real id of the other director
const PLAIN = '10.0.0.81'; // a VIP without a local real
const PLAIN_KEY = `${PLAIN}:6379/tcp`;
const h = harness('localreal');

const reals = (): RealSpec[] => [
  { id: LOCAL, address: '10.0.9.1', mac: '00:00:00:00:00:00', weight: 1, state: 'up', local: true },
  { id: PEER, address: '10.0.9.2', mac: realMac(PEER), weight: 1, state: 'up' },
];
const seg = (dst: string, sport: number, flags: string, src = ROUTER_MAC) =>
  eth({ src, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT4, dst }).tcp({ sport, dport: 6379, flags }).build();
const realPackets = (id: number) => flatCounters(h.dp())[`real.${id}.packets`] ?? 0n;
const localMode = (mode: 'active' | 'backup' | 'none') => h.dp().vips.upsert({ address: VIP, port: 6379, protocol: 'tcp', method: 'dr', localMode: mode });

/** SYNs from client ports `from`..`from+n-1`: the ports the table gives to each real. */
function spread(from: number, n: number): { local: number[]; peer: number[] } {
  const out = { local: [] as number[], peer: [] as number[] };
  for (let p = from; p < from + n; p++) {
    const frame = seg(VIP, p, 'S');
    const r = runCounted(h.dp(), frame);
    if (r.verdict === XDP.XDP_PASS) {
      assert.deepEqual(r.reasons, { local: 1n }, `port ${p}`);
      assert.ok(r.out.equals(frame), `port ${p}: a local delivery leaves the frame as it came`);
      out.local.push(p);
    } else {
      assert.equal(r.verdict, XDP.XDP_TX, `port ${p}`);
      assert.deepEqual(r.reasons, { tx_dr: 1n });
      assert.equal(r.out.subarray(0, 6).toString('hex'), realMac(PEER).replace(/:/g, ''), `port ${p}: sent to the peer`);
      out.peer.push(p);
    }
  }
  return out;
}

describe('lb: a local real (the director is a real of its own VIP)', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    const dp = h.dp();
    dp.vips.upsert({ address: VIP, port: 6379, protocol: 'tcp', method: 'dr', localMode: 'active' });
    dp.reals.set(KEY, reals());
    dp.vips.upsert({ address: PLAIN, port: 6379, protocol: 'tcp', method: 'dr' });
    dp.reals.set(PLAIN_KEY, [{ id: 3, address: '10.0.9.2', mac: realMac(PEER), weight: 1, state: 'up' }]);
  });
  after(() => h.ctx.after!());

  test('the maps: local_real names the local real, lb_peers holds the other real, local flag set', () => {
    const dp = h.dp();
    const v = dp.vips.list().find((x) => x.key === KEY)!;
    assert.equal(v.localReal, LOCAL);
    assert.equal(v.localMode, 'active');
    assert.deepEqual(dp.reals.list(KEY).map((r) => [r.id, r.local]), [[LOCAL, true], [PEER, false]]);
    assert.deepEqual(dp.reals.peersOf(KEY), [realMac(PEER)]);
    assert.deepEqual(dp.reals.peersOf(PLAIN_KEY), [], 'a VIP without a local real has no peers');
  });

  test('holding the VIP: new flows spread over both reals; local picks pass to the kernel and count on the local real', () => {
    const l0 = realPackets(LOCAL);
    const p0 = realPackets(PEER);
    const s = spread(42000, 64);
    assert.ok(s.local.length > 8 && s.peer.length > 8, `both reals get flows (local ${s.local.length}, peer ${s.peer.length})`);
    assert.equal(realPackets(LOCAL) - l0, BigInt(s.local.length));
    assert.equal(realPackets(PEER) - p0, BigInt(s.peer.length));
    // The handshake's ACK of a local flow follows its entry: local again.
    const ack = runCounted(h.dp(), seg(VIP, s.local[0], 'A'));
    assert.equal(ack.verdict, XDP.XDP_PASS);
    assert.deepEqual(ack.reasons, { local: 1n });
    const ack2 = runCounted(h.dp(), seg(VIP, s.peer[0], 'A'));
    assert.equal(ack2.verdict, XDP.XDP_TX);
  });

  test('a frame from the peer director (its MAC is a real of the VIP) is delivered here, never forwarded', () => {
    const l0 = realPackets(LOCAL);
    const p0 = realPackets(PEER);
    let n = 0;
    for (let p = 43000; p < 43032; p++) {
      const r = runCounted(h.dp(), seg(VIP, p, 'S', realMac(PEER)));
      assert.equal(r.verdict, XDP.XDP_PASS, `port ${p}`);
      assert.deepEqual(r.reasons, { local: 1n });
      n++;
    }
    assert.equal(realPackets(LOCAL) - l0, BigInt(n));
    assert.equal(realPackets(PEER) - p0, 0n, 'nothing went back to the peer');
    // Another VIP, without a local real, forwards frames from that MAC as always (the check is
    // only for VIPs with a local real).
    const plain = runCounted(h.dp(), seg(PLAIN, 43100, 'S', realMac(PEER)));
    assert.equal(plain.verdict, XDP.XDP_TX);
  });

  test('not holding the VIP (backup): every packet is delivered here, flows the peer had included, and moves to the local real', () => {
    localMode('active');
    const s = spread(44000, 32);
    assert.ok(s.peer.length > 0);
    for (const p of s.peer) assert.equal(runCounted(h.dp(), seg(VIP, p, 'A')).verdict, XDP.XDP_TX);
    localMode('backup');
    const l0 = realPackets(LOCAL);
    const p0 = realPackets(PEER);
    let n = 0;
    for (let p = 44000; p < 44032; p++) {
      for (const flags of ['A', 'PA']) {
        const r = runCounted(h.dp(), seg(VIP, p, flags));
        assert.equal(r.verdict, XDP.XDP_PASS, `port ${p} ${flags}`);
        assert.deepEqual(r.reasons, { local: 1n });
        n++;
      }
    }
    for (let p = 45000; p < 45032; p++) {
      assert.equal(runCounted(h.dp(), seg(VIP, p, 'S')).verdict, XDP.XDP_PASS, `new flow ${p}`);
      n++;
    }
    assert.equal(realPackets(LOCAL) - l0, BigInt(n), 'every packet counted on the local real');
    assert.equal(realPackets(PEER) - p0, 0n, 'none forwarded');
    // Back to holding the VIP: the flows taken over while backup stay on the local real.
    localMode('active');
    for (const p of s.peer) {
      const r = runCounted(h.dp(), seg(VIP, p, 'A'));
      assert.equal(r.verdict, XDP.XDP_PASS, `port ${p} stays local`);
    }
  });

  test('backup with the local real down still forwards nothing', () => {
    const dp = h.dp();
    localMode('backup');
    dp.reals.set(KEY, reals().map((r) => r.id === LOCAL ? { ...r, state: 'down' as const } : r));
    for (let p = 46000; p < 46016; p++) {
      const r = runCounted(dp, seg(VIP, p, 'S'));
      assert.equal(r.verdict, XDP.XDP_PASS, `port ${p}`);
    }
    dp.reals.set(KEY, reals());
    localMode('active');
  });

  test('local delivery passes a no-accept address (it is the service, not the address)', () => {
    const dp = h.dp();
    dp.vips.setNoAccept([VIP]);
    try {
      localMode('backup');
      const r = runCounted(dp, seg(VIP, 47000, 'S'));
      assert.equal(r.verdict, XDP.XDP_PASS);
      assert.deepEqual(r.reasons, { local: 1n });
      assert.equal(runCounted(dp, eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT4, dst: VIP }).tcp({ sport: 1, dport: 22, flags: 'S' }).build()).verdict, XDP.XDP_DROP, 'other ports stay refused');
    } finally {
      dp.vips.setNoAccept([]);
      localMode('active');
    }
  });

  test('an ICMP error about a flow of a VIP we do not hold goes to the kernel (local)', () => {
    localMode('backup');
    try {
      const quoted = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: VIP, dst: CLIENT4 }).tcp({ sport: 6379, dport: 48000, flags: 'A' }).build().subarray(14);
      const icmp = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: '192.0.2.1', dst: VIP }).icmp({ type: 3, code: 4, body: Buffer.concat([Buffer.from([0, 0, 0x05, 0xdc]), quoted.subarray(0, 28)]) }).build();
      const r = runCounted(h.dp(), icmp);
      assert.equal(r.verdict, XDP.XDP_PASS);
      assert.deepEqual(r.reasons, { local: 1n });
    } finally {
      localMode('active');
    }
  });

  test('without a local real the VIP forgets its peers and local real', () => {
    const dp = h.dp();
    dp.reals.set(KEY, reals().map((r) => ({ ...r, local: false, mac: realMac(r.id) })));
    const v = dp.vips.list().find((x) => x.key === KEY)!;
    assert.equal(v.localReal, 0);
    assert.deepEqual(dp.reals.peersOf(KEY), []);
    const r = runCounted(dp, seg(VIP, 49000, 'S', realMac(PEER)));
    assert.equal(r.verdict, XDP.XDP_TX, 'a real\'s frame is forwarded like any other');
    assert.equal(LB.LOCAL_BACKUP, 2);
  });

  test('two local reals of one VIP are refused and change nothing', () => {
    const dp = h.dp();
    dp.reals.set(KEY, reals());
    assert.throws(() => dp.reals.set(KEY, reals().map((r) => ({ ...r, local: true }))), /2 local reals/);
    assert.equal(dp.vips.list().find((x) => x.key === KEY)!.localReal, LOCAL);
  });
});
