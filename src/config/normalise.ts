// Semantic checks and normalisation of a schema-valid topology: every problem is collected
// (nothing thrown midway), every default filled, aliases folded, addresses canonical.
import type {
  DirectorModel, Family, PrefixedAddress, RealModel, ServiceModel, Topology, VrrpInstanceModel,
  VrrpScriptModel, VrrpSyncGroupModel, PersistenceModel, MetricsModel, TimeoutsModel,
} from './model';
import {
  Ip, canonicalIp, familyName, formatIp, hostPort, inSubnet, maskToPrefix, maxPrefix, parseIp, prefixToMask,
} from '../common/address';
import { aliased, checkFamilies, durationAt, parseCheck, RawCheck, resolveCheck } from './check';
import { parseDuration } from './duration';
import { DEFAULT_TABLES, DEFAULT_TIMEOUTS, MAX_TIMEOUT_S, memTotalBytes, tableMemoryProblem } from './tables';
import type { PathSeg, Problems } from './problems';
import { isPrime } from '../maglev/maglev';
import { argvAt } from './argv';
import { unusableAddress, unusableMac } from './usable';
import { MAX_PERSIST_MS, MAX_REALS, MAX_SERVICES, MAX_TABLE_SIZE, MAX_VIP_KEYS } from './limits';
import { expandRuns, parsePortItem, portSpecOf, type PortRun } from '../common/ports';
import { LB } from '../maps/lb';
import { pinRootProblem, socketProblem } from './host-paths';
import { lookupUser } from './script-security';

type Raw = Record<string, unknown>;

const DEFAULT_PIN_ROOT = '/sys/fs/bpf/xlvs';
/** Maglev §5.3 evaluates 65537-entry tables; prime, and ≫ 100 × reals for ≤ 1% imbalance. */
export const DEFAULT_TABLE_SIZE = 65537;
/** ipvsadm(8) -p: "The default persistent timeout is 300 seconds". */
const DEFAULT_PERSISTENCE_MS = 300_000;
const DEFAULT_METRICS = { host: '127.0.0.1', port: 9720 };
/** keepalived.conf(5): advert_int 1, priority 100, garp_master_delay 5, garp_master_repeat 5, garp_master_refresh 0 (off), refresh_repeat 1. */
const VRRP_DEFAULTS = { priority: 100, advertMs: 1000, garpDelayMs: 5000, garpRepeat: 5, garpRefreshMs: 0, garpRefreshRepeat: 1 };
/** RFC 3768 §5.3.7: v2 Adver Int is 8 bits of seconds. */
const V2_MAX_ADVERT_MS = 255_000;
/** RFC 5798 §5.2.7: v3 Max Adver Int is 12 bits of centiseconds. */
const V3_MAX_ADVERT_MS = 4095 * 10;
/** RFC 2338 §5.3.6 (kept by RFC 3768 §5.3.6 as legacy): the simple-text password is 8 octets. */
const AUTH_PASS_MAX = 8;
/** keepalived.conf(5): preempt_delay is 0..1000 seconds. */
const MAX_PREEMPT_DELAY_MS = 1_000_000;

interface Addr { text: string; ip: Ip; prefix: number }

/** "addr" or "addr/prefix" → canonical; `needPrefix` makes the prefix mandatory. */
function parsePrefixed(v: string, path: readonly PathSeg[], p: Problems, needPrefix: boolean): Addr | null {
  const [a, pre, extra] = v.split('/');
  const ip = parseIp(a);
  if (!ip || extra !== undefined) {
    p.add(path, `${JSON.stringify(v)} is not an IPv4 or IPv6 address${needPrefix ? ' with a prefix length' : ''}`);
    return null;
  }
  const max = maxPrefix(ip.family);
  if (pre === undefined) {
    if (needPrefix) {
      p.add(path, `"${v}" needs a prefix length, e.g. ${ip.family === 4 ? '10.0.0.2/24' : '2001:db8::2/64'}`);
      return null;
    }
    return { text: formatIp(ip), ip, prefix: max };
  }
  if (!/^\d{1,3}$/.test(pre) || Number(pre) > max) {
    p.add(path, `prefix length /${pre} does not fit ${familyName(ip.family)} (0..${max})`);
    return null;
  }
  return { text: formatIp(ip), ip, prefix: Number(pre) };
}

function parseAddr(v: unknown, path: readonly PathSeg[], p: Problems): Addr | null {
  const ip = typeof v === 'string' ? parseIp(v) : null;
  if (!ip) {
    p.add(path, `${JSON.stringify(v)} is not an IPv4 or IPv6 address`);
    return null;
  }
  return { text: formatIp(ip), ip, prefix: maxPrefix(ip.family) };
}

function pa(a: Addr): PrefixedAddress {
  return { address: a.text, prefix: a.prefix, family: a.ip.family };
}

/** `<vip>:<port>/<protocol>`; a grouped service's canonical port list in place of the port. */
export function serviceKey(vip: string, port: number | string, protocol: string): string {
  return `${vip.includes(':') ? `[${vip}]` : vip}:${port}/${protocol}`;
}

