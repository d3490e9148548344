// The reconciler on real maps: only the VIP whose reals changed gets a new Maglev table (its
// inner map id changes, the others' stay), VIPs and reals come and go, and a failure mid-apply
// leaves the previous state in force — checked by sending packets through the program.
import { SMALL_TEST_TABLES } from '../lib/fixtures';
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { Dataplane } from '../../src/dataplane/dataplane';
import { BpfMap, pinThreadToCpu } from '../../src/loader';
import { Reconciler, DataplanePort } from '../../src/reconciler/reconciler';
import { RealIds } from '../../src/reconciler/ids';
import { DesiredService, DesiredState } from '../../src/reconciler/desired';
import { DataplanePortAdapter } from '../../src/director/dataplane-port';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';

const DIR_MAC = '02:00:00:00:00:01';
const mac = (n: number) => `02:00:00:00:02:${n.toString(16).padStart(2, '0')}`;
const pinDir = `/sys/fs/bpf/xlvs-test-reconcile-${process.pid}`;

function svc(vip: string, reals: [number, number][]): DesiredService {
  const key = `${vip}:80/tcp`;
  return {
    vip: { key, address: vip, port: 80, protocol: 'tcp', ports: null, method: 'dr', scheduler: 'maglev', persistenceTimeoutMs: 0, persistencePrefix: 32, tableSize: 251, onDown: 'expire', timeouts: { tcp: 900, tcpFin: 120, udp: 300 }, localMode: 'none' },
    reals: reals.map(([n, w]) => ({ key: `10.0.9.${n}:80`, address: `10.0.9.${n}`, port: 80, weight: w, state: 'up' as const, mac: mac(n), upperThreshold: 0, lowerThreshold: 0, local: false })),
    sorry: null,
  };
}
const state = (...s: DesiredService[]): DesiredState => new Map(s.map((x) => [x.vip.key, x]));

