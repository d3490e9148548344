// `xlvs realserver up|down|status`: the LVS-DR real-server recipe (VIPs on lo, ARP sysctls) and,
// for TUN, the decap program. `up` is declarative and idempotent: it makes the machine match the
// arguments, remembering in the state file the value of everything it changes the first time it
// changes it. `down` puts those values back. A failure halfway undoes what that run did.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { run } from '../sys/exec';
import { addHostAddr, delHostAddr, hasAddr, listAddrs, normalizeIp } from './addrs';
import { ConfKey, confExists, confName, readConf, writeConf } from './sysctl';
import {
  DecapMode, RealserverState, SavedDecap, SavedSysctl, SavedVip,
  currentNetnsName, defaultStateFile, readState, removeState, writeState,
} from './state';
import { attachDecap, detachDecap, liveDecap, LiveDecap } from './decap';

export interface UpOptions {
  vips: string[];
  tun?: boolean;
  /** Interface the traffic (and, for TUN, the tunnelled packets) arrives on; default: the default route's. */
  dev?: string;
  decap?: DecapMode;
  /** Pin the decap program and its map here (a bpffs); default: not pinned (the attachment holds it). */
  pinRoot?: string;
  stateFile?: string;
}

/**
 * The classic LVS-DR real-server settings (LVS-HOWTO "The ARP problem"; kernel
 * Documentation/networking/ip-sysctl.rst): arp_ignore=1 answers ARP only for addresses on the
 * interface the request came in on, so the VIP on lo stays silent; arp_announce=2 always uses the
 * best local address of the outgoing interface as ARP source, never the VIP. The kernel uses the
 * maximum of `all` and the interface, so both are set.
 */
export const ARP_IGNORE = 1;
export const ARP_ANNOUNCE = 2;
/**
 * rp_filter (ip-sysctl.rst): 1 = strict (RFC 3704 strict reverse path), 2 = loose. A decapsulated
 * packet arrives on the tunnel-side interface with the client's source address, which strict mode
 * drops when the route back to the client uses another interface. TUN relaxes strict to loose;
 * 0 (off) and 2 are left as they are. The effective value is the maximum of `all` and the interface.
 */
export const RP_FILTER_LOOSE = 2;

interface DesiredSysctl { dev: string; key: ConfKey; value: (before: number) => number }

/** The sysctls `up` wants for these options. */
function desiredSysctls(dev: string | null, tun: boolean): DesiredSysctl[] {
  const devs = dev ? ['all', dev] : ['all'];
  const res: DesiredSysctl[] = [];
  for (const d of devs) {
    res.push({ dev: d, key: 'arp_ignore', value: () => ARP_IGNORE });
    res.push({ dev: d, key: 'arp_announce', value: () => ARP_ANNOUNCE });
  }
  if (tun) {
    for (const d of devs) res.push({ dev: d, key: 'rp_filter', value: (b) => (b === 1 ? RP_FILTER_LOOSE : b) });
  }
  return res;
}

/** The interface of the IPv4 default route, or null. */
function defaultRouteDev(): string | null {
  const out = run(['ip', '-j', 'route', 'show', 'default'], { allowFail: true }).stdout;
  try {
    const routes = JSON.parse(out || '[]') as { dev?: string }[];
    return routes.find((r) => r.dev)?.dev ?? null;
  } catch {
    return null;
  }
}

function linkExists(dev: string): boolean {
  return run(['ip', 'link', 'show', 'dev', dev], { allowFail: true }).status === 0;
}

