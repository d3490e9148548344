// The checks of `xlvs doctor`: pure functions of a SystemView (system.ts) and, with -c, the
// topology. Each returns one finding with a status and the concrete thing to do about it.
import * as path from 'node:path';
import type { Topology } from '../config/model';
import { LB } from '../maps/lb';
import type { SystemView } from './system';

/** ok / warning / error; `skipped` when the check cannot be made here (no tool, no topology). */
export type Status = 'ok' | 'warning' | 'error' | 'skipped';

export interface CheckResult {
  name: string;
  status: Status;
  /** One line: what was seen. */
  finding: string;
  /** What the operator does about it ('' when nothing). */
  fix: string;
}

/** What `-c FILE` gave: the topology, or why it could not be loaded. */
export interface TopologyInput {
  file: string;
  topology: Topology | null;
  /** Problems when the file did not load (one line each). */
  problems: string[];
}

export interface DoctorOptions {
  topology?: TopologyInput;
  /** Attach xdp_pass in native mode to the interface (only inside a named network namespace). */
  tryAttach?: boolean;
}

/** Every check, in the order printed. The names are stable (scripts match on them). */
export const CHECK_NAMES = [
  'topology', 'bpf-syscall', 'btf', 'xdp-load', 'xdp-driver', 'tun-mtu', 'rp-filter', 'bpffs',
  'firewall-vrrp', 'clocksource', 'conn-table', 'real-arp',
] as const;

/** Drivers with native (driver-mode) XDP in mainline Linux. */
export const NATIVE_XDP_DRIVERS = new Set([
  'veth', 'virtio_net', 'tun', 'netdevsim', 'bonding', 'mlx4_en', 'mlx4_core', 'mlx5_core', 'i40e', 'ice',
  'ixgbe', 'ixgbevf', 'igb', 'igc', 'bnxt_en', 'nfp', 'qede', 'ena', 'gve', 'hv_netvsc', 'sfc', 'sfc_siena',
  'nicvf', 'thunder-nicvf', 'mvneta', 'mvpp2', 'stmmaceth', 'st_gmac', 'dpaa2-eth', 'fsl_dpaa2_eth', 'fsl-enetc', 'enetc', 'fec',
  'rvu_nicpf', 'rvu_nicvf', 'lan966x-switch', 'atlantic', 'tsnep', 'cpsw', 'cpsw-switch', 'am65-cpsw-nuss',
  'mlxbf_gige', 'octeontx2-nicpf', 'fbnic', 'idpf', 'virtif',
]);

/** Clock sources read in nanoseconds from user space (vDSO) and by the kernel's timestamps. */
const GOOD_CLOCKS = new Set(['tsc', 'kvm-clock', 'arch_sys_counter', 'hyperv_clocksource_tsc_page', 'xen', 'timebase']);

/** Per-CPU share of lb_conns6 (an LRU hash with per-CPU lists) under which doctor warns. */
export const MIN_FLOWS_PER_CPU = 16384;

/** A full-size client packet (Ethernet MTU) the TUN check plans for. */
export const CLIENT_MTU = 1500;

const ok = (name: string, finding: string, fix = ''): CheckResult => ({ name, status: 'ok', finding, fix });
const warning = (name: string, finding: string, fix: string): CheckResult => ({ name, status: 'warning', finding, fix });
const error = (name: string, finding: string, fix: string): CheckResult => ({ name, status: 'error', finding, fix });
const skipped = (name: string, finding: string, fix = ''): CheckResult => ({ name, status: 'skipped', finding, fix });

/** The interface of the default IPv4 route (/proc/net/route), or null. */
export function defaultRouteInterface(v: SystemView): string | null {
  const text = v.readFile('/proc/net/route');
  if (!text) return null;
  for (const line of text.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 7 && f[1] === '00000000' && f[7] === '00000000') return f[0];
  }
  return null;
}

/** The interface the checks look at: the topology's, else the default route's. */
function subject(v: SystemView, t: Topology | null): { ifname: string | null; from: string } {
  if (t) return { ifname: t.director.interface, from: 'the topology' };
  const d = defaultRouteInterface(v);
  return { ifname: d, from: 'the default route' };
}