/** Normalises `raw` (already schema-valid). Returns null when `p` gained problems. */
export function normalise(raw: Raw, p: Problems): Topology | null {
  const before = p.length;
  const director = normDirector(raw.director as Raw, p);
  const scripts = normScripts((raw.vrrp_scripts as Raw[]) ?? [], p);
  const vrrp = normVrrp((raw.vrrp as Raw[]) ?? [], director, new Set(scripts.map((s) => s.name)), p);
  const groups = normSyncGroups((raw.vrrp_sync_groups as Raw[]) ?? [], vrrp, p);
  const noAccept = new Set(vrrp.filter((v) => !v.accept).flatMap((v) => v.vips.map((a) => a.address)));
  if (noAccept.size > LB.MAX_VIPS) {
    p.add(['vrrp'], `${noAccept.size} addresses of instances with accept: false, but the data plane's no-accept map holds at most ${LB.MAX_VIPS} (LB_MAX_VIPS)`);
  }
  const timeouts = normTimeouts(raw.timeouts as Raw | undefined, DEFAULT_TIMEOUTS, ['timeouts'], p);
  const services = normServices((raw.services as Raw[]) ?? [], director, timeouts, p);
  const metrics = normMetrics((raw.metrics as Raw) ?? {}, p);
  const control = { socket: ((raw.control as Raw | undefined)?.socket as string) ?? `/run/xlvs/${director.name}.sock` };
  const sockWhy = socketProblem(control.socket);
  if (sockWhy) p.add(['control', 'socket'], sockWhy);
  const scriptUser = (raw.script_user as string | undefined) ?? null;
  if (scriptUser !== null && !lookupUser(scriptUser)) p.add(['script_user'], `no user "${scriptUser}" in /etc/passwd: commands could not run as it`);
  if (p.length > before) return null;
  return { director, vrrp, vrrpScripts: scripts, vrrpSyncGroups: groups, services, timeouts, metrics, control, scriptUser };
}

function normDirector(d: Raw, p: Problems): DirectorModel {
  const at: PathSeg[] = ['director'];
  const addresses: Addr[] = [];
  ((d.addresses as string[]) ?? []).forEach((a, i) => {
    const x = parsePrefixed(a, [...at, 'addresses', i], p, true);
    if (!x) return;
    if (addresses.some((y) => y.text === x.text)) p.add([...at, 'addresses', i], `${x.text} is listed twice`);
    else addresses.push(x);
  });
  let tun4: string | null = null;
  let tun6: string | null = null;
  const ts = d.tun_source;
  if (ts !== undefined) {
    const list = Array.isArray(ts) ? ts : [ts];
    list.forEach((v, i) => {
      const path = Array.isArray(ts) ? [...at, 'tun_source', i] : [...at, 'tun_source'];
      const a = parseAddr(v, path, p);
      if (!a) return;
      if ((a.ip.family === 4 ? tun4 : tun6) !== null) p.add(path, `a second ${familyName(a.ip.family)} tunnel source; give one per family`);
      if (a.ip.family === 4) tun4 = a.text;
      else tun6 = a.text;
    });
  }
  const insideInterface = d.inside_interface as string | undefined;
  if (insideInterface !== undefined && insideInterface === d.interface) {
    p.add([...at, 'inside_interface'], `${insideInterface} is also director.interface: a one-armed NAT director leaves inside_interface out`);
  }
  const snatPool = addressList(d.snat_pool, [...at, 'snat_pool'], p);
  tun4 ??= addresses.find((a) => a.ip.family === 4)?.text ?? null;
  tun6 ??= addresses.find((a) => a.ip.family === 6)?.text ?? null;
  const pinRoot = ((d.pin_root as string) ?? DEFAULT_PIN_ROOT).replace(/\/+$/, '');
  const pinWhy = pinRootProblem(pinRoot);
  if (pinWhy) p.add([...at, 'pin_root'], pinWhy);
  const ct = (d.conn_table as Raw | undefined) ?? {};
  const pt = (d.persistence_table as Raw | undefined) ?? {};
  const tables = {
    connTable: {
      size: (ct.size as number) ?? DEFAULT_TABLES.connTable.size,
      ipv6Size: (ct.ipv6_size as number) ?? DEFAULT_TABLES.connTable.ipv6Size,
      unconfirmedSize: (ct.unconfirmed_size as number) ?? DEFAULT_TABLES.connTable.unconfirmedSize,
      natSize: (ct.nat_size as number) ?? DEFAULT_TABLES.connTable.natSize,
    },
    persistenceTable: { size: (pt.size as number) ?? DEFAULT_TABLES.persistenceTable.size },
  };
  // The kernel preallocates these tables when the programs load: refuse what it could not hold.
  const memWhy = tableMemoryProblem(tables, memTotalBytes());
  if (memWhy) p.add([...at, 'conn_table'], memWhy, { key: true, at: d.conn_table !== undefined ? undefined : d.persistence_table !== undefined ? [...at, 'persistence_table'] : at });
  return {
    name: d.name as string,
    interface: d.interface as string,
    xdpMode: (d.xdp_mode as 'native' | 'generic') ?? 'native',
    onSigterm: (d.on_sigterm as 'keep' | 'remove') ?? 'keep',
    addresses: addresses.map(pa),
    tunSource4: tun4,
    tunSource6: tun6,
    pinRoot,
    pinDir: `${pinRoot}/${d.name as string}`,
    ...tables,
    ...(insideInterface !== undefined ? { insideInterface } : {}),
    ...(snatPool ? { snatPool: snatPool.map((a) => a.text) } : {}),
  };
}

/** A list of plain addresses (`snat_pool`), canonical, each once; null when absent. */
function addressList(v: unknown, at: PathSeg[], p: Problems): Addr[] | null {
  if (v === undefined) return null;
  const out: Addr[] = [];
  (v as unknown[]).forEach((x, i) => {
    const a = usable(parseAddr(x, [...at, i], p), 'a source address', [...at, i], p);
    if (!a) return;
    const first = out.findIndex((y) => y.text === a.text);
    if (first >= 0) p.add([...at, i], `${a.text} is already ${at[at.length - 1]}[${first}]`);
    else out.push(a);
  });
  return out;
}

const TIMEOUT_FIELDS = [['tcp', 'tcp'], ['tcp_fin', 'tcpFin'], ['udp', 'udp']] as const;

