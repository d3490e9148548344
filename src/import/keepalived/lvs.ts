// keepalived LVS blocks → topology services: virtual_server_group, virtual_server, real_server
// and their checkers (keepalived.conf(5) "LVS CONFIGURATION").
import * as net from 'node:net';
import { secondsToDuration } from '../durations';
import { mapScheduler, unmappedSchedulerFlags } from '../schedulers';
import { thresholdsOut } from '../limits';
import type { CheckOut, RealOut, ServiceOut } from '../types';
import { childrenOf, type MapContext } from './context';
import type { Stmt } from './parser';
import { resolveMark } from '../iptables';
import { inPortItems } from '../../common/ports';

// keepalived.conf(5) defaults.
const DEFAULT_DELAY_LOOP = 60; // "delay timer for checker polling (60 seconds if not specified)"
const DEFAULT_CONNECT_TIMEOUT = 5; // "The default is 5 seconds"
const DEFAULT_PERSISTENCE_TIMEOUT = 360; // "persistence timeout in seconds, default 6 minutes"
const MAX_GROUP_ADDRESSES = 256; // our cap on one range of a virtual_server_group

const MAPPED_CHECKERS = new Set(['TCP_CHECK', 'HTTP_GET', 'SSL_GET', 'MISC_CHECK', 'UDP_CHECK']);
const UNMAPPED_CHECKERS = new Set(['SMTP_CHECK', 'DNS_CHECK', 'PING_CHECK', 'BFD_CHECK', 'FILE_CHECK']);
const SCHED_FLAGS = new Set(['flag-1', 'flag-2', 'flag-3', 'sh-port', 'sh-fallback', 'mh-port', 'mh-fallback']);

export interface GroupEntry { vip?: string; port?: number; fwmark?: number; st: Stmt }

/** virtual_server_group NAME { IP [PORT] | RANGE [PORT] | fwmark N } */
export function mapGroup(ctx: MapContext, st: Stmt): { name: string; entries: GroupEntry[] } {
  const name = ctx.arg(st);
  const entries: GroupEntry[] = [];
  for (const e of childrenOf(ctx, st)) {
    if (e.children) ctx.fail(e, `unknown block '${e.key}' in virtual_server_group ${name}`);
    if (e.key === 'fwmark') { entries.push({ fwmark: ctx.int(e, 0, 0xffffffff), st: e }); continue; }
    const port = e.args[0] !== undefined ? ctx.port(e, e.args[0]) : undefined;
    for (const vip of expandRange(ctx, e)) entries.push({ vip, port, st: e });
  }
  return { name, entries };
}

function v4ToNum(a: string): number { return a.split('.').reduce((n, o) => n * 256 + Number(o), 0); }
function numToV4(n: number): string { return [24, 16, 8, 0].map((s) => Math.floor(n / 2 ** s) % 256).join('.'); }

/** A virtual_server_group address: single, A.B.C.D-E, A.B.C.D-E.F.G.H or A.B.C.D/nn (IPv4). */
function expandRange(ctx: MapContext, e: Stmt): string[] {
  const t = e.key;
  if (net.isIP(t)) return [t];
  let lo: number | undefined;
  let hi: number | undefined;
  const dash = /^(\d+\.\d+\.\d+\.)(\d+)-(\d+)$/.exec(t);
  const full = /^([\d.]+)-([\d.]+)$/.exec(t);
  const cidr = /^([\d.]+)\/(\d+)$/.exec(t);
  if (dash && net.isIPv4(dash[1] + dash[2])) { lo = v4ToNum(dash[1] + dash[2]); hi = v4ToNum(dash[1] + dash[3]); }
  else if (full && net.isIPv4(full[1]) && net.isIPv4(full[2])) { lo = v4ToNum(full[1]); hi = v4ToNum(full[2]); }
  else if (cidr && net.isIPv4(cidr[1]) && Number(cidr[2]) <= 32) {
    const size = 2 ** (32 - Number(cidr[2]));
    lo = Math.floor(v4ToNum(cidr[1]) / size) * size;
    hi = lo + size - 1;
  } else ctx.fail(e, `virtual_server_group: '${t}' is not an address or an IPv4 range (A.B.C.D-E, A.B.C.D-E.F.G.H, A.B.C.D/nn)`);
  if (hi! < lo! || (dash && Number(dash[3]) > 255)) ctx.fail(e, `virtual_server_group: range '${t}' is empty or invalid`);
  if (hi! - lo! + 1 > MAX_GROUP_ADDRESSES) ctx.fail(e, `virtual_server_group: range '${t}' has ${hi! - lo! + 1} addresses; at most ${MAX_GROUP_ADDRESSES} are expanded into services`);
  const out: string[] = [];
  for (let n = lo!; n <= hi!; n++) out.push(numToV4(n));
  return out;
}

