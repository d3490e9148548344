// Running programs by argv (never through a shell): the one way production code and the lab
// run iproute2, sysctl and friends. `inNs` prefixes a command to run inside a network namespace.
import { execFileSync } from 'node:child_process';
import { XlvsError, ErrorCodes } from '../errors';

export interface RunResult { stdout: string; stderr: string; status: number }

/** Runs a command by argv (no shell); throws XlvsError(E_SYSTEM) on a non-zero exit. */
export function run(argv: string[], opts: { allowFail?: boolean; input?: string; timeoutMs?: number } = {}): RunResult {
  try {
    const stdout = execFileSync(argv[0], argv.slice(1), {
      encoding: 'utf8', stdio: ['pipe', 'pipe', 'pipe'], input: opts.input, timeout: opts.timeoutMs ?? 30_000,
    });
    return { stdout, stderr: '', status: 0 };
  } catch (e) {
    const err = e as { status?: number; stdout?: string; stderr?: string };
    const res = { stdout: String(err.stdout ?? ''), stderr: String(err.stderr ?? ''), status: err.status ?? -1 };
    if (opts.allowFail) return res;
    throw new XlvsError(ErrorCodes.SYSTEM, `${argv.join(' ')} failed (exit ${res.status}): ${res.stderr.trim()}`);
  }
}

/** argv prefix that runs a command inside namespace `ns` (or in the current one when null). */
export function inNs(ns: string | null, argv: string[]): string[] {
  return ns ? ['ip', 'netns', 'exec', ns, ...argv] : argv;
}
