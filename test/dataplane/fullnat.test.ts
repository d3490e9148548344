// Full-NAT: besides the destination (real:port), the source becomes an address of the VIP's
// pool and a port allocated per {real, pool address}; the real's reply to pool:port maps back
// to VIP:port -> client:port. Which pool port a flow gets depends on its hash, so each test reads
// it from the output, checks it is in the pool's range and free of collisions, and compares the
// whole frame with the independent builder's (checksums computed from scratch).
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { XDP } from '../lib/fixtures';
import { ConnTable } from '../../src/conns/table';
import { connsReply } from '../../src/conns/reply';
import { ConnRow, formatConnRow } from '../../src/conns/rows';
import { CLIENT4, flatCounters } from './fixtures/harness';
import { natWorld, DIRECTOR_MAC, ROUTER_MAC, INSIDE_MAC, REAL4, REAL6, POOL4, POOL6, realMac } from './fixtures/nat-world';

const VIP = '10.0.0.20';
const VIP_TINY = '10.0.0.21';
const VIP6 = '2001:db8:a::20';
const CLIENT6 = '2001:db8:c::7';
const PORTS = { portMin: 20000, portMax: 29999 };
const w = natWorld('fnatdp');

const fromRouter = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const toRouter = () => eth({ src: DIRECTOR_MAC, dst: ROUTER_MAC });
const toReal = (id: number) => eth({ src: INSIDE_MAC, dst: realMac(id) });
const fromReal = (id: number) => eth({ src: realMac(id), dst: INSIDE_MAC });

function reasons(before: Record<string, bigint>): Record<string, bigint> {
  const now = flatCounters(w.dp());
  const out: Record<string, bigint> = {};
  for (const [k, v] of Object.entries(now)) if (k.startsWith('reason.') && v !== (before[k] ?? 0n)) out[k.slice(7)] = v - (before[k] ?? 0n);
  return out;
}

function show(o: Record<string, bigint>): string {
  return Object.entries(o).map(([k, v]) => `${k}=${v}`).join(' ');
}

/** The source address and port of an IPv4 TCP/UDP frame without a tag. */
function src4(f: Buffer): { addr: string; port: number } {
  return { addr: [...f.subarray(26, 30)].join('.'), port: f.readUInt16BE(34) };
}

/** Sends a SYN of client:cport to VIP:80; returns the pool address and port it got. */
function forward(vip: string, client: string, cport: number): { addr: string; port: number } {
  const before = flatCounters(w.dp());
  const r = w.run(fromRouter().ipv4({ src: client, dst: vip, df: true }).tcp({ sport: cport, dport: 80, flags: 'S', seq: 1 }).build());
  assert.equal(r.retval, XDP.XDP_REDIRECT, `SYN of ${client}:${cport}: ${show(reasons(before))}`);
  const s = src4(r.data);
  const want = toReal(1).ipv4({ src: s.addr, dst: REAL4[0], df: true, ttl: 63 }).tcp({ sport: s.port, dport: 8080, flags: 'S', seq: 1 }).build();
  assert.equal(diffPackets(want, r.data), '', 'the frame toward the real');
  assert.deepEqual(reasons(before), { redir_nat: 1n });
  return s;
}

