// What `xlvs doctor` may look at on a machine, as one injected "system view": file reads, a
// command runner and a few kernel probes. The checks (checks.ts) take a SystemView and nothing
// else, so tests feed them fake machines; `realSystem()` is the machine doctor runs on.
// Everything here reads; the one probe that changes anything (`tryNativeAttach`) runs only inside
// a named network namespace (`ip netns exec`) and only when the operator asks (--try-attach).
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { run } from '../sys/exec';
import { BpfMap, BpfObject, attachXdp, detachXdp, possibleCpus, queryXdp } from '../loader';
import { bpfObject } from '../paths';
import { isXlvsError } from '../errors';

/** A probe's answer: it worked (with what it saw), or why not. */
export type Probe<T = string> = { ok: true; value: T } | { ok: false; error: string; errno?: number };

export interface CommandResult { status: number; stdout: string; stderr: string }

export interface KernelProbe {
  /** uname -r. */
  release(): string;
  /** bpf(2) usable: create and free a one-entry array map. */
  bpfSyscall(): Probe;
  /** Load (verify) the trivial xdp_pass program, then unload it. */
  loadXdp(): Probe;
  /** libbpf_num_possible_cpus: how many per-CPU LRU lists lb_conns has. */
  possibleCpus(): number;
  /** Ids of the XDP programs attached to `ifname` (read-only query). */
  xdpAttached(ifname: string): Probe<{ native?: number; generic?: number }>;
  /**
   * The `ip netns` name of the network namespace this process runs in (a bind mount under
   * /run/netns of the same inode), or null: the machine's own namespace, or one doctor cannot name.
   */
  namedNetns(): string | null;
  /** Attach xdp_pass in native mode to `ifname` and detach it again; only in a named namespace. */
  tryNativeAttach(ifname: string): Probe;
}

export interface SystemView {
  /** A file's text, or null when it is absent or unreadable. */
  readFile(p: string): string | null;
  /** Target of a symbolic link, or null. */
  readlink(p: string): string | null;
  /** Entries of a directory, or null when it is absent. */
  readdir(p: string): string[] | null;
  exists(p: string): boolean;
  /** Runs a command by argv; null when the program is not installed. Never throws. */
  command(argv: string[]): CommandResult | null;
  kernel: KernelProbe;
}

const SBIN = ['/usr/local/sbin', '/usr/sbin', '/sbin', '/usr/local/bin', '/usr/bin', '/bin'];

/** Absolute path of `name` from PATH (plus the sbin directories root's PATH may lack), or null. */
function which(name: string): string | null {
  if (name.includes('/')) return fs.existsSync(name) ? name : null;
  const dirs = [...(process.env.PATH ?? '').split(':').filter(Boolean), ...SBIN];
  for (const d of dirs) {
    const p = path.join(d, name);
    try {
      fs.accessSync(p, fs.constants.X_OK);
      return p;
    } catch { /* next */ }
  }
  return null;
}

function probeError(e: unknown): { ok: false; error: string; errno?: number } {
  if (isXlvsError(e)) return { ok: false, error: e.message.split('\n')[0], errno: e.errno };
  return { ok: false, error: (e as Error).message };
}

function nsId(p: string): string | null {
  try {
    const st = fs.statSync(p);
    return `${st.dev}:${st.ino}`;
  } catch {
    return null;
  }
}

const NETNS_DIR = '/run/netns';

export const realKernel: KernelProbe = {
  release: () => os.release(),
  bpfSyscall() {
    try {
      const m = BpfMap.create({ type: 'array', name: 'xlvs_doctor', keySize: 4, valueSize: 4, maxEntries: 1 });
      m.close();
      return { ok: true, value: 'created and freed a BPF array map' };
    } catch (e) {
      return probeError(e);
    }
  },
  loadXdp() {
    let obj: BpfObject | null = null;
    try {
      obj = BpfObject.open(bpfObject('xdp_pass'));
      obj.load();
      return { ok: true, value: `loaded ${path.basename(obj.path)} (program xdp_pass) and unloaded it` };
    } catch (e) {
      return probeError(e);
    } finally {
      obj?.close();
    }
  },
  possibleCpus: () => possibleCpus(),
  xdpAttached(ifname) {
    try {
      return { ok: true, value: queryXdp(ifname) };
    } catch (e) {
      return probeError(e);
    }
  },
  namedNetns() {
    // Positive identification only (PID 1's namespace may not be readable, e.g. in a container):
    // a namespace is "not the machine's own" when `ip netns add` made it and we are in it.
    const self = nsId('/proc/self/ns/net');
    if (!self) return null;
    let names: string[] = [];
    try { names = fs.readdirSync(NETNS_DIR); } catch { return null; }
    return names.find((n) => nsId(path.join(NETNS_DIR, n)) === self) ?? null;
  },
  tryNativeAttach(ifname) {
    if (this.namedNetns() === null) return { ok: false, error: 'refused: not inside a named network namespace (`ip netns exec NS xlvs doctor --try-attach`); the machine\'s own interfaces are only read' };
    const present = this.xdpAttached(ifname);
    if (!present.ok) return present;
    if (present.value.native !== undefined || present.value.generic !== undefined) {
      return { ok: false, error: `refused: ${ifname} already has an XDP program` };
    }
    let obj: BpfObject | null = null;
    try {
      obj = BpfObject.open(bpfObject('xdp_pass'));
      obj.load();
      attachXdp(ifname, obj.program('xdp_pass'), { mode: 'native' });
      detachXdp(ifname, 'native');
      return { ok: true, value: `attached xdp_pass to ${ifname} in native mode and detached it` };
    } catch (e) {
      return probeError(e);
    } finally {
      obj?.close();
    }
  },
};

/** The machine this process runs on (in its network namespace). */
export function realSystem(): SystemView {
  return {
    readFile(p) {
      try {
        return fs.readFileSync(p, 'utf8');
      } catch {
        return null;
      }
    },
    readlink(p) {
      try {
        return fs.readlinkSync(p);
      } catch {
        return null;
      }
    },
    readdir(p) {
      try {
        return fs.readdirSync(p);
      } catch {
        return null;
      }
    },
    exists: (p) => fs.existsSync(p),
    command(argv) {
      const exe = which(argv[0]);
      if (!exe) return null;
      return run([exe, ...argv.slice(1)], { allowFail: true, timeoutMs: 10_000 });
    },
    kernel: realKernel,
  };
}
