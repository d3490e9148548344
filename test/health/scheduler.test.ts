// Rise/fall/retry/warmup/alpha/jitter/timeout on a fake clock.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FakeClock } from '../../src/health/clock';
import { HealthManager } from '../../src/health/manager';
import { FIRST_SPREAD_MAX_MS } from '../../src/health/scheduler';
import { HealthEvent, CheckEvent } from '../../src/health/types';
import { scripted, tcpSpec, lcg } from './fake';

function setup(results: Parameters<typeof scripted>[1], t: Parameters<typeof tcpSpec>[1] = {}, random: () => number = () => 0.5) {
  const clock = new FakeClock();
  const { fn, s } = scripted(() => clock.now(), results);
  const m = new HealthManager({ clock, random, checkFns: { tcp: fn } });
  const events: HealthEvent[] = [];
  const checks: CheckEvent[] = [];
  m.on('transition', (e) => events.push(e));
  m.on('check', (e) => checks.push(e));
  const spec = tcpSpec('10.0.0.1:80', t);
  const { started } = m.sync([spec]);
  return { clock, s, m, events, checks, id: started[0] };
}

test('up → down after `fall` failures spaced by delay_before_retry, back up after `rise` successes at interval', async () => {
  // random 0.5 → jitter factor exactly 1, first check at 0.5 × min(interval, 1 s) = 500 ms.
  const results: Parameters<typeof scripted>[1] = [{ ok: true }, { ok: false, reason: 'refused' }, { ok: false, reason: 'refused' }, { ok: false, reason: 'refused' }, { ok: false, reason: 'refused' }, { ok: true }, { ok: true }, { ok: true }];
  const { clock, s, m, events, id } = setup(results, { fall: 3, rise: 2, intervalMs: 1000, delayBeforeRetryMs: 200 });
  await clock.advance(500);
  assert.deepEqual(s.calls, [500]);
  assert.equal(m.status(id)!.state, 'up');
  assert.equal(events.length, 0, 'a non-alpha checker starts up and a success changes nothing');
  await clock.advance(1000); // 1500: first failure → retry at +200
  assert.equal(m.status(id)!.state, 'up');
  assert.match(m.status(id)!.reason, /retry 1\/2/);
  await clock.advance(200); // 1700: second failure
  assert.equal(m.status(id)!.state, 'up');
  await clock.advance(200); // 1900: third failure → down
  assert.deepEqual(s.calls, [500, 1500, 1700, 1900]);
  assert.equal(m.status(id)!.state, 'down');
  assert.equal(events.length, 1);
  assert.equal(events[0].from, 'up');
  assert.equal(events[0].to, 'down');
  assert.equal(events[0].at, 1900);
  assert.equal(events[0].time, 1900, 'wall time comes from the injected clock too');
  assert.equal(m.status(id)!.since, 1900);
  assert.match(events[0].reason, /refused \(3 failures\)/);
  // Down: checks at interval again; a failure (2900) then two successes (3900, 4900) → up.
  await clock.advance(1000);
  assert.equal(s.calls.at(-1), 2900);
  await clock.advance(1000);
  assert.equal(m.status(id)!.state, 'down', 'one success is not enough with rise 2');
  assert.match(m.status(id)!.reason, /rise 1\/2/);
  await clock.advance(1000);
  assert.deepEqual(s.calls, [500, 1500, 1700, 1900, 2900, 3900, 4900]);
  assert.equal(m.status(id)!.state, 'up');
  assert.equal(events.length, 2);
  assert.deepEqual([events[1].from, events[1].to, events[1].at], ['down', 'up', 4900]);
  assert.equal(m.status(id)!.history.length, 2);
  m.stop();
  assert.equal(clock.pending(), 0, 'stop() leaves no timer behind');
});

test('a success between retries resets the failure count (no flap)', async () => {
  const { clock, m, events, id } = setup([{ ok: true }, { ok: false }, { ok: false }, { ok: true }, { ok: false }, { ok: false }, { ok: true }], { fall: 3 });
  await clock.advance(500 + 1000 + 200 + 200 + 1000 + 200 + 200 + 1000);
  assert.equal(events.length, 0);
  assert.equal(m.status(id)!.state, 'up');
  assert.equal(m.status(id)!.failures, 4);
  m.stop();
});

test('fall 1: the first failure takes the real down without retries', async () => {
  const { clock, s, m, events } = setup([{ ok: false, reason: 'x' }], { fall: 1, delayBeforeRetryMs: 50 });
  await clock.advance(500);
  assert.equal(events.length, 1);
  assert.equal(events[0].reason, 'x');
  await clock.advance(999);
  assert.equal(s.calls.length, 1, 'down: next check at interval, not at delay_before_retry');
  await clock.advance(1);
  assert.equal(s.calls.length, 2);
  m.stop();
});

