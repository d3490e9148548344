// keepalived.conf tokenizer (keepalived.conf(5) DESCRIPTION, "Quoted strings"):
// - comments start with '#' or '!' anywhere outside quotes and run to the end of the line;
// - words are separated by whitespace; '{' and '}' are words of their own;
// - "..." and '...' group words (the quotes are removed, escapes like the shell's are honoured,
//   and a quote of the other kind inside is kept, so "cmd 'a b'" reaches the command splitter);
// - a trailing '\' joins the next line;
// - `include PATTERN` (glob, braces) is expanded in place, relative to the including file,
//   within the limits below.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, XlvsError } from '../../errors';
import { expandGlob, GlobLimitError, newGlobBudget } from './glob';

export interface Token {
  text: string;
  /** '{' or '}' when unquoted; 'word' otherwise; 'eol' ends a line. */
  kind: 'word' | '{' | '}' | 'eol';
  file: string;
  line: number;
  /** Set on tokens of an included file: messages do not repeat their text (they may not be
   *  keepalived syntax at all, e.g. a secret included by mistake). */
  included?: boolean;
}

/** Files read while tokenizing, in order (the main file first). */
export interface LexResult {
  tokens: Token[];
  files: string[];
  /** `include` patterns that matched nothing, as keepalived's plain include tolerates. */
  emptyIncludes: { pattern: string; file: string; line: number }[];
  /** Directories a wildcard matched: skipped, as keepalived skips them (read_conf_file,
   *  glob(3) GLOB_MARK). A directory named without wildcards is an error instead. */
  skippedDirectories: { pattern: string; file: string; line: number; dir: string }[];
}

// Limits on what one import reads (docs/topology.md "Importing keepalived.conf"). keepalived
// limits include nesting too (parser.c MAX_INCLUDE_DEPTH = 5); we allow a few more.
export const MAX_INCLUDE_DEPTH = 8;
/** Files read per import, the main file included; a file included twice counts twice. */
export const MAX_CONF_FILES = 256;
/** Bytes read per import, all files together. */
export const MAX_CONF_BYTES = 16 * 1024 * 1024;

export function parseError(file: string, line: number, msg: string): XlvsError {
  return new XlvsError(ErrorCodes.IMPORT_PARSE, `${file}:${line}: ${msg}`);
}

export interface LexOptions {
  /** How the main file is named in messages (default: as given). Included files are named
   *  relative to the main file's directory. */
  displayName?: string;
}

/** Why a file is not read; the message names the file, never its content. */
class Refused extends Error {}

function fileKind(st: fs.Stats): string {
  if (st.isDirectory()) return 'a directory';
  if (st.isCharacterDevice()) return 'a character device';
  if (st.isBlockDevice()) return 'a block device';
  if (st.isFIFO()) return 'a FIFO';
  if (st.isSocket()) return 'a socket';
  return 'not a regular file';
}

/**
 * Reads a regular text file of at most `maxBytes`. Anything else (directory, device, FIFO,
 * socket, a file with NUL bytes) is refused with a message naming the file only. The type is
 * checked before opening (opening a device can have effects) and again on the open descriptor.
 */
