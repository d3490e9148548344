// Running this thread's BPF_PROG_TEST_RUN inside a network namespace (a test's, or the scratch
// one of `xlvs simulate`): bpf_fib_lookup (NAT's next hops) reads the routes and neighbours of
// the namespace of the device the packet came in on, which BPF_PROG_TEST_RUN takes from the
// calling thread's namespace. setns(2) moves
// only the calling thread (here the main JS thread); the bpffs mount (/sys/fs/bpf) is a mount
// namespace matter and stays the same. Commands the thread spawns meanwhile start in it too.
import * as fs from 'node:fs';
import { libc, errno } from './libc';

const CLONE_NEWNET = 0x40000000; // uapi/linux/sched.h

/** Enters `/run/netns/<ns>` (ip netns add); returns the function that goes back. */
export function enterNetns(ns: string): () => void {
  const home = fs.openSync('/proc/thread-self/ns/net', 'r');
  const there = fs.openSync(`/run/netns/${ns}`, 'r');
  try {
    if (libc().setns(there, CLONE_NEWNET) !== 0) {
      fs.closeSync(home);
      throw new Error(`setns into ${ns} failed (errno ${errno()})`);
    }
  } finally {
    fs.closeSync(there);
  }
  return () => {
    try {
      if (libc().setns(home, CLONE_NEWNET) !== 0) throw new Error(`setns back from ${ns} failed (errno ${errno()})`);
    } finally {
      fs.closeSync(home);
    }
  };
}
