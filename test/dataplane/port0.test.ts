// A VIP with port 0 takes every port of its address and protocol (ipvsadm's port-0 persistent
// services); an exact {address, port} VIP takes precedence.
import { eth } from '../lib/packet';
import { runFixtureTable, FixtureRow } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, realMac } from './fixtures/harness';

const VIP = '10.0.0.30';
const h = harness('port0');
const base = h.ctx.before!;
h.ctx.before = async () => {
  await base();
  h.dp().vips.upsert({ address: VIP, port: 0, protocol: 'tcp', method: 'dr' });
  h.dp().reals.set(`${VIP}:0/tcp`, [{ id: 1, address: '10.5.0.1', mac: realMac(1), weight: 1, state: 'up' }]);
  h.dp().vips.upsert({ address: VIP, port: 443, protocol: 'tcp', method: 'dr' });
  h.dp().reals.set(`${VIP}:443/tcp`, [{ id: 2, address: '10.5.0.2', mac: realMac(2), weight: 1, state: 'up' }]);
};

const fromClient = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const ip = { src: CLIENT4, dst: VIP };
const tcp = (dport: number) => ({ sport: 33000, dport, flags: 'S' });

const rows: FixtureRow[] = [22, 8080, 65535].map((port): FixtureRow => ({
  name: `TCP port ${port} goes to the port-0 VIP's real`,
  packet: fromClient().ipv4(ip).tcp(tcp(port)).build(),
  verdict: 'XDP_TX',
  output: eth({ src: DIRECTOR_MAC, dst: realMac(1) }).ipv4(ip).tcp(tcp(port)).build(),
  counters: { 'reason.tx_dr': 1, 'real.1.packets': 1, [`vip.${VIP}:0/tcp.packets`]: 1 },
})).concat([
  {
    name: 'the exact port VIP wins over port 0',
    packet: fromClient().ipv4(ip).tcp(tcp(443)).build(),
    verdict: 'XDP_TX',
    output: eth({ src: DIRECTOR_MAC, dst: realMac(2) }).ipv4(ip).tcp(tcp(443)).build(),
    counters: { 'reason.tx_dr': 1, 'real.2.packets': 1, 'real.1.packets': 0 },
  },
  {
    name: 'UDP to the address is not covered by a TCP port-0 VIP',
    packet: fromClient().ipv4(ip).udp({ sport: 1, dport: 22 }).build(),
    verdict: 'XDP_PASS', output: 'unchanged', counters: { 'reason.not_vip': 1 },
  },
]);

runFixtureTable('lb: port-0 VIP', rows, h.ctx);
