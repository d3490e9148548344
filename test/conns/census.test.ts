// The census (src/conns) counts a known fill: 20,000 flows to three reals through the real lb
// program, a quarter of them stamped two minutes ago (inactive), compared per real and per VIP
// with the test-only walk (Dataplane.connections()) and with the fill's own numbers.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { needsBpf } from '../lib/env';
import { fillFlows } from '../../bench/lib/fill-flows';
import { ConnTable } from '../../src/conns/table';
import { ACTIVE_WINDOW_NS } from '../../src/conns/census';
import { scratch, DIR_MAC, VIP1, VIP2 } from './fixture';

describe('connection census', needsBpf(), () => {
  let s: ReturnType<typeof scratch> | null = null;
  let table: ConnTable | null = null;
  const old = 5000;
  const fresh = 15_000;
  const other = 2000;
  let now = 0n;

  before(() => {
    s = scratch('census');
    now = process.hrtime.bigint();
    s.dp.flows.tickClock(Number(now / 1_000_000_000n) - 120); // flows stamped two minutes ago: inactive
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: old, srcBase: '100.64.0.0', cpus: [0] });
    s.dp.flows.tickClock(Number(now / 1_000_000_000n));
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP1, vipPort: 80, count: fresh, srcBase: '100.65.0.0', cpus: [0] });
    fillFlows({ prog: s.dp.program, dirMac: DIR_MAC, vip: VIP2, vipPort: 443, count: other, srcBase: '100.66.0.0', cpus: [0] });
  });
  after(async () => {
    await table?.close();
    s?.destroy();
  });

  test('per-real and per-VIP counts match the fill', async () => {
    table = new ConnTable({ pinDir: s!.pinDir, intervalMs: 0, chunk: 1000 });
    assert.equal(table.latest().at, null, 'no census before the first walk');
    const c = await table.censusNow();
    assert.equal(c.total, old + fresh + other);

    // Independent count: the get_next_key walk and the codecs, classified the same way.
    const want = new Map<number, [number, number]>();
    for (const x of s!.dp.flows.connections()) {
      const e = want.get(x.realId) ?? [0, 0];
      e[x.state === "ESTABLISHED" ? 0 : 1]++;
      want.set(x.realId, e);
    }
    assert.deepEqual(new Map([...c.byReal].sort((a, b) => a[0] - b[0])), new Map([...want].sort((a, b) => a[0] - b[0])));
    for (const id of [1, 2, 3]) assert.ok((c.byReal.get(id)?.[0] ?? 0) > 2000, `real ${id} got ${c.byReal.get(id)} of ${fresh} fresh flows`);
    assert.deepEqual(c.byReal.get(4), [other, 0]);
    const vip1 = s!.dp.vips.list().find((v) => v.address === VIP1)!.id;
    const vip2 = s!.dp.vips.list().find((v) => v.address === VIP2)!.id;
    assert.deepEqual(c.byVip.get(vip1), [fresh, old]);
    assert.deepEqual(c.byVip.get(vip2), [other, 0]);
    assert.ok(c.at !== null && Date.now() - c.at < 10_000);
    assert.ok(c.walkMs !== null && c.walkMs >= 0);
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
    assert.equal(table.latest().total, first.total + 100);
    assert.ok(table.latest().at! > first.at!);
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
