// Commands that keepalived and ipvsadm users write as one string, split into argv.
//
// keepalived.conf(5) "Quoted strings": unquoted spaces separate parameters; a parameter holding
// a space is enclosed in single quotes. We also honour double quotes and backslash escapes, as
// the shell would. A command that needs a shell (pipes, &&, redirections, $VAR, globs, `[[`)
// cannot run as plain argv: it becomes ["/bin/sh", "-c", text] and the caller is told so.

export interface SplitCommand {
  argv: string[];
  /** Set when the text uses shell syntax and argv is `/bin/sh -c text`. */
  shell?: string;
}

// Characters that mean something to /bin/sh when unquoted (POSIX Shell Command Language §2.2).
const SHELL_CHARS = new Set(['|', '&', ';', '<', '>', '(', ')', '$', '`', '*', '?']);
// Reserved words and builtins that have no program on disk (§2.4, §2.14).
const SHELL_WORDS = new Set(['[[', '!', 'exit', 'if', 'for', 'while', 'until', 'case', '{', 'cd', 'export', 'source', '.']);

export function splitCommand(text: string): SplitCommand {
  const argv: string[] = [];
  let cur = '';
  let inWord = false;
  let shellHint: string | undefined;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === ' ' || c === '\t') {
      if (inWord) argv.push(cur);
      cur = '';
      inWord = false;
      continue;
    }
    inWord = true;
    if (c === "'" || c === '"') {
      const end = text.indexOf(c, i + 1);
      if (end < 0) { cur += text.slice(i + 1); i = text.length; shellHint ??= `unterminated ${c}`; continue; }
      const body = text.slice(i + 1, end);
      cur += c === '"' ? body.replace(/\\(["\\$`])/g, '$1') : body;
      if (c === '"' && /[$`]/.test(body)) shellHint ??= `expansion inside "…"`;
      i = end;
      continue;
    }
    if (c === '\\' && i + 1 < text.length) { cur += text[++i]; continue; }
    if (SHELL_CHARS.has(c) || (c === '~' && cur === '')) shellHint ??= `'${c}'`;
    cur += c;
  }
  if (inWord) argv.push(cur);
  if (!shellHint && argv.length && SHELL_WORDS.has(argv[0])) shellHint = `'${argv[0]}' is a shell word`;
  if (shellHint) return { argv: ['/bin/sh', '-c', text], shell: shellHint };
  return { argv };
}