describe('reconciler on real maps', needsBpf(), () => {
  let dp: Dataplane;
  let maglev: BpfMap;
  let conns: BpfMap;
  let port: DataplanePortAdapter;
  let failNext: string | null = null;
  let writes: string[] = [];
  let r: Reconciler;

  before(() => {
    pinThreadToCpu(0);
    dp = Dataplane.create({ pinDir, mac: DIR_MAC, tunSource4: '192.0.2.1', tables: SMALL_TEST_TABLES });
    maglev = BpfMap.openPinned(path.join(pinDir, 'lb_maglev'));
    conns = BpfMap.openPinned(path.join(pinDir, 'lb_conns'));
    port = new DataplanePortAdapter(dp);
    // A port that records writes and fails on demand, around the real adapter.
    const wrapped: DataplanePort = {
      upsertVip: (v) => { writes.push(`vip ${v.key}`); port.upsertVip(v); },
      removeVip: (v) => { writes.push(`rm ${v.key}`); port.removeVip(v); },
      setReals: (v, reals, sorry) => {
        if (failNext === v.key) { failNext = null; throw new Error(`injected failure for ${v.key}`); }
        writes.push(`reals ${v.key}`);
        port.setReals(v, reals, sorry);
      },
      // The daemon's path: a whole apply's tables installed in one batch.
      batch: (fn) => port.batch(fn),
      takeOutOfSelection: (c) => port.takeOutOfSelection(c),
      setNoAccept: (a) => port.setNoAccept(a),
    };
    r = new Reconciler(wrapped, new RealIds(4095));
  });
  after(() => {
    maglev?.close();
    conns?.close();
    dp?.destroy();
  });

  /**
   * How `n` new flows from 198.51.100.0/24 to `vip` spread over real MACs ('pass' if not
   * forwarded). The flow tables are emptied first, so the Maglev table alone decides.
   */
  function spread(vip: string, n = 200, flags = 'S'): Map<string, number> {
    dp.flows.clear();
    const out = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const pkt = eth({ src: '02:00:00:00:00:aa', dst: DIR_MAC }).ipv4({ src: `198.51.100.${1 + (i % 200)}`, dst: vip })
        .tcp({ sport: 20000 + i, dport: 80, flags }).build();
      const res = dp.program.testRun(pkt);
      const k = res.retval === 3 ? [...res.data.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':') : 'pass';
      out.set(k, (out.get(k) ?? 0) + 1);
    }
    return out;
  }
  const innerOf = (vip: string) => {
    const id = dp.vips.list().find((v) => v.address === vip)!.id;
    const k = Buffer.alloc(4);
    k.writeUInt32LE(id);
    return maglev.innerId(k);
  };

  test('first apply: every VIP forwards to its own reals only', () => {
    r.apply(state(svc('10.0.8.1', [[1, 1], [2, 1]]), svc('10.0.8.2', [[3, 1], [4, 1]])));
    assert.deepEqual([...spread('10.0.8.1').keys()].sort(), [mac(1), mac(2)]);
    assert.deepEqual([...spread('10.0.8.2').keys()].sort(), [mac(3), mac(4)]);
  });

  test('one changed weight rewrites only that VIP\'s table', () => {
    const a = innerOf('10.0.8.1');
    const b = innerOf('10.0.8.2');
    writes = [];
    r.apply(state(svc('10.0.8.1', [[1, 1], [2, 1]]), svc('10.0.8.2', [[3, 9], [4, 1]])));
    assert.deepEqual(writes, ['reals 10.0.8.2:80/tcp']);
    assert.equal(innerOf('10.0.8.1'), a, 'untouched VIP keeps its table');
    assert.notEqual(innerOf('10.0.8.2'), b, 'changed VIP got a new table');
    const s = spread('10.0.8.2', 400);
    assert.ok((s.get(mac(3)) ?? 0) > 3 * (s.get(mac(4)) ?? 0), `weight 9:1 shows in new flows: ${[...s]}`);
  });

  test('adding and removing a real and a VIP', () => {
    writes = [];
    r.apply(state(svc('10.0.8.1', [[1, 1], [2, 1], [5, 1]]), svc('10.0.8.2', [[3, 9], [4, 1]]), svc('10.0.8.3', [[6, 1]])));
    assert.deepEqual(writes, ['reals 10.0.8.1:80/tcp', 'vip 10.0.8.3:80/tcp', 'reals 10.0.8.3:80/tcp']);
    assert.ok(spread('10.0.8.1', 300).has(mac(5)), 'the new real takes new flows');
    assert.deepEqual([...spread('10.0.8.3').keys()], [mac(6)]);
    writes = [];
    r.apply(state(svc('10.0.8.1', [[1, 1], [2, 1]]), svc('10.0.8.2', [[3, 9], [4, 1]])));
    assert.deepEqual(writes, ['reals 10.0.8.1:80/tcp', 'rm 10.0.8.3:80/tcp']);
    assert.ok(!spread('10.0.8.1', 300, 'S').has(mac(5)), 'the removed real gets nothing');
    assert.deepEqual([...spread('10.0.8.3').keys()], ['pass'], 'a removed VIP is no longer forwarded');
  });

  test('a failure mid-apply leaves the previous state forwarding', () => {
    const before1 = spread('10.0.8.1');
    const before2 = spread('10.0.8.2');
    const inner1 = innerOf('10.0.8.1');
    failNext = '10.0.8.4:80/tcp';
    // Change VIP 1, drop VIP 2, add VIP 4 whose reals write fails.
    assert.throws(() => r.apply(state(svc('10.0.8.1', [[1, 1], [7, 1]]), svc('10.0.8.4', [[8, 1]]))), /E_APPLY|previous state kept/);
    assert.deepEqual(spread('10.0.8.1'), before1, 'VIP 1 forwards exactly as before');
    assert.deepEqual(spread('10.0.8.2'), before2, 'VIP 2 is still there');
    assert.deepEqual([...spread('10.0.8.4').keys()], ['pass'], 'VIP 4 was not left half-added');
    assert.notEqual(innerOf('10.0.8.1'), null);
    assert.deepEqual(dp.vips.list().map((v) => v.key).sort(), ['10.0.8.1:80/tcp', '10.0.8.2:80/tcp']);
    // Undo rebuilds VIP 1's previous table (same slots, so the same spread above) in a new map.
    assert.notEqual(innerOf('10.0.8.1'), inner1);
  });
});
