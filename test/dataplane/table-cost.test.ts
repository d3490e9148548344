// src/dataplane/table-cost.ts against the kernel: real maps of each table's type, key and value
// sizes (LRU hashes; lb_new an mmapable array of slots), created with bpftool at two sizes (a
// power of two and one just above), and the memlock the kernel reports for them
// (htab_map_mem_usage, array_map_mem_usage) compared with the formula.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { needsCommand } from '../lib/env';
import { ARRAY_TABLES, hashMapBytes, mmapArrayBytes, TABLE_LAYOUT, type TableName } from '../../src/dataplane/table-cost';

const pinDir = `/sys/fs/bpf/xlvs-test-table-cost-${process.pid}`;

after(() => {
  fs.rmSync(pinDir, { recursive: true, force: true });
});

/** CPUs the kernel may bring up (/sys/devices/system/cpu/possible, e.g. "0-63"). */
function possibleCpus(): number {
  const text = fs.readFileSync('/sys/devices/system/cpu/possible', 'utf8').trim();
  return text.split(',').reduce((n, part) => {
    const [a, b] = part.split('-').map(Number);
    return n + (b === undefined ? 1 : b - a + 1);
  }, 0);
}

test('each table\'s memory as the formula says, within 1 KiB of what the kernel reports', needsCommand('bpftool'), () => {
  fs.mkdirSync(pinDir, { recursive: true });
  // Besides buckets and elements the kernel counts struct bpf_htab and HASHTAB_MAP_LOCK_COUNT (8)
  // ints per possible CPU: constant in the entries, and what the formula leaves out.
  const perCpuLocks = 8 * 4 * possibleCpus();
  for (const name of Object.keys(TABLE_LAYOUT) as TableName[]) {
    const { key, value } = TABLE_LAYOUT[name];
    for (const entries of [4096, 65537]) {
      const pin = `${pinDir}/${name}-${entries}`;
      const slots = ARRAY_TABLES.has(name);
      execFileSync('bpftool', ['map', 'create', pin, 'type', slots ? 'array' : 'lru_hash', 'key', String(key), 'value', String(value), 'entries', String(entries), 'name', `xlvs_tc_${name}`.slice(0, 15),
        ...(slots ? ['flags', String(1 << 10)] : [])]); // BPF_F_MMAPABLE
      try {
        const shown = JSON.parse(execFileSync('bpftool', ['-j', 'map', 'show', 'pinned', pin], { encoding: 'utf8' })) as { bytes_memlock: number; max_entries: number };
        assert.equal(shown.max_entries, entries);
        const want = slots ? mmapArrayBytes(entries, value) : hashMapBytes(entries, key, value);
        const extra = shown.bytes_memlock - want - (slots ? 0 : perCpuLocks);
        assert.ok(extra >= 0 && extra < 1024, `${name} × ${entries}: kernel ${shown.bytes_memlock} B, formula ${want} B (+${perCpuLocks} B of per-CPU locks): ${extra} B apart`);
      } finally {
        fs.rmSync(pin, { force: true });
      }
    }
  }
});
