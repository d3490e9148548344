// The normalised VRRP configuration (durations in ms) and its parser from the topology's
// `vrrp`, `vrrp_scripts` and `vrrp_sync_groups` sections (docs/topology.md). The daemon passes
// the config loader's model through `normaliseVrrp`; the standalone runner reads the same shape
// from a YAML/JSON file. Every error names the path of the bad field; nothing is half-parsed.
import { XlvsError, ErrorCodes } from '../errors';
import { isIPv4, isIPv6 } from 'node:net';
import { MAX_TIMER_MS } from '../config/limits';

export type VrrpVersion = 2 | 3;
export type Family = 4 | 6;

export interface NotifyConfig {
  master?: string[];
  backup?: string[];
  fault?: string[];
  stop?: string[];
  /** keepalived's generic `notify`: argv + "INSTANCE" name state priority. */
  any?: string[];
}

export interface TrackInterface { name: string; weight: number }

export interface VrrpInstanceConfig {
  name: string;
  interface: string;
  vrid: number;
  priority: number;
  initialState: 'MASTER' | 'BACKUP';
  version: VrrpVersion;
  family: Family;
  advertIntervalMs: number;
  /** v2 simple password, already cut to 8 bytes; null = no authentication. */
  authPass: string | null;
  /** VIPs with prefix length, e.g. 192.168.81.229/24. */
  vips: { address: string; prefix: number }[];
  preempt: boolean;
  preemptDelayMs: number;
  accept: boolean;
  unicastSrc: string | null;
  unicastPeers: string[];
  trackInterfaces: TrackInterface[];
  trackScripts: { name: string; weight: number | null }[];
  garp: { masterDelayMs: number; masterRepeat: number; refreshMs: number; refreshRepeat: number };
  notify: NotifyConfig;
}

export interface VrrpScriptConfig {
  name: string;
  command: string[];
  intervalMs: number;
  timeoutMs: number;
  rise: number;
  fall: number;
  /** keepalived `weight`: 0 = failure puts the instance in FAULT; ±N adjusts priority. */
  weight: number;
}

export interface VrrpSyncGroupConfig { name: string; instances: string[] }

export interface VrrpConfig {
  instances: VrrpInstanceConfig[];
  scripts: VrrpScriptConfig[];
  syncGroups: VrrpSyncGroupConfig[];
}

// keepalived.conf(5) defaults.
export const DEFAULT_ADVERT_INTERVAL_MS = 1000; // advert_int 1
export const DEFAULT_GARP_MASTER_DELAY_MS = 5000; // garp_master_delay 5
export const DEFAULT_GARP_MASTER_REPEAT = 5; // garp_master_repeat 5
export const DEFAULT_GARP_REFRESH_REPEAT = 1; // garp_master_refresh_repeat 1
export const AUTH_PASS_LEN = 8; // RFC 2338 §5.3.10: 8 octets of password

function bad(path: string, msg: string): never {
  throw new XlvsError(ErrorCodes.CONFIG_INVALID, `${path}: ${msg}`);
}

/** `1s`, `100ms`, `2m`, `1h` or a plain number of seconds → ms. */
function parseDurationMs(v: unknown, path: string): number {
  if (typeof v === 'number' && Number.isFinite(v) && v >= 0) return Math.round(v * 1000);
  if (typeof v === 'string') {
    const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(v.trim());
    if (m) {
      const n = Number(m[1]);
      const mult = { ms: 1, s: 1000, m: 60_000, h: 3_600_000 }[m[2] ?? 's']!;
      return Math.round(n * mult);
    }
  }
  return bad(path, `must be a duration like 1s, 100ms or a number of seconds (got ${JSON.stringify(v)})`);
}

