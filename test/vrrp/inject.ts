// Sends one forged VRRP advert from inside a test namespace (run through `ip netns exec`):
//   node inject.js <4|6> <iface> <src> <ttl-or-hop-limit> <vrid> <priority> <interval-ms> <vip>
// Used to check that adverts failing a receive check are counted and never acted upon.
import { VrrpSocket } from '../../src/sys/rawsock';
import { setIntOpt, IPPROTO_IPV6, IPV6_MULTICAST_HOPS } from '../../src/sys/libc';
import { encodeAdvert, encodeIpv4, VRRP_MCAST_V4, VRRP_MCAST_V6 } from '../../src/vrrp/codec';

const [fam, iface, src, ttl, vrid, prio, interval, vip] = process.argv.slice(2);
const family = Number(fam) as 4 | 6;
const sock = new VrrpSocket({ family, iface, multicast: false });
const dst = family === 4 ? VRRP_MCAST_V4 : VRRP_MCAST_V6;
const msg = encodeAdvert({ version: 3, vrid: Number(vrid), priority: Number(prio), intervalMs: Number(interval), addresses: [vip], src, dst });
if (family === 4) sock.send(encodeIpv4({ src, dst, id: 1, ttl: Number(ttl) }, msg), dst);
else {
  setIntOpt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, Number(ttl), 'IPV6_MULTICAST_HOPS');
  sock.send(msg, dst);
}
process.stdout.write('sent\n');
