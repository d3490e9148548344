// HTTP check bodies: the regex runs in a worker that is terminated when the check's deadline
// passes, so a catastrophically backtracking pattern cannot stop the daemon's thread; the body
// read is capped. The body arrives on a real stream (what http.IncomingMessage is); the full
// HTTP path against a server in a namespace is in checks.test.ts.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { performance } from 'node:perf_hooks';
import { MatchAborted, RegexMatcher } from '../../src/health/regex-matcher';
import { judgeBody, MAX_BODY_BYTES, readBody } from '../../src/health/http-body';
import { probe } from '../../src/health/probe';

const EVIL = '(a+)+$';
/** 2^40 paths for the backtracker: seconds to hours of work, never a match. */
const EVIL_BODY = 'a'.repeat(40) + '!';

const matcher = new RegexMatcher();
after(() => matcher.close());

/** Runs `work` while a 10 ms setInterval measures the main thread's largest gap between ticks. */
async function measureGaps<T>(work: () => Promise<T>): Promise<{ value: T; maxGapMs: number }> {
  let last = performance.now();
  let maxGapMs = 0;
  const iv = setInterval(() => { const now = performance.now(); maxGapMs = Math.max(maxGapMs, now - last); last = now; }, 10);
  try {
    const value = await work();
    const now = performance.now();
    maxGapMs = Math.max(maxGapMs, now - last);
    return { value, maxGapMs };
  } finally {
    clearInterval(iv);
  }
}

/** What httpCheck does after the status line: probe shell, capped read, digest/regex. */
function bodyCheck(body: string | Buffer, spec: { regex?: string; digest?: string; timeoutMs: number }) {
  return probe(spec.timeoutMs, new AbortController().signal, async (sig, ctx) => {
    const res = new PassThrough();
    res.end(body);
    return judgeBody(spec, 200, await readBody(res), matcher, sig, ctx);
  });
}

test('(a+)+$ against 40 a and "!" with a 300 ms timeout: failed as "regex timed out" near 300 ms; the main thread keeps ticking', async () => {
  const spawnedBefore = matcher.spawned;
  const { value: r, maxGapMs } = await measureGaps(() => bodyCheck(EVIL_BODY, { regex: EVIL, timeoutMs: 300 }));
  process.stdout.write(`# measured: regex verdict after ${r.durationMs.toFixed(0)} ms, main thread's largest gap ${maxGapMs.toFixed(1)} ms\n`);
  assert.deepEqual([r.ok, r.reason], [false, 'regex timed out after 300ms']);
  assert.ok(r.durationMs >= 295 && r.durationMs < 600, `verdict at the deadline, took ${r.durationMs} ms`);
  assert.ok(maxGapMs < 150, `main thread blocked for ${maxGapMs} ms`);
  // The overrunning worker was replaced; the next match runs in a fresh one and works.
  const ok = await bodyCheck('hello world\n', { regex: '^hello\\s+w', timeoutMs: 1000 });
  assert.deepEqual([ok.ok, ok.reason], [true, 'HTTP 200 body ok']);
  assert.equal(matcher.spawned - spawnedBefore, spawnedBefore === 0 ? 2 : 1, 'one new worker after the overrun');
});

test('one long-lived worker: many matches, no respawn', async () => {
  const before = matcher.spawned;
  await matcher.match('warm', 'warm', new AbortController().signal);
  const spawned = matcher.spawned;
  assert.ok(spawned - before <= 1);
  const results = await Promise.all(Array.from({ length: 50 }, (_, i) => matcher.match(`^x${i}$`, `x${i}`, new AbortController().signal)));
  assert.ok(results.every(Boolean));
  assert.equal(matcher.spawned, spawned, 'no worker started for 50 matches');
});

test('a match queued behind an overrunning one: it runs once that one is cut off, or names the wait when its own deadline passes first', async () => {
  const bad = matcher.match(EVIL, EVIL_BODY, AbortSignal.timeout(300));
  // Deadline after the bad one's: it waits, then runs in the new worker.
  const patient = matcher.match('^a+!$', EVIL_BODY, AbortSignal.timeout(2000));
  // Deadline before the bad one's: it never reaches the worker.
  const hasty = bodyCheck(EVIL_BODY, { regex: '^a', timeoutMs: 100 });
  await assert.rejects(bad, MatchAborted);
  assert.equal(await patient, true);
  const h = await hasty;
  assert.deepEqual([h.ok, h.reason], [false, "regex timed out after 100ms waiting for the regex worker (another check's match was running)"]);
});