/** Settings a virtual_server passes down to its reals and their checkers. */
interface Inherited {
  delayLoop?: number;
  connectTimeout?: number;
  retry?: number;
  delayBeforeRetry?: number;
  warmup?: number;
  alpha?: boolean;
  virtualhost?: string;
  inhibit?: boolean;
}
const INHERITED_KEYS: Record<string, keyof Inherited> = {
  delay_loop: 'delayLoop', connect_timeout: 'connectTimeout', retry: 'retry', nb_get_retry: 'retry',
  delay_before_retry: 'delayBeforeRetry', warmup: 'warmup', alpha: 'alpha', virtualhost: 'virtualhost',
  inhibit_on_failure: 'inhibit',
};

function readInherited(ctx: MapContext, c: Stmt, into: Inherited): boolean {
  const k = INHERITED_KEYS[c.key];
  if (!k) return false;
  if (k === 'alpha' || k === 'inhibit') into[k] = ctx.bool(c);
  else if (k === 'virtualhost') into[k] = ctx.arg(c);
  else if (k === 'retry') into[k] = ctx.int(c, 0, 1000);
  else into[k] = ctx.timer(c);
  return true;
}

export function mapVirtualServer(ctx: MapContext, st: Stmt, groups: Map<string, { entries: GroupEntry[] }>): ServiceOut[] {
  const label = `virtual_server ${st.args.join(' ')}`;
  // Targets: the (vip, port) pairs this block creates services for; a firewall mark whose
  // iptables rules give one VIP, protocol and ports is a grouped service (ports).
  let targets: { vip: string; port: number | undefined; ports?: (number | string)[]; protocol?: 'tcp' | 'udp' }[] = [];
  const markTarget = (at: Stmt, what: string, mark: number): void => {
    const r = resolveMark(ctx.marks, mark);
    if (!r.ok) {
      ctx.note(at, `${what} not mapped: xlvs matches VIP address, port and protocol, not netfilter firewall marks; ${r.why}`);
      return;
    }
    ctx.note(at, `${what} mapped to a grouped service ${r.vip} ports ${r.ports.join(',')}/${r.protocol} from ${r.where.join(', ')}; xlvs matches these ports, not the mark`);
    for (const x of r.ignored) ctx.note(at, `${what}: ${x} not mapped (the service takes every client and interface)`);
    if (r.ports.length === 1 && typeof r.ports[0] === 'number') targets.push({ vip: r.vip, port: r.ports[0], protocol: r.protocol });
    else targets.push({ vip: r.vip, port: undefined, ports: r.ports, protocol: r.protocol });
  };
  if (st.args[0] === 'fwmark') {
    markTarget(st, label, ctx.int(st, 0, 0xffffffff, 1));
    if (!targets.length) return [];
  } else if (st.args[0] === 'group') {
    const gname = ctx.arg(st, 1);
    const g = groups.get(gname);
    if (!g) ctx.fail(st, `${label}: no virtual_server_group '${gname}' defined before it`);
    for (const e of g.entries) {
      if (e.fwmark !== undefined) markTarget(e.st, `virtual_server_group ${gname}: fwmark ${e.fwmark}`, e.fwmark);
      else targets.push({ vip: e.vip!, port: e.port });
    }
  } else {
    const vip = ctx.ip(st, 0);
    targets = [{ vip, port: st.args[1] !== undefined ? ctx.port(st, st.args[1]) : undefined }];
  }

  const inh: Inherited = {};
  const ignored: Stmt[] = [];
  let sched: { name: string; st: Stmt } | undefined;
  let method: { value: string; st: Stmt } | undefined;
  let protocol: string | undefined;
  let persistTimeout: number | undefined;
  let granularity: string | undefined;
  const flags: string[] = [];
  const quorum: NonNullable<ServiceOut['quorum']> = {};
  let sorry: ServiceOut['sorry_server'];
  const realStmts: Stmt[] = [];
  for (const c of childrenOf(ctx, st)) {
    if (readInherited(ctx, c, inh)) continue;
    if (c.children && c.key !== 'real_server') ctx.fail(c, `unknown block '${c.key}' in ${label}`);
    switch (c.key) {
      case 'lb_algo': case 'lvs_sched': sched = { name: ctx.arg(c), st: c }; break;
      case 'lb_kind': case 'lvs_method': method = { value: ctx.arg(c).toUpperCase(), st: c }; if (c.args.length > 1) ctx.note(c, `${label}: tunnel options '${c.args.slice(1).join(' ')}' not mapped (xlvs encapsulates IPIP/IP6IP6 only)`); break;
      case 'protocol': protocol = ctx.arg(c).toUpperCase(); break;
      case 'persistence_timeout': persistTimeout = c.args.length ? ctx.int(c, 0, 2 ** 31) : DEFAULT_PERSISTENCE_TIMEOUT; break;
      case 'persistence_granularity': granularity = ctx.arg(c); break;
      case 'quorum': quorum.min = ctx.int(c, 0, 2 ** 31); break;
      case 'hysteresis': quorum.hysteresis = ctx.int(c, 0, 2 ** 31); break;
      case 'quorum_up': quorum.up = ctx.command(c, `${label} quorum_up`); break;
      case 'quorum_down': quorum.down = ctx.command(c, `${label} quorum_down`); break;
      case 'sorry_server': {
        const address = ctx.ip(c, 0);
        sorry = { address };
        if (c.args[1] !== undefined) sorry.port = ctx.port(c, c.args[1]);
        break;
      }
      case 'ops': ctx.note(c, `${label}: one-packet scheduling (ops) not mapped: xlvs keeps a connection entry per UDP flow`); break;
      case 'real_server': realStmts.push(c); break;
      default:
        if (SCHED_FLAGS.has(c.key)) flags.push(c.key);
        else ignored.push(c);
    }
  }

  // Forwarding method. keepalived.conf(5): "Override default LVS forwarding method (default is NAT)".
  const m = method?.value ?? 'NAT';
  if (m === 'NAT' && !method) ctx.note(st, `${label}: no lb_kind/lvs_method, so keepalived uses NAT, and so does the import (method: nat)`);
  if (m === 'FNAT') {
    // Upstream keepalived has no full-NAT; the LVS fork that added FNAT pairs it with a
    // local_address_group, the addresses xlvs calls snat_pool.
    ctx.note(method!.st, `${label}: lb_kind FNAT → method: fullnat; set snat_pool (the director's own addresses the reals will see as the source, like the fork's local_address_group), and note the reals no longer see the client's address`);
  }
  if (m !== 'NAT' && m !== 'DR' && m !== 'TUN' && m !== 'FNAT') ctx.fail(method!.st, `${method!.st.key}: '${method!.value}' is not NAT, DR or TUN`);
  const markProto = targets.find((t) => t.protocol)?.protocol;
  if (markProto && protocol !== undefined && protocol !== markProto.toUpperCase()) {
    ctx.note(st, `${label}: protocol ${protocol}, but the iptables rules mark ${markProto} packets; the rules' protocol is used for the grouped service`);
  }
  if (protocol === undefined && markProto) protocol = markProto.toUpperCase();
  if (protocol === undefined) {
    // keepalived check_data.c: "If the protocol is 0, the kernel defaults to UDP, so set it explicitly".
    ctx.note(st, `${label}: no protocol line; keepalived defaults to UDP, so udp is used — add 'protocol TCP' if you meant TCP`);
    protocol = 'UDP';
  }
  if (protocol !== 'TCP' && protocol !== 'UDP') {
    if (protocol === 'SCTP') { ctx.note(st, `${label} not mapped: SCTP; xlvs forwards TCP and UDP`); return []; }
    ctx.fail(st, `${label}: protocol '${protocol}' is not TCP, UDP or SCTP`);
  }
  // keepalived leaves the scheduler to IPVS when unset; ipvsadm(8): "the default scheduling algorithm is wlc".
  const schedName = sched?.name ?? 'wlc';
  const mapped = mapScheduler(schedName, flags);
  if (!mapped) ctx.fail(sched!.st, `${sched!.st.key}: unknown scheduler '${schedName}'`);
  if (mapped.differs) ctx.note(sched?.st ?? st, `${label}: scheduler ${schedName} → ${mapped.scheduler}: ${mapped.differs}`);
  for (const f of unmappedSchedulerFlags(flags)) ctx.note(st, `${label}: scheduler flag ${f} not mapped`);

  const base: Omit<ServiceOut, 'vip' | 'port' | 'reals'> = {
    protocol: protocol.toLowerCase() as 'tcp' | 'udp',
    method: ({ DR: 'dr', TUN: 'tun', NAT: 'nat', FNAT: 'fullnat' } as const)[m as 'DR' | 'TUN' | 'NAT' | 'FNAT'],
    scheduler: mapped.scheduler,
  };
  if (persistTimeout !== undefined) {
    base.persistence = { timeout: `${persistTimeout}s` };
    if (granularity) base.persistence.netmask = granularity;
  } else if (granularity) {
    ctx.note(st, `${label}: persistence_granularity without persistence_timeout has no effect in IPVS; dropped`);
  }
  base.on_down = 'expire';
  // keepalived.conf(5): "Set weight to 0 when healthchecker detects failure"; its reals inherit it.
  if (inh.inhibit) base.inhibit_on_failure = true;
  if (Object.keys(quorum).length) base.quorum = quorum;
  if (sorry) base.sorry_server = sorry;

  ctx.ignored(label, st, ignored);

  const services: ServiceOut[] = [];
  if (!realStmts.length) ctx.note(st, `${label} has no real_server; keepalived ignores such a virtual server, the import keeps it with no reals`);
  for (const t of targets) {
    const port = t.port ?? 0;
    if (port === 0 && !t.ports && persistTimeout === undefined) {
      // keepalived check_data.c: "zero port only valid for persistent services - setting" (6 minutes).
      ctx.note(st, `${label}: port 0 (all ports) is only valid for persistent services; keepalived makes it persistent for ${DEFAULT_PERSISTENCE_TIMEOUT}s, and so does the import`);
      persistTimeout = DEFAULT_PERSISTENCE_TIMEOUT;
      base.persistence = { timeout: `${persistTimeout}s` };
    }
    // Reals are mapped per target so their notes name it; keep notes only for the first.
    const quiet = services.length > 0;
    const reals = realStmts.map((r) => mapReal(quiet ? ctx.silent() : ctx, r, inh, { vip: t.vip, port }, m, base));
    const svc: ServiceOut = t.ports
      ? { vip: t.vip, ports: t.ports, ...structuredClone(base), reals: reals.map((r) => r.real) }
      : { vip: t.vip, port, ...structuredClone(base), reals: reals.map((r) => r.real) };
    if (t.protocol) svc.protocol = t.protocol;
    if (t.ports) {
      // A grouped service's reals take every port of the group; a port of the group stays as the
      // one health checks probe, any other one meant nothing to IPVS with DR or TUN either.
      svc.reals.forEach((r, i) => {
        if (r.port !== undefined && r.port !== 0 && !inPortItems(t.ports!, r.port)) {
          if (!quiet) ctx.note(realStmts[i], `real_server ${r.address} ${r.port} of ${label}: port ${r.port} is not one of the group's ports (${t.ports!.join(',')}); dropped, DR and TUN keep the destination port`);
          delete r.port;
        } else if (r.port === 0) delete r.port;
      });
    }
    if (sorry && sorry.port === undefined && port) svc.sorry_server = { address: sorry.address, port };
    hoistChecks(svc, reals.map((r) => r.check));
    services.push(svc);
  }
  return services;
}

