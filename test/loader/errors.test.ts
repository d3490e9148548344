// Bad input to the loader: each failure is an XlvsError with a stable code whose message names
// what is wrong, and nothing is left loaded, attached or pinned.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { needsBpf } from '../lib/env';
import { testBpfObject } from '../../src/paths';
import { BpfObject, BpfMap, BpfProgram, attachXdp, detachXdp, queryXdp, attachTcIngress } from '../../src/loader';
import { isXlvsError, XlvsError } from '../../src/errors';

const pinDir = `/sys/fs/bpf/xlvs-test-loader-errors-${process.pid}`;
after(() => fs.rmSync(pinDir, { recursive: true, force: true }));

function code(c: string, re?: RegExp) {
  return (e: unknown) => {
    assert.ok(isXlvsError(e), `XlvsError expected, got ${String(e)}`);
    assert.equal((e as XlvsError).code, c, (e as Error).message);
    if (re) assert.match((e as Error).message, re);
    return true;
  };
}

test('a missing object file or a file that is not BPF: E_BPF_OPEN naming the path', needsBpf(), () => {
  assert.throws(() => BpfObject.open('/nonexistent/xlvs/nothing.bpf.o'), code('E_BPF_OPEN', /\/nonexistent\/xlvs\/nothing\.bpf\.o: no such file/));
  const junk = path.join(os.tmpdir(), `xlvs-not-bpf-${process.pid}.o`);
  fs.writeFileSync(junk, 'this is not an ELF file\n');
  try {
    assert.throws(() => BpfObject.open(junk), code('E_BPF_OPEN', new RegExp(`${junk}: cannot open`)));
  } finally {
    fs.rmSync(junk, { force: true });
  }
  assert.throws(() => BpfObject.open(os.tmpdir()), code('E_BPF_OPEN', /not a regular file/));
});

test('unknown program and map names list the ones that exist', needsBpf(), () => {
  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    assert.throws(() => obj.program('xdp_fwd'), code('E_BPF_STATE', /needs load\(\) first/));
    obj.load();
    assert.throws(() => obj.program('xdp_nope'), code('E_BPF_NO_PROGRAM', /"xdp_nope" is not in .*fwd_test\.bpf\.o \(programs: xdp_fwd, xdp_inner, xdp_pass, tc_pass\)/));
    assert.throws(() => obj.map('nope_map'), code('E_BPF_NO_MAP', /"nope_map" is not in .*\(maps: fwd_table, fwd_outer, fwd_counters, fwd_test\.rodata\)/));
    assert.deepEqual(obj.programNames(), ['xdp_fwd', 'xdp_inner', 'xdp_pass', 'tc_pass']);
  } finally {
    obj.close();
  }
  assert.throws(() => obj.map('fwd_table'), code('E_BPF_STATE', /after close/));
});

test('the verifier rejects an out-of-bounds packet read: E_BPF_LOAD quotes its complaint', needsBpf(), () => {
  const obj = BpfObject.open(testBpfObject('bad_oob'));
  try {
    assert.throws(() => obj.load(), (e: unknown) => {
      code('E_BPF_LOAD', /bad_oob\.bpf\.o \(program xdp_oob\) failed \(errno 13 EACCES\)/)(e);
      const err = e as XlvsError;
      assert.equal(err.errno, 13);
      assert.match(err.message, /invalid access to packet, off=100 size=1/);
      assert.ok(err.details.length <= 21, 'only the tail of the log');
      return true;
    });
    assert.throws(() => obj.program('xdp_oob'), code('E_BPF_STATE', /failed load/));
  } finally {
    obj.close();
  }
});

