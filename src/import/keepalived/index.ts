// keepalived.conf → topology: parse the file (with includes), then map each top-level block.
import { buildDirector } from '../director';
import type { DirectorOut, ImportResult, ServiceOut, TopologyOut, VrrpOut, VrrpScriptOut } from '../types';
import { inSubnet, parseIp } from '../../common/address';
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
  noteRoleScripts(ctx, parsed.stmts, vrrp, services);

  const director = buildDirector({ nameHint: opts.name ?? routerId, iface: opts.iface ?? vrrp.find((v) => v.interface)?.interface }, ctx.todo);
  const unicastSrc = vrrp.find((v) => v.unicast_src)?.unicast_src;
  if (unicastSrc) {
    const t = ctx.todo.find((x) => x.path === 'director.addresses');
    if (t) t.message += ` — unicast_src_ip ${unicastSrc} is one of them`;
  }
  natGateway(ctx, parsed.stmts, director, vrrp, services);
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

/**
 * NAT's reals answer through the director: their default route is an inner VRRP address that
 * moves with the outer VIP (a sync group, as the LVS-NAT write-ups configure keepalived). The
 * instance whose VIP subnet holds the NAT reals names that gateway, and when it lives on another
 * interface than the director's, that interface is the inner arm (director.inside_interface).
 */
function natGateway(ctx: MapContext, stmts: Stmt[], director: DirectorOut, vrrp: VrrpOut[], services: ServiceOut[]): void {
  const nat = services.filter((s) => s.method === 'nat' || s.method === 'fullnat');
  const reals = nat.flatMap((s) => s.reals.map((r) => parseIp(r.address)!));
  if (!nat.length) return;
  for (const v of vrrp) {
    for (const vip of v.vips) {
      const [addr, len] = vip.split('/');
      const net = parseIp(addr);
      if (!net || !reals.some((r) => r.family === net.family && inSubnet(net, Number(len), r))) continue;
      const arm = v.interface && v.interface !== director.interface ? v.interface : null;
      if (arm) director.inside_interface = arm;
      const st = stmts.find((x) => x.key === 'vrrp_instance' && x.args[0] === v.name)!;
      ctx.note(st, `NAT: the reals' default route must be ${addr}, vrrp_instance ${v.name}'s address${arm ? ` on ${arm} (director.inside_interface: ${arm})` : ''}; keep it in a sync group with the VIP's instance so both move together`);
      return;
    }
  }
  const st = stmts.find((x) => x.key === 'virtual_server' && x.args[0] === nat[0].vip) ?? stmts[0];
  ctx.note(st, 'NAT: the reals must route their replies through this director (default route via its inner address, best a VRRP address in a sync group with the VIP\'s instance); set director.inside_interface when they sit on another interface than director.interface');
}

/**
 * notify_master / notify_backup of an instance that carries a service's VIP: in the LVS setups
 * where each director is also one of the service's reals, these scripts flip arp_ignore and
 * arp_announce, move the VIP between lo and the interface, or swap keepalived.conf and send
 * keepalived SIGHUP, so that the Backup serves what the Master forwards to it instead of
 * forwarding it back. xlvs does that itself (README "A director that is also a real server"), and
 * such a script run by xlvs would undo its ARP settings. One note per instance; the scripts stay
 * in the topology for the operator to delete (they may do something else too).
 */
function noteRoleScripts(ctx: MapContext, stmts: Stmt[], vrrp: VrrpOut[], services: ServiceOut[]): void {
  for (const v of vrrp) {
    const vips = new Set(v.vips.map((a) => a.split('/')[0]));
    const served = services.filter((s) => vips.has(s.vip)).map((s) => `${s.vip}:${s.port}/${s.protocol}`);
    const st = stmts.find((x) => x.key === 'vrrp_instance' && x.args[0] === v.name);
    const scripts = (st?.children ?? []).filter((c) => c.key === 'notify_master' || c.key === 'notify_backup');
    if (!served.length || !scripts.length) continue;
    const named = scripts.map((c) => `${c.key} (line ${c.line})`).join(' and ');
    ctx.note(scripts[0], `vrrp_instance ${v.name}: ${named} ${scripts.length > 1 ? 'are' : 'is'} unnecessary if this machine is also a real of ${served.join(', ')} ` +
      '(the LVS setup where they flip arp_ignore/arp_announce, move the VIP to lo, or swap keepalived.conf and killall -HUP): ' +
      'xlvs finds its own real among the machine\'s addresses at run time, puts the VIP on lo and sets arp_ignore=1/arp_announce=2 once, ' +
      'and follows VRRP itself (Master schedules; otherwise it serves what reaches it and forwards nothing). ' +
      'Delete them from vrrp[].notify unless they do more: run by xlvs they would undo those settings');
  }
}
