// The one table bench/run.ts prints: a row per measured case, its value and unit, its ratio to
// a baseline measured in the same run or to a target, and the spread over repeats.
import type { Summary } from './stats';

export interface Row {
  section: string;
  case: string;
  value: number;
  unit: string;
  /** value / reference; < 1 meets a "≤" target, > 1 meets a "≥" target (see `ref`). */
  ratio?: number;
  /** What the ratio is against, e.g. "target ≤ 5 ms" or "haproxy (same run)". */
  ref?: string;
  /** Whether the target is met (undefined when the ratio is informative only). */
  met?: boolean;
  /** Spread over repeats, e.g. "9.8–12.1 (n=7)". */
  spread?: string;
  note?: string;
}

function num(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const a = Math.abs(x);
  if (a >= 100_000) return x.toExponential(2);
  if (a >= 100) return x.toFixed(0);
  if (a >= 10) return x.toFixed(1);
  if (a >= 0.1) return x.toFixed(2);
  if (a === 0) return '0';
  return x.toPrecision(2);
}

export function spreadOf(s: Summary, digits?: (x: number) => string): string {
  const f = digits ?? num;
  return s.n > 1 ? `${f(s.min)}–${f(s.max)} (n=${s.n})` : `n=${s.n}`;
}

export { num as formatNumber };

/** A "≤ target" row: ratio value/target, met when ≤ 1. */
export function atMost(section: string, name: string, s: Summary, unit: string, target: number, note?: string): Row {
  return { section, case: name, value: s.median, unit, ratio: s.median / target, ref: `target ≤ ${num(target)} ${unit}`, met: s.median <= target, spread: spreadOf(s), note };
}

export function info(section: string, name: string, s: Summary | number, unit: string, note?: string): Row {
  if (typeof s === 'number') return { section, case: name, value: s, unit, note };
  return { section, case: name, value: s.median, unit, spread: spreadOf(s), note };
}

/** Renders rows as one aligned text table (also valid Markdown). */
export function renderTable(rows: Row[]): string {
  const head = ['section', 'case', 'value', 'unit', 'ratio', 'vs', 'spread (min–max)', 'note'];
  const body = rows.map((r) => [
    r.section, r.case, num(r.value), r.unit,
    r.ratio === undefined ? '' : `${num(r.ratio)}${r.met === undefined ? '' : r.met ? ' ok' : ' MISS'}`,
    r.ref ?? '', r.spread ?? '', r.note ?? '',
  ]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i].length)));
  const line = (cells: string[]) => '| ' + cells.map((c, i) => (i === 2 || i === 4 ? c.padStart(w[i]) : c.padEnd(w[i]))).join(' | ') + ' |';
  return [line(head), '|' + w.map((n, i) => (i === 2 || i === 4 ? '-'.repeat(n + 1) + ':' : '-'.repeat(n + 2))).join('|') + '|', ...body.map(line)].join('\n');
}
