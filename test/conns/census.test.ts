// The census (src/conns) against flows filled through the real lb program: confirmed IPv4
// (lb_conns) and IPv6 (lb_conns6) ESTABLISHED flows, unconfirmed SYN_RECV ones (lb_new) and
// flows filled with the clock far back, expired by now. Its counts are compared per real and per
// VIP with the test-only walk (Flows.connections()) and the fill's own numbers; then the data
// plane's per-real counts (lb_real_load + the census's lb_real_load_fix, Flows.realConns) are
// checked to equal the live counts after a census, as the clock moves entries past expiry and
// when a full table displaces entries.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { needsBpf } from '../lib/env';
import { fillFlows } from '../../bench/lib/fill-flows';
import { ConnTable } from '../../src/conns/table';
import { monotonicSeconds } from '../../src/dataplane/flows';
import type { Dataplane } from '../../src/dataplane/dataplane';
import { scratch, DIR_MAC, VIP1, VIP2, VIP6 } from './fixture';

/** Live entries per real by the get_next_key walk: [active, inactive], as IPVS counts them. */
function liveByReal(dp: Dataplane, now: number): Map<number, [number, number]> {
  const want = new Map<number, [number, number]>();
  for (const x of dp.flows.connections()) {
    if (now > x.expires) continue;
    const e = want.get(x.realId) ?? [0, 0];
    e[x.state === 'ESTABLISHED' ? 0 : 1]++;
    want.set(x.realId, e);
  }
  return want;
}

const sorted = <V>(m: Map<number, V>) => new Map([...m].sort((a, b) => a[0] - b[0]));

/** The data plane's counts (load + fix) of reals 1..5, as the census's shape. */
function dataplaneCounts(dp: Dataplane): Map<number, [number, number]> {
  const out = new Map<number, [number, number]>();
  for (let id = 1; id <= 5; id++) {
    const c = dp.flows.realConns(id);
    if (c.active || c.inactive) out.set(id, [c.active, c.inactive]);
  }
  return out;
}

