// The lab's layout, derived from config/lab.yaml (a production topology for director 1): which
// namespaces, links, addresses and routes exist, which VIPs each real holds, and director 2's
// topology. Pure: no system calls, so it is tested without root.
import * as net from 'node:net';
import YAML from 'yaml';
import { XlvsError, ErrorCodes } from '../errors';

/** Lab-only constants (not in the topology schema). */
export const LAB = {
  /** Host numbers of the client addresses on the LAN (several sources for hashing demos). */
  clientHosts: [10, 11, 12, 13, 14],
  /** Host number of the router on both segments. */
  routerHost: 1,
  /** MTU on the director → router → real (TUN) path: ≥ 1500 + 20 (outer IPv4), docs/lab-notes.md. */
  tunMtu: 1600,
  /** Ports the real servers listen on: HTTP that names itself, TCP echo (keepalived's Redis example). */
  httpPort: 80,
  echoPort: 6379,
  /** The NAT reals' UDP service (answers each datagram with the real's name). */
  udpPort: 5353,
  /** Where per-prefix files live (topologies, logs, state, the bpffs mount). */
  runDir: '/run/xlvs-lab',
};

export interface LabDirector { short: string; ns: string; name: string; address: string; innerAddress: string | null; priority: number; state: 'MASTER' | 'BACKUP'; topologyYaml: string; socket: string }
export interface LabReal { short: string; ns: string; lanAddress: string; tunAddress: string | null; drVips: string[]; tunVips: string[] }
/** A NAT real: alone on the inner segment, its default route the inner VRRP address. */
export interface LabNatReal { short: string; ns: string; address: string }
/** The NAT site: the directors' second arm (director.inside_interface) on an inner segment. */
export interface LabInner { interface: string; cidr: string; prefixLen: number; gateway: string; instance: string }
export interface LabLayout {
  prefix: string;
  dir: string;
  /** The lab's bpffs, mounted in the root mount namespace and bind-mounted over each daemon's /sys/fs/bpf. */
  pinRoot: string;
  lanPrefixLen: number;
  lanCidr: string;
  tunCidr: string | null;
  interface: string;
  vips: string[];
  ns: { client: string; router: string; bridge: string };
  clientAddresses: string[];
  routerLan: string;
  routerTun: string | null;
  directors: LabDirector[];
  reals: LabReal[];
  /** NAT and full-NAT: the inner segment behind the directors and its reals (null: no NAT service). */
  inner: LabInner | null;
  natReals: LabNatReal[];
  /** Every namespace of this lab, for creation order and for `down`. */
  namespaces: string[];
}

interface RawService { name?: string; vip: string; port?: number; method?: string; reals?: { address: string }[] }
interface RawTopology {
  director: { name: string; interface: string; inside_interface?: string; addresses: string[]; pin_root?: string };
  vrrp?: { name?: string; interface?: string; vips: string[]; priority?: number; state?: string; unicast_src?: string }[];
  services: RawService[];
  control?: { socket?: string };
}

function ip4ToInt(a: string): number { return a.split('.').reduce((n, o) => n * 256 + Number(o), 0); }
function intToIp4(n: number): string { return [24, 16, 8, 0].map((s) => (n >>> s) & 255).join('.'); }
function subnetOf(addr: string, len: number): number { return len === 0 ? 0 : (ip4ToInt(addr) & (~0 << (32 - len))) >>> 0; }
function hostIn(net4: number, host: number): string { return intToIp4((net4 + host) >>> 0); }

function fail(path: string, msg: string): never {
  throw new XlvsError(ErrorCodes.CONFIG_INVALID, `lab: ${path}: ${msg}`);
}

