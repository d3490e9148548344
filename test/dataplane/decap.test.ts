// The real server's decap program (bpf/decap.bpf.c) through BPF_PROG_TEST_RUN: IPIP, IP6IP6,
// 4in6 and 6in4 toward a configured VIP lose exactly their outer header (the whole output
// frame is compared); plain packets, tunnels to other addresses and outer headers the program
// leaves to the kernel pass untouched, each counted in decap_stats.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { BpfObject, BpfProgram, BpfMap, pinThreadToCpu } from '../../src/loader';
import { bpfObject } from '../../src/paths';
import { decapKey, decapStats } from '../../src/maps/lb';
import { parseAddr } from '../../src/dataplane/addr';
import { eth, packet, PacketBuilder } from '../lib/packet';
import { runFixtureTable, FixtureRow, checkFixture, XDP } from '../lib/fixtures';
import { needsBpf, whyNoBpf, inCI } from '../lib/env';

const VIP4 = '10.0.0.10';
const VIP6 = '2001:db8::10';
const CLIENT4 = '198.51.100.7';
const CLIENT6 = '2001:db8:100::7';
const DIR4 = '10.1.0.1'; // director (outer source)
const RS4 = '10.1.0.2'; // this real server (outer destination)
const DIR6 = 'fd00:1::1';
const RS6 = 'fd00:1::2';
const MACS = { src: '02:00:00:00:00:fe', dst: '02:00:00:00:0a:01' };

const runnable = !whyNoBpf() || inCI;
let obj: BpfObject | undefined;
let prog: BpfProgram | undefined;
let stats: BpfMap | undefined;

if (runnable) {
  pinThreadToCpu(0); // per-CPU stats follow the calling thread (docs/lab-notes.md)
  obj = BpfObject.open(bpfObject('decap'));
  obj.load();
  prog = obj.program('xdp_decap');
  stats = obj.map('decap_stats');
  const vips = obj.map('decap_vips');
  for (const a of [VIP4, VIP6]) {
    const p = parseAddr(a, 'vip');
    vips.update(decapKey.encode({ addr: p.bytes, family: p.family }), Buffer.from([1, 0, 0, 0]));
  }
}
after(() => obj?.close());

function readCounters(): Record<string, bigint> {
  const per = stats!.lookupPerCpu(Buffer.alloc(4))!;
  const sum: Record<string, bigint> = { decap4: 0n, decap6: 0n, notOurs: 0n, passed: 0n };
  for (const b of per) {
    const s = decapStats.decode(b);
    sum.decap4 += s.decap4; sum.decap6 += s.decap6; sum.notOurs += s.notOurs; sum.passed += s.passed;
  }
  return sum;
}

const ctx = {
  testRun: (d: Buffer) => prog!.testRun(d),
  readCounters,
  strictCounters: 'all' as const,
  testOptions: needsBpf(),
};

// Inner packets: what the client sent to the VIP.
const in4 = () => packet().ipv4({ src: CLIENT4, dst: VIP4, ttl: 63, id: 77, df: true }).tcp({ sport: 40000, dport: 80, flags: 'S', seq: 1000 }).payload('GET');
const in6 = () => packet().ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 63, flowLabel: 0x12345 }).udp({ sport: 5000, dport: 53 }).payload('query');
const out4 = (b: PacketBuilder) => b.ipv4({ src: DIR4, dst: RS4, ttl: 64 });
const out6 = (b: PacketBuilder) => b.ipv6({ src: DIR6, dst: RS6, hopLimit: 64 });
/** An Ethernet frame (optionally tagged) with outer header(s) then the inner packet's layers. */
const frame = (vlan: number | undefined, outer: (b: PacketBuilder) => PacketBuilder, inner: (b: PacketBuilder) => PacketBuilder) => {
  const b = vlan === undefined ? eth(MACS) : eth(MACS).vlan(vlan);
  return inner(outer(b)).build();
};
const v4inner = (b: PacketBuilder) => b.ipv4({ src: CLIENT4, dst: VIP4, ttl: 63, id: 77, df: true }).tcp({ sport: 40000, dport: 80, flags: 'S', seq: 1000 }).payload('GET');
const v6inner = (b: PacketBuilder) => b.ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 63, flowLabel: 0x12345 }).udp({ sport: 5000, dport: 53 }).payload('query');
/** The frame the stack must get: same MACs (and tag), then the inner packet, as built independently. */
const delivered = (vlan: number | undefined, inner: Buffer) =>
  Buffer.concat([(vlan === undefined ? eth(MACS) : eth(MACS).vlan(vlan)).build().subarray(0, vlan === undefined ? 12 : 16), Buffer.from(inner[0] >> 4 === 4 ? [0x08, 0x00] : [0x86, 0xdd]), inner]);

