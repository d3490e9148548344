// NAT over IPv6: the same rewrites as nat.test.ts (addresses in the TCP/UDP pseudo-header, hop
// limit), and ICMPv6 errors translated both ways, whose checksum also covers the outer
// addresses (RFC 4443 §2.3). Expected frames from the independent builder.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { CLIENT6 } from './fixtures/harness';
import { natWorld, DIRECTOR_MAC, ROUTER_MAC, INSIDE_MAC, REAL6, REAL6_OUTSIDE, realMac } from './fixtures/nat-world';

const VIP = '2001:db8:a::10';
const VIP_ONEARM = '2001:db8:a::11';
const w = natWorld('natdp6');
const base = w.ctx.before!;
w.ctx.before = async () => {
  await base();
  const dp = w.dp();
  dp.vips.upsert({ address: VIP, port: 443, protocol: 'tcp', method: 'nat' });
  dp.reals.set(`[${VIP}]:443/tcp`, [{ id: 1, address: REAL6[0], mac: '00:00:00:00:00:00', port: 8443, weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP, port: 53, protocol: 'udp', method: 'nat' });
  dp.reals.set(`[${VIP}]:53/udp`, [{ id: 2, address: REAL6[1], mac: '00:00:00:00:00:00', weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP_ONEARM, port: 80, protocol: 'tcp', method: 'nat' });
  dp.reals.set(`[${VIP_ONEARM}]:80/tcp`, [{ id: 3, address: REAL6_OUTSIDE, mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
};

const fromRouter = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toRouter = () => eth({ src: DIRECTOR_MAC, dst: ROUTER_MAC });
const toReal = (id: number) => eth({ src: INSIDE_MAC, dst: realMac(id) });
const fromReal = (id: number) => eth({ src: realMac(id), dst: INSIDE_MAC });
const inside = (row: FixtureRow): FixtureRow => ({ ...row, setup: () => w.fromInside() });
const syn = { sport: 40000, dport: 443, flags: 'S', seq: 1 };
const ip = { src: CLIENT6, dst: VIP, hopLimit: 64, flowLabel: 0x12345 };
const tooBig = Buffer.from([0, 0, 0x05, 0x00]); // MTU 1280

const rows: FixtureRow[] = [
  {
    name: 'a SYN to [VIP]:443 leaves for [real]:8443 by the inside interface, hop limit 63',
    packet: fromRouter().ipv6(ip).tcp(syn).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv6({ ...ip, dst: REAL6[0], hopLimit: 63 }).tcp({ ...syn, dport: 8443 }).build(),
    counters: { 'reason.redir_nat': 1, 'real.1.newFlows': 1 },
  },
  inside({
    name: 'the SYN-ACK comes back from [VIP]:443',
    packet: fromReal(1).ipv6({ src: REAL6[0], dst: CLIENT6 }).tcp({ sport: 8443, dport: 40000, flags: 'SA', seq: 7, ack: 2 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv6({ src: VIP, dst: CLIENT6, hopLimit: 63 }).tcp({ sport: 443, dport: 40000, flags: 'SA', seq: 7, ack: 2 }).build(),
    counters: { 'reason.redir_nat_reply': 1 },
  }),
  inside({
    name: 'a reply of no flow goes to the kernel untouched',
    packet: fromReal(1).ipv6({ src: REAL6[0], dst: CLIENT6 }).tcp({ sport: 8443, dport: 40001, flags: 'A' }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.nat_no_entry': 1 },
  }),
  {
    name: 'UDP: the real keeps the VIP\'s port when it has none of its own',
    packet: fromRouter().ipv6(ip).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(2).ipv6({ ...ip, dst: REAL6[1], hopLimit: 63 }).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    counters: { 'reason.redir_nat': 1, 'real.2.newFlows': 1 },
  },
  inside({
    name: 'the UDP reply comes back from [VIP]:53',
    packet: fromReal(2).ipv6({ src: REAL6[1], dst: CLIENT6 }).udp({ sport: 53, dport: 5353 }).payload('answer').build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv6({ src: VIP, dst: CLIENT6, hopLimit: 63 }).udp({ sport: 53, dport: 5353 }).payload('answer').build(),
    counters: { 'reason.redir_nat_reply': 1 },
  }),
  {
    name: 'one-armed over IPv6: XDP_TX both ways',
    packet: fromRouter().ipv6({ ...ip, dst: VIP_ONEARM }).tcp({ ...syn, dport: 80 }).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(3) }).ipv6({ ...ip, dst: REAL6_OUTSIDE, hopLimit: 63 }).tcp({ ...syn, dport: 8080 }).build(),
    counters: { 'reason.tx_nat': 1 },
  },
  {
    name: '... the reply',
    packet: eth({ src: realMac(3), dst: DIRECTOR_MAC }).ipv6({ src: REAL6_OUTSIDE, dst: CLIENT6 }).tcp({ sport: 8080, dport: 40000, flags: 'SA' }).build(),
    verdict: 'XDP_TX',
    output: toRouter().ipv6({ src: VIP_ONEARM, dst: CLIENT6, hopLimit: 63 }).tcp({ sport: 80, dport: 40000, flags: 'SA' }).build(),
    counters: { 'reason.tx_nat_reply': 1 },
  },
  {
    name: 'hop limit 1 goes to the kernel',
    packet: fromRouter().ipv6({ ...ip, hopLimit: 1 }).tcp({ ...syn, sport: 40009 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ttl': 1 },
  },
  {
    name: 'an ICMPv6 packet-too-big about [VIP]:443 -> client goes to the real, quoting [real]:8443 -> client',
    packet: fromRouter().ipv6({ src: '2001:db8:99::1', dst: VIP })
      .icmpv6({ type: 2, body: tooBig })
      .ipv6({ src: VIP, dst: CLIENT6 }).tcp({ sport: 443, dport: 40000, flags: 'A', seq: 8 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toReal(1).ipv6({ src: '2001:db8:99::1', dst: REAL6[0], hopLimit: 63 })
      .icmpv6({ type: 2, body: tooBig })
      .ipv6({ src: REAL6[0], dst: CLIENT6 }).tcp({ sport: 8443, dport: 40000, flags: 'A', seq: 8 }).build(),
    counters: { 'reason.redir_icmp': 1 },
  },
  inside({
    name: 'an ICMPv6 error from the inside about client -> [real]:8443 reaches the client from the VIP',
    packet: fromReal(1).ipv6({ src: REAL6[0], dst: CLIENT6 })
      .icmpv6({ type: 1, code: 4, body: Buffer.alloc(4) })
      .ipv6({ src: CLIENT6, dst: REAL6[0], hopLimit: 63 }).tcp({ ...syn, dport: 8443 }).build(),
    verdict: 'XDP_REDIRECT',
    output: toRouter().ipv6({ src: VIP, dst: CLIENT6, hopLimit: 63 })
      .icmpv6({ type: 1, code: 4, body: Buffer.alloc(4) })
      .ipv6({ src: CLIENT6, dst: VIP, hopLimit: 63 }).tcp(syn).build(),
    counters: { 'reason.redir_icmp': 1 },
  }),
];

runFixtureTable('lb: NAT IPv6', rows, w.ctx);