/** Derives the lab from the text of lab.yaml. `file` names it in errors. */
export function deriveLayout(text: string, prefix: string, file = 'config/lab.yaml'): LabLayout {
  if (!/^[a-z0-9][a-z0-9-]{0,7}$/.test(prefix)) throw new XlvsError(ErrorCodes.USAGE, `lab prefix "${prefix}" must be 1-8 of [a-z0-9-]`);
  let doc: YAML.Document.Parsed;
  try {
    doc = YAML.parseDocument(text, { prettyErrors: true });
  } catch (e) {
    throw new XlvsError(ErrorCodes.CONFIG_PARSE, `${file}: ${(e as Error).message}`);
  }
  if (doc.errors.length) throw new XlvsError(ErrorCodes.CONFIG_PARSE, `${file}: ${doc.errors[0].message}`);
  const t = doc.toJS() as RawTopology;
  if (!t || typeof t !== 'object' || !t.director) fail('director', 'missing');
  if (!t.director.interface) fail('director.interface', 'missing');
  const a0 = t.director.addresses?.[0];
  if (!a0 || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(a0)) fail('director.addresses[0]', 'the lab needs an IPv4 CIDR here (the LAN)');
  const [dir1Addr, lenS] = a0.split('/');
  const len = Number(lenS);
  if (len < 8 || len > 29) fail('director.addresses[0]', `prefix length ${len}: the lab needs /8../29`);
  const lan = subnetOf(dir1Addr, len);
  const inLan = (a: string): boolean => net.isIPv4(a) && subnetOf(a, len) === lan;
  if (!Array.isArray(t.services) || t.services.length === 0) fail('services', 'the lab needs at least one service');
  const vrrp = t.vrrp?.[0];
  if (!vrrp) fail('vrrp[0]', 'the lab runs a VRRP pair: one instance is needed');

  const drReals: string[] = [];
  const tunReals: string[] = [];
  const vipsOf = new Map<string, { dr: Set<string>; tun: Set<string> }>();
  let tunNet: number | null = null;
  let tunLen = 24;
  const natAddrs: { address: string; path: string }[] = [];
  t.services.forEach((s, i) => {
    const method = s.method ?? 'dr';
    if (!net.isIPv4(s.vip)) fail(`services[${i}].vip`, `"${s.vip}": the lab is IPv4`);
    if (!inLan(s.vip)) fail(`services[${i}].vip`, `${s.vip} is not in the LAN ${intToIp4(lan)}/${len}: clients reach VIPs on the LAN`);
    (s.reals ?? []).forEach((r, j) => {
      if (!net.isIPv4(r.address)) fail(`services[${i}].reals[${j}].address`, `"${r.address}": the lab is IPv4`);
      if (method === 'dr') {
        if (!inLan(r.address)) fail(`services[${i}].reals[${j}].address`, `${r.address}: a DR real must be on the LAN ${intToIp4(lan)}/${len}`);
        if (!drReals.includes(r.address)) drReals.push(r.address);
      } else if (method === 'tun') {
        if (inLan(r.address)) fail(`services[${i}].reals[${j}].address`, `${r.address}: the lab puts TUN reals behind the router, outside the LAN`);
        const n = subnetOf(r.address, tunLen);
        if (tunNet === null) tunNet = n;
        else if (tunNet !== n) fail(`services[${i}].reals[${j}].address`, `${r.address}: all TUN reals must share one /${tunLen}`);
        if (!tunReals.includes(r.address)) tunReals.push(r.address);
      } else if (method === 'nat' || method === 'fullnat') {
        natAddrs.push({ address: r.address, path: `services[${i}].reals[${j}].address` });
        return;
      } else {
        fail(`services[${i}].method`, `"${method}": dr, tun, nat or fullnat`);
      }
      const v = vipsOf.get(r.address) ?? { dr: new Set(), tun: new Set() };
      (method === 'dr' ? v.dr : v.tun).add(s.vip);
      vipsOf.set(r.address, v);
    });
  });
  const inner = natAddrs.length ? innerSegment(t, natAddrs) : null;
  const natReals: LabNatReal[] = [];
  for (const { address } of natAddrs) {
    if (natReals.some((r) => r.address === address)) continue;
    const n = natReals.length + 1;
    natReals.push({ short: `nat${n}`, ns: `${prefix}-nat${n}`, address });
  }
  if (natReals.length > 9) fail('services', `${natReals.length} NAT reals: the lab builds at most 9`);
  const nReals = Math.max(drReals.length, tunReals.length);
  if (nReals === 0) fail('services', 'no reals');
  if (nReals > 9) fail('services', `${nReals} reals: the lab builds at most 9`);

  const ns = (s: string): string => `${prefix}-${s}`;
  const dir = `${LAB.runDir}/${prefix}`;
  const pinRoot = `${dir}/bpffs`;
  const used = new Set<string>([...drReals]);
  const routerLan = hostIn(lan, LAB.routerHost);
  const clientAddresses = LAB.clientHosts.map((h) => hostIn(lan, h));
  const dir2Addr = intToIp4(ip4ToInt(dir1Addr) + 1);
  for (const [what, a] of [['router', routerLan], ['director 1', dir1Addr], ['director 2', dir2Addr], ...clientAddresses.map((c) => ['client', c])] as [string, string][]) {
    if (used.has(a)) fail('services', `${a} is a real, but the lab uses it for the ${what}`);
  }
  const vips = [...new Set(t.services.map((s) => s.vip))];

  const reals: LabReal[] = [];
  for (let i = 0; i < nReals; i++) {
    const lanAddress = drReals[i] ?? hostIn(lan, 50 + i + 1);
    const tunAddress = tunReals[i] ?? null;
    const vd = vipsOf.get(lanAddress);
    const vt = tunAddress ? vipsOf.get(tunAddress) : undefined;
    reals.push({ short: `real${i + 1}`, ns: ns(`real${i + 1}`), lanAddress, tunAddress, drVips: [...(vd?.dr ?? [])], tunVips: [...(vt?.tun ?? [])] });
  }

  const directors: LabDirector[] = [1, 2].map((n) => {
    const name = `${prefix}-dir${n}`;
    const address = n === 1 ? dir1Addr : dir2Addr;
    const priority = n === 1 ? (vrrp.priority ?? 150) : 100;
    const state = n === 1 ? 'MASTER' : 'BACKUP';
    const socket = `/run/xlvs/${name}.sock`;
    const d = YAML.parseDocument(text);
    d.setIn(['director', 'name'], name);
    d.setIn(['director', 'addresses'], [`${address}/${len}`]);
    // Every instance: the inner one (the NAT reals' gateway) moves with the outer one.
    (t.vrrp ?? []).forEach((_, i) => {
      d.setIn(['vrrp', i, 'priority'], priority);
      d.setIn(['vrrp', i, 'state'], state);
    });
    d.setIn(['control', 'socket'], socket);
    d.commentBefore = ` Generated by \`xlvs lab up\` from ${file} for ${name}: edit that file, not this one.`;
    const innerAddress = inner ? innerHost(inner, 1 + n) : null;
    return { short: `dir${n}`, ns: ns(`dir${n}`), name, address, innerAddress, priority, state, topologyYaml: d.toString(), socket } as LabDirector;
  });

  const tunCidr = tunNet === null ? null : `${intToIp4(tunNet)}/${tunLen}`;
  const lay: LabLayout = {
    prefix, dir, pinRoot, lanPrefixLen: len, lanCidr: `${intToIp4(lan)}/${len}`, tunCidr, interface: t.director.interface, vips,
    ns: { client: ns('client'), router: ns('rtr'), bridge: ns('br') },
    clientAddresses, routerLan, routerTun: tunNet === null ? null : hostIn(tunNet, LAB.routerHost),
    directors, reals, inner, natReals, namespaces: [],
  };
  lay.namespaces = [lay.ns.bridge, lay.ns.client, ...directors.map((d) => d.ns), ...(tunCidr ? [lay.ns.router] : []), ...reals.map((r) => r.ns), ...natReals.map((r) => r.ns)];
  if (inner) {
    const taken = new Map<string, string>([[inner.gateway, 'the inner gateway'], ...directors.map((d) => [d.innerAddress!, `${d.name}'s inner address`] as [string, string])]);
    natAddrs.forEach((a) => { if (taken.has(a.address)) fail(a.path, `${a.address} is ${taken.get(a.address)}`); });
  }
  return lay;
}