/** `timeouts` (top level or a service's) over `base`, field by field; whole seconds. */
function normTimeouts(raw: Raw | undefined, base: TimeoutsModel, at: PathSeg[], p: Problems): TimeoutsModel {
  const out = { ...base };
  for (const [field, key] of TIMEOUT_FIELDS) {
    const v = raw?.[field];
    if (v === undefined || v === null) continue;
    const path = [...at, field];
    const d = parseDuration(v);
    const text = typeof v === 'string' ? v.trim() : `${String(v)}s`;
    if ('error' in d) p.add(path, d.error);
    else if (d.ms % 1000 !== 0) p.add(path, `${text} is not a whole number of seconds: connection timeouts count seconds, as ipvsadm --set does`);
    else if (d.ms < 1000) p.add(path, `${text}: a connection timeout must be at least 1s`);
    else if (d.ms / 1000 > MAX_TIMEOUT_S) p.add(path, `${text} is above ${MAX_TIMEOUT_S}s (365 days), the longest connection timeout`);
    else out[key] = d.ms / 1000;
  }
  return out;
}

function normScripts(list: Raw[], p: Problems): VrrpScriptModel[] {
  const seen = new Map<string, number>();
  return list.map((s, i) => {
    const at: PathSeg[] = ['vrrp_scripts', i];
    const name = s.name as string;
    if (seen.has(name)) p.add([...at, 'name'], `"${name}" is already the name of vrrp_scripts[${seen.get(name)}]`);
    else seen.set(name, i);
    // keepalived.conf(5) vrrp_script: interval 1 s; timeout defaults to the interval; rise/fall 1; weight 0.
    const intervalMs = durationAt(s.interval, [...at, 'interval'], p) ?? 1000;
    if (intervalMs === 0) p.add([...at, 'interval'], 'must be more than 0');
    return {
      name,
      command: argvAt(s.command, [...at, 'command'], p)!,
      intervalMs,
      timeoutMs: durationAt(s.timeout, [...at, 'timeout'], p) ?? intervalMs,
      rise: (s.rise as number) ?? 1,
      fall: (s.fall as number) ?? 1,
      weight: (s.weight as number) ?? 0,
    };
  });
}

