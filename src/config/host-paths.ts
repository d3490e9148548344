// Paths in a topology where the daemon creates things on the host: the BPF pin root (a bpffs
// is mounted there when it is not on one) and the control socket (a stale socket there is
// replaced). Both are confined to directories meant for run-time state, so a typo or a hostile
// file cannot make the daemon mount over /etc or unlink /etc/passwd. Pure; the run-time checks
// (never mount over a directory holding files, never unlink what is not a socket) are in
// src/loader/bpffs.ts and src/control/server.ts.
import * as path from 'node:path';

/** Where pin roots may be: the BPF filesystem's usual mount point, or the run-time tmpfs. */
const PIN_ROOT_DIRS = ['/sys/fs/bpf', '/run'] as const;
/** Where control sockets may be: the run-time tmpfs (FHS 3.0 §3.15, /run). */
const SOCKET_DIRS = ['/run'] as const;

const DOTS = 'has a . or .. segment: write the path without them';

/** True when `p` (absolute, no . or ..) is inside one of `dirs`, or is one of `allowDir`. */
function inside(p: string, dirs: readonly string[], allowDir: readonly string[] = []): boolean {
  const norm = path.posix.normalize(p).replace(/\/+$/, '') || '/';
  return allowDir.includes(norm) || dirs.some((d) => norm.startsWith(d + '/'));
}

function dotted(p: string): boolean {
  return p.split('/').some((s) => s === '.' || s === '..');
}

/** A problem text for director.pin_root, or null. */
export function pinRootProblem(p: string): string | null {
  if (dotted(p)) return `${p} ${DOTS}`;
  if (inside(p, PIN_ROOT_DIRS, ['/sys/fs/bpf'])) return null;
  return `${p} is not inside /sys/fs/bpf/ or /run/: the daemon mounts a BPF filesystem there when it is not on one, so it must be run-time state, never a directory of the host's files`;
}

/** A problem text for control.socket, or null. */
export function socketProblem(p: string): string | null {
  if (dotted(p)) return `${p} ${DOTS}`;
  if (inside(p, SOCKET_DIRS)) return null;
  return `${p} is not inside /run/: the daemon replaces a stale socket there, so it must be run-time state (e.g. /run/xlvs/<name>.sock)`;
}
