// The packet builder against bytes derived by hand from the RFCs, checksums checked three ways
// (hand sums, our parser, tcpdump -vv reading a pcap), and parser round trips.
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { eth, packet, internetChecksum, ip6, IPPROTO } from '../lib/packet';
import { parsePacket, layer, checksumReport, ip6Str } from '../lib/packet-parse';
import { needsCommand } from '../lib/env';

const hex = (s: string) => Buffer.from(s.replace(/\s+/g, ''), 'hex');

describe('builder: known-good bytes', () => {
  test('IPv4/TCP SYN matches RFC 791 / RFC 9293 layout with hand-computed checksums', () => {
    const got = eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })
      .ipv4({ src: '198.51.100.7', dst: '10.0.0.10', ttl: 64, id: 0x1234, df: true })
      .tcp({ sport: 40000, dport: 80, seq: 1, flags: 'S' })
      .build();
    // IPv4 header sum: 4500+0028+1234+4000+4006+c633+6407+0a00+000a = 0x20ba6 → fold 0x0ba8 → ~ 0xf457.
    // TCP: pseudo c633+6407+0a00+000a+0006+0014 = 0x1345e; header 9c40+0050+0001+5002+ffff = 0x1ec92;
    // total 0x320f0 → fold 0x20f3 → ~ 0xdf0c.
    const want = hex(`
      020000000002 020000000001 0800
      4500 0028 1234 4000 40 06 f457 c6336407 0a00000a
      9c40 0050 00000001 00000000 50 02 ffff df0c 0000`);
    assert.equal(got.toString('hex'), want.toString('hex'));
  });

  test('IPv6/UDP matches RFC 8200 / RFC 768 layout with hand-computed pseudo-header checksum', () => {
    const got = eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' })
      .ipv6({ src: '2001:db8::1', dst: '2001:db8::2', hopLimit: 64 })
      .udp({ sport: 1234, dport: 53 })
      .payload('hi')
      .build();
    // Pseudo-header 2001+0db8+0001+2001+0db8+0002+000a+0011 = 0x5b90; UDP 04d2+0035+000a+6869 = 0x6d7a;
    // 0x5b90+0x6d7a = 0xc90a → ~ 0x36f5.
    const want = hex(`
      020000000002 020000000001 86dd
      60000000 000a 11 40 20010db8000000000000000000000001 20010db8000000000000000000000002
      04d2 0035 000a 36f5 6869`);
    assert.equal(got.toString('hex'), want.toString('hex'));
  });

  test('802.1Q single and double tags put the TPID before each tag (IEEE 802.1Q §9.6)', () => {
    const one = eth().vlan({ id: 100, pcp: 5 }).ipv4({ src: '1.2.3.4', dst: '5.6.7.8' }).build();
    assert.equal(one.subarray(12, 20).toString('hex'), '8100' + 'a064' + '0800' + '4500');
    const two = eth().vlan({ id: 100, tpid: 0x88a8 }, 200).ipv6({ src: '::1', dst: '::2' }).build();
    assert.equal(two.subarray(12, 22).toString('hex'), '88a8' + '0064' + '8100' + '00c8' + '86dd');
  });

  test('tunnel nesting sets protocol 4 / 41 and lengths cover the inner packet', () => {
    const inner4 = { src: '198.51.100.7', dst: '10.0.0.10' };
    const inner6 = { src: '2001:db8::7', dst: '2001:db8::10' };
    const cases: [string, Buffer, number, number][] = [
      // [name, frame, offset of the outer protocol byte, expected value]
      ['ipip', eth().ipv4({ src: '10.1.0.1', dst: '10.1.0.2' }).ipv4(inner4).tcp({ sport: 1, dport: 80 }).build(), 14 + 9, IPPROTO.IPIP],
      ['6in4', eth().ipv4({ src: '10.1.0.1', dst: '10.1.0.2' }).ipv6(inner6).udp({ sport: 1, dport: 53 }).build(), 14 + 9, IPPROTO.IPV6],
      ['4in6', eth().ipv6({ src: 'fd00::1', dst: 'fd00::2' }).ipv4(inner4).tcp({ sport: 1, dport: 80 }).build(), 14 + 6, IPPROTO.IPIP],
      ['ip6ip6', eth().ipv6({ src: 'fd00::1', dst: 'fd00::2' }).ipv6(inner6).tcp({ sport: 1, dport: 80 }).build(), 14 + 6, IPPROTO.IPV6],
    ];
    for (const [name, f, at, want] of cases) {
      assert.equal(f[at], want, `${name}: outer protocol`);
      const p = parsePacket(f);
      const outer = p.layers[1];
      if (outer.name === 'ipv4') assert.equal(outer.fields.totalLength, f.length - 14, `${name}: outer total length`);
      else assert.equal(outer.fields.payloadLength, f.length - 14 - 40, `${name}: outer payload length`);
      assert.ok(p.layers[2].label.startsWith('inner.'), `${name}: inner IP labelled`);
      assert.equal(checksumReport(f), '', `${name}: checksums`);
    }
  });

  test('IPv4 options are padded to 32-bit words and counted in IHL and the checksum', () => {
    const f = eth().ipv4({ src: '1.1.1.1', dst: '2.2.2.2', options: Buffer.from([0x94, 0x04, 0, 0, 0x01]) }).udp({ sport: 1, dport: 2 }).build();
    assert.equal(f[14] & 0x0f, 7); // 20 + 5 padded to 8 → 28 bytes
    assert.equal(f.subarray(34, 42).toString('hex'), '9404000001000000');
    assert.equal(internetChecksum(f.subarray(14, 14 + 28)), 0);
    assert.equal(checksumReport(f), '');
  });

  test('IPv6 extension headers chain their next-header fields and pad to 8 octets (RFC 8200 §4)', () => {
    const f = eth()
      .ipv6({ src: 'fd00::1', dst: 'fd00::2' })
      .ipv6ext('hop')
      .ipv6ext('dest', { data: Buffer.from([0x1e, 0x01, 0xaa]) })
      .ipv6ext('routing', { routingType: 4, segmentsLeft: 0 })
      .ipv6ext('fragment', { id: 7 })
      .tcp({ sport: 5, dport: 80 })
      .build();
    assert.equal(f[14 + 6], IPPROTO.HOPOPTS);
    const p = parsePacket(f);
    assert.deepEqual(p.layers.map((l) => l.name), ['eth', 'ipv6', 'ipv6.hop', 'ipv6.dest', 'ipv6.routing', 'ipv6.fragment', 'tcp']);
    assert.equal(layer(p, 'ipv6.hop')!.fields.nextHeader, IPPROTO.DSTOPTS);
    assert.equal(layer(p, 'ipv6.hop')!.fields.options, '010400000000'); // PadN of 4
    assert.equal(layer(p, 'ipv6.dest')!.fields.options, '1e01aa010100'); // option, then PadN of 1
    assert.equal(layer(p, 'ipv6.routing')!.fields.nextHeader, IPPROTO.FRAGMENT);
    assert.equal(layer(p, 'ipv6.fragment')!.fields.nextHeader, IPPROTO.TCP);
    assert.equal(layer(p, 'ipv6')!.fields.payloadLength, 8 * 4 + 20);
    assert.equal(checksumReport(f), '');
  });

  test('overrides produce the malformed fields asked for, other fields still derived', () => {
    const f = eth().ipv4({ src: '1.1.1.1', dst: '2.2.2.2', ihl: 4, totalLength: 9999, protocol: 17, checksum: 0xbeef, ttl: 0 })
      .tcp({ sport: 1, dport: 2, checksum: 0x1234, dataOffset: 15 }).build();
    assert.equal(f[14], 0x44);
    assert.equal(f.readUInt16BE(16), 9999);
    assert.equal(f[23], 17);
    assert.equal(f.readUInt16BE(24), 0xbeef);
    assert.equal(f[22], 0);
    assert.equal(f.readUInt16BE(34 + 16), 0x1234);
    assert.equal(f[34 + 12] >> 4, 15);
    const six = eth().ipv6({ src: '::1', dst: '::2', payloadLength: 3 }).udp({ sport: 1, dport: 2 }).build();
    assert.equal(six.readUInt16BE(18), 3);
  });

  test('truncate() cuts the finished frame, after lengths and checksums were computed', () => {
    const full = eth().ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }).tcp({ sport: 1, dport: 2 }).payload('abc').build();
    const cut = eth().ipv4({ src: '1.1.1.1', dst: '2.2.2.2' }).tcp({ sport: 1, dport: 2 }).payload('abc').truncate(30).build();
    assert.equal(cut.length, 30);
    assert.deepEqual(cut, full.subarray(0, 30));
  });

  test('bad addresses and flags are rejected with the offending text', () => {
    assert.throws(() => eth({ dst: '02:00:00:00:00' }), /bad MAC address "02:00:00:00:00"/);
    assert.throws(() => eth().ipv4({ src: '1.2.3', dst: '1.2.3.4' }).build(), /bad IPv4 address "1.2.3"/);
    assert.throws(() => eth().ipv4({ src: '1.2.3.4', dst: '1.2.3.4' }).tcp({ sport: 1, dport: 2, flags: 'SX' }).build(), /unknown flag "X"/);
    assert.throws(() => eth().payload('x').tcp({ sport: 1, dport: 2 }), /nothing can follow payload/);
  });

  test('ip6() and ip6Str() agree with RFC 5952 text forms', () => {
    for (const [text, canon] of [['2001:db8::1', '2001:db8::1'], ['::', '::'], ['::ffff:10.0.0.1', '::ffff:a00:1'], ['fe80:0:0:0:1:0:0:1', 'fe80::1:0:0:1'], ['1:0:0:2:0:0:0:3', '1:0:0:2::3']]) {
      assert.equal(ip6Str(ip6(text), 0), canon, text);
    }
  });
});