/** All reals with the same check: the check moves up to the service. */
function hoistChecks(svc: ServiceOut, checks: CheckOut[]): void {
  if (!checks.length) return;
  const first = JSON.stringify(checks[0]);
  if (checks.every((c) => JSON.stringify(c) === first)) {
    svc.check = checks[0];
    return;
  }
  svc.reals.forEach((r, i) => { r.check = checks[i]; });
}

function mapReal(ctx: MapContext, st: Stmt, vsInh: Inherited, vs: { vip: string; port: number }, vsMethod: string,
  base: Omit<ServiceOut, 'vip' | 'port' | 'reals'>): { real: RealOut; check: CheckOut } {
  const address = ctx.ip(st, 0);
  const port = st.args[1] !== undefined ? ctx.port(st, st.args[1]) : vs.port;
  const label = `real_server ${address}${st.args[1] !== undefined ? ' ' + port : ''} of ${vs.vip}:${vs.port}`;
  const inh: Inherited = { ...vsInh };
  const real: RealOut = { address, weight: 1 }; // keepalived.conf(5): "weight ... default: 1"
  const ignored: Stmt[] = [];
  const checkers: Stmt[] = [];
  let upper: Stmt | undefined;
  let lower: Stmt | undefined;
  for (const c of st.children ?? []) {
    if (readInherited(ctx, c, inh)) continue;
    if (c.children) {
      if (MAPPED_CHECKERS.has(c.key) || UNMAPPED_CHECKERS.has(c.key)) { checkers.push(c); continue; }
      ctx.fail(c, `unknown block '${c.key}' in ${label}`);
    }
    switch (c.key) {
      case 'weight': real.weight = ctx.int(c, 0, 65535); break;
      case 'notify_up': real.notify_up = ctx.command(c, `${label} notify_up`); break;
      case 'notify_down': real.notify_down = ctx.command(c, `${label} notify_down`); break;
      case 'lb_kind': case 'lvs_method': {
        const rm = ctx.arg(c).toUpperCase();
        if (rm !== vsMethod) ctx.note(c, `${label}: lvs_method ${rm} differs from the virtual server's ${vsMethod}; xlvs has one method per service, ${vsMethod} kept`);
        break;
      }
      case 'uthreshold': upper = c; break;
      case 'lthreshold': lower = c; break;
      default: ignored.push(c);
    }
  }
  const nat = base.method === 'nat' || base.method === 'fullnat';
  if (port !== vs.port && vs.port !== 0 && !nat) {
    ctx.note(st, `${label}: real port ${port} differs from the virtual port ${vs.port}; DR and TUN cannot rewrite ports, the real must listen on ${vs.port}`);
  }
  if (port !== vs.port && vs.port === 0 && nat) {
    ctx.note(st, `${label}: real port ${port} on a port-0 (all ports) virtual server: NAT keeps each flow's own port there; the port is dropped`);
  } else if (port !== vs.port) {
    real.port = port;
  }
  // keepalived.conf(5) real_server: "uthreshold <INTEGER>" / "lthreshold <INTEGER>", IPVS's -x / -y.
  const u = upper ? ctx.int(upper, 0, 0xffff_ffff) : 0;
  const l = lower ? ctx.int(lower, 0, 0xffff_ffff) : 0;
  thresholdsOut(real, u, l, (message) => ctx.note(lower ?? st, `${label}: ${message}`), { upper: 'uthreshold', lower: 'lthreshold' });
  // real_server inhibit_on_failure <BOOL> overrides the virtual server's.
  if (!!inh.inhibit !== !!vsInh.inhibit) real.inhibit_on_failure = !!inh.inhibit;
  ctx.ignored(label, st, ignored);

  const mapped = checkers.filter((c) => MAPPED_CHECKERS.has(c.key));
  for (const c of checkers.filter((x) => UNMAPPED_CHECKERS.has(x.key))) ctx.note(c, `${label}: ${c.key} not supported by xlvs health checks${mapped.length ? '' : '; the real is not health-checked (check: none)'}`);
  if (mapped.length > 1) ctx.note(mapped[1], `${label}: ${mapped.length} checkers; keepalived needs all to pass, xlvs runs one per real — only the first (${mapped[0].key}) is mapped`);
  if (!mapped.length) return { real, check: { type: 'none' } };
  return { real, check: mapChecker(ctx, mapped[0], inh, label) };
}