function readConfFile(abs: string, shown: string, maxBytes: number): { text: string; bytes: number } {
  const check = (st: fs.Stats): void => {
    if (!st.isFile()) throw new Refused(`${shown} is ${fileKind(st)}, not a regular file`);
    if (st.size > maxBytes) throw new Refused(`${shown} is ${st.size} bytes, more than the ${maxBytes} left of the ${MAX_CONF_BYTES} bytes an import reads in all`);
  };
  let fd: number;
  try {
    check(fs.statSync(abs));
    fd = fs.openSync(abs, fs.constants.O_RDONLY | fs.constants.O_NONBLOCK | fs.constants.O_NOCTTY);
  } catch (e) {
    if (e instanceof Refused) throw e;
    throw new Refused(`cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  try {
    const st = fs.fstatSync(fd);
    check(st);
    const buf = Buffer.alloc(st.size);
    let n = 0;
    while (n < buf.length) {
      const r = fs.readSync(fd, buf, n, buf.length - n, null);
      if (r === 0) break;
      n += r;
    }
    const nul = buf.subarray(0, n).indexOf(0);
    if (nul >= 0) throw new Refused(`${shown} is not a text file (NUL byte at offset ${nul})`);
    return { text: buf.toString('utf8', 0, n), bytes: n };
  } catch (e) {
    if (e instanceof Refused) throw e;
    throw new Refused(`cannot read ${shown}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  } finally {
    fs.closeSync(fd);
  }
}

function isDirectory(f: string): boolean {
  try { return fs.statSync(f).isDirectory(); } catch { return false; }
}

function realOrResolved(f: string): string {
  try { return fs.realpathSync(f); } catch { return path.resolve(f); }
}

/**
 * Tokenizes `file` with its includes expanded in place. Bounded: MAX_INCLUDE_DEPTH nesting,
 * MAX_CONF_FILES files and MAX_CONF_BYTES bytes read, the glob limits of glob.ts; include loops
 * (through symlinks too) are errors. An error about an included file names the including file
 * and line and the included file, never the included file's content.
 */
export function lexFile(file: string, opts: LexOptions = {}): LexResult {
  const res: LexResult = { tokens: [], files: [], emptyIncludes: [], skippedDirectories: [] };
  const stack: string[] = []; // real paths of the files being read, outermost first
  const budget = { files: MAX_CONF_FILES, bytes: MAX_CONF_BYTES };
  const globBudget = newGlobBudget();
  const mainDir = path.dirname(path.resolve(file));

  type From = { file: string; line: number; pattern: string };
  const lexOne = (f: string, from?: From): void => {
    const abs = path.resolve(f);
    const rel = path.relative(mainDir, abs);
    const shown = !from ? (opts.displayName ?? f) : rel.startsWith('..') ? abs : rel;
    const fail = (msg: string, named = true): never => {
      if (from) throw parseError(from.file, from.line, named ? `include ${from.pattern}: ${msg}` : msg);
      throw new XlvsError(ErrorCodes.IMPORT_PARSE, msg);
    };
    const real = realOrResolved(abs);
    const loopAt = stack.indexOf(real);
    if (loopAt >= 0) fail(`include loop: ${shown} includes itself (through ${[...stack.slice(loopAt), real].map((s) => path.basename(s)).join(' → ')})`, false);
    if (stack.length > MAX_INCLUDE_DEPTH) fail(`includes nested more than ${MAX_INCLUDE_DEPTH} deep (at ${shown})`, false);
    if (budget.files <= 0) fail(`more than ${MAX_CONF_FILES} files read (main file and includes; a file included twice counts twice)`);
    let text: string;
    try {
      const r = readConfFile(abs, shown, budget.bytes);
      text = r.text;
      budget.bytes -= r.bytes;
    } catch (e) {
      if (e instanceof Refused) return fail(e.message);
      throw e;
    }
    budget.files--;
    stack.push(real);
    res.files.push(abs);
    const included = from !== undefined;
    for (const lt of tokenizeText(text, shown)) {
      const first = lt[0];
      if (first && first.kind === 'word' && first.text === 'include' && lt.length >= 2) {
        const pattern = lt[1].text;
        const here: From = { file: shown, line: first.line, pattern };
        let matches: string[];
        try {
          matches = expandGlob(path.isAbsolute(pattern) ? pattern : path.join(path.dirname(abs), pattern), globBudget);
        } catch (e) {
          if (e instanceof GlobLimitError) throw parseError(here.file, here.line, `include ${pattern}: ${e.message}`);
          throw e;
        }
        if (matches.length === 0) res.emptyIncludes.push({ pattern, file: shown, line: first.line });
        const wildcard = /[*?[{]/.test(pattern);
        for (const m of matches) {
          if (wildcard && isDirectory(m)) {
            const rel = path.relative(mainDir, m);
            res.skippedDirectories.push({ pattern, file: shown, line: first.line, dir: rel.startsWith('..') ? m : rel });
            continue;
          }
          lexOne(m, here);
        }
        continue;
      }
      for (const t of lt) {
        if (included) t.included = true;
        res.tokens.push(t);
      }
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
    // Continuation: a trailing backslash (outside a comment) joins the next line. Each physical
    // line is scanned once, carrying the quote state (joined text is never re-scanned: a long
    // run of continued lines stays linear).
    let r = scanComment(rawLines[i], START);
    const joined: string[] = []; // the continued lines, comments removed, '\' and after → ' '
    while (CONTINUED.test(r.text) && i + 1 < rawLines.length) {
      joined.push(r.text.slice(0, r.lastBackslash) + ' ');
      r = scanComment(rawLines[++i], step(r.beforeLastBackslash, ' '));
    }
    const s = joined.length ? joined.join('') + rawLines[i] : rawLines[i];
    const stripped = joined.length ? joined.join('') + r.text : r.text;
    // `include` takes the rest of the line as one pattern: braces there are glob braces.
    const inc = includeArg(stripped);
    const toks = inc !== null
      ? [{ text: 'include', kind: 'word' as const, file, line: lineNo }, { text: inc.replace(/^(["'])(.*)\1$/s, '$2'), kind: 'word' as const, file, line: lineNo }]
      : tokenizeLine(s, file, lineNo);
    if (toks.length) out.push([...toks, { text: '', kind: 'eol', file, line: lineNo }]);
  }
  return out;
}

const CONTINUED = /\\\s*$/;

/** `include PATTERN` → PATTERN trimmed ('' if none), else null. No regular expression: linear on any line. */
function includeArg(line: string): string | null {
  let i = 0;
  while (i < line.length && /\s/.test(line[i])) i++;
  if (!line.startsWith('include', i)) return null;
  i += 'include'.length;
  if (i >= line.length || !/\s/.test(line[i])) return null;
  let j = line.length;
  while (j > i && /\s/.test(line[j - 1])) j--;
  while (i < j && /\s/.test(line[i])) i++;
  return i < j ? line.slice(i, j) : '';
}

/** Quote scanner state: inside which quote, and whether the previous character was a '\' in it. */
interface QState { q: string | undefined; esc: boolean }
const START: QState = { q: undefined, esc: false };

function step(st: QState, c: string): QState {
  if (st.q) {
    if (st.esc) return { q: st.q, esc: false };
    if (c === '\\') return { q: st.q, esc: true };
    return { q: c === st.q ? undefined : st.q, esc: false };
  }
  return { q: c === '"' || c === "'" ? c : undefined, esc: false };
}

/**
 * One physical line from quote state `st`: the text before an unquoted '#'/'!' comment, and the
 * index of its last '\' and the state just before it (a continuation replaces that '\' and
 * what follows by a space and resumes from there).
 */
function scanComment(line: string, st: QState): { text: string; lastBackslash: number; beforeLastBackslash: QState } {
  let before = st;
  let last = -1;
  for (let i = 0; i < line.length; i++) {
    const c = line[i];
    if (!st.q && (c === '#' || c === '!')) return { text: line.slice(0, i), lastBackslash: last, beforeLastBackslash: before };
    if (c === '\\') { before = st; last = i; }
    st = step(st, c);
  }
  return { text: line, lastBackslash: last, beforeLastBackslash: before };
}

const ESCAPES: Record<string, string> = { a: '\x07', b: '\b', E: '\x1b', f: '\f', n: '\n', r: '\r', t: '\t', v: '\v' };

const HEX_RUN = /[0-9a-fA-F]+/y;
const OCTAL_RUN = /[0-7]{1,3}/y;

/** The match of sticky `re` at `at` ('' if none), without copying the rest of the line. */
function stickyAt(re: RegExp, s: string, at: number): string {
  re.lastIndex = at;
  return re.exec(s)?.[0] ?? '';
}

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
          else if (e === 'x') { const m = stickyAt(HEX_RUN, s, j + 1); cur += String.fromCharCode(parseInt(m || '0', 16) & 0xff); j += m.length; }
          else if (/[0-7]/.test(e)) { const m = stickyAt(OCTAL_RUN, s, j); cur += String.fromCharCode(parseInt(m, 8) & 0xff); j += m.length - 1; }
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
