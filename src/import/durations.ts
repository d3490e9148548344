// Durations as the topology writes them: `6s`, `500ms` (docs/topology.md "Durations").

/** Seconds (possibly fractional, keepalived <TIMER>) to a topology duration string. */
export function secondsToDuration(s: number): string {
  if (Number.isInteger(s)) return `${s}s`;
  const ms = Math.round(s * 1000);
  return ms % 1000 === 0 ? `${ms / 1000}s` : `${ms}ms`;
}