/** Checks every argument before anything is changed; returns the normalised VIP list and device. */
function validateUp(o: UpOptions): { vips: string[]; dev: string | null; tun: boolean; decap: DecapMode } {
  if (!o.vips || o.vips.length === 0) throw new XlvsError(ErrorCodes.USAGE, 'realserver up: at least one --vip is required');
  const vips: string[] = [];
  o.vips.forEach((v, i) => {
    const bare = v.includes('/') ? v.slice(0, v.indexOf('/')) : v;
    const pfx = v.includes('/') ? v.slice(v.indexOf('/') + 1) : null;
    let n: string;
    try {
      n = normalizeIp(bare);
    } catch {
      throw new XlvsError(ErrorCodes.USAGE, `--vip[${i}] "${v}": not an IPv4 or IPv6 address`);
    }
    const host = n.includes(':') ? '128' : '32';
    if (pfx !== null && pfx !== host) {
      throw new XlvsError(ErrorCodes.USAGE, `--vip[${i}] "${v}": a VIP on lo is a host address (/${host}); drop the prefix`);
    }
    if (!vips.includes(n)) vips.push(n);
  });
  const tun = !!o.tun;
  const decap: DecapMode = o.decap ?? 'xdp';
  if (!['xdp', 'xdp-generic'].includes(decap)) {
    throw new XlvsError(ErrorCodes.USAGE, `--decap "${String(o.decap)}": must be xdp (native, generic if the driver cannot) or xdp-generic`);
  }
  if (o.decap && !tun) throw new XlvsError(ErrorCodes.USAGE, '--decap only applies with --tun');
  if (o.pinRoot && !tun) throw new XlvsError(ErrorCodes.USAGE, '--pin-root only applies with --tun');
  let dev = o.dev ?? defaultRouteDev();
  if (dev !== null) {
    if (dev === 'lo' || dev === 'all' || dev === 'default') throw new XlvsError(ErrorCodes.USAGE, `--dev "${dev}": name the interface the traffic arrives on`);
    if (!linkExists(dev) || !confExists(dev)) throw new XlvsError(ErrorCodes.USAGE, `--dev "${dev}": no such interface in network namespace ${currentNetnsName()}`);
  }
  if (tun && dev === null) throw new XlvsError(ErrorCodes.USAGE, '--tun needs --dev (no default route to take the interface from)');
    if (!linkExists('lo')) throw new XlvsError(ErrorCodes.SYSTEM, 'no lo interface');
  return { vips, dev, tun, decap };
}

export interface UpResult { state: RealserverState; changes: string[]; stateFile: string }

/** Makes this namespace a real server for `o.vips`. Idempotent; all-or-nothing. */
export function up(o: UpOptions): UpResult {
  const v = validateUp(o);
  const stateFile = o.stateFile ?? defaultStateFile();
  const prev = readState(stateFile);
  const changes: string[] = [];
  const undo: (() => void)[] = [];

  // Sysctls: the value before is the one saved the first time, never a value we wrote ourselves.
  const saved = new Map<string, SavedSysctl>((prev?.sysctls ?? []).map((s) => [`${s.dev}/${s.key}`, s]));
  const nextSysctls: SavedSysctl[] = [];
  const sysctlOps: (() => void)[] = [];
  for (const d of desiredSysctls(v.dev, v.tun)) {
    const k = `${d.dev}/${d.key}`;
    const before = saved.get(k)?.before ?? readConf(d.dev, d.key);
    const after = d.value(before);
    saved.delete(k);
    nextSysctls.push({ dev: d.dev, key: d.key, before, after });
    sysctlOps.push(() => setConf(d.dev, d.key, after, changes, undo));
  }
  for (const s of saved.values()) {
    // Set by an earlier `up` but not wanted now (TUN dropped, interface changed): restore.
    if (confExists(s.dev)) sysctlOps.push(() => setConf(s.dev, s.key, s.before, changes, undo));
  }

  const prevVips = new Map<string, SavedVip>((prev?.vips ?? []).map((x) => [x.address, x]));
  const nextVips: SavedVip[] = [];
  const vipOps: (() => void)[] = [];
  for (const vip of v.vips) {
    const p = prevVips.get(vip);
    prevVips.delete(vip);
    const present = hasAddr('lo', vip);
    nextVips.push({ address: vip, added: p ? p.added : !present });
    if (!present) {
      vipOps.push(() => {
        addHostAddr('lo', vip);
        undo.push(() => delHostAddr('lo', vip));
        changes.push(`added ${vip} to lo`);
      });
    }
  }
  for (const p of prevVips.values()) {
    if (p.added && hasAddr('lo', p.address)) {
      vipOps.push(() => {
        delHostAddr('lo', p.address);
        undo.push(() => addHostAddr('lo', p.address));
        changes.push(`removed ${p.address} from lo`);
      });
    }
  }

  const state: RealserverState = {
    version: 1, netns: currentNetnsName(), dev: v.dev, tun: v.tun,
    vips: nextVips, sysctls: nextSysctls, decap: prev?.decap ?? null, updatedAt: prev?.updatedAt ?? new Date().toISOString(),
  };
  // Save the values before touching anything: a crash mid-way still leaves `down` what it needs.
  writeState(stateFile, { ...state, sysctls: mergeForCrash(prev, nextSysctls), vips: mergeVipsForCrash(prev, nextVips) });
  try {
    for (const op of sysctlOps) op(); // ARP rules first, so the VIP is never announced
    for (const op of vipOps) op();
    if (v.tun) {
      const want = { dev: v.dev!, mode: v.decap, vips: v.vips, pinRoot: o.pinRoot ?? null };
      if (!decapMatches(prev?.decap ?? null, want, prev?.vips.map((x) => x.address) ?? [])) {
        const previous = prev?.decap ?? null;
        if (previous && previous.dev !== want.dev) detachDecap(previous);
        state.decap = attachDecap(want.dev, want.mode, want.vips, want.pinRoot, previous);
        changes.push(`decap ${state.decap.attached} on ${want.dev} (prog id ${state.decap.progId}) for ${want.vips.join(', ')}`);
        undo.push(() => {
          if (previous && previous.dev === want.dev) state.decap = attachDecap(previous.dev, previous.mode, prev!.vips.map((x) => x.address), previous.pinDir ? path.dirname(previous.pinDir) : null, state.decap);
          else detachDecap(state.decap!);
        });
      }
    } else if (prev?.decap) {
      detachDecap(prev.decap);
      changes.push(`decap detached from ${prev.decap.dev}`);
      state.decap = null;
    }
  } catch (e) {
    while (undo.length) {
      try { undo.pop()!(); } catch { /* keep undoing */ }
    }
    if (prev) writeState(stateFile, prev);
    else removeState(stateFile);
    throw e;
  }
  if (changes.length) state.updatedAt = new Date().toISOString();
  writeState(stateFile, state);
  return { state, changes, stateFile };
}

