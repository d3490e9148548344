// NAT over IPv4 (ipvsadm -m, keepalived lb_kind NAT) through BPF_PROG_TEST_RUN in a namespace
// with routes and neighbours (fixtures/nat-world.ts): a client's packet to VIP:80 leaves for
// real:8080 with the destination, port, TTL and checksums rewritten; the real's reply comes back
// as VIP:80 -> client. Expected frames come from the independent builder (test/lib/packet.ts),
// which computes every checksum from scratch: an incremental update that is off by one bit fails.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { CLIENT4 } from './fixtures/harness';
import { natWorld, DIRECTOR_MAC, ROUTER_MAC, INSIDE_MAC, REAL4, REAL4_UNRESOLVED, REAL4_OUTSIDE, realMac } from './fixtures/nat-world';

const VIP = '10.0.0.10';
const VIP_ONEARM = '10.0.0.11';
const VIP_NONEIGH = '10.0.0.12';
const w = natWorld('natdp4');
const base = w.ctx.before!;
w.ctx.before = async () => {
  await base();
  const dp = w.dp();
  dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'nat' });
  dp.reals.set(`${VIP}:80/tcp`, [{ id: 1, address: REAL4[0], mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP, port: 53, protocol: 'udp', method: 'nat' });
  dp.reals.set(`${VIP}:53/udp`, [{ id: 2, address: REAL4[1], mac: '00:00:00:00:00:00', port: 5353, weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP_ONEARM, port: 80, protocol: 'tcp', method: 'nat' });
  dp.reals.set(`${VIP_ONEARM}:80/tcp`, [{ id: 3, address: REAL4_OUTSIDE, mac: '00:00:00:00:00:00', weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP_NONEIGH, port: 80, protocol: 'tcp', method: 'nat' });
  dp.reals.set(`${VIP_NONEIGH}:80/tcp`, [{ id: 4, address: REAL4_UNRESOLVED, mac: '00:00:00:00:00:00', weight: 1, state: 'up' }]);
};

const fromRouter = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toRouter = () => eth({ src: DIRECTOR_MAC, dst: ROUTER_MAC });
const toReal = (id: number) => eth({ src: INSIDE_MAC, dst: realMac(id) });
const fromReal = (id: number) => eth({ src: realMac(id), dst: INSIDE_MAC });
const inside = (row: FixtureRow): FixtureRow => ({ ...row, setup: () => w.fromInside() });
const syn = { sport: 40000, dport: 80, flags: 'S', seq: 1, window: 29200 };
const ip = { src: CLIENT4, dst: VIP, id: 7, df: true, ttl: 64 };
const payload = 'GET / HTTP/1.0\r\n\r\n';

const rows: FixtureRow[] = [
  {
    name: 'a SYN to VIP:80 leaves by the inside interface for real:8080 (XDP_REDIRECT), TTL 63',
    packet: fromRouter().ipv4(ip).tcp(syn).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv4({ ...ip, dst: REAL4[0], ttl: 63 }).tcp({ ...syn, dport: 8080 }).build(),
    counters: { 'reason.redir_nat': 1, 'real.1.packets': 1, 'real.1.newFlows': 1 },
  },
  inside({
    name: 'the real\'s SYN-ACK comes back as VIP:80 -> client out of the outside interface',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4, id: 9, df: true }).tcp({ sport: 8080, dport: 40000, flags: 'SA', seq: 100, ack: 2 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv4({ src: VIP, dst: CLIENT4, id: 9, df: true, ttl: 63 }).tcp({ sport: 80, dport: 40000, flags: 'SA', seq: 100, ack: 2 }).build(),
    counters: { 'reason.redir_nat_reply': 1, 'real.1.packets': 0 },
  }),
  {
    name: 'the client\'s data on the same flow: the same real, not a new flow',
    packet: fromRouter().ipv4(ip).tcp({ ...syn, flags: 'PA', seq: 2, ack: 101 }).payload(payload).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv4({ ...ip, dst: REAL4[0], ttl: 63 }).tcp({ ...syn, dport: 8080, flags: 'PA', seq: 2, ack: 101 }).payload(payload).build(),
    counters: { 'reason.redir_nat': 1, 'real.1.newFlows': 0 },
  },
  inside({
    name: 'a reply with data, rewritten back (its checksum covers the payload)',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4, ttl: 10 }).tcp({ sport: 8080, dport: 40000, flags: 'PA', seq: 101, ack: 20 }).payload('HTTP/1.0 200 OK\r\n\r\n').build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv4({ src: VIP, dst: CLIENT4, ttl: 9 }).tcp({ sport: 80, dport: 40000, flags: 'PA', seq: 101, ack: 20 }).payload('HTTP/1.0 200 OK\r\n\r\n').build(),
    counters: { 'reason.redir_nat_reply': 1 },
  }),
  inside({
    name: 'a packet from the real to a client port of no flow goes to the kernel untouched',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 }).tcp({ sport: 8080, dport: 40001, flags: 'SA' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.nat_no_entry': 1 },
  }),
  inside({
    name: 'a reply from the real\'s port but another client passes untouched too',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: '203.0.113.99' }).tcp({ sport: 8080, dport: 40000, flags: 'A' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.nat_no_entry': 1 },
  }),
  inside({
    name: 'a reply to another MAC (flooded) is not translated',
    packet: eth({ src: realMac(1), dst: '02:00:00:00:00:77' }).ipv4({ src: REAL4[0], dst: CLIENT4 }).tcp({ sport: 8080, dport: 40000, flags: 'A' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_ours': 1 },
  }),
  inside({
    name: 'a reply with TTL 1 goes to the kernel (time exceeded)',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4, ttl: 1 }).tcp({ sport: 8080, dport: 40000, flags: 'A' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ttl': 1 },
  }),
  {
    name: 'TTL 1 toward the VIP goes to the kernel',
    packet: fromRouter().ipv4({ ...ip, ttl: 1 }).tcp({ ...syn, sport: 40002 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ttl': 1 },
  },
  {
    name: 'UDP to VIP:53 goes to real:5353; its checksum follows',
    packet: fromRouter().ipv4({ ...ip, df: false }).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(2).ipv4({ ...ip, df: false, dst: REAL4[1], ttl: 63 }).udp({ sport: 5353, dport: 5353 }).payload('query').build(),
    counters: { 'reason.redir_nat': 1, 'real.2.newFlows': 1 },
  },
  {
    name: 'UDP without a checksum (0, RFC 768) stays without one',
    packet: fromRouter().ipv4({ ...ip, df: false }).udp({ sport: 5454, dport: 53, checksum: 0 }).payload('query').build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(2).ipv4({ ...ip, df: false, dst: REAL4[1], ttl: 63 }).udp({ sport: 5454, dport: 5353, checksum: 0 }).payload('query').build(),
    counters: { 'reason.redir_nat': 1 },
  },
  inside({
    name: 'the UDP reply comes back from VIP:53',
    packet: fromReal(2).ipv4({ src: REAL4[1], dst: CLIENT4 }).udp({ sport: 5353, dport: 5353 }).payload('answer').build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv4({ src: VIP, dst: CLIENT4, ttl: 63 }).udp({ sport: 53, dport: 5353 }).payload('answer').build(),
    counters: { 'reason.redir_nat_reply': 1 },
  }),
  {
    name: 'one-armed: a real behind the outside interface gets the packet by XDP_TX',
    packet: fromRouter().ipv4({ ...ip, dst: VIP_ONEARM }).tcp(syn).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(3) }).ipv4({ ...ip, dst: REAL4_OUTSIDE, ttl: 63 }).tcp(syn).build(),
    counters: { 'reason.tx_nat': 1, 'real.3.newFlows': 1 },
  },
  {
    name: 'one-armed: its reply goes back out of the same interface (XDP_TX)',
    packet: eth({ src: realMac(3), dst: DIRECTOR_MAC }).ipv4({ src: REAL4_OUTSIDE, dst: CLIENT4 }).tcp({ sport: 80, dport: 40000, flags: 'SA' }).build(),
    verdict: 'XDP_TX',
    output: toRouter().ipv4({ src: VIP_ONEARM, dst: CLIENT4, ttl: 63 }).tcp({ sport: 80, dport: 40000, flags: 'SA' }).build(),
    counters: { 'reason.tx_nat_reply': 1 },
  },
  {
    name: 'one-armed with an 802.1Q tag: the tag stays on the translated frame',
    packet: fromRouter().vlan(42).ipv4({ ...ip, dst: VIP_ONEARM }).tcp({ ...syn, sport: 40100 }).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(3) }).vlan(42).ipv4({ ...ip, dst: REAL4_OUTSIDE, ttl: 63 }).tcp({ ...syn, sport: 40100 }).build(),
    counters: { 'reason.tx_nat': 1 },
  },
  {
    name: 'a real whose neighbour is not resolved: the kernel gets the packet untranslated',
    packet: fromRouter().ipv4({ ...ip, dst: VIP_NONEIGH }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.no_neigh': 1 },
  },
  {
    name: 'an ICMP "fragmentation needed" from the path about VIP:80 -> client goes to the real as real:8080 -> client',
    packet: fromRouter().ipv4({ src: '192.0.2.99', dst: VIP, ttl: 60 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: VIP, dst: CLIENT4, id: 9, df: true, ttl: 62 }).tcp({ sport: 80, dport: 40000, flags: 'A', seq: 101, ack: 20 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv4({ src: '192.0.2.99', dst: REAL4[0], ttl: 59 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: REAL4[0], dst: CLIENT4, id: 9, df: true, ttl: 62 }).tcp({ sport: 8080, dport: 40000, flags: 'A', seq: 101, ack: 20 }).build(),
    counters: { 'reason.redir_icmp': 1 },
  },
  {
    name: 'an ICMP error quoting only 8 bytes of UDP is translated too (the quoted UDP checksum follows)',
    packet: fromRouter().ipv4({ src: '192.0.2.99', dst: VIP })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: VIP, dst: CLIENT4 }).udp({ sport: 53, dport: 5353 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(2).ipv4({ src: '192.0.2.99', dst: REAL4[1], ttl: 63 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: REAL4[1], dst: CLIENT4 }).udp({ sport: 5353, dport: 5353 }).build(),
    counters: { 'reason.redir_icmp': 1 },
  },
  inside({
    name: 'an ICMP error from the inside about client -> real:8080 reaches the client from the VIP, quoting client -> VIP:80',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0xdc]) })
      .ipv4({ src: CLIENT4, dst: REAL4[0], id: 7, df: true, ttl: 63 }).tcp({ ...syn, dport: 8080, flags: 'PA', seq: 2, ack: 101 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv4({ src: VIP, dst: CLIENT4, ttl: 63 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0xdc]) })
      .ipv4({ src: CLIENT4, dst: VIP, id: 7, df: true, ttl: 63 }).tcp({ ...syn, flags: 'PA', seq: 2, ack: 101 }).build(),
    counters: { 'reason.redir_icmp': 1 },
  }),
  {
    name: 'an ICMP error about a flow the director does not know goes to the kernel',
    packet: fromRouter().ipv4({ src: '192.0.2.99', dst: VIP })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0x78]) })
      .ipv4({ src: VIP, dst: CLIENT4 }).tcp({ sport: 80, dport: 40999, flags: 'A' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.proto': 1 },
  },
  inside({
    name: 'the real\'s RST is translated, and closes the flow\'s entry (the reply direction counts)',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 }).tcp({ sport: 8080, dport: 40000, flags: 'R', seq: 200 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv4({ src: VIP, dst: CLIENT4, ttl: 63 }).tcp({ sport: 80, dport: 40000, flags: 'R', seq: 200 }).build(),
    counters: { 'reason.redir_nat_reply': 1 },
  }),
  {
    name: '... so a SYN from the same client port is a new connection, scheduled afresh',
    packet: fromRouter().ipv4(ip).tcp({ ...syn, seq: 5000 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv4({ ...ip, dst: REAL4[0], ttl: 63 }).tcp({ ...syn, seq: 5000, dport: 8080 }).build(),
    counters: { 'reason.redir_nat': 1, 'real.1.newFlows': 1 },
  },
  inside({
    name: 'an ICMP error from inside whose quote stops inside the ports is not followed',
    packet: fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 })
      .icmp({ type: 3, code: 4, body: Buffer.from([0, 0, 0x05, 0xdc]) })
      .ipv4({ src: CLIENT4, dst: REAL4[0], protocol: 6, totalLength: 40 }).payload(Buffer.from([0x9c, 0x40])).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.proto': 1 },
  }),
];

// Cut at every header boundary (and inside each header): never forwarded (docs/DEVELOPING.md).
const reply = fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 }).tcp({ sport: 8080, dport: 40000, flags: 'A' }).build();
const icmpIn = fromReal(1).ipv4({ src: REAL4[0], dst: CLIENT4 }).icmp({ type: 3, code: 4, body: Buffer.alloc(4) })
  .ipv4({ src: CLIENT4, dst: REAL4[0] }).tcp({ sport: 40000, dport: 8080, flags: 'S' }).build();
for (const [what, frame] of [['a reply', reply], ['an ICMP error from inside', icmpIn]] as const) {
  for (const n of [14, 20, 34, 40, 42, 54, 62, frame.length - 1].filter((x) => x < frame.length)) {
    rows.push(inside({
      name: `${what} cut to ${n} of ${frame.length} bytes is dropped (malformed), never translated`,
      packet: Buffer.from(frame.subarray(0, n)),
      verdict: 'XDP_DROP', counters: { 'reason.malformed': 1 },
    }));
  }
}

runFixtureTable('lb: NAT IPv4', rows, w.ctx);
