// Minimal glob for keepalived `include` (keepalived.conf(5): "FILENAME ... can include wildcards,
// including csh style brace expressions such as "{foo/{,cat,dog},bar}" if glob() supports them").
// Supports *, ?, [...] within a path segment and {a,b} braces anywhere. Results sorted, as glob(3).
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Expand {a,b,c} alternatives (nested allowed) into plain patterns. */
export function expandBraces(p: string): string[] {
  let depth = 0;
  let start = -1;
  for (let i = 0; i < p.length; i++) {
    if (p[i] === '{') { if (depth++ === 0) start = i; }
    else if (p[i] === '}' && depth > 0 && --depth === 0) {
      const body = p.slice(start + 1, i);
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
      const pre = p.slice(0, start);
      const post = p.slice(i + 1);
      return alts.flatMap((a) => expandBraces(pre + a + post));
    }
  }
  return [p];
}

function segmentRegex(seg: string): RegExp {
  let re = '';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i];
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const end = seg.indexOf(']', i + 2);
      if (end < 0) { re += '\\['; continue; }
      let cls = seg.slice(i + 1, end);
      if (cls.startsWith('!')) cls = '^' + cls.slice(1);
      re += `[${cls.replace(/\\/g, '\\\\')}]`;
      i = end;
    } else re += c.replace(/[.+^${}()|\\/]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}

const MAGIC = /[*?[]/;

export function expandGlob(pattern: string): string[] {
  const found = new Set<string>();
  for (const p of expandBraces(pattern)) {
    const abs = path.resolve(p);
    const segs = abs.split('/').filter(Boolean);
    let bases = ['/'];
    for (let k = 0; k < segs.length; k++) {
      const seg = segs[k];
      const next: string[] = [];
      for (const b of bases) {
        if (!MAGIC.test(seg)) { next.push(path.join(b, seg)); continue; }
        let names: string[];
        try { names = fs.readdirSync(b); } catch { continue; }
        const re = segmentRegex(seg);
        for (const n of names) if (re.test(n) && (seg.startsWith('.') || !n.startsWith('.'))) next.push(path.join(b, n));
      }
      bases = next;
    }
    for (const b of bases) {
      try { if (fs.statSync(b).isFile()) found.add(b); } catch { /* no match */ }
    }
  }
  return [...found].sort();
}
