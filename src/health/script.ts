// Script check (keepalived MISC_CHECK): run argv by spawn, never a shell. keepalived.conf(5),
// MISC_CHECK: exit 0 = up and any other exit = down; with `misc_dynamic` (our `dynamic: true`)
// 0 = up, 1 = down, 2..255 = up with weight (code − 2). So a Nagios plugin exiting 2 (CRITICAL)
// is down unless the check asks for dynamic weights. On timeout the whole process group is
// killed, so a script's children die too.
import { spawn } from 'node:child_process';
import { CheckResult, ScriptCheck } from './types';
import { probe, Verdict } from './probe';
import { connectHost, connectPort, substitute } from './target';
import { scriptIdentity } from '../sys/run-as';

/** misc_dynamic: exit codes from here up carry a weight (code − MISC_DYNAMIC_BASE). */
export const MISC_DYNAMIC_BASE = 2;

function scriptVars(spec: ScriptCheck): Record<string, string> {
  return { address: connectHost(spec), port: String(connectPort(spec)) };
}

/** The verdict on an exit code, as keepalived's MISC_CHECK reads it. */
function exitVerdict(code: number, dynamic: boolean): Verdict {
  if (code === 0) return { ok: true, reason: 'exit 0' };
  if (!dynamic || code === 1) return { ok: false, reason: `exit ${code}` };
  const weight = code - MISC_DYNAMIC_BASE;
  return { ok: true, weight, reason: `exit ${code}: weight ${weight}` };
}

export function scriptCheck(spec: ScriptCheck, signal: AbortSignal): Promise<CheckResult> {
  const vars = scriptVars(spec);
  const argv = spec.command.map((a) => substitute(a, vars));
  return probe(spec.timeoutMs, signal, (sig) => new Promise<Verdict>((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), {
      stdio: 'ignore',
      detached: true, // own process group: a timeout kills the script and its children
      ...scriptIdentity(),
      env: { ...process.env, XLVS_ADDRESS: vars.address, XLVS_PORT: vars.port, XLVS_REAL_ADDRESS: spec.address, XLVS_REAL_PORT: String(spec.port) },
    });
    const kill = () => {
      if (child.pid && child.exitCode === null && child.signalCode === null) {
        try { process.kill(-child.pid, 'SIGKILL'); } catch { try { child.kill('SIGKILL'); } catch { /* gone */ } }
      }
    };
    sig.addEventListener('abort', kill, { once: true });
    child.once('error', (e) => { sig.removeEventListener('abort', kill); reject(e); });
    child.once('exit', (code, sigName) => {
      sig.removeEventListener('abort', kill);
      if (code === null) { resolve({ ok: false, reason: `killed by ${sigName}` }); return; }
      resolve(exitVerdict(code, !!spec.dynamic));
    });
  }));
}
