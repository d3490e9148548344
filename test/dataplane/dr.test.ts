// DR over IPv4 (ipvsadm -g): the frame leaves unchanged but for its MACs (real's, ours), with
// XDP_TX; the VLAN tag stays; what is not for a VIP goes to the kernel untouched, by reason.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, realMac } from './fixtures/harness';

const VIP = '10.0.0.10';
const h = harness('dr');
const base = h.ctx.before!;
h.ctx.before = async () => {
  await base();
  const dp = h.dp();
  dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
  dp.reals.set(`${VIP}:80/tcp`, [{ id: 1, address: '10.1.0.1', mac: realMac(1), weight: 1, state: 'up' }]);
  dp.vips.upsert({ address: VIP, port: 53, protocol: 'udp', method: 'dr' });
  dp.reals.set(`${VIP}:53/udp`, [{ id: 2, address: '10.1.0.2', mac: realMac(2), weight: 1, state: 'up' }]);
};

const fromClient = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toReal = (id: number) => eth({ src: DIRECTOR_MAC, dst: realMac(id) });
const syn = { sport: 40000, dport: 80, flags: 'S', seq: 1 };
const ip = { src: CLIENT4, dst: VIP, id: 7, df: true };

const rows: FixtureRow[] = [
  {
    name: 'TCP SYN to the VIP goes to the real by MAC rewrite',
    packet: fromClient().ipv4(ip).tcp(syn).build(),
    verdict: 'XDP_TX',
    output: toReal(1).ipv4(ip).tcp(syn).build(),
    counters: {
      'reason.tx_dr': 1, [`vip.${VIP}:80/tcp.packets`]: 1, [`vip.${VIP}:80/tcp.bytes`]: 40,
      [`vip.${VIP}:80/tcp.newFlows`]: 1, 'real.1.packets': 1, 'real.1.newFlows': 1,
    },
  },
  {
    name: 'the same flow again is not a new flow',
    packet: fromClient().ipv4(ip).tcp({ ...syn, flags: 'PA' }).payload('GET / HTTP/1.0\r\n\r\n').build(),
    verdict: 'XDP_TX',
    output: toReal(1).ipv4(ip).tcp({ ...syn, flags: 'PA' }).payload('GET / HTTP/1.0\r\n\r\n').build(),
    counters: { 'reason.tx_dr': 1, [`vip.${VIP}:80/tcp.newFlows`]: 0, 'real.1.packets': 1, 'real.1.bytes': 58 },
  },
  {
    name: 'an 802.1Q tag is kept',
    packet: fromClient().vlan(42).ipv4(ip).tcp({ ...syn, sport: 40001 }).build(),
    verdict: 'XDP_TX',
    output: toReal(1).vlan(42).ipv4(ip).tcp({ ...syn, sport: 40001 }).build(),
    counters: { 'reason.tx_dr': 1, 'real.1.newFlows': 1 },
  },
  {
    name: 'UDP to a UDP VIP',
    packet: fromClient().ipv4({ ...ip, df: false }).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    verdict: 'XDP_TX',
    output: toReal(2).ipv4({ ...ip, df: false }).udp({ sport: 5353, dport: 53 }).payload('query').build(),
    counters: { 'reason.tx_dr': 1, 'real.2.packets': 1, 'real.2.newFlows': 1, 'real.1.packets': 0 },
  },
  {
    name: 'Ethernet padding after a short IP packet is accepted',
    packet: Buffer.concat([fromClient().ipv4(ip).tcp({ ...syn, sport: 40002 }).build(), Buffer.alloc(6)]),
    verdict: 'XDP_TX',
    output: Buffer.concat([toReal(1).ipv4(ip).tcp({ ...syn, sport: 40002 }).build(), Buffer.alloc(6)]),
    counters: { 'reason.tx_dr': 1 },
  },
  {
    name: 'TTL 1 is not forwarded: the kernel answers',
    packet: fromClient().ipv4({ ...ip, ttl: 1 }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ttl': 1, 'real.1.packets': 0 },
  },
  {
    name: 'a frame to the VIP but not to our MAC (flooded, or the other director\'s) passes untouched',
    packet: eth({ src: ROUTER_MAC, dst: '02:00:00:00:00:02' }).ipv4(ip).tcp({ ...syn, sport: 40010 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_ours': 1, 'real.1.packets': 0 },
  },
  {
    name: 'a broadcast frame to the VIP is not forwarded either',
    packet: eth({ src: ROUTER_MAC, dst: 'ff:ff:ff:ff:ff:ff' }).ipv4(ip).tcp({ ...syn, sport: 40011 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_ours': 1 },
  },
  {
    name: 'the VIP address on a port without a service is not ours',
    packet: fromClient().ipv4(ip).tcp({ ...syn, dport: 81 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_vip': 1 },
  },
  {
    name: 'UDP to a TCP-only port is not ours',
    packet: fromClient().ipv4(ip).udp({ sport: 1, dport: 80 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_vip': 1 },
  },
  {
    name: 'another address passes untouched',
    packet: fromClient().ipv4({ ...ip, dst: '10.0.0.11' }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_vip': 1 },
  },
  {
    name: 'ARP passes',
    packet: eth({ src: ROUTER_MAC, dst: 'ff:ff:ff:ff:ff:ff', type: 0x0806 }).payload(Buffer.alloc(28)).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_ip': 1 },
  },
  {
    name: 'ICMP echo to the VIP goes to the kernel',
    packet: fromClient().ipv4(ip).icmp({ type: 8, id: 1, seq: 1 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.proto': 1 },
  },
  {
    name: 'a first fragment goes to the kernel',
    packet: fromClient().ipv4({ ...ip, df: false, mf: true }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.fragment': 1 },
  },
  {
    name: 'a later fragment goes to the kernel',
    packet: fromClient().ipv4({ ...ip, df: false, fragOffset: 185, protocol: 6 }).payload(Buffer.alloc(40)).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.fragment': 1 },
  },
  {
    name: 'IPv4 options go to the kernel',
    packet: fromClient().ipv4({ ...ip, options: Buffer.from([0x94, 0x04, 0, 0]) }).tcp(syn).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.ip_options': 1 },
  },
  {
    name: 'a bad IPv4 header checksum is dropped, never forwarded',
    packet: fromClient().ipv4({ ...ip, checksum: 0x1234 }).tcp(syn).build(),
    verdict: 'XDP_DROP', counters: { 'reason.malformed': 1, 'real.1.packets': 0 },
  },
  {
    name: 'a total length beyond the frame is dropped',
    packet: fromClient().ipv4({ ...ip, totalLength: 200 }).tcp(syn).build(),
    verdict: 'XDP_DROP', counters: { 'reason.malformed': 1 },
  },
];

runFixtureTable('lb: DR IPv4', rows, h.ctx);
