// Notify commands (keepalived notify_up/notify_down per real, quorum_up/quorum_down per service):
// argv run by spawn, never a shell. `%name%` placeholders in arguments are replaced from the
// event, which is also in the environment as XLVS_<NAME>. A command that outlives its timeout is
// killed with its process group.
import { spawn } from 'node:child_process';
import { substitute } from './target';
import { scriptIdentity } from '../sys/run-as';

/** keepalived's script_timeout-like bound on a notify command (it runs in the background). */
export const NOTIFY_TIMEOUT_MS = 10_000;

export interface NotifyResult { argv: string[]; code: number | null; signal: string | null; error?: string }

/** vars: event, service, real, address, port, reason, weight, … → %event% and XLVS_EVENT. */
export function runNotify(argv: string[], vars: Record<string, string>, timeoutMs = NOTIFY_TIMEOUT_MS): Promise<NotifyResult> {
  const args = argv.map((a) => substitute(a, vars));
  const env: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(vars)) env[`XLVS_${k.toUpperCase()}`] = v;
  return new Promise((resolve) => {
    let child;
    try {
      child = spawn(args[0], args.slice(1), { stdio: 'ignore', detached: true, env, ...scriptIdentity() });
    } catch (e) {
      resolve({ argv: args, code: null, signal: null, error: (e as Error).message });
      return;
    }
    const timer = setTimeout(() => {
      if (child.pid) { try { process.kill(-child.pid, 'SIGKILL'); } catch { /* gone */ } }
    }, timeoutMs);
    timer.unref();
    child.once('error', (e) => { clearTimeout(timer); resolve({ argv: args, code: null, signal: null, error: e.message }); });
    child.once('exit', (code, signal) => { clearTimeout(timer); resolve({ argv: args, code, signal }); });
  });
}
