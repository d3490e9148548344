// The baselines behind `xlvs zero` (src/daemon/zero.ts), on synthetic snapshots: zeroing one
// service leaves the others, traffic after the zero shows, an unknown service zeroes nothing, and
// a baseline never makes a count negative: an entry removed, re-added under another id or
// reset under the same one (its counters restarted at zero in the maps) drops its baseline.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ServiceStatus, StatusSnapshot, TrafficCounters } from '../../src/common/status';
import { CounterBaselines } from '../../src/daemon/zero';
import { computeRates } from '../../src/cli/listing';
import { isXlvsError } from '../../src/errors';
import { syntheticSnapshot } from '../metrics/synthetic';

const c = (p: number, b: number, n: number): TrafficCounters => ({ packets: BigInt(p), bytes: BigInt(b), newFlows: BigInt(n) });
const ZERO = c(0, 0, 0);
const WEB = '10.0.0.10:80/tcp';
const DNS = '[2001:db8::53]:53/udp';

/** The synthetic snapshot plus an IPv6 UDP service (VIP id 2, real id 3). */
function twoServices(): StatusSnapshot {
  const s = syntheticSnapshot();
  const web = s.services[0];
  const dns: ServiceStatus = {
    ...web, key: DNS, id: 2, vip: '2001:db8::53', port: 53, protocol: 'udp', counters: c(8, 800, 4),
    reals: [{ ...web.reals[0], key: '[2001:db8::1]:53', id: 3, address: '2001:db8::1', port: 53, counters: c(8, 800, 4) }],
  };
  return { ...s, services: [web, dns] };
}

/** `snap` after more traffic: every counter of every entry plus `d`, or as `edit` says. */
function more(snap: StatusSnapshot, d: TrafficCounters, edit: (s: StatusSnapshot) => void = () => {}): StatusSnapshot {
  const add = (x: TrafficCounters) => ({ packets: x.packets + d.packets, bytes: x.bytes + d.bytes, newFlows: x.newFlows + d.newFlows });
  const next: StatusSnapshot = {
    ...snap,
    services: snap.services.map((s) => ({ ...s, counters: add(s.counters), reals: s.reals.map((r) => ({ ...r, counters: add(r.counters) })) })),
  };
  edit(next);
  return next;
}

const svc = (s: StatusSnapshot, key: string) => s.services.find((x) => x.key === key)!;

test('zeroing one service zeroes it and its reals, not the other; traffic after it counts from zero', () => {
  const b = new CounterBaselines();
  const raw = twoServices();
  assert.deepEqual(b.zero(raw, WEB, 1_700_000_000_000), { zeroed: [WEB], at: 1_700_000_000_000 });
  const now = b.apply(raw);
  assert.deepEqual(svc(now, WEB).counters, ZERO);
  assert.deepEqual(svc(now, WEB).reals.map((r) => r.counters), [ZERO, ZERO]);
  assert.equal(svc(now, WEB).zeroedAt, 1_700_000_000_000);
  assert.equal(svc(now, WEB).reals[0].zeroedAt, 1_700_000_000_000);
  assert.deepEqual(svc(now, DNS).counters, c(8, 800, 4), 'the other service is untouched');
  assert.equal(svc(now, DNS).zeroedAt, undefined);

  const later = b.apply(more(raw, c(5, 500, 1)));
  assert.deepEqual(svc(later, WEB).counters, c(5, 500, 1));
  assert.deepEqual(svc(later, WEB).reals[1].counters, c(5, 500, 1));
  assert.deepEqual(svc(later, DNS).counters, c(13, 1300, 5));
  // apply() returns a copy: the raw snapshot (what /metrics reads) keeps its totals.
  assert.deepEqual(svc(raw, WEB).counters, c(30, 3000, 3));
});

test('zero without a service zeroes every service; the key is taken in any spelling of its address', () => {
  const b = new CounterBaselines();
  const raw = twoServices();
  assert.deepEqual(b.zero(raw).zeroed, [WEB, DNS]);
  for (const s of b.apply(raw).services) {
    assert.deepEqual(s.counters, ZERO, s.key);
    for (const r of s.reals) assert.deepEqual(r.counters, ZERO, `${s.key} ${r.key}`);
  }
  const b2 = new CounterBaselines();
  assert.deepEqual(b2.zero(raw, '[2001:DB8:0::53]:53/udp').zeroed, [DNS]);
});