function normVrrp(list: Raw[], director: DirectorModel, scriptNames: Set<string>, p: Problems): VrrpInstanceModel[] {
  const names = new Map<string, number>();
  const vrids = new Map<string, number>();
  const out: VrrpInstanceModel[] = [];
  list.forEach((v, i) => {
    const at: PathSeg[] = ['vrrp', i];
    const name = v.name as string;
    if (names.has(name)) p.add([...at, 'name'], `"${name}" is already the name of vrrp[${names.get(name)}]`);
    else names.set(name, i);
    const vrid = aliased(v, at, 'vrid', 'virtual_router_id', p) as number | undefined;
    if (vrid === undefined) p.add([...at, 'vrid'], 'is required', { at });
    const version = (v.version as 2 | 3) ?? 2;
    const vipsKey = v.vips !== undefined ? 'vips' : 'virtual_ipaddress';
    const rawVips = (aliased(v, at, 'vips', 'virtual_ipaddress', p) as string[] | undefined) ?? [];
    if (v.vips === undefined && v.virtual_ipaddress === undefined) p.add([...at, 'vips'], 'is required', { at });
    const vips: Addr[] = [];
    rawVips.forEach((s, j) => {
      const a = usable(parsePrefixed(s, [...at, vipsKey, j], p, false), 'a VIP', [...at, vipsKey, j], p);
      if (!a) return;
      if (vips.some((x) => x.text === a.text)) p.add([...at, vipsKey, j], `${a.text} is listed twice`);
      else vips.push(a);
    });
    const family: Family = vips[0]?.ip.family ?? 4;
    vips.forEach((a, j) => {
      if (a.ip.family !== family) p.add([...at, vipsKey, j], `${a.text} is ${familyName(a.ip.family)} but ${vips[0].text} is ${familyName(family)}: one family per instance (use a second instance)`);
    });
    if (version === 2 && family === 6 && vips.length) p.add([...at, 'version'], 'VRRP version 2 carries IPv4 only (RFC 3768); use version: 3 for IPv6', { at: v.version !== undefined ? [...at, 'version'] : at });
    const advKey = v.advert_interval !== undefined ? 'advert_interval' : 'advert_int';
    const advertMs = durationAt(aliased(v, at, 'advert_interval', 'advert_int', p), [...at, advKey], p) ?? VRRP_DEFAULTS.advertMs;
    if (version === 2 && (advertMs % 1000 !== 0 || advertMs < 1000 || advertMs > V2_MAX_ADVERT_MS)) {
      p.add([...at, advKey], `${advertMs}ms is not a whole number of seconds in 1s..255s (VRRP v2 adverts count seconds, RFC 3768 §5.3.7)`);
    }
    if (version === 3 && (advertMs % 10 !== 0 || advertMs < 10 || advertMs > V3_MAX_ADVERT_MS)) {
      p.add([...at, advKey], `${advertMs}ms is not a whole number of centiseconds in 10ms..40.95s (RFC 5798 §5.2.7)`);
    }
    let auth: VrrpInstanceModel['auth'] = null;
    if (v.auth !== undefined) {
      const a = v.auth as { type: 'pass'; secret: string };
      if (version === 3) p.add([...at, 'auth'], 'VRRP version 3 has no authentication (RFC 5798 §9); remove auth or use version: 2', { key: true });
      if (version === 2 && a.secret.length > AUTH_PASS_MAX) {
        p.warn([...at, 'auth', 'secret'], `is ${a.secret.length} characters; VRRPv2 carries ${AUTH_PASS_MAX} (RFC 2338 §5.3.6), so only "${a.secret.slice(0, AUTH_PASS_MAX)}" is sent, as keepalived truncates it`);
      }
      auth = { type: 'pass', secret: a.secret.slice(0, AUTH_PASS_MAX) };
    }
    const ifname = (v.interface as string) ?? director.interface;
    if (vrid !== undefined) {
      const k = `${ifname}/${family}/${vrid}`;
      if (vrids.has(k)) {
        p.add([...at, v.vrid !== undefined ? 'vrid' : 'virtual_router_id'], `vrid ${vrid} is already used on ${ifname} by vrrp[${vrids.get(k)}] (${familyName(family)})`);
      } else vrids.set(k, i);
    }
    let preempt = (v.preempt as boolean | undefined) ?? true;
    if (v.nopreempt !== undefined) {
      if (v.preempt !== undefined) p.add([...at, 'nopreempt'], 'both preempt and its keepalived form nopreempt are set; keep one', { key: true });
      else preempt = !(v.nopreempt as boolean);
    }
    const state = (v.state as 'MASTER' | 'BACKUP') ?? 'BACKUP';
    if (!preempt && state === 'MASTER') p.add([...at, 'state'], 'MASTER with preempt: false — keepalived only honours nopreempt with state BACKUP');
    const preemptDelayMs = durationAt(v.preempt_delay, [...at, 'preempt_delay'], p) ?? 0;
    if (preemptDelayMs > MAX_PREEMPT_DELAY_MS) p.add([...at, 'preempt_delay'], `${preemptDelayMs / 1000}s is above 1000s (keepalived's limit)`);
    const uKey = v.unicast_src !== undefined ? 'unicast_src' : 'unicast_src_ip';
    const usrc = aliased(v, at, 'unicast_src', 'unicast_src_ip', p);
    let unicastSrc: string | null = null;
    if (usrc !== undefined) {
      const a = parseAddr(usrc, [...at, uKey], p);
      if (a) {
        if (a.ip.family !== family) p.add([...at, uKey], `${a.text} is ${familyName(a.ip.family)} but the VIPs are ${familyName(family)}`);
        unicastSrc = a.text;
      }
    }
    const peersKey = v.unicast_peers !== undefined ? 'unicast_peers' : 'unicast_peer';
    const unicastPeers: string[] = [];
    ((aliased(v, at, 'unicast_peers', 'unicast_peer', p) as string[] | undefined) ?? []).forEach((s, j) => {
      const a = parseAddr(s, [...at, peersKey, j], p);
      if (!a) return;
      if (a.ip.family !== family) p.add([...at, peersKey, j], `${a.text} is ${familyName(a.ip.family)} but the VIPs are ${familyName(family)}`);
      else if (unicastPeers.includes(a.text)) p.add([...at, peersKey, j], `${a.text} is listed twice`);
      else unicastPeers.push(a.text);
    });
    const tiKey = v.track_interfaces !== undefined ? 'track_interfaces' : 'track_interface';
    const trackInterfaces = ((aliased(v, at, 'track_interfaces', 'track_interface', p) as unknown[] | undefined) ?? []).map((t, j) => {
      if (typeof t === 'string') return { name: t, weight: 0 };
      if (t && typeof t === 'object' && typeof (t as Raw).name === 'string') return { name: (t as Raw).name as string, weight: ((t as Raw).weight as number) ?? 0 };
      p.add([...at, tiKey, j], 'expected an interface name or { name, weight }');
      return { name: '', weight: 0 };
    });
    const tsKey = v.track_scripts !== undefined ? 'track_scripts' : 'track_script';
    const trackScripts = ((aliased(v, at, 'track_scripts', 'track_script', p) as string[] | undefined) ?? []).map(String);
    trackScripts.forEach((s, j) => {
      if (!scriptNames.has(s)) p.add([...at, tsKey, j], `no vrrp_scripts entry is named "${s}"`);
    });
    const g = (v.garp as Raw) ?? {};
    const n = (v.notify as Raw) ?? {};
    out.push({
      name,
      interface: ifname,
      vrid: vrid ?? 0,
      priority: (v.priority as number) ?? VRRP_DEFAULTS.priority,
      state,
      version,
      family,
      advertIntervalMs: advertMs,
      auth,
      vips: vips.map(pa),
      preempt,
      preemptDelayMs,
      // keepalived accepts unless vrrp_strict: `accept: false` is its no_accept.
      accept: (v.accept as boolean) ?? true,
      unicastSrc,
      unicastPeers,
      trackInterfaces,
      trackScripts,
      syncGroup: null,
      garp: {
        masterDelayMs: durationAt(g.master_delay, [...at, 'garp', 'master_delay'], p) ?? VRRP_DEFAULTS.garpDelayMs,
        masterRepeat: (g.master_repeat as number) ?? VRRP_DEFAULTS.garpRepeat,
        refreshMs: durationAt(g.refresh, [...at, 'garp', 'refresh'], p) ?? VRRP_DEFAULTS.garpRefreshMs,
        refreshRepeat: (g.refresh_repeat as number) ?? VRRP_DEFAULTS.garpRefreshRepeat,
      },
      notify: {
        master: argvAt(n.master, [...at, 'notify', 'master'], p), backup: argvAt(n.backup, [...at, 'notify', 'backup'], p),
        fault: argvAt(n.fault, [...at, 'notify', 'fault'], p), stop: argvAt(n.stop, [...at, 'notify', 'stop'], p), any: argvAt(n.any, [...at, 'notify', 'any'], p),
      },
    });
  });
  return out;
}

function normSyncGroups(list: Raw[], vrrp: VrrpInstanceModel[], p: Problems): VrrpSyncGroupModel[] {
  const names = new Map<string, number>();
  const member = new Map<string, string>();
  return list.map((g, i) => {
    const at: PathSeg[] = ['vrrp_sync_groups', i];
    const name = g.name as string;
    if (names.has(name)) p.add([...at, 'name'], `"${name}" is already the name of vrrp_sync_groups[${names.get(name)}]`);
    else names.set(name, i);
    const instances = (g.instances as string[]).map(String);
    instances.forEach((inst, j) => {
      const vi = vrrp.find((x) => x.name === inst);
      if (!vi) p.add([...at, 'instances', j], `no vrrp instance is named "${inst}"`);
      else if (member.has(inst)) p.add([...at, 'instances', j], `"${inst}" is already in sync group "${member.get(inst)}"`);
      else {
        member.set(inst, name);
        vi.syncGroup = name;
      }
    });
    return { name, instances };
  });
}

