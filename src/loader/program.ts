// BpfProgram: one loaded program by fd — from an object or a pin — with pinning and
// BPF_PROG_TEST_RUN.
import * as fs from 'node:fs';
import { XlvsError, ErrorCodes } from '../errors';
import { bpf, c, koffi } from './ffi';
import { check } from './fail';
import { pinFd, unpinPath } from './pin';

export interface TestRunOptions {
  /** Run the program this many times on the (rewritten) buffer; duration is the kernel's average. */
  repeat?: number;
  /** Room for the output packet; default input length + 256 (room for encapsulation headers). */
  dataOutSize?: number;
  /** Context in (for XDP: struct xdp_md, e.g. ingress_ifindex / rx_queue_index). */
  ctxIn?: Buffer;
}

/**
 * struct xdp_md for TestRunOptions.ctxIn: data 0, data_end = the frame's length, and the
 * ingress interface (uapi/linux/bpf.h), which bpf_fib_lookup starts from.
 */
export function xdpCtx(len: number, ifindex: number): Buffer {
  const b = Buffer.alloc(24);
  b.writeUInt32LE(len, 4);
  b.writeUInt32LE(ifindex, 12);
  return b;
}

export interface TestRunResult {
  retval: number;
  data: Buffer;
  /** Kernel-reported average ns per run (bpf_test_run_opts.duration). */
  duration: number;
}

export class BpfProgram {
  readonly name: string;
  private _fd: number;
  private readonly owned: boolean;

  /** @internal use BpfObject.program() or BpfProgram.openPinned(). */
  constructor(name: string, fd: number, owned: boolean) {
    this.name = name;
    this._fd = fd;
    this.owned = owned;
  }

  get fd(): number {
    if (this._fd < 0) throw new XlvsError(ErrorCodes.BPF_STATE, `program ${this.name}: used after close`);
    return this._fd;
  }

  /** Opens a loaded program by its kernel id (one attached to an interface, say). */
  static openById(id: number): BpfProgram {
    const fd = bpf.prog_get_fd_by_id(id) as number;
    if (fd < 0) throw new XlvsError(ErrorCodes.BPF_NO_PROGRAM, `no BPF program with id ${id}`, { errno: -fd });
    try {
      return new BpfProgram(progInfoByFd(fd, `program id ${id}`).name, fd, true);
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }

  /** Opens a pinned program; its name comes from the kernel (bpf_prog_info.name, 15 chars at most). */
  static openPinned(path: string): BpfProgram {
    const fd = bpf.obj_get(path) as number;
    if (fd < 0) throw new XlvsError(ErrorCodes.BPF_NO_PROGRAM, `no pinned program at ${path}`, { errno: -fd });
    try {
      let fdinfo = '';
      try { fdinfo = fs.readFileSync(`/proc/self/fdinfo/${fd}`, 'utf8'); } catch { /* checked below */ }
      if (!/^prog_type:/m.test(fdinfo)) throw new XlvsError(ErrorCodes.BPF_NO_PROGRAM, `${path} is not a BPF program`);
      return new BpfProgram(progInfoByFd(fd, path).name, fd, true);
    } catch (e) {
      c.close(fd);
      throw e;
    }
  }

  /** bpf_prog_info.tag in hex: equal for two loads of the same instructions, whatever maps they use. */
  get tag(): string {
    return progInfoByFd(this.fd, `program ${this.name}`).tag;
  }

  /** Kernel id of this program (bpf_prog_info.id), as queryXdp reports it. */
  get id(): number {
    return progInfoByFd(this.fd, `program ${this.name}`).id;
  }

  /**
   * BPF_PROG_TEST_RUN (bpf_prog_test_run_opts). Runs on the calling thread's CPU (docs/lab-notes.md): pin
   * the thread with pinThreadToCpu() when per-CPU state matters.
   */
  testRun(data: Buffer, opts: TestRunOptions = {}): TestRunResult {
    if (!Buffer.isBuffer(data) || data.length === 0) {
      throw new XlvsError(ErrorCodes.BPF_TEST_RUN, `program ${this.name}: testRun needs a non-empty packet Buffer`);
    }
    const repeat = opts.repeat ?? 1;
    if (!Number.isInteger(repeat) || repeat < 1) throw new XlvsError(ErrorCodes.BPF_TEST_RUN, `program ${this.name}: repeat ${repeat} must be a positive integer`);
    const out = Buffer.alloc(opts.dataOutSize ?? data.length + 256);
    const input = data;
    // struct bpf_test_run_opts (bpf.h, libbpf 1.1): sz@0, data_in@8, data_out@16,
    // data_size_in@24, data_size_out@28, ctx_in@32, ctx_out@40, ctx_size_in@48, ctx_size_out@52,
    // retval@56, repeat@60, duration@64, flags@68, cpu@72, batch_size@76; 80 bytes.
    const o = Buffer.alloc(80);
    o.writeBigUInt64LE(80n, 0);
    o.writeBigUInt64LE(koffi.address(input), 8);
    o.writeBigUInt64LE(koffi.address(out), 16);
    o.writeUInt32LE(input.length, 24);
    o.writeUInt32LE(out.length, 28);
    if (opts.ctxIn) {
      o.writeBigUInt64LE(koffi.address(opts.ctxIn), 32);
      o.writeUInt32LE(opts.ctxIn.length, 48);
    }
    o.writeInt32LE(repeat, 60);
    const r = bpf.prog_test_run_opts(this.fd, o) as number;
    check(r, ErrorCodes.BPF_TEST_RUN, `program ${this.name}: BPF_PROG_TEST_RUN on ${input.length} bytes`);
    const outLen = o.readUInt32LE(28);
    return { retval: o.readUInt32LE(56), data: Buffer.from(out.subarray(0, outLen)), duration: o.readUInt32LE(64) };
  }

  pin(path: string): void { pinFd(this.fd, path, `program ${this.name}`); }
  unpin(path: string): void { unpinPath(path, `program ${this.name}`); }

  close(): void {
    if (this._fd >= 0 && this.owned) c.close(this._fd);
    this._fd = -1;
  }
}

/** struct bpf_prog_info (uapi/linux/bpf.h): type@0 id@4 tag[8]@8 … name[16]@64. */
export function progInfoByFd(fd: number, where: string): { id: number; type: number; name: string; tag: string } {
  const info = Buffer.alloc(232);
  const len = Buffer.alloc(4);
  len.writeUInt32LE(info.length);
  check(bpf.obj_get_info_by_fd(fd, info, len) as number, ErrorCodes.BPF_NO_PROGRAM, `${where}: program info`);
  const raw = info.subarray(64, 80);
  const nul = raw.indexOf(0);
  // struct bpf_prog_info: type@0, id@4, tag[8]@8 (a digest of the instructions with map
  // references zeroed: the same object loaded twice has the same tag), name[16]@64.
  return { type: info.readUInt32LE(0), id: info.readUInt32LE(4), tag: info.subarray(8, 16).toString('hex'), name: raw.toString('utf8', 0, nul < 0 ? 16 : nul) };
}
