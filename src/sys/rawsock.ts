// Raw sockets for VRRP (IP protocol 112) and AF_PACKET for gratuitous ARP, set up as keepalived
// does it (keepalived/vrrp/vrrp.c open_vrrp_send_socket / open_vrrp_read_socket).
import {
  libc, AF_INET, AF_INET6, AF_PACKET, SOCK_RAW, SOCK_NONBLOCK, SOCK_CLOEXEC, SOL_SOCKET, SO_BINDTODEVICE,
  IPPROTO_IP, IPPROTO_IPV6, IP_HDRINCL, IP_MULTICAST_IF, IP_MULTICAST_LOOP, IP_ADD_MEMBERSHIP, IP_MULTICAST_ALL,
  IP_MULTICAST_TTL, IPV6_CHECKSUM, IPV6_UNICAST_HOPS, IPV6_MULTICAST_IF, IPV6_MULTICAST_HOPS, IPV6_MULTICAST_LOOP,
  IPV6_ADD_MEMBERSHIP, IPV6_RECVHOPLIMIT, IPV6_HOPLIMIT, IPV6_RECVPKTINFO, IPV6_PKTINFO, MsgReceiver, ETH_P_ARP, ifIndex, setIntOpt, setBufOpt, sockaddrIn, sockaddrIn6, sockaddrLl, sendTo,
  recvFrom, closeFd, sysFail,
} from './libc';

export const IPPROTO_VRRP = 112; // RFC 5798 §5.1.1.4
const IPPROTO_ICMPV6 = 58;
const VRRP_CSUM_OFFSET = 6; // RFC 5798 §5.2.8: checksum at byte 6 of the VRRP message
const HOP_LIMIT = 255; // RFC 5798 §5.1.1.3 / RFC 4861 §7.1.2 (NA hop limit 255)

function ipBytes(addr: string): Buffer {
  if (addr.includes('.')) return Buffer.from(addr.split('.').map(Number));
  const [h, t] = addr.includes('::') ? addr.split('::') : [addr, null];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const g = t === null ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  const b = Buffer.alloc(16);
  g.forEach((s, i) => b.writeUInt16BE(parseInt(s, 16), i * 2));
  return b;
}

export interface VrrpSocketOptions {
  family: 4 | 6;
  iface: string;
  /** Join the VRRP multicast group (false in unicast mode). */
  multicast: boolean;
}

/**
 * One raw socket per instance, used for both directions. IPv4: IP_HDRINCL (we write keepalived's
 * header: TOS 0xc0, TTL 255, no DF), bound to the interface, joined to 224.0.0.18 on it,
 * IP_MULTICAST_ALL off, loopback off. IPv6: the kernel fills the header; IPV6_CHECKSUM makes it
 * compute the checksum over its chosen source and verify received ones; hop limits 255.
 */
