// What the kernel allocates for the sized tables (director.conn_table, director.persistence_table),
// so `xlvs validate` can say what they cost and refuse sizes the machine cannot hold.
//
// A BPF hash or LRU hash map is preallocated when it is created (kernel/bpf/hashtab.c,
// htab_map_alloc and htab_map_mem_usage, the figure `bpftool map show` prints as memlock):
//   - one bucket per power of two at or above max_entries: struct bucket is an hlist_nulls_head
//     and a raw spinlock, 16 bytes on 64-bit;
//   - one element per entry: struct htab_elem (48 bytes with its bpf_lru_node) followed by the
//     key and the value, each rounded up to 8 bytes;
//   - plus a constant below 1 KiB (struct bpf_htab, the per-CPU lock counters), left out here.
// With BPF_F_NO_COMMON_LRU the kernel rounds max_entries up to a multiple of the possible CPUs,
// which adds at most one element per CPU; left out too.
// lb_conns (two 32-byte IPv4 entries per 64-byte line) and lb_new (one 64-byte slot per entry)
// are ARRAYs with BPF_F_MMAPABLE (kernel/bpf/arraymap.c, array_map_mem_usage): the page-aligned
// struct bpf_array, then the values, page-aligned.
// Checked against real maps by test/dataplane/table-cost.test.ts.
import type { DirectorModel } from '../config/model';
import { conn4Entry, connValue, flowKey, natRev, newSlot, persistKey, persistValue } from '../maps/lb';

/** sizeof(struct bucket). */
export const HTAB_BUCKET_BYTES = 16;
/** sizeof(struct htab_elem) before the key. */
export const HTAB_ELEM_BYTES = 48;

/**
 * Key and value sizes of each sized table, from the codecs of the structs in bpf/include/
 * (checked against the objects' BTF by test/maps): lb_conns, lb_conns6, lb_new, lb_persist.
 */
export const TABLE_LAYOUT = {
  conn4: { key: 4, value: 2 * conn4Entry.size },
  conn6: { key: flowKey.size, value: connValue.size },
  unconfirmed: { key: 4, value: newSlot.size },
  persistence: { key: persistKey.size, value: persistValue.size },
  nat: { key: flowKey.size, value: natRev.size },
} as const;

/** The tables that are ARRAYs with a value per configured entry (lb_conns: a 64-byte line of two
 * entries per flow; lb_new: a slot per flow); the others are LRU hashes. */
export const ARRAY_TABLES: ReadonlySet<keyof typeof TABLE_LAYOUT> = new Set(['conn4', 'unconfirmed']);

export type TableName = keyof typeof TABLE_LAYOUT;

/** The sizes a topology asks for. */
export type TableSizes = Pick<DirectorModel, 'connTable' | 'persistenceTable'>;

export interface TableCost {
  name: TableName;
  /** What the table holds, for people. */
  label: string;
  /** Where the size is set in a topology. */
  field: string;
  entries: number;
  /** bytes / entries: element plus its share of the buckets. */
  bytesPerEntry: number;
  bytes: number;
}

function roundUp(n: number, to: number): number {
  return Math.ceil(n / to) * to;
}

export function roundUpPow2(n: number): number {
  let p = 1;
  while (p < n) p *= 2;
  return p;
}

/** Bytes the kernel allocates for a (LRU) hash map of `entries` with these key and value sizes. */
export function hashMapBytes(entries: number, keySize: number, valueSize: number): number {
  return roundUpPow2(entries) * HTAB_BUCKET_BYTES + entries * (HTAB_ELEM_BYTES + roundUp(keySize, 8) + roundUp(valueSize, 8));
}

export const PAGE_BYTES = 4096;

/** Bytes the kernel allocates for a BPF_F_MMAPABLE array of `entries` values of `valueSize`. */
export function mmapArrayBytes(entries: number, valueSize: number): number {
  return PAGE_BYTES + roundUp(entries * roundUp(valueSize, 8), PAGE_BYTES);
}

/** Each sized table: entries, bytes per entry, bytes. */
export function tableCosts(sizes: TableSizes): TableCost[] {
  const rows: [TableName, string, string, number][] = [
    ['conn4', 'IPv4 connections', 'director.conn_table.size', sizes.connTable.size],
    ['conn6', 'IPv6 connections', 'director.conn_table.ipv6_size', sizes.connTable.ipv6Size],
    ['unconfirmed', 'unconfirmed flows', 'director.conn_table.unconfirmed_size', sizes.connTable.unconfirmedSize],
    ['persistence', 'persistence', 'director.persistence_table.size', sizes.persistenceTable.size],
    ['nat', 'NAT reverse entries', 'director.conn_table.nat_size', sizes.connTable.natSize],
  ];
  return rows.map(([name, label, field, entries]) => {
    const array = ARRAY_TABLES.has(name);
    const bytes = array
      ? mmapArrayBytes(entries, TABLE_LAYOUT[name].value)
      : hashMapBytes(entries, TABLE_LAYOUT[name].key, TABLE_LAYOUT[name].value);
    // An array's page-aligned header and tail are not per entry: its entry costs its value.
    const bytesPerEntry = array ? roundUp(TABLE_LAYOUT[name].value, 8) : bytes / entries;
    return { name, label, field, entries, bytesPerEntry, bytes };
  });
}

export function totalBytes(costs: readonly TableCost[]): number {
  return costs.reduce((n, c) => n + c.bytes, 0);
}

/** The costs as a short table for a terminal: table, entries, bytes per entry, MiB, and the total. */
export function formatTableCosts(costs: readonly TableCost[]): string {
  const rows = [
    ['table', 'entries', 'bytes/entry', 'MiB'],
    ...costs.map((c) => [c.label, String(c.entries), perEntry(c.bytesPerEntry), (c.bytes / 1048576).toFixed(1)]),
    ['total', '', '', (totalBytes(costs) / 1048576).toFixed(1)],
  ];
  const w = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  return rows.map((r) => r.map((cell, i) => (i === 0 ? cell.padEnd(w[i]) : cell.padStart(w[i]))).join('  ').trimEnd() + '\n').join('');
}

function perEntry(n: number): string {
  return Number.isInteger(n) ? String(n) : n.toFixed(1);
}

/** `96.0 MiB`-style text. */
export function mib(bytes: number): string {
  return `${(bytes / 1048576).toFixed(1)} MiB`;
}
