// The reconciler's diff and rollback, against a recording port (the real-map tests are in
// apply.test.ts): only what changed is written; a failure undoes this apply's writes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Reconciler, DataplanePort, RealWithId } from '../../src/reconciler/reconciler';
import { DesiredService, DesiredState, DesiredVip } from '../../src/reconciler/desired';
import { RealIds } from '../../src/reconciler/ids';

class RecordingPort implements DataplanePort {
  writes: string[] = [];
  vips = new Map<string, DesiredVip>();
  reals = new Map<string, string>();
  failOn: ((w: string) => boolean) | null = null;
  private rec(w: string): void {
    if (this.failOn?.(w)) { this.failOn = null; throw new Error(`injected failure on ${w}`); }
    this.writes.push(w);
  }
  upsertVip(vip: DesiredVip): void { this.rec(`vip ${vip.key}`); this.vips.set(vip.key, vip); }
  removeVip(vip: DesiredVip): void { this.rec(`rm ${vip.key}`); this.vips.delete(vip.key); this.reals.delete(vip.key); }
  takeOutOfSelection(changes: ReadonlyArray<{ id: number; state: 'drain' | 'down' }>): number[] {
    for (const c of changes) this.rec(`out ${c.id} ${c.state}`);
    return changes.map((c) => c.id);
  }
  setNoAccept(addresses: readonly string[]): { added: string[]; removed: string[] } {
    this.rec(`no-accept ${addresses.join(',')}`);
    return { added: [...addresses], removed: [] };
  }
  setReals(vip: DesiredVip, reals: RealWithId[], sorry: RealWithId | null): void {
    this.rec(`reals ${vip.key}`);
    this.reals.set(vip.key, reals.map((r) => `${r.id}=${r.key}/${r.weight}/${r.state}`).join(',') + (sorry ? ` sorry=${sorry.key}` : ''));
  }
}

function svc(vip: string, reals: [string, number, ('up' | 'drain' | 'down')?][], tableSize = 65537): DesiredService {
  const key = `${vip}:80/tcp`;
  return {
    vip: { key, address: vip, port: 80, protocol: 'tcp', ports: null, method: 'dr', scheduler: 'maglev', persistenceTimeoutMs: 0, persistencePrefix: 32, tableSize, onDown: 'expire', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } },
    reals: reals.map(([a, w, st]) => ({ key: `${a}:80`, address: a, port: 80, weight: w, state: st ?? 'up', mac: '02:00:00:00:00:01', upperThreshold: 0, lowerThreshold: 0 })),
    sorry: null,
  };
}

function state(...s: DesiredService[]): DesiredState {
  return new Map(s.map((x) => [x.vip.key, x]));
}

test('first apply writes every VIP and its reals; a second identical apply writes nothing', () => {
  const port = new RecordingPort();
  const r = new Reconciler(port, new RealIds(1023));
  const d = state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]]));
  r.apply(d);
  assert.deepEqual(port.writes, ['vip 10.0.0.10:80/tcp', 'reals 10.0.0.10:80/tcp', 'vip 10.0.0.11:80/tcp', 'reals 10.0.0.11:80/tcp']);
  port.writes = [];
  const res = r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  assert.deepEqual(port.writes, []);
  assert.equal(res.ops.length, 0);
});

test('one changed weight rewrites only that VIP\'s reals; real ids stay the same', () => {
  const port = new RecordingPort();
  const r = new Reconciler(port, new RealIds(1023));
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  const before = port.reals.get('10.0.0.10:80/tcp')!;
  port.writes = [];
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 5]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  assert.deepEqual(port.writes, ['reals 10.0.0.10:80/tcp']);
  const after = port.reals.get('10.0.0.10:80/tcp')!;
  assert.equal(before.split(',')[0].split('=')[0], after.split(',')[0].split('=')[0]);
  assert.match(after, /=10\.0\.1\.2:80\/5\/up/);
});