export class VrrpSocket {
  readonly fd: number;
  readonly ifindex: number;
  private msg: MsgReceiver | null = null;
  constructor(readonly opts: VrrpSocketOptions) {
    this.ifindex = ifIndex(opts.iface);
    const dom = opts.family === 4 ? AF_INET : AF_INET6;
    const fd = libc().socket(dom, SOCK_RAW | SOCK_NONBLOCK | SOCK_CLOEXEC, IPPROTO_VRRP) as number;
    if (fd < 0) sysFail(`socket(raw, ${IPPROTO_VRRP})`);
    this.fd = fd;
    try {
      setBufOpt(fd, SOL_SOCKET, SO_BINDTODEVICE, Buffer.from(opts.iface + '\0'), `SO_BINDTODEVICE ${opts.iface}`);
      if (opts.family === 4) {
        setIntOpt(fd, IPPROTO_IP, IP_HDRINCL, 1, 'IP_HDRINCL');
        setIntOpt(fd, IPPROTO_IP, IP_MULTICAST_ALL, 0, 'IP_MULTICAST_ALL');
        setIntOpt(fd, IPPROTO_IP, IP_MULTICAST_LOOP, 0, 'IP_MULTICAST_LOOP');
        setIntOpt(fd, IPPROTO_IP, IP_MULTICAST_TTL, HOP_LIMIT, 'IP_MULTICAST_TTL');
        const mreqn = Buffer.alloc(12); // struct ip_mreqn { multiaddr; address; ifindex }
        mreqn.writeInt32LE(this.ifindex, 8);
        setBufOpt(fd, IPPROTO_IP, IP_MULTICAST_IF, mreqn, 'IP_MULTICAST_IF');
        if (opts.multicast) {
          ipBytes('224.0.0.18').copy(mreqn, 0); // RFC 5798 §5.1.1.2
          setBufOpt(fd, IPPROTO_IP, IP_ADD_MEMBERSHIP, mreqn, 'IP_ADD_MEMBERSHIP 224.0.0.18');
        }
      } else {
        setIntOpt(fd, IPPROTO_IPV6, IPV6_CHECKSUM, VRRP_CSUM_OFFSET, 'IPV6_CHECKSUM');
        setIntOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, HOP_LIMIT, 'IPV6_MULTICAST_HOPS');
        setIntOpt(fd, IPPROTO_IPV6, IPV6_UNICAST_HOPS, HOP_LIMIT, 'IPV6_UNICAST_HOPS');
        setIntOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_LOOP, 0, 'IPV6_MULTICAST_LOOP');
        setIntOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, this.ifindex, 'IPV6_MULTICAST_IF');
        // RFC 5798 §7.1 needs the hop limit and the destination: ask for both as ancillary data.
        setIntOpt(fd, IPPROTO_IPV6, IPV6_RECVHOPLIMIT, 1, 'IPV6_RECVHOPLIMIT');
        setIntOpt(fd, IPPROTO_IPV6, IPV6_RECVPKTINFO, 1, 'IPV6_RECVPKTINFO');
        this.msg = new MsgReceiver();
        if (opts.multicast) {
          const mreq = Buffer.alloc(20); // struct ipv6_mreq { addr[16]; ifindex }
          ipBytes('ff02::12').copy(mreq, 0); // RFC 5798 §5.1.2.2
          mreq.writeInt32LE(this.ifindex, 16);
          setBufOpt(fd, IPPROTO_IPV6, IPV6_ADD_MEMBERSHIP, mreq, 'IPV6_ADD_MEMBERSHIP ff02::12');
        }
      }
    } catch (e) {
      closeFd(fd);
      throw e;
    }
  }

  /** IPv4: `packet` is the whole IP packet; IPv6: the VRRP message. */
  send(packet: Buffer, dst: string): void {
    const sa = this.opts.family === 4 ? sockaddrIn(ipBytes(dst)) : sockaddrIn6(ipBytes(dst), dst.toLowerCase().startsWith('fe80') || dst.toLowerCase().startsWith('ff02') ? this.ifindex : 0);
    sendTo(this.fd, packet, sa, `vrrp to ${dst} on ${this.opts.iface}`);
  }

  /**
   * Next datagram and the sender's address, or null. IPv4: the data includes the IP header.
   * IPv6: the VRRP message, with hop limit and destination from ancillary data.
   */
  recv(): { data: Buffer; src: string; hopLimit?: number; dst?: string } | null {
    if (this.opts.family === 4) {
      const r = recvFrom(this.fd);
      if (!r) return null;
      return { data: r.data, src: r.addr.length >= 8 ? Array.from(r.addr.subarray(4, 8)).join('.') : '' };
    }
    const r = this.msg!.recv(this.fd);
    if (!r) return null;
    const v6 = (b: Buffer) => { const g: string[] = []; for (let i = 0; i < 8; i++) g.push(b.readUInt16BE(i * 2).toString(16)); return g.join(':'); };
    const out: { data: Buffer; src: string; hopLimit?: number; dst?: string } = { data: r.data, src: r.name.length >= 24 ? v6(r.name.subarray(8, 24)) : '' };
    for (const c of r.cmsgs) {
      if (c.level !== IPPROTO_IPV6) continue;
      if (c.type === IPV6_HOPLIMIT && c.data.length >= 4) out.hopLimit = c.data.readInt32LE(0);
      if (c.type === IPV6_PKTINFO && c.data.length >= 16) out.dst = v6(c.data.subarray(0, 16));
    }
    return out;
  }
}