type Obj = Record<string, unknown>;
function obj(v: unknown, path: string): Obj {
  if (v === null || typeof v !== 'object' || Array.isArray(v)) bad(path, 'must be an object');
  return v as Obj;
}
function int(v: unknown, path: string, lo: number, hi: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < lo || v > hi) bad(path, `must be an integer ${lo}..${hi} (got ${JSON.stringify(v)})`);
  return v;
}
function str(v: unknown, path: string): string {
  if (typeof v !== 'string' || v === '') bad(path, 'must be a non-empty string');
  return v;
}
function argv(v: unknown, path: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((a) => typeof a === 'string')) bad(path, 'must be a non-empty list of strings (argv, no shell)');
  if ((v[0] as string).trim() === '') bad(`${path}[0]`, 'the program (argv[0]) is empty');
  const nul = (v as string[]).findIndex((a) => a.includes('\0'));
  if (nul >= 0) bad(`${path}[${nul}]`, 'holds a NUL byte: a command argument cannot carry one');
  return v as string[];
}
function ip(v: unknown, path: string): string {
  const s = str(v, path);
  if (!isIPv4(s) && !isIPv6(s)) bad(path, `"${s}" is not an IP address`);
  return s;
}
function ms(v: unknown, path: string, dflt: number): number {
  const n = v === undefined || v === null ? dflt : parseDurationMs(v, path);
  if (n > MAX_TIMER_MS) bad(path, `${n}ms is above ${MAX_TIMER_MS}ms, the longest delay a timer can hold`);
  return n;
}

