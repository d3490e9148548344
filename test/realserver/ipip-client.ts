// A TCP client that speaks to a VIP through IP-in-IP, run inside a namespace by the TUN test:
//   node ipip-client.js IFACE SRC_MAC DST_MAC OUTER_SRC OUTER_DST CLIENT VIP PORT REQUEST
// Every frame it sends is eth / IPv4(OUTER_SRC → OUTER_DST, protocol 4) / IPv4(CLIENT → VIP) /
// TCP, as a TUN director would forward it; it reads the replies from an AF_PACKET socket and
// prints JSON: the reply bytes and what the reply frames looked like (plain or tunnelled, from
// which address). Hand-built on purpose: the test must not depend on the code under test.
// The test gives CLIENT an address the namespace's kernel owns but no route to VIP, so the
// kernel's RST for this unknown connection goes nowhere.
import koffi from 'koffi';

const libc = koffi.load('libc.so.6');
const socket = libc.func('int socket(int domain, int type, int protocol)');
const bind = libc.func('int bind(int fd, const uint8_t *addr, uint32_t len)');
const send = libc.func('intptr_t send(int fd, const uint8_t *buf, size_t len, int flags)');
const recv = libc.func('intptr_t recv(int fd, _Out_ uint8_t *buf, size_t len, int flags)');
const close = libc.func('int close(int fd)');

const AF_PACKET = 17; // linux/socket.h
const SOCK_RAW = 3;
const ETH_P_ALL = 0x0003; // linux/if_ether.h
const MSG_DONTWAIT = 0x40;
const TCP_FIN = 0x01; const TCP_SYN = 0x02; const TCP_PSH = 0x08; const TCP_ACK = 0x10; // RFC 9293 §3.1

const [iface, srcMac, dstMac, outerSrc, outerDst, client, vip, portS, request] = process.argv.slice(2);
const port = Number(portS);

function mac(s: string): Buffer { return Buffer.from(s.split(':').map((h) => parseInt(h, 16))); }
function ip4(s: string): Buffer { return Buffer.from(s.split('.').map(Number)); }
function csum(b: Buffer, init = 0): number {
  let sum = init;
  for (let i = 0; i + 1 < b.length; i += 2) sum += b.readUInt16BE(i);
  if (b.length % 2) sum += b[b.length - 1] << 8;
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  return (~sum) & 0xffff;
}
function ipv4(src: string, dst: string, proto: number, payload: Buffer): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45; h.writeUInt16BE(20 + payload.length, 2); h.writeUInt16BE(0x4000, 6); h[8] = 64; h[9] = proto;
  ip4(src).copy(h, 12); ip4(dst).copy(h, 16);
  h.writeUInt16BE(csum(h), 10);
  return Buffer.concat([h, payload]);
}
function tcp(src: string, dst: string, sport: number, dport: number, seq: number, ack: number, flags: number, data: Buffer): Buffer {
  const t = Buffer.alloc(20);
  t.writeUInt16BE(sport, 0); t.writeUInt16BE(dport, 2); t.writeUInt32BE(seq >>> 0, 4); t.writeUInt32BE(ack >>> 0, 8);
  t[12] = 5 << 4; t[13] = flags; t.writeUInt16BE(65535, 14);
  const seg = Buffer.concat([t, data]);
  const pseudo = Buffer.concat([ip4(src), ip4(dst), Buffer.from([0, 6, seg.length >> 8, seg.length & 0xff])]);
  seg.writeUInt16BE(csum(Buffer.concat([pseudo, seg])), 16);
  return seg;
}
function frame(inner: Buffer): Buffer {
  const eth = Buffer.concat([mac(dstMac), mac(srcMac), Buffer.from([0x08, 0x00])]);
  return Buffer.concat([eth, ipv4(outerSrc, outerDst, 4, inner)]);
}

