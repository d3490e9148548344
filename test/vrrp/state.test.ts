// The pure state machine on a fake clock: single-machine transitions per RFC 5798 §6.4 and
// keepalived, then a small simulated LAN of machines exchanging adverts through their actions.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  newMachine, step, Machine, Event, Action, MachineConfig, masterDownMs, skewMs, trackedPriority, scriptResult, compareAddresses,
} from '../../src/vrrp/state';

function cfg(over: Partial<MachineConfig> = {}): MachineConfig {
  return { name: 'VI', priority: 100, advertIntervalMs: 1000, preempt: true, preemptDelayMs: 0, primaryAddress: '10.0.0.1', ...over };
}

/** A machine with its timers on a fake clock: the test of the shell contract. */
class Sim {
  m: Machine;
  timers = new Map<string, number>();
  log: Action[] = [];
  sent: number[] = [];
  constructor(c: MachineConfig) { this.m = newMachine(c); }
  feed(ev: Event): Action[] {
    const r = step(this.m, ev);
    this.m = r.machine;
    for (const a of r.actions) {
      if (a.type === 'arm') this.timers.set(a.timer, ev.now + a.ms);
      if (a.type === 'cancel') this.timers.delete(a.timer);
      if (a.type === 'send-advert') this.sent.push(a.priority);
    }
    this.log.push(...r.actions);
    return r.actions;
  }
  /** Next timer due at or before `until`, fired. */
  fireDue(until: number): boolean {
    let best: [string, number] | null = null;
    for (const [k, t] of this.timers) if (t <= until && (!best || t < best[1])) best = [k, t];
    if (!best) return false;
    this.timers.delete(best[0]);
    this.feed({ type: 'timer', timer: best[0] as 'adver' | 'master-down', now: best[1] });
    return true;
  }
}

test('timers: skew and master-down interval per RFC 5798 §6.1', () => {
  assert.equal(skewMs(100, 1000), 609); // (256-100)/256 s
  assert.equal(masterDownMs(100, 1000), 3609); // docs/lab-notes.md: keepalived ≈ 3.6 s
  assert.equal(masterDownMs(254, 100), 300);
  assert.equal(masterDownMs(1, 1000), 3996);
});

test('startup below 255 enters Backup and becomes Master after the master-down interval', () => {
  const s = new Sim(cfg());
  s.feed({ type: 'startup', now: 0 });
  assert.equal(s.m.state, 'BACKUP');
  assert.equal(s.timers.get('master-down'), 3609);
  assert.equal(s.sent.length, 0, 'a Backup does not advertise');
  s.fireDue(3608);
  assert.equal(s.m.state, 'BACKUP');
  s.fireDue(3609);
  assert.equal(s.m.state, 'MASTER');
  assert.deepEqual(s.sent, [100]);
  assert.equal(s.timers.get('adver'), 3609 + 1000);
  s.fireDue(5000);
  assert.deepEqual(s.sent, [100, 100]);
});

test('address owner (255) starts as Master at once', () => {
  const s = new Sim(cfg({ priority: 255 }));
  s.feed({ type: 'startup', now: 0 });
  assert.equal(s.m.state, 'MASTER');
  assert.deepEqual(s.sent, [255]);
  const t = s.log.find((a) => a.type === 'transition');
  assert.ok(t && t.type === 'transition' && /owner/.test(t.reason));
});

