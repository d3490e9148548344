// notify_master / notify_backup / notify_fault / notify_stop and keepalived's generic `notify`,
// run by argv with spawn: no shell ever sees the arguments, so metacharacters stay literal.
import { spawn } from 'node:child_process';
import type { NotifyConfig } from './types';
import { scriptIdentity } from '../sys/run-as';
import type { VrrpState } from './state';

export const NOTIFY_TIMEOUT_MS = 30_000; // a hung notify script is killed (keepalived script_timeout-like)

/** keepalived.conf(5) state names used in notify arguments. */
function keepalivedStateName(s: VrrpState): string {
  return s === 'INIT' ? 'STOP' : s;
}

/** `%instance%`, `%state%`, `%priority%` in any argument are replaced (whole-argument or inline). */
function expandArgv(argv: string[], vars: { instance: string; state: string; priority: number }): string[] {
  return argv.map((a) => a
    .replace(/%instance%/g, vars.instance)
    .replace(/%state%/g, vars.state)
    .replace(/%priority%/g, String(vars.priority)));
}

/**
 * The commands to run for a transition into `to`: the state's own notify (argv as configured,
 * placeholders expanded), then the generic one with keepalived's trailing arguments
 * `INSTANCE <name> <state> <priority>`.
 */
export function notifyCommands(cfg: NotifyConfig, instance: string, to: VrrpState, priority: number): string[][] {
  const state = keepalivedStateName(to);
  const vars = { instance, state, priority };
  const out: string[][] = [];
  const own = { MASTER: cfg.master, BACKUP: cfg.backup, FAULT: cfg.fault, INIT: cfg.stop }[to];
  if (own) out.push(expandArgv(own, vars));
  if (cfg.any) out.push([...expandArgv(cfg.any, vars), 'INSTANCE', instance, state, String(priority)]);
  return out;
}

export interface NotifyResult { argv: string[]; code: number | null; signal: string | null; error?: string }

/** Runs one command without a shell; resolves when it exits (or is killed after the timeout). */
export function runNotify(argv: string[], timeoutMs = NOTIFY_TIMEOUT_MS): Promise<NotifyResult> {
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(argv[0], argv.slice(1), { stdio: 'ignore', shell: false, ...scriptIdentity() });
    } catch (e) {
      resolve({ argv, code: null, signal: null, error: String(e) });
      return;
    }
    const t = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, timeoutMs);
    child.once('error', (e) => { clearTimeout(t); resolve({ argv, code: null, signal: null, error: e.message }); });
    child.once('exit', (code, signal) => { clearTimeout(t); resolve({ argv, code, signal }); });
  });
}
