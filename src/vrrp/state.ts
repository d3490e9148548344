// The VRRP state machine, pure: `step(machine, event) → { machine, actions }` per RFC 5798 §6.4
// (Initialize, Backup, Master) plus Fault, with keepalived's behaviour where it differs.
// Time comes in with every event (`now`, ms) and timers go out as actions, so tests run it on a
// fake clock and the shell (io.ts) owns the real timers.
//
// keepalived differences kept on purpose (keepalived/vrrp/vrrp.c, 2.2.x):
// - `state MASTER` below priority 255 still starts in Backup and waits the master-down interval
//   (docs/lab-notes.md: ≈ 3 × advert_int + skew); only the address owner (255) starts as Master.
// - Master receiving a lower-priority advert answers at once with an advert and a gratuitous
//   ARP burst ("forcing new election"), so a dual-master heals and caches follow the winner.
// - preempt_delay: a Backup started or seeing a lower-priority Master keeps accepting that
//   Master's adverts for preempt_delay, then ignores them and takes over when the master-down
//   timer runs out (vrrp_state_backup, preempt_time).
// - Leaving Master for Fault sends a priority-0 advert (vrrp_state_leave_master).
// - Skew_Time scales with Master_Adver_Interval for v2 as well (VRRP_TIMER_SKEW); with
//   advert_int 1 s this equals RFC 3768's (256 − Priority)/256 s.

import { MIN_INTERVAL_MS, MAX_INTERVAL_MS } from './codec';

export type VrrpState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export const PRIORITY_OWNER = 255; // RFC 5798 §5.2.4: address owner
export const PRIORITY_STOP = 0; // RFC 5798 §5.2.4: master stops participating
export const MASTER_DOWN_ADVERTS = 3; // RFC 5798 §6.1: Master_Down_Interval = 3 × interval + skew

export interface MachineConfig {
  name: string;
  priority: number;
  advertIntervalMs: number;
  preempt: boolean;
  preemptDelayMs: number;
  /** Our source address: breaks equal-priority ties (higher address wins, RFC 5798 §6.4.3). */
  primaryAddress: string;
}

export interface Machine {
  readonly cfg: MachineConfig;
  state: VrrpState;
  /** Priority we advertise: configured priority adjusted by tracking weights. */
  priority: number;
  /** RFC 5798 §6.1: learned from the Master's adverts in v3. */
  masterAdverIntervalMs: number;
  /** preempt_delay deadline (ms clock), null when not running. */
  preemptDeadline: number | null;
  /** Fault held by our own tracking / by the sync group. */
  ownFault: boolean;
  syncFault: boolean;
}

export type TimerName = 'adver' | 'master-down';

export type Event =
  | { type: 'startup'; now: number }
  | { type: 'shutdown'; now: number }
  | { type: 'timer'; timer: TimerName; now: number }
  | { type: 'advert'; now: number; priority: number; src: string; intervalMs: number }
  | { type: 'tracking'; now: number; priority: number; fault: boolean }
  | { type: 'sync'; now: number; to: 'MASTER' | 'BACKUP' | 'FAULT' };

export type Action =
  | { type: 'send-advert'; priority: number }
  | { type: 'arm'; timer: TimerName; ms: number }
  | { type: 'cancel'; timer: TimerName }
  | { type: 'transition'; from: VrrpState; to: VrrpState; reason: string; bySync: boolean }
  | { type: 'garp'; reason: string }
  /** The Master's interval was outside MAX_INTERVAL_FACTOR of ours: `usedMs` was learned instead. */
  | { type: 'interval-clamped'; src: string; peerMs: number; usedMs: number };

export function newMachine(cfg: MachineConfig): Machine {
  return { cfg, state: 'INIT', priority: cfg.priority, masterAdverIntervalMs: cfg.advertIntervalMs, preemptDeadline: null, ownFault: false, syncFault: false };
}

/** RFC 5798 §6.1 Skew_Time, in ms: ((256 − Priority) × Master_Adver_Interval) / 256. */
export function skewMs(priority: number, masterAdverIntervalMs: number): number {
  return Math.floor(((256 - priority) * masterAdverIntervalMs) / 256);
}