function normPersistence(raw: Raw | undefined, family: Family, at: PathSeg[], p: Problems): PersistenceModel | null {
  if (raw === undefined) return null;
  const timeoutMs = durationAt(raw.timeout, [...at, 'timeout'], p, MAX_PERSIST_MS, 'the data plane\'s limit (persist_timeout_ms is 32 bits of ms)') ?? DEFAULT_PERSISTENCE_MS;
  let prefix = maxPrefix(family);
  const nm = raw.netmask;
  if (nm !== undefined) {
    const np = [...at, 'netmask'];
    if (typeof nm === 'number' || /^\/?-?\d{1,3}$/.test(String(nm))) {
      const n = Number(String(nm).replace('/', ''));
      if (n < 0 || n > maxPrefix(family)) p.add(np, `prefix length ${n} does not fit ${familyName(family)} (0..${maxPrefix(family)})`);
      else prefix = n;
    } else if (family === 6) {
      p.add(np, `${JSON.stringify(nm)}: an IPv6 service takes the netmask as a prefix length 0..128 (e.g. 64)`);
    } else {
      const m = parseIp(String(nm));
      if (!m || m.family !== 4) p.add(np, `${JSON.stringify(nm)} is not a dotted IPv4 netmask (e.g. 255.255.255.0) or a prefix length`);
      else {
        const pl = maskToPrefix(m);
        if (pl === null) p.add(np, `${nm} is not a contiguous netmask (its one-bits must come first, e.g. 255.255.255.0)`);
        else prefix = pl;
      }
    }
  }
  if (timeoutMs === 0) return null;
  return { timeoutMs, prefix, netmask: prefixToMask(family, prefix) };
}

/** A service's `ports` as runs, each item checked at its path; overlaps are problems. */
function normPorts(raw: unknown[], at: PathSeg[], p: Problems): { runs: PortRun[]; items: { run: PortRun; path: PathSeg[] }[] } {
  const items: { run: PortRun; path: PathSeg[] }[] = [];
  raw.forEach((v, j) => {
    const path = [...at, j];
    const run = parsePortItem(v as string | number);
    if (!run) {
      p.add(path, `${JSON.stringify(v)} is not a port 1..65535 or a range "first-last" with first <= last`);
      return;
    }
    const other = items.find((x) => x.run.from <= run.to && run.from <= x.run.to);
    if (other) {
      const port = Math.max(run.from, other.run.from);
      p.add(path, `port ${port} is already in ${formatPath(other.path)}: a port is listed once`);
      return;
    }
    items.push({ run, path });
  });
  return { runs: items.map((x) => x.run), items };
}

function formatPath(path: readonly PathSeg[]): string {
  return path.map((s, i) => (typeof s === 'number' ? `[${s}]` : i ? `.${s}` : s)).join('');
}

