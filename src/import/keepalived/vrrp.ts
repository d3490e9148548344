// keepalived VRRP blocks → topology: vrrp_instance, vrrp_script, vrrp_sync_group
// (keepalived.conf(5) "VRRPD CONFIGURATION").
import * as net from 'node:net';
import { secondsToDuration } from '../durations';
import type { VrrpOut, VrrpScriptOut } from '../types';
import { childrenOf, type MapContext } from './context';
import type { Stmt } from './parser';

// Sub-blocks keepalived knows in a vrrp_instance that xlvs does not map (reported, not errors).
const INSTANCE_UNMAPPED_BLOCKS = new Set(['virtual_routes', 'virtual_rules', 'track_file', 'track_process', 'track_bfd', 'virtual_ipaddress_excluded']);
const INSTANCE_BLOCKS = new Set(['authentication', 'virtual_ipaddress', 'unicast_peer', 'track_interface', 'track_script']);

export interface VrrpGlobals {
  /** global_defs vrrp_version (keepalived.conf(5): default 2). */
  version?: 2 | 3;
  /** global_defs vrrp_strict: instances default to no_accept (keepalived.conf(5)). */
  strict?: boolean;
}

export function mapInstance(ctx: MapContext, st: Stmt, g: VrrpGlobals): VrrpOut {
  const name = ctx.arg(st);
  const label = `vrrp_instance ${name}`;
  const ignored: Stmt[] = [];
  let vrid: number | undefined;
  const out: Partial<VrrpOut> & { vips: string[] } = { name, vips: [] };
  let explicitVersion: 2 | 3 | undefined;
  let strict = g.strict === true;
  let authStmt: Stmt | undefined;
  const vipStmts: Stmt[] = [];
  for (const c of childrenOf(ctx, st)) {
    if (c.children && !INSTANCE_BLOCKS.has(c.key)) {
      if (INSTANCE_UNMAPPED_BLOCKS.has(c.key)) { ignored.push(c); continue; }
      ctx.fail(c, `unknown block '${c.key}' in ${label}`);
    }
    switch (c.key) {
      case 'state': {
        const s = ctx.arg(c).toUpperCase();
        if (s !== 'MASTER' && s !== 'BACKUP') ctx.fail(c, `state: '${c.args[0]}' is not MASTER or BACKUP`);
        out.state = s;
        break;
      }
      case 'interface': out.interface = ctx.arg(c); break;
      case 'virtual_router_id': vrid = ctx.int(c, 1, 255); break; // RFC 5798 §5.2.3: VRID 1..255
      case 'priority': out.priority = ctx.int(c, 1, 255); break; // RFC 5798 §5.2.4
      case 'advert_int': out.advert_interval = secondsToDuration(ctx.timer(c)); break;
      case 'version': case 'vrrp_version': explicitVersion = ctx.int(c, 2, 3) as 2 | 3; break;
      case 'authentication': authStmt = c; break;
      case 'virtual_ipaddress': vipStmts.push(c); break;
      case 'nopreempt': case 'no_preempt': out.preempt = false; break;
      case 'preempt': out.preempt = true; break;
      case 'preempt_delay': out.preempt_delay = secondsToDuration(ctx.timer(c)); break;
      case 'accept': out.accept = true; break;
      case 'no_accept': out.accept = false; break;
      case 'strict_mode': strict = c.args.length === 0 || ['on', 'true', 'yes'].includes(c.args[0].toLowerCase()); break;
      case 'unicast_src_ip': out.unicast_src = ctx.ip(c); break;
      case 'unicast_peer':
        out.unicast_peers = childrenOf(ctx, c).map((p) => {
          if (!net.isIP(p.key)) ctx.fail(p, `unicast_peer: '${p.key}' is not an IP address`);
          if (p.args.length) ctx.note(p, `unicast_peer ${p.key}: ${p.args.join(' ')} not mapped (TTL checks)`);
          return p.key;
        });
        break;
      case 'track_interface':
        out.track_interfaces = childrenOf(ctx, c).map((t) => {
          let weight = 0; // keepalived.conf(5): "0 is the default behaviour which means that a failure implies a FAULT state"
          if (t.args[0] === 'weight') weight = ctx.int(t, -253, 253, 1);
          else if (t.args.length) ctx.fail(t, `track_interface ${t.key}: expected 'weight N', got '${t.args.join(' ')}'`);
          if (t.args.includes('reverse')) ctx.note(t, `track_interface ${t.key}: 'reverse' not mapped`);
          return { name: t.key, weight };
        });
        break;
      case 'track_script':
        out.track_scripts = childrenOf(ctx, c).map((t) => {
          if (t.args.length) ctx.note(t, `track_script ${t.key}: per-instance '${t.args.join(' ')}' not mapped; the weight of vrrp_script ${t.key} applies`);
          return t.key;
        });
        break;
      case 'notify_master': (out.notify ??= {}).master = ctx.command(c, `${label} notify_master`); break;
      case 'notify_backup': (out.notify ??= {}).backup = ctx.command(c, `${label} notify_backup`); break;
      case 'notify_fault': (out.notify ??= {}).fault = ctx.command(c, `${label} notify_fault`); break;
      case 'notify_stop': (out.notify ??= {}).stop = ctx.command(c, `${label} notify_stop`); break;
      case 'notify': (out.notify ??= {}).any = ctx.command(c, `${label} notify`); break;
      case 'garp_master_delay': (out.garp ??= {}).master_delay = secondsToDuration(ctx.timer(c)); break;
      case 'garp_master_repeat': (out.garp ??= {}).master_repeat = ctx.int(c, 1, 1000); break;
      case 'garp_master_refresh': (out.garp ??= {}).refresh = secondsToDuration(ctx.timer(c)); break;
      default: ignored.push(c);
    }
  }
  if (vrid === undefined) ctx.fail(st, `${label}: virtual_router_id is missing (keepalived requires it)`);
  // keepalived accepts unless strict, where no_accept is the default (an explicit accept wins).
  if (strict && out.accept === undefined) out.accept = false;
  out.vrid = vrid;

  for (const v of vipStmts) for (const a of childrenOf(ctx, v)) out.vips.push(mapVip(ctx, a, out.interface, label));
  const v6 = out.vips.some((a) => a.includes(':'));
  let version = explicitVersion ?? g.version;
  if (v6 && version === 2) {
    ctx.note(st, `${label}: IPv6 addresses need VRRPv3 (keepalived.conf(5) "IPv6 instances will always use version 3"); version 3 used`);
    version = 3;
  } else if (v6 && version === undefined) version = 3;
  if (version) out.version = version;
  if (!out.interface) ctx.note(st, `${label}: no interface; it defaults to director.interface`);
  if (out.vips.length === 0) ctx.note(st, `${label}: no virtual_ipaddress`);
  if (out.state === 'MASTER' && out.preempt === false) {
    ctx.note(st, `${label}: nopreempt with state MASTER — keepalived ignores nopreempt then ("the initial state must not be MASTER"); kept as written`);
  }
  if (authStmt) mapAuth(ctx, authStmt, out, version ?? 2, label);
  ctx.ignored(label, st, ignored);
  return out as VrrpOut;
}

