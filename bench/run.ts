// `make bench`: runs the benchmark sections, prints ONE table (section, case, value, unit, ratio
// to a baseline of the same run or to a target, spread over repeats) and writes the numbers to
// bench/results/<YYYY-MM-DD>-<hostname>.json.
//
// Each section runs in its own Node process: the data-plane bench pins its thread to one CPU
// (children would inherit that), the control-plane bench holds hundreds of MB of maps, and a
// section that fails must not take the others down. A failed section is a row in the table
// and makes the exit status 1.
//
// Usage: node dist/bench/run.js [SECTION…] [--quick] [--no-write]
//   sections: dataplane controlplane scrape conns health e2e failover (default: all)
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { repoRoot } from '../src/paths';
import { Row, renderTable, spreadOf } from './lib/report';
import { summarise } from './lib/stats';

interface SectionOutput { rows: Row[]; raw: unknown }
type Section = (quick: boolean) => Promise<SectionOutput>;

const SECTIONS: Record<string, Section> = {
  async dataplane(quick) {
    const dp = await import('./dataplane');
    const r = await dp.run(quick ? { runs: 3, calls: 5000, flows: 100_000 } : {});
    const rows: Row[] = r.cases.map((c) => ({
      section: 'dataplane', case: c.name, value: c.medianNs, unit: 'ns/packet', ratio: c.vsPass, ref: 'XDP_PASS (same run)',
      spread: `${c.minNs.toFixed(0)}–${c.maxNs.toFixed(0)} (n=${r.runs})`, note: `net of test-run overhead ${c.netNs.toFixed(0)} ns`,
    }));
    rows.push({ section: 'dataplane', case: `cycled ${r.flows} flows: connection-table miss rate`, value: r.cycledMissRate, unit: 'share' });
    for (const t of r.targets) rows.push({ section: 'dataplane', case: t.name, value: t.ratio, unit: 'ratio', ratio: t.ratio / t.target, ref: `target ≤ ${t.target}`, met: t.met });
    return { rows, raw: r };
  },
  async controlplane(quick) {
    const cp = await import('./controlplane');
    const r = cp.run({ quick });
    return { rows: r.rows, raw: r };
  },
  async scrape(quick) {
    const s = await import('./scrape');
    const r = await s.run({ quick });
    return { rows: r.rows, raw: r };
  },
  async conns(quick) {
    const c = await import('./conns');
    const r = await c.run({ quick });
    return { rows: r.rows, raw: r.raw };
  },
  async health(quick) {
    const h = await import('./health');
    const r = await h.run(quick ? { reals: 300, seconds: 3 } : {});
    const S = 'health';
    const rows: Row[] = [
      { section: S, case: `checker CPU, ${r.reals} TCP reals every ${r.intervalMs} ms`, value: r.cpuShareOfOneCore * 100, unit: '% of a core', ratio: r.ratios.cpu, ref: 'target ≤ 25 %', met: r.ratios.cpu <= 1, note: `${r.checks} checks, ${r.failedChecks} failed` },
      { section: S, case: 'check lateness p99', value: r.lateP99Ms, unit: 'ms', ratio: r.ratios.lateness, ref: 'target ≤ 5 % of interval', met: r.ratios.lateness <= 1, note: `p50 ${r.lateP50Ms.toFixed(2)} ms, max ${r.lateMaxMs.toFixed(1)} ms` },
      { section: S, case: 'verdict → transition callback p99', value: r.verdictToCallbackP99Ms, unit: 'ms', ratio: r.ratios.callback, ref: 'target ≤ 1 ms', met: r.ratios.callback <= 1, note: `${r.transitions} transitions` },
    ];
    return { rows, raw: r };
  },
  async e2e(quick) {
    const e = await import('./e2e');
    const r = await e.run({ quick });
    return { rows: r.rows, raw: r };
  },
  async failover(quick) {
    const f = await import('./failover');
    const r = await f.run({ quick });
    return { rows: r.rows, raw: r };
  },
};

const MARK = '@@xlvs-bench-result@@';

function bigints(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}

/** Child mode: run one section, print its result on one marked line. */
async function child(name: string, quick: boolean): Promise<void> {
  const out = await SECTIONS[name](quick);
  process.stdout.write(`\n${MARK}${JSON.stringify(out, bigints)}\n`);
}

