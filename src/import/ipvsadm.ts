// `ipvsadm -S` / `ipvsadm-save [-n]` output → topology. The save format is one ipvsadm command
// per line (ipvsadm(8) "-S, --save"): `-A` adds a virtual service, `-a` a real server to it.
// The save leaves out the connection timeouts; a `--set TCP TCPFIN UDP` line (as written to
// set them) or the line `ipvsadm -L --timeout` prints is read as well.
import * as net from 'node:net';
import { ErrorCodes, XlvsError } from '../errors';
import { buildDirector } from './director';
import { mapScheduler, unmappedSchedulerFlags } from './schedulers';
import { servicePort } from './services';
import { thresholdsOut, timeoutsOut, type IpvsTimeouts } from './limits';
import type { ImportNote, ImportResult, RealOut, ServiceOut, TopologyOut } from './types';
import { resolveMark, type IptablesMarks } from './iptables';
import { inPortItems } from '../common/ports';

export interface IpvsadmOptions {
  /** Name for messages (file path or "-"). */
  file?: string;
  /** Resolve a hostname printed by `ipvsadm -S` without -n; undefined when unknown. */
  resolveHost?: (name: string) => string | undefined;
  /** Director name hint (e.g. from --name). */
  name?: string;
  /** Interface for the director section (e.g. from --interface). */
  iface?: string;
  /** Rules that set firewall marks (iptables-save --iptables FILE): -f services become grouped. */
  iptables?: IptablesMarks;
}

/** `vip:port`, or `vip:80,443` for a grouped service: how notes name a service. */
export function serviceLabel(svc: ServiceOut): string {
  return `${svc.vip}:${svc.ports ? svc.ports.join(',') : svc.port}`;
}

// ipvsadm(8): "-p [timeout]: the default persistent timeout value is 300 seconds".
const DEFAULT_PERSISTENT_TIMEOUT = 300;

type Proto = 'tcp' | 'udp' | 'sctp' | 'fwmark';
const PROTO_FLAGS: Record<string, Proto> = {
  '-t': 'tcp', '--tcp-service': 'tcp', '-u': 'udp', '--udp-service': 'udp',
  '--sctp-service': 'sctp', '-f': 'fwmark', '--fwmark-service': 'fwmark',
};
// Options that take a value (ipvsadm(8) OPTIONS), so unknown-but-valued ones can be skipped.
const VALUED = new Set(['-s', '--scheduler', '-M', '--netmask', '-r', '--real-server', '-w', '--weight',
  '-x', '--u-threshold', '-y', '--l-threshold', '-b', '--sched-flags', '--pe', '--tun-type', '--tun-port']);

interface ServiceState {
  key: string;
  line: number;
  out?: ServiceOut; // undefined when the service cannot be mapped (reals are then reported with it)
  methods: Set<string>;
  /** Reals that use NAT (-m). */
  natReals: number;
}

/** Hostnames (not addresses) that appear in a save file, so a caller can resolve them first. */
export function hostnamesIn(text: string): string[] {
  const names = new Set<string>();
  for (const raw of text.split('\n')) {
    const words = raw.trim().split(/\s+/);
    for (let i = 0; i < words.length - 1; i++) {
      if (PROTO_FLAGS[words[i]] && PROTO_FLAGS[words[i]] !== 'fwmark' || words[i] === '-r' || words[i] === '--real-server') {
        const hp = splitHostPort(words[i + 1]);
        if (hp && !net.isIP(hp.host)) names.add(hp.host);
      }
    }
  }
  return [...names];
}

function splitHostPort(text: string): { host: string; port: string } | undefined {
  const v6 = /^\[([^\]]+)\](?::(.+))?$/.exec(text);
  if (v6) return { host: v6[1], port: v6[2] ?? '0' };
  const i = text.lastIndexOf(':');
  if (i < 0) return { host: text, port: '0' };
  return { host: text.slice(0, i), port: text.slice(i + 1) };
}

