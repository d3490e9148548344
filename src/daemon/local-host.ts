// The host side of a director that is also a real server of its own services (README "A
// director that is also a real server"): what the LVS write-ups do in notify_master /
// notify_backup scripts, set once at start instead of flipped on every VRRP transition.
//
// - The VIP of each service with a local real goes on `lo` (/32, /128), so the kernel accepts
//   the packets the lb program delivers locally in both roles: as Master (the VIP is on the
//   interface too, added by VRRP) and as Backup (where it is on lo only).
// - arp_ignore=1 / arp_announce=2 on the director interface and `all` (the LVS-DR real-server
//   settings, src/realserver/setup.ts): only an address on the interface a request came in on is
//   answered, so the Master (VRRP put the VIP on its interface) answers ARP for the VIP and the
//   Backup, which has it on lo only, never does nor uses it as an ARP source.
//
// The work is src/realserver's `up`/`down` with a state file of the daemon's own (beside the
// control socket): it remembers every value it changed, and `down` (xlvs stop, a reload that
// leaves no local real) puts them back. A daemon that stops but keeps forwarding (SIGTERM with
// director.on_sigterm keep) leaves them: the pinned program still delivers to the local real.
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Topology } from '../config/model';
import { up, down } from '../realserver/setup';
import { listAddrs } from '../realserver/addrs';

/** `<control socket dir>/<director>.local-real.json`: what the daemon changed on the host. */
export function localHostFile(topo: Topology): string {
  return path.join(path.dirname(topo.control.socket), `${topo.director.name}.local-real.json`);
}

/**
 * This machine's own addresses on director.interface, less the VRRP VIPs that come and go there:
 * a real at one of them is this director.
 */
export function hostAddresses(topo: Topology): string[] {
  const vrrp = new Set(topo.vrrp.flatMap((i) => i.vips.map((v) => v.address)));
  return listAddrs(topo.director.interface).map((a) => a.address).filter((a) => !vrrp.has(a));
}

/**
 * Puts the host in the state the local reals need: their VIPs on lo and the ARP sysctls, or,
 * with no VIP left, everything back as it was. Idempotent; returns what it changed.
 */
export function applyLocalHost(topo: Topology, vips: readonly string[]): string[] {
  const stateFile = localHostFile(topo);
  if (vips.length) return up({ vips: [...new Set(vips)], dev: topo.director.interface, stateFile }).changes;
  if (fs.existsSync(stateFile)) return down({ stateFile }).changes;
  return [];
}

/** Undoes applyLocalHost (xlvs stop): VIPs it added leave lo, sysctls go back. */
export function undoLocalHost(topo: Topology): string[] {
  const stateFile = localHostFile(topo);
  return fs.existsSync(stateFile) ? down({ stateFile }).changes : [];
}
