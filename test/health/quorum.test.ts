// Effective reals per service, quorum with hysteresis, sorry server, notify commands.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { computeService, QuorumRealInput } from '../../src/health/quorum';
import { ServiceHealth } from '../../src/health/service';
import { runNotify } from '../../src/health/notify';

const cfg = { min: 3, hysteresis: 2, hasSorry: true };
const reals = (ups: boolean[], extra: Partial<QuorumRealInput>[] = []): QuorumRealInput[] =>
  ups.map((up, i) => ({ key: `10.0.0.${i + 1}:80`, health: up ? 'up' : 'down', weight: 1, reason: up ? 'ok' : 'refused', ...extra[i] }));

test('down reals leave selection; inhibit_on_failure keeps them at weight 0; misc_dynamic weight wins', () => {
  const v = computeService(reals([true, false, false, true, true], [{}, {}, { inhibitOnFailure: true }, { dynamicWeight: 5 }, { dynamicWeight: 0 }]), { min: 1, hysteresis: 0, hasSorry: false });
  assert.deepEqual(v.reals.map((r) => [r.key, r.weight, r.state]), [
    ['10.0.0.1:80', 1, 'up'],
    ['10.0.0.2:80', 0, 'down'],
    ['10.0.0.3:80', 0, 'drain'],
    ['10.0.0.4:80', 5, 'up'],
    ['10.0.0.5:80', 0, 'drain'],
  ]);
  assert.equal(v.healthyWeight, 6);
  assert.equal(v.sorry, false);
  assert.match(v.reals[2].reason, /inhibit_on_failure: refused/);
});

test('quorum: below min → sorry; restored only at min + hysteresis', () => {
  // Walk 5 reals of weight 1 down one by one, then back up one by one.
  const seq: Array<[number, boolean, boolean]> = []; // [up count, quorumUp, sorry]
  let prev: boolean | undefined;
  for (const n of [5, 4, 3, 2, 1, 0, 1, 2, 3, 4, 5, 4, 3, 2]) {
    const v = computeService(reals([0, 1, 2, 3, 4].map((i) => i < n)), cfg, prev);
    prev = v.quorumUp;
    seq.push([n, v.quorumUp, v.sorry]);
    if (n === 2 && !v.quorumUp) assert.match(v.reason, /quorum lost: healthy weight 2 < (3|5).*sorry server in use/);
  }
  assert.deepEqual(seq, [
    [5, true, false], [4, true, false], [3, true, false],
    [2, false, true], [1, false, true], [0, false, true],
    [1, false, true], [2, false, true], [3, false, true], [4, false, true], // 3 and 4 < 3 + 2
    [5, true, false],
    [4, true, false], [3, true, false], [2, false, true],
  ]);
});

test('no sorry server: quorum is still tracked, sorry stays false', () => {
  const v = computeService(reals([false, false]), { min: 1, hysteresis: 0, hasSorry: false });
  assert.equal(v.quorumUp, false);
  assert.equal(v.sorry, false);
  assert.ok(v.reals.every((r) => r.state === 'down'));
});

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-health-notify-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

/** A notify program that records its argv and XLVS_* environment, one JSON line per call. */
function recorder(name: string): { argv: string[]; read: () => Array<{ argv: string[]; env: Record<string, string> }> } {
  const out = path.join(tmp, `${name}.jsonl`);
  const prog = `const e={};for(const k in process.env)if(k.startsWith('XLVS_'))e[k]=process.env[k];require('fs').appendFileSync(${JSON.stringify(out)},JSON.stringify({argv:process.argv.slice(1),env:e})+'\\n')`;
  return {
    argv: [process.execPath, '-e', prog, '%event%', '%service%', '%real%'],
    read: () => (fs.existsSync(out) ? fs.readFileSync(out, 'utf8').trim().split('\n').map((l) => JSON.parse(l)) : []),
  };
}

test('runNotify: argv placeholders and XLVS_ environment, no shell', async () => {
  const r = recorder('direct');
  const argv = [...r.argv, '$(touch /tmp/should-not-exist); `x`'];
  const res = await runNotify(argv, { event: 'notify_down', service: '10.9.9.9:80/tcp', real: '10.0.0.1:80', reason: 'refused' });
  assert.equal(res.code, 0);
  const [call] = r.read();
  assert.deepEqual(call.argv, ['notify_down', '10.9.9.9:80/tcp', '10.0.0.1:80', '$(touch /tmp/should-not-exist); `x`']);
  assert.equal(call.env.XLVS_EVENT, 'notify_down');
  assert.equal(call.env.XLVS_SERVICE, '10.9.9.9:80/tcp');
  assert.equal(call.env.XLVS_REAL, '10.0.0.1:80');
  assert.equal(call.env.XLVS_REASON, 'refused');
  const missing = await runNotify(['/nonexistent/xlvs-notify'], { event: 'x' });
  assert.match(missing.error ?? '', /ENOENT/);
});

