// The TUN decap program on a real server: load bpf/decap.bpf.c, write the VIPs into its map,
// attach it to the interface the tunnelled packets arrive on.
import { XlvsError, ErrorCodes } from '../errors';
import type { DecapMode, SavedDecap } from './state';
import { liveBpf, LiveProg } from './live';

export type LiveDecap = LiveProg;

export function liveDecap(dev: string): LiveDecap[] {
  return liveBpf(dev);
}

export function attachDecap(dev: string, mode: DecapMode, vips: string[], pinRoot: string | null): SavedDecap {
  void dev; void mode; void vips; void pinRoot;
  throw new XlvsError(ErrorCodes.USAGE, 'TUN decap is not available yet');
}

export function detachDecap(d: SavedDecap): void {
  void d;
}