describe('parser round trip', () => {
  test('every field the builder was given comes back from parsePacket', () => {
    const f = eth({ src: '02:aa:bb:cc:dd:01', dst: '02:aa:bb:cc:dd:02' })
      .vlan({ id: 42, pcp: 3, dei: true })
      .ipv4({ src: '192.0.2.1', dst: '203.0.113.9', ttl: 7, id: 999, tos: 0x10, mf: true })
      .tcp({ sport: 12345, dport: 443, seq: 0xdeadbeef, ack: 77, flags: 'PA', window: 1000, options: Buffer.from([2, 4, 5, 0xb4]) })
      .payload('hello')
      .build();
    const p = parsePacket(f);
    assert.equal(p.error, undefined);
    assert.deepEqual(p.layers.map((l) => l.name), ['eth', 'vlan', 'ipv4', 'tcp']);
    assert.deepEqual(layer(p, 'eth')!.fields, { dst: '02:aa:bb:cc:dd:02', src: '02:aa:bb:cc:dd:01', type: 0x8100 });
    assert.deepEqual(layer(p, 'vlan')!.fields, { pcp: 3, dei: true, id: 42, type: 0x0800 });
    const ip = layer(p, 'ipv4')!.fields;
    assert.equal(ip.ttl, 7); assert.equal(ip.id, 999); assert.equal(ip.tos, 0x10); assert.equal(ip.mf, true);
    assert.equal(ip.df, false); assert.equal(ip.src, '192.0.2.1'); assert.equal(ip.dst, '203.0.113.9');
    assert.equal(ip.totalLength, 20 + 24 + 5);
    const t = layer(p, 'tcp')!.fields;
    assert.equal(t.seq, 0xdeadbeef); assert.equal(t.ack, 77); assert.equal(t.flags, 'AP'); assert.equal(t.window, 1000);
    assert.equal(t.options, '020405b4'); assert.equal(t.dataOffset, 6);
    assert.equal(p.payload.toString(), 'hello');
    for (const l of p.layers) if (l.checksum) assert.ok(l.checksum.ok, `${l.name} checksum`);
  });

  test('ICMP and ICMPv6 echo with checksums (RFC 792, RFC 4443 §2.3)', () => {
    const v4 = eth().ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).icmp({ type: 8, id: 1, seq: 2 }).payload('ping').build();
    const v6 = eth().ipv6({ src: 'fd00::1', dst: 'fd00::2' }).icmpv6({ type: 128, id: 1, seq: 2 }).payload('ping').build();
    assert.equal(internetChecksum(v4.subarray(34)), 0);
    for (const f of [v4, v6]) {
      const p = parsePacket(f);
      const ic = p.layers[2];
      assert.equal(ic.fields.rest, '00010002');
      assert.ok(ic.checksum?.ok, `${ic.name} checksum valid`);
    }
    assert.equal(layer(parsePacket(v6), 'icmpv6')!.fields.type, 128);
  });

  test('a bare IP packet parses with start: ipv4 / ipv6', () => {
    const p = parsePacket(packet().ipv6({ src: 'fd00::1', dst: 'fd00::2' }).udp({ sport: 1, dport: 2 }).build(), { start: 'ipv6' });
    assert.deepEqual(p.layers.map((l) => l.name), ['ipv6', 'udp']);
    assert.ok(p.layers[1].checksum?.ok);
  });

  test('every truncation of a frame parses without throwing and says where it stopped', () => {
    const f = eth().vlan(7).ipv6({ src: 'fd00::1', dst: 'fd00::2' }).ipv6ext('hop').ipv4({ src: '1.1.1.1', dst: '2.2.2.2', options: Buffer.alloc(4, 1) })
      .tcp({ sport: 1, dport: 2, options: Buffer.alloc(8, 1) }).build();
    for (let n = 0; n < f.length; n++) {
      const p = parsePacket(f.subarray(0, n));
      assert.ok(p.error && /truncated at \d+/.test(p.error), `cut at ${n}: ${p.error}`);
    }
    assert.equal(parsePacket(f).error, undefined);
  });

  test('checksums are flagged per layer when a byte is corrupted', () => {
    const f = eth().ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).payload('data').build();
    const bad = Buffer.from(f);
    bad[14 + 8] = 1; // TTL: breaks only the IPv4 header checksum
    assert.match(checksumReport(bad), /^ipv4 checksum: 0x[0-9a-f]{4}, correct 0x[0-9a-f]{4}$/);
    const bad2 = Buffer.from(f);
    bad2[f.length - 1] ^= 0xff; // payload: breaks only the UDP checksum
    assert.match(checksumReport(bad2), /^udp checksum/);
  });
});

