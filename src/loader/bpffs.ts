// Making sure a BPF filesystem is mounted where pins go.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { c, lastErrno } from './ffi';

/** Mount points of type bpf in this mount namespace (/proc/self/mountinfo, proc(5)). */
export function bpffsMounts(): string[] {
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
 * Ensures `dir` (default /sys/fs/bpf) is on a bpffs: mounts one at /sys/fs/bpf when none is
 * there (or at `dir` itself when it is outside /sys/fs/bpf), then mkdir -p `dir`.
 */
export function ensureBpffs(dir = '/sys/fs/bpf'): void {
  const abs = path.resolve(dir);
  if (!onBpffs(abs)) {
    const target = abs === '/sys/fs/bpf' || abs.startsWith('/sys/fs/bpf/') ? '/sys/fs/bpf' : abs;
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
