// Test gating: BPF/netns tests run as root; in CI (CI=true) they must run, elsewhere they skip
// with a printed reason.
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';

export const inCI = process.env.CI === 'true';

function bpfReason(): string | null {
  if (process.getuid && process.getuid() !== 0) return 'not root';
  if (!fs.existsSync('/sys/fs/bpf')) return 'no /sys/fs/bpf (kernel without BPF filesystem)';
  return null;
}

let cached: string | null | undefined;
/** Why BPF tests cannot run here, or null when they can. */
export function whyNoBpf(): string | null {
  if (cached === undefined) cached = bpfReason();
  return cached;
}

/**
 * Options for node:test's `test()`/`describe()`: `{ skip: reason }` outside CI when BPF is
 * unavailable. In CI a missing capability is a failure, so the test runs (and fails loudly).
 */
export function needsBpf(): { skip?: string } {
  const why = whyNoBpf();
  if (!why) return {};
  if (inCI) return {};
  const reason = `needs root and BPF: ${why}`;
  process.stdout.write(`# skip: ${reason}\n`);
  return { skip: reason };
}

/** Same gate for tests that need a program from Debian (keepalived, tcpdump, …). */
export function needsCommand(cmd: string): { skip?: string } {
  const base = needsBpf();
  if (base.skip) return base;
  try {
    execFileSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' });
    return {};
  } catch {
    if (inCI) return {};
    const reason = `needs ${cmd} (apt-get install it, or run make test which does)`;
    process.stdout.write(`# skip: ${reason}\n`);
    return { skip: reason };
  }
}
