// keepalived.conf → topology: parse the file (with includes), then map each top-level block.
import { buildDirector } from '../director';
import type { ImportResult, ServiceOut, TopologyOut, VrrpOut, VrrpScriptOut } from '../types';
import { MapContext } from './context';
import { mapGroup, mapVirtualServer, type GroupEntry } from './lvs';
import { parseConfFile } from './parser';
import type { LexOptions } from './lexer';
import { mapInstance, mapScript, mapSyncGroup, type VrrpGlobals } from './vrrp';
import { timeoutsOut, type IpvsTimeouts } from '../limits';
import type { Stmt } from './parser';
import type { IptablesMarks } from '../iptables';

export interface KeepalivedOptions extends LexOptions {
  /** Director name (overrides global_defs router_id). */
  name?: string;
  /** Director interface (overrides the first vrrp_instance's interface). */
  iface?: string;
  /** Rules that set firewall marks (iptables-save, --iptables FILE): fwmark virtual servers become grouped services. */
  iptables?: IptablesMarks;
}

// Top-level blocks keepalived knows that xlvs does not map (keepalived.conf(5) GLOBAL, BFD,
// VRRPD CONFIGURATION): reported, not errors.
const KNOWN_UNMAPPED = new Set(['static_ipaddress', 'static_routes', 'static_rules', 'garp_group', 'vrrp_track_process',
  'track_file', 'vrrp_track_file', 'bfd_instance', 'SSL', 'linkbeat_interfaces', 'interface_up_down_delays',
  'static_track_group', 'net_namespace', 'net_namespace_ipvs', 'namespace_with_ipsets', 'instance', 'use_pid_dir',
  'linkbeat_use_polling', 'child_wait_time', 'local_address_group']);
// global_defs keywords with a mapping; the rest are reported in one note.
const GLOBAL_MAPPED = new Set(['router_id', 'vrrp_version', 'lvs_id', 'vrrp_strict', 'lvs_timeouts']);

/** global_defs `lvs_timeouts [tcp N] [tcpfin N] [udp N]` (keepalived.conf(5)), seconds. */
function lvsTimeouts(ctx: MapContext, st: Stmt): IpvsTimeouts {
  const t: IpvsTimeouts = { tcp: 0, tcpfin: 0, udp: 0 };
  if (!st.args.length || st.args.length % 2) ctx.fail(st, `lvs_timeouts: expected pairs of tcp|tcpfin|udp and seconds, got '${st.args.join(' ')}'`);
  for (let i = 0; i < st.args.length; i += 2) {
    const k = st.args[i].toLowerCase();
    if (k !== 'tcp' && k !== 'tcpfin' && k !== 'udp') ctx.fail(st, `lvs_timeouts: '${st.args[i]}' is not tcp, tcpfin or udp`);
    t[k as keyof IpvsTimeouts] = ctx.int(st, 0, 2 ** 31 - 1, i + 1);
  }
  return t;
}