test('removing a VIP removes it and nothing else; removed reals free their ids only after success', () => {
  const port = new RecordingPort();
  const ids = new RealIds(1023);
  const r = new Reconciler(port, ids);
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  port.writes = [];
  r.apply(state(svc('10.0.0.11', [['10.0.1.3', 2]])));
  assert.deepEqual(port.writes, ['rm 10.0.0.10:80/tcp']);
  assert.equal(ids.get('10.0.0.10:80/tcp', '10.0.1.1:80'), undefined);
  assert.notEqual(ids.get('10.0.0.11:80/tcp', '10.0.1.3:80'), undefined);
});

test('a health state change (down) rewrites that VIP only', () => {
  const port = new RecordingPort();
  const r = new Reconciler(port, new RealIds(1023));
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1]])));
  port.writes = [];
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1, 'down']])));
  assert.deepEqual(port.writes, ['reals 10.0.0.10:80/tcp']);
  assert.match(port.reals.get('10.0.0.10:80/tcp')!, /10\.0\.1\.2:80\/1\/down/);
});

test('a failure mid-apply undoes the writes already made and keeps the previous state', () => {
  const port = new RecordingPort();
  const ids = new RealIds(1023);
  const r = new Reconciler(port, ids);
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  const realsBefore = new Map(port.reals);
  const vipsBefore = [...port.vips.keys()].sort();
  // Change A's reals, add C, and make C's reals write fail.
  port.failOn = (w) => w === 'reals 10.0.0.12:80/tcp';
  assert.throws(
    () => r.apply(state(svc('10.0.0.10', [['10.0.1.1', 3]]), svc('10.0.0.11', [['10.0.1.3', 2]]), svc('10.0.0.12', [['10.0.1.9', 1]]))),
    (e: Error & { code?: string }) => e.code === 'E_APPLY' && /set reals of 10\.0\.0\.12:80\/tcp/.test(e.message) && /previous state kept/.test(e.message),
  );
  assert.deepEqual([...port.vips.keys()].sort(), vipsBefore);
  assert.deepEqual(port.reals, realsBefore);
  assert.equal(ids.get('10.0.0.12:80/tcp', '10.0.1.9:80'), undefined);
  // The reconciler still believes the old state: the same change applies cleanly afterwards.
  port.writes = [];
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 3]]), svc('10.0.0.11', [['10.0.1.3', 2]]), svc('10.0.0.12', [['10.0.1.9', 1]])));
  assert.deepEqual(port.writes, ['reals 10.0.0.10:80/tcp', 'vip 10.0.0.12:80/tcp', 'reals 10.0.0.12:80/tcp']);
});

test('real ids: a freed id is not handed out again right away', () => {
  const ids = new RealIds(4);
  const a = ids.ensure('s', 'a');
  const b = ids.ensure('s', 'b');
  ids.release('s', 'a');
  const c = ids.ensure('s', 'c');
  assert.notEqual(c, a);
  assert.notEqual(c, b);
  ids.ensure('s', 'd');
  assert.equal(ids.ensure('s', 'e'), a, 'wraps around to the oldest free id');
  assert.throws(() => ids.ensure('s', 'f'), /no free real id/);
});

test('apply with `only` compares and writes just those services', () => {
  const port = new RecordingPort();
  const r = new Reconciler(port, new RealIds(1023));
  r.apply(state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1]]), svc('10.0.0.11', [['10.0.1.3', 2]])));
  port.writes = [];
  // Both differ from what is applied, but only .10 is named.
  const d = state(svc('10.0.0.10', [['10.0.1.1', 1], ['10.0.1.2', 1, 'down']]), svc('10.0.0.11', [['10.0.1.3', 7]]));
  r.apply(new Map([...d].filter(([k]) => k === '10.0.0.10:80/tcp')), new Set(['10.0.0.10:80/tcp']));
  assert.deepEqual(port.writes, ['reals 10.0.0.10:80/tcp']);
  assert.equal(r.current().get('10.0.0.11:80/tcp')!.reals[0].weight, 2, 'the other service stays as applied');
  port.writes = [];
  r.apply(d);
  assert.deepEqual(port.writes, ['reals 10.0.0.11:80/tcp'], 'a full apply then finds only the other one');
});
