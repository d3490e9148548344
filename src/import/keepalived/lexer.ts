// keepalived.conf tokenizer (keepalived.conf(5) DESCRIPTION, "Quoted strings"):
// - comments start with '#' or '!' anywhere outside quotes and run to the end of the line;
// - words are separated by whitespace; '{' and '}' are words of their own;
// - "..." and '...' group words (the quotes are removed, escapes like the shell's are honoured,
//   and a quote of the other kind inside is kept, so "cmd 'a b'" reaches the command splitter);
// - a trailing '\' joins the next line;
// - `include PATTERN` (glob, braces) is expanded in place, relative to the including file.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, XlvsError } from '../../errors';
import { expandGlob } from './glob';

export interface Token {
  text: string;
  /** '{' or '}' when unquoted; 'word' otherwise; 'eol' ends a line. */
  kind: 'word' | '{' | '}' | 'eol';
  file: string;
  line: number;
}

/** Files read while tokenizing, in order (the main file first). */
export interface LexResult {
  tokens: Token[];
  files: string[];
  /** `include` patterns that matched nothing, as keepalived's plain include tolerates. */
  emptyIncludes: { pattern: string; file: string; line: number }[];
}

// keepalived limits include nesting too (parser.c MAX_INCLUDE_DEPTH = 5); we allow a few more.
const MAX_INCLUDE_DEPTH = 8;

export function parseError(file: string, line: number, msg: string): XlvsError {
  return new XlvsError(ErrorCodes.IMPORT_PARSE, `${file}:${line}: ${msg}`);
}

export interface LexOptions {
  /** Read a file; defaults to fs.readFileSync utf8. */
  readFile?: (file: string) => string;
  /** How the main file is named in messages (default: as given). Included files are named
   *  relative to the main file's directory. */
  displayName?: string;
}

export function lexFile(file: string, opts: LexOptions = {}): LexResult {
  const read = opts.readFile ?? ((f: string) => fs.readFileSync(f, 'utf8'));
  const res: LexResult = { tokens: [], files: [], emptyIncludes: [] };
  const stack: string[] = [];

  const lexOne = (f: string, from?: { file: string; line: number }): void => {
    const abs = path.resolve(f);
    if (stack.includes(abs)) throw parseError(from!.file, from!.line, `include loop: ${abs} includes itself (through ${stack.map((s) => path.basename(s)).join(' → ')})`);
    if (stack.length >= MAX_INCLUDE_DEPTH) throw parseError(from!.file, from!.line, `includes nested more than ${MAX_INCLUDE_DEPTH} deep`);
    let text: string;
    try {
      text = read(abs);
    } catch (e) {
      const msg = `cannot read ${f}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`;
      if (from) throw parseError(from.file, from.line, msg);
      throw new XlvsError(ErrorCodes.IMPORT_PARSE, msg, { cause: e });
    }
    stack.push(abs);
    res.files.push(abs);
    const rel = path.relative(path.dirname(res.files[0]), abs);
    const shown = !from ? (opts.displayName ?? f) : rel.startsWith('..') ? abs : rel;
    const lineTokens = tokenizeText(text, shown);
    for (const lt of lineTokens) {
      const first = lt[0];
      if (first && first.kind === 'word' && first.text === 'include' && lt.length >= 2) {
        const pattern = lt[1].text;
        const base = path.dirname(abs);
        const matches = expandGlob(path.isAbsolute(pattern) ? pattern : path.join(base, pattern));
        if (matches.length === 0) res.emptyIncludes.push({ pattern, file: shown, line: first.line });
        for (const m of matches) lexOne(m, { file: shown, line: first.line });
        continue;
      }
      res.tokens.push(...lt);
    }
    stack.pop();
  };
  lexOne(file);
  return res;
}

/** Tokens grouped by logical line (each ending with an 'eol' token). */
export function tokenizeText(text: string, file: string): Token[][] {
  const out: Token[][] = [];
  const rawLines = text.split(/\r?\n/);
  for (let i = 0; i < rawLines.length; i++) {
    const lineNo = i + 1;
    let s = rawLines[i];
    // Continuation: a trailing backslash (outside a comment) joins the next line.
    while (/\\\s*$/.test(stripComment(s)) && i + 1 < rawLines.length) {
      s = stripComment(s).replace(/\\\s*$/, ' ') + rawLines[++i];
    }
    // `include` takes the rest of the line as one pattern: braces there are glob braces.
    const inc = /^\s*include\s+(.*?)\s*$/.exec(stripComment(s));
    const toks = inc
      ? [{ text: 'include', kind: 'word' as const, file, line: lineNo }, { text: inc[1].replace(/^(["'])(.*)\1$/, '$2'), kind: 'word' as const, file, line: lineNo }]
      : tokenizeLine(s, file, lineNo);
    if (toks.length) out.push([...toks, { text: '', kind: 'eol', file, line: lineNo }]);
  }
  return out;
}

function stripComment(s: string): string {
  let q: string | undefined;
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (q) { if (c === '\\') i++; else if (c === q) q = undefined; continue; }
    if (c === '"' || c === "'") q = c;
    else if (c === '#' || c === '!') return s.slice(0, i);
  }
  return s;
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

function tokenizeLine(s: string, file: string, line: number): Token[] {
  const toks: Token[] = [];
  let cur = '';
  let inWord = false;
  const push = (): void => {
    if (inWord) toks.push({ text: cur, kind: 'word', file, line });
    cur = '';
    inWord = false;
  };
  for (let i = 0; i < s.length; i++) {
    const c = s[i];
    if (c === ' ' || c === '\t') { push(); continue; }
    if (c === '#' || c === '!') break;
    if (c === '{' || c === '}') { push(); toks.push({ text: c, kind: c, file, line }); continue; }
    if (c === '"' || c === "'") {
      inWord = true;
      let j = i + 1;
      for (; j < s.length && s[j] !== c; j++) {
        if (s[j] === '\\' && j + 1 < s.length) {
          const e = s[++j];
          if (ESCAPES[e]) cur += ESCAPES[e];
          else if (e === 'x') { const m = /^[0-9a-fA-F]+/.exec(s.slice(j + 1)) ?? ['']; cur += String.fromCharCode(parseInt(m[0] || '0', 16) & 0xff); j += m[0].length; }
          else if (/[0-7]/.test(e)) { const m = /^[0-7]{1,3}/.exec(s.slice(j))!; cur += String.fromCharCode(parseInt(m[0], 8) & 0xff); j += m[0].length - 1; }
          else cur += e; // "\C for any other character C is just ... character C"
        } else cur += s[j];
      }
      if (j >= s.length) throw parseError(file, line, `unterminated ${c === '"' ? 'double' : 'single'} quote`);
      i = j;
      continue;
    }
    inWord = true;
    cur += c;
  }
  push();
  return toks;
}
