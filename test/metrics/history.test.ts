// The status page's history ring (src/metrics/history.ts): bounded, rates from counter deltas,
// never a negative rate (a real removed and added again, counters zeroed), transitions bounded,
// and what /history.json serves while the listener is up.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { StatusHistory, RealTraffic } from '../../src/metrics/history';
import { startMetricsServer } from '../../src/metrics/server';
import { syntheticSnapshot, syntheticCounters } from './synthetic';

const SVC = '10.0.0.10:80/tcp';
const t = (real: string, id: number, packets: number, newFlows = 0, bytes = packets * 100): RealTraffic =>
  ({ service: SVC, real, id, packets: BigInt(packets), bytes: BigInt(bytes), newFlows: BigInt(newFlows) });

test('rates are counter deltas over the time between samples; the first sample has none', () => {
  const h = new StatusHistory(undefined, { intervalMs: 5000, capacity: 10 });
  h.sample(10_000, [t('a:80', 1, 100, 10)]);
  h.sample(15_000, [t('a:80', 1, 600, 20)]);
  h.sample(25_000, [t('a:80', 1, 1600, 20)]);
  const j = h.toJSON();
  assert.deepEqual(j.at, [10_000, 15_000, 25_000]);
  assert.equal(j.reals.length, 1);
  assert.deepEqual(j.reals[0], { service: SVC, real: 'a:80', pps: [null, 100, 100], cps: [null, 2, 0], bps: [null, 10_000, 10_000] });
});

test('the ring keeps `capacity` samples, and only the reals of the samples it keeps', () => {
  const h = new StatusHistory(undefined, { intervalMs: 1000, capacity: 5 });
  for (let i = 0; i < 50; i++) h.sample(i * 1000, [...[0, 1, 2].map((k) => t(`r${k}:80`, 1 + k, i * 10 * k)), ...(i < 10 ? [t('gone:80', 9, i)] : [])]);
  const j = h.toJSON();
  assert.equal(j.at.length, 5);
  assert.deepEqual(j.at, [45_000, 46_000, 47_000, 48_000, 49_000]);
  assert.deepEqual(j.reals.map((r) => r.real).sort(), ['r0:80', 'r1:80', 'r2:80'], 'a real gone before the window is not served');
  for (const r of j.reals) assert.equal(r.pps.length, 5);
});

test('a counter that went down, or a real with a new id, gives no rate (never a negative one)', () => {
  const h = new StatusHistory(undefined, { capacity: 10 });
  h.sample(0, [t('a:80', 1, 1000), t('b:80', 2, 500)]);
  // a: removed and added again (new id, counters from zero); b: zeroed under the same id.
  h.sample(5000, [t('a:80', 7, 50), t('b:80', 2, 10)]);
  // a again under a new id whose counters already exceed the old ones: still not a delta.
  h.sample(10_000, [t('a:80', 8, 5000), t('b:80', 2, 60)]);
  h.sample(15_000, [t('a:80', 8, 5500), t('b:80', 2, 110)]);
  const j = h.toJSON();
  const by = new Map(j.reals.map((r) => [r.real, r]));
  assert.deepEqual(by.get('a:80')!.pps, [null, null, null, 100]);
  assert.deepEqual(by.get('b:80')!.pps, [null, null, 10, 10]);
  for (const r of j.reals) for (const v of [...r.pps, ...r.cps, ...r.bps]) assert.ok(v === null || v >= 0, `${r.real}: ${v}`);
});

test('a real absent from a sample has null there; transitions are kept up to the bound', () => {
  const h = new StatusHistory(undefined, { capacity: 10, transitions: 3 });
  h.sample(0, [t('a:80', 1, 0), t('b:80', 2, 0)]);
  h.sample(1000, [t('a:80', 1, 10)]);
  h.sample(2000, [t('a:80', 1, 20), t('b:80', 2, 5)]);
  const by = new Map(h.toJSON().reals.map((r) => [r.real, r]));
  assert.deepEqual(by.get('a:80')!.pps, [null, 10, 10]);
  assert.equal(by.get('b:80'), undefined, 'b never had two samples in a row: no rate at all');
  for (let i = 0; i < 5; i++) {
    h.health({ at: i, service: SVC, real: 'a:80', from: i % 2 ? 'down' : 'up', to: i % 2 ? 'up' : 'down', reason: `r${i}` });
    h.vrrp({ at: i, instance: 'VI_1', from: 'BACKUP', to: 'MASTER', reason: `v${i}` });
  }
  const j = h.toJSON();
  assert.deepEqual(j.health.map((x) => x.reason), ['r2', 'r3', 'r4']);
  assert.deepEqual(j.vrrp.map((x) => x.reason), ['v2', 'v3', 'v4']);
});

test('the listener samples while up, serves /history.json, and stops sampling when closed', async () => {
  let reads = 0;
  const h = new StatusHistory(() => { reads++; return [t('a:80', 1, reads * 100)]; }, { intervalMs: 50, capacity: 4 });
  const srv = await startMetricsServer('127.0.0.1:0', { snapshot: syntheticSnapshot, eventCounters: () => syntheticCounters, version: '0.0.0-test', history: h });
  try {
    await new Promise((r) => setTimeout(r, 300));
    const { port } = srv.address();
    const res = await fetch(`http://127.0.0.1:${port}/history.json`);
    assert.equal(res.status, 200);
    assert.match(res.headers.get('content-type') ?? '', /application\/json/);
    const j = await res.json() as ReturnType<StatusHistory['toJSON']>;
    assert.equal(j.intervalMs, 50);
    assert.equal(j.at.length, 4, 'bounded by capacity');
    assert.equal(j.reals[0].real, 'a:80');
    assert.ok(j.reals[0].pps.slice(1).every((v) => v !== null && v > 0), JSON.stringify(j.reals[0].pps));
  } finally {
    await srv.close();
  }
  const after = reads;
  await new Promise((r) => setTimeout(r, 200));
  assert.equal(reads, after, 'no sampling once the listener is closed');
});
