// BpfObject: a compiled BPF ELF through its life — open, set load-time constants, adopt pinned
// maps, load (quoting the verifier on failure), hand out programs and maps, close.
import * as fs from 'node:fs';
import { XlvsError, ErrorCodes } from '../errors';
import { bpf, c, koffi } from './ffi';
import { captureLibbpf } from './log';
import { BpfMap, mapInfoByFd } from './map';
import { BpfProgram } from './program';
import { findDatasecVar } from './btf';

type State = 'opened' | 'loaded' | 'failed' | 'closed';

/** Lines of the verifier log kept in an E_BPF_LOAD message (cilium/ebpf VerifierError keeps the tail too). */
const VERIFIER_TAIL_LINES = 20;

export class BpfObject {
  readonly path: string;
  private obj: unknown;
  private state: State = 'opened';
  private handed: Array<BpfMap | BpfProgram> = [];

  private constructor(path: string, obj: unknown) {
    this.path = path;
    this.obj = obj;
  }

  /** bpf_object__open_file: parses the ELF and BTF; nothing reaches the kernel yet. */
  static open(path: string): BpfObject {
    let st: fs.Stats;
    try {
      st = fs.statSync(path);
    } catch {
      throw new XlvsError(ErrorCodes.BPF_OPEN, `BPF object ${path}: no such file (build it with make build)`, { errno: 2 });
    }
    if (!st.isFile()) throw new XlvsError(ErrorCodes.BPF_OPEN, `BPF object ${path}: not a regular file`);
    const { result, lines } = captureLibbpf(() => bpf.object_open_file(path, null));
    if (!result) {
      const err = koffi.errno() || 22;
      throw new XlvsError(ErrorCodes.BPF_OPEN, `BPF object ${path}: cannot open (not a BPF ELF object?)`, {
        errno: err, details: lines.filter((l) => !/^libbpf: elf: skipping/.test(l)).slice(-5),
      });
    }
    return new BpfObject(path, result);
  }

  private live(op: string, need?: 'opened' | 'loaded'): void {
    if (this.state === 'closed') throw new XlvsError(ErrorCodes.BPF_STATE, `${this.path}: ${op} after close()`);
    if (this.state === 'failed') throw new XlvsError(ErrorCodes.BPF_STATE, `${this.path}: ${op} after a failed load(); close() and open again`);
    if (need === 'opened' && this.state !== 'opened') throw new XlvsError(ErrorCodes.BPF_STATE, `${this.path}: ${op} must come before load()`);
    if (need === 'loaded' && this.state !== 'loaded') throw new XlvsError(ErrorCodes.BPF_STATE, `${this.path}: ${op} needs load() first`);
  }

  private rawMaps(): Array<{ ptr: unknown; name: string }> {
    const out: Array<{ ptr: unknown; name: string }> = [];
    for (let m = bpf.object_next_map(this.obj, null); m; m = bpf.object_next_map(this.obj, m)) {
      out.push({ ptr: m, name: bpf.map_name(m) as string });
    }
    return out;
  }

  private rawPrograms(): Array<{ ptr: unknown; name: string }> {
    const out: Array<{ ptr: unknown; name: string }> = [];
    for (let p = bpf.object_next_program(this.obj, null); p; p = bpf.object_next_program(this.obj, p)) {
      out.push({ ptr: p, name: bpf.program_name(p) as string });
    }
    return out;
  }

  programNames(): string[] {
    this.live('programNames');
    return this.rawPrograms().map((p) => p.name);
  }

  /** Every map, including libbpf's internal ones (`<obj>.rodata`, `.bss`, …). */
  mapNames(): string[] {
    this.live('mapNames');
    return this.rawMaps().map((m) => m.name);
  }

  private findMap(name: string): unknown {
    const maps = this.rawMaps();
    const m = maps.find((x) => x.name === name);
    if (!m) {
      throw new XlvsError(ErrorCodes.BPF_NO_MAP, `map "${name}" is not in ${this.path} (maps: ${maps.map((x) => x.name).join(', ') || 'none'})`);
    }
    return m.ptr;
  }

