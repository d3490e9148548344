// Making sure a BPF filesystem is mounted where pins go.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { c, lastErrno } from './ffi';

/** Mount points of type bpf in this mount namespace (/proc/self/mountinfo, proc(5)). */
function bpffsMounts(): string[] {
  const out: string[] = [];
  for (const line of fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    if (post.split(' ')[0] === 'bpf') out.push(pre.split(' ')[4].replace(/\\040/g, ' '));
  }
  return out;
}

/** True when `p` is inside a mounted bpffs. */
export function onBpffs(p: string): boolean {
  const abs = path.resolve(p);
  return bpffsMounts().some((m) => abs === m || abs.startsWith(m.endsWith('/') ? m : m + '/'));
}

/**
 * Why a bpffs must not be mounted at `target`, or null when it may: a mount hides whatever the
 * directory holds (a pin_root of /etc would hide the host's configuration), so only a missing
 * or empty directory is covered.
 */
function mountRefusal(target: string): string | null {
  let st: fs.Stats;
  try {
    st = fs.lstatSync(target);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    return `cannot inspect ${target}: ${(e as Error).message}`;
  }
  if (!st.isDirectory()) return `${target} exists and is not a directory`;
  const entries = fs.readdirSync(target);
  if (entries.length === 0) return null;
  const shown = entries.slice(0, 3).join(', ') + (entries.length > 3 ? ', …' : '');
  return `${target} is not on a BPF filesystem and holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'} (${shown}); a bpffs mounted there would hide them`;
}

/**
 * Ensures `dir` (default /sys/fs/bpf) is on a bpffs: mounts one at /sys/fs/bpf when none is
 * there (or at `dir` itself when it is outside /sys/fs/bpf), then mkdir -p `dir`. Refuses
 * (E_BPF_PIN, nothing mounted) when that directory exists and is not empty.
 */
export function ensureBpffs(dir = '/sys/fs/bpf'): void {
  const abs = path.resolve(dir);
  if (!onBpffs(abs)) {
    const target = abs === '/sys/fs/bpf' || abs.startsWith('/sys/fs/bpf/') ? '/sys/fs/bpf' : abs;
    const refusal = mountRefusal(target);
    if (refusal) throw new XlvsError(ErrorCodes.BPF_PIN, `will not mount a bpffs at ${target}: ${refusal} (mount one there first, or choose an empty directory)`);
    fs.mkdirSync(target, { recursive: true });
    if ((c.mount('bpf', target, 'bpf', 0, null) as number) < 0) {
      throw new XlvsError(ErrorCodes.BPF_PIN, `mount bpffs at ${target} failed`, { errno: lastErrno() });
    }
  }
  try {
    fs.mkdirSync(abs, { recursive: true });
  } catch (e) {
    throw new XlvsError(ErrorCodes.BPF_PIN, `mkdir ${abs} failed: ${(e as Error).message}`);
  }
}