function num(text: string | null): number | null {
  if (text === null) return null;
  const n = Number(text.trim());
  return Number.isFinite(n) && text.trim() !== '' ? n : null;
}

export function checkTopology(input: TopologyInput | undefined): CheckResult {
  const n = 'topology';
  if (!input) return skipped(n, 'no topology given: checks use the default route\'s interface and /sys/fs/bpf', 'run `xlvs doctor -c TOPOLOGY` to check this machine against a director\'s file');
  if (!input.topology) {
    const first = input.problems[0] ?? 'cannot be loaded';
    const more = input.problems.length > 1 ? ` (and ${input.problems.length - 1} more)` : '';
    return error(n, `${first.startsWith(input.file) ? '' : `${input.file}: `}${first}${more}`, `\`xlvs validate ${input.file}\` lists every problem; fix them and run doctor again`);
  }
  const t = input.topology;
  const reals = t.services.reduce((k, s) => k + s.reals.length, 0);
  return ok(n, `${input.file}: director ${t.director.name} on ${t.director.interface}, ${t.services.length} service(s), ${reals} real(s), ${t.vrrp.length} VRRP instance(s)`);
}

export function checkBpfSyscall(v: SystemView): CheckResult {
  const n = 'bpf-syscall';
  const r = v.kernel.bpfSyscall();
  const rel = v.kernel.release();
  if (r.ok) return ok(n, `bpf(2) works on kernel ${rel}: ${r.value}`);
  const errno = r.errno ?? 0;
  if (errno === 1 || errno === 13) return error(n, `bpf(2) refused on kernel ${rel}: ${r.error}`, 'run xlvs as root (or with CAP_BPF, CAP_NET_ADMIN and CAP_PERFMON); in a container, allow the bpf syscall in its seccomp profile');
  if (errno === 38) return error(n, `bpf(2) is not available on kernel ${rel}: ${r.error}`, 'use a kernel built with CONFIG_BPF_SYSCALL=y (Debian 12\'s 6.1 has it)');
  return error(n, `bpf(2) failed on kernel ${rel}: ${r.error}`, 'check `dmesg` and the memlock/cgroup memory limits of the service (LimitMEMLOCK=infinity)');
}

export function checkBtf(v: SystemView): CheckResult {
  const n = 'btf';
  const p = '/sys/kernel/btf/vmlinux';
  if (v.exists(p)) return ok(n, `kernel BTF present at ${p}`);
  return warning(n, `no kernel BTF at ${p}: xlvs's programs load without it, but bpftool cannot describe this kernel's types and CO-RE tools will not run`, 'use a kernel built with CONFIG_DEBUG_INFO_BTF=y (Debian 12 kernels are)');
}

export function checkXdpLoad(v: SystemView): CheckResult {
  const n = 'xdp-load';
  const r = v.kernel.loadXdp();
  if (r.ok) return ok(n, `the verifier accepts XDP programs: ${r.value}`);
  if (/no such file/.test(r.error)) return error(n, `cannot try: ${r.error}`, 'build the BPF objects first: `make build`');
  return error(n, `a trivial XDP program does not load: ${r.error}`, 'use a kernel with CONFIG_XDP_SOCKETS/CONFIG_BPF_JIT and XDP (Linux ≥ 5.10); `dmesg` may say why');
}

/** The interface's driver: sysfs device/driver, else `ethtool -i`, else the link kind (`ip -d link`). */
export function interfaceDriver(v: SystemView, ifname: string): string | null {
  const link = v.readlink(`/sys/class/net/${ifname}/device/driver`);
  if (link) return path.basename(link);
  const et = v.command(['ethtool', '-i', ifname]);
  const m = et && et.status === 0 ? /^driver:\s*(\S+)/m.exec(et.stdout) : null;
  if (m) return m[1];
  const ip = v.command(['ip', '-d', '-j', 'link', 'show', 'dev', ifname]);
  if (ip && ip.status === 0) {
    try {
      const kind = (JSON.parse(ip.stdout) as { linkinfo?: { info_kind?: string } }[])[0]?.linkinfo?.info_kind;
      if (kind) return kind === 'bond' ? 'bonding' : kind;
    } catch { /* unknown */ }
  }
  return null;
}

