// Bounded advert intervals (issue 12): an interval of 0 is rejected as 'bad-interval', and a v3
// Backup learns the Master's interval only within MAX_INTERVAL_FACTOR of its own (clamped and
// counted as 'interval-clamped' otherwise), so no peer value sets the master-down timer to 0 or
// stretches it to 148 s. Pure codec and state tests, plus the shell's counters on real bytes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { repoRoot } from '../../src/paths';
import { decodeAdvert, decodeIpv4, encodeAdvert, encodeIpv4, inetChecksum, ipToBytes, RejectReasons } from '../../src/vrrp/codec';
import {
  newMachine, step, Machine, Event, Action, MachineConfig, masterDownMs, skewMs, boundedMasterInterval, MAX_INTERVAL_FACTOR,
} from '../../src/vrrp/state';
import { VrrpInstance, Logger } from '../../src/vrrp/io';
import type { VrrpInstanceConfig } from '../../src/vrrp/types';
import type { Poller } from '../../src/sys/poller';

const SRC = '10.0.0.2', DST = '224.0.0.18', VIP = '10.0.0.100';

/** A v3 advert whose 16-bit interval word is `word` (reserved bits included), checksum fixed. */
function v3WithIntervalWord(word: number, priority = 200): Buffer {
  const msg = encodeAdvert({ version: 3, vrid: 9, priority, intervalMs: 1000, addresses: [VIP], src: SRC, dst: DST });
  msg.writeUInt16BE(word, 4);
  msg.writeUInt16BE(0, 6);
  const pseudo = Buffer.alloc(12);
  ipToBytes(SRC).copy(pseudo, 0); ipToBytes(DST).copy(pseudo, 4); pseudo[9] = 112; pseudo.writeUInt16BE(msg.length, 10);
  msg.writeUInt16BE(inetChecksum(pseudo, msg), 6);
  return msg;
}

function v2WithInterval(seconds: number): Buffer {
  const msg = encodeAdvert({ version: 2, vrid: 9, priority: 200, intervalMs: 1000, addresses: [VIP], authPass: null });
  msg[5] = seconds;
  msg.writeUInt16BE(0, 6);
  msg.writeUInt16BE(inetChecksum(msg), 6);
  return msg;
}

const ctx = { family: 4 as const, src: SRC, dst: DST, ttl: 255 };

test('codec: interval 0 is bad-interval for v2 and v3 (reserved bits do not make it non-zero)', () => {
  for (const [name, msg] of [['v2 0 s', v2WithInterval(0)], ['v3 0 cs', v3WithIntervalWord(0)], ['v3 reserved bits only', v3WithIntervalWord(0xf000)]] as const) {
    const d = decodeAdvert(msg, ctx);
    assert.equal(d.ok, false, name);
    assert.equal(!d.ok && d.reason, 'bad-interval', name);
    assert.match(!d.ok ? d.detail : '', /advert interval 0/, name);
  }
  assert.ok(RejectReasons.includes('bad-interval') && RejectReasons.includes('interval-clamped'));
});

test('codec: the RFC range ends decode (v3 1 and 4095 cs, reserved bits ignored; v2 1 and 255 s)', () => {
  const ok = (msg: Buffer) => { const d = decodeAdvert(msg, ctx); assert.ok(d.ok, JSON.stringify(d)); return d.advert.intervalMs; };
  assert.equal(ok(v3WithIntervalWord(1)), 10);
  assert.equal(ok(v3WithIntervalWord(0x0fff)), 40_950);
  assert.equal(ok(v3WithIntervalWord(0xf064)), 1000); // RFC 5798 §5.2.7: rsvd ignored on reception
  assert.equal(ok(v2WithInterval(1)), 1000);
  assert.equal(ok(v2WithInterval(255)), 255_000);
});