export function importIpvsadm(text: string, opts: IpvsadmOptions = {}): ImportResult {
  const file = opts.file ?? '-';
  const notes: ImportNote[] = [];
  const todo: ImportResult['todo'] = [];
  const services = new Map<string, ServiceState>();
  const order: ServiceState[] = [];
  const lines = text.split('\n');
  let timeouts: { t: IpvsTimeouts; where: string } | undefined;

  const fail = (n: number, msg: string): never => {
    throw new XlvsError(ErrorCodes.IMPORT_PARSE, `${file}:${n}: ${msg}`);
  };

  for (let ln = 0; ln < lines.length; ln++) {
    const n = ln + 1;
    const where = `${file}:${n}`;
    const line = lines[ln].replace(/#.*$/, '').trim();
    if (!line) continue;
    // `ipvsadm -L --timeout`: the values in force.
    const shown = /^Timeout \(tcp tcpfin udp\):\s+(\d+)\s+(\d+)\s+(\d+)$/.exec(line);
    if (shown) {
      timeouts = { t: { tcp: Number(shown[1]), tcpfin: Number(shown[2]), udp: Number(shown[3]) }, where };
      continue;
    }
    const words = line.split(/\s+/);
    if (words[0] === 'ipvsadm') words.shift();
    const cmd = words.shift();
    if (cmd === '-C' || cmd === '--clear') continue;
    if (cmd === '--set') {
      // ipvsadm(8): "--set tcp tcpfin udp ... A value of 0 means that the current parameter
      // value is not changed."
      if (words.length !== 3 || !words.every((w) => /^\d{1,10}$/.test(w))) fail(n, `--set needs three whole numbers of seconds (tcp tcpfin udp), got '${words.join(' ')}'`);
      const [tcp, tcpfin, udp] = words.map(Number);
      timeouts = { t: { tcp: tcp || timeouts?.t.tcp || 0, tcpfin: tcpfin || timeouts?.t.tcpfin || 0, udp: udp || timeouts?.t.udp || 0 }, where };
      continue;
    }
    if (cmd !== '-A' && cmd !== '--add-service' && cmd !== '-a' && cmd !== '--add-server') {
      fail(n, `expected -A or -a (an ipvsadm -S line), got '${cmd}'`);
    }
    const isService = cmd === '-A' || cmd === '--add-service';

    // Collect options.
    let proto: Proto | undefined;
    let target: string | undefined;
    const opt = new Map<string, string>();
    const flags: string[] = [];
    for (let i = 0; i < words.length; i++) {
      const w = words[i];
      if (PROTO_FLAGS[w]) {
        if (proto) fail(n, `more than one service given ('${w}')`);
        proto = PROTO_FLAGS[w];
        target = words[++i];
        if (target === undefined) fail(n, `'${w}' needs an address`);
        continue;
      }
      if (w === '-p' || w === '--persistent') {
        const v = words[i + 1];
        if (v !== undefined && /^\d+$/.test(v)) { opt.set('-p', v); i++; } else opt.set('-p', String(DEFAULT_PERSISTENT_TIMEOUT));
        continue;
      }
      const canon = ({ '--scheduler': '-s', '--netmask': '-M', '--real-server': '-r', '--weight': '-w',
        '--u-threshold': '-x', '--l-threshold': '-y', '--sched-flags': '-b' } as Record<string, string>)[w] ?? w;
      if (VALUED.has(w)) {
        const v = words[++i];
        if (v === undefined) fail(n, `'${w}' needs a value`);
        opt.set(canon, v);
        continue;
      }
      if (w.startsWith('-')) { flags.push(({ '--gatewaying': '-g', '--ipip': '-i', '--masquerading': '-m', '--ops': '-o' } as Record<string, string>)[w] ?? w); continue; }
      fail(n, `unexpected '${w}'`);
    }
    if (!proto || target === undefined) fail(n, 'no service given (-t, -u or -f)');
    const key = `${proto}:${target}`;

    if (isService) {
      if (services.has(key)) fail(n, `service ${target} (${proto}) added twice (first on line ${services.get(key)!.line})`);
      const st: ServiceState = { key, line: n, methods: new Set(), natReals: 0 };
      services.set(key, st);
      order.push(st);
      st.out = mapService(proto!, target!, opt, flags, where, notes, opts, fail.bind(null, n));
    } else {
      const st = services.get(key);
      if (!st) fail(n, `real server for ${target} (${proto}) before its service (-A) line`);
      const realText = opt.get('-r');
      if (realText === undefined) fail(n, '-a needs -r REAL[:PORT]');
      if (!st!.out) continue; // service already reported as not mappable
      const real = mapReal(st!, realText!, opt, flags, where, notes, opts, fail.bind(null, n));
      if (real) st!.out.reals.push(real);
    }
  }

  const out: ServiceOut[] = [];
  for (const st of order) {
    if (!st.out) continue;
    if (st.natReals > 0 && st.out.method === 'nat') {
      notes.push({ where: `${file}:${st.line}`, message: `service ${serviceLabel(st.out)} is NAT (-m): its reals must route their replies through this director (default route via the director's inner address); set director.inside_interface if they sit on another interface` });
    }
    if (st.methods.size === 0 && st.out.reals.length === 0) {
      notes.push({ where: `${file}:${st.line}`, message: `service ${serviceLabel(st.out)} has no real servers; method set to dr` });
    }
    out.push(st.out);
  }
  const topology: TopologyOut = { director: buildDirector({ nameHint: opts.name, iface: opts.iface }, todo) };
  if (timeouts) {
    const where = timeouts.where;
    const t = timeoutsOut(timeouts.t, (message) => notes.push({ where, message }), '--set');
    if (t) topology.timeouts = t;
  }
  topology.services = out;
  return { topology, notes, todo };
}

function mapService(proto: Proto, target: string, opt: Map<string, string>, flags: string[], where: string,
  notes: ImportNote[], opts: IpvsadmOptions, fail: (m: string) => never): ServiceOut | undefined {
  let head: Pick<ServiceOut, 'vip' | 'port' | 'ports' | 'protocol'>;
  if (proto === 'fwmark') {
    // IPVS matches the mark netfilter set; xlvs matches addresses and ports: the rules that set
    // the mark say which (a grouped service), or the service is reported.
    const mark = /^(0x[0-9a-f]+|\d+)$/i.test(target) ? Number(target) : NaN;
    const r = Number.isInteger(mark) ? resolveMark(opts.iptables, mark) : { ok: false as const, why: `'${target}' is not a mark number` };
    if (!r.ok) {
      notes.push({ where, message: `firewall-mark service -f ${target} not mapped: ${r.why} (its reals are skipped too)` });
      return undefined;
    }
    notes.push({ where, message: `firewall-mark service -f ${target} mapped to a grouped service ${r.vip} ports ${r.ports.join(',')}/${r.protocol} from ${r.where.join(', ')}; xlvs matches these ports, not the mark` });
    for (const x of r.ignored) notes.push({ where, message: `firewall-mark service -f ${target}: ${x} not mapped (the service takes every client and interface)` });
    head = r.ports.length === 1 && typeof r.ports[0] === 'number' ? { vip: r.vip, port: r.ports[0], protocol: r.protocol } : { vip: r.vip, ports: r.ports, protocol: r.protocol };
  } else if (proto === 'sctp') {
    notes.push({ where, message: `SCTP service ${target} not mapped: xlvs forwards TCP and UDP only (its reals are skipped too)` });
    return undefined;
  } else {
    const hp = hostPortOf(target, 'service', 'bad service address', where, notes, opts, fail);
    if (!hp) return undefined;
    head = { vip: hp.address, port: hp.port, protocol: proto };
  }
  const schedName = opt.get('-s') ?? 'wlc'; // ipvsadm(8): "the default scheduling algorithm is wlc"
  const schedFlags = (opt.get('-b') ?? '').split(',').filter(Boolean);
  const sched = mapScheduler(schedName, schedFlags);
  if (!sched) fail(`unknown scheduler '${schedName}'`);
  if (sched!.differs) notes.push({ where, message: `scheduler ${schedName} → ${sched!.scheduler}: ${sched!.differs}` });
  for (const f of unmappedSchedulerFlags(schedFlags)) notes.push({ where, message: `scheduler flag ${f} not mapped` });
  const svc: ServiceOut = { ...head, method: 'dr', scheduler: sched!.scheduler, reals: [] };
  if (opt.has('-p')) {
    svc.persistence = { timeout: `${Number(opt.get('-p'))}s` };
    if (opt.has('-M')) svc.persistence.netmask = opt.get('-M');
  } else if (opt.has('-M')) {
    notes.push({ where, message: `-M ${opt.get('-M')} without -p has no effect in IPVS; dropped` });
  }
  if (opt.has('--pe')) notes.push({ where, message: `persistence engine --pe ${opt.get('--pe')} not mapped (xlvs persists by client address only)` });
  if (flags.includes('-o')) notes.push({ where, message: 'one-packet scheduling (-o) not mapped: xlvs keeps a connection entry per UDP flow' });
  for (const f of flags.filter((x) => x !== '-o')) notes.push({ where, message: `option ${f} ignored` });
  return svc;
}

function mapReal(st: ServiceState, realText: string, opt: Map<string, string>, flags: string[], where: string,
  notes: ImportNote[], opts: IpvsadmOptions, fail: (m: string) => never): RealOut | undefined {
  const svc = st.out!;
  const hp = hostPortOf(realText, 'real', 'bad real server', where, notes, opts, fail);
  if (!hp) return undefined;
  const { address, port } = hp;
  // ipvsadm(8): -g gatewaying (DR, the default), -i ipip (TUN), -m masquerading (NAT).
  const method = flags.includes('-m') ? 'nat' : flags.includes('-i') ? 'tun' : 'dr';
  if (method === 'nat') st.natReals++;
  if (st.methods.size === 0) svc.method = method;
  else if (!st.methods.has(method)) notes.push({ where, message: `real ${realText} uses ${method} but the service already uses ${svc.method}: xlvs has one method per service, ${svc.method} kept` });
  st.methods.add(method);
  if (method === 'tun' && opt.has('--tun-type') && opt.get('--tun-type') !== 'ipip') {
    notes.push({ where, message: `--tun-type ${opt.get('--tun-type')} not mapped: xlvs encapsulates IPIP/IP6IP6 only` });
  }
  // A grouped service's reals take every port of the group; a port of the group is kept as the
  // one health checks probe, another one said nothing to IPVS either (DR, TUN).
  const inGroup = !!svc.ports && port !== 0 && inPortItems(svc.ports, port);
  if (svc.ports) {
    if (port !== 0 && !inGroup) notes.push({ where, message: `real ${realText}: port ${port} is not one of the group's ports (${svc.ports.join(',')}); dropped, DR and TUN keep the destination port` });
  } else if (port !== svc.port && svc.port !== 0 && svc.method !== 'nat') {
    notes.push({ where, message: `real ${realText}: port ${port} differs from the VIP port ${svc.port}; DR and TUN cannot rewrite ports, the real must listen on ${svc.port}` });
  }
  const wText = opt.get('-w') ?? '1'; // ipvsadm(8): "the default weight is 1"
  if (!/^\d+$/.test(wText)) fail(`weight '${wText}' is not a whole number`);
  const real: RealOut = { address, weight: Number(wText) };
  if (svc.ports) {
    if (inGroup) real.port = port;
  } else if (port !== svc.port && svc.port === 0 && svc.method === 'nat') {
    notes.push({ where, message: `real ${realText}: port ${port} on a port-0 (all ports) service: NAT keeps each flow's own port there; the port is dropped` });
  } else if (port !== svc.port) real.port = port;
  const [upper, lower] = (['-x', '-y'] as const).map((o) => {
    const v = opt.get(o) ?? '0';
    if (!/^\d{1,10}$/.test(v) || Number(v) > 0xffff_ffff) fail(`${o} '${v}' is not a connection count (0..4294967295)`);
    return Number(v);
  });
  thresholdsOut(real, upper, lower, (message) => notes.push({ where, message: `real ${realText}: ${message}` }), { upper: '-x', lower: '-y' });
  return real;
}

/**
 * `HOST:PORT` of a service (-t/-u) or real (-r) as an address and a port number; a name that
 * cannot be resolved (host or service) is noted and the entry skipped (undefined), a malformed
 * one fails with `bad`.
 */
function hostPortOf(text: string, what: 'service' | 'real', bad: string, where: string, notes: ImportNote[], opts: IpvsadmOptions,
  fail: (m: string) => never): { address: string; port: number } | undefined {
  const hp = splitHostPort(text);
  if (!hp) fail(`${bad} '${text}'`);
  const address = resolveAddr(hp!.host, where, notes, opts);
  if (!address) {
    notes.push({ where, message: `${what} ${text} skipped: cannot resolve host '${hp!.host}' (save with \`ipvsadm -S -n\`)` });
    return undefined;
  }
  const port = servicePort(hp!.port);
  if (port === undefined) {
    notes.push({ where, message: `${what} ${text} skipped: unknown service name '${hp!.port}' (save with \`ipvsadm -S -n\`)` });
    return undefined;
  }
  return { address, port };
}

function resolveAddr(host: string, where: string, notes: ImportNote[], opts: IpvsadmOptions): string | undefined {
  if (net.isIP(host)) return host;
  const addr = opts.resolveHost?.(host);
  if (addr && net.isIP(addr)) {
    const message = `host '${host}' resolved to ${addr} at import time`;
    if (!notes.some((n) => n.message === message)) notes.push({ where, message });
    return addr;
  }
  return undefined;
}