const rows: FixtureRow[] = [];
for (const vlan of [undefined, 100]) {
  const tag = vlan === undefined ? '' : ', VLAN 100';
  rows.push(
    { name: `IPIP to the IPv4 VIP is delivered as the inner packet${tag}`, packet: frame(vlan, out4, v4inner), verdict: 'XDP_PASS', output: delivered(vlan, in4().build()), counters: { decap4: 1 } },
    { name: `IP6IP6 to the IPv6 VIP is delivered as the inner packet${tag}`, packet: frame(vlan, out6, v6inner), verdict: 'XDP_PASS', output: delivered(vlan, in6().build()), counters: { decap6: 1 } },
    { name: `4in6 to the IPv4 VIP is delivered with ethertype IPv4${tag}`, packet: frame(vlan, out6, v4inner), verdict: 'XDP_PASS', output: delivered(vlan, in4().build()), counters: { decap6: 1 } },
    { name: `6in4 to the IPv6 VIP is delivered with ethertype IPv6${tag}`, packet: frame(vlan, out4, v6inner), verdict: 'XDP_PASS', output: delivered(vlan, in6().build()), counters: { decap4: 1 } },
  );
}
rows.push(
  { name: 'plain IPv4 TCP to the VIP is untouched', packet: v4inner(eth(MACS)).build(), verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 } },
  { name: 'plain IPv6 UDP to the VIP is untouched', packet: v6inner(eth(MACS)).build(), verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 } },
  { name: 'ARP is untouched', packet: Buffer.concat([eth({ ...MACS, type: 0x0806 }).build(), Buffer.alloc(28, 1)]), verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 } },
  {
    name: 'IPIP to an inner address that is not a VIP is untouched',
    packet: out4(eth(MACS)).ipv4({ src: CLIENT4, dst: '10.0.0.99' }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { notOurs: 1 },
  },
  {
    name: 'IP6IP6 to an inner address that is not a VIP is untouched',
    packet: out6(eth(MACS)).ipv6({ src: CLIENT6, dst: '2001:db8::99' }).udp({ sport: 1, dport: 53 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { notOurs: 1 },
  },
  {
    // The IPv4 VIP's bytes as an IPv6 inner destination must not match (family is part of the key).
    name: '6in4 whose inner IPv6 destination starts with the IPv4 VIP bytes is untouched',
    packet: out4(eth(MACS)).ipv6({ src: CLIENT6, dst: 'a00:a::' }).udp({ sport: 1, dport: 53 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { notOurs: 1 },
  },
  {
    name: 'outer IPv4 with options is left to the kernel',
    packet: eth(MACS).ipv4({ src: DIR4, dst: RS4, options: Buffer.from([1, 1, 1, 1]) }).ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 },
  },
  {
    name: 'outer IPv4 first fragment (MF) is left to the kernel',
    packet: eth(MACS).ipv4({ src: DIR4, dst: RS4, mf: true }).ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 },
  },
  {
    name: 'outer IPv4 later fragment is left to the kernel',
    packet: eth(MACS).ipv4({ src: DIR4, dst: RS4, fragOffset: 3 }).ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 },
  },
  {
    name: 'outer IPv6 with a hop-by-hop header before the tunnel is left to the kernel',
    packet: eth(MACS).ipv6({ src: DIR6, dst: RS6 }).ipv6ext('hop').ipv4({ src: CLIENT4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { passed: 1 },
  },
  {
    name: 'IPIP whose inner header is cut short is untouched',
    packet: frame(undefined, out4, v4inner).subarray(0, 14 + 20 + 12),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { notOurs: 1 },
  },
  {
    name: 'IPIP whose inner version nibble is 6 is untouched',
    packet: out4(eth(MACS)).ipv4({ src: CLIENT4, dst: VIP4, version: 6 }).tcp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { notOurs: 1 },
  },
);

runFixtureTable('decap fixtures', rows, ctx);

test('every truncation of a tunnel frame passes, either untouched or as exactly its inner bytes', needsBpf(), async () => {
  const frames = [frame(undefined, out4, v4inner), frame(100, out6, v6inner), frame(undefined, out6, v4inner), frame(100, out4, v6inner)];
  let decapped = 0;
  for (const f of frames) {
    const l2 = f.readUInt16BE(12) === 0x8100 ? 18 : 14;
    const olen = (f[l2] >> 4) === 4 ? 20 : 40;
    // BPF_PROG_TEST_RUN refuses XDP frames shorter than an Ethernet header (EINVAL, ETH_HLEN).
    for (let n = 14; n <= f.length; n++) {
      const cut = f.subarray(0, n);
      const r = prog!.testRun(Buffer.from(cut));
      assert.equal(r.retval, XDP.XDP_PASS, `cut at ${n}`);
      if (r.data.equals(cut)) continue;
      // Decapsulated: L2 header (ethertype of the inner family) + everything after the outer header.
      const want = Buffer.concat([cut.subarray(0, l2 - 2), Buffer.from(cut[l2 + olen] >> 4 === 4 ? [8, 0] : [0x86, 0xdd]), cut.subarray(l2 + olen)]);
      assert.deepEqual(r.data, want, `cut at ${n}: output is neither the input nor its inner packet`);
      decapped++;
    }
  }
  assert.ok(decapped > 0, 'no truncation was long enough to decapsulate: the sweep tested nothing');
  // The counters saw every frame exactly once.
  const p = await checkFixture({ name: 'sanity', packet: frames[0], verdict: 'XDP_PASS', counters: { decap4: 1 } }, ctx);
  assert.equal(p, '');
});