test('boundedMasterInterval: within the factor learned as sent, outside clamped to the bound', () => {
  assert.equal(MAX_INTERVAL_FACTOR, 4);
  const rows: [own: number, peer: number, ms: number, clamped: boolean][] = [
    [1000, 1000, 1000, false],
    [1000, 250, 250, false],
    [1000, 4000, 4000, false],
    [1000, 249, 250, true],
    [1000, 4001, 4000, true],
    [1000, 0, 250, true],
    [1000, 40_950, 4000, true],
    [1000, Number.NaN, 250, true],
    [10, 10, 10, false], // the lower bound never goes under 1 cs
    [10, 0, 10, true],
    [20_000, 40_950, 40_950, false], // the upper bound never goes over 4095 cs
    [20_000, 1000, 5000, true],
  ];
  for (const [own, peer, ms, clamped] of rows) assert.deepEqual(boundedMasterInterval(own, peer), { ms, clamped }, `own ${own} peer ${peer}`);
});

function cfg(over: Partial<MachineConfig> = {}): MachineConfig {
  return { name: 'VI', priority: 100, advertIntervalMs: 1000, preempt: true, preemptDelayMs: 0, primaryAddress: '10.0.0.1', ...over };
}
function run(m: Machine, ev: Event): { m: Machine; acts: Action[] } {
  const r = step(m, ev);
  return { m: r.machine, acts: r.actions };
}
const armed = (acts: Action[]) => acts.find((a): a is Extract<Action, { type: 'arm' }> => a.type === 'arm' && a.timer === 'master-down')?.ms;
const clampAct = (acts: Action[]) => acts.find((a): a is Extract<Action, { type: 'interval-clamped' }> => a.type === 'interval-clamped');

test('Backup: a 40.95 s Master interval gives at most 4 × our interval, not 148 s', () => {
  let { m } = run(newMachine(cfg()), { type: 'startup', now: 0 });
  assert.equal(m.state, 'BACKUP');
  assert.equal(masterDownMs(100, 40_950), 3 * 40_950 + skewMs(100, 40_950), 'what an unbounded Backup would wait');
  const r = run(m, { type: 'advert', now: 500, priority: 200, src: SRC, intervalMs: 40_950 });
  m = r.m;
  assert.equal(m.masterAdverIntervalMs, 4000);
  assert.equal(armed(r.acts), masterDownMs(100, 4000));
  assert.ok(armed(r.acts)! < 15_000);
  assert.deepEqual(clampAct(r.acts), { type: 'interval-clamped', src: SRC, peerMs: 40_950, usedMs: 4000 });
  // A priority-0 advert afterwards uses the bounded interval for Skew_Time too.
  const z = run(m, { type: 'advert', now: 600, priority: 0, src: SRC, intervalMs: 40_950 });
  assert.equal(armed(z.acts), skewMs(100, 4000));
});

test('Backup: an interval of 0 reaching the machine never arms a zero master-down timer', () => {
  const { m } = run(newMachine(cfg()), { type: 'startup', now: 0 });
  const r = run(m, { type: 'advert', now: 500, priority: 200, src: SRC, intervalMs: 0 });
  assert.equal(r.m.state, 'BACKUP');
  assert.equal(armed(r.acts), masterDownMs(100, 250));
  assert.ok(armed(r.acts)! >= 750);
  assert.equal(clampAct(r.acts)?.usedMs, 250);
});

test('Backup: a Master interval within the factor is learned as RFC 5798 §6.4.2 says, nothing counted', () => {
  const { m } = run(newMachine(cfg()), { type: 'startup', now: 0 });
  for (const peer of [250, 100 * 10, 3000, 4000]) {
    const r = run(m, { type: 'advert', now: 500, priority: 200, src: SRC, intervalMs: peer });
    assert.equal(r.m.masterAdverIntervalMs, peer);
    assert.equal(armed(r.acts), masterDownMs(100, peer));
    assert.equal(clampAct(r.acts), undefined);
  }
});

test('Master stepping down to a higher-priority peer bounds the learned interval too', () => {
  let { m } = run(newMachine(cfg({ priority: 255 })), { type: 'startup', now: 0 });
  assert.equal(m.state, 'MASTER');
  m = { ...m, priority: 100 };
  const r = run(m, { type: 'advert', now: 10, priority: 200, src: SRC, intervalMs: 10 });
  assert.equal(r.m.state, 'BACKUP');
  assert.equal(r.m.masterAdverIntervalMs, 250);
  assert.equal(armed(r.acts), masterDownMs(100, 250));
  assert.equal(clampAct(r.acts)?.peerMs, 10);
});

