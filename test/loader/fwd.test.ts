// The loader end to end on test/bpf/fwd_test.bpf.c: typed map writes, packets through
// BPF_PROG_TEST_RUN, per-CPU counters read back through codecs, load-time constants, batch
// operations, map-in-map swaps and the libbpf log callback.
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { testBpfObject } from '../../src/paths';
import { BpfObject, BpfMap, MapType, pinThreadToCpu, possibleCpus, setLibbpfLogger } from '../../src/loader';
import { fwdTestKey, fwdTestValue, fwdTestCounters, sumCounters, FwdTestAction } from '../maps/fwd-test-codecs';
import { isXlvsError } from '../../src/errors';

// enum xdp_action (include/uapi/linux/bpf.h)
const XDP_ABORTED = 0, XDP_DROP = 1, XDP_PASS = 2, XDP_TX = 3;
const IPPROTO_TCP = 6, IPPROTO_UDP = 17;

const CLIENT_MAC = '02:00:00:00:00:01';
const DIRECTOR_MAC = '02:00:00:00:00:02';
const REAL_MAC = '02:aa:bb:cc:dd:ee';

function synTo(dst: string, dport: number, payload = 'hello'): Buffer {
  return eth({ src: CLIENT_MAC, dst: DIRECTOR_MAC }).ipv4({ src: '198.51.100.7', dst })
    .tcp({ sport: 40000, dport, flags: 'S' }).payload(Buffer.from(payload)).build();
}

function withFwd<T>(fn: (obj: BpfObject) => T, consts: Record<string, number> = {}): T {
  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    for (const [k, v] of Object.entries(consts)) obj.setConst(k, v);
    obj.load();
    return fn(obj);
  } finally {
    obj.close();
  }
}

const u32 = (n: number) => { const b = Buffer.alloc(4); b.writeUInt32LE(n); return b; };

before(() => {
  // BPF_PROG_TEST_RUN runs on the calling CPU (docs/lab-notes.md); keep per-CPU state on one slot.
  if (!needsBpf().skip) pinThreadToCpu(0);
});

test('a codec-written entry forwards a packet: verdict, whole output frame and per-CPU counters', needsBpf(), () => {
  withFwd((obj) => {
    const table = obj.map('fwd_table');
    const counters = obj.map('fwd_counters');
    const prog = obj.program('xdp_fwd');
    assert.equal(table.type, MapType.HASH);
    assert.equal(table.keySize, fwdTestKey.size);
    assert.equal(table.valueSize, fwdTestValue.size);
    assert.equal(counters.perCpu, true);

    table.update(fwdTestKey.encode({ daddr: '10.0.0.10', dport: 80, proto: IPPROTO_TCP }), fwdTestValue.encode({ action: FwdTestAction.TX, mac: REAL_MAC }));
    table.update(fwdTestKey.encode({ daddr: '10.0.0.10', dport: 53, proto: IPPROTO_UDP }), fwdTestValue.encode({ action: FwdTestAction.DROP, mac: '00:00:00:00:00:00' }));

    const hit = synTo('10.0.0.10', 80);
    const r = prog.testRun(hit);
    assert.equal(r.retval, XDP_TX);
    // Expected frame from the independent builder: same packet, dst = real's MAC, src = the old dst.
    const expected = eth({ src: DIRECTOR_MAC, dst: REAL_MAC }).ipv4({ src: '198.51.100.7', dst: '10.0.0.10' })
      .tcp({ sport: 40000, dport: 80, flags: 'S' }).payload(Buffer.from('hello')).build();
    assert.equal(diffPackets(expected, r.data), '', 'output frame');
    assert.ok(r.duration > 0, 'kernel reports a duration');

    const udp = eth({ src: CLIENT_MAC, dst: DIRECTOR_MAC }).ipv4({ src: '198.51.100.7', dst: '10.0.0.10' }).udp({ sport: 5353, dport: 53 }).payload(Buffer.from('q')).build();
    assert.equal(prog.testRun(udp).retval, XDP_DROP);
    const miss = synTo('10.0.0.10', 81, 'miss!!');
    const rm = prog.testRun(miss);
    assert.equal(rm.retval, XDP_PASS, 'miss → the default miss_verdict (XDP_PASS)');
    assert.deepEqual(rm.data, miss, 'a passed packet is untouched');

    const perCpu = counters.lookupPerCpu(u32(0));
    assert.ok(perCpu);
    assert.equal(perCpu.length, possibleCpus());
    assert.deepEqual(sumCounters(perCpu), {
      packets: 3n, bytes: BigInt(hit.length + udp.length + miss.length), hits: 2n, misses: 1n,
    });

    // Per-CPU write: reset every CPU's slot, the next packet counts from zero.
    counters.updatePerCpu(u32(0), perCpu.map(() => fwdTestCounters.encode({ packets: 0n, bytes: 0n, hits: 0n, misses: 0n })));
    prog.testRun(miss);
    assert.deepEqual(sumCounters(counters.lookupPerCpu(u32(0))!), { packets: 1n, bytes: BigInt(miss.length), hits: 0n, misses: 1n });

    // Lookup and delete through the codecs.
    const key = fwdTestKey.encode({ daddr: '10.0.0.10', dport: 80, proto: IPPROTO_TCP });
    assert.deepEqual(fwdTestValue.decode(table.lookup(key)!), { action: FwdTestAction.TX, mac: REAL_MAC });
    assert.equal(table.delete(key), true);
    assert.equal(table.delete(key), false, 'second delete: absent');
    assert.equal(table.lookup(key), null);
    assert.equal(prog.testRun(hit).retval, XDP_PASS, 'entry gone: the packet misses');
    assert.deepEqual([...table.keys()].map((k) => fwdTestKey.decode(k)), [{ daddr: '10.0.0.10', dport: 53, proto: IPPROTO_UDP }]);
  });
});