/** keepalived's gratuitous ARP: request "who-has VIP tell VIP", target MAC ff:ff:ff:ff:ff:ff. */
export function garpFrame(mac: Buffer, vip: string): Buffer {
  const f = Buffer.alloc(42);
  f.fill(0xff, 0, 6); // broadcast destination
  mac.copy(f, 6);
  f.writeUInt16BE(ETH_P_ARP, 12);
  f.writeUInt16BE(1, 14); // RFC 826 hrd: Ethernet
  f.writeUInt16BE(0x0800, 16); // pro: IPv4
  f[18] = 6; f[19] = 4;
  f.writeUInt16BE(1, 20); // op: request (RFC 5227 §3 ARP Announcement uses request)
  mac.copy(f, 22);
  ipBytes(vip).copy(f, 28);
  f.fill(0xff, 32, 38); // keepalived writes ff:ff:ff:ff:ff:ff as target hardware address
  ipBytes(vip).copy(f, 38);
  return f;
}

/** An AF_PACKET socket sending ARP frames on one interface. */
export class ArpSender {
  private fd: number;
  private ifindex: number;
  constructor(readonly iface: string) {
    this.ifindex = ifIndex(iface);
    // Protocol 0: send-only, the socket receives nothing.
    const fd = libc().socket(AF_PACKET, SOCK_RAW | SOCK_CLOEXEC, 0) as number;
    if (fd < 0) sysFail('socket(AF_PACKET)');
    this.fd = fd;
  }
  send(frame: Buffer): void {
    sendTo(this.fd, frame, sockaddrLl(this.ifindex, ETH_P_ARP, frame.subarray(0, 6)), `gratuitous ARP on ${this.iface}`);
  }
  close(): void { if (this.fd >= 0) { closeFd(this.fd); this.fd = -1; } }
}

/** RFC 4861 §4.4 unsolicited Neighbor Advertisement (Override set) for `vip`, to ff02::1. */
export function unsolicitedNa(mac: Buffer, vip: string): Buffer {
  const m = Buffer.alloc(32);
  m[0] = 136; // type: Neighbor Advertisement
  m.writeUInt32BE(0x20000000, 4); // O flag (RFC 4861 §4.4); R and S clear
  ipBytes(vip).copy(m, 8);
  m[24] = 2; m[25] = 1; // option: target link-layer address, length 1 (8 octets)
  mac.copy(m, 26);
  return m; // checksum filled by the kernel for ICMPv6 raw sockets (RFC 3542 §3.1)
}

export class NaSender {
  private fd: number;
  private ifindex: number;
  constructor(readonly iface: string) {
    this.ifindex = ifIndex(iface);
    const fd = libc().socket(AF_INET6, SOCK_RAW | SOCK_CLOEXEC, IPPROTO_ICMPV6) as number;
    if (fd < 0) sysFail('socket(raw, ICMPv6)');
    this.fd = fd;
    try {
      setIntOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_HOPS, HOP_LIMIT, 'IPV6_MULTICAST_HOPS');
      setIntOpt(fd, IPPROTO_IPV6, IPV6_MULTICAST_IF, this.ifindex, 'IPV6_MULTICAST_IF');
    } catch (e) { closeFd(fd); throw e; }
  }
  send(msg: Buffer): void {
    sendTo(this.fd, msg, sockaddrIn6(ipBytes('ff02::1'), this.ifindex), `unsolicited NA on ${this.iface}`);
  }
  close(): void { if (this.fd >= 0) { closeFd(this.fd); this.fd = -1; } }
}