function setConf(dev: string, key: ConfKey, value: number, changes: string[], undo: (() => void)[]): void {
  const cur = readConf(dev, key);
  if (cur === value) return;
  writeConf(dev, key, value);
  undo.push(() => writeConf(dev, key, cur));
  changes.push(`${confName(dev, key)}: ${cur} -> ${value}`);
}

/** While applying, the file must hold the originals of both the old and the new set. */
function mergeForCrash(prev: RealserverState | null, next: SavedSysctl[]): SavedSysctl[] {
  const m = new Map<string, SavedSysctl>();
  for (const s of prev?.sysctls ?? []) m.set(`${s.dev}/${s.key}`, s);
  for (const s of next) if (!m.has(`${s.dev}/${s.key}`)) m.set(`${s.dev}/${s.key}`, s);
  return [...m.values()];
}

function mergeVipsForCrash(prev: RealserverState | null, next: SavedVip[]): SavedVip[] {
  const m = new Map<string, SavedVip>();
  for (const x of prev?.vips ?? []) m.set(x.address, x);
  for (const x of next) if (!m.has(x.address)) m.set(x.address, x);
  return [...m.values()];
}

function decapMatches(prev: SavedDecap | null, want: { dev: string; mode: DecapMode; vips: string[]; pinRoot: string | null }, prevVips: string[]): boolean {
  if (!prev || prev.dev !== want.dev || prev.mode !== want.mode || (prev.pinDir !== null) !== (want.pinRoot !== null)) return false;
  const live = liveDecap(prev.dev);
  if (!live.some((l) => l.progId === prev.progId)) return false; // someone detached it
  return prevVips.length === want.vips.length && want.vips.every((x) => prevVips.includes(x));
}

export interface DownResult { changes: string[]; stateFile: string; hadState: boolean }

/** Undoes `up`: decap detached, VIPs we added removed, every sysctl back to its saved value. */
export function down(o: { stateFile?: string } = {}): DownResult {
  const stateFile = o.stateFile ?? defaultStateFile();
  const s = readState(stateFile);
  if (!s) return { changes: [], stateFile, hadState: false };
  const changes: string[] = [];
  const errors: string[] = [];
  const attempt = (what: string, fn: () => void): void => {
    try { fn(); } catch (e) { errors.push(`${what}: ${(e as Error).message}`); }
  };
  if (s.decap) {
    attempt(`detach decap from ${s.decap.dev}`, () => { detachDecap(s.decap!); changes.push(`decap detached from ${s.decap!.dev}`); });
  }
  for (const x of s.vips) {
    if (!x.added) continue;
    attempt(`remove ${x.address} from lo`, () => {
      if (hasAddr('lo', x.address)) { delHostAddr('lo', x.address); changes.push(`removed ${x.address} from lo`); }
    });
  }
  for (const c of [...s.sysctls].reverse()) {
    if (!confExists(c.dev)) continue; // the interface is gone, and its settings with it
    attempt(`restore ${confName(c.dev, c.key)}`, () => {
      const cur = readConf(c.dev, c.key);
      if (cur !== c.before) { writeConf(c.dev, c.key, c.before); changes.push(`${confName(c.dev, c.key)}: ${cur} -> ${c.before}`); }
    });
  }
  if (errors.length) {
    // Keep the state file so a second `down` can finish the job.
    throw new XlvsError(ErrorCodes.SYSTEM, `realserver down could not undo everything (state kept in ${stateFile}):\n  ${errors.join('\n  ')}`);
  }
  removeState(stateFile);
  return { changes, stateFile, hadState: true };
}

