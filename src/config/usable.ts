// Addresses that parse but cannot be a VIP, a real or a sorry server: the data plane would
// match or forward to something that is no single host on the link. Pure.
import type { Ip } from '../common/address';

/** Why `ip` cannot be a host address of a service, or null when it can. */
export function unusableAddress(ip: Ip): string | null {
  const b = ip.bytes;
  if (ip.family === 4) {
    if (b.every((x) => x === 0)) return 'the unspecified address (RFC 1122 §3.2.1.3)';
    if (b[0] === 0) return 'in 0.0.0.0/8, "this network" (RFC 1122 §3.2.1.3)';
    if (b.every((x) => x === 255)) return 'the limited broadcast address (RFC 919)';
    if (b[0] === 127) return 'a loopback address (127.0.0.0/8, RFC 1122 §3.2.1.3)';
    if (b[0] >= 224 && b[0] <= 239) return 'a multicast address (224.0.0.0/4, RFC 5771)';
    if (b[0] >= 240) return 'in the reserved 240.0.0.0/4 (RFC 1112 §4)';
    return null;
  }
  const zeroTo = (n: number): boolean => b.subarray(0, n).every((x) => x === 0);
  if (zeroTo(16)) return 'the unspecified address (RFC 4291 §2.5.2)';
  if (zeroTo(15) && b[15] === 1) return 'the loopback address (RFC 4291 §2.5.3)';
  if (b[0] === 0xff) return 'a multicast address (ff00::/8, RFC 4291 §2.7)';
  if (zeroTo(10) && b[10] === 0xff && b[11] === 0xff) return 'an IPv4-mapped address (::ffff:0:0/96, RFC 4291 §2.5.5.2; write it as IPv4)';
  return null;
}

/** Why a real's MAC (lower-case, colon-separated) cannot be a next hop, or null. */
export function unusableMac(mac: string): string | null {
  const octets = mac.split(':').map((h) => parseInt(h, 16));
  if (octets.every((x) => x === 0xff)) return 'the broadcast MAC';
  if (octets[0] & 1) return 'a multicast MAC (the first octet\'s low bit is set, IEEE 802 group address)';
  if (octets.every((x) => x === 0)) return 'all zeros (no station has it)';
  return null;
}
