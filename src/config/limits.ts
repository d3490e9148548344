// Limits a topology must respect so that what `xlvs validate` accepts is what the daemon can
// run: the longest timer Node can arm, the data plane's map sizes and field widths. The data
// plane numbers come from src/maps/lb.ts (the TS mirror of bpf/include/lb_shared.h), never
// from copies here.
import { LB } from '../maps/lb';

/**
 * Node's timers hold a signed 32-bit millisecond delay: "When delay is larger than 2147483647
 * or less than 1, the delay will be set to 1" (Node.js docs, timers, setTimeout). A longer
 * duration would not wait longer, it would fire every millisecond.
 */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * A delay a timer can hold: 0..MAX_TIMER_MS. Validation already refuses longer durations; this
 * is the defensive clamp where timers are armed, so a longer one waits the longest it can
 * instead of firing every millisecond.
 */
export function timerMs(ms: number): number {
  return Math.min(MAX_TIMER_MS, Math.max(0, ms));
}

/** vip_info.persist_timeout_ms is a __u32 of milliseconds (lb_shared.h, src/maps/lb.ts vipInfo). */
export const MAX_PERSIST_MS = 0xffff_ffff;

/** VIP ids 1..LB_MAX_VIPS-1 (id 0 is "none"): one per service (VIP, port, protocol). */
export const MAX_SERVICES = LB.MAX_VIPS - 1;

/** lb_vips keys (LB_VIP_KEYS): one per port of every service, a grouped service one per port of its group. */
export const MAX_VIP_KEYS = LB.VIP_KEYS;

/** Real ids 1..LB_MAX_REALS-1 (0 is "no real"): one per (service, real); a sorry server is one too. */
export const MAX_REALS = LB.MAX_REALS - 1;

/** LB_MAGLEV_MAX: the largest Maglev table a VIP can have (prime). */
export const MAX_TABLE_SIZE = LB.MAGLEV_MAX;

/** `2147483647ms (about 24.9 days)`-style text for messages. */
export function describeMs(ms: number): string {
  const days = ms / 86_400_000;
  return days >= 1 ? `${ms}ms (about ${days.toFixed(1)} days)` : `${ms}ms`;
}
