// ICMP errors about our flows go to the flow's real (IPVS ip_vs_in_icmp): a router on the path
// of a real's direct reply sends "fragmentation needed" / "packet too big" to the VIP, which is
// the director; the real must get it or path MTU discovery fails for its replies.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { XDP } from '../lib/fixtures';
import { harness, runCounted, DIRECTOR_MAC, ROUTER_MAC, CLIENT6, TUN_SRC4, realMac } from './fixtures/harness';

const VIP = '10.0.0.90';
const VIP_TUN = '10.0.0.91';
const VIP6 = '2001:db8:90::90';
const ROUTER4 = '192.0.2.254';
const ROUTER6 = '2001:db8:ffee::1';
const h = harness('icmp');
const client = (i: number) => `198.51.100.${1 + (i % 250)}`;
const cport = (i: number) => 30000 + i;

const syn = (i: number) => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client(i), dst: VIP }).tcp({ sport: cport(i), dport: 80, flags: 'S' }).build();
/** RFC 792 type 3 code 4 from a router on the reply path, quoting the real's reply VIP:80 -> client. */
const fragNeeded = (i: number, vip = VIP, macDst = DIRECTOR_MAC) => eth({ src: ROUTER_MAC, dst: macDst })
  .ipv4({ src: ROUTER4, dst: vip, ttl: 60 })
  .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) }) // next-hop MTU 1400
  .ipv4({ src: vip, dst: client(i), df: true }).tcp({ sport: 80, dport: cport(i), flags: 'A' });

const run = (frame: Buffer) => runCounted(h.dp(), frame);
const realOf = (out: Buffer) => out[5];
/** One frame through the program without reading counters (cheap, for many flows). */
const fwd = (frame: Buffer) => { const r = h.dp().program.testRun(frame); assert.equal(r.retval, XDP.XDP_TX); return realOf(r.data); };

describe('lb: ICMP errors about a flow go to its real', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    const dp = h.dp();
    dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', tableSize: 251 });
    dp.reals.set(`${VIP}:80/tcp`, [1, 2, 3].map((id) => ({ id, address: `10.9.0.${id}`, mac: realMac(id), weight: 1, state: 'up' as const })));
    dp.vips.upsert({ address: VIP_TUN, port: 80, protocol: 'tcp', method: 'tun', tableSize: 251 });
    dp.reals.set(`${VIP_TUN}:80/tcp`, [{ id: 7, address: '10.9.1.7', mac: realMac(7), weight: 1, state: 'up' }]);
    dp.vips.upsert({ address: VIP6, port: 443, protocol: 'tcp', method: 'dr', tableSize: 251 });
    dp.reals.set(`[${VIP6}]:443/tcp`, [{ id: 8, address: '2001:db8:90::8', mac: realMac(8), weight: 1, state: 'up' }]);
  });
  after(() => h.ctx.after!());

  test('DR: fragmentation needed reaches the real of the flow, unchanged but for the MACs', () => {
    const s = run(syn(0));
    assert.equal(s.verdict, XDP.XDP_TX);
    const r = run(fragNeeded(0).build());
    assert.deepEqual(r.reasons, { tx_icmp: 1n });
    assert.equal(r.verdict, XDP.XDP_TX);
    const want = eth({ src: DIRECTOR_MAC, dst: realMac(realOf(s.out)) })
      .ipv4({ src: ROUTER4, dst: VIP, ttl: 60 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: VIP, dst: client(0), df: true }).tcp({ sport: 80, dport: cport(0), flags: 'A' }).build();
    assert.equal(diffPackets(want, r.out), '');
  });

  test('the connection entry decides, not the current table: flows keep getting their errors after the real set changed', () => {
    const first = Array.from({ length: 60 }, (_, i) => fwd(syn(100 + i)));
    // Real 4 with weight 20 takes about 20/23 of the new table: errors looked up in the table
    // instead of the connection entries would mostly go there.
    h.dp().reals.set(`${VIP}:80/tcp`, [1, 2, 3, 4].map((id) => ({ id, address: `10.9.0.${id}`, mac: realMac(id), weight: id === 4 ? 20 : 1, state: 'up' as const })));
    first.forEach((real, i) => assert.equal(fwd(fragNeeded(100 + i).build()), real, `flow ${i}`));
  });

  test('without a connection entry the error goes where the flow\'s next SYN would', () => {
    for (let i = 0; i < 8; i++) {
      const e = run(fragNeeded(400 + i).build());
      assert.deepEqual(e.reasons, { tx_icmp: 1n });
      assert.equal(fwd(syn(400 + i)), realOf(e.out), `flow ${400 + i}`);
    }
  });

  test('TUN: the error travels inside an outer IPv4 header to the real', () => {
    const r = run(fragNeeded(0, VIP_TUN).build());
    assert.deepEqual(r.reasons, { tx_icmp: 1n });
    const want = eth({ src: DIRECTOR_MAC, dst: realMac(7) })
      .ipv4({ src: TUN_SRC4, dst: '10.9.1.7', ttl: 64 })
      .ipv4({ src: ROUTER4, dst: VIP_TUN, ttl: 60 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: VIP_TUN, dst: client(0), df: true }).tcp({ sport: 80, dport: cport(0), flags: 'A' }).build();
    assert.equal(diffPackets(want, r.out), '');
  });

  test('IPv6: packet too big reaches the real', () => {
    const frame = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv6({ src: ROUTER6, dst: VIP6, hopLimit: 60 })
      .icmpv6({ type: 2, body: Buffer.from([0, 0, 0x05, 0x00]) })
      .ipv6({ src: VIP6, dst: CLIENT6 }).tcp({ sport: 443, dport: 40001, flags: 'A' });
    const r = run(frame.build());
    assert.deepEqual(r.reasons, { tx_icmp: 1n });
    assert.equal(realOf(r.out), 8);
    assert.equal(diffPackets(Buffer.concat([Buffer.from(realMac(8).split(':').map((x) => parseInt(x, 16))), Buffer.from(DIRECTOR_MAC.split(':').map((x) => parseInt(x, 16))), frame.build().subarray(12)]), r.out), '');
  });

  test('everything else ICMP goes to the kernel: echo, errors quoting another address or port, truncated quotes, other MACs', () => {
    const e = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
    assert.deepEqual(run(e().ipv4({ src: ROUTER4, dst: VIP }).icmp({ type: 8, id: 1, seq: 1 }).build()).reasons, { proto: 1n }, 'echo request');
    const quote = (src: string, sport: number) => e().ipv4({ src: ROUTER4, dst: VIP }).icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 5, 0x78]) })
      .ipv4({ src, dst: client(0) }).tcp({ sport, dport: cport(0) }).build();
    assert.deepEqual(run(quote(VIP, 22)).reasons, { proto: 1n }, 'a port with no VIP');
    assert.deepEqual(run(quote('10.0.0.99', 80)).reasons, { proto: 1n }, 'a quote from another address than the one the error went to');
    const full = fragNeeded(0).build();
    assert.deepEqual(run(full.subarray(0, 14 + 20 + 8 + 20 + 2)).reasons, { malformed: 1n }, 'frame shorter than the IP total length');
    assert.deepEqual(run(fragNeeded(0, VIP, '02:00:00:00:00:99').build()).reasons, { not_ours: 1n });
  });
});
