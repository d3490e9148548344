// The messages between the daemon's main thread (VrrpThread) and the VRRP thread (worker.ts).
import type { Counters } from './io';
import type { VrrpState } from './state';

/** How often the VRRP thread reports its instances and its event-loop delay. */
export const STATUS_EVERY_MS = 500;

export interface VrrpInstanceStatus {
  name: string;
  vrid: number;
  interface: string;
  state: VrrpState;
  priority: number;
  effectivePriority: number;
  vips: string[];
  /** Date.now() of the last transition, 0 before the first. */
  since: number;
  counters: Counters;
}

export interface TransitionMessage {
  instance: string;
  from: VrrpState;
  to: VrrpState;
  reason: string;
  priority: number;
}

export type FromVrrp =
  | { type: 'started' }
  | { type: 'failed'; error: string }
  | { type: 'stopped'; error?: string }
  | { type: 'log'; level: 'info' | 'warn'; line: string }
  | { type: 'transition'; change: TransitionMessage }
  | { type: 'advert-received'; instance: string }
  | { type: 'rejected'; instance: string; reason: string }
  | { type: 'status'; at: number; instances: VrrpInstanceStatus[]; loopDelayMaxMs: number; loopDelayP99Ms: number };

export type ToVrrp = { type: 'stop' };
