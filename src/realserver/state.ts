// The real-server state file: what `xlvs realserver up` changed and the values that were there
// before, so `down` can put back exactly what it found. One file per network namespace, under
// /run/xlvs (tmpfs: a reboot forgets the setup and the file together).
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import type { ConfKey } from './sysctl';

export const STATE_DIR = '/run/xlvs';

export interface SavedSysctl { dev: string; key: ConfKey; before: number; after: number }
export interface SavedVip { address: string; /** false: it was on lo before us, `down` leaves it */ added: boolean }
export type DecapMode = 'xdp' | 'xdp-generic';
export interface SavedDecap {
  dev: string;
  /** What was asked for; `attached` is what the kernel took (xdp may fall back to generic). */
  mode: DecapMode;
  attached: 'xdp-native' | 'xdp-generic';
  progId: number;
  pinDir: string | null;
}

export interface RealserverState {
  version: 1;
  netns: string;
  dev: string | null;
  tun: boolean;
  vips: SavedVip[];
  sysctls: SavedSysctl[];
  decap: SavedDecap | null;
  updatedAt: string;
}

/** Name of the network namespace this process runs in: its /run/netns name, or "default". */
export function currentNetnsName(): string {
  let self: fs.Stats;
  try {
    self = fs.statSync('/proc/self/ns/net');
  } catch {
    return 'default';
  }
  const dir = '/run/netns';
  if (!fs.existsSync(dir)) return 'default';
  for (const n of fs.readdirSync(dir).sort()) {
    try {
      const st = fs.statSync(path.join(dir, n));
      if (st.ino === self.ino && st.dev === self.dev) return n;
    } catch { /* a namespace being deleted */ }
  }
  return 'default';
}

export function defaultStateFile(netns = currentNetnsName()): string {
  return path.join(STATE_DIR, `realserver-${netns}.json`);
}

export function readState(file: string): RealserverState | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new XlvsError(ErrorCodes.SYSTEM, `cannot read real-server state ${file}: ${(e as Error).message}`);
  }
  let s: RealserverState;
  try {
    s = JSON.parse(text) as RealserverState;
  } catch (e) {
    throw new XlvsError(ErrorCodes.SYSTEM, `real-server state ${file} is not JSON (${(e as Error).message}); inspect it and remove it by hand`);
  }
  if (s.version !== 1 || !Array.isArray(s.vips) || !Array.isArray(s.sysctls)) {
    throw new XlvsError(ErrorCodes.SYSTEM, `real-server state ${file}: unknown layout (version ${String(s.version)})`);
  }
  return s;
}

/** Writes the state atomically (temporary file + rename), so a crash never leaves half a file. */
export function writeState(file: string, s: RealserverState): void {
  fs.mkdirSync(path.dirname(file), { recursive: true, mode: 0o755 });
  const tmp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(tmp, JSON.stringify(s, null, 2) + '\n', { mode: 0o644 });
  fs.renameSync(tmp, file);
}

export function removeState(file: string): void {
  try { fs.unlinkSync(file); } catch (e) {
    if ((e as NodeJS.ErrnoException).code !== 'ENOENT') throw e;
  }
}
