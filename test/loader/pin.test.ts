// Pinned state outlives every fd of this process: a reopened map keeps its entries, a reopened
// program still runs with its maps, and a new object adopts the pinned maps (daemon restart).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';
import { testBpfObject } from '../../src/paths';
import { execFileSync } from 'node:child_process';
import * as os from 'node:os';
import { BpfObject, BpfMap, BpfProgram, MapType, ensureBpffs, onBpffs, pinThreadToCpu } from '../../src/loader';
import { isXlvsError } from '../../src/errors';
import { fwdTestKey, fwdTestValue, sumCounters, FwdTestAction } from '../maps/fwd-test-codecs';

const XDP_TX = 3; // enum xdp_action (include/uapi/linux/bpf.h)
const pinDir = `/sys/fs/bpf/xlvs-test-loader-pin-${process.pid}`;
after(() => fs.rmSync(pinDir, { recursive: true, force: true }));

const pkt = eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:02' }).ipv4({ src: '198.51.100.7', dst: '10.0.0.10' })
  .tcp({ sport: 40000, dport: 80, flags: 'S' }).build();
const expectedOut = eth({ src: '02:00:00:00:00:02', dst: '02:aa:bb:cc:dd:ee' }).ipv4({ src: '198.51.100.7', dst: '10.0.0.10' })
  .tcp({ sport: 40000, dport: 80, flags: 'S' }).build();
const key = fwdTestKey.encode({ daddr: '10.0.0.10', dport: 80, proto: 6 });
const zero = Buffer.alloc(4);

test('pin, drop every fd, reopen from the pins, adopt them in a new object', needsBpf(), () => {
  pinThreadToCpu(0);
  ensureBpffs(pinDir);
  const p = (n: string) => path.join(pinDir, n);

  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    obj.load();
    obj.map('fwd_table').update(key, fwdTestValue.encode({ action: FwdTestAction.TX, mac: '02:aa:bb:cc:dd:ee' }));
    assert.equal(obj.program('xdp_fwd').testRun(pkt).retval, XDP_TX);
    obj.map('fwd_table').pin(p('fwd_table'));
    obj.map('fwd_counters').pin(p('fwd_counters'));
    obj.program('xdp_fwd').pin(p('xdp_fwd'));
  } finally {
    obj.close();
  }

  // Only pins hold the state now.
  const table = BpfMap.openPinned(p('fwd_table'));
  const counters = BpfMap.openPinned(p('fwd_counters'));
  const prog = BpfProgram.openPinned(p('xdp_fwd'));
  try {
    assert.deepEqual([table.name, table.type, table.keySize, table.valueSize, table.maxEntries], ['fwd_table', MapType.HASH, 8, 12, 1024]);
    assert.equal(counters.perCpu, true);
    assert.deepEqual(fwdTestValue.decode(table.lookup(key)!), { action: FwdTestAction.TX, mac: '02:aa:bb:cc:dd:ee' });
    assert.equal(sumCounters(counters.lookupPerCpu(zero)!).packets, 1n);
    assert.equal(prog.name, 'xdp_fwd');
    const r = prog.testRun(pkt);
    assert.equal(r.retval, XDP_TX, 'the reopened program still runs with its maps');
    assert.deepEqual(r.data, expectedOut);
    assert.equal(sumCounters(counters.lookupPerCpu(zero)!).packets, 2n, 'and counts into the pinned counters');
    assert.throws(() => BpfProgram.openPinned(p('fwd_table')), (e: unknown) => isXlvsError(e, 'E_BPF_NO_PROGRAM') && /is not a BPF program/.test((e as Error).message));
    assert.throws(() => BpfMap.openPinned(p('xdp_fwd')), (e: unknown) => isXlvsError(e, 'E_BPF_NO_MAP') && /is not a BPF map/.test((e as Error).message));
  } finally {
    table.close(); counters.close(); prog.close();
  }

  // A new object (a restarted daemon) adopts the pinned maps instead of creating empty ones.
  const again = BpfObject.open(testBpfObject('fwd_test'));
  try {
    again.reuseMap('fwd_table', p('fwd_table'));
    again.reuseMap('fwd_counters', p('fwd_counters'));
    again.load();
    assert.equal(again.program('xdp_fwd').testRun(pkt).retval, XDP_TX, 'entry written before the "restart" still forwards');
    assert.equal(sumCounters(again.map('fwd_counters').lookupPerCpu(zero)!).packets, 3n, 'counters continue');
  } finally {
    again.close();
  }

  // A pinned map of another shape is refused, naming the difference; the object stays usable.
  const other = BpfMap.create({ type: 'hash', name: 'xlvs_t_other', keySize: 4, valueSize: 12, maxEntries: 1024 });
  const third = BpfObject.open(testBpfObject('fwd_test'));
  try {
    other.pin(p('other'));
    assert.throws(() => third.reuseMap('fwd_table', p('other')),
      (e: unknown) => isXlvsError(e, 'E_BPF_PIN') && /pinned map .*other has keySize 4, the object wants 8/.test((e as Error).message));
    assert.throws(() => third.reuseMap('fwd_table', p('missing')), (e: unknown) => isXlvsError(e, 'E_BPF_PIN') && /no pinned map at/.test((e as Error).message));
    third.load();
    assert.equal(third.map('fwd_table').lookup(key), null, 'not adopted: a fresh, empty map');
  } finally {
    third.close();
    other.close();
  }

  for (const n of ['fwd_table', 'fwd_counters', 'xdp_fwd', 'other']) fs.unlinkSync(p(n));
  assert.deepEqual(fs.readdirSync(pinDir), []);
});

test('ensureBpffs mounts a bpffs where none is, and pins work there', needsBpf(), () => {
  const dir = path.join(os.tmpdir(), `xlvs-test-bpffs-${process.pid}`);
  assert.equal(onBpffs(dir), false);
  let mounted = false;
  try {
    ensureBpffs(dir);
    mounted = true;
    assert.equal(onBpffs(dir), true);
    ensureBpffs(path.join(dir, 'a', 'b')); // already on bpffs: only mkdir -p
    assert.ok(fs.statSync(path.join(dir, 'a', 'b')).isDirectory());
    const m = BpfMap.create({ type: 'array', name: 'xlvs_t_fs', keySize: 4, valueSize: 4, maxEntries: 1 });
    try {
      m.update(zero, Buffer.from([1, 2, 3, 4]));
      m.pin(path.join(dir, 'a', 'b', 'm'));
    } finally {
      m.close();
    }
    const again = BpfMap.openPinned(path.join(dir, 'a', 'b', 'm'));
    try {
      assert.deepEqual(again.lookup(zero), Buffer.from([1, 2, 3, 4]));
    } finally {
      again.close();
    }
  } finally {
    if (mounted || onBpffs(dir)) execFileSync('umount', [dir]);
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.equal(fs.existsSync(dir), false);
});
