// The man page (xlvs(8), roff) and the bash completion script, generated from the commander
// definitions `buildProgram()` registers, so neither can drift from the CLI. Pure functions of a
// Command; `node dist/src/cli/docgen.js man|bash-completion` prints one (scripts/build-deb).
import type { Command, Option } from 'commander';
import { buildProgram } from './main';

/** A command and the commands above it: ['import', 'ipvsadm'] for `xlvs import ipvsadm`. */
interface Node { path: string[]; cmd: Command }

function walk(program: Command): Node[] {
  const out: Node[] = [];
  const visit = (cmd: Command, path: string[]): void => {
    for (const sub of cmd.commands) {
      if ((sub as unknown as { _hidden?: boolean })._hidden) continue;
      const p = [...path, sub.name()];
      out.push({ path: p, cmd: sub });
      visit(sub, p);
    }
  };
  visit(program, []);
  return out;
}

function visibleOptions(cmd: Command): Option[] {
  return cmd.options.filter((o) => !o.hidden);
}

function argsUsage(cmd: Command): string[] {
  return cmd.registeredArguments.map((a) => {
    const n = a.name() + (a.variadic ? '...' : '');
    return a.required ? `<${n}>` : `[${n}]`;
  });
}

// ---- roff ----

/** Text for a roff line: backslashes, dashes, a leading control character; `code` in bold. */
function roff(text: string): string {
  let s = text.replace(/\\/g, '\\e').replace(/-/g, '\\-');
  s = s.replace(/`([^`]+)`/g, '\\fB$1\\fR');
  if (/^[.']/.test(s)) s = '\\&' + s;
  return s;
}

/** An option's flags, in bold, with its argument in italics: `\fB\-c, \-\-config\fR \fIfile\fR`. */
function roffFlags(flags: string): string {
  const m = /^([^<[]*?)\s*([<[].*)?$/.exec(flags)!;
  const names = roff(m[1].trim());
  const arg = m[2] ? ' ' + roff(m[2]).replace(/<([^>]+)>/g, '\\fI$1\\fR').replace(/\[([^\]]+)\]/g, '[\\fI$1\\fR]') : '';
  return `\\fB${names}\\fR${arg}`;
}

function roffOptions(cmd: Command): string[] {
  const lines: string[] = [];
  for (const o of visibleOptions(cmd)) {
    lines.push('.TP', roffFlags(o.flags));
    let d = o.description;
    if (o.defaultValue !== undefined && !(Array.isArray(o.defaultValue) && o.defaultValue.length === 0) && typeof o.defaultValue !== 'boolean') {
      d += ` (default: ${String(o.defaultValue)})`;
    }
    if (o.argChoices) d += ` (one of: ${o.argChoices.join(', ')})`;
    lines.push(roff(d));
  }
  return lines;
}

/** The command's arguments that have a description, in italics, with their default. */
function roffArguments(cmd: Command): string[] {
  const lines: string[] = [];
  for (const a of cmd.registeredArguments) {
    if (!a.description) continue;
    const d = a.defaultValue !== undefined ? `${a.description} (default: ${String(a.defaultValue)})` : a.description;
    lines.push('.TP', `\\fI${roff(a.name())}\\fR`, roff(d));
  }
  return lines;
}

export interface ManOptions { date?: string }

/** xlvs(8) in man(7) roff. */
export function manPage(program: Command, opts: ManOptions = {}): string {
  const version = program.version() ?? '';
  const date = opts.date ?? new Date().toISOString().slice(0, 10);
  const nodes = walk(program);
  const L: string[] = [];
  L.push(`.\\" Generated from the xlvs CLI definitions by src/cli/docgen.ts; do not edit.`);
  L.push(`.TH XLVS 8 "${date}" "xlvs ${version}" "System Administration"`);
  L.push('.SH NAME', `xlvs \\- ${roff(program.description())}`);
  L.push('.SH SYNOPSIS');
  for (const n of nodes) {
    if (n.cmd.commands.length > 0) continue; // only leaves are run
    L.push(`.B xlvs ${n.path.map(roff).join(' ')}`);
    const rest = [...(visibleOptions(n.cmd).length ? ['[options]'] : []), ...argsUsage(n.cmd)];
    if (rest.length) L.push(roff(rest.join(' ')));
    L.push('.br');
  }
  L.push('.SH DESCRIPTION');
  L.push(
    'xlvs is a layer\\-4 load balancer for Linux directors: the work LVS/IPVS, ipvsadm and keepalived do,',
    'with forwarding (direct routing or IP\\-in\\-IP tunnel) done by an XDP program and the whole director',
    'declared in one YAML topology file.',
    '.PP',
    'As a service it runs one daemon per topology,',
    '.BR "xlvs run \\-c /etc/xlvs/" \\fINAME\\fB.yaml\\fR,',
    'usually as the systemd unit',
    '.BR xlvs@ \\fINAME\\fB.service\\fR.',
    'The programs and maps it loads stay pinned, so forwarding continues, and connections survive, while the daemon is restarted.',
  );
  L.push('.SH GLOBAL OPTIONS', ...roffOptions(program));
  L.push('.TP', '\\fB\\-h, \\-\\-help\\fR', 'print the help of xlvs or of a command');
  L.push('.SH COMMANDS');
  for (const n of nodes) {
    L.push(`.SS "xlvs ${n.path.join(' ')}${argsUsage(n.cmd).length ? ' ' + argsUsage(n.cmd).join(' ') : ''}"`.replace(/-/g, '\\-'));
    L.push(roff(n.cmd.description()));
    if (n.cmd.commands.length) {
      L.push('.PP', roff(`Subcommands: ${n.cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name()).join(', ')}.`));
    }
    const a = roffArguments(n.cmd);
    if (a.length) L.push('.PP', 'Arguments:', ...a);
    const o = roffOptions(n.cmd);
    if (o.length) L.push('.PP', 'Options:', ...o);
  }
  L.push(
    '.SH SIGNALS',
    '.TP', '.B SIGHUP',
    're\\-read the topology file and apply only the difference (as \\fBxlvs reload\\fR);',
    'under systemd the unit is reloading from \\fBRELOADING=1\\fR until \\fBREADY=1\\fR, sent when the reload is applied or refused.',
    '.TP', '.B SIGTERM, SIGINT',
    'stop the daemon (\\fBsystemctl stop\\fR, \\fBsystemctl restart\\fR), in two halves.',
    'VRRP: a Master sends a priority\\-0 advert and removes its VIPs, so the Backup takes them over at once, as keepalived does.',
    'Data plane: the programs stay attached and pinned and keep forwarding; the next daemon adopts them with the connection table, so a restart keeps every connection.',
    'With \\fBdirector.on_sigterm: remove\\fR the daemon detaches XDP and unpins instead.',
    '\\fBxlvs stop\\fR always detaches and unpins, unless \\fB\\-\\-keep\\-forwarding\\fR.',
    '.SH FILES',
    '.TP', '.I /etc/xlvs/NAME.yaml',
    'the topology of the unit \\fBxlvs@NAME.service\\fR.',
    '.TP', '.I /run/xlvs/NAME.sock',
    'the control socket of the daemon of director NAME (\\fBxlvs list\\fR, \\fBzero\\fR, \\fBreload\\fR, \\fBstop\\fR).',
    '.TP', '.I /sys/fs/bpf/xlvs/NAME',
    'the pinned programs and maps (\\fBpin_root\\fR/NAME; pin_root defaults to /sys/fs/bpf/xlvs).',
    '.TP', '.I /usr/lib/xlvs/config/topology.schema.json',
    'the JSON Schema every topology is validated against.',
    '.TP', '.I /usr/share/doc/xlvs/examples/',
    'example topologies.',
    '.SH SEE ALSO',
    '.BR ipvsadm (8),',
    '.BR keepalived (8),',
    '.BR bpftool (8),',
    '.BR systemctl (1)',
  );
  return L.join('\n') + '\n';
}