export interface StatusReport {
  netns: string;
  stateFile: string;
  configured: boolean;
  dev: string | null;
  tun: boolean;
  vips: { address: string; onLo: boolean; addedByXlvs: boolean }[];
  sysctls: { name: string; current: number | null; wanted: number; before: number; ok: boolean }[];
  decap: (LiveDecap & { expected: boolean })[];
  problems: string[];
}

/** What is in place now, checked against the state file. */
export function status(o: { stateFile?: string; dev?: string } = {}): StatusReport {
  const stateFile = o.stateFile ?? defaultStateFile();
  const s = readState(stateFile);
  const dev = s?.dev ?? o.dev ?? defaultRouteDev();
  const problems: string[] = [];
  const vips = (s?.vips ?? []).map((x) => ({ address: x.address, onLo: hasAddr('lo', x.address), addedByXlvs: x.added }));
  if (!s) {
    for (const a of listAddrs('lo')) {
      if (a.address === '127.0.0.1' || a.address === '::1') continue;
      vips.push({ address: a.address, onLo: true, addedByXlvs: false });
    }
  }
  for (const x of vips) if (s && !x.onLo) problems.push(`VIP ${x.address} is missing from lo`);
  const sysctls = (s?.sysctls ?? desiredSysctls(dev, false).map((d) => {
    const before = confExists(d.dev) ? readConf(d.dev, d.key) : -1;
    return { dev: d.dev, key: d.key, before, after: d.value(before) };
  })).map((c) => {
    const current = confExists(c.dev) ? readConf(c.dev, c.key) : null;
    return { name: confName(c.dev, c.key), current, wanted: c.after, before: c.before, ok: current === c.after };
  });
  if (s) for (const c of sysctls) if (!c.ok) problems.push(`${c.name} is ${c.current ?? 'gone'}, want ${c.wanted}`);
  const decap = dev && fs.existsSync(`/sys/class/net/${dev}`) ? liveDecap(dev).map((l) => ({ ...l, expected: !!s?.decap && s.decap.progId === l.progId })) : [];
  if (s?.decap && !decap.some((d) => d.expected)) problems.push(`decap program ${s.decap.progId} is no longer attached to ${s.decap.dev}`);
  return { netns: currentNetnsName(), stateFile, configured: !!s, dev, tun: s?.tun ?? false, vips, sysctls, decap, problems };
}

/** The human form of `status`. */
export function formatStatus(r: StatusReport): string {
  const lines: string[] = [];
  lines.push(`real server (netns ${r.netns}): ${r.configured ? `set up by xlvs, state ${r.stateFile}` : 'not set up by xlvs'}`);
  lines.push(`  interface: ${r.dev ?? '(none: no default route)'}${r.configured ? `  method: ${r.tun ? 'tun (+dr)' : 'dr'}` : ''}`);
  lines.push('  VIPs on lo:');
  if (r.vips.length === 0) lines.push('    (none)');
  for (const x of r.vips) lines.push(`    ${x.address.padEnd(40)} ${x.onLo ? 'present' : 'MISSING'}${x.addedByXlvs ? '' : '  (was there before xlvs)'}`);
  lines.push('  sysctls:');
  for (const c of r.sysctls) {
    lines.push(`    ${c.name.padEnd(40)} ${String(c.current ?? '-').padStart(2)}  want ${c.wanted}  ${r.configured ? `(was ${c.before})` : ''}${c.ok ? '' : '  <-'}`.trimEnd());
  }
  lines.push('  decap:');
  if (r.decap.length === 0) lines.push('    (none attached)');
  for (const d of r.decap) lines.push(`    ${d.attach} on ${d.dev}: prog id ${d.progId} ${d.name}${d.expected ? '' : '  (not attached by xlvs)'}`);
  if (r.problems.length) {
    lines.push('  problems:');
    for (const p of r.problems) lines.push(`    ${p}`);
  }
  return lines.join('\n') + '\n';
}
