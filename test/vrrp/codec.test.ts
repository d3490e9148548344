// Codec against keepalived's own adverts (vectors/*.pcap), every receive check as a table of
// mutations, truncation at every length, and our adverts read back by tcpdump.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { readPcap, writePcap, ethIpv4 } from './pcap';
import { decodeIpv4, decodeAdvert, checkAdvert, encodeAdvert, encodeIpv4, ipToBytes, bytesToIp } from '../../src/vrrp/codec';
import { garpFrame } from '../../src/sys/rawsock';
import { isXlvsError } from '../../src/errors';
import { repoRoot } from '../../src/paths';
import { needsCommand } from '../lib/env';

// keepalived 2.2.7's own adverts, captured in namespaces (test/vrrp/vectors/README.md).
const VECTORS = path.join(repoRoot(), 'test', 'vrrp', 'vectors');
const ETH_HDR = 14;

/** RFC 1071 checksum, written again here so tests do not trust the production one. */
function cksum(...bufs: Buffer[]): number {
  const all = Buffer.concat(bufs);
  let s = 0;
  for (let i = 0; i < all.length; i += 2) s += (all[i] << 8) + (i + 1 < all.length ? all[i + 1] : 0);
  while (s >> 16) s = (s & 0xffff) + (s >> 16);
  return ~s & 0xffff;
}

function vrrpFrames(file: string) {
  return readPcap(path.join(VECTORS, file)).filter((r) => r.frame.readUInt16BE(12) === 0x0800 && r.frame[ETH_HDR + 9] === 112);
}

const keepalivedV2 = { version: 2 as const, intervalMs: 1000, authPass: 's3cret', addresses: ['10.99.0.200'] };

for (const [file, version, dst] of [
  ['vrrp-keepalived.pcap', 2, '224.0.0.18'],
  ['vrrp-keepalived-unicast.pcap', 2, 'peer'], // both directions: 10.99.0.21 <-> 10.99.0.22
  ['vrrp-keepalived-v3.pcap', 3, '224.0.0.18'],
] as const) {
  test(`decodes keepalived's adverts in ${file} and re-encodes them to identical bytes`, () => {
    const frames = vrrpFrames(file);
    assert.ok(frames.length >= 2, `${file}: expected VRRP frames`);
    for (const [i, r] of frames.entries()) {
      const pkt = r.frame.subarray(ETH_HDR);
      const ip = decodeIpv4(pkt);
      assert.ok(ip.ok, `frame ${i}: ${JSON.stringify(ip)}`);
      assert.equal(ip.header.ttl, 255);
      assert.equal(ip.header.tos, 0xc0);
      if (dst === 'peer') assert.equal(ip.header.dst, ip.header.src === '10.99.0.21' ? '10.99.0.22' : '10.99.0.21');
      else assert.equal(ip.header.dst, dst);
      const d = decodeAdvert(ip.payload, { family: 4, src: ip.header.src, dst: ip.header.dst, ttl: ip.header.ttl });
      assert.ok(d.ok, `frame ${i}: ${JSON.stringify(d)}`);
      const a = d.advert;
      assert.equal(a.version, version);
      assert.equal(a.vrid, 51);
      assert.ok([0, 99, 100].includes(a.priority), `priority ${a.priority}`);
      assert.equal(a.intervalMs, 1000);
      assert.deepEqual(a.addresses, ['10.99.0.200']);
      if (version === 2) {
        assert.equal(a.authType, 1);
        assert.equal(a.authData!.toString('latin1'), 's3cret\0\0');
        assert.deepEqual(checkAdvert(a, keepalivedV2), { ok: true });
      } else {
        assert.deepEqual(checkAdvert(a, { version: 3, intervalMs: 1000, authPass: null, addresses: ['10.99.0.200'] }), { ok: true });
      }
      const msg = encodeAdvert({ version: a.version, vrid: a.vrid, priority: a.priority, intervalMs: a.intervalMs, addresses: a.addresses, authPass: version === 2 ? 's3cret' : null, src: ip.header.src, dst: ip.header.dst });
      const again = encodeIpv4({ src: ip.header.src, dst: ip.header.dst, id: ip.header.id }, msg);
      assert.equal(again.toString('hex'), pkt.toString('hex'), `frame ${i} re-encoded differently`);
    }
  });
}

test("our gratuitous ARP frame is byte-identical to keepalived's", () => {
  const arps = readPcap(path.join(VECTORS, 'vrrp-keepalived.pcap')).filter((r) => r.frame.readUInt16BE(12) === 0x0806);
  assert.ok(arps.length >= 1);
  const f = arps[0].frame.subarray(0, 42);
  const mac = f.subarray(6, 12);
  const vip = Array.from(f.subarray(28, 32)).join('.');
  assert.equal(vip, '10.99.0.200');
  assert.equal(garpFrame(mac, vip).toString('hex'), f.toString('hex'));
});

