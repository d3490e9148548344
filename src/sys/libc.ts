// libc through koffi, the one binding of it: the few socket calls Node has no API for (raw IP
// sockets, AF_PACKET), poll and eventfd for waiting on them, and what the BPF loader needs
// besides libbpf (mount, mmap, CPU affinity and thread nice values, vsnprintf). Structs are plain Buffers laid out here, so the
// FFI surface stays int/pointer only. Constants are Linux x86_64/aarch64 values from the headers
// named beside them.
import koffi from 'koffi';
import { XlvsError, ErrorCodes } from '../errors';

export const AF_UNIX = 1; // <bits/socket.h>
export const AF_INET = 2;
export const AF_INET6 = 10;
export const AF_PACKET = 17;
export const SOCK_DGRAM = 2;
export const SOCK_RAW = 3;
export const SOCK_NONBLOCK = 0o4000; // <bits/socket_type.h>
export const SOCK_CLOEXEC = 0o2000000;
export const MSG_DONTWAIT = 0x40; // <bits/socket.h>
export const MSG_NOSIGNAL = 0x4000;
export const SOL_SOCKET = 1; // <asm-generic/socket.h>
export const SO_BINDTODEVICE = 25;
export const IPPROTO_IP = 0; // <netinet/in.h>
export const IPPROTO_IPV6 = 41;
export const IP_HDRINCL = 3;
export const IP_MULTICAST_IF = 32;
export const IP_MULTICAST_TTL = 33;
export const IP_MULTICAST_LOOP = 34;
export const IP_ADD_MEMBERSHIP = 35;
export const IP_MULTICAST_ALL = 49; // <linux/in.h>: 0 = only groups this socket joined
export const IPV6_CHECKSUM = 7; // <linux/in6.h>
export const IPV6_UNICAST_HOPS = 16;
export const IPV6_MULTICAST_IF = 17;
export const IPV6_MULTICAST_HOPS = 18;
export const IPV6_MULTICAST_LOOP = 19;
export const IPV6_ADD_MEMBERSHIP = 20;
export const IPV6_RECVPKTINFO = 49; // <linux/in6.h>: ancillary destination address
export const IPV6_PKTINFO = 50;
export const IPV6_RECVHOPLIMIT = 51; // ancillary hop limit (RFC 3542 §6.3)
export const IPV6_HOPLIMIT = 52;
export const ETH_P_ARP = 0x0806; // <linux/if_ether.h>
export const POLLIN = 0x001; // <bits/poll.h>
export const EFD_NONBLOCK = 0o4000; // <sys/eventfd.h>
export const EFD_CLOEXEC = 0o2000000;
export const EAGAIN = 11;
export const EINTR = 4;

let lib: ReturnType<typeof bind> | null = null;

function bind() {
  const c = koffi.load('libc.so.6');
  return {
    socket: c.func('int socket(int domain, int type, int protocol)'),
    setsockopt: c.func('int setsockopt(int fd, int level, int name, void *val, uint32_t len)'),
    bind: c.func('int bind(int fd, void *addr, uint32_t len)'),
    sendto: c.func('intptr_t sendto(int fd, void *buf, uintptr_t len, int flags, void *addr, uint32_t alen)'),
    recvfrom: c.func('intptr_t recvfrom(int fd, void *buf, uintptr_t len, int flags, void *addr, void *alen)'),
    recvmsg: c.func('intptr_t recvmsg(int fd, void *msg, int flags)'),
    close: c.func('int close(int fd)'),
    poll: c.func('int poll(void *fds, unsigned long nfds, int timeout)'),
    eventfd: c.func('int eventfd(unsigned int initval, int flags)'),
    write: c.func('intptr_t write(int fd, void *buf, uintptr_t len)'),
    read: c.func('intptr_t read(int fd, void *buf, uintptr_t len)'),
    ifNametoindex: c.func('unsigned int if_nametoindex(const char *name)'),
    // What the BPF loader needs besides libbpf (src/loader/ffi.ts re-exports these as `c`).
    schedSetaffinity: c.func('int sched_setaffinity(int pid, size_t size, const void *mask)'),
    schedGetaffinity: c.func('int sched_getaffinity(int pid, size_t size, void *mask)'),
    gettid: c.func('int gettid(void)'),
    setpriority: c.func('int setpriority(int which, unsigned int who, int prio)'),
    vsnprintf: c.func('int vsnprintf(void *buf, size_t size, const char *fmt, void *ap)'),
    mount: c.func('int mount(const char *source, const char *target, const char *fstype, unsigned long flags, const void *data)'),
    mmap: c.func('void *mmap(void *addr, size_t length, int prot, int flags, int fd, intptr_t offset)'),
    munmap: c.func('int munmap(void *addr, size_t length)'),
    memcpy: c.func('void *memcpy(void *dest, const void *src, size_t n)'),
    setns: c.func('int setns(int fd, int nstype)'),
  };
}