export function checkXdpDriver(v: SystemView, t: Topology | null, opts: DoctorOptions = {}): CheckResult {
  const n = 'xdp-driver';
  const { ifname, from } = subject(v, t);
  if (!ifname) return skipped(n, 'no interface to look at: no -c and no default route', 'run `xlvs doctor -c TOPOLOGY`');
  if (!v.exists(`/sys/class/net/${ifname}`)) {
    return error(n, `interface ${ifname} (from ${from}) does not exist in this network namespace`, `create ${ifname} or set director.interface to an existing interface (\`ip link\` lists them)`);
  }
  const driver = interfaceDriver(v, ifname);
  const q = v.kernel.xdpAttached(ifname);
  const attached = q.ok
    ? [q.value.native !== undefined ? `native program id ${q.value.native}` : '', q.value.generic !== undefined ? `generic program id ${q.value.generic}` : ''].filter(Boolean).join(', ')
    : '';
  const now = attached ? `; attached now: ${attached}` : '';
  const wantGeneric = t?.director.xdpMode === 'generic';
  let tried = '';
  if (opts.tryAttach) {
    if (attached) tried = '; did not try a native attach (a program is attached)';
    else {
      const r = v.kernel.tryNativeAttach(ifname);
      if (r.ok) tried = `; ${r.value}`;
      else if (/^refused/.test(r.error)) tried = `; native attach not tried: ${r.error}`;
      else {
        return error(n, `${ifname} (driver ${driver ?? 'unknown'}): native XDP attach failed: ${r.error}`,
          `set director.xdp_mode: generic (slower), or use a NIC/driver with native XDP; check \`dmesg\` and \`ethtool -l ${ifname}\` (virtio_net needs a queue pair per CPU)`);
      }
    }
  }
  if (driver && NATIVE_XDP_DRIVERS.has(driver)) {
    const mode = wantGeneric ? ' (the topology asks for generic mode: native would be faster)' : '';
    return ok(n, `${ifname} (from ${from}): driver ${driver} supports native XDP${mode}${now}${tried}`,
      wantGeneric ? 'set director.xdp_mode: native' : '');
  }
  if (wantGeneric) return ok(n, `${ifname}: driver ${driver ?? 'unknown'}; the topology runs generic XDP${now}${tried}`);
  return warning(n, `${ifname} (from ${from}): driver ${driver ?? 'unknown'} is not known to support native XDP: generic only, slower${now}${tried}`,
    `set director.xdp_mode: generic to say so, or move the VIPs to a NIC with native XDP (mlx5, i40e, ice, ixgbe, bnxt, virtio_net…); \`xlvs doctor --try-attach\` inside a namespace tries it`);
}

export function checkTunMtu(v: SystemView, t: Topology | null): CheckResult {
  const n = 'tun-mtu';
  const { ifname } = subject(v, t);
  const mtu = ifname ? num(v.readFile(`/sys/class/net/${ifname}/mtu`)) : null;
  const have = mtu !== null ? `MTU ${mtu} on ${ifname}` : `no MTU readable${ifname ? ` for ${ifname}` : ''}`;
  if (!t) return skipped(n, `no topology: ${have}; a TUN service needs MTU ≥ client MTU + 20 (IPv4 tunnel) or + 40 (IPv6)`, 'run with -c to know whether a TUN service exists');
  const tun = t.services.filter((s) => s.method === 'tun');
  if (tun.length === 0) return ok(n, `no TUN service (${have})`);
  const overhead = Math.max(...tun.flatMap((s) => s.reals.map((r) => (r.family === 6 ? 40 : 20))), 20);
  const need = CLIENT_MTU + overhead;
  if (mtu === null) return warning(n, `${tun.length} TUN service(s), ${have}`, `make sure the path director → reals carries ${need}-byte packets`);
  if (mtu >= need) return ok(n, `${tun.length} TUN service(s): ${have} ≥ ${need} (client ${CLIENT_MTU} + ${overhead} bytes of tunnel header)`);
  const mss = CLIENT_MTU - overhead - 40; // inner IPv4 + TCP headers
  return warning(n, `${tun.length} TUN service(s): ${have} < ${need}: a full-size ${CLIENT_MTU}-byte client packet does not fit once encapsulated (+${overhead} bytes); the director answers it "too big"`,
    `raise the MTU of ${ifname} and of the path to the reals to ≥ ${need} (\`ip link set ${ifname} mtu ${need}\`), or clamp the clients' TCP MSS to ${mss} (e.g. \`ip route change … advmss ${mss}\` on the reals)`);
}

