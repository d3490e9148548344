// Script security, as keepalived's `enable_script_security`: the daemon runs commands from the
// topology as root (or as `script_user`), so the topology file, every program a command names
// and every directory above them must be writable by root alone. Otherwise any user who can
// write one of them runs code as root. The checks read the file system (lstat, realpath) and
// return findings; `enforceScriptSecurity` is the one call the daemon and `xlvs vrrp` make at
// start and on reload (refuse, or with --insecure warn and go on).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import type { Topology } from './model';
import type { VrrpConfig } from '../vrrp/types';
import { setScriptIdentity } from '../sys/run-as';

/** A command of the topology and where it comes from (a config path). */
export interface Command { argv: readonly string[]; use: string }

/** What is wrong with one file a command or the topology depends on. */
export interface Insecurity { use: string; file: string; why: string }

export interface SecurityOptions {
  /** A uid besides root that may own the programs and their directories (script_user's). */
  scriptUid?: number | null;
  /** PATH used to find a program named without a slash; default the daemon's PATH. */
  pathEnv?: string;
}

/** Mode bits: group write, other write, sticky (inode(7)). */
const S_IWGRP = 0o020;
const S_IWOTH = 0o002;
const S_ISVTX = 0o1000;
/** Searched when the daemon has no PATH: Debian's default for root (/etc/login.defs ENV_SUPATH). */
const DEFAULT_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Every command a topology can run, with the config path it comes from. */
export function topologyCommands(t: Topology): Command[] {
  const out: Command[] = [];
  const add = (argv: readonly string[] | null | undefined, use: string): void => {
    if (argv && argv.length) out.push({ argv, use });
  };
  t.vrrp.forEach((v, i) => {
    for (const k of ['master', 'backup', 'fault', 'stop', 'any'] as const) add(v.notify[k], `vrrp[${i}].notify.${k}`);
  });
  t.vrrpScripts.forEach((s, i) => add(s.command, `vrrp_scripts[${i}].command`));
  t.services.forEach((s, i) => {
    add(s.quorum.up, `services[${i}].quorum.up`);
    add(s.quorum.down, `services[${i}].quorum.down`);
    s.reals.forEach((r, j) => {
      add(r.notifyUp, `services[${i}].reals[${j}].notify_up`);
      add(r.notifyDown, `services[${i}].reals[${j}].notify_down`);
      add(r.check.script?.command, `services[${i}].reals[${j}].check.script.command`);
    });
  });
  return out;
}

/** Every command of a VRRP-only configuration (`xlvs vrrp`). */
export function vrrpCommands(cfg: VrrpConfig): Command[] {
  const out: Command[] = [];
  cfg.instances.forEach((v, i) => {
    for (const k of ['master', 'backup', 'fault', 'stop', 'any'] as const) {
      const a = v.notify[k];
      if (a && a.length) out.push({ argv: a, use: `vrrp[${i}].notify.${k}` });
    }
  });
  cfg.scripts.forEach((s, i) => out.push({ argv: s.command, use: `vrrp_scripts[${i}].command` }));
  return out;
}

/**
 * The file `argv0` runs: itself when it holds a slash, else the first executable regular file
 * of that name on `pathEnv` (execvp(3)); null when there is none (spawn will fail and say so).
 */
export function resolveProgram(argv0: string, pathEnv = process.env.PATH ?? DEFAULT_PATH): string | null {
  if (argv0.includes('/')) return path.resolve(argv0);
  for (const dir of pathEnv.split(':')) {
    const p = path.resolve(dir || '.', argv0);
    try {
      const st = fs.statSync(p);
      if (st.isFile() && (st.mode & 0o111) !== 0) return p;
    } catch { /* not here */ }
  }
  return null;
}

/**
 * Why users other than root (and `okUid`) could change what `file` is, or null: the file or a
 * directory above it is owned by another user, or writable by a group other than root's or by
 * others (a sticky directory, like /tmp, only lets owners rename or remove their entries, so
 * its world-write bit is no risk for a root-owned entry). Symbolic links are followed and their
 * target is checked too. Null also when the file does not exist (nothing runs then).
 */
export function pathInsecurity(file: string, okUid: number | null = null): string | null {
  const abs = path.resolve(file);
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    return null;
  }
  const chains = real === abs ? [abs] : [abs, real];
  for (const chain of chains) {
    for (let p = chain; ; p = path.dirname(p)) {
      const why = entryInsecurity(p, okUid);
      if (why) return p === chain ? `${p === abs ? 'it' : `its target ${p}`} ${why}` : `the directory ${p} above it ${why}`;
      if (p === '/') break;
    }
  }
  return null;
}