describe('connection census', needsBpf(), () => {
  let s: ReturnType<typeof scratch> | null = null;
  let table: ConnTable | null = null;
  const old = 5000; // ESTABLISHED (900 s) with the clock 1000 s back: expired now
  const fresh = 15_000;
  const syn = 3000;
  const other = 2000;
  const v6 = 1000;
  let now = 0;
  let rawActiveBefore = 0;
  // SYNs whose entry the unconfirmed table still holds: a SYN whose slot a later one took is not
  // held (lb_new is an array of slots, bpf/include/conntrack.h).
  let synHeld = 0;
  // Expired flows still held: a new confirmed flow may take an expired entry's place in lb_conns.
  let expiredHeld = 0;

  before(() => {
    s = scratch('census');
    now = monotonicSeconds();
    s.dp.flows.tickClock(now - 1000);
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: old, srcBase: '100.64.0.0', cpus: [0] });
    s.dp.flows.tickClock(now);
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: fresh, srcBase: '100.65.0.0', cpus: [0] });
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: syn, srcBase: '100.68.0.0', cpus: [0], stage: 'syn' });
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP2, vipPort: 443, count: other, srcBase: '100.66.0.0', cpus: [0] });
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP6, vipPort: 80, count: v6, cpus: [0] });
    for (const id of [1, 2, 3]) rawActiveBefore += s.dp.flows.realConns(id).active;
    synHeld = s.dp.flows.connections().filter((c) => !c.confirmed && c.state === 'SYN_RECV').length;
    expiredHeld = s.dp.flows.connections().filter((c) => c.confirmed && now > c.expires).length;
  });
  after(async () => {
    await table?.close();
    s?.destroy();
  });

  test('per-real and per-VIP counts of live entries, by state, over the three tables', async () => {
    table = new ConnTable({ pinDir: s!.pinDir, intervalMs: 0, chunk: 1000 });
    assert.equal(table.latest().at, null, 'no census before the first walk');
    const c = await table.censusNow();
    assert.ok(synHeld >= syn * 0.95, `${synHeld} of ${syn} SYNs held in lb_new`);
    assert.equal(c.total, fresh + synHeld + other + v6);
    assert.equal(c.confirmed, fresh + other + v6);
    assert.equal(c.unconfirmed, synHeld);
    assert.ok(expiredHeld > 0 && expiredHeld <= old, `${expiredHeld} of ${old} expired entries held`);
    assert.equal(c.expired, expiredHeld);

    // Independent count: the get_next_key walk and the codecs, classified the same way.
    assert.deepEqual(sorted(c.byReal), sorted(liveByReal(s!.dp, now)));
    for (const id of [1, 2, 3]) assert.ok((c.byReal.get(id)?.[0] ?? 0) > 2000, `real ${id} got ${c.byReal.get(id)} of ${fresh} fresh flows`);
    assert.deepEqual(c.byReal.get(4), [other, 0]);
    assert.deepEqual(c.byReal.get(5), [v6, 0]);
    const id = (a: string) => s!.dp.vips.list().find((v) => v.address === a)!.id;
    assert.deepEqual(c.byVip.get(id(VIP1)), [fresh, synHeld]);
    assert.deepEqual(c.byVip.get(id(VIP2)), [other, 0]);
    assert.deepEqual(c.byVip.get(id(VIP6)), [v6, 0]);
    assert.ok(c.at !== null && Date.now() - c.at < 10_000);
    assert.ok(c.walkMs !== null && c.walkMs >= 0);
  });

  test('after the census the data plane counts what the census counted: the expired flows are gone from lb_real_load + fix', () => {
    assert.equal(rawActiveBefore, old + fresh, 'before any census the data plane still counted the expired flows');
    assert.deepEqual(dataplaneCounts(s!.dp), sorted(liveByReal(s!.dp, now)));
    const snap = s!.dp.flows.realConnsUpTo(5);
    for (let rid = 1; rid <= 5; rid++) assert.deepEqual(snap.get(rid), s!.dp.flows.realConns(rid), `realConnsUpTo, real ${rid}`);
  });

  test('the walking thread runs at nice 19, the main thread is untouched', () => {
    // /proc/self/task/<tid>/stat: field 19 is nice (proc(5)); the comm field may hold spaces.
    const niceOf = (tid: string) => Number(fs.readFileSync(`/proc/self/task/${tid}/stat`, 'utf8').split(') ')[1].split(' ')[16]);
    const nices = fs.readdirSync('/proc/self/task').map(niceOf);
    assert.notEqual(niceOf(String(process.pid)), 19, "the main thread keeps its priority");
    assert.ok(nices.includes(19), `thread nice values ${nices.join(',')}`);
  });

  test('a periodic census follows changes of the table', async () => {
    await table?.close();
    table = new ConnTable({ pinDir: s!.pinDir, intervalMs: 20 });
    const first = await table.censusNow();
    fillFlows({ prog: s!.dp.program, dirMac: DIR_MAC, vip: VIP2, vipPort: 443, count: 100, srcBase: '100.67.0.0', cpus: [0] });
    const deadline = Date.now() + 5000;
    while (table.latest().total === first.total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    // 100 more flows, less the SYN_RECV entries whose slots their SYNs took.
    const live = [...liveByReal(s!.dp, now).values()].reduce((n, [a, i]) => n + a + i, 0);
    assert.ok(live > first.total + 90, `${live} live entries after 100 more flows on ${first.total}`);
    assert.equal(table.latest().total, live);
    assert.ok(table.latest().at! > first.at!);
    await table.close();
    table = new ConnTable({ pinDir: s!.pinDir, intervalMs: 0 });
  });

  test('the clock past SYN_RECV\'s 60 s: the unconfirmed flows leave InActConn at the next census', async () => {
    const before = dataplaneCounts(s!.dp);
    s!.dp.flows.tickClock(now + 61);
    assert.deepEqual(dataplaneCounts(s!.dp), before, 'no packet, no change in the data plane\'s counts');
    const c = await table!.censusNow();
    assert.equal(c.unconfirmed, 0);
    const after = dataplaneCounts(s!.dp);
    assert.deepEqual(after, sorted(liveByReal(s!.dp, now + 61)));
    for (const rid of [1, 2, 3]) {
      assert.equal(after.get(rid)![1], 0, `real ${rid}: no inactive left`);
      assert.equal(after.get(rid)![0], before.get(rid)![0], `real ${rid}: its ESTABLISHED flows stay`);
    }
  });

  test('everything expired: all counts 0; a flow reusing an expired entry counts once, without a census', async () => {
    s!.dp.flows.tickClock(now + 2000);
    const c = await table!.censusNow();
    assert.equal(c.total, 0);
    assert.equal(c.expired, s!.dp.flows.connections().length);
    assert.deepEqual(dataplaneCounts(s!.dp), new Map());
    // The same clients as the expired VIP2 flows: the data plane replaces each expired entry
    // (not subtracting it again: the census already did) with a new one.
    fillFlows({ prog: s!.dp.program, dirMac: DIR_MAC, vip: VIP2, vipPort: 443, count: 10, srcBase: '100.66.0.0', cpus: [0] });
    assert.deepEqual(s!.dp.flows.realConns(4), { active: 10, inactive: 0, overloaded: false });
    await table!.censusNow();
    assert.deepEqual(s!.dp.flows.realConns(4), { active: 10, inactive: 0, overloaded: false });
  });
});