export function checkRpFilter(v: SystemView, t: Topology | null): CheckResult {
  const n = 'rp-filter';
  const { ifname } = subject(v, t);
  const all = num(v.readFile('/proc/sys/net/ipv4/conf/all/rp_filter'));
  const dev = ifname ? num(v.readFile(`/proc/sys/net/ipv4/conf/${ifname}/rp_filter`)) : null;
  if (all === null && dev === null) return skipped(n, 'no /proc/sys/net/ipv4/conf/*/rp_filter (no IPv4?)');
  const eff = Math.max(all ?? 0, dev ?? 0);
  const seen = `all=${all ?? '?'}${ifname ? `, ${ifname}=${dev ?? '?'}` : ''}`;
  if (eff === 1) {
    const keys = ['net.ipv4.conf.all.rp_filter=2', ...(ifname ? [`net.ipv4.conf.${ifname}.rp_filter=2`] : [])];
    return warning(n, `strict reverse-path filtering (${seen}; the kernel uses the larger): packets arriving on a path other than the route back are dropped, which breaks asymmetric LVS paths`,
      `loose mode: \`sysctl -w ${keys.join(' ')}\`, and the same in /etc/sysctl.d/90-xlvs.conf`);
  }
  return ok(n, `${eff === 2 ? 'loose' : 'no'} reverse-path filtering (${seen})`);
}

/** Mount points of bpffs in /proc/self/mountinfo. */
export function bpffsMounts(v: SystemView): string[] {
  const text = v.readFile('/proc/self/mountinfo') ?? '';
  const out: string[] = [];
  for (const line of text.split('\n')) {
    const [pre, post] = line.split(' - ');
    if (!post) continue;
    if (post.split(' ')[0] === 'bpf') out.push(pre.split(' ')[4].replace(/\\040/g, ' '));
  }
  return out;
}

export function checkBpffs(v: SystemView, t: Topology | null): CheckResult {
  const n = 'bpffs';
  const root = t ? t.director.pinRoot : '/sys/fs/bpf';
  const abs = path.resolve(root);
  const mounts = bpffsMounts(v);
  const at = mounts.filter((m) => abs === m || abs.startsWith(m.endsWith('/') ? m : m + '/')).sort((a, b) => b.length - a.length)[0];
  if (at) return ok(n, `${root} is on the bpffs mounted at ${at}`);
  const target = abs === '/sys/fs/bpf' || abs.startsWith('/sys/fs/bpf/') ? '/sys/fs/bpf' : abs;
  const entries = v.readdir(target);
  const mountCmd = `\`mount -t bpf bpf ${target}\` (and \`bpf ${target} bpf defaults 0 0\` in /etc/fstab)`;
  if (entries && entries.length > 0) {
    return error(n, `no bpffs at ${target}, and it holds ${entries.length} entr${entries.length === 1 ? 'y' : 'ies'}: xlvs run will not mount one over them`, `choose an empty pin_root, or ${mountCmd}`);
  }
  return warning(n, `no bpffs at ${target} (pin_root ${root}): xlvs run mounts one, but pins vanish with that mount if nothing else keeps it`, mountCmd);
}

interface FirewallFinding { drops: string[]; defaultDrop: string[]; accepts: boolean }

const VRRP_WORD = /(protocol|l4proto|-p)\s+(vrrp|112)\b|224\.0\.0\.18/;

