// Attaching XDP programs to interfaces: native first, generic only when asked, and detaching
// both modes (docs/lab-notes.md: turning off one mode leaves the other attached).
import { XlvsError, ErrorCodes } from '../errors';
import { bpf } from './ffi';
import { BpfProgram } from './program';
import { ifindexOf } from './iface';

// include/uapi/linux/if_link.h
const XDP_FLAGS_SKB_MODE = 1 << 1;
const XDP_FLAGS_DRV_MODE = 1 << 2;

export type XdpMode = 'native' | 'generic';
const MODE_FLAGS: Record<XdpMode, number> = { native: XDP_FLAGS_DRV_MODE, generic: XDP_FLAGS_SKB_MODE };

export type XdpWarn = (msg: string) => void;
let warn: XdpWarn = (m) => process.emitWarning(m, { code: 'XLVS_XDP_GENERIC' });
/** Where attachXdp reports a fallback to generic mode (default: process.emitWarning). */
export function setXdpWarningHandler(fn: XdpWarn): void { warn = fn; }

/**
 * Attaches `prog` in `opts.mode` (default native). With `fallbackToGeneric`, a failed native attach
 * is retried in generic mode and reported as a warning. Replaces a program already attached in
 * that mode.
 */
export function attachXdp(ifname: string, prog: BpfProgram, opts: { mode?: XdpMode; fallbackToGeneric?: boolean } = {}): { mode: XdpMode } {
  const ifindex = ifindexOf(ifname);
  const mode = opts.mode ?? 'native';
  if (!(mode in MODE_FLAGS)) throw new XlvsError(ErrorCodes.BPF_ATTACH, `attach XDP on ${ifname}: mode "${mode}" is not native|generic`);
  const r = bpf.xdp_attach(ifindex, prog.fd, MODE_FLAGS[mode], null) as number;
  if (r >= 0) return { mode };
  if (mode === 'native' && opts.fallbackToGeneric) {
    const r2 = bpf.xdp_attach(ifindex, prog.fd, MODE_FLAGS.generic, null) as number;
    if (r2 >= 0) {
      warn(`XDP program ${prog.name} on ${ifname}: native attach failed (errno ${-r}); running in generic mode, which is slower`);
      return { mode: 'generic' };
    }
    throw new XlvsError(ErrorCodes.BPF_ATTACH, `attach XDP ${prog.name} on ${ifname}: native failed (errno ${-r}) and generic failed`, { errno: -r2 });
  }
  throw new XlvsError(ErrorCodes.BPF_ATTACH, `attach XDP ${prog.name} on ${ifname} in ${mode} mode failed`, { errno: -r });
}

/** Detaches the XDP program of `mode` ('all', the default, removes both native and generic). */
export function detachXdp(ifname: string, mode: XdpMode | 'all' = 'all'): void {
  const ifindex = ifindexOf(ifname);
  const modes: XdpMode[] = mode === 'all' ? ['native', 'generic'] : [mode];
  const present = queryXdp(ifname);
  for (const m of modes) {
    if (present[m] === undefined) continue;
    const r = bpf.xdp_detach(ifindex, MODE_FLAGS[m], null) as number;
    if (r < 0) throw new XlvsError(ErrorCodes.BPF_ATTACH, `detach ${m} XDP from ${ifname} failed`, { errno: -r });
  }
}

/** Ids of the programs attached in each mode (absent when none). */
export function queryXdp(ifname: string): { native?: number; generic?: number } {
  const ifindex = ifindexOf(ifname);
  const out: { native?: number; generic?: number } = {};
  for (const m of ['native', 'generic'] as XdpMode[]) {
    const id = Buffer.alloc(4);
    const r = bpf.xdp_query_id(ifindex, MODE_FLAGS[m], id) as number;
    if (r < 0) throw new XlvsError(ErrorCodes.BPF_ATTACH, `query XDP on ${ifname} failed`, { errno: -r });
    const v = id.readUInt32LE(0);
    if (v) out[m] = v;
  }
  return out;
}
