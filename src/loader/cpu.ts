// CPU helpers: how many per-CPU slots a map holds, and pinning the calling thread (docs/lab-notes.md:
// BPF_PROG_TEST_RUN runs the program on the caller's CPU, so per-CPU state follows the thread).
import { XlvsError, ErrorCodes } from '../errors';
import { bpf, c, lastErrno } from './ffi';

let ncpus = 0;

/** libbpf_num_possible_cpus: the number of slots of a per-CPU map value. */
export function possibleCpus(): number {
  if (ncpus > 0) return ncpus;
  const n = bpf.num_possible_cpus() as number;
  if (n <= 0) throw new XlvsError(ErrorCodes.SYSTEM, 'libbpf_num_possible_cpus failed', { errno: -n });
  return (ncpus = n);
}

/** sched_setaffinity(0, …) on the calling thread: pid 0 means "this thread" (sched_setaffinity(2)). */
export function pinThreadToCpu(cpu: number): void {
  setThreadCpus([cpu]);
}

function maskBytes(): number {
  return Math.max(8, Math.ceil(possibleCpus() / 64) * 8); // cpu_set_t bits in unsigned longs
}

/** sched_setaffinity(0, …): the calling thread may run on these CPUs only. */
export function setThreadCpus(cpus: number[]): void {
  const n = possibleCpus();
  if (!Array.isArray(cpus) || cpus.length === 0) throw new XlvsError(ErrorCodes.USAGE, 'setThreadCpus: at least one cpu');
  const mask = Buffer.alloc(maskBytes());
  for (const cpu of cpus) {
    if (!Number.isInteger(cpu) || cpu < 0 || cpu >= n) {
      throw new XlvsError(ErrorCodes.USAGE, `pinThreadToCpu: cpu ${cpu} is not in 0..${n - 1}`);
    }
    mask[cpu >> 3] |= 1 << (cpu & 7);
  }
  if ((c.schedSetaffinity(0, mask.length, mask) as number) < 0) {
    throw new XlvsError(ErrorCodes.SYSTEM, `sched_setaffinity to cpu ${cpus.join(',')} failed`, { errno: lastErrno() });
  }
}

/** sched_getaffinity(0, …): the CPUs the calling thread may run on (to restore after pinning). */
export function threadCpus(): number[] {
  const mask = Buffer.alloc(maskBytes());
  if ((c.schedGetaffinity(0, mask.length, mask) as number) < 0) {
    throw new XlvsError(ErrorCodes.SYSTEM, 'sched_getaffinity failed', { errno: lastErrno() });
  }
  const out: number[] = [];
  for (let cpu = 0; cpu < mask.length * 8; cpu++) if (mask[cpu >> 3] & (1 << (cpu & 7))) out.push(cpu);
  return out;
}

/** PRIO_PROCESS (sys/resource.h): with a thread id, setpriority(2) sets that one thread's nice value on Linux. */
const PRIO_PROCESS = 0;

/**
 * Sets the calling thread's nice value (-20..19; 19 = runs only when nothing else wants the CPU).
 * Linux keeps nice per thread, so a worker thread can yield to the event loop of its process.
 */
export function setThreadNice(nice: number): void {
  if (!Number.isInteger(nice) || nice < -20 || nice > 19) throw new XlvsError(ErrorCodes.USAGE, `setThreadNice: ${nice} is not in -20..19`);
  const tid = c.gettid() as number;
  if ((c.setpriority(PRIO_PROCESS, tid, nice) as number) < 0) {
    throw new XlvsError(ErrorCodes.SYSTEM, `setpriority(thread ${tid}, ${nice}) failed`, { errno: lastErrno() });
  }
}