function mapChecker(ctx: MapContext, st: Stmt, realInh: Inherited, realLabel: string): CheckOut {
  const label = `${realLabel} ${st.key}`;
  const inh: Inherited = { ...realInh };
  const ignored: Stmt[] = [];
  const types: Record<string, CheckOut['type']> = { TCP_CHECK: 'tcp', HTTP_GET: 'http', SSL_GET: 'https', MISC_CHECK: 'script', UDP_CHECK: 'udp' };
  const type = types[st.key];
  const check: CheckOut = { type };
  const urls: Stmt[] = [];
  let sni = false;
  let miscTimeout: number | undefined;
  let miscDynamic = false;
  for (const c of childrenOf(ctx, st)) {
    if (readInherited(ctx, c, inh)) continue;
    if (c.children && !(c.key === 'url' && (type === 'http' || type === 'https'))) ctx.fail(c, `unknown block '${c.key}' in ${label}`);
    switch (c.key) {
      case 'connect_port': check.port = ctx.port(c, ctx.arg(c)); break;
      case 'connect_ip': check.connect_ip = ctx.ip(c); break;
      case 'bindto': check.bindto = ctx.ip(c); break;
      case 'url': urls.push(c); break;
      case 'enable_sni': sni = ctx.bool(c); break;
      case 'misc_path': if (type === 'script') { check.script = { command: ctx.command(c, `${label} misc_path`) }; break; } ignored.push(c); break;
      case 'misc_timeout': if (type === 'script') { miscTimeout = ctx.timer(c); break; } ignored.push(c); break;
      case 'misc_dynamic':
        // → script.dynamic: exit 1 = down, 2..255 = up with weight code − 2 (src/health/script.ts).
        if (type === 'script') { miscDynamic = true; break; }
        ignored.push(c); break;
      case 'payload':
        if (type === 'udp') { check.udp = { payload_hex: c.args.join('').toLowerCase() }; break; }
        ignored.push(c); break;
      default: ignored.push(c);
    }
  }
  if (type === 'script' && !check.script) ctx.fail(st, `${label}: no misc_path`);
  if (type === 'script' && miscDynamic) check.script!.dynamic = true;
  // Timing (keepalived.conf(5) LVS CONFIGURATION defaults; see the constants above).
  const delayLoop = inh.delayLoop ?? DEFAULT_DELAY_LOOP;
  check.interval = secondsToDuration(delayLoop);
  // MISC_CHECK has no connect_timeout; an unset misc_timeout lets the script run for delay_loop.
  check.timeout = secondsToDuration(type === 'script' ? miscTimeout ?? delayLoop : inh.connectTimeout ?? DEFAULT_CONNECT_TIMEOUT);
  // keepalived brings a real up after one success, and down after 1 + retry consecutive failures
  // ("Retry count to make additional checks if check of an alive server fails. Default: 1";
  // "MISC_CHECK ... The retry default is 0").
  check.rise = 1;
  const retry = inh.retry ?? (type === 'script' ? 0 : 1);
  check.fall = retry + 1;
  // "delay before retry after failure ... 3 seconds for HTTP_GET and SSL_GET, and 1 second otherwise"
  check.delay_before_retry = secondsToDuration(inh.delayBeforeRetry ?? (type === 'http' || type === 'https' ? 3 : 1));
  if (inh.warmup !== undefined) check.warmup = secondsToDuration(inh.warmup);
  if (inh.alpha) check.alpha = true;

  if (type === 'http' || type === 'https') {
    if (!urls.length) ctx.fail(st, `${label}: no url { … } block`);
    if (urls.length > 1) ctx.note(urls[1], `${label}: ${urls.length} url blocks; keepalived checks each, xlvs checks one — only the first (line ${urls[0].line}) is mapped`);
    check.http = mapUrl(ctx, urls[0], label);
    const host = check.http.host ?? inh.virtualhost;
    if (host) check.http.host = host;
    if (sni) {
      if (host) check.http.sni = host;
      else ctx.note(st, `${label}: enable_sni without a virtualhost — keepalived sends no name either; not mapped`);
    }
    if (!check.http.status && !check.http.digest) check.http.status = '200-299'; // keepalived.conf(5): "Default is 200-299"
  }
  if (type === 'udp' && !check.udp) {
    ctx.note(st, `${label}: no payload; keepalived sends random bytes, xlvs sends its default payload`);
  }
  ctx.ignored(label, st, ignored);
  return check;
}

