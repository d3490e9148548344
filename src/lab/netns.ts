// Network namespaces, veth pairs and bridges through iproute2, for the lab and for tests.
// Every object created through a Netlab is recorded and removed by `cleanup()`, in reverse
// order, even when creation failed halfway. Nothing here touches the root namespace's links
// except the veth/bridge ends it created itself.
import { spawn, ChildProcess, SpawnOptions } from 'node:child_process';
import { XlvsError, ErrorCodes } from '../errors';

import { run, inNs, RunResult } from '../sys/exec';

export function nsExists(ns: string): boolean {
  return run(['ip', 'netns', 'list'], { allowFail: true }).stdout.split('\n').some((l) => l.split(' ')[0] === ns);
}

type Undo = () => void;

/**
 * A set of namespaces and links with one owner. Names are prefixed so parallel tests and the lab
 * never collide: `new Netlab('t1')` creates namespaces `t1-client`, `t1-dir1`, …
 */
export class Netlab {
  private undo: Undo[] = [];
  private procs: ChildProcess[] = [];
  constructor(readonly prefix: string) {
    if (!/^[a-z0-9][a-z0-9-]{0,7}$/.test(prefix)) {
      throw new XlvsError(ErrorCodes.USAGE, `netlab prefix "${prefix}" must be 1-8 of [a-z0-9-]`);
    }
  }

  name(short: string): string { return `${this.prefix}-${short}`; }

  /** Creates namespace `<prefix>-<short>` with lo up; removes a stale one of that name first. */
  addNs(short: string): string {
    const ns = this.name(short);
    if (nsExists(ns)) run(['ip', 'netns', 'del', ns], { allowFail: true });
    run(['ip', 'netns', 'add', ns]);
    this.undo.push(() => run(['ip', 'netns', 'del', ns], { allowFail: true }));
    run(inNs(ns, ['ip', 'link', 'set', 'lo', 'up']));
    return ns;
  }

  /** A bridge inside namespace `ns` (use a namespace, not the root, for lab bridges). */
  addBridge(ns: string, br: string): void {
    run(inNs(ns, ['ip', 'link', 'add', br, 'type', 'bridge']));
    run(inNs(ns, ['ip', 'link', 'set', br, 'type', 'bridge', 'stp_state', '0', 'forward_delay', '0']));
    run(inNs(ns, ['ip', 'link', 'set', br, 'up']));
  }

  /**
   * A veth pair: end A named `aName` in namespace `aNs`, end B named `bName` in `bNs`. Created in
   * `aNs` with a temporary peer name then moved, so the root namespace never holds it for long.
   */
  addVeth(aNs: string, aName: string, bNs: string, bName: string, opts: { mtu?: number; bMaster?: string } = {}): void {
    const tmp = `${this.prefix}t${this.undo.length}`.slice(0, 15);
    run(inNs(aNs, ['ip', 'link', 'add', aName, 'type', 'veth', 'peer', 'name', tmp]));
    run(inNs(aNs, ['ip', 'link', 'set', tmp, 'netns', bNs]));
    run(inNs(bNs, ['ip', 'link', 'set', tmp, 'name', bName]));
    if (opts.mtu) {
      run(inNs(aNs, ['ip', 'link', 'set', aName, 'mtu', String(opts.mtu)]));
      run(inNs(bNs, ['ip', 'link', 'set', bName, 'mtu', String(opts.mtu)]));
    }
    if (opts.bMaster) run(inNs(bNs, ['ip', 'link', 'set', bName, 'master', opts.bMaster]));
    run(inNs(aNs, ['ip', 'link', 'set', aName, 'up']));
    run(inNs(bNs, ['ip', 'link', 'set', bName, 'up']));
  }

  addAddr(ns: string, dev: string, cidr: string): void {
    run(inNs(ns, ['ip', 'addr', 'add', cidr, 'dev', dev]));
  }

  /** Runs a command inside `ns` and returns its output. */
  exec(ns: string, argv: string[], opts: { allowFail?: boolean; input?: string; timeoutMs?: number } = {}): RunResult {
    return run(inNs(ns, argv), opts);
  }

  /** Starts a long-running process inside `ns`; it is killed (by its PID) at cleanup. */
  spawn(ns: string, argv: string[], opts: SpawnOptions = {}): ChildProcess {
    const full = inNs(ns, argv);
    const p = spawn(full[0], full.slice(1), { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
    this.procs.push(p);
    return p;
  }

  /** Registers extra teardown (run before the namespaces are deleted). */
  onCleanup(fn: Undo): void { this.undo.push(fn); }

  /** Kills our processes by PID and removes everything this lab created, newest first. */
  async cleanup(): Promise<void> {
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try { process.kill(p.pid, 'SIGTERM'); } catch { /* already gone */ }
      }
    }
    await Promise.all(this.procs.map((p) => waitExit(p, 2000)));
    for (const p of this.procs) {
      if (p.exitCode === null && p.signalCode === null && p.pid) {
        try { process.kill(p.pid, 'SIGKILL'); } catch { /* already gone */ }
      }
    }
    this.procs = [];
    while (this.undo.length) {
      const fn = this.undo.pop()!;
      try { fn(); } catch { /* keep tearing down */ }
    }
  }
}

function waitExit(p: ChildProcess, ms: number): Promise<void> {
  if (p.exitCode !== null || p.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const t = setTimeout(resolve, ms);
    p.once('exit', () => { clearTimeout(t); resolve(); });
  });
}
