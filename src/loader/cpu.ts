// CPU helpers: how many per-CPU slots a map holds, and pinning the calling thread (LAB-NOTES:
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
  const n = possibleCpus();
  if (!Number.isInteger(cpu) || cpu < 0 || cpu >= n) {
    throw new XlvsError(ErrorCodes.USAGE, `pinThreadToCpu: cpu ${cpu} is not in 0..${n - 1}`);
  }
  const mask = Buffer.alloc(Math.max(8, Math.ceil(n / 64) * 8)); // cpu_set_t bits in unsigned longs
  mask[cpu >> 3] |= 1 << (cpu & 7);
  if ((c.schedSetaffinity(0, mask.length, mask) as number) < 0) {
    throw new XlvsError(ErrorCodes.SYSTEM, `sched_setaffinity to cpu ${cpu} failed`, { errno: lastErrno() });
  }
}