const fd = socket(AF_PACKET, SOCK_RAW, ((ETH_P_ALL & 0xff) << 8) | (ETH_P_ALL >> 8)) as number;
if (fd < 0) { process.stderr.write('socket(AF_PACKET) failed\n'); process.exit(1); }
const ifindex = Number(require('node:fs').readFileSync(`/sys/class/net/${iface}/ifindex`, 'utf8'));
const sll = Buffer.alloc(20); // struct sockaddr_ll
sll.writeUInt16LE(AF_PACKET, 0); sll.writeUInt16BE(ETH_P_ALL, 2); sll.writeInt32LE(ifindex, 4);
if ((bind(fd, sll, 20) as number) < 0) { process.stderr.write('bind failed\n'); process.exit(1); }

interface Seen { outerProto: number; src: string; dst: string; flags: number; seq: number; ack: number; data: Buffer }
/** Replies addressed to CLIENT from VIP: plain IPv4/TCP, or IP-in-IP if something re-tunnelled them. */
function parse(f: Buffer): Seen | null {
  if (f.length < 34 || f.readUInt16BE(12) !== 0x0800) return null;
  let ip = f.subarray(14);
  const outerProto = ip[9];
  if (outerProto === 4) ip = ip.subarray((ip[0] & 15) * 4);
  if (ip[9] !== 6) return null;
  const src = [...ip.subarray(12, 16)].join('.');
  const dst = [...ip.subarray(16, 20)].join('.');
  if (src !== vip || dst !== client) return null;
  const t = ip.subarray((ip[0] & 15) * 4, ip.readUInt16BE(2));
  if (t.readUInt16BE(0) !== port || t.readUInt16BE(2) !== sport) return null;
  return { outerProto, src, dst, flags: t[13], seq: t.readUInt32BE(4), ack: t.readUInt32BE(8), data: Buffer.from(t.subarray((t[12] >> 4) * 4)) };
}

const sport = 40000 + (process.pid % 20000);
const buf = Buffer.alloc(65536);
async function next(ms: number): Promise<Seen | null> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const n = recv(fd, buf, buf.length, MSG_DONTWAIT) as number;
    if (n > 0) { const s = parse(buf.subarray(0, n)); if (s) return s; continue; }
    await new Promise((r) => setTimeout(r, 2));
  }
  return null;
}
function tx(seq: number, ack: number, flags: number, data = Buffer.alloc(0)): void {
  const f = frame(ipv4(client, vip, 6, tcp(client, vip, sport, port, seq, ack, flags, data)));
  if ((send(fd, f, f.length, 0) as number) !== f.length) throw new Error('send failed');
}

async function main(): Promise<void> {
  const out = { synAck: false, replies: [] as { outerProto: number; src: string; flags: number }[], data: '', fin: false };
  let seq = 1_000_000;
  tx(seq, 0, TCP_SYN);
  const sa = await next(3000);
  if (!sa || (sa.flags & (TCP_SYN | TCP_ACK)) !== (TCP_SYN | TCP_ACK)) {
    if (sa) out.replies.push({ outerProto: sa.outerProto, src: sa.src, flags: sa.flags });
    process.stdout.write(JSON.stringify(out) + '\n');
    return;
  }
  out.synAck = true;
  out.replies.push({ outerProto: sa.outerProto, src: sa.src, flags: sa.flags });
  seq += 1;
  let ack = (sa.seq + 1) >>> 0;
  const req = Buffer.from(request.replace(/\\r\\n/g, '\r\n'));
  tx(seq, ack, TCP_ACK | TCP_PSH, req);
  seq += req.length;
  const chunks: Buffer[] = [];
  for (;;) {
    const s = await next(3000);
    if (!s) break;
    out.replies.push({ outerProto: s.outerProto, src: s.src, flags: s.flags });
    if (s.seq === ack && s.data.length) { chunks.push(s.data); ack = (ack + s.data.length) >>> 0; }
    if (s.flags & TCP_FIN && s.seq + s.data.length === ack) {
      ack = (ack + 1) >>> 0;
      tx(seq, ack, TCP_ACK | TCP_FIN);
      out.fin = true;
      break;
    }
    if (s.data.length) tx(seq, ack, TCP_ACK);
  }
  out.data = Buffer.concat(chunks).toString('utf8');
  process.stdout.write(JSON.stringify(out) + '\n');
}
main().finally(() => close(fd)).catch((e: Error) => { process.stderr.write(`${e.message}\n`); process.exit(1); });
