// The scratch network `xlvs simulate` runs a NAT or full-NAT service in. NAT finds its next hops
// with bpf_fib_lookup, which reads the routes and neighbours of the namespace BPF_PROG_TEST_RUN
// runs in (the calling thread's). So simulate builds one throwaway namespace, xlvs-sim-<pid>,
// that looks like the director the topology describes: an outside interface with the director's
// MAC and a default route to a stand-in router, an inside one (director.inside_interface, else the
// outside one) with a route and a permanent neighbour for every NAT real, the full-NAT pool
// addresses on it, forwarding on. The thread enters it for the test runs and leaves; the
// namespace is deleted after, whatever happened. Nothing of the machine's own network is read
// or changed.
import type { Topology } from '../config/model';
import { run, inNs } from '../sys/exec';
import { enterNetns } from '../sys/netns-enter';
import { ifindexOf } from '../loader';

/** The stand-in router's MAC: simulated client packets come from it, replies go to it. */
export const ROUTER_MAC = '02:00:00:00:00:fe';
/** The inside interface's MAC in the scratch namespace (the reals' gateway). */
export const INSIDE_MAC = '02:00:00:00:00:11';
const ROUTER4 = '192.0.2.254';
const ROUTER6 = 'fe80::fe';

export interface NatSimWorld {
  /** ifindex of the interfaces packets arrive on: from clients (out), from the reals (in). */
  ifindex: { out: number; in: number };
  /** The MAC replies from the reals are sent to (the inside interface's). */
  insideMac: string;
  /** Leaves the namespace and deletes it. */
  close(): void;
}

/** Builds the namespace and enters it (this thread). `realMac` gives each NAT real's stand-in MAC. */
export function natSimWorld(topo: Topology, dirMac: string, realMac: (address: string) => string): NatSimWorld {
  const ns = `xlvs-sim-${process.pid}`;
  const sh = (...argv: string[]) => run(inNs(ns, argv));
  run(['ip', 'netns', 'del', ns], { allowFail: true });
  run(['ip', 'netns', 'add', ns]);
  let leave: (() => void) | null = null;
  try {
    const twoArmed = !!topo.director.insideInterface;
    // veth pairs whose other ends stay unused: interfaces that resolve neighbours, as a NIC does.
    sh('ip', 'link', 'add', 'out0', 'address', dirMac, 'type', 'veth', 'peer', 'name', 'out0p');
    if (twoArmed) sh('ip', 'link', 'add', 'in0', 'address', INSIDE_MAC, 'type', 'veth', 'peer', 'name', 'in0p');
    const inside = twoArmed ? 'in0' : 'out0';
    for (const dev of ['lo', 'out0', 'out0p', ...(twoArmed ? ['in0', 'in0p'] : [])]) sh('ip', 'link', 'set', dev, 'up');
    // bpf_fib_lookup answers only where the kernel would forward.
    sh('sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1', 'net.ipv6.conf.all.forwarding=1');
    const neigh = (addr: string, mac: string, dev: string) => sh('ip', 'neigh', 'replace', addr, 'lladdr', mac, 'dev', dev, 'nud', 'permanent');
    sh('ip', 'route', 'add', 'default', 'via', ROUTER4, 'dev', 'out0', 'onlink');
    neigh(ROUTER4, ROUTER_MAC, 'out0');
    sh('ip', '-6', 'route', 'add', 'default', 'via', ROUTER6, 'dev', 'out0');
    neigh(ROUTER6, ROUTER_MAC, 'out0');
    const reals = new Set<string>();
    const pools = new Set<string>();
    for (const s of topo.services) {
      if (s.method !== 'nat' && s.method !== 'fullnat') continue;
      for (const r of s.reals) reals.add(r.address);
      if (s.sorryServer) reals.add(s.sorryServer.address);
      for (const a of s.snatPool ?? []) pools.add(a);
    }
    for (const a of reals) {
      const six = a.includes(':');
      sh('ip', ...(six ? ['-6'] : []), 'route', 'replace', `${a}/${six ? 128 : 32}`, 'dev', inside);
      neigh(a, realMac(a), inside);
    }
    for (const a of pools) sh('ip', 'addr', 'add', `${a}/${a.includes(':') ? 128 : 32}`, 'dev', inside, ...(a.includes(':') ? ['nodad'] : []));
    leave = enterNetns(ns);
    const ifindex = { out: ifindexOf('out0'), in: ifindexOf(inside) };
    const done = leave;
    return {
      ifindex,
      insideMac: twoArmed ? INSIDE_MAC : dirMac,
      close() {
        try { done(); } finally { run(['ip', 'netns', 'del', ns], { allowFail: true }); }
      },
    };
  } catch (e) {
    try { if (leave) leave(); } finally { run(['ip', 'netns', 'del', ns], { allowFail: true }); }
    throw e;
  }
}
