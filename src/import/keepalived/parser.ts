// keepalived.conf block parser: tokens → a tree of statements. A statement is the words of one
// line; a '{' (on the same line or alone on the next) opens its block, '}' closes it. Several
// statements may share a line inside braces: `virtual_ipaddress { 10.0.0.1/24 }`.
import { lexFile, parseError, type LexOptions, type Token } from './lexer';

export interface Stmt {
  key: string;
  args: string[];
  file: string;
  line: number;
  /** Present when the statement opens a block (possibly empty). */
  children?: Stmt[];
  /** Where the block's closing brace is, for messages. */
  endLine?: number;
  /** From an included file: messages name file and line but do not repeat its text. */
  included?: boolean;
}

export interface ParsedConf {
  stmts: Stmt[];
  files: string[];
  emptyIncludes: { pattern: string; file: string; line: number }[];
  skippedDirectories: { pattern: string; file: string; line: number; dir: string }[];
}

export function parseConfFile(file: string, opts: LexOptions = {}): ParsedConf {
  const lex = lexFile(file, opts);
  return { stmts: parseTokens(lex.tokens, file), files: lex.files, emptyIncludes: lex.emptyIncludes, skippedDirectories: lex.skippedDirectories };
}

export function parseTokens(tokens: Token[], file: string): Stmt[] {
  let i = 0;
  const skipEol = (): void => { while (i < tokens.length && tokens[i].kind === 'eol') i++; };

  const block = (opener?: Stmt): Stmt[] => {
    const out: Stmt[] = [];
    for (;;) {
      skipEol();
      if (i >= tokens.length) {
        if (opener) throw parseError(opener.file, opener.line, `'${opener.key}' block opened here is never closed (missing '}')`);
        return out;
      }
      const t = tokens[i];
      if (t.kind === '}') {
        i++;
        if (!opener) throw parseError(t.file, t.line, "unbalanced '}': no block is open");
        opener.endLine = t.line;
        return out;
      }
      if (t.kind === '{') throw parseError(t.file, t.line, "'{' without a keyword before it");
      const st: Stmt = { key: t.text, args: [], file: t.file, line: t.line };
      if (t.included) st.included = true;
      i++;
      while (i < tokens.length && tokens[i].kind === 'word') st.args.push(tokens[i++].text);
      let next = tokens[i];
      if (next && next.kind === 'eol') {
        // A '{' alone at the start of the following line also opens this statement's block.
        let j = i;
        while (j < tokens.length && tokens[j].kind === 'eol') j++;
        if (tokens[j] && tokens[j].kind === '{' && tokens[j].line !== st.line) { i = j; next = tokens[j]; }
      }
      if (next && next.kind === '{') {
        i++;
        st.children = block(st);
      }
      out.push(st);
    }
  };
  void file;
  return block();
}