test('setConst changes what the program does: miss_verdict = XDP_DROP', needsBpf(), () => {
  const pkt = synTo('10.9.9.9', 80);
  assert.equal(withFwd((obj) => obj.program('xdp_fwd').testRun(pkt).retval), XDP_PASS);
  assert.equal(withFwd((obj) => obj.program('xdp_fwd').testRun(pkt).retval, { miss_verdict: XDP_DROP }), XDP_DROP);
  assert.equal(withFwd((obj) => obj.program('xdp_fwd').testRun(pkt).retval, { miss_verdict: XDP_TX }), XDP_TX);
});

test('setConst refuses unknown names, wrong sizes and use after load', needsBpf(), () => {
  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    assert.throws(() => obj.setConst('no_such_knob', 1), (e: unknown) => isXlvsError(e, 'E_BPF_RODATA') && /"no_such_knob".*has: miss_verdict/.test((e as Error).message));
    assert.throws(() => obj.setConst('miss_verdict', Buffer.alloc(8)), (e: unknown) => isXlvsError(e, 'E_BPF_RODATA') && /8 bytes, the variable is 4/.test((e as Error).message));
    assert.throws(() => obj.setConst('miss_verdict', 2 ** 32), (e: unknown) => isXlvsError(e, 'E_BPF_RODATA') && /does not fit in 4 bytes/.test((e as Error).message));
    obj.load();
    assert.throws(() => obj.setConst('miss_verdict', 1), (e: unknown) => isXlvsError(e, 'E_BPF_STATE'));
    // The refused values changed nothing: the default verdict still applies.
    assert.equal(obj.program('xdp_fwd').testRun(synTo('10.9.9.9', 80)).retval, XDP_PASS);
  } finally {
    obj.close();
  }
});

test('batch update, lookup and delete on the hash map the program reads', needsBpf(), () => {
  withFwd((obj) => {
    const table = obj.map('fwd_table');
    const prog = obj.program('xdp_fwd');
    const N = 300; // more than one lookup chunk of some buckets, fewer than max_entries (1024)
    const keys: Buffer[] = [];
    const values: Buffer[] = [];
    for (let i = 0; i < N; i++) {
      keys.push(fwdTestKey.encode({ daddr: `10.1.${i >> 8}.${i & 255}`, dport: 1000 + i, proto: IPPROTO_TCP }));
      values.push(fwdTestValue.encode({ action: i % 2 ? FwdTestAction.DROP : FwdTestAction.PASS, mac: '00:00:00:00:00:00' }));
    }
    table.updateBatch(keys, values);
    const all = table.lookupBatch();
    assert.equal(all.length, N);
    const want = new Map(keys.map((k, i) => [k.toString('hex'), values[i].toString('hex')]));
    for (const [k, v] of all) assert.equal(want.get(k.toString('hex')), v.toString('hex'));
    assert.equal(prog.testRun(synTo('10.1.0.7', 1007)).retval, XDP_DROP, 'the program sees a batch-written entry');

    table.deleteBatch(keys.slice(0, 200));
    assert.equal(table.lookupBatch().length, N - 200);
    assert.equal([...table.keys()].length, N - 200);
    assert.equal(prog.testRun(synTo('10.1.0.7', 1007)).retval, XDP_PASS, 'deleted entry no longer matches');
    assert.equal(prog.testRun(synTo('10.1.0.201', 1201)).retval, XDP_DROP, 'kept entry still matches');

    // Deleting an absent key in a batch fails with a clear error naming the map.
    assert.throws(() => table.deleteBatch([keys[0]]), (e: unknown) => isXlvsError(e, 'E_BPF_MAP_OP') && /fwd_table: delete_batch/.test((e as Error).message));
  });
});