function mapAuth(ctx: MapContext, st: Stmt, out: Partial<VrrpOut>, version: number, label: string): void {
  let type: string | undefined;
  let pass: string | undefined;
  for (const c of childrenOf(ctx, st)) {
    if (c.key === 'auth_type') type = ctx.arg(c).toUpperCase();
    else if (c.key === 'auth_pass') pass = ctx.arg(c);
    else ctx.note(c, `${label} authentication: '${c.key}' not mapped`);
  }
  if (version === 3) { ctx.note(st, `${label}: authentication is ignored with VRRPv3 (RFC 5798 removed it); not mapped`); return; }
  if (type === 'AH') { ctx.note(st, `${label}: auth_type AH (IPsec AH) not supported; instance mapped without authentication, which keepalived peers using AH will reject`); return; }
  if (type !== 'PASS') ctx.fail(st, `${label}: auth_type must be PASS or AH, got '${type ?? '(none)'}'`);
  if (pass === undefined) ctx.fail(st, `${label}: auth_type PASS without auth_pass`);
  // RFC 2338 §5.3.10 / keepalived.conf(5): "Only the first eight (8) characters are used."
  if (pass.length > 8) ctx.note(st, `${label}: auth_pass is longer than 8 characters; only "${pass.slice(0, 8)}" is sent, as keepalived does`);
  out.auth = { type: 'pass', secret: pass };
}

