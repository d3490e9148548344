// Checks that need the machine, kept apart from pure validation: the interfaces a topology
// names exist (/sys/class/net), and a TUN service whose tunnel source was left to the
// interface finds an address of the right family there (`ip -j addr`). Returns problems
// rather than throwing, so a caller can warn (xlvs validate on another host) or refuse (the
// daemon before applying).
import { execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Family, Problem, Topology } from './model';

export interface RuntimeOptions {
  /** Where interfaces are listed; tests point this elsewhere. */
  sysClassNet?: string;
  /** Addresses of an interface by family; default asks `ip -j addr show dev IF`. */
  interfaceAddresses?: (ifname: string) => { family: Family; address: string }[];
  /** Whether the kernel forwards the family on an interface; default reads
   *  /proc/sys/net/ipv4|ipv6/conf/IF/forwarding. */
  forwarding?: (ifname: string, family: Family) => boolean | null;
}

function procForwarding(ifname: string, family: Family): boolean | null {
  try {
    return fs.readFileSync(`/proc/sys/net/ipv${family}/conf/${ifname}/forwarding`, 'utf8').trim() !== '0';
  } catch {
    return null;
  }
}

function ipAddresses(ifname: string): { family: Family; address: string }[] {
  try {
    const out = execFileSync('ip', ['-j', 'addr', 'show', 'dev', ifname], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const links = JSON.parse(out) as { addr_info?: { family: string; local: string; scope?: string }[] }[];
    return links.flatMap((l) => (l.addr_info ?? []).filter((a) => a.scope !== 'link' && a.scope !== 'host')
      .map((a) => ({ family: (a.family === 'inet6' ? 6 : 4) as Family, address: a.local })));
  } catch {
    return [];
  }
}

export function checkRuntime(t: Topology, opts: RuntimeOptions = {}): Problem[] {
  const dir = opts.sysClassNet ?? '/sys/class/net';
  const addrsOf = opts.interfaceAddresses ?? ipAddresses;
  const out: Problem[] = [];
  const exists = (ifname: string): boolean => fs.existsSync(path.join(dir, ifname));
  const need = (ifname: string, at: string, what: string): boolean => {
    if (exists(ifname)) return true;
    out.push({ path: at, message: `interface ${ifname} does not exist on this machine (${what})`, line: 0, col: 0 });
    return false;
  };
  const dirOk = need(t.director.interface, 'director.interface', 'the XDP program attaches there');
  t.vrrp.forEach((v, i) => {
    if (v.interface !== t.director.interface) need(v.interface, `vrrp[${i}].interface`, 'VRRP adverts are sent there');
    v.trackInterfaces.forEach((ti, j) => need(ti.name, `vrrp[${i}].track_interfaces[${j}]`, 'tracked for FAULT'));
  });
  const inside = t.director.insideInterface;
  const insideOk = inside ? need(inside, 'director.inside_interface', 'the XDP program attaches there too, toward the NAT reals') : false;
  if (!dirOk) return out;
  // NAT's next hops come from bpf_fib_lookup, which answers only where the kernel forwards (it
  // says "forwarding disabled" otherwise and every NAT packet would go to the kernel untouched).
  // xlvs does not turn the machine into a router by itself: LVS-NAT asks the same of the operator.
  const fwd = opts.forwarding ?? procForwarding;
  const natFamilies = new Set(t.services.filter((s) => s.method === 'nat' || s.method === 'fullnat').map((s) => s.family));
  for (const f of [...natFamilies].sort()) {
    for (const [ifname, at] of [[t.director.interface, 'director.interface'], ...(inside && insideOk ? [[inside, 'director.inside_interface']] : [])] as [string, string][]) {
      if (fwd(ifname, f) === false) {
        out.push({ path: at, message: `IPv${f} forwarding is off on ${ifname}, and NAT services need it (bpf_fib_lookup finds no next hop otherwise): sysctl -w net.ipv${f}.conf.${ifname}.forwarding=1 (or ${f === 4 ? 'net.ipv4.ip_forward=1' : 'net.ipv6.conf.all.forwarding=1'}, and in /etc/sysctl.d to keep it)`, line: 0, col: 0 });
      }
    }
  }
  const missing = new Set<Family>();
  for (const s of t.services) {
    if (s.method !== 'tun') continue;
    for (const r of s.reals) {
      if ((r.family === 4 ? t.director.tunSource4 : t.director.tunSource6) === null) missing.add(r.family);
    }
  }
  if (missing.size) {
    const have = new Set(addrsOf(t.director.interface).map((a) => a.family));
    for (const f of [...missing].sort()) {
      if (!have.has(f)) {
        out.push({ path: 'director.addresses', message: `a TUN service has IPv${f} reals, but ${t.director.interface} has no IPv${f} address to use as tunnel source (set director.addresses or tun_source)`, line: 0, col: 0 });
      }
    }
  }
  return out;
}
