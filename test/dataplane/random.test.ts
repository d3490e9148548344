// 100,000 random frames through the director's lb program (seeded, reproducible): fully random
// bytes and valid packets toward the VIPs with random defects. Whatever the program does, an
// XDP_TX frame must be a correct forward to a real of the VIP the packet was addressed to (DR:
// only the MACs changed; TUN: one outer header toward the real, the original IP packet intact),
// nothing is ever redirected or aborted, and each packet is counted under exactly one reason.
//
// Reproduce a failure with XLVS_RANDOM_SEED=<seed printed in the test name>.
import { test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { pinThreadToCpu } from '../../src/loader';
import { Dataplane } from '../../src/dataplane/dataplane';
import { eth, ip6 } from '../lib/packet';
import { parsePacket, layer } from '../lib/packet-parse';
import { XDP, verdictName, SMALL_TEST_TABLES } from '../lib/fixtures';
import { needsBpf } from '../lib/env';

const N = 100_000;
const SEED = Number(process.env.XLVS_RANDOM_SEED ?? 0x5eed2024) >>> 0;
const PIN_DIR = `/sys/fs/bpf/xlvs-test-random-${process.pid}`;
const DIR_MAC = '02:00:00:00:00:fe';
const TUN4 = '10.1.0.1';
const TUN6 = 'fd00:1::1';
const TABLE_SIZE = 251; // small prime (Maglev §3.4): setup stays quick

interface Vip { address: string; port: number; protocol: 'tcp' | 'udp'; method: 'dr' | 'tun'; reals: { id: number; address: string; mac: string }[] }
const VIPS: Vip[] = [
  { address: '10.0.0.10', port: 80, protocol: 'tcp', method: 'dr', reals: [] },
  { address: '10.0.0.10', port: 53, protocol: 'udp', method: 'dr', reals: [] },
  { address: '2001:db8::10', port: 80, protocol: 'tcp', method: 'dr', reals: [] },
  { address: '10.0.0.20', port: 80, protocol: 'tcp', method: 'tun', reals: [] },
  { address: '2001:db8::20', port: 53, protocol: 'udp', method: 'tun', reals: [] },
  { address: '10.0.0.30', port: 0, protocol: 'tcp', method: 'dr', reals: [] }, // every port
];
VIPS.forEach((v, i) => {
  for (let k = 1; k <= 3; k++) {
    v.reals.push({
      id: (i + 1) * 10 + k,
      address: v.address.includes(':') ? `fd00::${i + 1}:${k}` : `10.2.${i + 1}.${k}`,
      mac: `02:00:00:00:${(i + 1).toString(16).padStart(2, '0')}:${k.toString(16).padStart(2, '0')}`,
    });
  }
});

/** mulberry32 (Tommy Ettinger, public domain): small, fast, good enough to drive a fuzzer. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

let dp: Dataplane | undefined;

before(() => {
  if (needsBpf().skip) return;
  pinThreadToCpu(0); // per-CPU conn table and counters follow the thread (docs/lab-notes.md)
  dp = Dataplane.create({ pinDir: PIN_DIR, mac: DIR_MAC, tunSource4: TUN4, tunSource6: TUN6, tables: SMALL_TEST_TABLES });
  for (const v of VIPS) {
    dp.vips.upsert({ address: v.address, port: v.port, protocol: v.protocol, method: v.method, tableSize: TABLE_SIZE });
    dp.reals.set(v, v.reals.map((r) => ({ ...r, weight: 1, state: 'up' as const })));
  }
});
after(() => dp?.destroy());

/** Valid frames toward every VIP (plain and 802.1Q), the seeds of the mutations. */
function seeds(): Buffer[] {
  const out: Buffer[] = [];
  for (const v of VIPS) {
    for (const vlan of [false, true]) {
      let b = eth({ src: '02:00:00:00:00:01', dst: DIR_MAC });
      if (vlan) b = b.vlan(7);
      const six = v.address.includes(':');
      b = six ? b.ipv6({ src: '2001:db8:100::7', dst: v.address, hopLimit: 64 }) : b.ipv4({ src: '198.51.100.7', dst: v.address, ttl: 64, df: true });
      const dport = v.port || 8080;
      b = v.protocol === 'tcp' ? b.tcp({ sport: 40000, dport, flags: 'S' }) : b.udp({ sport: 5000, dport });
      out.push(b.payload('payload-bytes').build());
    }
  }
  return out;
}

/** One random frame: ~25% random bytes, the rest a seed with 0–4 defects. */
function generate(rnd: () => number, bases: Buffer[]): Buffer {
  const int = (n: number) => Math.floor(rnd() * n);
  if (rnd() < 0.25) {
    const f = Buffer.alloc(14 + int(120));
    for (let i = 0; i < f.length; i++) f[i] = int(256);
    const types = [0x0800, 0x86dd, 0x8100, 0x0806, int(65536)];
    f.writeUInt16BE(types[int(types.length)], 12);
    return f;
  }
  let f = Buffer.from(bases[int(bases.length)]);
  const l2 = f.readUInt16BE(12) === 0x8100 ? 18 : 14;
  const six = f.readUInt16BE(l2 - 2) === 0x86dd;
  const l4 = l2 + (six ? 40 : 20);
  const mutations = int(5);
  for (let m = 0; m < mutations; m++) {
    switch (int(9)) {
      case 0: { const i = int(Math.min(f.length, l4 + 20)); f[i] ^= 1 << int(8); break; } // flip a header bit
      case 1: f[int(f.length)] = int(256); break; // any byte
      case 2: f = f.subarray(0, 14 + int(f.length - 13)); break; // truncate (>= 14: ETH_HLEN)
      case 3: f = Buffer.concat([f, Buffer.alloc(1 + int(40), int(256))]); break; // trailing bytes
      case 4: { const at = l2 + (six ? 4 : 2); if (f.length >= at + 2) f.writeUInt16BE(int(65536), at); break; } // IP length
      case 5: if (f.length > l2 + 8) f[l2 + (six ? 7 : 8)] = int(4); break; // TTL / hop limit 0..3
      case 6: if (!six && f.length > l2) f[l2] = 0x40 | int(16); else if (f.length > l2 + 6) f[l2 + 6] = [0, 43, 44, 60, 6, 17, 58][int(7)]; break; // IHL / next header
      case 7: if (f.length > l4 + 13) f[l4 + 12] = int(256); break; // TCP data offset (UDP: length high byte)
      case 8: if (f.length > l4 + 3) f.writeUInt16BE(int(65536), l4 + 2); break; // destination port
    }
  }
  return f;
}

function realOf(id: number) {
  for (const v of VIPS) for (const r of v.reals) if (r.id === id) return { vip: v, real: r };
  return undefined;
}

/** The VIP a frame is addressed to, by the same rule as the program: exact port, then port 0. */
function vipFor(input: Buffer): Vip | undefined {
  const p = parsePacket(input);
  const ip = layer(p, 'ipv4') ?? layer(p, 'ipv6');
  const l4 = layer(p, 'tcp') ?? layer(p, 'udp');
  if (!ip || !l4) return undefined;
  const dst = String(ip.fields.dst);
  const protocol = l4.name as 'tcp' | 'udp';
  return VIPS.find((v) => canon(v.address) === dst && v.protocol === protocol && v.port === l4.fields.dport)
    ?? VIPS.find((v) => canon(v.address) === dst && v.protocol === protocol && v.port === 0);
}
const canon = (a: string) => (a.includes(':') ? parsePacket(Buffer.concat([Buffer.from('60000000000000ff', 'hex'), ip6(a), ip6(a)]), { start: 'ipv6' }).layers[0].fields.dst as string : a);
const macHex = (m: string) => m.replace(/:/g, '');

/** '' when `out` is a correct forward of `input`; otherwise what is wrong. */
function checkForward(input: Buffer, out: Buffer): string {
  const vip = vipFor(input);
  if (!vip) return 'forwarded a packet that is not addressed to any VIP port';
  if (out.subarray(6, 12).toString('hex') !== macHex(DIR_MAC)) return `source MAC ${out.subarray(6, 12).toString('hex')} is not the director's`;
  const dmac = out.subarray(0, 6).toString('hex');
  const real = vip.reals.find((r) => macHex(r.mac) === dmac);
  if (!real) return `destination MAC ${dmac} is not a real of ${vip.address}:${vip.port}/${vip.protocol}`;
  const l2 = input.readUInt16BE(12) === 0x8100 ? 18 : 14;
  if (vip.method === 'dr') {
    if (!out.subarray(12).equals(input.subarray(12))) return 'DR changed bytes after the MAC addresses';
    return '';
  }
  // TUN: same L2 (tag kept), outer header toward the real, the original IP packet after it.
  const outer6 = real.address.includes(':');
  const olen = outer6 ? 40 : 20;
  if (out.length !== input.length + olen) return `TUN output is ${out.length} bytes, expected ${input.length + olen}`;
  if (l2 === 18 && !out.subarray(12, 16).equals(input.subarray(12, 16))) return 'TUN lost the 802.1Q tag';
  if (out.readUInt16BE(l2 - 2) !== (outer6 ? 0x86dd : 0x0800)) return 'TUN ethertype does not match the outer header';
  if (!out.subarray(l2 + olen).equals(input.subarray(l2))) return 'TUN changed the inner packet';
  const p = parsePacket(out.subarray(0, l2 + olen + 1));
  const o = p.layers.find((x) => x.name === (outer6 ? 'ipv6' : 'ipv4'));
  if (!o) return 'TUN output has no outer IP header';
  if (o.fields.dst !== canon(real.address)) return `outer destination ${o.fields.dst} is not real ${real.address}`;
  if (o.fields.src !== (outer6 ? canon(TUN6) : TUN4)) return `outer source ${o.fields.src} is not the TUN source`;
  const innerVersion = input[l2] >> 4;
  const proto = outer6 ? o.fields.nextHeader : o.fields.protocol;
  if (proto !== (innerVersion === 4 ? 4 : 41)) return `outer protocol ${proto} does not match inner IPv${innerVersion}`;
  if (!outer6) {
    if (o.fields.totalLength !== input.length - l2 + 20 && o.fields.totalLength !== 20 + ipLen(input, l2)) return `outer total length ${o.fields.totalLength} is wrong`;
    if (!o.checksum?.ok) return 'outer IPv4 checksum is wrong';
  }
  return '';
}
function ipLen(f: Buffer, l2: number): number {
  return f[l2] >> 4 === 4 ? f.readUInt16BE(l2 + 2) : 40 + f.readUInt16BE(l2 + 4);
}

test(`${N} random frames (seed 0x${SEED.toString(16)}): every XDP_TX is a correct forward to a configured real`, needsBpf(), (t) => {
  const rnd = prng(SEED);
  const bases = seeds();
  const before = dp!.stats.counters().reasons;
  const seen: Record<string, number> = {};
  const problems: string[] = [];
  let tx = 0, drop = 0;
  for (let i = 0; i < N; i++) {
    const input = generate(rnd, bases);
    const r = dp!.program.testRun(Buffer.from(input));
    const v = verdictName(r.retval);
    seen[v] = (seen[v] ?? 0) + 1;
    if (r.retval === XDP.XDP_TX) {
      tx++;
      const why = checkForward(input, r.data);
      if (why && problems.length < 10) problems.push(`#${i} ${why}\n  in:  ${input.toString('hex')}\n  out: ${r.data.toString('hex')}`);
    } else if (r.retval === XDP.XDP_DROP) {
      drop++;
    } else if (r.retval !== XDP.XDP_PASS) {
      if (problems.length < 10) problems.push(`#${i} verdict ${v}\n  in: ${input.toString('hex')}`);
    } else if (!r.data.equals(input)) {
      if (problems.length < 10) problems.push(`#${i} XDP_PASS changed the frame\n  in:  ${input.toString('hex')}\n  out: ${r.data.toString('hex')}`);
    }
  }
  assert.equal(problems.length, 0, `verdicts ${JSON.stringify(seen)}; first problems:\n${problems.join('\n')}`);

  // Each packet counted once, under a reason that agrees with its verdict.
  const after = dp!.stats.counters().reasons;
  const d = (k: keyof typeof after) => Number(after[k] - before[k]);
  const total = (Object.keys(after) as (keyof typeof after)[]).reduce((s, k) => s + d(k), 0);
  assert.equal(total, N, 'reason counters sum to the number of packets');
  assert.equal(d('tx_dr') + d('tx_tun') + d('tx_too_big'), tx, 'TX reasons match XDP_TX verdicts');
  assert.equal(d('malformed') + d('drop_too_big') + d('config') + d('internal'), drop, 'drop reasons match XDP_DROP verdicts');
  assert.equal(d('internal'), 0, 'no helper failed');
  t.diagnostic(`verdicts ${JSON.stringify(seen)}; reasons ${JSON.stringify(Object.fromEntries(Object.keys(after).map((x) => [x, d(x as keyof typeof after)]).filter(([, n]) => n)))}`);
  // The mix must reach every branch that matters, or the run proves little.
  for (const k of ['tx_dr', 'tx_tun', 'malformed', 'not_vip', 'not_ip', 'ttl', 'fragment', 'ip_options', 'ipv6_ext', 'proto'] as const) {
    assert.ok(d(k) > 0, `no packet reached reason ${k}: ${JSON.stringify(Object.fromEntries(Object.keys(after).map((x) => [x, d(x as keyof typeof after)])))}`);
  }
});
