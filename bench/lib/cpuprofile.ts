// Where the machine's CPU went during one load run, by sampling (perf, Debian package
// `linux-perf`): `perf record -a -g` at PERF_HZ on every CPU for exactly the run (perf wraps the
// load client's command), then each sample is classified from its kernel call chain and PID:
//   - softirq:  the chain passes through the softirq handler (handle_softirqs / __do_softirq /
//               net_rx_action / run_ksoftirqd), whichever task it interrupted. The lab's packet
//               path (veth, bridge, TCP receive, XDP) runs here. Of it, `xdp_lb` is the samples
//               inside xlvs's XDP program itself (bpf_prog_<tag>_xdp_lb).
//   - a role:   otherwise, the task's PID (the director's process, the reals, …) or its command
//               name (`wrk`, the client);
//   - idle:     the idle task outside softirq; `other` is everything else.
// Why not /proc: without CONFIG_IRQ_TIME_ACCOUNTING a softirq tick is counted both in /proc/stat's
// softirq and in the stime of the task it interrupted (kernel/sched/cputime.c
// account_system_index_time), and on a saturated machine nearly every softirq interrupts some
// task — the director's process among them. Adding "process CPU + softirq" then counts the same
// time twice. Samples are classified once: each lands in exactly one bucket.
import * as fs from 'node:fs';
import { execFileSync } from 'node:child_process';

export const PERF_HZ = 999;

export interface CpuProfile {
  /** Seconds per bucket: 'softirq', 'xdp_lb' (part of softirq), 'idle', 'other', and each role. */
  seconds: Record<string, number>;
  samples: number;
}

/** `perf` usable? Throws a clear error if not (the e2e bench needs it for the CPU split). */
export function perfVersion(): string {
  try {
    return execFileSync('perf', ['--version'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim();
  } catch {
    throw new Error('e2e: perf is not installed (Debian package "linux-perf"): run `scripts/ensure-deps bench` as root, or `make bench`');
  }
}

/** argv prefix: sample every CPU while the wrapped command runs, into `file`. */
export function perfRecordArgv(file: string): string[] {
  return ['perf', 'record', '-q', '-a', '-g', '--kernel-callchains', '-F', String(PERF_HZ), '-o', file, '--'];
}

const SOFTIRQ = new Set(['handle_softirqs', '__do_softirq', 'net_rx_action', 'run_ksoftirqd', 'do_softirq']);
const XDP_LB = /^bpf_prog_[0-9a-f]+_xdp_lb$/;

/**
 * Classifies the samples of `file`. `byPid` names the roles of known processes (all their
 * threads); `byComm` names roles by command (e.g. wrk's threads). Removes the file afterwards.
 */
export function profileOf(file: string, byPid: Map<number, string>, byComm: Map<string, string>): CpuProfile {
  const out = execFileSync('perf', ['script', '-i', file, '-F', 'comm,pid,ip,sym', '--no-inline'], { encoding: 'utf8', maxBuffer: 1 << 30, stdio: ['ignore', 'pipe', 'ignore'] });
  fs.rmSync(file, { force: true });
  const seconds: Record<string, number> = { softirq: 0, xdp_lb: 0, idle: 0, other: 0 };
  for (const r of new Set([...byPid.values(), ...byComm.values()])) seconds[r] = 0;
  let samples = 0;
  const dt = 1 / PERF_HZ;
  for (const block of out.split('\n\n')) {
    const lines = block.split('\n').filter((l) => l.trim().length > 0);
    if (!lines.length) continue;
    const head = /^\s*(.+?)\s+(\d+)\s*$/.exec(lines[0]);
    if (!head) continue;
    samples++;
    const comm = head[1];
    const pid = Number(head[2]);
    const syms = lines.slice(1).map((l) => l.trim().split(/\s+/)[1] ?? '');
    if (syms.some((s) => SOFTIRQ.has(s))) {
      seconds.softirq += dt;
      if (syms.some((s) => XDP_LB.test(s))) seconds.xdp_lb += dt;
    } else if (byPid.has(pid)) seconds[byPid.get(pid)!] += dt;
    else if (byComm.has(comm)) seconds[byComm.get(comm)!] += dt;
    else if (pid === 0) seconds.idle += dt;
    else seconds.other += dt;
  }
  return { seconds, samples };
}
