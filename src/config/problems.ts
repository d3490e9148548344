// Problems in a topology: config paths (`services[1].reals[2].weight`), their line:col in the
// YAML source, and ajv's error objects translated into sentences an operator can act on.
import * as YAML from 'yaml';
import type { ErrorObject } from 'ajv';
import type { Problem } from './model';

export type PathSeg = string | number;

function formatPath(path: readonly PathSeg[]): string {
  let out = '';
  for (const seg of path) out += typeof seg === 'number' ? `[${seg}]` : out === '' ? seg : `.${seg}`;
  return out === '' ? '(root)' : out;
}

/** Finds where a config path sits in the YAML source. */
export class Locator {
  constructor(private readonly doc: YAML.Document.Parsed | null, private readonly lc: YAML.LineCounter | null) {}

  /**
   * line:col of the node at `path` (of its key when `key` is set and the last segment is a
   * mapping key). When the path does not exist, the deepest existing node's position.
   */
  at(path: readonly PathSeg[], key = false): { line: number; col: number } {
    if (!this.doc || !this.lc) return { line: 0, col: 0 };
    let node: unknown = this.doc.contents;
    let best: YAML.Node | null = YAML.isNode(node) ? node : null;
    for (let i = 0; i < path.length; i++) {
      if (YAML.isAlias(node)) node = node.resolve(this.doc);
      const seg = path[i];
      let next: unknown;
      let keyNode: unknown;
      if (YAML.isMap(node)) {
        const pair = node.items.find((p) => (YAML.isScalar(p.key) ? String(p.key.value) : String(p.key)) === String(seg));
        if (pair) { next = pair.value; keyNode = pair.key; }
      } else if (YAML.isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
      }
      if (next === undefined && keyNode === undefined) break;
      const last = i === path.length - 1;
      if (last && key && YAML.isNode(keyNode)) { best = keyNode; break; }
      if (YAML.isNode(next)) best = next;
      else if (YAML.isNode(keyNode)) { best = keyNode; break; } // `field:` with no value
      node = next;
    }
    if (!best || !best.range) return { line: 0, col: 0 };
    const p = this.lc.linePos(best.range[0]);
    return { line: p.line, col: p.col };
  }
}

/** Collects problems; the loader throws them all at once. Warnings never fail validation. */
export class Problems {
  readonly list: Problem[] = [];
  readonly warnings: Problem[] = [];
  constructor(readonly locator: Locator) {}

  /** A problem at `path`; `at` names a different node to point at (e.g. the parent of a missing field). */
  add(path: readonly PathSeg[], message: string, opts: { key?: boolean; at?: readonly PathSeg[] } = {}): void {
    const { line, col } = this.locator.at(opts.at ?? path, opts.key);
    this.list.push({ path: formatPath(path), message, line, col });
  }

  /** Something accepted that probably does not do what the operator meant (printed, not fatal). */
  warn(path: readonly PathSeg[], message: string, opts: { key?: boolean; at?: readonly PathSeg[] } = {}): void {
    const { line, col } = this.locator.at(opts.at ?? path, opts.key);
    this.warnings.push({ path: formatPath(path), message, line, col });
  }

  get length(): number {
    return this.list.length;
  }

  sorted(): Problem[] {
    return [...this.list].sort((a, b) => a.line - b.line || a.col - b.col || a.path.localeCompare(b.path));
  }
}

export function formatProblem(p: Problem): string {
  return p.line > 0 ? `${p.path}: ${p.message} (line ${p.line}:${p.col})` : `${p.path}: ${p.message}`;
}

/** Edit distance counting an adjacent swap as one edit (optimal string alignment), for "did you mean". */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/** The closest of `candidates` to `word`, if it is close enough to be a typo. */
function suggest(word: string, candidates: readonly string[]): string | null {
  let best: string | null = null;
  let bestD = Infinity;
  for (const c of candidates) {
    const d = distance(word.toLowerCase(), c.toLowerCase());
    if (d < bestD) { best = c; bestD = d; }
  }
  return best !== null && bestD <= Math.max(1, Math.floor(word.length / 3)) ? best : null;
}

function describeValue(v: unknown): string {
  if (v === null) return 'null';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return 'a mapping';
  if (typeof v === 'string') return JSON.stringify(v.length > 40 ? v.slice(0, 37) + '...' : v);
  return String(v);
}

const TYPE_WORDS: Record<string, string> = {
  integer: 'a whole number', number: 'a number', string: 'a string', array: 'a list',
  object: 'a mapping', boolean: 'true or false', null: 'null',
};

function pointerToPath(ptr: string): PathSeg[] {
  if (ptr === '') return [];
  return ptr.slice(1).split('/').map((s) => {
    const t = s.replace(/~1/g, '/').replace(/~0/g, '~');
    return /^\d+$/.test(t) ? Number(t) : t;
  });
}

/** Turns one ajv error (compiled with allErrors and verbose) into problems. */
export function addAjvError(problems: Problems, e: ErrorObject): void {
  const path = pointerToPath(e.instancePath);
  const ps = (e.parentSchema ?? {}) as { title?: string; properties?: Record<string, unknown>; enum?: unknown[] };
  const p = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const field = String(p.additionalProperty);
      const hint = suggest(field, Object.keys(ps.properties ?? {}));
      problems.add([...path, field], `unknown field${hint ? ` (did you mean "${hint}"?)` : ''}`, { key: true });
      return;
    }
    case 'required':
      problems.add([...path, String(p.missingProperty)], 'is required', { at: path });
      return;
    case 'type': {
      const want = String(p.type).split(',').map((t) => TYPE_WORDS[t] ?? t).join(' or ');
      problems.add(path, `expected ${want}, got ${describeValue(e.data)}`);
      return;
    }
    case 'enum': {
      const allowed = (p.allowedValues as unknown[]).map(String);
      const hint = typeof e.data === 'string' ? suggest(e.data, allowed) : null;
      problems.add(path, `${describeValue(e.data)} is not one of ${allowed.join(', ')}${hint ? ` (did you mean "${hint}"?)` : ''}`);
      return;
    }
    case 'minimum':
      problems.add(path, `${describeValue(e.data)} is below ${String(p.limit)}`);
      return;
    case 'maximum':
      problems.add(path, `${describeValue(e.data)} is above ${String(p.limit)}`);
      return;
    case 'minItems':
      problems.add(path, `needs at least ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
      return;
    case 'maxItems':
      problems.add(path, `has more than ${String(p.limit)} item${p.limit === 1 ? '' : 's'}`);
      return;
    case 'minLength':
      problems.add(path, 'must not be empty');
      return;
    case 'pattern':
      problems.add(path, `${describeValue(e.data)} is not ${ps.title ?? `matching ${String(p.pattern)}`}`);
      return;
    default:
      problems.add(path, e.message ?? `fails ${e.keyword}`);
  }
}