// ---- bash completion ----

function takesValue(o: Option): boolean {
  return o.required || o.optional;
}

/** Does this option's (or argument's) value name a file? */
function isFileValue(name: string): boolean {
  return /file|path|dir|state/i.test(name);
}

function optionNames(o: Option): string[] {
  return [o.short, o.long].filter((x): x is string => !!x);
}

function q(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/** A bash completion script for xlvs (complete -F _xlvs xlvs). */
export function bashCompletion(program: Command): string {
  const nodes: Node[] = [{ path: [], cmd: program }, ...walk(program)];
  const subs: string[] = [];
  const opts: string[] = [];
  const valueOpts: string[] = [];
  const fileOpts: string[] = [];
  const fileArgs: string[] = [];
  for (const n of nodes) {
    const key = q(n.path.join(' '));
    const children = n.cmd.commands.filter((c) => !(c as unknown as { _hidden?: boolean })._hidden).map((c) => c.name());
    if (n.path.length === 0) children.push('help');
    if (children.length) subs.push(`    ${key}) echo ${q(children.join(' '))} ;;`);
    const os = visibleOptions(n.cmd);
    opts.push(`    ${key}) echo ${q([...os.flatMap(optionNames), '-h', '--help'].join(' '))} ;;`);
    const vo = os.filter(takesValue);
    if (vo.length) valueOpts.push(`    ${key}) echo ${q(vo.flatMap(optionNames).join(' '))} ;;`);
    const fo = vo.filter((o) => isFileValue(o.flags.replace(/^[^<[]*/, '')));
    if (fo.length) fileOpts.push(`    ${key}) echo ${q(fo.flatMap(optionNames).join(' '))} ;;`);
    if (n.cmd.registeredArguments.some((a) => isFileValue(a.name()))) fileArgs.push(`    ${key}) return 0 ;;`);
  }
  return `# bash completion for xlvs. Generated from the xlvs CLI definitions by src/cli/docgen.ts; do not edit.
_xlvs_subcommands() {
  case "$1" in
${subs.join('\n')}
  esac
}
_xlvs_options() {
  case "$1" in
${opts.join('\n')}
  esac
}
_xlvs_value_options() {
  case "$1" in
${valueOpts.join('\n')}
  esac
}
_xlvs_file_options() {
  case "$1" in
${fileOpts.join('\n')}
  esac
}
_xlvs_file_arguments() {
  case "$1" in
${fileArgs.join('\n')}
  esac
  return 1
}
_xlvs_has_word() { # WORD LIST...: is WORD one of LIST?
  local w="$1" x; shift
  for x in $*; do [ "$x" = "$w" ] && return 0; done
  return 1
}
_xlvs() {
  local cur prev path="" i w
  COMPREPLY=()
  cur="\${COMP_WORDS[COMP_CWORD]}"
  prev="\${COMP_WORDS[COMP_CWORD-1]}"
  # The command path so far: every word that names a subcommand of the path before it; option
  # values are skipped.
  for ((i = 1; i < COMP_CWORD; i++)); do
    w="\${COMP_WORDS[i]}"
    case "$w" in
      -*) continue ;;
    esac
    if _xlvs_has_word "\${COMP_WORDS[i-1]}" $(_xlvs_value_options "$path"); then continue; fi
    if _xlvs_has_word "$w" $(_xlvs_subcommands "$path"); then path="\${path:+$path }$w"; fi
  done
  if _xlvs_has_word "$prev" $(_xlvs_value_options "$path"); then
    if _xlvs_has_word "$prev" $(_xlvs_file_options "$path"); then
      COMPREPLY=($(compgen -f -- "$cur"))
      compopt -o filenames 2>/dev/null
    fi
    return 0
  fi
  if [[ "$cur" == -* ]]; then
    COMPREPLY=($(compgen -W "$(_xlvs_options "$path")" -- "$cur"))
    return 0
  fi
  local subs
  subs="$(_xlvs_subcommands "$path")"
  if [ -n "$subs" ]; then
    COMPREPLY=($(compgen -W "$subs" -- "$cur"))
    return 0
  fi
  if [ "$path" = "help" ]; then
    COMPREPLY=($(compgen -W "$(_xlvs_subcommands "")" -- "$cur"))
    return 0
  fi
  if _xlvs_file_arguments "$path"; then
    COMPREPLY=($(compgen -f -- "$cur"))
    compopt -o filenames 2>/dev/null
  fi
  return 0
}
complete -F _xlvs xlvs
`;
}

if (require.main === module) {
  const what = process.argv[2];
  const program = buildProgram();
  if (what === 'man') {
    const epoch = process.env.SOURCE_DATE_EPOCH;
    const date = epoch && /^\d+$/.test(epoch) ? new Date(Number(epoch) * 1000).toISOString().slice(0, 10) : undefined;
    process.stdout.write(manPage(program, { date }));
  } else if (what === 'bash-completion') {
    process.stdout.write(bashCompletion(program));
  } else {
    process.stderr.write('usage: node docgen.js man|bash-completion\n');
    process.exitCode = 2;
  }
}