describe('lb: full-NAT', w.ctx.testOptions ?? {}, () => {
  before(async () => {
    await w.ctx.before!();
    const dp = w.dp();
    dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'fullnat', snatPool: { addresses: POOL4, ...PORTS } });
    dp.reals.set(`${VIP}:80/tcp`, [{ id: 1, address: REAL4[0], mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
    dp.vips.upsert({ address: VIP_TINY, port: 80, protocol: 'tcp', method: 'fullnat', snatPool: { addresses: [POOL4[0]], portMin: 30000, portMax: 30002 } });
    dp.reals.set(`${VIP_TINY}:80/tcp`, [{ id: 2, address: REAL4[0], mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
    dp.vips.upsert({ address: VIP6, port: 80, protocol: 'tcp', method: 'fullnat', snatPool: { addresses: POOL6 } });
    dp.reals.set(`[${VIP6}]:80/tcp`, [{ id: 3, address: REAL6[0], mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
  });
  after(async () => { await w.ctx.after!(); });

  test('the source becomes a pool address and port; two clients with the same port get different ones; replies map back', () => {
    const a = forward(VIP, CLIENT4, 5555);
    const b = forward(VIP, '203.0.113.8', 5555);
    for (const s of [a, b]) {
      assert.ok(POOL4.includes(s.addr), `${s.addr} is a pool address`);
      assert.ok(s.port >= PORTS.portMin && s.port <= PORTS.portMax, `${s.port} in the pool's range`);
    }
    assert.notDeepEqual(a, b, 'two flows to one real never share a pool address and port');
    // The same flow again keeps its binding.
    const again = w.run(fromRouter().ipv4({ src: CLIENT4, dst: VIP, df: true }).tcp({ sport: 5555, dport: 80, flags: 'A', seq: 2, ack: 9 }).build());
    assert.equal(again.retval, XDP.XDP_REDIRECT);
    assert.deepEqual(src4(again.data), a);
    // Each reply goes back to its own client, from VIP:80.
    for (const [s, client] of [[a, CLIENT4], [b, '203.0.113.8']] as const) {
      const before = flatCounters(w.dp());
      const r = w.run(fromReal(1).ipv4({ src: REAL4[0], dst: s.addr, df: true }).tcp({ sport: 8080, dport: s.port, flags: 'SA', seq: 9, ack: 2 }).payload('hi').build(), 'in');
      assert.equal(r.retval, XDP.XDP_REDIRECT);
      const want = toRouter().ipv4({ src: VIP, dst: client, df: true, ttl: 63 }).tcp({ sport: 80, dport: 5555, flags: 'SA', seq: 9, ack: 2 }).payload('hi').build();
      assert.equal(diffPackets(want, r.data), '', `the reply to ${client}`);
      assert.deepEqual(reasons(before), { redir_nat_reply: 1n });
    }
    // A reply to a pool port nobody holds goes to the kernel untouched.
    const before = flatCounters(w.dp());
    const free = a.port === PORTS.portMax ? a.port - 1 : a.port + 1;
    const stray = fromReal(1).ipv4({ src: REAL4[0], dst: a.addr }).tcp({ sport: 8080, dport: free === b.port ? free + 1 : free, flags: 'A' }).build();
    const r = w.run(stray, 'in');
    assert.equal(r.retval, XDP.XDP_PASS);
    assert.ok(r.data.equals(stray), 'untouched');
    assert.deepEqual(reasons(before), { nat_no_entry: 1n });
  });

  test('a pool that runs out refuses the next flow (dropped, counted), never sharing a port', () => {
    const got = [1, 2, 3].map((i) => forward(VIP_TINY, `203.0.113.${10 + i}`, 7000));
    assert.deepEqual(got.map((s) => s.port).sort(), [30000, 30001, 30002]);
    const before = flatCounters(w.dp());
    const r = w.run(fromRouter().ipv4({ src: '203.0.113.20', dst: VIP_TINY, df: true }).tcp({ sport: 7000, dport: 80, flags: 'S' }).build());
    assert.equal(r.retval, XDP.XDP_DROP);
    assert.deepEqual(reasons(before), { snat_exhausted: 1n });
  });

  test('a flow whose entry expired gives its pool port back', () => {
    // The tiny pool is full (previous test); once its flows expire, a new client gets a port.
    const dp = w.dp();
    const now = Math.max(...dp.flows.connections().map((c) => c.expires));
    dp.flows.tickClock(now + 1);
    try {
      const s = forward(VIP_TINY, '203.0.113.30', 7000);
      assert.ok(s.port >= 30000 && s.port <= 30002);
    } finally {
      dp.flows.tickClock(0);
    }
  });

  test('IPv6: pool source, reply back, ICMPv6 to the real', () => {
    const before = flatCounters(w.dp());
    const r = w.run(fromRouter().ipv6({ src: CLIENT6, dst: VIP6 }).tcp({ sport: 6000, dport: 80, flags: 'S' }).build());
    assert.equal(r.retval, XDP.XDP_REDIRECT, show(reasons(before)));
    const port = r.data.readUInt16BE(54);
    assert.ok(port >= 1024, `${port}: the default range starts at 1024`);
    assert.equal(diffPackets(toReal(1).ipv6({ src: POOL6[0], dst: REAL6[0], hopLimit: 63 }).tcp({ sport: port, dport: 8080, flags: 'S' }).build(), r.data), '');
    const rep = w.run(fromReal(1).ipv6({ src: REAL6[0], dst: POOL6[0] }).tcp({ sport: 8080, dport: port, flags: 'SA' }).build(), 'in');
    assert.equal(rep.retval, XDP.XDP_REDIRECT);
    assert.equal(diffPackets(toRouter().ipv6({ src: VIP6, dst: CLIENT6, hopLimit: 63 }).tcp({ sport: 80, dport: 6000, flags: 'SA' }).build(), rep.data), '');
    // ICMPv6 packet-too-big from the path about [VIP]:80 -> client: to the real from the pool
    // address, quoting [real]:8080 -> [pool]:port (the ICMPv6 checksum covers both headers).
    const mtu = Buffer.from([0, 0, 0x05, 0x00]);
    const icmp = w.run(fromRouter().ipv6({ src: '2001:db8:99::1', dst: VIP6 }).icmpv6({ type: 2, body: mtu })
      .ipv6({ src: VIP6, dst: CLIENT6 }).tcp({ sport: 80, dport: 6000, flags: 'A' }).build());
    assert.equal(icmp.retval, XDP.XDP_REDIRECT);
    assert.equal(diffPackets(toReal(1).ipv6({ src: POOL6[0], dst: REAL6[0], hopLimit: 63 }).icmpv6({ type: 2, body: mtu })
      .ipv6({ src: REAL6[0], dst: POOL6[0] }).tcp({ sport: 8080, dport: port, flags: 'A' }).build(), icmp.data), '');
  });

  test('ICMP errors: from outside to the real (quote real:8080 -> pool:port), from inside to the client', () => {
    const s = forward(VIP, CLIENT4, 6001);
    const mtu = Buffer.from([0, 0, 0x05, 0x78]);
    let r = w.run(fromRouter().ipv4({ src: '192.0.2.99', dst: VIP })
      .icmp({ type: 3, code: 4, body: mtu }).ipv4({ src: VIP, dst: CLIENT4 }).tcp({ sport: 80, dport: 6001, flags: 'A' }).build());
    assert.equal(r.retval, XDP.XDP_REDIRECT);
    assert.equal(diffPackets(toReal(1).ipv4({ src: s.addr, dst: REAL4[0], ttl: 63 })
      .icmp({ type: 3, code: 4, body: mtu }).ipv4({ src: REAL4[0], dst: s.addr }).tcp({ sport: 8080, dport: s.port, flags: 'A' }).build(), r.data), '');
    r = w.run(fromReal(1).ipv4({ src: REAL4[0], dst: s.addr })
      .icmp({ type: 3, code: 3, body: Buffer.alloc(4) }).ipv4({ src: s.addr, dst: REAL4[0], ttl: 63 }).tcp({ sport: s.port, dport: 8080, flags: 'S' }).build(), 'in');
    assert.equal(r.retval, XDP.XDP_REDIRECT);
    assert.equal(diffPackets(toRouter().ipv4({ src: VIP, dst: CLIENT4, ttl: 63 })
      .icmp({ type: 3, code: 3, body: Buffer.alloc(4) }).ipv4({ src: CLIENT4, dst: VIP, ttl: 63 }).tcp({ sport: 6001, dport: 80, flags: 'S' }).build(), r.data), '');
  });

  test('the connection listing shows each full-NAT flow\'s source binding and the real\'s own port', async () => {
    const dp = w.dp();
    const c = dp.flows.connections().find((x) => x.client === CLIENT4 && x.clientPort === 5555);
    assert.ok(c && c.snat, JSON.stringify(c));
    assert.ok(POOL4.includes(c.snat!.address));
    // xlvs list --conns: the connection-table worker's rows, as the daemon asks for them.
    const table = new ConnTable({ pinDir: dp.pinDir, intervalMs: 0 });
    try {
      const reply = connsReply(table, { cmd: 'conns' }, dp.reals.list(), dp.vips.list());
      let text = '';
      for await (const b of reply.lines) text += b.toString();
      const items = text.trim().split('\n').map((l) => (JSON.parse(l) as { item: ConnRow }).item);
      const row = items.find((i) => i.client === `${CLIENT4}:5555` && i.vip === `${VIP}:80`);
      assert.ok(row, text);
      assert.equal(row.real, `${REAL4[0]}:8080`, 'the real with its own port');
      assert.equal(row.snat, `${c.snat!.address}:${c.snat!.port}`, 'the source the real sees');
      assert.match(formatConnRow(row), / via 10\.1\.0\.10[01]:\d+\n$/);
    } finally {
      await table.close();
    }
  });
});
