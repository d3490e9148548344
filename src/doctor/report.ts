// Printing `xlvs doctor`'s findings and its exit status: 0 all ok, 1 warnings, 2 errors
// (a skipped check counts as ok: doctor said why it could not look).
import type { CheckResult, Status } from './checks';

export function exitCode(checks: CheckResult[]): number {
  if (checks.some((c) => c.status === 'error')) return 2;
  if (checks.some((c) => c.status === 'warning')) return 1;
  return 0;
}

export function formatJson(checks: CheckResult[]): string {
  return JSON.stringify({ checks: checks.map(({ name, status, finding, fix }) => ({ name, status, finding, fix })) }, null, 2) + '\n';
}

function count(checks: CheckResult[], s: Status): number {
  return checks.filter((c) => c.status === s).length;
}

/** One line per check (status, name, finding), the fix under it when there is one; a summary last. */
export function formatText(checks: CheckResult[]): string {
  const nameWidth = Math.max(...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${c.status.padEnd(8)} ${c.name.padEnd(nameWidth)}  ${c.finding}`);
    if (c.fix) lines.push(`${' '.repeat(8 + 1 + nameWidth)}  fix: ${c.fix}`);
  }
  const e = count(checks, 'error');
  const w = count(checks, 'warning');
  const verdict = e ? 'not ready: fix the errors first' : w ? 'can run xlvs; the warnings cost speed or safety' : 'ready to run xlvs';
  lines.push('');
  lines.push(`${checks.length} checks: ${count(checks, 'ok')} ok, ${w} warning(s), ${e} error(s), ${count(checks, 'skipped')} skipped: ${verdict}`);
  return lines.join('\n') + '\n';
}