/** RFC 5798 §6.1 Master_Down_Interval, in ms. */
export function masterDownMs(priority: number, masterAdverIntervalMs: number): number {
  return MASTER_DOWN_ADVERTS * masterAdverIntervalMs + skewMs(priority, masterAdverIntervalMs);
}

/**
 * How far the Master's advertised interval may be from our own before a Backup stops learning it.
 *
 * RFC 5798 §6.4.2 has a v3 Backup set Master_Adver_Interval from every advert it accepts and
 * derive Master_Down_Interval (3 × interval + skew) from it; keepalived does the same with no
 * bound (vrrp.c vrrp_check_packet logs "advertisement interval changed: mine=…, rcved=…" and the
 * Backup adopts the value). So one peer's value decides how long we wait: 0 would make us
 * take over at once (codec.ts rejects it as 'bad-interval'), 40.95 s makes us wait 148 s before
 * noticing a dead Master.
 *
 * Our rule: the learned interval stays within a factor MAX_INTERVAL_FACTOR of our own configured
 * advert_interval (and within the v3 range 10 ms..40.95 s). A value outside is clamped to the
 * nearest bound and counted ('interval-clamped'). Clamping rather than falling back to our own
 * interval keeps a legitimately slower Master (an operator changing advert_int on one side first)
 * from being overtaken between its adverts: with the clamp, up to 3 × 4 = 12 × our interval
 * between adverts is still survived. With advert_interval 1 s the master-down interval is thus
 * always between 0.75 s and 12 s (plus skew), never 0 and never 148 s.
 */
export const MAX_INTERVAL_FACTOR = 4;

export function boundedMasterInterval(ownMs: number, peerMs: number): { ms: number; clamped: boolean } {
  const lo = Math.max(MIN_INTERVAL_MS, Math.ceil(ownMs / MAX_INTERVAL_FACTOR));
  const hi = Math.min(MAX_INTERVAL_MS, ownMs * MAX_INTERVAL_FACTOR);
  if (!Number.isFinite(peerMs) || peerMs < lo) return { ms: lo, clamped: true };
  if (peerMs > hi) return { ms: hi, clamped: true };
  return { ms: peerMs, clamped: false };
}