function runSection(name: string, quick: boolean): Promise<SectionOutput & { seconds: number }> {
  const t0 = Date.now();
  return new Promise((resolve) => {
    const p = spawn(process.execPath, [__filename, '--child', name, ...(quick ? ['--quick'] : [])], { stdio: ['ignore', 'pipe', 'inherit'] });
    let buf = '';
    let result: SectionOutput | null = null;
    p.stdout.on('data', (c: Buffer) => {
      buf += c.toString();
      let i: number;
      while ((i = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 1);
        if (line.startsWith(MARK)) result = JSON.parse(line.slice(MARK.length)) as SectionOutput;
        else if (line) process.stderr.write(`  [${name}] ${line}\n`); // progress goes to stderr; the table to stdout
      }
    });
    p.on('close', (code, signal) => {
      const seconds = (Date.now() - t0) / 1000;
      if (result && code === 0) resolve({ ...result, seconds });
      else resolve({ rows: [{ section: name, case: 'FAILED', value: NaN, unit: '', note: `exit ${code ?? signal}; see the output above` }], raw: { failed: true, code, signal }, seconds });
    });
  });
}

function machine(): Record<string, unknown> {
  const cpuinfo = fs.readFileSync('/proc/cpuinfo', 'utf8');
  return {
    hostname: os.hostname(), nproc: os.cpus().length,
    cpuModel: /^model name\s*:\s*(.*)$/m.exec(cpuinfo)?.[1] ?? os.cpus()[0]?.model ?? 'unknown',
    kernel: os.release(), node: process.version, loadavgAtStart: os.loadavg(),
  };
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const quick = args.includes('--quick');
  const ci = args.indexOf('--child');
  if (ci >= 0) return child(args[ci + 1], quick);
  const asked = args.filter((a) => !a.startsWith('--'));
  const unknown = asked.filter((a) => !(a in SECTIONS));
  if (unknown.length) {
    process.stderr.write(`bench: unknown section ${unknown.join(', ')}; sections: ${Object.keys(SECTIONS).join(' ')}\n`);
    process.exit(2);
  }
  const names = asked.length ? asked : Object.keys(SECTIONS);
  const started = new Date();
  const info = machine();
  process.stderr.write(`bench: ${names.join(' ')}${quick ? ' (quick)' : ''} on ${info.hostname}, ${info.nproc} CPUs, ${info.cpuModel}, kernel ${info.kernel}\n`);
  const rows: Row[] = [];
  const raw: Record<string, unknown> = {};
  const seconds: Record<string, number> = {};
  let failed = false;
  for (const n of names) {
    process.stderr.write(`bench: ${n}…\n`);
    const r = await runSection(n, quick);
    rows.push(...r.rows);
    raw[n] = r.raw;
    seconds[n] = r.seconds;
    if (r.rows.some((x) => x.case === 'FAILED')) failed = true;
  }
  process.stdout.write(renderTable(rows) + '\n');
  const missed = rows.filter((r) => r.met === false);
  process.stdout.write(`${rows.filter((r) => r.met !== undefined).length} targets, ${missed.length} missed${missed.length ? ': ' + missed.map((r) => `${r.section}/${r.case}`).join('; ') : ''}\n`);
  process.stdout.write(`section seconds: ${Object.entries(seconds).map(([k, v]) => `${k} ${v.toFixed(0)}`).join(', ')}\n`);
  if (!args.includes('--no-write')) {
    const dir = path.join(repoRoot(), 'bench', 'results');
    fs.mkdirSync(dir, { recursive: true });
    const file = path.join(dir, `${started.toISOString().slice(0, 10)}-${os.hostname()}.json`);
    fs.writeFileSync(file, JSON.stringify({ started: started.toISOString(), quick, sections: names, machine: { ...info, loadavgAtEnd: os.loadavg() }, seconds, rows, raw }, bigints, 2) + '\n');
    process.stdout.write(`results: ${path.relative(repoRoot(), file)}\n`);
  }
  if (failed) process.exit(1);
}

export { SECTIONS, spreadOf, summarise };

if (require.main === module) {
  main().catch((e) => { console.error(e); process.exit(1); });
}