test('an unknown or malformed service is an E_USAGE error naming it, and nothing is zeroed', () => {
  const b = new CounterBaselines();
  const raw = twoServices();
  assert.throws(() => b.zero(raw, '10.0.0.99:80/tcp'), (e: unknown) => {
    assert.ok(isXlvsError(e, 'E_USAGE'), String(e));
    assert.match((e as Error).message, /no service 10\.0\.0\.99:80\/tcp \(configured: 10\.0\.0\.10:80\/tcp, \[2001:db8::53\]:53\/udp\); nothing zeroed/);
    return true;
  });
  assert.throws(() => b.zero(raw, '10.0.0.10:80/sctp'), (e: unknown) => isXlvsError(e, 'E_USAGE') && /"10\.0\.0\.10:80\/sctp" is not a service key/.test((e as Error).message));
  assert.throws(() => b.zero(raw, 80), (e: unknown) => isXlvsError(e, 'E_USAGE'));
  assert.deepEqual(b.apply(raw), raw);
});

test('a service removed and added again under another id counts from its new entry, never negative', () => {
  const b = new CounterBaselines();
  b.zero(twoServices(), WEB);
  // Re-added as VIP id 7, real ids 8 and 9: the data plane started their counters at zero.
  const readded = more(twoServices(), ZERO, (s) => {
    const web = s.services[0];
    web.id = 7;
    web.counters = c(2, 200, 1);
    web.reals = web.reals.map((r, i) => ({ ...r, id: 8 + i, counters: c(1, 100, 1) }));
  });
  const now = b.apply(readded);
  assert.deepEqual(svc(now, WEB).counters, c(2, 200, 1));
  assert.deepEqual(svc(now, WEB).reals.map((r) => r.counters), [c(1, 100, 1), c(1, 100, 1)]);
  assert.equal(svc(now, WEB).zeroedAt, undefined, 'the baseline was dropped');
  // Dropped for good: the old entry's counters coming back cannot revive it.
  assert.deepEqual(svc(b.apply(twoServices()), WEB).counters, c(30, 3000, 3));
});

test('an entry reset under the same id (counters below the baseline) drops its baseline', () => {
  const b = new CounterBaselines();
  b.zero(twoServices());
  const reset = more(twoServices(), ZERO, (s) => {
    s.services[0].reals[1].counters = c(40, 100, 0); // bytes and flows below the baseline, packets above
  });
  const now = b.apply(reset);
  assert.deepEqual(svc(now, WEB).reals[1].counters, c(40, 100, 0));
  assert.equal(svc(now, WEB).reals[1].zeroedAt, undefined);
  assert.deepEqual(svc(now, WEB).reals[0].counters, ZERO, 'its sibling keeps its baseline');
});

test('a service or real not in the maps gets no baseline, and one leaving the topology loses it', () => {
  const b = new CounterBaselines();
  const raw = more(twoServices(), ZERO, (s) => { s.services[0].reals[1] = { ...s.services[0].reals[1], id: 0, counters: ZERO }; });
  b.zero(raw, WEB);
  // The real is applied later (id 12): everything it counts is after the zero.
  const applied = more(raw, ZERO, (s) => { s.services[0].reals[1] = { ...s.services[0].reals[1], id: 12, counters: c(3, 300, 1) }; });
  assert.deepEqual(svc(b.apply(applied), WEB).reals[1].counters, c(3, 300, 1));
  // WEB leaves the topology, then comes back with the same ids and counters: no baseline left.
  b.apply({ ...raw, services: raw.services.filter((s) => s.key !== WEB) });
  assert.equal(svc(b.apply(raw), WEB).zeroedAt, undefined);
});

test('retain() drops baselines whose VIP or real id left the maps, before anyone lists', () => {
  const b = new CounterBaselines();
  const raw = twoServices();
  b.zero(raw);
  b.retain([1, 2], [1, 3]); // real 2 of WEB removed by an apply
  // …and added again with id 2 (after a wrap-around) and more traffic than its old baseline.
  const back = more(raw, c(100, 10_000, 10));
  const now = b.apply(back);
  assert.deepEqual(svc(now, WEB).reals[1].counters, c(110, 11_000, 11), 'raw: the baseline did not outlive the entry');
  assert.deepEqual(svc(now, WEB).reals[0].counters, c(100, 10_000, 10));
  assert.deepEqual(svc(now, DNS).counters, c(100, 10_000, 10));
});

test('rates across a zero are 0, never negative', () => {
  const b = new CounterBaselines();
  const raw = twoServices();
  const before = b.apply(raw);
  b.zero(raw, WEB);
  const after = b.apply(more(raw, c(1, 10, 0)));
  const rates = computeRates(before, after, 1000);
  assert.deepEqual(rates.get(WEB), { cps: 0, inpps: 0, inbps: 0 });
  assert.deepEqual(rates.get(DNS), { cps: 0, inpps: 1, inbps: 10 });
});