  /**
   * Sets a `const volatile` global (in .rodata) before load. The variable is found by name in the
   * object's BTF DATASEC ".rodata" (offset and size), and written into the map's initial value.
   * A number/bigint is stored little-endian in the variable's size; a Buffer must match it exactly.
   */
  setConst(name: string, value: Buffer | number | bigint): void {
    this.live('setConst', 'opened');
    const btf = bpf.object_btf(this.obj);
    if (!btf) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: ${this.path} has no BTF (compile with -g)`);
    const v = findDatasecVar(btf, '.rodata', name);
    if ('missing' in v) {
      throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst: no const volatile "${name}" in .rodata of ${this.path} (has: ${v.missing.join(', ') || 'none'})`);
    }
    const bytes = encodeConst(name, value, v.size);
    const rodata = this.rawMaps().find((m) => (bpf.map_is_internal(m.ptr) as boolean) && m.name.endsWith('.rodata'));
    if (!rodata) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: ${this.path} has no .rodata map`);
    const psize = Buffer.alloc(8);
    const ptr = bpf.map_initial_value(rodata.ptr, psize);
    const size = Number(psize.readBigUInt64LE(0));
    if (!ptr || v.offset + v.size > size) {
      throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: .rodata image (${size} bytes) does not hold offset ${v.offset}+${v.size}`);
    }
    const image = Buffer.alloc(size); // a copy: view() aliases libbpf's memory
    Buffer.from(koffi.view(ptr, size)).copy(image);
    bytes.copy(image, v.offset);
    const r = bpf.map_set_initial_value(rodata.ptr, image, size) as number;
    if (r < 0) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: bpf_map__set_initial_value failed`, { errno: -r });
  }

  /** Before load: the map's max_entries (a table sized at run time; reuseMap compares it too). */
  setMaxEntries(mapName: string, n: number): void {
    this.live('setMaxEntries', 'opened');
    const r = bpf.map_set_max_entries(this.findMap(mapName), n) as number;
    if (r < 0) throw new XlvsError(ErrorCodes.BPF_LOAD, `setMaxEntries ${mapName} ${n}: bpf_map__set_max_entries failed`, { errno: -r });
  }

  /**
   * Before load: use the map pinned at `pinnedPath` instead of creating `mapName` (adopting state
   * after a restart). Type, key, value size and max_entries must match the object's definition.
   */
  reuseMap(mapName: string, pinnedPath: string): void {
    this.live('reuseMap', 'opened');
    const m = this.findMap(mapName);
    const fd = bpf.obj_get(pinnedPath) as number;
    if (fd < 0) throw new XlvsError(ErrorCodes.BPF_PIN, `reuseMap ${mapName}: no pinned map at ${pinnedPath}`, { errno: -fd });
    try {
      const info = mapInfoByFd(fd, pinnedPath);
      const want = {
        type: bpf.map_type(m) as number, keySize: bpf.map_key_size(m) as number,
        valueSize: bpf.map_value_size(m) as number, maxEntries: bpf.map_max_entries(m) as number,
      };
      for (const k of Object.keys(want) as Array<keyof typeof want>) {
        if (info[k] !== want[k]) {
          throw new XlvsError(ErrorCodes.BPF_PIN, `reuseMap ${mapName}: pinned map ${pinnedPath} has ${k} ${info[k]}, the object wants ${want[k]}`);
        }
      }
      const r = bpf.map_reuse_fd(m, fd) as number; // dups fd
      if (r < 0) throw new XlvsError(ErrorCodes.BPF_PIN, `reuseMap ${mapName}: bpf_map__reuse_fd(${pinnedPath}) failed`, { errno: -r });
    } finally {
      c.close(fd);
    }
  }

  /**
   * bpf_object__load: creates maps and loads every program. On failure the kernel keeps nothing
   * (libbpf unloads what it created) and the error quotes the tail of the verifier log.
   */
  load(): void {
    this.live('load', 'opened');
    const { result, lines } = captureLibbpf(() => bpf.object_load(this.obj) as number);
    const r = result ?? -22;
    if (r >= 0) {
      this.state = 'loaded';
      return;
    }
    this.state = 'failed';
    const { prog, log } = verifierLog(lines);
    const details = log.length
      ? ['verifier log (last lines):', ...log.slice(-VERIFIER_TAIL_LINES)]
      : lines.filter((l) => /^libbpf:/.test(l)).slice(-VERIFIER_TAIL_LINES);
    throw new XlvsError(ErrorCodes.BPF_LOAD, `load ${this.path}${prog ? ` (program ${prog})` : ''} failed`, { errno: -r, details });
  }

  program(name: string): BpfProgram {
    this.live('program', 'loaded');
    const all = this.rawPrograms();
    const p = all.find((x) => x.name === name);
    if (!p) {
      throw new XlvsError(ErrorCodes.BPF_NO_PROGRAM, `program "${name}" is not in ${this.path} (programs: ${all.map((x) => x.name).join(', ') || 'none'})`);
    }
    const prog = new BpfProgram(name, bpf.program_fd(p.ptr) as number, false);
    this.handed.push(prog);
    return prog;
  }

  map(name: string): BpfMap {
    this.live('map', 'loaded');
    const m = this.findMap(name);
    const map = new BpfMap({
      name, fd: bpf.map_fd(m) as number, type: bpf.map_type(m) as number, keySize: bpf.map_key_size(m) as number,
      valueSize: bpf.map_value_size(m) as number, maxEntries: bpf.map_max_entries(m) as number, flags: bpf.map_flags(m) as number,
    }, false);
    this.handed.push(map);
    return map;
  }

  /** bpf_object__close: closes every fd of the object. Pinned maps and programs stay in the kernel. */
  close(): void {
    if (this.state === 'closed') return;
    for (const h of this.handed) h.close();
    this.handed = [];
    bpf.object_close(this.obj);
    this.obj = null;
    this.state = 'closed';
  }
}

function encodeConst(name: string, value: Buffer | number | bigint, size: number): Buffer {
  if (Buffer.isBuffer(value)) {
    if (value.length !== size) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: value is ${value.length} bytes, the variable is ${size}`);
    return value;
  }
  if (![1, 2, 4, 8].includes(size)) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: a ${size}-byte variable takes a Buffer, not a number`);
  if (typeof value === 'number' && !Number.isInteger(value)) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: ${value} is not an integer`);
  const v = BigInt(value);
  const bits = BigInt(size * 8);
  // Accept both the signed and unsigned range of the variable's width.
  if (v < -(1n << (bits - 1n)) || v >= 1n << bits) throw new XlvsError(ErrorCodes.BPF_RODATA, `setConst ${name}: ${value} does not fit in ${size} bytes`);
  const b = Buffer.alloc(8);
  b.writeBigUInt64LE(BigInt.asUintN(64, v));
  return b.subarray(0, size);
}

/** The program name and lines between libbpf's "-- BEGIN PROG LOAD LOG --" and "-- END PROG LOAD LOG --". */
function verifierLog(lines: string[]): { prog?: string; log: string[] } {
  let prog: string | undefined;
  let log: string[] = [];
  let inside = false;
  for (const l of lines) {
    const begin = /prog '([^']+)': -- BEGIN PROG LOAD LOG --/.exec(l);
    if (begin) { prog = begin[1]; log = []; inside = true; continue; }
    if (/-- END PROG LOAD LOG --/.test(l)) { inside = false; continue; }
    if (inside) log.push(l);
  }
  if (!prog) {
    const failed = lines.map((l) => /prog '([^']+)': failed to load/.exec(l)).find(Boolean);
    if (failed) prog = failed[1];
  }
  return { prog, log: log.filter((l) => l.trim() !== '') };
}
