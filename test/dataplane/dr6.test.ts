// DR for IPv6 VIPs: MAC rewrite only; extension headers and fragments go to the kernel.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT6, realMac } from './fixtures/harness';

const VIP = '2001:db8:a::10';
const h = harness('dr6');
const base = h.ctx.before!;
h.ctx.before = async () => {
  await base();
  h.dp().vips.upsert({ address: VIP, port: 443, protocol: 'tcp', method: 'dr' });
  h.dp().reals.set(`[${VIP}]:443/tcp`, [{ id: 7, address: '2001:db8:1::7', mac: realMac(7), weight: 3, state: 'up' }]);
  h.dp().vips.upsert({ address: VIP, port: 443, protocol: 'udp', method: 'dr' });
  h.dp().reals.set(`[${VIP}]:443/udp`, [{ id: 8, address: '2001:db8:1::8', mac: realMac(8), weight: 3, state: 'up' }]);
};

const fromClient = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const ip = { src: CLIENT6, dst: VIP, hopLimit: 60, flowLabel: 0xabcde };
const syn = { sport: 50000, dport: 443, flags: 'S' };

const rows: FixtureRow[] = [
  {
    name: 'TCP SYN to an IPv6 VIP goes to the real by MAC rewrite',
    packet: fromClient().ipv6(ip).tcp(syn).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(7) }).ipv6(ip).tcp(syn).build(),
    counters: { 'reason.tx_dr': 1, 'real.7.packets': 1, 'real.7.bytes': 60, [`vip.[${VIP}]:443/tcp.newFlows`]: 1 },
  },
  {
    name: 'QUIC-style UDP to the IPv6 VIP',
    packet: fromClient().ipv6(ip).udp({ sport: 50001, dport: 443 }).payload(Buffer.alloc(1200, 1)).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(8) }).ipv6(ip).udp({ sport: 50001, dport: 443 }).payload(Buffer.alloc(1200, 1)).build(),
    counters: { 'reason.tx_dr': 1, 'real.8.packets': 1 },
  },
  {
    name: 'a hop-by-hop header goes to the kernel',
    packet: fromClient().ipv6(ip).ipv6ext('hop').tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ipv6_ext': 1, 'real.7.packets': 0 },
  },
  {
    name: 'a destination-options header goes to the kernel',
    packet: fromClient().ipv6(ip).ipv6ext('dest').tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ipv6_ext': 1 },
  },
  {
    name: 'a fragment header goes to the kernel',
    packet: fromClient().ipv6(ip).ipv6ext('fragment', { more: true, id: 1 }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.fragment': 1 },
  },
  {
    name: 'ICMPv6 to the VIP goes to the kernel',
    packet: fromClient().ipv6(ip).icmpv6({ type: 128, id: 1, seq: 1 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.proto': 1 },
  },
  {
    name: 'a payload length beyond the frame is dropped',
    packet: fromClient().ipv6({ ...ip, payloadLength: 400 }).tcp(syn).build(),
    verdict: 'XDP_DROP', counters: { 'reason.malformed': 1 },
  },
  {
    name: 'another IPv6 address passes',
    packet: fromClient().ipv6({ ...ip, dst: '2001:db8:a::11' }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_vip': 1 },
  },
];

runFixtureTable('lb: DR IPv6', rows, h.ctx);