function instance(raw: unknown, path: string, defaultIface: string | undefined): VrrpInstanceConfig {
  const o = obj(raw, path);
  const name = str(o.name, `${path}.name`);
  const version = o.version === undefined ? 2 : (int(o.version, `${path}.version`, 2, 3) as VrrpVersion);
  const iface = o.interface ?? defaultIface;
  if (iface === undefined) bad(`${path}.interface`, 'required (or set director.interface)');
  const vipsRaw = o.vips;
  if (!Array.isArray(vipsRaw) || vipsRaw.length === 0) bad(`${path}.vips`, 'must be a non-empty list of addresses');
  const vips = vipsRaw.map((v, i) => {
    const s = str(v, `${path}.vips[${i}]`);
    const [addr, len] = s.split('/');
    const v4 = isIPv4(addr);
    if (!v4 && !isIPv6(addr)) bad(`${path}.vips[${i}]`, `"${s}" is not an address`);
    const prefix = len === undefined ? (v4 ? 32 : 128) : Number(len);
    if (!Number.isInteger(prefix) || prefix < 0 || prefix > (v4 ? 32 : 128)) bad(`${path}.vips[${i}]`, `bad prefix length in "${s}"`);
    return { address: addr, prefix };
  });
  const family: Family = isIPv4(vips[0].address) ? 4 : 6;
  vips.forEach((v, i) => {
    if ((isIPv4(v.address) ? 4 : 6) !== family) bad(`${path}.vips[${i}]`, 'all VIPs of an instance must be of one family (keepalived: use virtual_ipaddress_excluded for the other)');
  });
  if (family === 6 && version === 2) bad(`${path}.version`, 'IPv6 VIPs need VRRP version 3 (RFC 5798)');
  const advertIntervalMs = ms(o.advert_interval ?? o.advert_int, `${path}.advert_interval`, DEFAULT_ADVERT_INTERVAL_MS);
  if (version === 2 && (advertIntervalMs % 1000 !== 0 || advertIntervalMs < 1000 || advertIntervalMs > 255_000)) {
    bad(`${path}.advert_interval`, 'VRRPv2 carries whole seconds 1..255 (RFC 3768 §5.3.7)');
  }
  if (version === 3 && (advertIntervalMs % 10 !== 0 || advertIntervalMs < 10 || advertIntervalMs > 40_950)) {
    bad(`${path}.advert_interval`, 'VRRPv3 carries centiseconds 1..4095 (RFC 5798 §5.2.7)');
  }
  let authPass: string | null = null;
  if (o.auth !== undefined && o.auth !== null) {
    const a = obj(o.auth, `${path}.auth`);
    if (a.type === 'pass' || a.type === 'PASS') {
      if (version !== 2) bad(`${path}.auth`, 'authentication exists only in VRRPv2 (RFC 5798 §9 removed it)');
      authPass = str(a.secret, `${path}.auth.secret`).slice(0, AUTH_PASS_LEN);
    } else if (a.type !== 'none') bad(`${path}.auth.type`, 'must be pass or none (AH is not supported)');
  }
  const unicastPeers = o.unicast_peers === undefined ? [] : (Array.isArray(o.unicast_peers) ? o.unicast_peers : bad(`${path}.unicast_peers`, 'must be a list')).map((p, i) => ip(p, `${path}.unicast_peers[${i}]`));
  const trackInterfaces = ((o.track_interfaces ?? []) as unknown[]).map((t, i) => {
    const p = `${path}.track_interfaces[${i}]`;
    if (typeof t === 'string') return { name: t, weight: 0 };
    const to = obj(t, p);
    return { name: str(to.name, `${p}.name`), weight: to.weight === undefined ? 0 : int(to.weight, `${p}.weight`, -254, 254) };
  });
  const trackScripts = ((o.track_scripts ?? []) as unknown[]).map((t, i) => {
    const p = `${path}.track_scripts[${i}]`;
    if (typeof t === 'string') return { name: t, weight: null };
    const to = obj(t, p);
    return { name: str(to.name, `${p}.name`), weight: to.weight === undefined ? null : int(to.weight, `${p}.weight`, -254, 254) };
  });
  const g = o.garp === undefined ? {} : obj(o.garp, `${path}.garp`);
  const n = o.notify === undefined ? {} : obj(o.notify, `${path}.notify`);
  const notify: NotifyConfig = {};
  for (const k of ['master', 'backup', 'fault', 'stop', 'any'] as const) {
    if (n[k] !== undefined && n[k] !== null) notify[k] = argv(n[k], `${path}.notify.${k}`);
  }
  for (const k of Object.keys(n)) if (!['master', 'backup', 'fault', 'stop', 'any'].includes(k)) bad(`${path}.notify.${k}`, 'unknown notify (master, backup, fault, stop, any)');
  const state = o.state === undefined ? 'BACKUP' : String(o.state).toUpperCase();
  if (state !== 'MASTER' && state !== 'BACKUP') bad(`${path}.state`, 'must be MASTER or BACKUP');
  return {
    name,
    interface: str(iface, `${path}.interface`),
    vrid: int(o.vrid, `${path}.vrid`, 1, 255),
    priority: o.priority === undefined ? 100 : int(o.priority, `${path}.priority`, 1, 255),
    initialState: state,
    version,
    family,
    advertIntervalMs,
    authPass,
    vips,
    preempt: o.preempt === undefined ? true : o.preempt === true,
    preemptDelayMs: ms(o.preempt_delay, `${path}.preempt_delay`, 0),
    accept: o.accept !== false,
    unicastSrc: o.unicast_src === undefined || o.unicast_src === null ? null : ip(o.unicast_src, `${path}.unicast_src`),
    unicastPeers,
    trackInterfaces,
    trackScripts,
    garp: {
      masterDelayMs: ms(g.master_delay, `${path}.garp.master_delay`, DEFAULT_GARP_MASTER_DELAY_MS),
      masterRepeat: g.master_repeat === undefined ? DEFAULT_GARP_MASTER_REPEAT : int(g.master_repeat, `${path}.garp.master_repeat`, 1, 255),
      refreshMs: ms(g.refresh, `${path}.garp.refresh`, 0),
      refreshRepeat: g.refresh_repeat === undefined ? DEFAULT_GARP_REFRESH_REPEAT : int(g.refresh_repeat, `${path}.garp.refresh_repeat`, 1, 255),
    },
    notify,
  };
}

