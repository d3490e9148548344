// What is attached to an interface right now, read through iproute2's JSON (`ip -j link`,
// `tc -j filter`): independent of any state file, so `status` reports the truth.
import { run, inNs } from '../sys/exec';

export type AttachKind = 'xdp-native' | 'xdp-generic' | 'xdp-offload' | 'tc-ingress';
export interface LiveProg { dev: string; attach: AttachKind; progId: number; name: string }

/** XDP attach modes as iproute2 prints them (uapi/linux/if_link.h XDP_ATTACHED_*). */
const XDP_ATTACHED: Record<number, AttachKind> = { 1: 'xdp-native', 2: 'xdp-generic', 3: 'xdp-offload' };

/** XDP programs on `dev` (in namespace `ns`, default the current one), every mode. */
export function liveXdp(dev: string, ns: string | null = null): LiveProg[] {
  const r = run(inNs(ns, ['ip', '-j', 'link', 'show', 'dev', dev]), { allowFail: true });
  if (r.status !== 0) return [];
  const links = JSON.parse(r.stdout || '[]') as { xdp?: { attached?: { mode: number; prog?: { id: number; name?: string } }[] } }[];
  const res: LiveProg[] = [];
  for (const a of links[0]?.xdp?.attached ?? []) {
    if (a.prog && XDP_ATTACHED[a.mode]) res.push({ dev, attach: XDP_ATTACHED[a.mode], progId: a.prog.id, name: a.prog.name ?? '' });
  }
  return res;
}

/** BPF programs in `dev`'s tc ingress hook. */
function liveTcIngress(dev: string): LiveProg[] {
  const r = run(['tc', '-j', 'filter', 'show', 'dev', dev, 'ingress'], { allowFail: true });
  if (r.status !== 0 || !r.stdout.trim()) return [];
  const res: LiveProg[] = [];
  let filters: { kind?: string; options?: { prog?: { id?: number; name?: string } } }[];
  try { filters = JSON.parse(r.stdout); } catch { return []; }
  for (const f of filters) {
    const p = f.options?.prog;
    if (f.kind === 'bpf' && p?.id) res.push({ dev, attach: 'tc-ingress', progId: p.id, name: p.name ?? '' });
  }
  return res;
}

export function liveBpf(dev: string): LiveProg[] {
  return [...liveXdp(dev), ...liveTcIngress(dev)];
}