/** Reads an `nft list ruleset` for VRRP drops and input chains with policy drop. */
export function scanNft(text: string): FirewallFinding {
  const f: FirewallFinding = { drops: [], defaultDrop: [], accepts: false };
  let chain = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    const c = /^chain\s+(\S+)/.exec(line);
    if (c) chain = c[1];
    if (/hook\s+input\b/.test(line) && /policy\s+drop/.test(line)) f.defaultDrop.push(`nft chain ${chain}: policy drop`);
    if (VRRP_WORD.test(line)) {
      if (/\b(drop|reject)\b/.test(line)) f.drops.push(`nft chain ${chain}: ${line}`);
      else if (/\baccept\b/.test(line)) f.accepts = true;
    }
  }
  return f;
}

/** Reads an `iptables-save` for VRRP drops and an INPUT policy of DROP. */
export function scanIptables(text: string): FirewallFinding {
  const f: FirewallFinding = { drops: [], defaultDrop: [], accepts: false };
  let table = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('*')) table = line.slice(1);
    if (table === 'filter' && /^:INPUT\s+DROP\b/.test(line)) f.defaultDrop.push('iptables INPUT policy DROP');
    if (!line.startsWith('-A ')) continue;
    if (VRRP_WORD.test(line)) {
      if (/-j\s+(DROP|REJECT)\b/.test(line)) f.drops.push(`iptables ${table}: ${line}`);
      else if (/-j\s+ACCEPT\b/.test(line)) f.accepts = true;
    }
  }
  return f;
}

export function checkFirewall(v: SystemView, t: Topology | null): CheckResult {
  const n = 'firewall-vrrp';
  const seen: string[] = [];
  const found: FirewallFinding = { drops: [], defaultDrop: [], accepts: false };
  const merge = (g: FirewallFinding): void => { found.drops.push(...g.drops); found.defaultDrop.push(...g.defaultDrop); found.accepts ||= g.accepts; };
  const nft = v.command(['nft', 'list', 'ruleset']);
  if (nft && nft.status === 0) { seen.push('nft'); merge(scanNft(nft.stdout)); }
  const ipt = v.command(['iptables-save']);
  if (ipt && ipt.status === 0) { seen.push('iptables-save'); merge(scanIptables(ipt.stdout)); }
  if (seen.length === 0) {
    return skipped(n, `neither nft nor iptables-save ${nft || ipt ? 'answered' : 'is installed'}: firewall not read`, 'if a firewall is managed elsewhere, make sure it accepts IP protocol 112 (VRRP) to 224.0.0.18');
  }
  const vrrp = t ? t.vrrp.length : null;
  const stake = vrrp === 0 ? ' (the topology has no VRRP instance)' : '';
  const accept = '`nft add rule inet filter input ip protocol vrrp accept` or `iptables -I INPUT -p vrrp -j ACCEPT` (before any drop)';
  if (found.drops.length) {
    const bad = vrrp ? error : warning; // an error only when this topology runs VRRP
    return bad(n, `${found.drops.length} rule(s) drop VRRP: ${found.drops[0]}${stake}`, `remove it, or accept VRRP before it: ${accept}`);
  }
  if (found.defaultDrop.length && !found.accepts) {
    return warning(n, `${found.defaultDrop[0]} and no rule accepting VRRP (protocol 112, 224.0.0.18): adverts from the peer director are dropped, both become Master${stake}`, `accept VRRP: ${accept}`);
  }
  return ok(n, `${seen.join(' and ')}: nothing drops VRRP${found.accepts ? ' (an accept rule for it exists)' : ''}`);
}

export function checkClocksource(v: SystemView): CheckResult {
  const n = 'clocksource';
  const base = '/sys/devices/system/clocksource/clocksource0';
  const cur = v.readFile(`${base}/current_clocksource`)?.trim();
  if (!cur) return skipped(n, `${base}/current_clocksource not readable`);
  if (GOOD_CLOCKS.has(cur)) return ok(n, `clock source ${cur}`);
  const avail = (v.readFile(`${base}/available_clocksource`) ?? '').trim().split(/\s+/).filter(Boolean);
  const better = avail.find((c) => GOOD_CLOCKS.has(c));
  return warning(n, `clock source ${cur} is slow to read: each clock read of the daemon (VRRP and health timers) becomes a system call, and the kernel's packet timestamps cost microseconds (the XDP program itself uses the coarse tick clock)`,
    better ? `\`echo ${better} > ${base}/current_clocksource\`, and clocksource=${better} on the kernel command line` : `available: ${avail.join(' ') || 'none listed'}; on a VM enable kvm-clock or an invariant TSC`);
}