test('batch delete where the map type has none: a clear E_BPF_MAP_OP', needsBpf(), () => {
  const arr = BpfMap.create({ type: 'array', name: 'xlvs_t_arr', keySize: 4, valueSize: 4, maxEntries: 4 });
  try {
    arr.updateBatch([u32(0), u32(1)], [u32(7), u32(8)]);
    assert.deepEqual(arr.lookupBatch().map(([k, v]) => [k.readUInt32LE(), v.readUInt32LE()]), [[0, 7], [1, 8], [2, 0], [3, 0]]);
    assert.throws(() => arr.deleteBatch([u32(0)]), (e: unknown) => isXlvsError(e, 'E_BPF_MAP_OP') && /xlvs_t_arr: delete_batch .*ARRAY may not support batch/.test((e as Error).message));
  } finally {
    arr.close();
  }
});

test('map-in-map: the program reads through the inner map, and a swap takes effect on the next packet', needsBpf(), () => {
  withFwd((obj) => {
    const outer = obj.map('fwd_outer');
    const prog = obj.program('xdp_inner');
    assert.equal(outer.type, MapType.ARRAY_OF_MAPS);
    const pkt = synTo('10.0.0.10', 80);
    assert.equal(prog.testRun(pkt).retval, XDP_ABORTED, 'no inner map yet');

    const mk = (name: string, stamp: number, maxEntries = 4) => {
      const m = BpfMap.create({ type: MapType.ARRAY, name, keySize: 4, valueSize: 4, maxEntries });
      m.update(u32(0), u32(stamp));
      return m;
    };
    const a = mk('xlvs_t_inner_a', 0x11111111);
    const b = mk('xlvs_t_inner_b', 0x22222222);
    const bad = mk('xlvs_t_inner_c', 0x33333333, 8);
    try {
      outer.setInner(u32(0), a);
      let r = prog.testRun(pkt);
      assert.equal(r.retval, XDP_TX);
      assert.equal(r.data.readUInt32BE(6), 0x11111111);
      assert.ok(outer.innerId(u32(0))! > 0);

      outer.setInner(u32(0), b);
      r = prog.testRun(pkt);
      assert.equal(r.data.readUInt32BE(6), 0x22222222, 'the next packet sees the new inner map');

      // An inner map of another shape is refused and the current one stays in force.
      assert.throws(() => outer.setInner(u32(0), bad), (e: unknown) => isXlvsError(e, 'E_BPF_MAP_OP') && /fwd_outer: setInner/.test((e as Error).message));
      assert.equal(prog.testRun(pkt).data.readUInt32BE(6), 0x22222222);

      // The outer map keeps its own reference: closing our fd of the inner map changes nothing.
      b.close();
      assert.equal(prog.testRun(pkt).data.readUInt32BE(6), 0x22222222);
    } finally {
      a.close(); b.close(); bad.close();
    }
  });
});

test('libbpf log lines reach the logger callback', needsBpf(), () => {
  const lines: Array<[string, string]> = [];
  setLibbpfLogger((level, line) => lines.push([level, line]));
  try {
    withFwd(() => undefined);
  } finally {
    setLibbpfLogger(null);
  }
  const path = testBpfObject('fwd_test');
  assert.ok(lines.some(([, l]) => l.includes(`loading object from ${path}`)), `libbpf announced the object (got ${lines.length} lines)`);
  assert.ok(lines.some(([, l]) => /map 'fwd_table'/.test(l)), 'printf arguments were formatted');
  assert.ok(lines.every(([lvl]) => ['warn', 'info', 'debug'].includes(lvl)));
  const before = lines.length;
  withFwd(() => undefined);
  assert.equal(lines.length, before, 'a removed logger gets nothing');
});