test('Backup: higher or equal priority adverts reset the timer; lower ones are discarded under preempt', () => {
  const s = new Sim(cfg());
  s.feed({ type: 'startup', now: 0 });
  s.feed({ type: 'advert', now: 1000, priority: 150, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.timers.get('master-down'), 1000 + 3609);
  s.feed({ type: 'advert', now: 2000, priority: 100, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.timers.get('master-down'), 2000 + 3609);
  s.feed({ type: 'advert', now: 3000, priority: 50, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.timers.get('master-down'), 2000 + 3609, 'lower priority advert must not reset the timer');
  s.fireDue(5609);
  assert.equal(s.m.state, 'MASTER');
});

test('nopreempt: a Backup never takes over from a lower-priority Master', () => {
  const s = new Sim(cfg({ preempt: false }));
  s.feed({ type: 'startup', now: 0 });
  for (let t = 1000; t < 20_000; t += 1000) {
    s.feed({ type: 'advert', now: t, priority: 50, src: '10.0.0.2', intervalMs: 1000 });
    s.fireDue(t);
  }
  assert.equal(s.m.state, 'BACKUP');
});

test('preempt_delay: lower-priority Master kept for the delay, then the master-down timer runs out', () => {
  const s = new Sim(cfg({ preemptDelayMs: 5000 }));
  s.feed({ type: 'startup', now: 0 });
  let tookOver = -1;
  for (let t = 500; t < 20_000; t += 100) {
    if (t % 1000 === 500 && s.m.state === 'BACKUP') s.feed({ type: 'advert', now: t, priority: 50, src: '10.0.0.2', intervalMs: 1000 });
    while (s.fireDue(t)) { /* fire */ }
    if (s.m.state === 'MASTER' && tookOver < 0) tookOver = t;
  }
  // Delay starts at the first lower advert (500), adverts accepted until 5500, the last accepted
  // one (4500) arms master-down for 3609 ms → Master at ≈ 8109.
  assert.ok(tookOver >= 5500 && tookOver <= 4500 + 3609 + 100, `took over at ${tookOver}`);
  // A higher-priority advert stops the delay: no takeover while it lasts.
  const h = new Sim(cfg({ preemptDelayMs: 5000 }));
  h.feed({ type: 'startup', now: 0 });
  h.feed({ type: 'advert', now: 100, priority: 50, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(h.m.preemptDeadline, 5100);
  h.feed({ type: 'advert', now: 200, priority: 200, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(h.m.preemptDeadline, null);
});

test('Backup: priority-0 advert sets master-down to Skew_Time', () => {
  const s = new Sim(cfg());
  s.feed({ type: 'startup', now: 0 });
  s.feed({ type: 'advert', now: 1000, priority: 0, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.timers.get('master-down'), 1000 + 609);
  s.fireDue(1609);
  assert.equal(s.m.state, 'MASTER');
});

test('v3 Backup learns the Master advert interval (RFC 5798 §6.4.2)', () => {
  const s = new Sim(cfg({ advertIntervalMs: 1000 }));
  s.feed({ type: 'startup', now: 0 });
  // Within MAX_INTERVAL_FACTOR of ours (bounds: test/vrrp/interval-bounds.test.ts).
  s.feed({ type: 'advert', now: 100, priority: 200, src: '10.0.0.2', intervalMs: 300 });
  assert.equal(s.m.masterAdverIntervalMs, 300);
  assert.equal(s.timers.get('master-down'), 100 + masterDownMs(100, 300));
});

test('Master: higher priority → Backup; equal priority → higher address wins; lower → advert + GARP', () => {
  const mk = () => { const s = new Sim(cfg({ priority: 255 })); s.feed({ type: 'startup', now: 0 }); return s; };
  const s = mk();
  s.m = { ...s.m, priority: 100 };
  s.feed({ type: 'advert', now: 10, priority: 50, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.m.state, 'MASTER');
  assert.ok(s.log.some((a) => a.type === 'garp'), 'dual master resolved: must send gratuitous ARP again');
  assert.equal(s.sent.at(-1), 100);
  s.feed({ type: 'advert', now: 20, priority: 100, src: '10.0.0.0', intervalMs: 1000 });
  assert.equal(s.m.state, 'MASTER', 'equal priority, lower address: stays Master');
  s.feed({ type: 'advert', now: 30, priority: 100, src: '10.0.0.9', intervalMs: 1000 });
  assert.equal(s.m.state, 'BACKUP', 'equal priority, higher address: steps down');
  assert.equal(s.timers.has('adver'), false);
  const t = mk();
  t.feed({ type: 'advert', now: 10, priority: 0, src: '10.0.0.2', intervalMs: 1000 });
  assert.deepEqual(t.sent, [255, 255], 'priority 0 received by Master: answer at once');
});

test('shutdown as Master sends priority 0 and returns to INIT', () => {
  const s = new Sim(cfg({ priority: 255 }));
  s.feed({ type: 'startup', now: 0 });
  s.feed({ type: 'shutdown', now: 5 });
  assert.deepEqual(s.sent, [255, 0]);
  assert.equal(s.m.state, 'INIT');
  assert.equal(s.timers.size, 0);
  const b = new Sim(cfg());
  b.feed({ type: 'startup', now: 0 });
  b.feed({ type: 'shutdown', now: 5 });
  assert.deepEqual(b.sent, [], 'a Backup sends nothing on shutdown');
});

test('Fault from tracking: Master sends priority 0, ignores adverts, recovers to Backup', () => {
  const s = new Sim(cfg({ priority: 255 }));
  s.feed({ type: 'startup', now: 0 });
  s.feed({ type: 'tracking', now: 10, priority: 255, fault: true });
  assert.equal(s.m.state, 'FAULT');
  assert.deepEqual(s.sent, [255, 0]);
  assert.equal(s.timers.size, 0);
  s.feed({ type: 'advert', now: 20, priority: 10, src: '10.0.0.2', intervalMs: 1000 });
  assert.equal(s.m.state, 'FAULT');
  const b = new Sim(cfg());
  b.feed({ type: 'startup', now: 0 });
  b.feed({ type: 'tracking', now: 1, priority: 100, fault: true });
  b.feed({ type: 'tracking', now: 2, priority: 90, fault: false });
  assert.equal(b.m.state, 'BACKUP');
  assert.equal(b.m.priority, 90);
  assert.equal(b.timers.get('master-down'), 2 + masterDownMs(90, 1000));
});

test('startup while tracking is in fault goes straight to FAULT', () => {
  const s = new Sim(cfg());
  s.m = { ...s.m, ownFault: true };
  s.feed({ type: 'startup', now: 0 });
  assert.equal(s.m.state, 'FAULT');
});

test('sync events move a member with its group and are marked bySync', () => {
  const s = new Sim(cfg());
  s.feed({ type: 'startup', now: 0 });
  const a = s.feed({ type: 'sync', now: 1, to: 'MASTER' });
  assert.equal(s.m.state, 'MASTER');
  assert.ok(a.some((x) => x.type === 'transition' && x.bySync));
  s.feed({ type: 'sync', now: 2, to: 'FAULT' });
  assert.equal(s.m.state, 'FAULT');
  assert.deepEqual(s.sent, [100, 0]);
  s.feed({ type: 'tracking', now: 3, priority: 100, fault: false });
  assert.equal(s.m.state, 'FAULT', 'a group fault holds until the group recovers');
  s.feed({ type: 'sync', now: 4, to: 'BACKUP' });
  assert.equal(s.m.state, 'BACKUP');
});

test('step does not mutate its input', () => {
  const m = newMachine(cfg());
  const copy = JSON.stringify(m);
  step(m, { type: 'startup', now: 0 });
  assert.equal(JSON.stringify(m), copy);
});

test('tracking weights follow keepalived.conf(5) and stay within 1..254', () => {
  assert.deepEqual(trackedPriority(100, [{ ok: true, weight: 0 }, { ok: false, weight: -20 }]), { priority: 80, fault: false });
  assert.deepEqual(trackedPriority(100, [{ ok: true, weight: 30 }, { ok: false, weight: 30 }]), { priority: 130, fault: false });
  assert.deepEqual(trackedPriority(100, [{ ok: false, weight: 0 }]), { priority: 100, fault: true });
  assert.equal(trackedPriority(250, [{ ok: true, weight: 50 }]).priority, 254);
  assert.equal(trackedPriority(10, [{ ok: false, weight: -50 }]).priority, 1);
  assert.equal(trackedPriority(255, [{ ok: false, weight: -50 }]).priority, 255);
});

test('script rise/fall filter', () => {
  let f = scriptResult({ ok: null, streak: 0 }, true, 2, 3);
  assert.equal(f.ok, true);
  f = scriptResult(f, false, 2, 3); assert.equal(f.ok, true);
  f = scriptResult(f, false, 2, 3); assert.equal(f.ok, true);
  f = scriptResult(f, true, 2, 3); assert.equal(f.ok, true, 'a success resets the failure streak');
  for (let i = 0; i < 3; i++) f = scriptResult(f, false, 2, 3);
  assert.equal(f.ok, false);
  f = scriptResult(f, true, 2, 3); assert.equal(f.ok, false);
  f = scriptResult(f, true, 2, 3); assert.equal(f.ok, true);
});

test('addresses compare as numbers, not strings', () => {
  assert.equal(compareAddresses('10.0.0.10', '10.0.0.9'), 1);
  assert.equal(compareAddresses('10.0.0.9', '10.0.0.10'), -1);
  assert.equal(compareAddresses('fe80::2', 'fe80::10'), -1);
  assert.equal(compareAddresses('10.0.0.1', '10.0.0.1'), 0);
});

// ---------------------------------------------------------------- a simulated LAN

/** Machines whose send-advert actions are delivered to every other machine (1 ms latency). */
function lan(cfgs: MachineConfig[], until: number, script: (t: number, sims: Sim[]) => void = () => {}) {
  const sims = cfgs.map((c) => new Sim(c));
  const down = new Set<number>();
  const masters: string[][] = [];
  for (let t = 0; t <= until; t++) {
    script(t, sims);
    sims.forEach((s, i) => { if (!down.has(i) && t === 0) s.feed({ type: 'startup', now: 0 }); });
    const before = sims.map((s) => s.sent.length);
    sims.forEach((s, i) => { if (!down.has(i)) while (s.fireDue(t)) { /* fire */ } });
    sims.forEach((s, i) => {
      for (const p of s.sent.slice(before[i])) {
        sims.forEach((o, j) => { if (j !== i && !down.has(j)) o.feed({ type: 'advert', now: t, priority: p, src: s.m.cfg.primaryAddress, intervalMs: s.m.cfg.advertIntervalMs }); });
      }
    });
    masters.push(sims.filter((s) => s.m.state === 'MASTER').map((s) => s.m.cfg.name));
  }
  return { sims, masters, down };
}

test('LAN: the highest priority wins and exactly one Master remains', () => {
  const { sims, masters } = lan([cfg({ name: 'a', priority: 100, primaryAddress: '10.0.0.1' }), cfg({ name: 'b', priority: 99, primaryAddress: '10.0.0.2' }), cfg({ name: 'c', priority: 50, primaryAddress: '10.0.0.3' })], 10_000);
  assert.deepEqual(sims.map((s) => s.m.state), ['MASTER', 'BACKUP', 'BACKUP']);
  assert.ok(masters.slice(5000).every((m) => m.length === 1));
});

test('LAN: equal priorities settle on the higher address', () => {
  const { sims } = lan([cfg({ name: 'a', priority: 100, primaryAddress: '10.0.0.1' }), cfg({ name: 'b', priority: 100, primaryAddress: '10.0.0.2' })], 10_000);
  assert.deepEqual(sims.map((s) => s.m.state), ['BACKUP', 'MASTER']);
});

test('LAN: Master shutdown hands over after Skew_Time', () => {
  let stopAt = -1;
  const { sims, masters } = lan([cfg({ name: 'a', priority: 100, primaryAddress: '10.0.0.1' }), cfg({ name: 'b', priority: 99, primaryAddress: '10.0.0.2' })], 12_000, (t, s) => {
    if (t === 8000) {
      s[0].feed({ type: 'shutdown', now: t });
      stopAt = t;
      // deliver a's priority-0 advert
      s[1].feed({ type: 'advert', now: t, priority: 0, src: '10.0.0.1', intervalMs: 1000 });
    }
  });
  assert.equal(sims[1].m.state, 'MASTER');
  const took = masters.findIndex((m, t) => t > stopAt && m.includes('b'));
  assert.equal(took - stopAt, skewMs(99, 1000), 'Backup takes over Skew_Time after priority 0');
});