function normServices(list: Raw[], director: DirectorModel, timeouts: TimeoutsModel, p: Problems): ServiceModel[] {
  const keys = new Map<string, number>();
  // Ports taken on each VIP and protocol, with the path that took them (overlaps between
  // services: a port belongs to one VIP id).
  const taken = new Map<string, { run: PortRun; path: PathSeg[]; key: string }[]>();
  let vipKeys = 0;
  const names = new Map<string, number>();
  const dirNets = director.addresses.map((a) => ({ ip: parseIp(a.address)!, prefix: a.prefix }));
  const out: ServiceModel[] = [];
  list.forEach((s, i) => {
    const at: PathSeg[] = ['services', i];
    const vipA = usable(parseAddr(s.vip, [...at, 'vip'], p), 'a VIP', [...at, 'vip'], p);
    const family: Family = vipA?.ip.family ?? 4;
    const vip = vipA?.text ?? String(s.vip);
    const protocol = (s.protocol as 'tcp' | 'udp') ?? 'tcp';
    const method = (s.method as ServiceModel['method']) ?? 'dr';
    let port = (s.port as number | undefined) ?? 0;
    let ports: string | null = null;
    let items: { run: PortRun; path: PathSeg[] }[] = [];
    if (s.port !== undefined && s.ports !== undefined) {
      p.add([...at, 'ports'], 'a service takes port or ports, not both', { key: true });
    } else if (s.port === undefined && s.ports === undefined) {
      p.add([...at, 'port'], 'is required (or ports, for a grouped service)', { at });
    } else if (s.ports !== undefined) {
      const g = normPorts(s.ports as unknown[], [...at, 'ports'], p);
      items = g.items;
      const list = expandRuns(g.runs);
      if (list.length === 1) port = list[0];
      else if (list.length > 1) ports = portSpecOf(list);
      vipKeys += list.length;
    }
    if (s.ports === undefined) {
      items = port === 0 ? [] : [{ run: { from: port, to: port }, path: [...at, 'port'] }];
      vipKeys += 1;
    }
    const key = serviceKey(vip, ports ?? port, protocol);
    if (vipA) {
      if (keys.has(key)) p.add([...at, 'vip'], `${key} is already defined by services[${keys.get(key)}]`);
      else {
        keys.set(key, i);
        // Another service on this VIP and protocol with one of these ports: both paths named.
        const mine = taken.get(`${vip}/${protocol}`) ?? [];
        for (const it of items) {
          const other = mine.find((x) => x.run.from <= it.run.to && it.run.from <= x.run.to);
          if (other) {
            const clash = Math.max(it.run.from, other.run.from);
            p.add(it.path, `port ${clash} is also ${formatPath(other.path)} (${other.key}): a port of a VIP and protocol belongs to one service`);
          }
        }
        for (const it of items) mine.push({ ...it, key });
        taken.set(`${vip}/${protocol}`, mine);
      }
    }
    const name = (s.name as string) ?? key;
    if (s.name !== undefined) {
      if (names.has(name)) p.add([...at, 'name'], `"${name}" is already the name of services[${names.get(name)}]`);
      else names.set(name, i);
    }
    const tableSize = (s.table_size as number) ?? DEFAULT_TABLE_SIZE;
    if (tableSize > MAX_TABLE_SIZE) p.add([...at, 'table_size'], `${tableSize} is above ${MAX_TABLE_SIZE}, the largest Maglev table the data plane holds (LB_MAGLEV_MAX)`);
    else if (!isPrime(tableSize)) p.add([...at, 'table_size'], `${tableSize} is not a prime number (Maglev needs a prime table size, e.g. 65537 or 251)`);
    const persistence = normPersistence(s.persistence as Raw | undefined, family, [...at, 'persistence'], p);
    const svcCheck = s.check != null ? parseCheck(s.check as RawCheck, [...at, 'check'], p) : null;
    if (svcCheck && port === 0 && ports === null && svcCheck.port === undefined && needsPort(svcCheck.type)) {
      p.add([...at, 'check', 'port'], `is required: the service is port 0 (every port), so a ${svcCheck.type ?? 'tcp'} check needs a port to probe`, { at: [...at, 'check'] });
    }
    if (svcCheck && protocol === 'udp' && (svcCheck.type === 'http' || svcCheck.type === 'https' || svcCheck.type === 'tcp')) {
      p.add([...at, 'check', 'type'], `a ${svcCheck.type} check on a UDP service probes a TCP port the reals may not open; use udp or script, or set check.port on purpose`);
    }
    const q = (s.quorum as Raw) ?? {};
    const quorum = { min: (q.min as number) ?? 1, hysteresis: (q.hysteresis as number) ?? 0, up: argvAt(q.up, [...at, 'quorum', 'up'], p), down: argvAt(q.down, [...at, 'quorum', 'down'], p) };
    const reals: RealModel[] = [];
    const realAddrs = new Map<string, number>();
    ((s.reals as Raw[]) ?? []).forEach((r, j) => {
      const rat: PathSeg[] = [...at, 'reals', j];
      const a = usable(parseAddr(r.address, [...rat, 'address'], p), 'a real', [...rat, 'address'], p);
      if (!a) return;
      if (vipA && a.text === vipA.text) {
        p.add([...rat, 'address'], `${a.text} is the service's own VIP: a real must be another host`);
        return;
      }
      if (realAddrs.has(a.text)) {
        p.add([...rat, 'address'], `${a.text} is already reals[${realAddrs.get(a.text)}] of this service`);
        return;
      }
      realAddrs.set(a.text, j);
      const rport = (r.port as number) ?? port;
      if (ports !== null) {
        // A grouped service forwards every port as it came (DR and TUN keep the destination
        // port); a real's own port is only where it is probed, so it must be one of the group's.
        if (rport !== 0 && !items.some((x) => x.run.from <= rport && rport <= x.run.to)) {
          p.add([...rat, 'port'], `${rport} is not one of the service's ports (${ports}): a real of a grouped service takes every port of the group; its port says which one health checks probe`);
        }
      } else portProblem(rport, port, method, [...rat, 'port'], p);
      checkForwarding(a, method, family, vipA, director, dirNets, [...rat, 'address'], p);
      const ownCheck = r.check != null ? parseCheck(r.check as RawCheck, [...rat, 'check'], p) : null;
      if (ports !== null) {
        const c = resolveCheck(svcCheck, ownCheck, { address: a.text, port: rport });
        if (needsPort(c.type) && c.port === 0) {
          const where: PathSeg[] = ownCheck ? [...rat, 'check', 'port'] : [...at, 'check', 'port'];
          p.add(where, `is required for ${formatPath(rat)} (${a.text}): the service is a group of ports (${ports}), so a ${c.type} check needs a port to probe; give check.port (connect_port) or the real's port`,
            { at: ownCheck ? [...rat, 'check'] : [...at, 'check'] });
        }
      } else if (ownCheck && port === 0 && ownCheck.port === undefined && needsPort(ownCheck.type ?? svcCheck?.type) && !(svcCheck?.port !== undefined && (ownCheck.type === undefined || ownCheck.type === svcCheck?.type))) {
        p.add([...rat, 'check', 'port'], 'is required: the service is port 0 (every port), so the check needs a port to probe', { at: [...rat, 'check'] });
      }
      const check = resolveCheck(svcCheck, ownCheck, { address: a.text, port: rport });
      checkFamilies(check, a.ip.family, [...rat, 'check'], p);
      const { upper, lower } = thresholds(r, rat, p);
      reals.push({
        key: hostPort(a.text, rport),
        address: a.text,
        family: a.ip.family,
        port: rport,
        weight: (r.weight as number) ?? 1,
        upperThreshold: upper,
        lowerThreshold: lower,
        // keepalived.conf(5): inhibit_on_failure on a virtual_server applies to its reals; a
        // real_server's own inhibit_on_failure <BOOL> overrides it.
        inhibitOnFailure: (r.inhibit_on_failure as boolean | undefined) ?? (s.inhibit_on_failure as boolean | undefined) ?? false,
        mac: macAt(r.mac, [...rat, 'mac'], p),
        local: r.local === true,
        check,
        notifyUp: argvAt(r.notify_up, [...rat, 'notify_up'], p),
        notifyDown: argvAt(r.notify_down, [...rat, 'notify_down'], p),
      });
    });
    // A director is at most one real of a service (the data plane's vip_info.local_real).
    const ownAddrs = new Set(director.addresses.map((x) => x.address));
    const locals = reals.map((r, j) => ({ r, j })).filter(({ r }) => r.local || ownAddrs.has(r.address));
    if (locals.length > 1) {
      const j = locals[1].j;
      p.add([...at, 'reals', j, locals[1].r.local ? 'local' : 'address'],
        `a second real of this service on this director (reals[${locals[0].j}] is one already${locals[0].r.local ? ', local: true' : ', an address in director.addresses'}): a director can be one real of a service`);
    }
    ((s.reals as Raw[]) ?? []).forEach((r, j) => {
      if (r.local === true && r.mac != null) p.add([...at, 'reals', j, 'mac'], 'a local real (local: true) is this director: its flows go to its own kernel, not to a MAC; drop mac');
    });
    // keepalived quorum: the sum of the weights of the live reals must reach `min`.
    const totalWeight = reals.reduce((sum, r) => sum + r.weight, 0);
    if (quorum.min > totalWeight && (s.quorum as Raw | undefined)?.min !== undefined) {
      p.add([...at, 'quorum', 'min'], `${quorum.min} is more than the total weight ${totalWeight} of the reals: the quorum could never be met`);
    }
    let sorryServer: ServiceModel['sorryServer'] = null;
    if (s.sorry_server !== undefined) {
      const ss = s.sorry_server as Raw;
      const sat: PathSeg[] = [...at, 'sorry_server'];
      let a = usable(parseAddr(ss.address, [...sat, 'address'], p), 'a sorry server', [...sat, 'address'], p);
      if (a && vipA && a.text === vipA.text) {
        p.add([...sat, 'address'], `${a.text} is the service's own VIP: the sorry server must be another host`);
        a = null;
      }
      const sport = (ss.port as number) ?? port;
      if (ports !== null) {
        if (sport !== 0 && !items.some((x) => x.run.from <= sport && sport <= x.run.to)) {
          p.add([...sat, 'port'], `${sport} is not one of the service's ports (${ports}): the sorry server takes every port of the group`);
        }
      } else portProblem(sport, port, method, [...sat, 'port'], p);
      if (a) {
        checkForwarding(a, method, family, vipA, director, dirNets, [...sat, 'address'], p);
        if (realAddrs.has(a.text)) p.add([...sat, 'address'], `${a.text} is also reals[${realAddrs.get(a.text)}]`);
        sorryServer = { address: a.text, family: a.ip.family, port: sport };
      }
    }
    const snatPool = method === 'fullnat' ? fullNatPool(s, director, family, vip, [...realAddrs.keys(), ...(sorryServer ? [sorryServer.address] : [])], at, p) : null;
    if (method !== 'fullnat' && s.snat_pool !== undefined) p.add([...at, 'snat_pool'], `only a fullnat service rewrites the source; this one is ${method}`);
    out.push({
      key, name, vip, family, port, ports, protocol, method,
      ...(snatPool ? { snatPool } : {}),
      scheduler: (s.scheduler as ServiceModel['scheduler']) ?? 'maglev',
      persistence,
      timeouts: normTimeouts(s.timeouts as Raw | undefined, timeouts, [...at, 'timeouts'], p),
      tableSize,
      onDown: (s.on_down as 'expire' | 'keep') ?? 'expire',
      quorum, sorryServer, reals,
    });
  });
  const realIds = out.reduce((n, s) => n + s.reals.length + (s.sorryServer ? 1 : 0), 0);
  if (list.length > MAX_SERVICES) {
    p.add(['services'], `${list.length} services, but the data plane holds at most ${MAX_SERVICES} (one VIP id each: LB_MAX_VIPS ${LB.MAX_VIPS} less id 0)`);
  }
  if (vipKeys > MAX_VIP_KEYS) {
    p.add(['services'], `${vipKeys} ports over all services (a grouped service counts each of its ports), but the data plane's VIP table holds at most ${MAX_VIP_KEYS} (LB_VIP_KEYS)`);
  }
  if (realIds > MAX_REALS) {
    p.add(['services'], `${realIds} reals over all services (a sorry server counts as one), but the data plane holds at most ${MAX_REALS} (one real id each: LB_MAX_REALS ${LB.MAX_REALS} less id 0)`);
  }
  return out;
}