test('tcpdump -vv verifies the builder checksums independently', needsCommand('tcpdump'), () => {
  const frames = [
    eth().ipv4({ src: '198.51.100.7', dst: '10.0.0.10', options: Buffer.from([1, 1, 1, 0]) }).tcp({ sport: 40000, dport: 80, flags: 'S', options: Buffer.from([2, 4, 5, 0xb4]) }).build(),
    eth().ipv4({ src: '198.51.100.7', dst: '10.0.0.10' }).udp({ sport: 4000, dport: 53 }).payload('abc').build(),
    eth().vlan(5).ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }).tcp({ sport: 1, dport: 443, flags: 'PA' }).payload('xyz').build(),
    eth().ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }).udp({ sport: 1, dport: 53 }).payload('odd').build(),
    eth().ipv6({ src: '2001:db8::1', dst: '2001:db8::2' }).icmpv6({ type: 128, id: 9, seq: 1 }).build(),
    eth().ipv4({ src: '10.9.0.1', dst: '10.9.0.2' }).ipv4({ src: '198.51.100.7', dst: '10.0.0.10' }).tcp({ sport: 1, dport: 80, flags: 'S' }).build(),
  ];
  // pcap file format (libpcap, LINKTYPE_ETHERNET = 1).
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0); hdr.writeUInt16LE(2, 4); hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16); hdr.writeUInt32LE(1, 20);
  const recs = frames.flatMap((f) => {
    const r = Buffer.alloc(16);
    r.writeUInt32LE(f.length, 8); r.writeUInt32LE(f.length, 12);
    return [r, f];
  });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-harness-'));
  try {
    const file = path.join(dir, 'b.pcap');
    fs.writeFileSync(file, Buffer.concat([hdr, ...recs]));
    const text = execFileSync('tcpdump', ['-nn', '-vv', '-r', file], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    assert.doesNotMatch(text, /incorrect|bad cksum|wrong/i, text);
    const correct = (text.match(/cksum 0x[0-9a-f]+ \(correct\)|sum ok/g) ?? []).length;
    // IPv4 header checksums are printed only when wrong; count the transport ones tcpdump verified.
    assert.equal(correct, frames.length, `tcpdump confirmed ${correct} checksums:\n${text}`);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
