// Sends one forged VRRP advert from inside a test namespace (run through `ip netns exec`):
//   node inject.js <4|6> <iface> <src> <ttl-or-hop-limit> <vrid> <priority> <interval-ms> <vip> [<interval-word>]
// Used to check that adverts failing a receive check are counted and never acted upon.
// <interval-word> (IPv4 only) overwrites the 16-bit Max Adver Int word as sent, e.g. 0, which
// encodeAdvert refuses to produce; the checksum is recomputed.
import { VrrpSocket } from '../../src/sys/rawsock';
import { setIntOpt, IPPROTO_IPV6, IPV6_MULTICAST_HOPS } from '../../src/sys/libc';
import { encodeAdvert, encodeIpv4, inetChecksum, ipToBytes, IPPROTO_VRRP, VRRP_MCAST_V4, VRRP_MCAST_V6 } from '../../src/vrrp/codec';

const [fam, iface, src, ttl, vrid, prio, interval, vip, word] = process.argv.slice(2);
const family = Number(fam) as 4 | 6;
const sock = new VrrpSocket({ family, iface, multicast: false });
const dst = family === 4 ? VRRP_MCAST_V4 : VRRP_MCAST_V6;
const msg = encodeAdvert({ version: 3, vrid: Number(vrid), priority: Number(prio), intervalMs: Number(interval), addresses: [vip], src, dst });
if (word !== undefined) {
  if (family !== 4) throw new Error('inject: <interval-word> is for IPv4 only');
  msg.writeUInt16BE(Number(word), 4);
  msg.writeUInt16BE(0, 6);
  const pseudo = Buffer.alloc(12); // RFC 5798 §5.2.8 with the IPv4 pseudo-header
  ipToBytes(src).copy(pseudo, 0); ipToBytes(dst).copy(pseudo, 4); pseudo[9] = IPPROTO_VRRP; pseudo.writeUInt16BE(msg.length, 10);
  msg.writeUInt16BE(inetChecksum(pseudo, msg), 6);
}
if (family === 4) sock.send(encodeIpv4({ src, dst, id: 1, ttl: Number(ttl) }, msg), dst);
else {
  setIntOpt(sock.fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, Number(ttl), 'IPV6_MULTICAST_HOPS');
  sock.send(msg, dst);
}
process.stdout.write('sent\n');
