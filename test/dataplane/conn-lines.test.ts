// lb_conns, the confirmed IPv4 flows, is an array of 64-byte lines of two entries the program
// manages itself (bpf/include/conntrack.h): a flow sits in either entry of either of its two
// lines, a full pair of lines moves one entry to its other line, and only then is the least
// recently active of four displaced. Flows confirmed through BPF_PROG_TEST_RUN (SYN, then ACK),
// the lines read back from the pinned map.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';
import { RealSpec } from '../../src/dataplane/spec';
import { BpfMap } from '../../src/loader';
import { conn4Entry, conn4Key, conn4Lines } from '../../src/maps/lb';
import { u32 } from '../../src/dataplane/state';

const VIP = '10.0.0.96';
const LINES = 1024; // director.conn_table.size 1024: a line per flow
const h = harness('connlines', { tables: { conns: LINES } });
const real = (id: number): RealSpec => ({ id, address: `10.9.0.${id}`, mac: realMac(id), weight: 1, state: 'up' });
const REALS = [1, 2, 3, 4];
const ip = (s: string) => Buffer.from(s.split('.').map(Number));
const clientOf = (i: number) => `198.20.${(i >> 8) & 255}.${i & 255}`;

function tcp(client: string, sport: number, flags: string): number {
  const r = h.dp().program.testRun(eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: VIP }).tcp({ sport, dport: 80, flags }).build());
  assert.equal(r.retval, XDP.XDP_TX, `${client}:${sport} ${flags}`);
  return r.data[5];
}

describe('lb: the confirmed IPv4 flows (lb_conns) as lines of two entries', h.ctx.testOptions ?? {}, () => {
  let lines: BpfMap;
  const keyOf = (i: number) => conn4Key.encode({ src: ip(clientOf(i)), dst: ip(VIP), sport: 4000, dport: 80, proto: 6 });
  /** The line (of the two conn4Lines names) holding flow i, or null. */
  const lineOf = (i: number): number | null => {
    const k = keyOf(i);
    for (const l of conn4Lines(k, LINES)) {
      const v = lines.lookup(u32(l))!;
      for (const o of [0, 32]) if (v.subarray(o, o + 16).equals(k)) return l;
    }
    return null;
  };
  const held = () => h.dp().flows.connections().filter((c) => c.confirmed && c.vip === VIP);
  const active = () => REALS.reduce((n, id) => n + h.dp().flows.realConns(id).active, 0);

  before(async () => {
    await h.ctx.before!();
    h.dp().vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
    h.dp().reals.set(`${VIP}:80/tcp`, REALS.map(real));
    lines = BpfMap.openPinned(path.join(h.dp().pinDir, 'lb_conns'));
  });
  after(() => {
    lines?.close();
    return h.ctx.after!();
  });

  test('a line per flow of the size; as many flows as the size: each in one of its two lines, none displaced', () => {
    assert.equal(lines.maxEntries, LINES);
    const reals: number[] = [];
    for (let i = 0; i < LINES; i++) {
      tcp(clientOf(i), 4000, 'S');
      reals.push(tcp(clientOf(i), 4000, 'A'));
    }
    const s = h.dp().flows.flowStats();
    assert.ok(s.displaced <= 2n, `${s.displaced} displaced at the table's size`);
    let missing = 0;
    for (let i = 0; i < LINES; i++) if (lineOf(i) === null) missing++;
    assert.equal(BigInt(missing), s.displaced, 'every flow not displaced is in one of the two lines conn4Lines names');
    assert.equal(held().length, LINES - missing);
    assert.equal(active(), LINES - missing, 'ActiveConn: the flows held');
    // Each held flow's next packet goes to its real.
    for (let i = 0; i < LINES; i += 37) if (lineOf(i) !== null) assert.equal(tcp(clientOf(i), 4000, 'A'), reals[i]);
  });

  test('twice the size (every entry): the rest are displaced, counted, and out of ActiveConn', () => {
    for (let i = LINES; i < 2 * LINES; i++) {
      tcp(clientOf(i), 4000, 'S');
      tcp(clientOf(i), 4000, 'A');
    }
    const s = h.dp().flows.flowStats();
    const n = held().length;
    assert.ok(s.displaced > 0n, 'a full table displaces');
    assert.ok(n > 1.8 * LINES, `${n} of ${2 * LINES} held: the moves fill the entries`);
    assert.equal(BigInt(n) + s.displaced, BigInt(2 * LINES), 'each flow is held or counted displaced');
    assert.equal(active(), n, 'a displaced flow left its real\'s count');
  });

  test('an entry whose check does not match (torn by two writers) reads as absent', () => {
    const i = 0;
    const l = lineOf(i);
    assert.notEqual(l, null);
    const id = tcp(clientOf(i), 4000, 'A');
    const v = Buffer.from(lines.lookup(u32(l!))!);
    const o = v.subarray(0, 16).equals(keyOf(i)) ? 0 : 32;
    const e = conn4Entry.decode(v.subarray(o, o + 32));
    const other = REALS.find((r) => r !== id)!;
    v.set(conn4Entry.encode({ ...e, v: { ...e.v, realId: other } }), o); // its check (pad2) no longer matches
    lines.update(u32(l!), v);
    // Not sent to `other`: the entry is not used; the ACK is picked up on Maglev's real.
    assert.equal(tcp(clientOf(i), 4000, 'A'), id);
  });
});
