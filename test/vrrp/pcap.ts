// A tiny pcap (libpcap classic format) reader and writer for codec test vectors: Ethernet
// link type only, microsecond or nanosecond timestamps, either byte order.
import * as fs from 'node:fs';

export interface PcapRecord { tsUs: number; frame: Buffer }

export const LINKTYPE_ETHERNET = 1;

export function readPcap(file: string): PcapRecord[] {
  const b = fs.readFileSync(file);
  const magicLE = b.readUInt32LE(0);
  let le: boolean, nano: boolean;
  if (magicLE === 0xa1b2c3d4 || magicLE === 0xa1b23c4d) { le = true; nano = magicLE === 0xa1b23c4d; }
  else if (b.readUInt32BE(0) === 0xa1b2c3d4 || b.readUInt32BE(0) === 0xa1b23c4d) { le = false; nano = b.readUInt32BE(0) === 0xa1b23c4d; }
  else throw new Error(`${file}: not a pcap file (magic 0x${magicLE.toString(16)})`);
  const u32 = (o: number) => (le ? b.readUInt32LE(o) : b.readUInt32BE(o));
  const link = u32(20);
  if (link !== LINKTYPE_ETHERNET) throw new Error(`${file}: link type ${link}, expected Ethernet`);
  const out: PcapRecord[] = [];
  for (let o = 24; o + 16 <= b.length;) {
    const sec = u32(o), frac = u32(o + 4), incl = u32(o + 8);
    if (o + 16 + incl > b.length) throw new Error(`${file}: record at offset ${o} truncated`);
    out.push({ tsUs: sec * 1e6 + (nano ? Math.floor(frac / 1000) : frac), frame: b.subarray(o + 16, o + 16 + incl) });
    o += 16 + incl;
  }
  return out;
}

export function writePcap(file: string, frames: Buffer[]): void {
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16); hdr.writeUInt32LE(LINKTYPE_ETHERNET, 20);
  const recs = frames.map((f, i) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(1_700_000_000 + i, 0);
    r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
    return Buffer.concat([r, f]);
  });
  fs.writeFileSync(file, Buffer.concat([hdr, ...recs]));
}

/** Ethernet II frame around an IPv4 packet (independent of the production code). */
export function ethIpv4(src: Buffer, dst: Buffer, ipPacket: Buffer): Buffer {
  return Buffer.concat([dst, src, Buffer.from([0x08, 0x00]), ipPacket]);
}