/** IP addresses compared as unsigned numbers (RFC 5798 §6.4.3 "primary IP address is greater"). */
export function compareAddresses(a: string, b: string): number {
  const bytes = (x: string): number[] => {
    if (x.includes('.')) return x.split('.').map(Number);
    const [h, t] = x.includes('::') ? x.split('::') : [x, null];
    const hs = h ? h.split(':') : [];
    const ts = t ? t.split(':') : [];
    const g = t === null ? hs : [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
    return g.flatMap((s) => { const n = parseInt(s, 16); return [n >> 8, n & 0xff]; });
  };
  const x = bytes(a), y = bytes(b);
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const d = (x[i] ?? 0) - (y[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

interface Out { machine: Machine; actions: Action[] }

function enterMaster(m: Machine, reason: string, bySync: boolean, acts: Action[]): void {
  const from = m.state;
  m.state = 'MASTER';
  m.preemptDeadline = null;
  acts.push({ type: 'cancel', timer: 'master-down' });
  acts.push({ type: 'send-advert', priority: m.priority });
  acts.push({ type: 'arm', timer: 'adver', ms: m.cfg.advertIntervalMs });
  acts.push({ type: 'transition', from, to: 'MASTER', reason, bySync });
}

/** Sets Master_Adver_Interval from an advert (RFC 5798 §6.4.2), bounded (boundedMasterInterval). */
function learnInterval(m: Machine, ev: { src: string; intervalMs: number }, acts: Action[]): void {
  const b = boundedMasterInterval(m.cfg.advertIntervalMs, ev.intervalMs);
  if (b.clamped) acts.push({ type: 'interval-clamped', src: ev.src, peerMs: ev.intervalMs, usedMs: b.ms });
  m.masterAdverIntervalMs = b.ms;
}

function enterBackup(m: Machine, reason: string, bySync: boolean, acts: Action[], fromAdvert?: { src: string; intervalMs: number }): void {
  const from = m.state;
  m.state = 'BACKUP';
  m.preemptDeadline = null;
  if (fromAdvert) learnInterval(m, fromAdvert, acts);
  else m.masterAdverIntervalMs = m.cfg.advertIntervalMs;
  acts.push({ type: 'cancel', timer: 'adver' });
  acts.push({ type: 'arm', timer: 'master-down', ms: masterDownMs(m.priority, m.masterAdverIntervalMs) });
  acts.push({ type: 'transition', from, to: 'BACKUP', reason, bySync });
}

function enterFault(m: Machine, reason: string, bySync: boolean, acts: Action[]): void {
  const from = m.state;
  if (from === 'MASTER') acts.push({ type: 'send-advert', priority: PRIORITY_STOP });
  m.state = 'FAULT';
  m.preemptDeadline = null;
  acts.push({ type: 'cancel', timer: 'adver' });
  acts.push({ type: 'cancel', timer: 'master-down' });
  acts.push({ type: 'transition', from, to: 'FAULT', reason, bySync });
}

/** Leaves Initialize or Fault the way RFC 5798 §6.4.1 leaves Initialize. */
function start(m: Machine, reason: string, bySync: boolean, acts: Action[]): void {
  if (m.priority === PRIORITY_OWNER) enterMaster(m, `${reason}, address owner (priority 255)`, bySync, acts);
  else enterBackup(m, reason, bySync, acts);
}

/** One event in, the new machine and what the shell must do, in order. The input is not mutated. */
export function step(prev: Machine, ev: Event): Out {
  const m: Machine = { ...prev };
  const acts: Action[] = [];
  switch (ev.type) {
    case 'startup':
      if (m.state === 'INIT') {
        if (m.ownFault || m.syncFault) enterFault(m, 'startup with tracking in fault', false, acts);
        else start(m, 'startup', false, acts);
      }
      break;

    case 'shutdown':
      // RFC 5798 §6.4.3: send an advert with priority 0 so a Backup takes over after Skew_Time.
      if (m.state === 'MASTER') acts.push({ type: 'send-advert', priority: PRIORITY_STOP });
      acts.push({ type: 'cancel', timer: 'adver' }, { type: 'cancel', timer: 'master-down' });
      if (m.state !== 'INIT') acts.push({ type: 'transition', from: m.state, to: 'INIT', reason: 'shutdown', bySync: false });
      m.state = 'INIT';
      break;

    case 'timer':
      if (ev.timer === 'adver' && m.state === 'MASTER') {
        acts.push({ type: 'send-advert', priority: m.priority });
        acts.push({ type: 'arm', timer: 'adver', ms: m.cfg.advertIntervalMs });
      } else if (ev.timer === 'master-down' && m.state === 'BACKUP') {
        enterMaster(m, 'master-down timer expired', false, acts);
      }
      break;

    case 'advert':
      onAdvert(m, ev, acts);
      break;

    case 'tracking': {
      m.priority = ev.priority;
      if (ev.fault && !m.ownFault) {
        m.ownFault = true;
        if (m.state !== 'FAULT' && m.state !== 'INIT') enterFault(m, 'tracked interface or script failed', false, acts);
      } else if (!ev.fault && m.ownFault) {
        m.ownFault = false;
        if (m.state === 'FAULT' && !m.syncFault) start(m, 'tracking recovered', false, acts);
      }
      break;
    }

    case 'sync':
      if (m.state === 'INIT') break;
      if (ev.to === 'FAULT') {
        m.syncFault = true;
        if (m.state !== 'FAULT') enterFault(m, 'sync group member in fault', true, acts);
      } else {
        m.syncFault = false;
        if (m.ownFault) break;
        if (ev.to === 'MASTER' && m.state !== 'MASTER') enterMaster(m, 'sync group member became master', true, acts);
        else if (ev.to === 'BACKUP' && m.state !== 'BACKUP') enterBackup(m, 'sync group member became backup', true, acts);
      }
      break;
  }
  return { machine: m, actions: acts };
}

function onAdvert(m: Machine, ev: Extract<Event, { type: 'advert' }>, acts: Action[]): void {
  if (m.state === 'BACKUP') {
    if (ev.priority === PRIORITY_STOP) {
      // RFC 5798 §6.4.2: Master_Down_Timer = Skew_Time.
      acts.push({ type: 'arm', timer: 'master-down', ms: skewMs(m.priority, m.masterAdverIntervalMs) });
      return;
    }
    const lower = ev.priority < m.priority;
    const delayHolds = m.cfg.preemptDelayMs > 0 && (m.preemptDeadline === null || ev.now < m.preemptDeadline);
    if (!m.cfg.preempt || !lower || delayHolds) {
      if (m.cfg.preemptDelayMs > 0) {
        if (!lower) m.preemptDeadline = null;
        else if (m.preemptDeadline === null) m.preemptDeadline = ev.now + m.cfg.preemptDelayMs;
      }
      learnInterval(m, ev, acts); // RFC 5798 §6.4.2, bounded (v2 intervals were checked equal)
      acts.push({ type: 'arm', timer: 'master-down', ms: masterDownMs(m.priority, m.masterAdverIntervalMs) });
    }
    // else: lower priority and we may preempt: discard, the master-down timer runs out.
    return;
  }
  if (m.state === 'MASTER') {
    if (ev.priority === PRIORITY_STOP) {
      // RFC 5798 §6.4.3: answer a priority-0 advert at once.
      acts.push({ type: 'send-advert', priority: m.priority });
      acts.push({ type: 'arm', timer: 'adver', ms: m.cfg.advertIntervalMs });
      return;
    }
    const cmp = compareAddresses(ev.src, m.cfg.primaryAddress);
    if (ev.priority > m.priority || (ev.priority === m.priority && cmp > 0)) {
      enterBackup(m, `higher priority ${ev.priority} from ${ev.src} (ours ${m.priority})`, false, acts, ev);
      return;
    }
    if (cmp === 0) return; // our own advert looped back
    // Lower priority master: it must step down; send our advert and refresh ARP caches now.
    acts.push({ type: 'send-advert', priority: m.priority });
    acts.push({ type: 'arm', timer: 'adver', ms: m.cfg.advertIntervalMs });
    acts.push({ type: 'garp', reason: `lower priority ${ev.priority} advert from ${ev.src}` });
  }
  // INIT and FAULT ignore adverts.
}

// ---------------------------------------------------------------- tracking (pure)

export interface TrackItem { ok: boolean; weight: number }

/**
 * keepalived.conf(5) track_interface / track_script semantics: weight 0 → failure means FAULT;
 * weight > 0 → added while OK; weight < 0 → added (subtracted) while failed. The result stays
 * within 1..254 unless the configured priority is 255 (an owner is not re-weighted).
 */
export function trackedPriority(base: number, items: TrackItem[]): { priority: number; fault: boolean } {
  let p = base;
  let fault = false;
  for (const it of items) {
    if (it.weight === 0) { if (!it.ok) fault = true; }
    else if (it.weight > 0 && it.ok) p += it.weight;
    else if (it.weight < 0 && !it.ok) p += it.weight;
  }
  if (base === PRIORITY_OWNER) return { priority: base, fault };
  return { priority: Math.min(254, Math.max(1, p)), fault };
}

/** A script's rise/fall filter (keepalived vrrp_script rise/fall). */
export interface ScriptFilter { ok: boolean | null; streak: number }

export function scriptResult(f: ScriptFilter, success: boolean, rise: number, fall: number): ScriptFilter {
  if (f.ok === null) return { ok: success, streak: 0 }; // first result decides
  if (success === f.ok) return { ok: f.ok, streak: 0 };
  const streak = f.streak + 1;
  if (success && streak >= rise) return { ok: true, streak: 0 };
  if (!success && streak >= fall) return { ok: false, streak: 0 };
  return { ok: f.ok, streak };
}
