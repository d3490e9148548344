// Too big once encapsulated (TUN, MTU 1500 toward the reals): the client gets ICMP
// "fragmentation needed" (IPv4, DF set) or ICMPv6 "packet too big" carrying MTU − outer header,
// from the director's TUN source, quoting the IP header and 8 bytes; IPv4 without DF is dropped.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, CLIENT6, TUN_SRC4, TUN_SRC6, realMac } from './fixtures/harness';

const VIP4 = '10.0.0.40';
const VIP6 = '2001:db8:a::40';
const VIP6_V4REAL = '2001:db8:a::41';
const h = harness('toobig');
const base = h.ctx.before!;
h.ctx.before = async () => {
  await base();
  const dp = h.dp();
  dp.vips.upsert({ address: VIP4, port: 80, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`${VIP4}:80/tcp`, [{ id: 1, address: '10.2.0.1', mac: realMac(1), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP6, port: 80, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`[${VIP6}]:80/tcp`, [{ id: 2, address: '2001:db8:2::2', mac: realMac(2), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP6_V4REAL, port: 80, protocol: 'tcp', method: 'tun' });
  dp.reals.set(`[${VIP6_V4REAL}]:80/tcp`, [{ id: 3, address: '10.2.0.3', mac: realMac(3), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP4, port: 80, protocol: 'udp', method: 'dr' });
  dp.reals.set(`${VIP4}:80/udp`, [{ id: 4, address: '10.2.0.4', mac: realMac(4), weight: 1, state: 'up' }]);
};

const fromClient = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toClient = () => eth({ src: DIRECTOR_MAC, dst: ROUTER_MAC });
const ack = { sport: 42000, dport: 80, flags: 'A', seq: 5, ack: 9 };
const ip4 = { src: CLIENT4, dst: VIP4, df: true, id: 3 };
const data = (n: number) => Buffer.alloc(n, 0x61);

// IPv4: 20 + 20 + 1440 = 1480 bytes: exactly fits 1500 with the outer 20.
const fits4 = fromClient().ipv4(ip4).tcp(ack).payload(data(1440)).build();
const big4 = fromClient().ipv4(ip4).tcp(ack).payload(data(1441)).build();
const big4Vlan = fromClient().vlan(9).ipv4(ip4).tcp(ack).payload(data(1441)).build();
const big6 = fromClient().ipv6({ src: CLIENT6, dst: VIP6 }).tcp(ack).payload(data(1401)).build();
const fits6 = fromClient().ipv6({ src: CLIENT6, dst: VIP6 }).tcp(ack).payload(data(1400)).build();
const big6over4 = fromClient().ipv6({ src: CLIENT6, dst: VIP6_V4REAL }).tcp(ack).payload(data(1421)).build();

/** ICMP body: unused(16) next-hop MTU(16) (RFC 1191 §4), then the invoking IP header + 8 bytes. */
function fragNeeded(mtu: number, frame: Buffer, l3: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt16BE(mtu, 2);
  return Buffer.concat([b, frame.subarray(l3, l3 + 28)]);
}
/** ICMPv6 Packet Too Big body: MTU(32) (RFC 4443 §3.2), then the invoking header + 8 bytes. */
function pktTooBig(mtu: number, frame: Buffer, l3: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32BE(mtu, 0);
  return Buffer.concat([b, frame.subarray(l3, l3 + 48)]);
}

const rows: FixtureRow[] = [
  {
    name: 'a packet that fits once encapsulated is forwarded',
    packet: fits4, verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(1) }).ipv4({ src: TUN_SRC4, dst: '10.2.0.1', df: true })
      .ipv4(ip4).tcp(ack).payload(data(1440)).build(),
    counters: { 'reason.tx_tun': 1 },
  },
  {
    name: 'one byte more with DF: ICMP fragmentation needed, MTU 1480, back to the client',
    packet: big4, verdict: 'XDP_TX',
    output: toClient().ipv4({ src: TUN_SRC4, dst: CLIENT4, tos: 0xc0, ttl: 64 })
      .icmp({ type: 3, code: 4, body: fragNeeded(1480, big4, 14) }).build(),
    counters: { 'reason.tx_too_big': 1, 'real.1.packets': 0 },
  },
  {
    name: 'the ICMP answer keeps the VLAN tag',
    packet: big4Vlan, verdict: 'XDP_TX',
    output: toClient().vlan(9).ipv4({ src: TUN_SRC4, dst: CLIENT4, tos: 0xc0, ttl: 64 })
      .icmp({ type: 3, code: 4, body: fragNeeded(1480, big4Vlan, 18) }).build(),
    counters: { 'reason.tx_too_big': 1 },
  },
  {
    name: 'too big without DF cannot be fragmented in XDP: dropped',
    packet: fromClient().ipv4({ ...ip4, df: false }).tcp(ack).payload(data(1441)).build(),
    verdict: 'XDP_DROP', counters: { 'reason.drop_too_big': 1 },
  },
  {
    name: 'IPv6 over IPv6 fits at 1460',
    packet: fits6, verdict: 'XDP_TX', counters: { 'reason.tx_tun': 1 },
  },
  {
    name: 'IPv6 one byte more: ICMPv6 packet too big, MTU 1460',
    packet: big6, verdict: 'XDP_TX',
    output: toClient().ipv6({ src: TUN_SRC6, dst: CLIENT6, hopLimit: 64 })
      .icmpv6({ type: 2, code: 0, body: pktTooBig(1460, big6, 14) }).build(),
    counters: { 'reason.tx_too_big': 1, 'real.2.packets': 0 },
  },
  {
    name: 'IPv6 VIP over an IPv4 tunnel: packet too big with MTU 1480',
    packet: big6over4, verdict: 'XDP_TX',
    output: toClient().ipv6({ src: TUN_SRC6, dst: CLIENT6, hopLimit: 64 })
      .icmpv6({ type: 2, code: 0, body: pktTooBig(1480, big6over4, 14) }).build(),
    counters: { 'reason.tx_too_big': 1 },
  },
  {
    name: 'DR never grows a packet: a full-size frame is forwarded',
    packet: fromClient().ipv4({ ...ip4, df: false }).udp({ sport: 1, dport: 80 }).payload(data(1472)).build(),
    verdict: 'XDP_TX', counters: { 'reason.tx_dr': 1 },
  },
];

runFixtureTable('lb: too big once encapsulated', rows, h.ctx);
