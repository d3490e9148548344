// BpfMap: one BPF map by fd — from a loaded object, a pin, or bpf_map_create — with
// size-checked lookup/update/delete, iteration, per-CPU values, batch ops and map-in-map.
import * as fs from 'node:fs';
import { XlvsError, ErrorCodes } from '../errors';
import { bpf, c, koffi, lastErrno } from './ffi';
import { check } from './fail';
import { pinFd, unpinPath } from './pin';
import { possibleCpus } from './cpu';

/** enum bpf_map_type (include/uapi/linux/bpf.h); numbers are kernel ABI. */
export const MapType = {
  UNSPEC: 0, HASH: 1, ARRAY: 2, PROG_ARRAY: 3, PERF_EVENT_ARRAY: 4, PERCPU_HASH: 5, PERCPU_ARRAY: 6,
  STACK_TRACE: 7, CGROUP_ARRAY: 8, LRU_HASH: 9, LRU_PERCPU_HASH: 10, LPM_TRIE: 11, ARRAY_OF_MAPS: 12,
  HASH_OF_MAPS: 13, DEVMAP: 14, SOCKMAP: 15, CPUMAP: 16, XSKMAP: 17, SOCKHASH: 18, CGROUP_STORAGE: 19,
  REUSEPORT_SOCKARRAY: 20, PERCPU_CGROUP_STORAGE: 21, QUEUE: 22, STACK: 23, SK_STORAGE: 24,
  DEVMAP_HASH: 25, STRUCT_OPS: 26, RINGBUF: 27,
} as const;
export type MapTypeName = keyof typeof MapType;

const PERCPU_TYPES = new Set<number>([MapType.PERCPU_HASH, MapType.PERCPU_ARRAY, MapType.LRU_PERCPU_HASH, MapType.PERCPU_CGROUP_STORAGE]);
const MAP_IN_MAP_TYPES = new Set<number>([MapType.ARRAY_OF_MAPS, MapType.HASH_OF_MAPS]);

// BPF_ANY / BPF_NOEXIST / BPF_EXIST (include/uapi/linux/bpf.h)
const UPDATE_FLAGS = { any: 0, noexist: 1, exist: 2 } as const;
export type UpdateFlag = keyof typeof UPDATE_FLAGS;

const ENOENT = 2;
const ENOSPC = 28;

function typeName(type: number): string {
  const e = Object.entries(MapType).find(([, v]) => v === type);
  return e ? e[0] : `type ${type}`;
}

/** Per-CPU map values are copied in 8-byte-aligned slots, one per possible CPU (bpf(2), BPF_MAP_LOOKUP_ELEM). */
/** mmap(2) and BPF_F_MMAPABLE (uapi/linux/bpf.h) constants. */
const PROT_READ = 1;
const PROT_WRITE = 2;
const MAP_SHARED = 1;
const MAP_FAILED = 0xffffffffffffffffn;
const MAP_F_MMAPABLE = 1 << 10;

function round8(n: number): number {
  return (n + 7) & ~7;
}

export interface MapInfo {
  name: string; fd: number; type: number; keySize: number; valueSize: number; maxEntries: number; flags?: number;
}

export class BpfMap {
  readonly name: string;
  readonly type: number;
  readonly keySize: number;
  readonly valueSize: number;
  readonly maxEntries: number;
  /** map_flags as created, as the object declares them, or as the kernel reports them for a pin. */
  readonly flags: number;
  readonly perCpu: boolean;
  private _fd: number;
  /** We close the fd ourselves (pinned/created maps); object maps are closed with their object. */
  private readonly owned: boolean;

  /** @internal use BpfObject.map(), BpfMap.openPinned() or BpfMap.create(). */
  constructor(info: MapInfo, owned: boolean) {
    this.name = info.name;
    this._fd = info.fd;
    this.type = info.type;
    this.keySize = info.keySize;
    this.valueSize = info.valueSize;
    this.maxEntries = info.maxEntries;
    this.flags = info.flags ?? 0;
    this.perCpu = PERCPU_TYPES.has(info.type);
    this.owned = owned;
  }