export function importKeepalived(file: string, opts: KeepalivedOptions = {}): ImportResult {
  const parsed = parseConfFile(file, opts);
  const ctx = new MapContext(opts.iptables);
  for (const e of parsed.emptyIncludes) ctx.notes.push({ where: `${e.file}:${e.line}`, message: `include ${e.pattern} matched no file` });
  for (const e of parsed.skippedDirectories) ctx.notes.push({ where: `${e.file}:${e.line}`, message: `include ${e.pattern}: directory ${e.dir} skipped (keepalived skips directories a wildcard matches)` });

  let routerId: string | undefined;
  let timeouts: { st: Stmt; t: IpvsTimeouts } | undefined;
  const g: VrrpGlobals = {};
  const vrrp: VrrpOut[] = [];
  const scripts: VrrpScriptOut[] = [];
  const syncGroups: { name: string; instances: string[] }[] = [];
  const services: ServiceOut[] = [];
  const groups = new Map<string, { entries: GroupEntry[] }>();
  const deferredSync: { st: (typeof parsed.stmts)[number]; g: { name: string; instances: string[] } }[] = [];

  // global_defs first: vrrp_version there applies to instances declared before it too.
  for (const st of parsed.stmts.filter((s) => s.key === 'global_defs')) {
    const ignored = [];
    for (const c of st.children ?? ctx.fail(st, "'global_defs' must be followed by a '{ … }' block")) {
      if (c.key === 'router_id' || c.key === 'lvs_id') routerId = ctx.arg(c);
      else if (c.key === 'vrrp_version') g.version = ctx.int(c, 2, 3) as 2 | 3;
      else if (c.key === 'lvs_timeouts') timeouts = { st: c, t: lvsTimeouts(ctx, c) };
      else if (c.key === 'vrrp_strict') {
        g.strict = true;
        ctx.note(c, 'vrrp_strict: instances default to no_accept (accept: false), which xlvs enforces in the data plane; its other checks are not mapped');
      }
      else if (!GLOBAL_MAPPED.has(c.key)) ignored.push(c);
    }
    ctx.ignored('global_defs', st, ignored, 'mail alerts and daemon tuning have no xlvs equivalent');
  }

  for (const st of parsed.stmts) {
    switch (st.key) {
      case 'global_defs': break;
      case 'vrrp_instance': vrrp.push(mapInstance(ctx, st, g)); break;
      case 'vrrp_script': scripts.push(mapScript(ctx, st)); break;
      case 'vrrp_sync_group': { const sg = mapSyncGroup(ctx, st); syncGroups.push(sg); deferredSync.push({ st, g: sg }); break; }
      case 'virtual_server_group': {
        const grp = mapGroup(ctx, st);
        if (groups.has(grp.name)) ctx.fail(st, `virtual_server_group ${grp.name} defined twice`);
        groups.set(grp.name, grp);
        break;
      }
      case 'virtual_server': services.push(...mapVirtualServer(ctx, st, groups)); break;
      default:
        if (KNOWN_UNMAPPED.has(st.key)) ctx.note(st, `${st.key}${st.children ? ' {…}' : ''} not mapped (no xlvs equivalent)`);
        // An included file may be anything (a secret included by mistake): name it, never quote it.
        else if (st.included) ctx.fail(st, `not a keepalived ${st.children ? 'block' : 'keyword'} at top level (text from an included file is not repeated here)`);
        else if (st.children) ctx.fail(st, `unknown block '${st.key}' (expected global_defs, vrrp_script, vrrp_sync_group, vrrp_instance, virtual_server_group or virtual_server)`);
        else ctx.fail(st, `unknown keyword '${st.key}' at top level`);
    }
  }

  // Cross references keepalived checks at load time.
  const names = new Set<string>();
  for (const v of vrrp) {
    if (names.has(v.name)) ctx.fail(parsed.stmts.filter((s) => s.key === 'vrrp_instance' && s.args[0] === v.name)[1], `vrrp_instance ${v.name} defined twice`);
    names.add(v.name);
  }
  for (const { st, g: sg } of deferredSync) {
    for (const i of sg.instances) if (!names.has(i)) ctx.fail(st, `vrrp_sync_group ${sg.name}: no vrrp_instance '${i}'`);
  }
  const scriptNames = new Set(scripts.map((s) => s.name));
  for (const v of vrrp) {
    for (const t of v.track_scripts ?? []) {
      if (!scriptNames.has(t)) {
        const st = parsed.stmts.find((s) => s.key === 'vrrp_instance' && s.args[0] === v.name)!;
        ctx.fail(st, `vrrp_instance ${v.name}: track_script '${t}' has no vrrp_script`);
      }
    }
  }
  const seen = new Map<string, number>();
  for (const s of services) {
    const k = `${s.vip}:${s.ports ? s.ports.join(',') : s.port}/${s.protocol}`;
    seen.set(k, (seen.get(k) ?? 0) + 1);
  }
  for (const [k, n] of seen) if (n > 1) ctx.notes.push({ where: file, message: `service ${k} is declared ${n} times; keep one` });

  const director = buildDirector({ nameHint: opts.name ?? routerId, iface: opts.iface ?? vrrp.find((v) => v.interface)?.interface }, ctx.todo);
  const unicastSrc = vrrp.find((v) => v.unicast_src)?.unicast_src;
  if (unicastSrc) {
    const t = ctx.todo.find((x) => x.path === 'director.addresses');
    if (t) t.message += ` — unicast_src_ip ${unicastSrc} is one of them`;
  }
  const topology: TopologyOut = { director };
  if (timeouts) {
    const t = timeoutsOut(timeouts.t, (message) => ctx.note(timeouts!.st, message), 'lvs_timeouts');
    if (t) topology.timeouts = t;
  }
  if (vrrp.length) topology.vrrp = vrrp;
  if (scripts.length) topology.vrrp_scripts = scripts;
  if (syncGroups.length) topology.vrrp_sync_groups = syncGroups;
  topology.services = services;
  return { topology, notes: ctx.notes, todo: ctx.todo };
}