/** Why the entry `p` itself (not its directories) is insecure, as a predicate ("is owned by …"). */
function entryInsecurity(p: string, okUid: number | null): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(p);
  } catch (e) {
    return `cannot be inspected (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`;
  }
  if (st.uid !== 0 && st.uid !== okUid) return `is owned by uid ${st.uid}, not root${okUid !== null ? ` or the script_user (uid ${okUid})` : ''}`;
  if (st.isSymbolicLink()) return null; // a link's own mode is never used; its target is checked
  const sticky = st.isDirectory() && (st.mode & S_ISVTX) !== 0;
  if ((st.mode & S_IWOTH) !== 0 && !sticky) return `is writable by every user (mode ${mode(st)})`;
  if ((st.mode & S_IWGRP) !== 0 && st.gid !== 0 && !sticky) return `is writable by group ${st.gid} (mode ${mode(st)})`;
  return null;
}

function mode(st: fs.Stats): string {
  return (st.mode & 0o7777).toString(8).padStart(4, '0');
}

/** Every insecure file among the topology file and the programs of `commands`. */
export function scriptSecurityProblems(configFile: string, commands: readonly Command[], opts: SecurityOptions = {}): Insecurity[] {
  const out: Insecurity[] = [];
  const topo = pathInsecurity(configFile);
  if (topo) out.push({ use: 'the topology file', file: path.resolve(configFile), why: topo });
  const seen = new Map<string, string | null>();
  for (const c of commands) {
    const prog = resolveProgram(c.argv[0], opts.pathEnv);
    if (!prog) continue;
    if (!seen.has(prog)) seen.set(prog, pathInsecurity(prog, opts.scriptUid ?? null));
    const why = seen.get(prog);
    if (why) out.push({ use: c.use, file: prog, why });
  }
  return out;
}

export function formatInsecurity(i: Insecurity): string {
  return `${i.use}: ${i.file}: ${i.why}`;
}

/** A user of /etc/passwd (passwd(5)): name:password:uid:gid:gecos:home:shell. */
export interface SystemUser { name: string; uid: number; gid: number }

export function lookupUser(name: string, passwdFile = '/etc/passwd'): SystemUser | null {
  let text: string;
  try {
    text = fs.readFileSync(passwdFile, 'utf8');
  } catch {
    return null;
  }
  for (const line of text.split('\n')) {
    const f = line.split(':');
    if (f.length >= 4 && f[0] === name && /^\d+$/.test(f[2]) && /^\d+$/.test(f[3])) return { name, uid: Number(f[2]), gid: Number(f[3]) };
  }
  return null;
}

export interface EnforceOptions extends SecurityOptions {
  /** --insecure: report the findings as warnings and go on. */
  insecure?: boolean;
  warn?: (line: string) => void;
}

/**
 * Refuses (E_INSECURE, every finding listed) when the topology file or a program it runs can
 * be changed by users other than root; with `insecure` each finding is passed to `warn`.
 */
export function enforceScriptSecurity(configFile: string, commands: readonly Command[], opts: EnforceOptions = {}): void {
  const found = scriptSecurityProblems(configFile, commands, opts);
  if (!found.length) return;
  if (opts.insecure) {
    for (const f of found) opts.warn?.(`insecure (--insecure given, running anyway): ${formatInsecurity(f)}`);
    return;
  }
  throw new XlvsError(ErrorCodes.INSECURE,
    `${configFile}: refusing to run commands that users other than root can change (as keepalived's enable_script_security); ` +
    'fix the owner or mode, or run with --insecure:\n' + found.map((f) => `  ${formatInsecurity(f)}`).join('\n'));
}

/**
 * The daemon's and `xlvs vrrp`'s one call, at start and on every reload: resolve script_user,
 * refuse (or with --insecure warn about) files users other than root can change, then make
 * every command spawned from now on run as script_user (or root). Nothing changes on refusal.
 */
export function applyScriptSecurity(configFile: string, commands: readonly Command[], scriptUser: string | null, opts: EnforceOptions = {}): void {
  const user = scriptUser !== null ? lookupUser(scriptUser) : null;
  if (scriptUser !== null && !user) throw new XlvsError(ErrorCodes.CONFIG_INVALID, `${configFile}: script_user: no user "${scriptUser}" in /etc/passwd`);
  enforceScriptSecurity(configFile, commands, { ...opts, scriptUid: user?.uid ?? null });
  setScriptIdentity(user ? { uid: user.uid, gid: user.gid } : null);
}