/**
 * Normalises the `vrrp`, `vrrp_scripts`, `vrrp_sync_groups` sections of a topology (or a JSON
 * file of just those keys). Cross-references (track_scripts, sync group members, duplicate VRIDs
 * on one interface) are checked here so a runner never starts half-configured.
 */
export function normaliseVrrp(doc: unknown): VrrpConfig {
  const root = obj(doc, '(top)');
  const director = root.director === undefined ? {} : obj(root.director, 'director');
  const defaultIface = typeof director.interface === 'string' ? director.interface : undefined;
  const list = root.vrrp === undefined ? [] : root.vrrp;
  if (!Array.isArray(list)) bad('vrrp', 'must be a list of instances');
  const instances = list.map((r, i) => instance(r, `vrrp[${i}]`, defaultIface));
  const scriptsRaw = root.vrrp_scripts ?? [];
  if (!Array.isArray(scriptsRaw)) bad('vrrp_scripts', 'must be a list');
  const scripts: VrrpScriptConfig[] = scriptsRaw.map((r, i) => {
    const p = `vrrp_scripts[${i}]`;
    const o = obj(r, p);
    return {
      name: str(o.name, `${p}.name`),
      command: argv(o.command, `${p}.command`),
      intervalMs: ms(o.interval, `${p}.interval`, 1000),
      timeoutMs: ms(o.timeout, `${p}.timeout`, 1000),
      rise: o.rise === undefined ? 1 : int(o.rise, `${p}.rise`, 1, 1000),
      fall: o.fall === undefined ? 1 : int(o.fall, `${p}.fall`, 1, 1000),
      weight: o.weight === undefined ? 0 : int(o.weight, `${p}.weight`, -254, 254),
    };
  });
  const groupsRaw = root.vrrp_sync_groups ?? [];
  if (!Array.isArray(groupsRaw)) bad('vrrp_sync_groups', 'must be a list');
  const syncGroups = groupsRaw.map((r, i) => {
    const o = obj(r, `vrrp_sync_groups[${i}]`);
    const members = o.instances;
    if (!Array.isArray(members) || members.length === 0) bad(`vrrp_sync_groups[${i}].instances`, 'must be a non-empty list of instance names');
    return { name: str(o.name, `vrrp_sync_groups[${i}].name`), instances: members.map((m, j) => str(m, `vrrp_sync_groups[${i}].instances[${j}]`)) };
  });
  // Cross-checks.
  const names = new Map<string, number>();
  const vridKeys = new Map<string, number>();
  instances.forEach((inst, i) => {
    if (names.has(inst.name)) bad(`vrrp[${i}].name`, `duplicate instance name "${inst.name}" (also vrrp[${names.get(inst.name)}])`);
    names.set(inst.name, i);
    const key = `${inst.interface}/${inst.family}/${inst.vrid}`;
    if (vridKeys.has(key)) bad(`vrrp[${i}].vrid`, `vrid ${inst.vrid} already used on ${inst.interface} by vrrp[${vridKeys.get(key)}]`);
    vridKeys.set(key, i);
    inst.trackScripts.forEach((t, j) => {
      if (!scripts.some((s) => s.name === t.name)) bad(`vrrp[${i}].track_scripts[${j}]`, `no vrrp_scripts entry named "${t.name}"`);
    });
    if (inst.unicastSrc && inst.unicastPeers.length === 0) bad(`vrrp[${i}].unicast_src`, 'needs unicast_peers');
  });
  const seen = new Map<string, string>();
  syncGroups.forEach((g, i) => g.instances.forEach((m, j) => {
    if (!names.has(m)) bad(`vrrp_sync_groups[${i}].instances[${j}]`, `no vrrp instance named "${m}"`);
    if (seen.has(m)) bad(`vrrp_sync_groups[${i}].instances[${j}]`, `"${m}" is already in sync group "${seen.get(m)}"`);
    seen.set(m, g.name);
  }));
  return { instances, scripts, syncGroups };
}
