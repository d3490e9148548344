// Pinning fds in a bpffs and removing pins.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { bpf } from './ffi';

/** bpf_obj_pin, creating the parent directory first (bpffs allows mkdir). */
export function pinFd(fd: number, pinPath: string, what: string): void {
  let made: string | undefined;
  try {
    made = fs.mkdirSync(path.dirname(pinPath), { recursive: true });
  } catch (e) {
    throw new XlvsError(ErrorCodes.BPF_PIN, `${what}: cannot create ${path.dirname(pinPath)}: ${(e as Error).message}`);
  }
  const r = bpf.obj_pin(fd, pinPath) as number;
  if (r < 0) {
    // Leave nothing behind: remove the directories this call created.
    if (made) try { fs.rmSync(made, { recursive: true }); } catch { /* best effort */ }
    throw new XlvsError(ErrorCodes.BPF_PIN, `${what}: pin at ${pinPath} failed${r === -17 ? ' (a pin of that name exists)' : ''}`, { errno: -r });
  }
}

export function unpinPath(pinPath: string, what: string): void {
  try {
    fs.unlinkSync(pinPath);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new XlvsError(ErrorCodes.BPF_PIN, `${what}: unpin ${pinPath} failed: ${err.code ?? err.message}`, { errno: err.errno ? Math.abs(err.errno) : undefined });
  }
}
