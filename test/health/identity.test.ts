// Checker identity across reloads: sync() keeps unchanged checkers (state, history, schedule),
// starts changed ones fresh, stops removed ones, and applies nothing when a spec is invalid.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { FakeClock } from '../../src/health/clock';
import { HealthManager } from '../../src/health/manager';
import { checkerId } from '../../src/health/identity';
import { isXlvsError } from '../../src/errors';
import { CheckerSpec, HealthEvent } from '../../src/health/types';
import { tcpSpec } from './fake';

function manager() {
  const clock = new FakeClock();
  const down = new Set<string>();
  const calls: string[] = [];
  const m = new HealthManager({
    clock, random: () => 0.5,
    checkFns: {
      tcp: async (spec) => {
        calls.push(`${spec.address}:${spec.port}`);
        return down.has(spec.address) ? { ok: false, reason: 'refused', durationMs: 1 } : { ok: true, reason: 'ok', durationMs: 1 };
      },
    },
  });
  const events: HealthEvent[] = [];
  m.on('transition', (e) => events.push(e));
  return { clock, down, calls, m, events };
}

test('the id is a hash of the normalised config: key order and null-vs-missing options do not matter', () => {
  const a = tcpSpec('10.0.0.1:80');
  const b: CheckerSpec = JSON.parse(JSON.stringify({ timing: a.timing, check: { timeoutMs: 300, port: 80, address: '10.0.0.1', type: 'tcp', bindto: null }, realKey: a.realKey, serviceKey: a.serviceKey }));
  assert.equal(checkerId(a), checkerId(b));
  assert.match(checkerId(a), /^[0-9a-f]{16}$/);
  const variants: CheckerSpec[] = [
    tcpSpec('10.0.0.1:81'),
    tcpSpec('10.0.0.1:80', { intervalMs: 2000 }),
    tcpSpec('10.0.0.1:80', {}, 301),
    tcpSpec('10.0.0.1:80', {}, 300, '10.9.9.9:443/tcp'),
    { ...a, check: { ...a.check, connectPort: 8080 } },
  ];
  const ids = new Set(variants.map(checkerId));
  assert.equal(ids.size, variants.length, 'every changed parameter changes the id');
  assert.ok(!ids.has(checkerId(a)));
});

test('reload: unchanged keeps state and history, changed starts fresh, removed stops', async () => {
  const { clock, down, m, events } = manager();
  const a = tcpSpec('10.0.0.1:80', { fall: 1 });
  const b = tcpSpec('10.0.0.2:80', { fall: 1 });
  const c = tcpSpec('10.0.0.3:80', { fall: 1 });
  const first = m.sync([a, b, c]);
  assert.equal(first.started.length, 3);
  down.add('10.0.0.1');
  down.add('10.0.0.2');
  await clock.advance(500);
  const idA = checkerId(a);
  assert.equal(m.status(idA)!.state, 'down');
  assert.equal(m.status(checkerId(b))!.state, 'down');
  const checksBefore = m.status(idA)!.checks;

  // Reload: a unchanged (a deep copy), b changed (interval), c removed.
  const b2 = tcpSpec('10.0.0.2:80', { fall: 1, intervalMs: 2000 });
  const removed: string[] = [];
  m.on('removed', (e) => removed.push(e.realKey));
  const pendingBefore = clock.pending();
  const res = m.sync([JSON.parse(JSON.stringify(a)), b2]);
  assert.deepEqual(res.kept, [idA]);
  assert.deepEqual(res.started, [checkerId(b2)]);
  assert.deepEqual(res.stopped.sort(), [checkerId(b), checkerId(c)].sort());
  assert.deepEqual(removed.sort(), ['10.0.0.2:80', '10.0.0.3:80']);
  assert.equal(clock.pending(), pendingBefore - 1, 'two timers gone (b, c), one new (b2), a keeps its own');

  const sa = m.status(idA)!;
  assert.equal(sa.state, 'down', 'a failed real stays down across the reload (keepalived #106)');
  assert.equal(sa.checks, checksBefore);
  assert.equal(sa.history.length, 1);
  const sb = m.status(checkerId(b2))!;
  assert.equal(sb.state, 'up', 'a changed checker starts fresh (non-alpha: up)');
  assert.equal(sb.checks, 0);
  assert.equal(m.status(checkerId(c)), undefined);
  assert.equal(m.statuses().length, 2);
  // The kept checker continues on its own schedule (next check at 1500, not re-warmed).
  await clock.advance(1000);
  assert.equal(m.status(idA)!.checks, checksBefore + 1);
  assert.equal(events.filter((e) => e.realKey === '10.0.0.3:80').length, 0);
  m.stop();
  assert.equal(clock.pending(), 0);
});

test('an invalid spec is rejected naming its field, and the running set is untouched', async () => {
  const { clock, m } = manager();
  const a = tcpSpec('10.0.0.1:80');
  m.sync([a]);
  const bad = tcpSpec('10.0.0.2:80', { rise: 0 });
  assert.throws(() => m.sync([tcpSpec('10.0.0.5:80'), bad]), (e: unknown) =>
    isXlvsError(e, 'E_HEALTH') && /checkers\[1\] \(10\.9\.9\.9:80\/tcp 10\.0\.0\.2:80\)\.timing\.rise: must be an integer >= 1/.test((e as Error).message));
  const http: CheckerSpec = { ...a, realKey: '10.0.0.4:80', check: { type: 'http', address: '10.0.0.4', port: 80, timeoutMs: 100, method: 'GET', path: '/', status: '200-99x' } };
  assert.throws(() => m.sync([http]), /checkers\[0\].*\.check\.status: "200-99x" is not a status code/);
  const re: CheckerSpec = { ...http, check: { ...http.check, status: '200', regex: '(' } as CheckerSpec['check'] };
  assert.throws(() => m.sync([re]), /\.check\.regex: invalid regular expression/);
  const dig: CheckerSpec = { ...http, check: { ...http.check, status: '200', digest: 'abc' } as CheckerSpec['check'] };
  assert.throws(() => m.sync([dig]), /\.check\.digest: must be 32 hex digits/);
  assert.throws(() => m.sync([a, JSON.parse(JSON.stringify(a))]), /checkers\[1\]: same service, real and check as checkers\[0\]/);
  assert.deepEqual(m.statuses().map((s) => s.realKey), ['10.0.0.1:80'], 'nothing applied halfway');
  await clock.advance(600);
  assert.equal(m.statuses()[0].checks, 1);
  m.stop();
});