test('alpha starts down and one success brings the real up; rise applies afterwards', async () => {
  const { clock, m, events, id } = setup([{ ok: true }, { ok: false }, { ok: true }, { ok: true }], { alpha: true, rise: 2, fall: 1 });
  assert.equal(m.status(id)!.state, 'down');
  assert.match(m.status(id)!.reason, /alpha/);
  await clock.advance(500);
  assert.equal(m.status(id)!.state, 'up');
  assert.deepEqual(events.map((e) => `${e.from}>${e.to}@${e.at}`), ['down>up@500']);
  await clock.advance(1000); // fail → down (fall 1)
  await clock.advance(1000); // success 1/2
  assert.equal(m.status(id)!.state, 'down');
  await clock.advance(1000); // success 2/2
  assert.deepEqual(events.map((e) => `${e.from}>${e.to}@${e.at}`), ['down>up@500', 'up>down@1500', 'down>up@3500']);
  m.stop();
});

test('warmup: the first check waits random × warmup; later ones follow the interval', async () => {
  for (const r of [0, 0.25, 0.9]) {
    const { clock, s, m } = setup([{ ok: true }], { warmupMs: 8000, intervalMs: 1000 }, () => r);
    await clock.advance(10_000);
    assert.equal(s.calls[0], r * 8000, `first check at ${r} × warmup`);
    const gap = s.calls[1] - s.calls[0];
    // jitter with random r: factor 1 + (2r − 1) × 0.1
    assert.ok(Math.abs(gap - 1000 * (1 + (2 * r - 1) * 0.1)) < 1e-6, `gap ${gap}`);
    m.stop();
  }
});

test('jitter: a thousand checkers started together do not fire together', async () => {
  const clock = new FakeClock();
  const fired: number[] = [];
  const byReal = new Map<string, number[]>();
  const m = new HealthManager({
    clock, random: lcg(42),
    checkFns: {
      tcp: async (spec) => {
        fired.push(clock.now());
        const l = byReal.get(spec.address) ?? [];
        l.push(clock.now());
        byReal.set(spec.address, l);
        return { ok: true, reason: 'ok', durationMs: 0 };
      },
    },
  });
  const specs = Array.from({ length: 1000 }, (_, i) => tcpSpec(`10.1.${i >> 8}.${i & 255}:80`));
  m.sync(specs);
  await clock.advance(FIRST_SPREAD_MAX_MS);
  assert.equal(byReal.size, 1000, 'every checker ran within the first second');
  const firsts = [...byReal.values()].map((l) => l[0]);
  const buckets = new Map<number, number>();
  for (const t of firsts) buckets.set(Math.floor(t / 10), (buckets.get(Math.floor(t / 10)) ?? 0) + 1);
  const worst = Math.max(...buckets.values());
  assert.ok(worst <= 30, `at most 30 of 1000 checks in any 10 ms (saw ${worst}; uniform is 10)`);
  // Later rounds: every gap stays within interval ± 10 %, and the gaps are not all equal.
  await clock.advance(3000);
  m.stop();
  const gaps = [...byReal.values()].flatMap((l) => l.slice(1).map((t, i) => t - l[i]));
  assert.ok(gaps.length >= 2500, `${gaps.length} gaps`);
  assert.ok(gaps.every((g) => g >= 900 - 1e-9 && g <= 1100 + 1e-9), 'gaps within interval ± 10 %');
  assert.ok(new Set(gaps.map((g) => Math.round(g))).size > 100, 'gaps are spread, not one value');
});

test('a check that outlives `timeout` fails with a timeout reason and its signal is aborted', async () => {
  const clock = new FakeClock();
  const { fn, s } = scripted(() => clock.now(), ['hang']);
  const m = new HealthManager({ clock, random: () => 0.5, checkFns: { tcp: fn } });
  const events: HealthEvent[] = [];
  m.on('transition', (e) => events.push(e));
  const [id] = m.sync([tcpSpec('10.0.0.2:80', { fall: 1 }, 300)]).started;
  await clock.advance(500 + 299);
  assert.equal(m.status(id)!.state, 'up');
  assert.equal(s.signals[0].aborted, false);
  await clock.advance(1);
  assert.equal(m.status(id)!.state, 'down');
  assert.equal(events[0].reason, 'timeout after 300ms');
  assert.equal(s.signals[0].aborted, true);
  assert.equal(m.status(id)!.lastDurationMs, 300);
  m.stop();
});

test('script weight (misc_dynamic): a weight change while up is an up→up event carrying the weight', async () => {
  const { clock, m, events, id } = setup([{ ok: true, weight: 5 }, { ok: true, weight: 5 }, { ok: true, weight: 0 }, { ok: true }]);
  await clock.advance(500);
  assert.equal(events.length, 1);
  assert.deepEqual([events[0].from, events[0].to, events[0].weight], ['up', 'up', 5]);
  await clock.advance(1000);
  assert.equal(events.length, 1, 'same weight: no event');
  await clock.advance(1000);
  assert.equal(events[1].weight, 0);
  await clock.advance(1000);
  assert.equal(events[2].weight, undefined, 'back to the configured weight');
  assert.equal(m.status(id)!.weight, undefined);
  m.stop();
});

test('check events carry duration and lateness', async () => {
  const { clock, checks, m } = setup([{ ok: true, durationMs: 7 }]);
  await clock.advance(1500);
  assert.equal(checks.length, 2);
  assert.equal(checks[0].durationMs, 7);
  assert.equal(checks[0].lateMs, 0);
  m.stop();
});