test('the body read is capped at MAX_BODY_BYTES: the stream is destroyed, a digest fails, a regex sees the first MiB', async () => {
  assert.equal(MAX_BODY_BYTES, 1 << 20);
  const res = new PassThrough();
  let written = 0;
  // A server that never stops sending: 64 KiB chunks until the reader gives up.
  const pump = () => { while (!res.destroyed && res.write(Buffer.alloc(65536, 0x62))) written += 65536; };
  res.on('drain', pump);
  pump();
  const body = await readBody(res);
  assert.equal(body.truncated, true);
  assert.equal(body.bytes.length, MAX_BODY_BYTES);
  assert.ok(res.destroyed, 'the response is destroyed once the cap is reached');
  assert.ok(written < MAX_BODY_BYTES + 4 * 65536, `stopped reading after ${written} bytes`);

  const big = Buffer.concat([Buffer.from('status=green '), Buffer.alloc(MAX_BODY_BYTES, 0x78)]);
  const d = await bodyCheck(big, { digest: 'f'.repeat(32), timeoutMs: 2000 });
  assert.deepEqual([d.ok, d.reason], [false, `HTTP 200 body longer than ${MAX_BODY_BYTES} bytes: its digest cannot be checked`]);
  const m = await bodyCheck(big, { regex: '^status=green', timeoutMs: 2000 });
  assert.deepEqual([m.ok, m.reason], [true, `HTTP 200 body ok (first ${MAX_BODY_BYTES} bytes)`]);
  const tail = await bodyCheck(Buffer.concat([big, Buffer.from('END')]), { regex: 'END$', timeoutMs: 2000 });
  assert.deepEqual([tail.ok, tail.reason], [false, 'HTTP 200 body does not match /END$/']);
});

test('digest of a body within the cap, as md5sum prints it', async () => {
  // md5sum of "hello world\n"
  const good = await bodyCheck('hello world\n', { digest: '6f5902ac237024bdd0c176cb93063dc4', timeoutMs: 1000 });
  assert.deepEqual([good.ok, good.reason], [true, 'HTTP 200 body ok']);
  const bad = await bodyCheck('hello world!\n', { digest: '6f5902ac237024bdd0c176cb93063dc4', timeoutMs: 1000 });
  assert.equal(bad.ok, false);
  assert.match(bad.reason, /^HTTP 200 body digest [0-9a-f]{32} != 6f5902ac237024bdd0c176cb93063dc4$/);
});

test('a pattern the worker cannot compile fails the check with the error, and the worker lives on', async () => {
  const before = matcher.spawned;
  const r = await bodyCheck('x', { regex: '(x', timeoutMs: 1000 });
  assert.equal(r.ok, false);
  assert.match(r.reason, /regex "\(x": Invalid regular expression/);
  assert.equal(await matcher.match('x', 'x', new AbortController().signal), true);
  assert.ok(matcher.spawned - before <= 1);
});

test('HealthManager.sync starts the shared worker when a checker has a body regex, before its first check', async () => {
  const { HealthManager } = await import('../../src/health/manager');
  const { FakeClock } = await import('../../src/health/clock');
  const { sharedRegexMatcher } = await import('../../src/health/regex-matcher');
  const calls: string[] = [];
  const m = new HealthManager({ clock: new FakeClock(), checkFns: { http: async (s) => { calls.push(s.address); return { ok: true, reason: 'stub', durationMs: 0 }; } } });
  const spec = (regex: string | null) => ({
    serviceKey: '10.9.9.9:80/tcp', realKey: '10.0.0.1:80',
    check: { type: 'http' as const, address: '10.0.0.1', port: 80, timeoutMs: 300, method: 'GET', path: '/', status: '200-299', regex },
    timing: { intervalMs: 1000, rise: 1, fall: 1, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false },
  });
  const shared = sharedRegexMatcher();
  assert.equal(shared.spawned, 0, 'nothing in this file used the shared matcher yet');
  m.sync([spec(null)]);
  assert.equal(shared.spawned, 0, 'no regex, no worker');
  m.sync([spec('^ok')]);
  assert.equal(calls.length, 0, 'no check has run yet');
  assert.equal(shared.spawned, 1, 'the worker is up before the first check');
  m.stop();
  await shared.close();
});
