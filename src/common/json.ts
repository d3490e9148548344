// JSON helpers shared by the control socket, the metrics server and the CLI.

/** JSON.stringify replacer that writes bigints (counters) as decimal strings. */
export function bigintReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
