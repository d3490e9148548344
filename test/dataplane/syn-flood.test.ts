// SYN-flood protection: 2,000,000 SYNs from random sources, through BPF_PROG_TEST_RUN, while
// established flows and persistence templates exist. A SYN's entry goes to lb_new (the
// unconfirmed table, sized small here) and only a second packet moves a flow to lb_conns, so
// the flood churns lb_new alone: afterwards every established flow still has its entry and its
// real, and every client its template.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth, internetChecksum } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';

const VIP = '10.0.0.90';
const STICKY = '10.0.0.91';
const ESTABLISHED = 20_000;
const CLIENTS = 2_000;
const FLOOD = 2_000_000;
const h = harness('synflood', { tables: { unconfirmed: 16_384, conns: 65_536, persist: 8_192 } });
const real = (id: number): RealSpec => ({ id, address: `10.9.0.${id}`, mac: realMac(id), weight: 1, state: 'up' });

function tcp(client: string, sport: number, vip: string, flags: string): number {
  const r = h.dp().program.testRun(eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport, dport: 80, flags }).build());
  assert.equal(r.retval, XDP.XDP_TX, `${client}:${sport} → ${vip} ${flags}`);
  return r.data[5];
}

const clientOf = (i: number) => `198.19.${(i >> 8) & 255}.${i & 255}`;

describe('lb: SYN flood', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
    h.dp().vips.upsert({ address: STICKY, port: 80, protocol: 'tcp', method: 'dr', persistenceTimeoutMs: 600_000 });
    h.dp().reals.set(`${VIP}:80/tcp`, [1, 2, 3, 4].map(real));
    h.dp().reals.set(`${STICKY}:80/tcp`, [11, 12, 13, 14].map(real));
  });
  after(() => h.ctx.after!());

  test(`${FLOOD} SYNs from random sources evict no established flow and no persistence template`, () => {
    const flows: number[] = [];
    for (let i = 0; i < ESTABLISHED; i++) {
      const id = tcp(clientOf(i), 10_000 + (i % 50_000), VIP, 'S');
      assert.equal(tcp(clientOf(i), 10_000 + (i % 50_000), VIP, 'A'), id);
      flows.push(id);
    }
    const held: number[] = [];
    for (let i = 0; i < CLIENTS; i++) {
      const id = tcp(clientOf(i), 5000, STICKY, 'S');
      tcp(clientOf(i), 5000, STICKY, 'A');
      held.push(id);
    }
    const stats0 = h.dp().flows.flowStats();

    // One frame rewritten in place: random source address (outside 198.19/16) and port.
    const frame = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: '1.1.1.1', dst: VIP }).tcp({ sport: 1, dport: 80, flags: 'S' }).build();
    const vipSticky = Buffer.from(STICKY.split('.').map(Number));
    const vipPlain = Buffer.from(VIP.split('.').map(Number));
    let x = 0x9e3779b9;
    const rnd = () => { x ^= x << 13; x ^= x >>> 17; x ^= x << 5; return x >>> 0; };
    for (let n = 0; n < FLOOD; n++) {
      let src = rnd();
      if ((src >>> 16) === 0xc613) src = (src ^ 0x01000000) >>> 0; // never a real client's 198.19/16
      frame.writeUInt32BE(src, 26);
      (n & 1 ? vipSticky : vipPlain).copy(frame, 30);
      frame.writeUInt16BE(1024 + (rnd() % 64000), 34);
      frame.writeUInt16BE(0, 24);
      frame.writeUInt16BE(internetChecksum(frame.subarray(14, 34)), 24);
      const r = h.dp().program.testRun(frame);
      if (r.retval !== XDP.XDP_TX) assert.fail(`flood SYN ${n}: verdict ${r.retval}`);
    }
    const stats1 = h.dp().flows.flowStats();
    assert.equal(stats1.unconfirmed - stats0.unconfirmed, BigInt(FLOOD), 'every flood SYN made an unconfirmed entry');
    assert.equal(stats1.confirmed, stats0.confirmed, 'none was confirmed');

    // Every established flow: its entry, with its real, then a packet that still goes there.
    const byKey = new Map(h.dp().flows.connections().filter((c) => c.confirmed && c.vip === VIP).map((c) => [`${c.client}:${c.clientPort}`, c]));
    let missing = 0;
    let moved = 0;
    for (let i = 0; i < ESTABLISHED; i++) {
      const c = byKey.get(`${clientOf(i)}:${10_000 + (i % 50_000)}`);
      if (!c) missing++;
      else if (c.realId !== flows[i] || c.state !== 'ESTABLISHED') moved++;
    }
    assert.deepEqual({ missing, moved }, { missing: 0, moved: 0 });
    for (let i = 0; i < ESTABLISHED; i += 97) assert.equal(tcp(clientOf(i), 10_000 + (i % 50_000), VIP, 'PA'), flows[i]);
    for (let i = 0; i < CLIENTS; i++) {
      assert.equal(h.dp().flows.persistence(`${STICKY}:80/tcp`, clientOf(i))?.realId, held[i], `template of ${clientOf(i)}`);
    }
    // A new connection of a persistent client still follows its template after the flood.
    for (let i = 0; i < CLIENTS; i += 50) assert.equal(tcp(clientOf(i), 6000, STICKY, 'S'), held[i]);
  });
});