function mapVip(ctx: MapContext, st: Stmt, iface: string | undefined, label: string): string {
  const [addr, mask] = st.key.split('/');
  if (!net.isIP(addr)) ctx.fail(st, `${label} virtual_ipaddress: '${st.key}' is not an address`);
  const max = net.isIPv6(addr) ? 128 : 32;
  if (mask !== undefined && (!/^\d+$/.test(mask) || Number(mask) > max)) ctx.fail(st, `${label} virtual_ipaddress: bad prefix length in '${st.key}'`);
  const rest: string[] = [];
  for (let i = 0; i < st.args.length; i++) {
    const a = st.args[i];
    if (a === 'dev') {
      const dev = st.args[++i];
      if (dev !== iface) ctx.note(st, `${label}: VIP ${st.key} is on dev ${dev}, not the instance interface ${iface ?? '(none)'}; xlvs adds VIPs on the instance interface`);
    } else if (a === 'label') {
      ctx.note(st, `${label}: VIP ${st.key} label ${st.args[++i]} not mapped (xlvs adds the address without an ifconfig alias label)`);
    } else if (['brd', 'scope', 'peer', 'preferred_lft'].includes(a)) {
      rest.push(`${a} ${st.args[++i] ?? ''}`.trim());
    } else rest.push(a);
  }
  if (rest.length) ctx.note(st, `${label}: VIP ${st.key} options not mapped: ${rest.join(', ')}`);
  // keepalived.conf(5) static addresses: "If you just feed the string "192.168.1.1", the IP will be 192.168.1.1/32".
  return mask === undefined ? `${addr}/${max}` : st.key;
}

export function mapScript(ctx: MapContext, st: Stmt): VrrpScriptOut {
  const name = ctx.arg(st);
  const label = `vrrp_script ${name}`;
  const ignored: Stmt[] = [];
  let command: string[] | undefined;
  // keepalived.conf(5): interval default 1 second, weight default 0.
  const out: Partial<VrrpScriptOut> = { name, interval: '1s' };
  for (const c of childrenOf(ctx, st)) {
    if (c.children) ctx.fail(c, `unknown block '${c.key}' in ${label}`);
    switch (c.key) {
      case 'script': command = ctx.command(c, `${label} script`); break;
      case 'interval': out.interval = secondsToDuration(ctx.timer(c)); break;
      case 'timeout': out.timeout = secondsToDuration(ctx.timer(c)); break;
      case 'rise': out.rise = ctx.int(c, 1, 1000); break;
      case 'fall': out.fall = ctx.int(c, 1, 1000); break;
      case 'weight':
        out.weight = ctx.int(c, -253, 253);
        if (c.args[1] === 'reverse') ctx.note(c, `${label}: weight 'reverse' not mapped`);
        break;
      default: ignored.push(c);
    }
  }
  if (!command) ctx.fail(st, `${label}: no 'script' line`);
  out.command = command;
  ctx.ignored(label, st, ignored);
  return out as VrrpScriptOut;
}

export function mapSyncGroup(ctx: MapContext, st: Stmt): { name: string; instances: string[] } {
  const name = ctx.arg(st);
  const label = `vrrp_sync_group ${name}`;
  const ignored: Stmt[] = [];
  let instances: string[] | undefined;
  for (const c of childrenOf(ctx, st)) {
    if (c.key === 'group') instances = childrenOf(ctx, c).map((m) => m.key);
    else ignored.push(c);
  }
  if (!instances) ctx.fail(st, `${label}: no 'group { … }' of instances`);
  ctx.ignored(label, st, ignored, 'xlvs sync groups only move their instances together; put notify and tracking on the instances');
  return { name, instances };
}