function mapUrl(ctx: MapContext, st: Stmt, label: string): NonNullable<CheckOut['http']> {
  const http: NonNullable<CheckOut['http']> = {};
  const ignored: Stmt[] = [];
  for (const c of childrenOf(ctx, st)) {
    if (c.children) ctx.fail(c, `unknown block '${c.key}' in ${label} url`);
    switch (c.key) {
      case 'path': http.path = ctx.arg(c); break;
      case 'digest': {
        const d = ctx.arg(c).toLowerCase();
        if (!/^[0-9a-f]{32}$/.test(d)) ctx.fail(c, `digest: '${c.args[0]}' is not an MD5 hex digest (32 hex digits, as genhash prints)`);
        http.digest = d;
        break;
      }
      case 'status_code':
        if (!c.args.length) ctx.fail(c, 'status_code needs at least one code or range');
        for (const a of c.args) if (!/^\d{3}(-\d{3})?$/.test(a)) ctx.fail(c, `status_code: '${a}' is not a code or range like 200-299`);
        http.status = c.args.join(',');
        break;
      case 'virtualhost': http.host = ctx.arg(c); break;
      case 'regex': http.regex = ctx.arg(c); break;
      default: ignored.push(c);
    }
  }
  if (!http.path) ctx.fail(st, `${label}: url without a path`);
  ctx.ignored(`${label} url`, st, ignored);
  return http;
}

