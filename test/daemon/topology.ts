// The topology the daemon fault and load tests run: one director on the namespace's eth0
// (generic XDP), one VRRPv3 instance at 100 ms adverts holding the VIP, one DR service on port 80
// with reals of fixed MACs, pins and the control socket under the test's own /run directory.
import * as fs from 'node:fs';
import { ChildProcess, spawnSync } from 'node:child_process';
import type { Netlab } from '../../src/lab/netns';
import { run } from '../../src/sys/exec';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { controlRequest } from '../../src/control/client';

export interface TestTopology {
  name: string;
  /** First three octets of the lab network, e.g. '10.80.0'. */
  net: string;
  vrid: number;
  /** The test's directory under /run: pins in BASE/bpffs, control socket BASE/ctl.sock. */
  base: string;
  /** Last octets of the reals (.50, .51, …). */
  reals: number[];
  metricsPort?: number;
  /** More VRRP instances and services, as YAML list items. */
  extraVrrp?: string;
  extraServices?: string;
}

export function testTopology(o: TestTopology): string {
  const vip = `${o.net}.100`;
  const reals = o.reals.map((r) => `      - { address: ${o.net}.${r}, mac: "02:00:00:00:00:${r.toString(16).padStart(2, '0')}" }`).join('\n');
  return `director:
  name: ${o.name}
  interface: eth0
  xdp_mode: generic
  addresses: [${o.net}.1/24]
  pin_root: ${o.base}/bpffs
vrrp:
  - { name: VI_1, vrid: ${o.vrid}, priority: 150, version: 3, advert_interval: 100ms, vips: [${vip}/24] }
${o.extraVrrp ?? ''}services:
  - vip: ${vip}
    port: 80
    method: dr
    reals:
${reals}
${o.extraServices ?? ''}metrics: ${o.metricsPort ? `{ listen: 127.0.0.1:${o.metricsPort} }` : '{ enabled: false }'}
control: { socket: ${o.base}/ctl.sock }
`;
}

/**
 * The namespaces a TestTopology runs in: `d` (the director, NET.1 on eth0) and `p` (its peer,
 * NET.2) on one veth, and BASE/bpffs mounted here, in the test's mount namespace, so the test
 * sees the daemon's pins (`ip netns exec` gives the daemon a mount namespace of its own). The
 * lab's cleanup unmounts it and removes BASE, after the lab's processes are gone.
 */
export function topologyLab(lab: Netlab, o: Pick<TestTopology, 'base' | 'net'>): { ns: string; peer: string } {
  fs.mkdirSync(`${o.base}/bpffs`, { recursive: true });
  run(['mount', '-t', 'bpf', 'bpf', `${o.base}/bpffs`]);
  lab.onCleanup(() => {
    run(['umount', `${o.base}/bpffs`], { allowFail: true });
    fs.rmSync(o.base, { recursive: true, force: true });
  });
  const ns = lab.addNs('d');
  const peer = lab.addNs('p');
  lab.addVeth(ns, 'eth0', peer, 'eth0');
  lab.addAddr(ns, 'eth0', `${o.net}.1/24`);
  lab.addAddr(peer, 'eth0', `${o.net}.2/24`);
  return { ns, peer };
}

/** `xlvs ARGS --socket SOCK` as this build runs it: exit status, stdout, stderr. */
export function xlvsAt(sock: string): (...args: string[]) => { status: number | null; stdout: string; stderr: string } {
  return (...args) => {
    const argv = xlvsArgv([...args, '--socket', sock]);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
    return { status: r.status, stdout: r.stdout, stderr: r.stderr };
  };
}

/** Stops a test's daemon if it still runs: `stop` over its socket, SIGKILL after 5 s. */
export async function stopDaemon(daemon: ChildProcess | null, sock: string): Promise<void> {
  if (!daemon || daemon.exitCode !== null) return;
  try { await controlRequest(sock, { cmd: 'stop' }, 5000); } catch { /* already gone */ }
  const gone = new Promise((r) => daemon.once('exit', r));
  await Promise.race([gone, new Promise((r) => setTimeout(r, 5000))]);
  if (daemon.exitCode === null) process.kill(daemon.pid!, 'SIGKILL');
}
