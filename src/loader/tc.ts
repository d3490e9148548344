// tc ingress attach for the real-server decap program (bpf_tc_hook_create / bpf_tc_attach):
// a clsact qdisc and one direct-action filter of our own handle and priority.
import { XlvsError, ErrorCodes } from '../errors';
import { bpf } from './ffi';
import { BpfProgram } from './program';
import { ifindexOf } from './iface';

// enum bpf_tc_attach_point (libbpf.h)
const BPF_TC_INGRESS = 1;
const BPF_TC_EGRESS = 2;
// Our filter's identity on the hook, so detach removes ours and nobody else's.
const XLVS_TC_HANDLE = 1;
const XLVS_TC_PRIORITY = 1;
const EEXIST = 17;
const ENOENT = 2;

/** Interfaces whose clsact qdisc this process created, so detach removes only what we added. */
const createdQdisc = new Set<number>();

function hook(ifindex: number, point: number): Buffer {
  // struct bpf_tc_hook (libbpf.h): sz@0, ifindex@8, attach_point@12, parent@16; 24 bytes.
  const h = Buffer.alloc(24);
  h.writeBigUInt64LE(24n, 0);
  h.writeInt32LE(ifindex, 8);
  h.writeUInt32LE(point, 12);
  return h;
}

function tcOpts(progFd: number): Buffer {
  // struct bpf_tc_opts (libbpf.h): sz@0, prog_fd@8, flags@12, prog_id@16, handle@20, priority@24; 32 bytes.
  const o = Buffer.alloc(32);
  o.writeBigUInt64LE(32n, 0);
  o.writeInt32LE(progFd, 8);
  o.writeUInt32LE(XLVS_TC_HANDLE, 20);
  o.writeUInt32LE(XLVS_TC_PRIORITY, 24);
  return o;
}

/** Attaches `prog` (a SCHED_CLS program) at tc ingress of `ifname`, replacing our previous filter. */
export function attachTcIngress(ifname: string, prog: BpfProgram): void {
  const ifindex = ifindexOf(ifname);
  const h = hook(ifindex, BPF_TC_INGRESS);
  const rc = bpf.tc_hook_create(h) as number;
  if (rc < 0 && rc !== -EEXIST) throw new XlvsError(ErrorCodes.BPF_ATTACH, `tc: create clsact on ${ifname} failed`, { errno: -rc });
  const created = rc >= 0;
  const o = tcOpts(prog.fd);
  o.writeUInt32LE(1, 12); // BPF_TC_F_REPLACE
  const r = bpf.tc_attach(h, o) as number;
  if (r < 0) {
    if (created) bpf.tc_hook_destroy(hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
    throw new XlvsError(ErrorCodes.BPF_ATTACH, `tc: attach ${prog.name} at ingress of ${ifname} failed`, { errno: -r });
  }
  if (created) createdQdisc.add(ifindex);
}

/** Removes our ingress filter; also the clsact qdisc when this process created it. */
export function detachTcIngress(ifname: string): void {
  const ifindex = ifindexOf(ifname);
  const h = hook(ifindex, BPF_TC_INGRESS);
  const r = bpf.tc_detach(h, tcOpts(0)) as number;
  if (r < 0 && r !== -ENOENT && r !== -22) throw new XlvsError(ErrorCodes.BPF_ATTACH, `tc: detach ingress filter of ${ifname} failed`, { errno: -r });
  if (createdQdisc.delete(ifindex)) bpf.tc_hook_destroy(hook(ifindex, BPF_TC_INGRESS | BPF_TC_EGRESS));
}

/** Id of the program in our ingress filter, or null. */
export function queryTcIngress(ifname: string): number | null {
  const o = tcOpts(0);
  const r = bpf.tc_query(hook(ifindexOf(ifname), BPF_TC_INGRESS), o) as number;
  if (r < 0) return null;
  return o.readUInt32LE(16) || null;
}