describe('connection census of a table that displaces', needsBpf(), () => {
  test('flows displaced from a full lb_conns leave the data plane\'s counts at once; the census agrees', async () => {
    const s = scratch('evict', { conns: 1024 });
    const table = new ConnTable({ pinDir: s.pinDir, intervalMs: 0 });
    try {
      s.dp.flows.tickClock(monotonicSeconds());
      const n = 6000;
      fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: n, cpus: [0] });
      const live = s.dp.flows.connections().length;
      assert.ok(live <= 2048, `${live} of ${n} flows left in a 1024-line lb_conns`);
      const raw = [1, 2, 3].reduce((a, id) => a + s.dp.flows.realConns(id).active, 0);
      assert.equal(raw, live, 'before the census the data plane counts the flows held: a displaced one left its count');
      assert.equal(s.dp.flows.flowStats().displaced, BigInt(n - live));
      const c = await table.censusNow();
      assert.equal(c.total, live);
      assert.deepEqual(dataplaneCounts(s.dp), sorted(liveByReal(s.dp, monotonicSeconds())));
    } finally {
      await table.close();
      s.destroy();
    }
  });
});

describe('connection census after its worker died', needsBpf(), () => {
  test('the next periodic census starts a new worker', async () => {
    const s = scratch('respawn');
    const errors: string[] = [];
    const table = new ConnTable({ pinDir: s.pinDir, intervalMs: 20, onError: (m) => errors.push(m) });
    try {
      const first = await table.censusNow();
      await (table as unknown as { worker: { terminate(): Promise<number> } }).worker.terminate();
      const deadline = Date.now() + 5000;
      while ((table.latest().at ?? 0) <= first.at! && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      assert.ok(table.latest().at! > first.at!, 'a census after the worker died');
      assert.ok(errors.some((e) => /worker exited/.test(e)), errors.join('\n'));
    } finally {
      await table.close();
      s.destroy();
    }
  });
});

describe('connection census without a table', () => {
  test('a missing pin is reported once, the counts stay empty, listing fails with the reason', async () => {
    const errors: string[] = [];
    const table = new ConnTable({ pinDir: `/sys/fs/bpf/xlvs-test-conns-none-${process.pid}`, intervalMs: 10, onError: (m) => errors.push(m) });
    try {
      await table.censusNow();
      await new Promise((r) => setTimeout(r, 100));
      await table.censusNow();
      assert.equal(errors.length, 1, errors.join('\n'));
      assert.match(errors[0], /no pinned map at .*lb_conns/);
      assert.equal(table.latest().at, null);
      const l = table.list({}, []);
      await assert.rejects((async () => { for await (const _ of l.lines) { /* nothing */ } })(), /no pinned map/);
    } finally {
      await table.close();
    }
  });
});
