// Packet fixtures as a table (docs/DEVELOPING.md; Katran lib/testing/fixtures): one row per case — input
// packet, expected verdict, expected output and expected counter changes — run through
// BPF_PROG_TEST_RUN. runFixtureTable() registers one node:test test() per row; checkFixture()
// runs one row and returns its problems, for loops over large generated corpora.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { diffPackets, ParseOptions } from './packet-parse';

/** XDP return codes (uapi/linux/bpf.h enum xdp_action). */
export const XDP = { XDP_ABORTED: 0, XDP_DROP: 1, XDP_PASS: 2, XDP_TX: 3, XDP_REDIRECT: 4 } as const;
export type Verdict = keyof typeof XDP;

export function verdictName(retval: number): string {
  const e = Object.entries(XDP).find(([, v]) => v === retval);
  return e ? e[0] : `unknown(${retval})`;
}

export interface FixtureRow {
  name: string;
  /** Runs before the packet (map entries, flags); may be async. */
  setup?(): void | Promise<void>;
  packet: Buffer;
  verdict: Verdict;
  /** The exact output frame, or 'unchanged' for "same bytes as the input". Omitted: not checked. */
  output?: Buffer | 'unchanged';
  /** Counter deltas this packet must cause; only the keys listed are checked (plus strictCounters). */
  counters?: Record<string, number | bigint>;
  skip?: string | boolean;
}

export interface TestRunOutcome { retval: number; data: Buffer; duration: number }

export interface FixtureContext {
  testRun(data: Buffer): TestRunOutcome;
  /** Current counter values, summed over CPUs; read before and after each row. */
  readCounters?(): Record<string, bigint>;
  /**
   * Counters that must not change unless a row lists them: the reason counters, say, so that a
   * packet counted under the wrong reason fails even when the row only names the right one.
   * A list of keys, a predicate, or 'all'. Default: none.
   */
  strictCounters?: readonly string[] | ((key: string) => boolean) | 'all';
  before?(): void | Promise<void>;
  after?(): void | Promise<void>;
  /** Options for the describe() (e.g. needsBpf()). */
  testOptions?: { skip?: string | boolean };
  /** How to parse frames in diffs (default: Ethernet). */
  parse?: ParseOptions;
}

/** Runs one row; returns '' when it holds, otherwise every problem found (one per line). */
export async function checkFixture(row: FixtureRow, ctx: FixtureContext): Promise<string> {
  if (row.setup) await row.setup();
  const beforeCounters = ctx.readCounters ? ctx.readCounters() : {};
  const input = Buffer.from(row.packet); // the program must not see (or change) the row's own buffer
  const r = ctx.testRun(input);
  const afterCounters = ctx.readCounters ? ctx.readCounters() : {};
  const problems: string[] = [];

  if (r.retval !== XDP[row.verdict]) problems.push(`verdict: expected ${row.verdict}, got ${verdictName(r.retval)}`);

  if (row.output !== undefined) {
    const want = row.output === 'unchanged' ? row.packet : row.output;
    const d = diffPackets(want, r.data, ctx.parse);
    if (d) problems.push(`output${row.output === 'unchanged' ? ' (expected unchanged)' : ''}:\n  ${d.split('\n').join('\n  ')}`);
  }

  if (row.counters || ctx.strictCounters) {
    problems.push(...counterProblems(row.counters ?? {}, beforeCounters, afterCounters, ctx));
  }
  return problems.join('\n');
}

function counterProblems(
  want: Record<string, number | bigint>,
  b: Record<string, bigint>,
  a: Record<string, bigint>,
  ctx: FixtureContext,
): string[] {
  const problems: string[] = [];
  if (!ctx.readCounters && Object.keys(want).length > 0) {
    return ['counters: the row lists counters but the context has no readCounters()'];
  }
  const delta = (k: string) => (a[k] ?? 0n) - (b[k] ?? 0n);
  for (const [k, v] of Object.entries(want)) {
    if (!(k in a) && !(k in b)) { problems.push(`counter ${k}: no such counter (known: ${Object.keys(a).sort().join(', ')})`); continue; }
    if (delta(k) !== BigInt(v)) problems.push(`counter ${k}: expected +${v}, got +${delta(k)}`);
  }
  const s = ctx.strictCounters;
  const strict = (k: string) => s === 'all' || (typeof s === 'function' ? s(k) : (s ?? []).includes(k));
  for (const k of new Set([...Object.keys(a), ...Object.keys(b)])) {
    if (k in want || !strict(k)) continue;
    if (delta(k) !== 0n) problems.push(`counter ${k}: expected no change, got +${delta(k)}`);
  }
  return problems;
}

/** Registers describe(describeName) with one test() per row. */
export function runFixtureTable(describeName: string, rows: readonly FixtureRow[], ctx: FixtureContext): void {
  const names = new Set<string>();
  for (const r of rows) {
    if (names.has(r.name)) throw new Error(`fixture table "${describeName}": duplicate row name "${r.name}"`);
    names.add(r.name);
  }
  describe(describeName, ctx.testOptions ?? {}, () => {
    if (ctx.before) before(ctx.before);
    if (ctx.after) after(ctx.after);
    for (const row of rows) {
      test(row.name, { skip: row.skip }, async () => {
        const problems = await checkFixture(row, ctx);
        if (problems) assert.fail(`fixture "${row.name}":\n${problems}`);
      });
    }
  });
}

/**
 * Flow tables for test data planes: 65,536 flows each. lb_conns and lb_new are arrays that the
 * test-only walk (Flows.connections) and Flows.clear() read or write whole: 64 MiB each at the
 * default sizes, about 0.1 s per call through their mappings (more for the LRU hashes).
 */
export const SMALL_TEST_TABLES = { conns: 65_536, unconfirmed: 65_536 } as const;