// ---------------------------------------------------------------- the shell's counters

function instanceCfg(): VrrpInstanceConfig {
  return {
    name: 'VI_B', interface: 'none0', vrid: 9, priority: 100, initialState: 'BACKUP', version: 3, family: 4, advertIntervalMs: 1000,
    authPass: null, vips: [{ address: VIP, prefix: 32 }], preempt: true, preemptDelayMs: 0, accept: true, unicastSrc: null, unicastPeers: [],
    trackInterfaces: [], trackScripts: [], garp: { masterDelayMs: 0, masterRepeat: 1, refreshMs: 0, refreshRepeat: 1 }, notify: {},
  };
}

test('shell: interval-0 adverts are counted as bad-interval and never reach the machine', () => {
  const warns: string[] = [];
  const log: Logger = { info: () => {}, warn: (m) => warns.push(m) };
  const inst = new VrrpInstance(instanceCfg(), { logger: log, poller: {} as Poller });
  const events: { reason: string }[] = [];
  inst.on('rejected', (e) => events.push(e));
  const before = inst.machine;
  inst.onPacket(encodeIpv4({ src: SRC, dst: DST, id: 1 }, v3WithIntervalWord(0)), SRC);
  inst.onPacket(encodeIpv4({ src: SRC, dst: DST, id: 2 }, v3WithIntervalWord(0xf000)), SRC);
  assert.deepEqual(inst.counters.rejected, { 'bad-interval': 2 });
  assert.deepEqual(events.map((e) => e.reason), ['bad-interval', 'bad-interval']);
  assert.equal(inst.counters.advertsReceived, 0);
  assert.equal(inst.machine, before, 'the machine saw no event');
  assert.match(warns[0], /rejected: bad-interval: advert interval 0/);
  assert.ok(decodeIpv4(encodeIpv4({ src: SRC, dst: DST, id: 1 }, v3WithIntervalWord(0))).ok);
});

test('shell: a clamped Master interval is counted as interval-clamped and the advert still counts as received', async () => {
  const warns: string[] = [];
  const log: Logger = { info: () => {}, warn: (m) => warns.push(m) };
  const inst = new VrrpInstance(instanceCfg(), { logger: log, poller: {} as Poller });
  const events: { reason: string }[] = [];
  inst.on('rejected', (e) => events.push(e));
  // As after start(): Backup with its master-down timer (the socket is not needed to receive).
  const feed = (ev: Event) => (inst as unknown as { feed(e: Event): void }).feed(ev);
  try {
    feed({ type: 'startup', now: Date.now() });
    assert.equal(inst.state, 'BACKUP');
    inst.onPacket(encodeIpv4({ src: SRC, dst: DST, id: 1 }, v3WithIntervalWord(0x0fff)), SRC);
    assert.equal(inst.counters.advertsReceived, 1);
    assert.deepEqual(inst.counters.rejected, { 'interval-clamped': 1 });
    assert.deepEqual(events.map((e) => e.reason), ['interval-clamped']);
    assert.equal(inst.machine.masterAdverIntervalMs, 4000);
    assert.match(warns.join('\n'), /interval not learned: interval-clamped: Master advertises 40950ms, ours is 1000ms/);
  } finally {
    feed({ type: 'shutdown', now: Date.now() }); // cancels the real master-down timer
    await inst.settled();
  }
});

test('docs/metrics.md names every reject reason the rejected counter can carry', () => {
  const doc = fs.readFileSync(path.join(repoRoot(), 'docs', 'metrics.md'), 'utf8');
  const row = doc.split('\n').find((l) => l.startsWith('| `xlvs_vrrp_adverts_rejected_total`'));
  assert.ok(row, 'no xlvs_vrrp_adverts_rejected_total row');
  for (const r of [...RejectReasons, 'unknown-peer']) assert.ok(row.includes(`\`${r}\``), `docs/metrics.md does not list reason ${r}`);
});
