// Port groups: the ports of a grouped service (a list and/or ranges, IPVS's fwmark service made
// explicit), in one canonical text used in service keys, `xlvs list` and the status snapshot:
// the sorted maximal runs of the set, a lone port as `443`, a run as `10000-10100`, joined by
// commas (`80,443,10000-10100`). Two specs of the same set have the same text, so the key of a
// group does not depend on how the operator ordered or split it.

export interface PortRun { from: number; to: number }

/** The canonical text of a set of ports (each 1..65535); '' for none. */
export function portSpecOf(ports: Iterable<number>): string {
  return runsOf(ports).map((r) => (r.from === r.to ? String(r.from) : `${r.from}-${r.to}`)).join(',');
}

/** The sorted maximal runs of a set of ports. */
export function runsOf(ports: Iterable<number>): PortRun[] {
  const sorted = [...new Set(ports)].sort((a, b) => a - b);
  const out: PortRun[] = [];
  for (const p of sorted) {
    const last = out[out.length - 1];
    if (last && last.to + 1 === p) last.to = p;
    else out.push({ from: p, to: p });
  }
  return out;
}

/**
 * Parses `80,443,10000-10100` (the canonical text, or any order of items); null when it is not
 * one: an item that is no port 1..65535 or range a-b with a <= b. Overlaps are allowed here
 * (the set is what counts); the topology rejects them with the item's path.
 */
export function parsePortSpec(text: string): PortRun[] | null {
  if (typeof text !== 'string' || text === '') return null;
  const out: PortRun[] = [];
  for (const item of text.split(',')) {
    const r = parsePortItem(item);
    if (!r) return null;
    out.push(r);
  }
  return out;
}

/** One item: `443` or `10000-10100`; null when it is neither (or out of 1..65535, or a > b). */
export function parsePortItem(item: string | number): PortRun | null {
  if (typeof item === 'number') return Number.isInteger(item) && item >= 1 && item <= 65535 ? { from: item, to: item } : null;
  const m = /^\s*(\d{1,5})(?:\s*-\s*(\d{1,5}))?\s*$/.exec(item);
  if (!m) return null;
  const from = Number(m[1]);
  const to = m[2] === undefined ? from : Number(m[2]);
  if (from < 1 || to > 65535 || from > to) return null;
  return { from, to };
}

/** Is `port` one of the items (ports and `a-b` ranges, as a topology lists them)? */
export function inPortItems(items: readonly (string | number)[], port: number): boolean {
  return items.some((x) => {
    const run = parsePortItem(x);
    return !!run && run.from <= port && port <= run.to;
  });
}

/** Every port of the runs, ascending, each once. */
export function expandRuns(runs: readonly PortRun[]): number[] {
  const set = new Set<number>();
  for (const r of runs) for (let p = r.from; p <= r.to; p++) set.add(p);
  return [...set].sort((a, b) => a - b);
}

/** Every port of a spec text (parsePortSpec); throws on a bad one. */
export function expandPortSpec(text: string): number[] {
  const runs = parsePortSpec(text);
  if (!runs) throw new Error(`"${text}" is not a port list (e.g. 80,443,10000-10100)`);
  return expandRuns(runs);
}
