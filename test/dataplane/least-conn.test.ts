// lc and wlc (IPVS's least-connection schedulers) and connection thresholds (ipvsadm -x/-y),
// with real packets through BPF_PROG_TEST_RUN. Connections are opened with SYN + ACK, so the
// data plane counts them active (ESTABLISHED), as ipvsadm's ActiveConn.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec, Scheduler } from '../../src/dataplane/spec';

const h = harness('leastconn');
const real = (id: number, over: Partial<RealSpec> = {}): RealSpec =>
  ({ id, address: `10.8.0.${id}`, mac: realMac(id), weight: 1, state: 'up', ...over });

let nextPort = 0;
/** Opens one connection (SYN, then the handshake's ACK) from a new client port; the real id. */
function open(vip: string): number {
  const n = nextPort++;
  const client = `198.18.${(n >> 8) & 255}.${n & 255}`;
  let id = 0;
  for (const flags of ['S', 'A']) {
    const r = h.dp().program.testRun(eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport: 40000 + (n % 20000), dport: 80, flags }).build());
    assert.equal(r.retval, XDP.XDP_TX);
    if (id) assert.equal(r.data[5], id, 'the ACK follows the SYN');
    id = r.data[5];
  }
  return id;
}

function tally(ids: number[]): Map<number, number> {
  const m = new Map<number, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

/** A VIP whose real 1 holds 10x the active connections of reals 2..4 (1000 against ~100). */
function loaded(vip: string, scheduler: Scheduler, base: number): void {
  const key = `${vip}:80/tcp`;
  h.dp().vips.upsert({ address: vip, port: 80, protocol: 'tcp', method: 'dr', scheduler });
  h.dp().reals.set(key, [real(base + 1)]);
  for (let i = 0; i < 1000; i++) assert.equal(open(vip), base + 1);
  h.dp().reals.set(key, [real(base + 1, { state: 'drain' }), real(base + 2), real(base + 3), real(base + 4)]);
  for (let i = 0; i < 300; i++) open(vip);
  h.dp().reals.set(key, [real(base + 1), real(base + 2), real(base + 3), real(base + 4)]);
}

describe('lb: lc, wlc and connection thresholds', h.ctx.testOptions ?? {}, () => {
  before(async () => { await h.ctx.before!(); });
  after(() => h.ctx.after!());

  for (const [scheduler, vip, base] of [['wlc', '10.0.0.80', 10], ['lc', '10.0.0.81', 20]] as const) {
    test(`${scheduler}: new flows avoid the real with 10x the connections and spread over the others`, () => {
      loaded(vip, scheduler, base);
      const counts = [1, 2, 3, 4].map((k) => h.dp().flows.realConns(base + k).active);
      assert.equal(counts[0], 1000);
      for (const c of counts.slice(1)) assert.ok(c >= 80 && c <= 120, `the others hold ~100 each: ${counts}`);
      const got = tally(Array.from({ length: 900 }, () => open(vip)));
      // Real 1 is chosen only when all 4 candidates of a flow are real 1: (1/4)^4 of flows.
      assert.ok((got.get(base + 1) ?? 0) <= 18, `loaded real got ${got.get(base + 1)} of 900`);
      for (const k of [2, 3, 4]) {
        const n = got.get(base + k) ?? 0;
        assert.ok(n >= 225 && n <= 375, `real ${base + k} got ${n} of 900 (about a third each): ${[...got]}`);
      }
      // Established flows never move: the first 1000 are still on real 1.
      assert.equal(h.dp().flows.realConns(base + 1).active, 1000 + (got.get(base + 1) ?? 0));
    });
  }

  test('wlc divides by weight: a real of weight 3 takes about 3x the new flows of weight 1', () => {
    const vip = '10.0.0.82';
    h.dp().vips.upsert({ address: vip, port: 80, protocol: 'tcp', method: 'dr', scheduler: 'wlc' });
    h.dp().reals.set(`${vip}:80/tcp`, [real(31, { weight: 3 }), real(32)]);
    const got = tally(Array.from({ length: 800 }, () => open(vip)));
    const ratio = (got.get(31) ?? 0) / (got.get(32) ?? 1);
    assert.ok(ratio > 2.5 && ratio < 3.5, `weights 3:1 gave ${[...got]}`);
  });

  test('upper threshold: a real at it gets no new flows until below the lower one (maglev too)', () => {
    const vip = '10.0.0.83';
    const key = `${vip}:80/tcp`;
    h.dp().vips.upsert({ address: vip, port: 80, protocol: 'tcp', method: 'dr' });
    h.dp().reals.set(key, [real(41, { upperThreshold: 5, lowerThreshold: 3 }), real(42)]);
    const got = tally(Array.from({ length: 60 }, () => open(vip)));
    assert.equal(got.get(41), 5, `real 41 capped at 5: ${[...got]}`);
    assert.equal(got.get(42), 55);
    assert.equal(h.dp().flows.realConns(41).overloaded, true);
    // The census corrects the data plane's counts (connections that expired without another
    // packet); here it says real 41 is down to 4, then 2 connections.
    const fix = (active: number) => h.dp().flows.setConnsFix(41, { active: active - 5, inactive: 0 });
    fix(4);
    assert.equal(tally(Array.from({ length: 30 }, () => open(vip))).get(41), undefined, 'at 4: between the thresholds, still overloaded');
    fix(2);
    const after = tally(Array.from({ length: 30 }, () => open(vip)));
    assert.ok((after.get(41) ?? 0) >= 1, `below the lower threshold it takes flows again: ${[...after]}`);
    assert.ok(h.dp().flows.realConns(41).active <= 5);
  });
});