/**
 * The NAT site's inner segment: director.inside_interface, and the VRRP instance on it whose
 * first address is the reals' default gateway; every NAT real must sit in its subnet.
 */
function innerSegment(t: RawTopology, nat: { address: string; path: string }[]): LabInner {
  const iface = t.director.inside_interface;
  if (!iface) fail('director.inside_interface', 'the lab builds NAT two-armed: name the directors\' inner interface (e.g. eth1)');
  const i = (t.vrrp ?? []).findIndex((v) => v.interface === iface);
  if (i < 0) fail('vrrp', `no instance on ${iface}: the NAT reals' default gateway is a VRRP address there, moving with the VIP (a sync group)`);
  const v = t.vrrp![i];
  const gw = v.vips?.[0];
  if (!gw || !/^\d+\.\d+\.\d+\.\d+\/\d+$/.test(gw)) fail(`vrrp[${i}].vips[0]`, 'the inner gateway must be an IPv4 address with its prefix (e.g. 10.83.0.1/24)');
  const [gateway, plenS] = gw.split('/');
  const plen = Number(plenS);
  if (plen < 8 || plen > 29) fail(`vrrp[${i}].vips[0]`, `prefix length ${plen}: the lab needs /8../29`);
  const net4 = subnetOf(gateway, plen);
  for (const a of nat) {
    if (!net.isIPv4(a.address) || subnetOf(a.address, plen) !== net4) fail(a.path, `${a.address}: a NAT real must be on the inner segment ${intToIp4(net4)}/${plen} (vrrp[${i}].vips[0])`);
  }
  return { interface: iface, cidr: `${intToIp4(net4)}/${plen}`, prefixLen: plen, gateway, instance: v.name ?? `vrrp[${i}]` };
}

/** Host `n` of the inner segment (directors: 2 and 3, next to the gateway). */
function innerHost(inner: LabInner, n: number): string {
  return hostIn(subnetOf(inner.gateway, inner.prefixLen), n);
}

/** Namespace names a lab with `prefix` may have left behind (for `down` without a state file). */
export function labNamespacePattern(prefix: string): RegExp {
  return new RegExp(`^${prefix.replace(/-/g, '\\-')}-(client|br|rtr|dir[12]|real[1-9]|nat[1-9])$`);
}