// ---------------------------------------------------------------- receive checks

/** keepalived's first v2 advert, as a mutable copy with helpers to fix checksums after edits. */
function sample() {
  const pkt = Buffer.from(vrrpFrames('vrrp-keepalived.pcap')[0].frame.subarray(ETH_HDR));
  return { ip: pkt.subarray(0, 20), vrrp: pkt.subarray(20), pkt };
}
function fixV2(v: Buffer): void { v.writeUInt16BE(0, 6); v.writeUInt16BE(cksum(v), 6); }

const rejectTable: { name: string; mutate: (s: ReturnType<typeof sample>) => Buffer; want: string; stage: 'decode' | 'check'; expect?: Partial<typeof keepalivedV2> }[] = [
  { name: 'TTL 254', mutate: (s) => { s.ip[8] = 254; return s.pkt; }, want: 'bad-ttl', stage: 'decode' },
  { name: 'checksum off by one', mutate: (s) => { s.vrrp.writeUInt16BE(s.vrrp.readUInt16BE(6) ^ 1, 6); return s.pkt; }, want: 'bad-checksum', stage: 'decode' },
  { name: 'version 4', mutate: (s) => { s.vrrp[0] = 0x41; fixV2(s.vrrp); return s.pkt; }, want: 'bad-version', stage: 'decode' },
  { name: 'type 2', mutate: (s) => { s.vrrp[0] = 0x22; fixV2(s.vrrp); return s.pkt; }, want: 'bad-type', stage: 'decode' },
  { name: 'address count 3 in a 1-address message', mutate: (s) => { s.vrrp[3] = 3; fixV2(s.vrrp); return s.pkt; }, want: 'bad-length', stage: 'decode' },
  { name: 'address count 0', mutate: (s) => { s.vrrp[3] = 0; fixV2(s.vrrp); return s.pkt; }, want: 'bad-length', stage: 'decode' },
  { name: 'wrong password', mutate: (s) => { s.vrrp[12] = 0x78; fixV2(s.vrrp); return s.pkt; }, want: 'auth-mismatch', stage: 'check' },
  { name: 'no authentication when PASS is configured', mutate: (s) => { s.vrrp[4] = 0; fixV2(s.vrrp); return s.pkt; }, want: 'auth-type-mismatch', stage: 'check' },
  { name: 'PASS received when none is configured', mutate: (s) => s.pkt, want: 'auth-type-mismatch', stage: 'check', expect: { authPass: null as unknown as string } },
  { name: 'advert interval 2 s vs 1 s', mutate: (s) => { s.vrrp[5] = 2; fixV2(s.vrrp); return s.pkt; }, want: 'interval-mismatch', stage: 'check' },
  { name: 'different VIP', mutate: (s) => { s.vrrp[11] = 201; fixV2(s.vrrp); return s.pkt; }, want: 'address-mismatch', stage: 'check' },
  { name: 'v2 advert for a v3 instance', mutate: (s) => s.pkt, want: 'bad-version', stage: 'check', expect: { version: 3 as unknown as 2 } },
  { name: 'extra VIP configured locally', mutate: (s) => s.pkt, want: 'address-mismatch', stage: 'check', expect: { addresses: ['10.99.0.200', '10.99.0.201'] } },
];

for (const row of rejectTable) {
  test(`rejects: ${row.name} → ${row.want}`, () => {
    const s = sample();
    const pkt = row.mutate(s);
    const ip = decodeIpv4(pkt);
    assert.ok(ip.ok);
    const d = decodeAdvert(ip.payload, { family: 4, src: ip.header.src, dst: ip.header.dst, ttl: ip.header.ttl });
    if (row.stage === 'decode') {
      assert.equal(d.ok, false);
      assert.equal(!d.ok && d.reason, row.want);
      return;
    }
    assert.ok(d.ok, JSON.stringify(d));
    const c = checkAdvert(d.advert, { ...keepalivedV2, ...row.expect });
    assert.equal(c.ok, false);
    assert.equal(!c.ok && c.reason, row.want);
  });
}

test('every truncation of a v2 and a v3 advert is rejected, never thrown', () => {
  for (const file of ['vrrp-keepalived.pcap', 'vrrp-keepalived-v3.pcap']) {
    const pkt = vrrpFrames(file)[0].frame.subarray(ETH_HDR);
    for (let n = 0; n < pkt.length; n++) {
      const cut = pkt.subarray(0, n);
      const ip = decodeIpv4(cut);
      if (!ip.ok) continue;
      const d = decodeAdvert(ip.payload.subarray(0, Math.max(0, n - 20)), { family: 4, src: ip.header.src, dst: ip.header.dst, ttl: ip.header.ttl });
      assert.equal(d.ok, false, `${file} cut at ${n} decoded`);
    }
  }
});

