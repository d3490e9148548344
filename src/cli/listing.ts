// ipvsadm-style listings of a status snapshot: `xlvs list` prints what `ipvsadm -L` would, so
// operators read it without a manual. Pure: snapshot in, text out.
import { describeOverride, ServiceStatus, StatusSnapshot, TrafficCounters } from '../common/status';
import { hostPort } from '../common/address';

export type ListMode = 'plain' | 'stats' | 'rate';

export interface Rates { cps: number; inpps: number; inbps: number }

const SCHED_NAMES: Record<string, string> = { maglev: 'mh', 'source-hash': 'sh', 'dest-hash': 'dh', 'maglev-source-port': 'mh' };
// ipvsadm's Forward column (Masq for NAT); mainline IPVS has no full-NAT, so that name is ours.
const FORWARD: Record<string, string> = { dr: 'Route', tun: 'Tunnel', nat: 'Masq', fullnat: 'FullNat' };

function serviceHead(s: ServiceStatus): string {
  const prot = s.protocol.toUpperCase().padEnd(4);
  // A grouped service (ipvsadm's FWM line) shows its ports where one service shows its port.
  return `${prot} ${s.ports ? `${s.vip.includes(':') ? `[${s.vip}]` : s.vip}:${s.ports}` : hostPort(s.vip, s.port)}`;
}

function flags(s: ServiceStatus): string {
  const f: string[] = [SCHED_NAMES[s.scheduler] ?? s.scheduler];
  if (s.persistence) {
    f.push(`persistent ${Math.round(s.persistence.timeoutMs / 1000)}`);
    if (s.persistence.netmask && s.persistence.netmask !== '255.255.255.255' && s.persistence.netmask !== '128') f.push(`mask ${s.persistence.netmask}`);
  }
  if (s.sorryActive) f.push('sorry');
  return f.join(' ');
}

function num(n: bigint | number, width: number): string {
  return String(n).padStart(width);
}

/** `ipvsadm -L -n` (mode plain), `--stats` or `--rate` (rates per service/real key). */
export function formatListing(snap: StatusSnapshot, mode: ListMode, rates?: Map<string, Rates>): string {
  const out: string[] = [];
  out.push(`xlvs director ${snap.director} on ${snap.interface} (XDP ${snap.xdpMode})`);
  if (mode === 'plain') {
    out.push('Prot LocalAddress:Port Scheduler Flags');
    out.push('  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn');
    for (const s of snap.services) {
      out.push(`${serviceHead(s)} ${flags(s)}`);
      for (const r of s.reals) {
        const w = r.state === 'up' ? r.effectiveWeight : 0;
        // An operator override always says so, with the topology's weight beside it.
        const tag = r.override ? `  (${r.state === 'down' ? `down: ${r.reason}; ` : ''}${describeOverride(r.override, r.weight)})`
          : r.state === 'up' ? '' : `  (${r.state}: ${r.reason})`;
        // A real that is this director: ipvsadm's "Local" forwarding (IP_VS_CONN_F_LOCALNODE).
        const fwd = r.local ? 'Local' : FORWARD[s.method] ?? s.method;
        out.push(`  -> ${hostPort(r.address, r.port).padEnd(28)} ${fwd.padEnd(7)} ${String(w).padEnd(6)} ${String(r.activeConns).padEnd(10)} ${r.inactiveConns}${tag}`);
      }
    }
    return out.join('\n') + '\n';
  }
  if (mode === 'stats') {
    out.push('Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes');
    out.push('  -> RemoteAddress:Port');
    const row = (head: string, c: TrafficCounters) =>
      `${head.padEnd(33)}${num(c.newFlows, 8)} ${num(c.packets, 8)} ${num(0, 8)} ${num(c.bytes, 8)} ${num(0, 8)}`;
    for (const s of snap.services) {
      out.push(row(serviceHead(s), s.counters));
      for (const r of s.reals) out.push(row(`  -> ${hostPort(r.address, r.port)}`, r.counters));
    }
    return out.join('\n') + '\n';
  }
  out.push('Prot LocalAddress:Port                 CPS    InPPS   OutPPS    InBPS   OutBPS');
  out.push('  -> RemoteAddress:Port');
  const row = (head: string, key: string) => {
    const r = rates?.get(key) ?? { cps: 0, inpps: 0, inbps: 0 };
    return `${head.padEnd(33)}${num(Math.round(r.cps), 8)} ${num(Math.round(r.inpps), 8)} ${num(0, 8)} ${num(Math.round(r.inbps), 8)} ${num(0, 8)}`;
  };
  for (const s of snap.services) {
    out.push(row(serviceHead(s), s.key));
    for (const r of s.reals) out.push(row(`  -> ${hostPort(r.address, r.port)}`, `${s.key}|${r.key}`));
  }
  return out.join('\n') + '\n';
}

/**
 * Rates from two snapshots `dtMs` apart (counter deltas). A counter that went down between them
 * (`xlvs zero`, or the entry was removed and added again) gives 0, never a negative rate.
 */
export function computeRates(a: StatusSnapshot, b: StatusSnapshot, dtMs: number): Map<string, Rates> {
  const rates = new Map<string, Rates>();
  const secs = Math.max(dtMs, 1) / 1000;
  const prev = new Map<string, TrafficCounters>();
  for (const s of a.services) {
    prev.set(s.key, s.counters);
    for (const r of s.reals) prev.set(`${s.key}|${r.key}`, r.counters);
  }
  const rate = (now: bigint, before: bigint) => (now > before ? Number(now - before) / secs : 0);
  const put = (key: string, c: TrafficCounters) => {
    const p = prev.get(key);
    if (!p) return;
    rates.set(key, { cps: rate(c.newFlows, p.newFlows), inpps: rate(c.packets, p.packets), inbps: rate(c.bytes, p.bytes) });
  };
  for (const s of b.services) {
    put(s.key, s.counters);
    for (const r of s.reals) put(`${s.key}|${r.key}`, r.counters);
  }
  return rates;
}