/**
 * A real's connection thresholds (ipvsadm -x/-y, keepalived uthreshold/lthreshold); 0 = none.
 * IPVS: at or above the upper one the real gets no new flows until it falls below the lower one
 * (3/4 of the upper when the lower is 0), so a lower one needs an upper one above it.
 */
function thresholds(r: Raw, at: PathSeg[], p: Problems): { upper: number; lower: number } {
  const upper = (aliased(r, at, 'upper_threshold', 'uthreshold', p) as number | undefined) ?? 0;
  const lower = (aliased(r, at, 'lower_threshold', 'lthreshold', p) as number | undefined) ?? 0;
  const lowerKey = r.lower_threshold !== undefined ? 'lower_threshold' : 'lthreshold';
  const upperKey = r.uthreshold !== undefined && r.upper_threshold === undefined ? 'uthreshold' : 'upper_threshold';
  if (lower > 0 && upper === 0) {
    p.add([...at, lowerKey], `${lower} without ${upperKey}: the lower threshold only says when a real that reached its upper one takes new flows again`);
  } else if (lower > 0 && lower >= upper) {
    p.add([...at, lowerKey], `${lower} is not below ${upperKey} ${upper}: the real must fall below the lower threshold after reaching the upper one`);
  }
  return { upper, lower };
}

/** `a` unless it is an address no service can use as `what` (a problem is added then). */
function usable(a: Addr | null, what: string, path: PathSeg[], p: Problems): Addr | null {
  if (!a) return null;
  const why = unusableAddress(a.ip);
  if (!why) return a;
  p.add(path, `${a.text} is ${why}: it cannot be ${what}`);
  return null;
}