test('keys and values of the wrong size: E_BPF_KEY_SIZE before any syscall', needsBpf(), () => {
  const m = BpfMap.create({ type: 'hash', name: 'xlvs_t_sizes', keySize: 8, valueSize: 12, maxEntries: 4 });
  assert.throws(() => m.update(Buffer.alloc(7), Buffer.alloc(12)), code('E_BPF_KEY_SIZE', /xlvs_t_sizes: update: key is 7 bytes, map key size is 8/));
  assert.throws(() => m.update(Buffer.alloc(8), Buffer.alloc(13)), code('E_BPF_KEY_SIZE', /value is 13 bytes, map value size is 12/));
  assert.throws(() => m.updateBatch([Buffer.alloc(8), Buffer.alloc(9)], [Buffer.alloc(12), Buffer.alloc(12)]), code('E_BPF_KEY_SIZE', /updateBatch key 1: key is 9 bytes/));
  assert.equal([...m.keys()].length, 0, 'the refused batch wrote nothing');
  m.close();
  // After close the fd is gone: a size check that reached the fd (or the kernel) would report
  // E_BPF_STATE instead, so these prove the check comes first.
  assert.throws(() => m.lookup(Buffer.alloc(3)), code('E_BPF_KEY_SIZE'));
  assert.throws(() => m.delete(Buffer.alloc(9)), code('E_BPF_KEY_SIZE'));
  assert.throws(() => m.lookup(Buffer.alloc(8)), code('E_BPF_STATE', /used after close/));
});

test('wrong map kinds and unknown types are named', needsBpf(), () => {
  assert.throws(() => BpfMap.create({ type: 'hashy', keySize: 4, valueSize: 4, maxEntries: 1 }), code('E_BPF_MAP_OP', /unknown map type "hashy"/));
  assert.throws(() => BpfMap.create({ type: 'array_of_maps', name: 'x', keySize: 4, valueSize: 4, maxEntries: 1 }), code('E_BPF_MAP_OP', /ARRAY_OF_MAPS needs innerMap/));
  const pc = BpfMap.create({ type: 'percpu_array', name: 'xlvs_t_pc', keySize: 4, valueSize: 4, maxEntries: 1 });
  try {
    assert.throws(() => pc.lookup(Buffer.alloc(4)), code('E_BPF_MAP_OP', /per-CPU map .*use lookupPerCpu/));
    assert.throws(() => pc.updatePerCpu(Buffer.alloc(4), [Buffer.alloc(4)].slice(0, 0)), code('E_BPF_KEY_SIZE', /0 values for \d+ possible CPUs/));
  } finally {
    pc.close();
  }
  const pinned = path.join(pinDir, 'not-a-map');
  assert.throws(() => BpfMap.openPinned(pinned), code('E_BPF_NO_MAP', /no pinned map at .*not-a-map \(errno 2 ENOENT\)/));
  assert.throws(() => BpfProgram.openPinned(pinned), code('E_BPF_NO_PROGRAM', /no pinned program at/));
});

test('attaching to a missing interface: E_BPF_NO_IFACE, nothing attached or pinned', needsBpf(), () => {
  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    obj.load();
    const prog = obj.program('xdp_pass');
    assert.throws(() => attachXdp('xlvs-nosuch0', prog), code('E_BPF_NO_IFACE', /no interface "xlvs-nosuch0"/));
    assert.throws(() => attachXdp('xlvs-nosuch0', prog, { fallbackToGeneric: true }), code('E_BPF_NO_IFACE'));
    assert.throws(() => queryXdp('xlvs-nosuch0'), code('E_BPF_NO_IFACE'));
    assert.throws(() => detachXdp('xlvs-nosuch0'), code('E_BPF_NO_IFACE'));
    assert.throws(() => attachTcIngress('xlvs-nosuch0', obj.program('tc_pass')), code('E_BPF_NO_IFACE'));
    assert.throws(() => attachXdp('a-name-longer-than-ifnamsiz', prog), code('E_BPF_NO_IFACE', /1\.\.15 characters/));
    // Pinning twice at one path fails and leaves the first pin alone; a failed pin leaves no directory.
    const p = path.join(pinDir, 'prog');
    prog.pin(p);
    assert.throws(() => prog.pin(p), code('E_BPF_PIN', /a pin of that name exists/));
    prog.unpin(p);
    assert.throws(() => prog.unpin(p), code('E_BPF_PIN', /ENOENT/));
    assert.throws(() => prog.pin('/tmp/xlvs-not-bpffs-' + process.pid + '/sub/prog'), code('E_BPF_PIN'));
    assert.equal(fs.existsSync('/tmp/xlvs-not-bpffs-' + process.pid), false, 'directories made for a failed pin are removed');
  } finally {
    obj.close();
  }
  assert.deepEqual(fs.readdirSync(pinDir), [], 'nothing left pinned');
});