  get fd(): number {
    if (this._fd < 0) throw new XlvsError(ErrorCodes.BPF_STATE, `map ${this.name}: used after close`);
    return this._fd;
  }

  /** Opens a pinned map (bpf_obj_get) and reads its shape from the kernel (bpf_obj_get_info_by_fd). */
  static openPinned(path: string): BpfMap {
    const fd = bpf.obj_get(path) as number;
    if (fd < 0) throw new XlvsError(ErrorCodes.BPF_NO_MAP, `no pinned map at ${path}`, { errno: -fd });
    try {
      return new BpfMap(mapInfoByFd(fd, path), true);
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }

  /** bpf_map_create. For ARRAY_OF_MAPS/HASH_OF_MAPS, `innerMap` is the template of the inner maps. */
  static create(o: { type: number | string; name?: string; keySize: number; valueSize: number; maxEntries: number; flags?: number; innerMap?: BpfMap }): BpfMap {
    const type = resolveType(o.type);
    const name = o.name ?? '';
    if (!/^[A-Za-z0-9_.]{0,15}$/.test(name)) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map name "${name}": at most 15 of [A-Za-z0-9_.] (BPF_OBJ_NAME_LEN 16)`);
    }
    if (MAP_IN_MAP_TYPES.has(type) && !o.innerMap) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${name || '(unnamed)'}: ${typeName(type)} needs innerMap`);
    }
    // struct bpf_map_create_opts (bpf.h, libbpf 1.1): sz, btf_fd, btf_key_type_id,
    // btf_value_type_id, btf_vmlinux_value_type_id, inner_map_fd@24, map_flags@28, map_extra@32,
    // numa_node@40, map_ifindex@44; 48 bytes.
    const opts = Buffer.alloc(48);
    opts.writeBigUInt64LE(48n, 0);
    if (o.innerMap) opts.writeUInt32LE(o.innerMap.fd, 24);
    opts.writeUInt32LE(o.flags ?? 0, 28);
    const fd = bpf.map_create(type, name || null, o.keySize, o.valueSize, o.maxEntries, opts) as number;
    check(fd, ErrorCodes.BPF_MAP_OP, `create ${typeName(type)} map ${name || '(unnamed)'} key ${o.keySize} value ${o.valueSize} max ${o.maxEntries}`);
    return new BpfMap({ name, fd, type, keySize: o.keySize, valueSize: o.valueSize, maxEntries: o.maxEntries, flags: o.flags }, true);
  }

  /** Bytes of one value as the kernel copies it: per-CPU maps hold one 8-aligned slot per CPU. */
  private get valueBytes(): number {
    return this.perCpu ? round8(this.valueSize) * possibleCpus() : this.valueSize;
  }

  private checkKey(key: Buffer, op: string): void {
    if (!Buffer.isBuffer(key) || key.length !== this.keySize) {
      throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: ${op}: key is ${Buffer.isBuffer(key) ? key.length : typeof key} bytes, map key size is ${this.keySize}`);
    }
  }

  private checkValue(value: Buffer, op: string, size = this.valueSize): void {
    if (!Buffer.isBuffer(value) || value.length !== size) {
      throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: ${op}: value is ${Buffer.isBuffer(value) ? value.length : typeof value} bytes, map value size is ${size}`);
    }
  }

  private notPerCpu(op: string): void {
    if (this.perCpu) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: ${op} on a per-CPU map (${typeName(this.type)}); use ${op}PerCpu`);
  }

  private fail(op: string, ret: number): never {
    throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: ${op} failed`, { errno: -ret });
  }

  lookup(key: Buffer): Buffer | null {
    this.checkKey(key, 'lookup');
    this.notPerCpu('lookup');
    const out = Buffer.alloc(this.valueSize);
    const r = bpf.map_lookup_elem(this.fd, key, out) as number;
    if (r === -ENOENT) return null;
    if (r < 0) this.fail('lookup', r);
    return out;
  }

  /** One value per possible CPU. */
  lookupPerCpu(key: Buffer): Buffer[] | null {
    this.checkKey(key, 'lookupPerCpu');
    if (!this.perCpu) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: lookupPerCpu on ${typeName(this.type)}, not a per-CPU map`);
    const out = Buffer.alloc(this.valueBytes);
    const r = bpf.map_lookup_elem(this.fd, key, out) as number;
    if (r === -ENOENT) return null;
    if (r < 0) this.fail('lookup', r);
    return this.splitPerCpu(out);
  }

  private splitPerCpu(raw: Buffer): Buffer[] {
    const slot = round8(this.valueSize);
    const res: Buffer[] = [];
    for (let off = 0; off + slot <= raw.length; off += slot) res.push(Buffer.from(raw.subarray(off, off + this.valueSize)));
    return res;
  }

  update(key: Buffer, value: Buffer, flags: UpdateFlag = 'any'): void {
    this.checkKey(key, 'update');
    this.notPerCpu('update');
    this.checkValue(value, 'update');
    const fl = UPDATE_FLAGS[flags];
    if (fl === undefined) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: update flag "${flags}" is not any|noexist|exist`);
    const r = bpf.map_update_elem(this.fd, key, value, fl) as number;
    if (r < 0) this.fail(`update (${flags})`, r);
  }

  /** Writes one value per possible CPU (all of them: the kernel takes the whole array). */
  updatePerCpu(key: Buffer, values: Buffer[], flags: UpdateFlag = 'any'): void {
    this.checkKey(key, 'updatePerCpu');
    if (!this.perCpu) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: updatePerCpu on ${typeName(this.type)}, not a per-CPU map`);
    const n = possibleCpus();
    if (values.length !== n) throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: updatePerCpu: ${values.length} values for ${n} possible CPUs`);
    const slot = round8(this.valueSize);
    const raw = Buffer.alloc(slot * n);
    values.forEach((v, i) => { this.checkValue(v, `updatePerCpu cpu ${i}`); v.copy(raw, i * slot); });
    const r = bpf.map_update_elem(this.fd, key, raw, UPDATE_FLAGS[flags]) as number;
    if (r < 0) this.fail(`update (${flags})`, r);
  }

  /** false when the key was absent. Arrays cannot delete (EINVAL → E_BPF_MAP_OP). */
  delete(key: Buffer): boolean {
    this.checkKey(key, 'delete');
    const r = bpf.map_delete_elem(this.fd, key) as number;
    if (r === -ENOENT) return false;
    if (r < 0) this.fail('delete', r);
    return true;
  }

  /** Every key, by bpf_map_get_next_key. Entries deleted meanwhile may restart a hash walk (kernel behaviour). */
  *keys(): Generator<Buffer> {
    let prev: Buffer | null = null;
    for (;;) {
      const next = Buffer.alloc(this.keySize);
      const r = bpf.map_get_next_key(this.fd, prev, next) as number;
      if (r === -ENOENT) return;
      if (r < 0) this.fail('get_next_key', r);
      yield next;
      prev = next;
    }
  }

  /** [key, value] pairs; per-CPU maps yield their values concatenated in 8-byte slots (see splitPerCpu via lookupPerCpu). */
  *entries(): Generator<[Buffer, Buffer]> {
    for (const k of this.keys()) {
      const raw = Buffer.alloc(this.valueBytes);
      const r = bpf.map_lookup_elem(this.fd, k, raw) as number;
      if (r === -ENOENT) continue; // deleted between next_key and lookup
      if (r < 0) this.fail('lookup', r);
      yield [k, raw];
    }
  }

  /** Whole map through BPF_MAP_LOOKUP_BATCH. Per-CPU values come concatenated, as in entries(). */
  lookupBatch(): Array<[Buffer, Buffer]> {
    const { keys, values, count } = this.lookupBatchRaw();
    const vb = this.valueBytes;
    const res: Array<[Buffer, Buffer]> = [];
    for (let i = 0; i < count; i++) {
      res.push([Buffer.from(keys.subarray(i * this.keySize, (i + 1) * this.keySize)), Buffer.from(values.subarray(i * vb, (i + 1) * vb))]);
    }
    return res;
  }

  /**
   * Like lookupBatch, but into contiguous buffers: `keys` holds `count` keys back to back and
   * `values` their values (per-CPU maps: every CPU's slot, 8-byte aligned). For reading a whole
   * array of counters without one Buffer per entry.
   */
  lookupBatchRaw(): { keys: Buffer; values: Buffer; count: number } {
    const keyParts: Buffer[] = [];
    const valParts: Buffer[] = [];
    let total = 0;
    for (const c of this.lookupBatchChunks()) {
      keyParts.push(c.keys);
      valParts.push(c.values);
      total += c.count;
    }
    return { keys: Buffer.concat(keyParts), values: Buffer.concat(valParts), count: total };
  }

  /**
   * The map through BPF_MAP_LOOKUP_BATCH, one chunk of at most `chunk` entries at a time (more
   * only when one hash bucket holds more: the kernel cannot split a bucket, ENOSPC, and the chunk
   * grows to fit it). Each chunk's `keys`/`values` are fresh buffers holding `count` entries back
   * to back, laid out as in lookupBatchRaw. Nothing is read before the consumer asks for the next
   * chunk, so memory stays one chunk whatever the map's size. Like any walk of a live hash map,
   * entries added or deleted meanwhile may be missed (never seen twice within one bucket).
   */
  *lookupBatchChunks(chunk = 8192): Generator<{ keys: Buffer; values: Buffer; count: number }> {
    if (!Number.isInteger(chunk) || chunk < 1) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: lookupBatchChunks: chunk ${chunk} must be a positive integer`);
    const vb = this.valueBytes;
    let size = Math.min(this.maxEntries, chunk);
    // The batch cursor is opaque; hash maps use a u32 bucket index, arrays a key (bpf(2)).
    const tokenSize = Math.max(this.keySize, 8);
    let inTok: Buffer | null = null;
    const outTok = Buffer.alloc(tokenSize);
    const opts = batchOpts();
    const count = Buffer.alloc(4);
    for (;;) {
      const keys = Buffer.alloc(size * this.keySize);
      const vals = Buffer.alloc(size * vb);
      count.writeUInt32LE(size);
      const r = bpf.map_lookup_batch(this.fd, inTok, outTok, keys, vals, count, opts) as number;
      if (r < 0 && r !== -ENOENT) {
        // A hash bucket larger than the chunk (ENOSPC): retry the same position with room for it.
        if (r === -ENOSPC && size < this.maxEntries) { size = Math.min(this.maxEntries, size * 2); continue; }
        this.batchFail('lookup_batch', r);
      }
      const n = count.readUInt32LE();
      if (n > 0) yield { keys: keys.subarray(0, n * this.keySize), values: vals.subarray(0, n * vb), count: n };
      if (r === -ENOENT) return;
      inTok = Buffer.from(outTok);
    }
  }

  /** BPF_MAP_UPDATE_BATCH; per-CPU maps take each value as all CPUs' slots concatenated. */
  updateBatch(keys: Buffer[], values: Buffer[]): void {
    if (keys.length !== values.length) throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: updateBatch: ${keys.length} keys but ${values.length} values`);
    if (keys.length === 0) return;
    const vb = this.valueBytes;
    keys.forEach((k, i) => this.checkKey(k, `updateBatch key ${i}`));
    values.forEach((v, i) => this.checkValue(v, `updateBatch value ${i}`, vb));
    const kb = Buffer.concat(keys);
    const vbuf = Buffer.concat(values);
    const count = Buffer.alloc(4);
    count.writeUInt32LE(keys.length);
    const r = bpf.map_update_batch(this.fd, kb, vbuf, count, batchOpts()) as number;
    if (r < 0) this.batchFail(`update_batch (${count.readUInt32LE()} of ${keys.length} written)`, r);
  }

  /**
   * BPF_MAP_UPDATE_BATCH from contiguous buffers: `keys` holds N keys back to back, `values` N
   * values (per-CPU maps: N × CPUs slots). For bulk fills (a whole Maglev table) where building
   * N small buffers would cost more than the syscall.
   */
  updateBatchRaw(keys: Buffer, values: Buffer): void {
    const n = keys.length / this.keySize;
    if (!Number.isInteger(n) || n === 0) throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: updateBatchRaw: ${keys.length} key bytes is not a whole number of ${this.keySize}-byte keys`);
    if (values.length !== n * this.valueBytes) {
      throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: updateBatchRaw: ${values.length} value bytes for ${n} keys, expected ${n * this.valueBytes}`);
    }
    const count = Buffer.alloc(4);
    count.writeUInt32LE(n);
    const r = bpf.map_update_batch(this.fd, keys, values, count, batchOpts()) as number;
    if (r < 0) {
      const err = this.batchError(`update_batch (${count.readUInt32LE()} of ${n} written)`, r);
      (err as XlvsError & { written?: number }).written = count.readUInt32LE();
      throw err;
    }
  }

  /** BPF_MAP_DELETE_BATCH; fails (ENOENT) on a key that is absent, after deleting the ones before it. */
  deleteBatch(keys: Buffer[]): void {
    if (keys.length === 0) return;
    keys.forEach((k, i) => this.checkKey(k, `deleteBatch key ${i}`));
    const count = Buffer.alloc(4);
    count.writeUInt32LE(keys.length);
    const r = bpf.map_delete_batch(this.fd, Buffer.concat(keys), count, batchOpts()) as number;
    if (r < 0) this.batchFail(`delete_batch (${count.readUInt32LE()} of ${keys.length} deleted)`, r);
  }

  private batchFail(op: string, r: number): never {
    throw this.batchError(op, r);
  }

  private batchError(op: string, r: number): XlvsError {
    const unsupported = r === -22 || r === -95 || r === -524;
    return new XlvsError(ErrorCodes.BPF_MAP_OP,
      `map ${this.name}: ${op} failed${unsupported ? ` (${typeName(this.type)} may not support batch operations)` : ''}`, { errno: -r });
  }

  /**
   * Writes a whole ARRAY created with BPF_F_MMAPABLE through a shared mapping of its fd: one
   * memcpy instead of the kernel copying element by element (BPF_MAP_UPDATE_BATCH on an array
   * costs ~250 ns per element here: 16 ms for a 65538-slot Maglev table). `data` is laid out as
   * the kernel keeps the array, one element every round8(valueSize) bytes (kernel/bpf/
   * arraymap.c, elem_size). No BPF program may be reading the array while it is written: use
   * it on a map not yet visible to one (an inner map before it is placed in its outer map).
   */
  writeAllMmapped(data: Buffer): void {
    if (this.type !== MapType.ARRAY || !(this.flags & MAP_F_MMAPABLE)) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: writeAllMmapped needs an ARRAY created with BPF_F_MMAPABLE`);
    }
    const want = this.maxEntries * round8(this.valueSize);
    if (!Buffer.isBuffer(data) || data.length !== want) {
      throw new XlvsError(ErrorCodes.BPF_KEY_SIZE, `map ${this.name}: writeAllMmapped: ${Buffer.isBuffer(data) ? data.length : typeof data} bytes, the array holds ${want} (${this.maxEntries} x ${round8(this.valueSize)})`);
    }
    const addr = c.mmap(null, want, PROT_READ | PROT_WRITE, MAP_SHARED, this.fd, 0);
    if (!addr || koffi.address(addr) === MAP_FAILED) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: mmap of ${want} bytes failed`, { errno: lastErrno() });
    }
    try {
      c.memcpy(addr, data, want);
    } finally {
      c.munmap(addr, want);
    }
  }

  /**
   * Reads a whole ARRAY created with BPF_F_MMAPABLE through a read-only shared mapping, in chunks
   * of `chunk` elements laid out as lookupBatchChunks gives values (one every round8(valueSize)
   * bytes); `keys` is empty, the elements being ids first..first+count-1 in order. Each chunk is
   * a copy taken while mapped, so it stays valid after the mapping goes (when the generator
   * ends or is returned early). BPF_MAP_LOOKUP_BATCH copies an array element by element: a
   * 1M-element array took about a second that way, a few milliseconds through the mapping.
   * Programs may be writing meanwhile: an element may be read mid-write, as any reader can.
   */
  *mmappedChunks(chunk = 65536): Generator<{ keys: Buffer; values: Buffer; count: number }> {
    if (this.type !== MapType.ARRAY || !(this.flags & MAP_F_MMAPABLE)) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: mmappedChunks needs an ARRAY created with BPF_F_MMAPABLE`);
    }
    if (!Number.isInteger(chunk) || chunk < 1) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: mmappedChunks: chunk ${chunk} must be a positive integer`);
    const elem = round8(this.valueSize);
    const total = this.maxEntries * elem;
    const addr = c.mmap(null, total, PROT_READ, MAP_SHARED, this.fd, 0);
    if (!addr || koffi.address(addr) === MAP_FAILED) {
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: mmap of ${total} bytes failed`, { errno: lastErrno() });
    }
    try {
      const all = Buffer.from(koffi.view(addr, total));
      for (let first = 0; first < this.maxEntries; first += chunk) {
        const n = Math.min(chunk, this.maxEntries - first);
        yield { keys: Buffer.alloc(0), values: Buffer.from(all.subarray(first * elem, (first + n) * elem)), count: n };
      }
    } finally {
      c.munmap(addr, total);
    }
  }

  /** Outer ARRAY_OF_MAPS/HASH_OF_MAPS: store the inner map (the kernel takes its fd, keeps a reference). */
  setInner(key: Buffer, inner: BpfMap | number): void {
    if (!MAP_IN_MAP_TYPES.has(this.type)) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `map ${this.name}: setInner on ${typeName(this.type)}, not a map-in-map`);
    this.checkKey(key, 'setInner');
    const v = Buffer.alloc(4);
    v.writeUInt32LE(typeof inner === 'number' ? inner : inner.fd);
    const r = bpf.map_update_elem(this.fd, key, v, 0) as number;
    if (r < 0) this.fail('setInner', r);
  }

  /** For a map-in-map, the kernel id of the inner map at `key`, or null. */
  innerId(key: Buffer): number | null {
    const v = this.lookup(key);
    return v ? v.readUInt32LE(0) : null;
  }

  pin(path: string): void { pinFd(this.fd, path, `map ${this.name}`); }
  unpin(path: string): void { unpinPath(path, `map ${this.name}`); }

  close(): void {
    if (this._fd >= 0 && this.owned) c.close(this._fd);
    this._fd = -1;
  }
}

function batchOpts(): Buffer {
  // struct bpf_map_batch_opts (bpf.h): sz, elem_flags, flags
  const o = Buffer.alloc(24);
  o.writeBigUInt64LE(24n, 0);
  return o;
}

function resolveType(t: number | string): number {
  if (typeof t === 'number') return t;
  const v = (MapType as Record<string, number>)[t.toUpperCase()];
  if (v === undefined) throw new XlvsError(ErrorCodes.BPF_MAP_OP, `unknown map type "${t}" (one of ${Object.keys(MapType).join(', ')})`);
  return v;
}

/** Reads map type/sizes/name of an fd; fails unless the fd is a map (fdinfo carries `map_type:`). */
export function mapInfoByFd(fd: number, where: string): MapInfo {
  let fdinfo = '';
  try { fdinfo = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { /* checked below */ }
  if (!/^map_type:/m.test(fdinfo)) throw new XlvsError(ErrorCodes.BPF_NO_MAP, `${where} is not a BPF map`);
  // struct bpf_map_info (uapi/linux/bpf.h): type@0 id@4 key_size@8 value_size@12 max_entries@16
  // map_flags@20 name[16]@24 …; the kernel fills what it knows of the length we pass.
  const info = Buffer.alloc(96);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length);
  check(bpf.obj_get_info_by_fd(fd, info, len) as number, ErrorCodes.BPF_NO_MAP, `${where}: map info`);
  const nameRaw = info.subarray(24, 40);
  const nul = nameRaw.indexOf(0);
  return {
    fd,
    type: info.readUInt32LE(0),
    keySize: info.readUInt32LE(8),
    valueSize: info.readUInt32LE(12),
    maxEntries: info.readUInt32LE(16),
    flags: info.readUInt32LE(20),
    name: nameRaw.toString('utf8', 0, nul < 0 ? 16 : nul),
  };
}