test('ServiceHealth runs quorum_down once when quorum is lost and quorum_up when regained; notify_up/down per real', async () => {
  const q = recorder('quorum');
  const n = recorder('real');
  const sh = new ServiceHealth();
  const done: string[] = [];
  sh.on('notify', (r: { event: string }) => done.push(r.event));
  const notify = { quorumUp: q.argv, quorumDown: q.argv };
  const waitFor = async (k: number) => { for (let i = 0; i < 200 && done.length < k; i++) await new Promise((r) => setTimeout(r, 10)); };
  sh.update('svc', reals([true, true, true]), cfg, notify); // start in quorum: nothing runs
  sh.update('svc', reals([true, true, false]), cfg, notify); // lost
  sh.update('svc', reals([true, false, false]), cfg, notify); // still lost: nothing
  await waitFor(1);
  const v = sh.update('svc', reals([true, true, true, true, true]), cfg, notify); // regained
  assert.equal(v.sorry, false);
  await waitFor(2);
  sh.realEvent({ id: 'x', serviceKey: 'svc', realKey: '10.0.0.1:80', from: 'up', to: 'down', reason: 'refused', at: 1, time: 1 }, { notifyDown: n.argv }, '10.0.0.1', 80);
  sh.realEvent({ id: 'x', serviceKey: 'svc', realKey: '10.0.0.1:80', from: 'up', to: 'up', reason: 'w', at: 2, time: 2, weight: 3 }, { notifyDown: n.argv, notifyUp: n.argv }, '10.0.0.1', 80);
  await waitFor(3);
  assert.deepEqual(q.read().map((c) => c.argv[0]), ['quorum_down', 'quorum_up']);
  assert.equal(q.read()[0].env.XLVS_SERVICE, 'svc');
  assert.equal(q.read()[0].env.XLVS_WEIGHT, '2');
  const realCalls = n.read();
  assert.equal(realCalls.length, 1, 'weight-only changes run no notify command');
  assert.deepEqual(realCalls[0].argv, ['notify_down', 'svc', '10.0.0.1:80']);
  assert.equal(realCalls[0].env.XLVS_ADDRESS, '10.0.0.1');
  assert.equal(realCalls[0].env.XLVS_PORT, '80');
});

test('checkers → quorum: reals taken down one by one until below quorum → sorry; restored at quorum + hysteresis', async () => {
  const { FakeClock } = await import('../../src/health/clock');
  const { HealthManager } = await import('../../src/health/manager');
  const { realInputs } = await import('../../src/health/service');
  const { tcpSpec } = await import('./fake');
  const clock = new FakeClock();
  const down = new Set<string>();
  const m = new HealthManager({
    clock, random: () => 0.5,
    checkFns: { tcp: async (s) => (down.has(s.address) ? { ok: false, reason: 'refused', durationMs: 1 } : { ok: true, reason: 'ok', durationMs: 1 }) },
  });
  const svc = '10.9.9.9:80/tcp';
  const configured = [1, 2, 3, 4].map((i) => ({ key: `10.0.0.${i}:80`, weight: 1, inhibitOnFailure: false }));
  m.sync(configured.map((r) => tcpSpec(r.key, { fall: 1, rise: 1 }, 300, svc)));
  configured.push({ key: '10.0.0.5:80', weight: 1, inhibitOnFailure: false }); // no checker: counts as up
  const sh = new ServiceHealth(async (argv) => ({ argv, code: 0, signal: null }));
  const q = { min: 3, hysteresis: 1, hasSorry: true };
  const verdict = () => sh.update(svc, realInputs(svc, configured, (s, r) => m.find(s, r)), q);
  const step = async (addr: string, isDown: boolean) => { if (isDown) down.add(addr); else down.delete(addr); await clock.advance(1000); return verdict(); };

  await clock.advance(600);
  assert.deepEqual([verdict().healthyWeight, verdict().sorry], [5, false]);
  assert.deepEqual([(await step('10.0.0.1', true)).sorry, (await step('10.0.0.2', true)).sorry], [false, false]);
  const lost = await step('10.0.0.3', true);
  assert.equal(lost.healthyWeight, 2);
  assert.equal(lost.sorry, true);
  assert.deepEqual(lost.reals.filter((r) => r.state === 'down').map((r) => r.key), ['10.0.0.1:80', '10.0.0.2:80', '10.0.0.3:80']);
  assert.equal(lost.reals.find((r) => r.key === '10.0.0.5:80')!.reason, 'no check');
  const stillSorry = await step('10.0.0.3', false); // 3 = min, but below min + hysteresis
  assert.deepEqual([stillSorry.healthyWeight, stillSorry.sorry], [3, true]);
  const restored = await step('10.0.0.2', false);
  assert.deepEqual([restored.healthyWeight, restored.sorry, restored.quorumUp], [4, false, true]);
  m.stop();
});
