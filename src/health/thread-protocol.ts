// The messages between the daemon's main thread (HealthThread) and the health thread (worker.ts).
import type { CheckerSpec, CheckerStatus, CheckEvent, HealthEvent } from './types';
import type { SyncResult } from './manager';

/** How often the health thread reports its event-loop delay. */
export const HEALTH_STATUS_EVERY_MS = 500;

export type ToHealth =
  | { type: 'sync'; seq: number; specs: CheckerSpec[] }
  | { type: 'stop' };

export type FromHealth =
  | { type: 'ready' }
  | { type: 'synced'; seq: number; result: SyncResult; statuses: CheckerStatus[] }
  | { type: 'sync-failed'; seq: number; error: string; code?: string }
  /** A transition, with the checker's status after it (the main side mirrors it first). */
  | { type: 'transition'; event: HealthEvent; status: CheckerStatus | undefined }
  | { type: 'check'; event: CheckEvent; status: CheckerStatus | undefined }
  | { type: 'removed'; id: string }
  | { type: 'status'; at: number; loopDelayMaxMs: number; loopDelayP99Ms: number }
  | { type: 'stopped' };

/**
 * postMessage copies a Buffer as a plain Uint8Array (the structured clone algorithm knows no
 * Buffer), so a UDP check's payload arrives as one: made a Buffer again, on the same bytes.
 */
export function reviveSpec(s: CheckerSpec): CheckerSpec {
  const c = s?.check;
  if (c?.type === 'udp' && c.payload instanceof Uint8Array && !Buffer.isBuffer(c.payload)) {
    const p = c.payload as Uint8Array;
    return { ...s, check: { ...c, payload: Buffer.from(p.buffer, p.byteOffset, p.byteLength) } };
  }
  return s;
}