export function libc(): ReturnType<typeof bind> {
  if (!lib) lib = bind();
  return lib;
}

export function errno(): number { return koffi.errno(); }

export function sysFail(what: string, err = errno()): never {
  throw new XlvsError(ErrorCodes.SYSTEM, what, { errno: err });
}

export function ifIndex(name: string): number {
  const i = libc().ifNametoindex(name) as number;
  if (!i) throw new XlvsError(ErrorCodes.SYSTEM, `interface "${name}" does not exist`, { errno: errno() });
  return i;
}

export function setIntOpt(fd: number, level: number, name: number, value: number, what: string): void {
  const b = Buffer.alloc(4);
  b.writeInt32LE(value);
  if (libc().setsockopt(fd, level, name, b, 4) < 0) sysFail(`setsockopt ${what}`);
}

export function setBufOpt(fd: number, level: number, name: number, value: Buffer, what: string): void {
  if (libc().setsockopt(fd, level, name, value, value.length) < 0) sysFail(`setsockopt ${what}`);
}

/**
 * struct sockaddr_un and its length for `path`: a file system path, or `@name` for the abstract
 * namespace (a leading NUL, no terminator). Null when the path does not fit sun_path (108 bytes).
 */
export function sockaddrUn(path: string): { addr: Buffer; len: number } | null {
  const abstract = path.startsWith('@');
  const name = Buffer.from(abstract ? path.slice(1) : path);
  if (name.length + 1 > 108) return null;
  const b = Buffer.alloc(110);
  b.writeUInt16LE(AF_UNIX, 0);
  name.copy(b, abstract ? 3 : 2);
  return { addr: b, len: 2 + 1 + name.length };
}

/** struct sockaddr_in (16 bytes). */
export function sockaddrIn(addr4: Buffer): Buffer {
  const b = Buffer.alloc(16);
  b.writeUInt16LE(AF_INET, 0);
  addr4.copy(b, 4);
  return b;
}

/** struct sockaddr_in6 (28 bytes). */
export function sockaddrIn6(addr16: Buffer, scopeId = 0): Buffer {
  const b = Buffer.alloc(28);
  b.writeUInt16LE(AF_INET6, 0);
  addr16.copy(b, 8);
  b.writeUInt32LE(scopeId, 24);
  return b;
}

/** struct sockaddr_ll (20 bytes) for sending on `ifindex`. */
export function sockaddrLl(ifindex: number, protocol: number, mac: Buffer): Buffer {
  const b = Buffer.alloc(20);
  b.writeUInt16LE(AF_PACKET, 0);
  b.writeUInt16BE(protocol, 2);
  b.writeInt32LE(ifindex, 4);
  b[11] = 6;
  mac.copy(b, 12);
  return b;
}

export function sendTo(fd: number, data: Buffer, addr: Buffer, what: string): void {
  const n = libc().sendto(fd, data, data.length, 0, addr, addr.length) as number;
  if (n < 0) sysFail(`sendto ${what}`);
}

/** One datagram from a non-blocking socket, or null when none is queued. */
export function recvFrom(fd: number, max = 2048): { data: Buffer; addr: Buffer } | null {
  const buf = Buffer.alloc(max);
  const addr = Buffer.alloc(128);
  const alen = Buffer.alloc(4);
  alen.writeUInt32LE(addr.length);
  const n = libc().recvfrom(fd, buf, max, 0, addr, alen) as number;
  if (n < 0) {
    const e = errno();
    if (e === EAGAIN || e === EINTR) return null;
    sysFail('recvfrom', e);
  }
  return { data: buf.subarray(0, n), addr: addr.subarray(0, alen.readUInt32LE(0)) };
}