test('VRRPv3 over IPv6: checksum over the RFC 8200 pseudo-header, 16-byte addresses', () => {
  const src = 'fe80::1c8a:37ff:feab:bc67', dst = 'ff02::12';
  const msg = encodeAdvert({ version: 3, vrid: 7, priority: 150, intervalMs: 100, addresses: ['2001:db8::10', '2001:db8::11'], src, dst });
  assert.equal(msg.length, 8 + 32);
  assert.equal(msg[0], 0x31);
  assert.equal(msg.readUInt16BE(4), 10); // 100 ms = 10 centiseconds
  const pseudo = Buffer.alloc(40);
  ipToBytes(src).copy(pseudo, 0); ipToBytes(dst).copy(pseudo, 16);
  pseudo.writeUInt32BE(msg.length, 32); pseudo[39] = 112;
  assert.equal(cksum(pseudo, msg), 0, 'independent checksum does not verify');
  const d = decodeAdvert(msg, { family: 6, src, dst, ttl: 255 });
  assert.ok(d.ok, JSON.stringify(d));
  assert.deepEqual(d.advert.addresses, ['2001:db8::10', '2001:db8::11']);
  assert.equal(d.advert.intervalMs, 100);
  const wrongSrc = decodeAdvert(msg, { family: 6, src: 'fe80::2', dst, ttl: 255 });
  assert.equal(!wrongSrc.ok && wrongSrc.reason, 'bad-checksum');
  const v2over6 = Buffer.from(msg); v2over6[0] = 0x21;
  assert.equal((decodeAdvert(v2over6, { family: 6, src, dst, ttl: 255 }) as { reason: string }).reason, 'address-family');
  assert.equal(bytesToIp(ipToBytes('2001:db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1');
});

test('encode refuses values that do not fit, with E_CODEC naming the field', () => {
  const base = { version: 2 as const, vrid: 1, priority: 100, intervalMs: 1000, addresses: ['10.0.0.1'] };
  const cases: [object, RegExp][] = [
    [{ vrid: 0 }, /vrid: 0/],
    [{ priority: 256 }, /priority: 256/],
    [{ intervalMs: 1500 }, /advert interval/],
    [{ addresses: [] }, /address count/],
    [{ addresses: ['2001:db8::1'] }, /IPv4 addresses only/],
    [{ version: 3, intervalMs: 50_000, src: '10.0.0.1', dst: '224.0.0.18' }, /max advert interval/],
    [{ version: 3 }, /pseudo-header/],
  ];
  for (const [over, re] of cases) {
    assert.throws(() => encodeAdvert({ ...base, ...over } as Parameters<typeof encodeAdvert>[0]), (e: unknown) => isXlvsError(e, 'E_CODEC') && re.test((e as Error).message), JSON.stringify(over));
  }
});

test('tcpdump reads our adverts with a good checksum', needsCommand('tcpdump'), () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-vrrp-codec-'));
  try {
    const mac = Buffer.from('020000000001', 'hex');
    const mcast = Buffer.from('01005e000012', 'hex');
    const v2 = encodeIpv4({ src: '10.9.0.1', dst: '224.0.0.18', id: 1 }, encodeAdvert({ version: 2, vrid: 51, priority: 100, intervalMs: 1000, addresses: ['10.9.0.200', '10.9.0.201'], authPass: 'secret-longer-than-8' }));
    const v3 = encodeIpv4({ src: '10.9.0.1', dst: '224.0.0.18', id: 2 }, encodeAdvert({ version: 3, vrid: 52, priority: 254, intervalMs: 100, addresses: ['10.9.0.202'], src: '10.9.0.1', dst: '224.0.0.18' }));
    const file = path.join(dir, 'ours.pcap');
    writePcap(file, [ethIpv4(mac, mcast, v2), ethIpv4(mac, mcast, v3)]);
    const out = execFileSync('tcpdump', ['-r', file, '-vv', '-n'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(out, /VRRPv2, Advertisement, vrid 51, prio 100, authtype simple, intvl 1s, length 24, addrs\(2\): 10\.9\.0\.200,10\.9\.0\.201 auth "secret-l"/);
    assert.match(out, /VRRPv3, Advertisement, vrid 52, prio 254, intvl 10cs, length 12, addrs: 10\.9\.0\.202/);
    assert.doesNotMatch(out, /bad|wrong/i);
    // tcpdump does flag a broken checksum: the check above could fail.
    v2[20 + 6] ^= 0xff;
    writePcap(file, [ethIpv4(mac, mcast, v2)]);
    const bad = execFileSync('tcpdump', ['-r', file, '-vv', '-n'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    assert.match(bad, /bad vrrp cksum/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