/** A real's MAC, canonical (lower case, colons), or null; group MACs are problems. */
function macAt(v: unknown, path: PathSeg[], p: Problems): string | null {
  if (v === undefined || v === null) return null;
  const mac = String(v).toLowerCase().replace(/-/g, ':');
  const why = unusableMac(mac);
  if (why) p.add(path, `${mac} is ${why}: a real's MAC must be one station's`);
  return mac;
}

function needsPort(t: string | undefined): boolean {
  return t === undefined || t === 'tcp' || t === 'http' || t === 'https' || t === 'udp';
}

/**
 * A real's (or sorry server's) port against the service's. DR and TUN leave the destination port
 * as the client sent it; NAT and full-NAT rewrite it (VIP:80 -> real:8080), except on a port-0
 * service, whose flows keep whatever port they came to.
 */
function portProblem(rport: number, port: number, method: ServiceModel['method'], path: PathSeg[], p: Problems): void {
  if (rport === port) return;
  if (method === 'dr' || method === 'tun') {
    p.add(path, `${rport} differs from the service port ${port}: ${method.toUpperCase()} forwards without rewriting ports (method: nat maps ports)`);
  } else if (port === 0) {
    p.add(path, `${rport}: the service is port 0 (every port), so ${method.toUpperCase()} keeps each flow's own port; leave the real's port out or 0`);
  }
}

/**
 * A fullnat service's source pool: its own `snat_pool`, else `director.snat_pool`, restricted to
 * the VIP's family (the reals are of that family too). None is a problem: the reals would have no
 * address to answer.
 */
function fullNatPool(s: Raw, director: DirectorModel, family: Family, vip: string, reals: string[], at: PathSeg[], p: Problems): string[] {
  const own = s.snat_pool !== undefined ? addressList(s.snat_pool, [...at, 'snat_pool'], p) : null;
  const list = own ? own.map((a) => a.text) : (director.snatPool ?? []);
  const where = own ? 'snat_pool' : 'director.snat_pool';
  const pool: string[] = [];
  list.forEach((a, i) => {
    const fam: Family = a.includes(':') ? 6 : 4;
    const path: PathSeg[] = own ? [...at, 'snat_pool', i] : ['director', 'snat_pool', i];
    if (a === vip) p.add(path, `${a} is the service's VIP: the pool must be other addresses of the director`);
    else if (reals.includes(a)) p.add(path, `${a} is a real of this service`);
    else if (fam === family) pool.push(a);
    else if (own) p.add(path, `${a} is ${familyName(fam)} but the VIP is ${familyName(family)}: full-NAT does not change the family`);
  });
  if (pool.length === 0 && list.length === 0) {
    p.add([...at, 'method'], `fullnat needs source addresses for the reals to answer: set snat_pool on the service or director.snat_pool (addresses of this director, ${familyName(family)})`);
  } else if (pool.length === 0 && !own) {
    p.add([...at, 'method'], `fullnat needs a ${familyName(family)} source address: ${where} has none of the VIP's family`);
  }
  return pool;
}

/**
 * DR: same family as the VIP and on a director subnet; TUN: a tunnel source of the real's family;
 * NAT and full-NAT: the VIP's family (the real answers to the director, which routes toward it,
 * so no subnet of its own is needed).
 */
function checkForwarding(
  a: Addr, method: ServiceModel['method'], family: Family, vipA: Addr | null, director: DirectorModel,
  dirNets: { ip: Ip; prefix: number }[], path: PathSeg[], p: Problems,
): void {
  if (method === 'nat' || method === 'fullnat') {
    if (vipA && a.ip.family !== family) {
      p.add(path, `${a.text} is ${familyName(a.ip.family)} but the VIP is ${familyName(family)}: ${method === 'nat' ? 'NAT' : 'full-NAT'} does not change the family (use method: tun)`);
    }
    return;
  }
  if (method === 'dr') {
    if (vipA && a.ip.family !== family) {
      p.add(path, `${a.text} is ${familyName(a.ip.family)} but the VIP is ${familyName(family)}: DR cannot change the family (use method: tun)`);
      return;
    }
    const nets = dirNets.filter((n) => n.ip.family === a.ip.family);
    if (director.addresses.length > 0 && !nets.some((n) => inSubnet(n.ip, n.prefix, a.ip))) {
      const list = nets.map((n) => `${formatIp(n.ip)}/${n.prefix}`).join(', ');
      p.add(path, `${a.text} is outside the director's ${familyName(a.ip.family)} subnets (${list || 'none in director.addresses'}): DR needs the real on the same link`);
    }
  } else {
    // With no director.addresses and no tun_source, the source comes from the interface at
    // run time (checkRuntime verifies it); otherwise the stated addresses must cover the family.
    const src = a.ip.family === 4 ? director.tunSource4 : director.tunSource6;
    const stated = director.addresses.length > 0 || director.tunSource4 !== null || director.tunSource6 !== null;
    if (!src && stated) {
      p.add(path, `no ${familyName(a.ip.family)} tunnel source for ${a.text}: add an ${familyName(a.ip.family)} address to director.addresses or director.tun_source`);
    }
  }
}

function normMetrics(m: Raw, p: Problems): MetricsModel {
  const enabled = (m.enabled as boolean) ?? true;
  if (m.listen === undefined) return { enabled, ...DEFAULT_METRICS };
  const text = m.listen as string;
  const mm = /^(?:\[([^\]]+)\]|([^:]+)):(\d{1,5})$/.exec(text);
  const host = mm ? canonicalIp(mm[1] ?? mm[2]) : null;
  const port = mm ? Number(mm[3]) : 0;
  if (!mm || !host || port < 1 || port > 65535 || (mm[2] !== undefined && host.includes(':'))) {
    p.add(['metrics', 'listen'], `${JSON.stringify(text)} is not address:port (e.g. 127.0.0.1:9720 or [::1]:9720)`);
    return { enabled, ...DEFAULT_METRICS };
  }
  return { enabled, host, port };
}
