// Minimal glob for keepalived `include` (keepalived.conf(5): "FILENAME ... can include wildcards,
// including csh style brace expressions such as "{foo/{,cat,dog},bar}" if glob() supports them").
// Supports *, ?, [...] within a path segment and {a,b} braces anywhere. Results sorted, as glob(3).
//
// Bounded: a pattern expands to at most MAX_BRACE_ALTERNATIVES plain patterns, an import looks at
// most MAX_GLOB_DIR_ENTRIES directory entries in all, and names are matched in time linear in the
// name times the segment (no regular expressions: "*********x" against a long name used to
// backtrack for minutes).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Plain patterns one `include` may expand to through {a,b} braces. */
export const MAX_BRACE_ALTERNATIVES = 256;
/** Directory entries one import may look at while expanding wildcards. */
export const MAX_GLOB_DIR_ENTRIES = 100_000;

/** A limit of this file was hit; the lexer names the `include` line. */
export class GlobLimitError extends Error {}

/** Shared by every expansion of one import. */
export interface GlobBudget { dirEntries: number }

export function newGlobBudget(): GlobBudget {
  return { dirEntries: MAX_GLOB_DIR_ENTRIES };
}

/** Expand {a,b,c} alternatives (nested allowed) into plain patterns, at most `limit` of them. */
export function expandBraces(p: string, limit = MAX_BRACE_ALTERNATIVES): string[] {
  const out: string[] = [];
  const walk = (q: string): void => {
    let depth = 0;
    let start = -1;
    for (let i = 0; i < q.length; i++) {
      if (q[i] === '{') { if (depth++ === 0) start = i; }
      else if (q[i] === '}' && depth > 0 && --depth === 0) {
        const body = q.slice(start + 1, i);
        const alts: string[] = [];
        let d = 0;
        let last = 0;
        for (let j = 0; j < body.length; j++) {
          if (body[j] === '{') d++;
          else if (body[j] === '}') d--;
          else if (body[j] === ',' && d === 0) { alts.push(body.slice(last, j)); last = j + 1; }
        }
        alts.push(body.slice(last));
        if (alts.length === 1) continue; // "{x}" is literal in glob(3) GLOB_BRACE
        const pre = q.slice(0, start);
        const post = q.slice(i + 1);
        for (const a of alts) walk(pre + a + post);
        return;
      }
    }
    if (out.length >= limit) throw new GlobLimitError(`braces expand to more than ${limit} patterns`);
    out.push(q);
  };
  walk(p);
  return out;
}

type Tok = { k: 'lit'; c: string } | { k: 'one' } | { k: 'star' } | { k: 'class'; neg: boolean; ranges: [string, string][] };

/** One path segment's pattern as tokens; each token but '*' matches exactly one character. */
function compileSegment(seg: string): Tok[] {
  const toks: Tok[] = [];
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') { if (toks[toks.length - 1]?.k !== 'star') toks.push({ k: 'star' }); }
    else if (c === '?') toks.push({ k: 'one' });
    else if (c === '[') {
      // glob(7): a ']' right after '[' or '[!' is literal; no closing ']' means a literal '['.
      let j = i + 1;
      const neg = seg[j] === '!' || seg[j] === '^';
      if (neg) j++;
      const body0 = j;
      if (seg[j] === ']') j++;
      while (j < seg.length && seg[j] !== ']') j++;
      if (j >= seg.length) { toks.push({ k: 'lit', c }); continue; }
      const body = seg.slice(body0, j);
      const ranges: [string, string][] = [];
      for (let k = 0; k < body.length; k++) {
        if (body[k + 1] === '-' && k + 2 < body.length) { ranges.push([body[k], body[k + 2]]); k += 2; }
        else ranges.push([body[k], body[k]]);
      }
      toks.push({ k: 'class', neg, ranges });
      i = j;
    } else toks.push({ k: 'lit', c });
  }
  return toks;
}

function matchOne(t: Tok, ch: string): boolean {
  switch (t.k) {
    case 'lit': return t.c === ch;
    case 'one': return true;
    case 'class': return t.ranges.some(([a, b]) => ch >= a && ch <= b) !== t.neg;
    default: return false;
  }
}

/**
 * Wildcard match without backtracking blow-up: on a mismatch only the last '*' is retried one
 * character further, so the work is at most name length × token count.
 */
export function matchSegment(toks: Tok[], name: string): boolean {
  let t = 0, n = 0, starT = -1, starN = 0;
  while (n < name.length) {
    if (t < toks.length && toks[t].k === 'star') { starT = t++; starN = n; }
    else if (t < toks.length && matchOne(toks[t], name[n])) { t++; n++; }
    else if (starT >= 0) { t = starT + 1; n = ++starN; }
    else return false;
  }
  while (t < toks.length && toks[t].k === 'star') t++;
  return t === toks.length;
}

/** `segment` matches `name` as glob(7) would (a test and tool entry point). */
export function globMatch(segment: string, name: string): boolean {
  return matchSegment(compileSegment(segment), name);
}

const MAGIC = /[*?[]/;

/**
 * Every existing path the pattern names (files, but also directories and devices: the caller
 * refuses what is not a regular file, by name). Throws GlobLimitError past a limit.
 */
export function expandGlob(pattern: string, budget: GlobBudget = newGlobBudget()): string[] {
  const found = new Set<string>();
  for (const p of expandBraces(pattern)) {
    const abs = path.resolve(p);
    const segs = abs.split('/').filter(Boolean);
    let bases = ['/'];
    for (let k = 0; k < segs.length; k++) {
      const seg = segs[k];
      const next: string[] = [];
      const toks = MAGIC.test(seg) ? compileSegment(seg) : null;
      for (const b of bases) {
        if (!toks) { next.push(path.join(b, seg)); continue; }
        let names: string[];
        try { names = fs.readdirSync(b); } catch { continue; }
        budget.dirEntries -= names.length;
        if (budget.dirEntries < 0) throw new GlobLimitError(`wildcards looked at more than ${MAX_GLOB_DIR_ENTRIES} directory entries`);
        for (const n of names) if ((seg.startsWith('.') || !n.startsWith('.')) && matchSegment(toks, n)) next.push(path.join(b, n));
      }
      bases = next;
    }
    for (const b of bases) {
      try { fs.statSync(b); found.add(b); } catch { /* no match */ }
    }
  }
  return [...found].sort();
}
