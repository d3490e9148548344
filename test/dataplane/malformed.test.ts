// The director's lb program against a malformed corpus (docs/DEVELOPING.md: "truncate at every header
// boundary and feed it"). Every packet is aimed at a configured VIP that has reals, so a parser
// that let it through would forward it: each must be passed or dropped — never XDP_TX or
// XDP_REDIRECT — and counted under exactly its reason, with no VIP/real traffic counted.
//
// Base packets: IPv4/TCP, IPv4/UDP, IPv6/TCP, IPv6/UDP, each plain and 802.1Q-tagged. Each base
// packet is first shown to be forwarded (so the corpus is one defect away from valid), then cut
// at every length from the Ethernet header to one byte short, then given one defect at a time.
import { test, describe, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { pinThreadToCpu } from '../../src/loader';
import { Dataplane } from '../../src/dataplane/dataplane';
import { eth, PacketBuilder } from '../lib/packet';
import { checkFixture, FixtureContext, FixtureRow, Verdict, SMALL_TEST_TABLES } from '../lib/fixtures';
import { needsBpf } from '../lib/env';

const DIR_MAC = '02:00:00:00:00:fe';
const CLIENT_MAC = '02:00:00:00:00:01';
const VIP4 = '10.0.0.10';
const VIP6 = '2001:db8::10';
const C4 = '198.51.100.7';
const C6 = '2001:db8:100::7';
const PIN_DIR = `/sys/fs/bpf/xlvs-test-malformed-${process.pid}`;

/** VIPs and two reals each, all DR, all up. */
const VIPS = [
  { n: 1, address: VIP4, port: 80, protocol: 'tcp' as const },
  { n: 2, address: VIP4, port: 53, protocol: 'udp' as const },
  { n: 3, address: VIP6, port: 80, protocol: 'tcp' as const },
  { n: 4, address: VIP6, port: 53, protocol: 'udp' as const },
];
/** A small prime table (Maglev §3.4 needs M prime); 65537 would only slow the setup. */
const TABLE_SIZE = 251;

/** Which verdict each reason maps to in bpf/include/stats.h lb_exit(). */
const REASON_VERDICT: Record<string, Verdict> = {
  tx_dr: 'XDP_TX', tx_tun: 'XDP_TX', tx_too_big: 'XDP_TX',
  malformed: 'XDP_DROP', drop_too_big: 'XDP_DROP', config: 'XDP_DROP', internal: 'XDP_DROP',
};
const verdictOf = (reason: string): Verdict => REASON_VERDICT[reason] ?? 'XDP_PASS';

let dp: Dataplane | undefined;

/** Creates the data plane (pinned under PIN_DIR) with the VIPs and their reals. */
function loadLb(): void {
  pinThreadToCpu(0); // per-CPU maps follow the calling thread (docs/lab-notes.md)
  dp = Dataplane.create({ pinDir: PIN_DIR, mac: DIR_MAC, tunSource4: '10.1.0.1', tunSource6: 'fd00:1::1', tables: SMALL_TEST_TABLES });
  for (const v of VIPS) {
    dp.vips.upsert({ address: v.address, port: v.port, protocol: v.protocol, method: 'dr', tableSize: TABLE_SIZE });
    dp.reals.set({ address: v.address, port: v.port, protocol: v.protocol }, [1, 2].map((k) => ({
      id: v.n * 10 + k,
      address: v.address.includes(':') ? `fd00::${v.n}:${k}` : `10.2.${v.n}.${k}`,
      mac: `02:00:00:00:0${v.n}:0${k}`, weight: 1, state: 'up' as const,
    })));
  }
}

function readCounters(): Record<string, bigint> {
  const c = dp!.stats.counters();
  const out: Record<string, bigint> = { ...c.reasons };
  // Traffic counted to any VIP or real: a dropped or passed packet must not appear here.
  out.vip_packets = c.vips.reduce((a, v) => a + v.packets, 0n);
  out.real_packets = c.reals.reduce((a, r) => a + r.packets, 0n);
  return out;
}

const ctx: FixtureContext = {
  testRun: (d) => dp!.program.testRun(d),
  readCounters,
  strictCounters: 'all',
};

/** Runs rows; fails listing the first problems (a corpus of thousands is one test, not thousands). */
async function runCorpus(rows: FixtureRow[]): Promise<void> {
  const problems: string[] = [];
  for (const row of rows) {
    const p = await checkFixture(row, ctx);
    if (p) problems.push(`${row.name}:\n  ${p.split('\n').join('\n  ')}`);
  }
  assert.equal(problems.length, 0, `${problems.length} of ${rows.length} rows failed:\n${problems.slice(0, 15).join('\n')}`);
}

const reasonRow = (name: string, packet: Buffer, reason: string, output?: 'unchanged'): FixtureRow =>
  ({ name, packet, verdict: verdictOf(reason), counters: { [reason]: 1 }, output: output ?? (verdictOf(reason) === 'XDP_PASS' ? 'unchanged' : undefined) });

interface Base { name: string; v6: boolean; udp: boolean; vlan: boolean }
const BASES: Base[] = [false, true].flatMap((vlan) => [false, true].flatMap((v6) => [false, true].map((udp) => ({
  name: `${v6 ? 'IPv6' : 'IPv4'}/${udp ? 'UDP' : 'TCP'}${vlan ? ' VLAN' : ''}`, v6, udp, vlan,
}))));

type IpOver = Record<string, unknown>;
/** A base packet toward its VIP with optional overrides of the IP and L4 layers. */
function build(b: Base, o: { ip?: IpOver; l4?: Record<string, unknown>; ext?: (p: PacketBuilder) => PacketBuilder; payload?: string } = {}): Buffer {
  let p = eth({ src: CLIENT_MAC, dst: DIR_MAC });
  if (b.vlan) p = p.vlan(100);
  p = b.v6
    ? p.ipv6({ src: C6, dst: VIP6, hopLimit: 64, ...(o.ip ?? {}) })
    : p.ipv4({ src: C4, dst: VIP4, ttl: 64, id: 1, df: true, ...(o.ip ?? {}) });
  if (o.ext) p = o.ext(p);
  p = b.udp
    ? p.udp({ sport: 5000, dport: 53, ...(o.l4 ?? {}) })
    : p.tcp({ sport: 40000, dport: 80, flags: 'S', seq: 1, ...(o.l4 ?? {}) });
  return p.payload(o.payload ?? 'data').build();
}

describe('malformed corpus toward a configured VIP', needsBpf(), () => {
  before(loadLb);
  after(() => dp?.destroy());

  test('each base packet is forwarded (the corpus is one defect from valid)', async () => {
    await runCorpus(BASES.map((b) => ({
      name: b.name, packet: build(b), verdict: 'XDP_TX' as const, counters: { tx_dr: 1, vip_packets: 1, real_packets: 1 },
    })));
  });

  for (const b of BASES) {
    test(`${b.name}: cut at every length from the Ethernet header to one byte short is dropped as malformed`, async () => {
      const full = build(b);
      const rows: FixtureRow[] = [];
      // BPF_PROG_TEST_RUN refuses XDP input shorter than ETH_HLEN (14), so cuts start there.
      for (let n = 14; n < full.length; n++) rows.push(reasonRow(`cut at ${n} of ${full.length}`, full.subarray(0, n), 'malformed'));
      await runCorpus(rows);
    });
  }

  test('IPv4 header defects: IHL, total length, checksum, version, options, fragments, TTL', async () => {
    const rows: FixtureRow[] = [];
    for (const b of BASES.filter((x) => !x.v6)) {
      const hdrLen = 20;
      const l4len = b.udp ? 8 : 20;
      const total = hdrLen + l4len + 4;
      const add = (what: string, packet: Buffer, reason: string) => rows.push(reasonRow(`${b.name} ${what}`, packet, reason));
      for (let ihl = 0; ihl < 5; ihl++) add(`IHL ${ihl}`, build(b, { ip: { ihl } }), 'malformed');
      // IHL larger than the total length (and than the frame) with a correct checksum over 20 bytes.
      add('IHL 15 > total length', build(b, { ip: { ihl: 15 } }), 'malformed');
      add('total length 19 (< header)', build(b, { ip: { totalLength: 19 } }), 'malformed');
      add(`total length ${hdrLen + l4len - 1} (L4 header cut)`, build(b, { ip: { totalLength: hdrLen + l4len - 1 } }), 'malformed');
      add(`total length ${total + 1} (> frame)`, build(b, { ip: { totalLength: total + 1 } }), 'malformed');
      add('total length 65535 (> frame)', build(b, { ip: { totalLength: 65535 } }), 'malformed');
      add('bad header checksum', build(b, { ip: { checksum: 0x1234 } }), 'malformed');
      add('version 6 in an IPv4 ethertype', build(b, { ip: { version: 6 } }), 'malformed');
      add('version 5', build(b, { ip: { version: 5 } }), 'malformed');
      add('options (IHL 6)', build(b, { ip: { options: Buffer.from([1, 1, 1, 0]) } }), 'ip_options');
      add('options (IHL 15, router alert + padding)', build(b, { ip: { options: Buffer.concat([Buffer.from([0x94, 4, 0, 0]), Buffer.alloc(36, 1)]) } }), 'ip_options');
      add('first fragment (MF)', build(b, { ip: { mf: true, df: false } }), 'fragment');
      add('later fragment (offset 1)', build(b, { ip: { fragOffset: 1, df: false } }), 'fragment');
      add('last fragment (offset 185)', build(b, { ip: { fragOffset: 185, df: false } }), 'fragment');
      add('TTL 0', build(b, { ip: { ttl: 0 } }), 'ttl');
      add('TTL 1', build(b, { ip: { ttl: 1 } }), 'ttl');
      add('protocol ICMP', eth({ src: CLIENT_MAC, dst: DIR_MAC }).ipv4({ src: C4, dst: VIP4 }).icmp({ type: 8, id: 1, seq: 1 }).build(), 'proto');
      add('protocol 132 (SCTP) with a TCP-looking body', build(b, { ip: { protocol: 132 } }), 'proto');
    }
    await runCorpus(rows);
  });

  test('IPv6 header defects: payload length, version, extension headers, fragments, hop limit', async () => {
    const rows: FixtureRow[] = [];
    for (const b of BASES.filter((x) => x.v6)) {
      const l4len = b.udp ? 8 : 20;
      const add = (what: string, packet: Buffer, reason: string) => rows.push(reasonRow(`${b.name} ${what}`, packet, reason));
      add(`payload length ${l4len - 1} (L4 header cut)`, build(b, { ip: { payloadLength: l4len - 1 } }), 'malformed');
      add('payload length 0', build(b, { ip: { payloadLength: 0 } }), 'malformed');
      add(`payload length ${l4len + 5} (> frame)`, build(b, { ip: { payloadLength: l4len + 5 } }), 'malformed');
      add('payload length 65535 (> frame)', build(b, { ip: { payloadLength: 65535 } }), 'malformed');
      add('version 4 in an IPv6 ethertype', build(b, { ip: { version: 4 } }), 'malformed');
      add('hop-by-hop header', build(b, { ext: (p) => p.ipv6ext('hop') }), 'ipv6_ext');
      add('routing header', build(b, { ext: (p) => p.ipv6ext('routing', { routingType: 4 }) }), 'ipv6_ext');
      add('destination options', build(b, { ext: (p) => p.ipv6ext('dest') }), 'ipv6_ext');
      add('hop-by-hop then destination options', build(b, { ext: (p) => p.ipv6ext('hop').ipv6ext('dest') }), 'ipv6_ext');
      add('atomic fragment (offset 0, M clear)', build(b, { ext: (p) => p.ipv6ext('fragment', { id: 9 }) }), 'fragment');
      add('first fragment (M)', build(b, { ext: (p) => p.ipv6ext('fragment', { more: true, id: 9 }) }), 'fragment');
      add('later fragment', build(b, { ext: (p) => p.ipv6ext('fragment', { offset: 3, id: 9 }) }), 'fragment');
      add('ESP (50)', build(b, { ip: { nextHeader: 50 } }), 'ipv6_ext');
      add('AH (51)', build(b, { ip: { nextHeader: 51 } }), 'ipv6_ext');
      add('no next header (59)', build(b, { ip: { nextHeader: 59 } }), 'proto');
      add('hop limit 0', build(b, { ip: { hopLimit: 0 } }), 'ttl');
      add('hop limit 1', build(b, { ip: { hopLimit: 1 } }), 'ttl');
      add('ICMPv6 echo', eth({ src: CLIENT_MAC, dst: DIR_MAC }).ipv6({ src: C6, dst: VIP6 }).icmpv6({ type: 128, id: 1, seq: 1 }).build(), 'proto');
    }
    await runCorpus(rows);
  });

  test('IPv6 extension-header packets cut at every length are dropped as malformed', async () => {
    const rows: FixtureRow[] = [];
    for (const b of BASES.filter((x) => x.v6)) {
      for (const [what, ext] of [['hop', (p: PacketBuilder) => p.ipv6ext('hop')], ['fragment', (p: PacketBuilder) => p.ipv6ext('fragment', { more: true })]] as const) {
        const full = build(b, { ext });
        for (let n = 14; n < full.length; n++) rows.push(reasonRow(`${b.name} ${what} cut at ${n}`, full.subarray(0, n), 'malformed'));
      }
    }
    await runCorpus(rows);
  });

  test('IPv4 options and fragment packets cut at every length are dropped as malformed', async () => {
    const rows: FixtureRow[] = [];
    for (const b of BASES.filter((x) => !x.v6)) {
      for (const [what, ip] of [['options', { options: Buffer.from([0x94, 4, 0, 0]) }], ['fragment', { mf: true, df: false }]] as const) {
        const full = build(b, { ip });
        for (let n = 14; n < full.length; n++) rows.push(reasonRow(`${b.name} ${what} cut at ${n}`, full.subarray(0, n), 'malformed'));
      }
    }
    await runCorpus(rows);
  });

  test('TCP and UDP header defects: data offset, UDP length', async () => {
    const rows: FixtureRow[] = [];
    for (const b of BASES) {
      const add = (what: string, packet: Buffer, reason: string) => rows.push(reasonRow(`${b.name} ${what}`, packet, reason));
      if (b.udp) {
        for (const length of [0, 7]) add(`UDP length ${length}`, build(b, { l4: { length } }), 'malformed');
        add('UDP length beyond the IP payload', build(b, { l4: { length: 8 + 4 + 1 } }), 'malformed');
      } else {
        for (const dataOffset of [0, 4]) add(`TCP data offset ${dataOffset}`, build(b, { l4: { dataOffset } }), 'malformed');
        add('TCP data offset beyond the IP payload', build(b, { l4: { dataOffset: 7 } }), 'malformed');
        add('TCP data offset 15 beyond the IP payload', build(b, { l4: { dataOffset: 15 } }), 'malformed');
      }
    }
    await runCorpus(rows);
  });

  test('L2 defects: truncated 802.1Q tag, stacked tags, unknown ethertype', async () => {
    const tagged = build(BASES.find((b) => b.vlan && !b.v6 && !b.udp)!);
    const rows: FixtureRow[] = [
      reasonRow('802.1Q tag cut after its TCI', tagged.subarray(0, 16), 'malformed'),
      reasonRow('802.1Q TPID with no tag after it', tagged.subarray(0, 14), 'malformed'),
      reasonRow('two stacked 802.1Q tags (not parsed)', eth({ src: CLIENT_MAC, dst: DIR_MAC }).vlan(100, 200).ipv4({ src: C4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(), 'not_ip'),
      reasonRow('802.1ad outer tag (not parsed)', eth({ src: CLIENT_MAC, dst: DIR_MAC }).vlan({ id: 100, tpid: 0x88a8 }).ipv4({ src: C4, dst: VIP4 }).tcp({ sport: 1, dport: 80 }).build(), 'not_ip'),
      reasonRow('ARP', Buffer.concat([eth({ src: CLIENT_MAC, dst: DIR_MAC, type: 0x0806 }).build(), Buffer.alloc(28, 1)]), 'not_ip'),
      reasonRow('IPv4 bytes under an IPv6 ethertype', (() => { const f = build(BASES[0]); f.writeUInt16BE(0x86dd, 12); return f; })(), 'malformed'),
    ];
    await runCorpus(rows);
  });

  test('controls: Ethernet padding after the IP packet and TTL 2 are still forwarded', async () => {
    // A defect-free packet with trailing bytes beyond the IP total length (RFC 894 padding) and a
    // TTL that survives one more hop: the checks above must not reject these.
    const rows: FixtureRow[] = [];
    for (const b of BASES) {
      const f = build(b, { ip: b.v6 ? { hopLimit: 2 } : { ttl: 2 } });
      const padded = Buffer.concat([f, Buffer.alloc(6, 0)]);
      rows.push({ name: `${b.name} TTL 2`, packet: f, verdict: 'XDP_TX', counters: { tx_dr: 1, vip_packets: 1, real_packets: 1 } });
      rows.push({ name: `${b.name} padded`, packet: padded, verdict: 'XDP_TX', counters: { tx_dr: 1, vip_packets: 1, real_packets: 1 } });
    }
    await runCorpus(rows);
  });

  test('to a port with no VIP: not_vip, untouched', async () => {
    await runCorpus(BASES.map((b) => reasonRow(`${b.name} to port 81/54`, build(b, { l4: { dport: b.udp ? 54 : 81 } }), 'not_vip')));
  });
});
