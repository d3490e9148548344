// The TUN decap program on a real server (bpf/decap.bpf.c, program xdp_decap): load it, write the
// VIPs into its decap_vips map, attach it to the interface the tunnelled packets arrive on.
//
// Where it runs: XDP, native when the driver supports it, otherwise generic. docs/lab-notes.md has it measured
// XDP native, XDP generic and tc ingress all delivering the inner packet; XDP is chosen because
// the outer header goes before an skb exists (no GRO/GSO of the outer flow, the inner packet then
// takes the normal path including GRO), it is the same hook and loader path the director uses, and
// generic mode covers every driver. tc ingress would need a second program type in decap.bpf.c.
//
// Nothing is pinned by default: the XDP attachment holds the program and the program its maps, so
// the setup survives the CLI process. Inside `ip netns exec`, /sys/fs/bpf is a fresh empty mount
// (docs/lab-notes.md), so pinning is opt-in, under a bpffs the caller names.
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as net from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import { bpfObject } from '../paths';
import { BpfObject, attachXdp, detachXdp, queryXdp, ensureBpffs, ifindexOf } from '../loader';
import type { DecapMode, SavedDecap } from './state';
import { liveBpf, LiveProg } from './live';

export type LiveDecap = LiveProg;

/** Program and maps in bpf/decap.bpf.c; key layout is struct decap_key in bpf/include/lb_shared.h. */
export const DECAP_PROGRAM = 'xdp_decap';
export const DECAP_VIPS_MAP = 'decap_vips';
export const DECAP_STATS_MAP = 'decap_stats';
const DECAP_KEY_SIZE = 20; // _Static_assert(sizeof(struct decap_key) == 20) in lb_shared.h
const LB_AF_INET = 4; // lb_shared.h: our own family values, not AF_*
const LB_AF_INET6 = 6;
/** Subdirectory of --pin-root holding the pins. */
export const DECAP_PIN_DIR = 'realserver-decap';

export function liveDecap(dev: string): LiveDecap[] {
  return liveBpf(dev);
}

/** struct decap_key { __u8 addr[16]; __u8 family; __u8 pad[3]; }, IPv4 in the first 4 bytes. */
export function decapKey(vip: string): Buffer {
  const k = Buffer.alloc(DECAP_KEY_SIZE); // zeroed: padding must be zero or lookups miss
  if (net.isIPv4(vip)) {
    vip.split('.').forEach((o, i) => { k[i] = Number(o); });
    k[16] = LB_AF_INET;
  } else if (net.isIPv6(vip)) {
    ipv6Bytes(vip).copy(k, 0);
    k[16] = LB_AF_INET6;
  } else {
    throw new XlvsError(ErrorCodes.USAGE, `decap: "${vip}" is not an IP address`);
  }
  return k;
}

function ipv6Bytes(a: string): Buffer {
  const b = Buffer.alloc(16);
  let s = a;
  const v4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(s);
  if (v4) {
    const o = v4[1].split('.').map(Number);
    s = s.slice(0, -v4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [h, t] = s.includes('::') ? s.split('::') : [s, ''];
  const hs = h ? h.split(':') : [];
  const ts = t ? t.split(':') : [];
  const groups = s.includes('::') ? [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts] : hs;
  groups.forEach((g, i) => b.writeUInt16BE(parseInt(g, 16), i * 2));
  return b;
}

/**
 * Loads a fresh decap program with `vips` in its map and attaches it to `dev`, replacing the one
 * there (an XDP attach swaps programs in one step: no moment without decap). Returns what to
 * remember for `down`.
 */
export function attachDecap(dev: string, mode: DecapMode, vips: string[], pinRoot: string | null, previous: SavedDecap | null = null): SavedDecap {
  ifindexOf(dev); // E_BPF_NO_IFACE before anything is loaded
  const obj = BpfObject.open(bpfObject('decap'));
  try {
    obj.load();
    const prog = obj.program(DECAP_PROGRAM);
    const map = obj.map(DECAP_VIPS_MAP);
    const one = Buffer.alloc(4);
    one.writeUInt32LE(1);
    for (const v of vips) map.update(decapKey(v), one);
    let pinDir: string | null = null;
    if (pinRoot) {
      pinDir = path.join(pinRoot, DECAP_PIN_DIR);
      ensureBpffs(pinDir);
      for (const [name, pin] of [[DECAP_PROGRAM, () => prog.pin(path.join(pinDir!, DECAP_PROGRAM))], [DECAP_VIPS_MAP, () => map.pin(path.join(pinDir!, DECAP_VIPS_MAP))], [DECAP_STATS_MAP, () => obj.map(DECAP_STATS_MAP).pin(path.join(pinDir!, DECAP_STATS_MAP))]] as const) {
        fs.rmSync(path.join(pinDir, name), { force: true });
        pin();
      }
    }
    const { mode: got } = attachXdp(dev, prog, { mode: mode === 'xdp-generic' ? 'generic' : 'native', fallbackToGeneric: mode === 'xdp' });
    const progId = prog.id;
    // A previous decap in the other mode would run as well: remove it.
    const q = queryXdp(dev);
    const other = got === 'native' ? 'generic' : 'native';
    if (previous && q[other] === previous.progId) detachXdp(dev, other);
    return { dev, mode, attached: got === 'native' ? 'xdp-native' : 'xdp-generic', progId, pinDir };
  } finally {
    obj.close();
  }
}

/** Detaches the decap program if it is still the one attached; removes its pins. */
export function detachDecap(d: SavedDecap): void {
  if (fs.existsSync(`/sys/class/net/${d.dev}`)) {
    const q = queryXdp(d.dev);
    if (q.native === d.progId) detachXdp(d.dev, 'native');
    if (q.generic === d.progId) detachXdp(d.dev, 'generic');
  }
  if (d.pinDir) fs.rmSync(d.pinDir, { recursive: true, force: true });
}
