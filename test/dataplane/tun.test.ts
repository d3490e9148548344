// TUN (ipvsadm -i): the packet is wrapped in an outer header toward the real — IPv4 protocol 4
// or 41, IPv6 next header 4 or 41 by the inner family; outer family = the real's — from the
// configured director address, TTL 64, DF copied, traffic class copied.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, CLIENT6, TUN_SRC4, TUN_SRC6, realMac } from './fixtures/harness';

const VIP4 = '10.0.0.20';
const VIP4_V6REAL = '10.0.0.21';
const VIP6 = '2001:db8:a::20';
const VIP6_V4REAL = '2001:db8:a::21';
const NEXTHOP = '02:00:00:00:02:99';

const h = harness('tun');
const base = h.ctx.before!;
h.ctx.before = async () => {
  await base();
  const dp = h.dp();
  dp.vips.upsert({ address: VIP4, port: 80, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`${VIP4}:80/tcp`, [{ id: 1, address: '10.2.0.1', mac: realMac(1), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP4_V6REAL, port: 80, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`${VIP4_V6REAL}:80/tcp`, [{ id: 2, address: '2001:db8:2::2', mac: realMac(2), nexthopMac: NEXTHOP, weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP6, port: 443, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`[${VIP6}]:443/tcp`, [{ id: 3, address: '2001:db8:2::3', mac: realMac(3), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP6_V4REAL, port: 443, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`[${VIP6_V4REAL}]:443/tcp`, [{ id: 4, address: '10.2.0.4', mac: realMac(4), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP4, port: 53, protocol: 'udp', method: 'tun' });
  dp.reals.set(`${VIP4}:53/udp`, [{ id: 5, address: '10.2.0.5', mac: realMac(5), weight: 1, state: 'up' }]);
};

const fromClient = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toReal = (mac: string) => eth({ src: DIRECTOR_MAC, dst: mac });
const syn = { sport: 41000, dport: 80, flags: 'S', seq: 99 };
const syn6 = { ...syn, dport: 443 };
const in4 = { src: CLIENT4, dst: VIP4, id: 0x1234, df: true, tos: 0x28, ttl: 57 };

const rows: FixtureRow[] = [
  {
    name: 'IPv4 VIP, IPv4 real: IPv4-in-IPv4 (protocol 4)',
    packet: fromClient().ipv4(in4).tcp(syn).payload('hello').build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(1))
      .ipv4({ src: TUN_SRC4, dst: '10.2.0.1', ttl: 64, df: true, tos: 0x28, id: 0 })
      .ipv4(in4).tcp(syn).payload('hello').build(),
    counters: { 'reason.tx_tun': 1, 'real.1.packets': 1, 'real.1.bytes': 45, 'real.1.newFlows': 1 },
  },
  {
    name: 'DF clear on the inner packet stays clear on the outer one',
    packet: fromClient().ipv4({ ...in4, df: false }).tcp({ ...syn, sport: 41001 }).build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(1))
      .ipv4({ src: TUN_SRC4, dst: '10.2.0.1', ttl: 64, df: false, tos: 0x28 })
      .ipv4({ ...in4, df: false }).tcp({ ...syn, sport: 41001 }).build(),
    counters: { 'reason.tx_tun': 1 },
  },
  {
    name: 'a VLAN tag is kept outside the outer header',
    packet: fromClient().vlan(7).ipv4(in4).tcp({ ...syn, sport: 41002 }).build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(1)).vlan(7)
      .ipv4({ src: TUN_SRC4, dst: '10.2.0.1', ttl: 64, df: true, tos: 0x28 })
      .ipv4(in4).tcp({ ...syn, sport: 41002 }).build(),
    counters: { 'reason.tx_tun': 1 },
  },
  {
    name: 'UDP over IPv4-in-IPv4',
    packet: fromClient().ipv4({ ...in4, df: false }).udp({ sport: 999, dport: 53 }).payload('q').build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(5))
      .ipv4({ src: TUN_SRC4, dst: '10.2.0.5', ttl: 64, tos: 0x28 })
      .ipv4({ ...in4, df: false }).udp({ sport: 999, dport: 53 }).payload('q').build(),
    counters: { 'reason.tx_tun': 1, 'real.5.packets': 1 },
  },
  {
    name: 'IPv4 VIP, IPv6 real: IPv4-in-IPv6 (next header 4) to the next hop MAC',
    packet: fromClient().ipv4({ ...in4, dst: VIP4_V6REAL }).tcp(syn).build(),
    verdict: 'XDP_TX',
    output: toReal(NEXTHOP)
      .ipv6({ src: TUN_SRC6, dst: '2001:db8:2::2', hopLimit: 64, trafficClass: 0x28 })
      .ipv4({ ...in4, dst: VIP4_V6REAL }).tcp(syn).build(),
    counters: { 'reason.tx_tun': 1, 'real.2.packets': 1 },
  },
  {
    name: 'IPv6 VIP, IPv6 real: IPv6-in-IPv6 (next header 41)',
    packet: fromClient().ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 50, trafficClass: 0xb8, flowLabel: 0x12345 }).tcp(syn6).build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(3))
      .ipv6({ src: TUN_SRC6, dst: '2001:db8:2::3', hopLimit: 64, trafficClass: 0xb8 })
      .ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 50, trafficClass: 0xb8, flowLabel: 0x12345 }).tcp(syn6).build(),
    counters: { 'reason.tx_tun': 1, 'real.3.packets': 1, 'real.3.bytes': 60, [`vip.[${VIP6}]:443/tcp.newFlows`]: 1 },
  },
  {
    name: 'IPv6 VIP, IPv4 real: IPv6-in-IPv4 (protocol 41), DF set',
    packet: fromClient().ipv6({ src: CLIENT6, dst: VIP6_V4REAL, hopLimit: 50 }).tcp(syn6).build(),
    verdict: 'XDP_TX',
    output: toReal(realMac(4))
      .ipv4({ src: TUN_SRC4, dst: '10.2.0.4', ttl: 64, df: true })
      .ipv6({ src: CLIENT6, dst: VIP6_V4REAL, hopLimit: 50 }).tcp(syn6).build(),
    counters: { 'reason.tx_tun': 1, 'real.4.packets': 1 },
  },
  {
    name: 'IPv6 hop limit 1 is not forwarded',
    packet: fromClient().ipv6({ src: CLIENT6, dst: VIP6, hopLimit: 1 }).tcp(syn6).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ttl': 1 },
  },
];

runFixtureTable('lb: TUN', rows, h.ctx);