export function checkConnTable(v: SystemView, t: Topology | null): CheckResult {
  const n = 'conn-table';
  const cpus = v.kernel.possibleCpus();
  const size = t?.director.connTable.size ?? LB.CONN_ENTRIES;
  const size6 = t?.director.connTable.ipv6Size ?? LB.CONN6_ENTRIES;
  const per = Math.floor(size6 / cpus);
  const dflt = t ? '' : ', the default';
  const { ifname } = subject(v, t);
  const rxq = ifname ? (v.readdir(`/sys/class/net/${ifname}/queues`) ?? []).filter((q) => q.startsWith('rx-')).length : 0;
  const fmt = (x: number): string => x.toLocaleString('en-US');
  const queues = rxq > 0 && rxq < cpus
    ? `; ${ifname} has ${rxq} RX queue(s): unless RPS spreads them, new flows fill only those CPUs' lists (about ${fmt(per * rxq)} flows)`
    : '';
  const finding = `lb_conns holds ${fmt(size)} IPv4 flows (director.conn_table.size${dflt}), shared by every CPU; `
    + `lb_conns6 holds ${fmt(size6)} IPv6 flows (director.conn_table.ipv6_size${dflt}) in ${cpus} per-CPU LRU list(s): about ${fmt(per)} IPv6 flows per CPU before the oldest are evicted${queues}`;
  if (per < MIN_FLOWS_PER_CPU) {
    return warning(n, finding, `raise director.conn_table.ipv6_size in the topology (\`xlvs validate\` prints the kernel memory it takes; a restart applies it), or boot with fewer possible CPUs (possible_cpus=)`);
  }
  return ok(n, finding);
}

export function checkRealArp(t: Topology | null): CheckResult {
  const n = 'real-arp';
  const fix = 'on each DR real: `xlvs realserver status` (and `xlvs realserver up --vip VIP` if it reports a problem): VIPs on lo with arp_ignore=1, arp_announce=2';
  if (!t) return skipped(n, 'doctor cannot see the reals\' arp_ignore/arp_announce from the director', fix);
  const dr = [...new Set(t.services.filter((s) => s.method === 'dr').flatMap((s) => s.reals.map((r) => r.address)))];
  if (dr.length === 0) return ok(n, 'no DR service: no real needs arp_ignore/arp_announce');
  const shown = dr.slice(0, 8).join(', ') + (dr.length > 8 ? `, … (${dr.length} in all)` : '');
  return skipped(n, `${dr.length} DR real(s) must not answer ARP for the VIPs; doctor cannot see them: ${shown}`, fix);
}

/** Runs every check. Never throws for what the machine lacks: that is a finding. */
export function runChecks(v: SystemView, opts: DoctorOptions = {}): CheckResult[] {
  const t = opts.topology?.topology ?? null;
  const checks: Array<() => CheckResult> = [
    () => checkTopology(opts.topology),
    () => checkBpfSyscall(v),
    () => checkBtf(v),
    () => checkXdpLoad(v),
    () => checkXdpDriver(v, t, opts),
    () => checkTunMtu(v, t),
    () => checkRpFilter(v, t),
    () => checkBpffs(v, t),
    () => checkFirewall(v, t),
    () => checkClocksource(v),
    () => checkConnTable(v, t),
    () => checkRealArp(t),
  ];
  return checks.map((c, i) => {
    try {
      return c();
    } catch (e) {
      return error(CHECK_NAMES[i], `the check itself failed: ${(e as Error).message.split('\n')[0]}`, 'report this as an xlvs bug');
    }
  });
}