export function closeFd(fd: number): void { libc().close(fd); }

/**
 * recvmsg with ancillary data, for IPv6 raw sockets (which deliver no header): one stable
 * native block per socket holds msghdr, iovec, the source address, the control buffer and
 * the data, so the pointers inside msghdr never move (koffi.alloc; koffi.view shares it).
 */
export class MsgReceiver {
  private static readonly MSG = 0; // struct msghdr, 56 bytes on LP64
  private static readonly IOV = 64; // struct iovec, 16 bytes
  private static readonly NAME = 80; // struct sockaddr_in6, 28 bytes
  private static readonly CTRL = 112; // control buffer
  private static readonly CTRL_LEN = 128;
  private static readonly DATA = 256;
  private mem: unknown;
  private buf: Buffer;
  constructor(private readonly max = 2048) {
    const total = MsgReceiver.DATA + max;
    this.mem = koffi.alloc('uint8_t', total);
    this.buf = Buffer.from(koffi.view(this.mem, total));
    this.buf.fill(0);
    const base = koffi.address(this.mem);
    const b = this.buf;
    b.writeBigUInt64LE(base + BigInt(MsgReceiver.NAME), MsgReceiver.MSG + 0); // msg_name
    b.writeBigUInt64LE(base + BigInt(MsgReceiver.IOV), MsgReceiver.MSG + 16); // msg_iov
    b.writeBigUInt64LE(1n, MsgReceiver.MSG + 24); // msg_iovlen
    b.writeBigUInt64LE(base + BigInt(MsgReceiver.CTRL), MsgReceiver.MSG + 32); // msg_control
    b.writeBigUInt64LE(base + BigInt(MsgReceiver.DATA), MsgReceiver.IOV + 0); // iov_base
    b.writeBigUInt64LE(BigInt(max), MsgReceiver.IOV + 8); // iov_len
  }

  /** One datagram with its source sockaddr and control messages, or null when none is queued. */
  recv(fd: number): { data: Buffer; name: Buffer; cmsgs: { level: number; type: number; data: Buffer }[] } | null {
    const b = this.buf;
    b.writeUInt32LE(28, MsgReceiver.MSG + 8); // msg_namelen
    b.writeBigUInt64LE(BigInt(MsgReceiver.CTRL_LEN), MsgReceiver.MSG + 40); // msg_controllen
    b.writeInt32LE(0, MsgReceiver.MSG + 48); // msg_flags
    const n = libc().recvmsg(fd, this.mem, 0) as number;
    if (n < 0) {
      const e = errno();
      if (e === EAGAIN || e === EINTR) return null;
      sysFail('recvmsg', e);
    }
    const data = Buffer.from(b.subarray(MsgReceiver.DATA, MsgReceiver.DATA + Math.min(n, this.max)));
    const name = Buffer.from(b.subarray(MsgReceiver.NAME, MsgReceiver.NAME + b.readUInt32LE(MsgReceiver.MSG + 8)));
    const ctrlLen = Number(b.readBigUInt64LE(MsgReceiver.MSG + 40));
    const cmsgs: { level: number; type: number; data: Buffer }[] = [];
    // struct cmsghdr { size_t len; int level; int type; } then data, each aligned to 8.
    for (let o = 0; o + 16 <= ctrlLen;) {
      const len = Number(b.readBigUInt64LE(MsgReceiver.CTRL + o));
      if (len < 16) break;
      cmsgs.push({ level: b.readInt32LE(MsgReceiver.CTRL + o + 8), type: b.readInt32LE(MsgReceiver.CTRL + o + 12), data: Buffer.from(b.subarray(MsgReceiver.CTRL + o + 16, MsgReceiver.CTRL + o + len)) });
      o += (len + 7) & ~7;
    }
    return { data, name, cmsgs };
  }
}
