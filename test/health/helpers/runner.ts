// Runs health checks inside whatever namespace it is started in (the tests start it with
// `ip netns exec`), printing JSON lines on stdout.
//   node runner.js once '[CheckSpec, …]'      → one line: { results: CheckResult[], maxGapMs } (payloadHex → payload)
//   node runner.js manage '[CheckerSpec, …]'  → one line per event: {kind:'check'|'transition', …}
// `manage` runs until stdin closes or SIGTERM.
import { performance } from 'node:perf_hooks';
import { HealthManager } from '../../../src/health/manager';
import { runCheck } from '../../../src/health/checks';
import { CheckSpec, CheckerSpec } from '../../../src/health/types';

type Wire = Record<string, unknown> & { payloadHex?: string };

function revive(c: Wire): CheckSpec {
  const out = { ...c } as Record<string, unknown>;
  if (typeof c.payloadHex === 'string') { out.payload = Buffer.from(c.payloadHex, 'hex'); delete out.payloadHex; }
  return out as unknown as CheckSpec;
}

async function main(): Promise<void> {
  const [mode, json] = process.argv.slice(2);
  if (mode === 'once') {
    const specs = (JSON.parse(json) as Wire[]).map(revive);
    // The largest gap between ticks of a 10 ms interval while the checks run: how long this
    // thread was held (a regex or digest done on it would show here).
    let last = performance.now();
    let maxGapMs = 0;
    const iv = setInterval(() => { const now = performance.now(); maxGapMs = Math.max(maxGapMs, now - last); last = now; }, 10);
    const results = await Promise.all(specs.map((s) => runCheck(s)));
    clearInterval(iv);
    maxGapMs = Math.max(maxGapMs, performance.now() - last);
    process.stdout.write(JSON.stringify({ results, maxGapMs }) + '\n');
    process.exit(0); // the regex worker is unref'd, but do not wait for anything else either
    return;
  }
  if (mode === 'manage') {
    const specs = (JSON.parse(json) as Array<CheckerSpec & { check: Wire }>).map((s) => ({ ...s, check: revive(s.check) }));
    const m = new HealthManager();
    m.on('check', (e) => process.stdout.write(JSON.stringify({ kind: 'check', ...e }) + '\n'));
    m.on('transition', (e) => process.stdout.write(JSON.stringify({ kind: 'transition', ...e }) + '\n'));
    m.sync(specs);
    const keep = setInterval(() => undefined, 1 << 30);
    const stop = () => { m.stop(); clearInterval(keep); process.exit(0); };
    process.stdin.on('end', stop);
    process.stdin.resume();
    process.on('SIGTERM', stop);
    return;
  }
  throw new Error(`usage: runner.js once|manage JSON`);
}

main().catch((e) => { process.stderr.write(String(e instanceof Error ? e.stack : e) + '\n'); process.exit(2); });
