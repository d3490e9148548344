// Durations as operators write them: "500ms", "2s", "1m30s", "1h", or a number of seconds
// (keepalived writes plain seconds: `delay_loop 6`, `advert_int 0.5`). Result in whole ms.

const UNIT_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 };

/** Milliseconds, or an error text saying what is wrong. */
export function parseDuration(v: unknown): { ms: number } | { error: string } {
  if (typeof v === 'number') {
    if (!Number.isFinite(v) || v < 0) return { error: `${v} is not a duration (a number of seconds must be 0 or more)` };
    const ms = v * 1000;
    if (Math.abs(ms - Math.round(ms)) > 1e-6) return { error: `${v} seconds is not a whole number of milliseconds` };
    return { ms: Math.round(ms) };
  }
  if (typeof v !== 'string') return { error: `${JSON.stringify(v)} is not a duration` };
  const text = v.trim();
  const bad = { error: `"${v}" is not a duration (write e.g. 500ms, 2s, 1m30s, 1h, or a number of seconds)` };
  if (/^\d+(\.\d+)?$/.test(text)) return parseDuration(Number(text));
  if (!/^(\d+(\.\d+)?(ms|s|m|h))+$/.test(text)) return bad;
  let total = 0;
  for (const m of text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h)/g)) total += Number(m[1]) * UNIT_MS[m[2]];
  if (Math.abs(total - Math.round(total)) > 1e-6) return { error: `"${v}" is not a whole number of milliseconds` };
  return { ms: Math.round(total) };
}
