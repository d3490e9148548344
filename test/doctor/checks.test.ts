// The doctor's checks against fake machines: every finding comes from the injected SystemView,
// so each status (ok / warning / error / skipped) is reached without touching this machine.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import {
  CHECK_NAMES, runChecks, checkBpfSyscall, checkBpffs, checkClocksource, checkConnTable, checkFirewall,
  checkRealArp, checkRpFilter, checkTopology, checkTunMtu, checkXdpDriver, checkXdpLoad, checkBtf,
  defaultRouteInterface, scanIptables, scanNft, type CheckResult,
} from '../../src/doctor/checks';
import { exitCode, formatJson, formatText } from '../../src/doctor/report';
import type { CommandResult, KernelProbe, SystemView } from '../../src/doctor/system';
import { loadTopology } from '../../src/config/load';
import type { Topology } from '../../src/config/model';

interface Fake {
  files?: Record<string, string>;
  links?: Record<string, string>;
  dirs?: Record<string, string[]>;
  commands?: Record<string, CommandResult>;
  kernel?: Partial<KernelProbe>;
}

const ROUTE = 'Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n' +
  'eth0\t00000000\t0100000A\t0003\t0\t0\t0\t00000000\t0\t0\t0\n' +
  'eth0\t0000000A\t00000000\t0001\t0\t0\t0\t00FFFFFF\t0\t0\t0\n';
const MOUNTINFO = '25 30 0:22 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:9 - bpf bpf rw,mode=700\n' +
  '22 1 0:21 / / rw,relatime - ext4 /dev/vda1 rw\n';

/** A healthy machine: virtio_net eth0 with MTU 1500, rp_filter 0, bpffs, tsc, 4 CPUs. */
function healthy(): Required<Fake> {
  return {
    files: {
      '/proc/net/route': ROUTE,
      '/sys/class/net/eth0': '',
      '/sys/class/net/eth0/mtu': '1500\n',
      '/proc/sys/net/ipv4/conf/all/rp_filter': '0\n',
      '/proc/sys/net/ipv4/conf/eth0/rp_filter': '0\n',
      '/proc/self/mountinfo': MOUNTINFO,
      '/sys/kernel/btf/vmlinux': '',
      '/sys/devices/system/clocksource/clocksource0/current_clocksource': 'tsc\n',
      '/sys/devices/system/clocksource/clocksource0/available_clocksource': 'tsc hpet acpi_pm\n',
    },
    links: { '/sys/class/net/eth0/device/driver': '../../../../bus/virtio/drivers/virtio_net' },
    dirs: { '/sys/class/net/eth0/queues': ['rx-0', 'rx-1', 'rx-2', 'rx-3', 'tx-0', 'tx-1', 'tx-2', 'tx-3'] },
    commands: {},
    kernel: {},
  };
}

function view(f: Fake = healthy()): SystemView & { calls: string[] } {
  const calls: string[] = [];
  const kernel: KernelProbe = {
    release: () => '6.1.0-test',
    bpfSyscall: () => ({ ok: true, value: 'created and freed a BPF array map' }),
    loadXdp: () => ({ ok: true, value: 'loaded xdp_pass.bpf.o' }),
    possibleCpus: () => 4,
    xdpAttached: () => ({ ok: true, value: {} }),
    namedNetns: () => 'test-ns',
    tryNativeAttach: (ifname) => { calls.push(`attach ${ifname}`); return { ok: true, value: `attached xdp_pass to ${ifname} in native mode and detached it` }; },
    ...f.kernel,
  };
  return {
    calls,
    readFile: (p) => f.files?.[p] ?? null,
    readlink: (p) => f.links?.[p] ?? null,
    readdir: (p) => f.dirs?.[p] ?? null,
    exists: (p) => p in (f.files ?? {}) || p in (f.dirs ?? {}),
    command: (argv) => { calls.push(argv.join(' ')); return f.commands?.[argv[0]] ?? null; },
    kernel,
  };
}

const TOPO = `
director: { name: d1, interface: eth0, addresses: [10.0.0.2/24] }
vrrp:
  - { name: VI_1, vrid: 51, priority: 100, vips: [10.0.0.100/24] }
services:
  - vip: 10.0.0.100
    port: 80
    method: dr
    reals: [{ address: 10.0.0.11 }, { address: 10.0.0.12 }]
`;
const TUN_TOPO = `
director: { name: d1, interface: eth0, addresses: [10.0.0.2/24, "2001:db8::2/64"] }
services:
  - { vip: 10.0.0.100, port: 80, method: tun, reals: [{ address: 192.0.2.20 }] }
`;
const topo = (text = TOPO): Topology => loadTopology(text, 't.yaml');

test('a healthy machine without -c: every check named, none warns, exit 0', () => {
  const r = runChecks(view());
  assert.deepEqual(r.map((c) => c.name), [...CHECK_NAMES]);
  assert.deepEqual(r.filter((c) => c.status === 'warning' || c.status === 'error'), []);
  assert.equal(exitCode(r), 0);
  assert.equal(r.find((c) => c.name === 'xdp-driver')!.finding, 'eth0 (from the default route): driver virtio_net supports native XDP');
});

test('exit status: 0 with ok and skipped only, 1 with a warning, 2 with an error', () => {
  const c = (status: CheckResult['status']): CheckResult => ({ name: 'x', status, finding: '', fix: '' });
  assert.equal(exitCode([c('ok'), c('skipped')]), 0);
  assert.equal(exitCode([c('ok'), c('warning')]), 1);
  assert.equal(exitCode([c('warning'), c('error'), c('ok')]), 2);
});

test('--json is {checks:[{name,status,finding,fix}]}; text names each check and shows the fix', () => {
  const f = healthy();
  f.files['/proc/sys/net/ipv4/conf/all/rp_filter'] = '1\n';
  const r = runChecks(view(f));
  const j = JSON.parse(formatJson(r)) as { checks: Record<string, string>[] };
  assert.deepEqual(Object.keys(j.checks[0]).sort(), ['finding', 'fix', 'name', 'status']);
  assert.equal(j.checks.length, CHECK_NAMES.length);
  const text = formatText(r);
  for (const n of CHECK_NAMES) assert.match(text, new RegExp(`^\\w+\\s+${n}\\s`, 'm'));
  assert.match(text, /^warning\s+rp-filter\s+strict/m);
  assert.match(text, /fix: loose mode: `sysctl -w net\.ipv4\.conf\.all\.rp_filter=2 net\.ipv4\.conf\.eth0\.rp_filter=2`/);
  assert.match(text, /12 checks: .*1 warning\(s\), 0 error\(s\)/);
});

test('topology: skipped without -c, error naming the first problem, ok with a summary', () => {
  assert.equal(checkTopology(undefined).status, 'skipped');
  const bad = checkTopology({ file: 'x.yaml', topology: null, problems: ['x.yaml:3:5 services[0].port: must be ≤ 65535', 'another'] });
  assert.equal(bad.status, 'error');
  assert.equal(bad.finding, 'x.yaml:3:5 services[0].port: must be ≤ 65535 (and 1 more)');
  assert.match(bad.fix, /xlvs validate x\.yaml/);
  const good = checkTopology({ file: 't.yaml', topology: topo(), problems: [] });
  assert.equal(good.finding, 't.yaml: director d1 on eth0, 1 service(s), 2 real(s), 1 VRRP instance(s)');
});

test('bpf(2), BTF and the XDP load: refused → error with the privilege fix; missing object → make build', () => {
  const eperm = checkBpfSyscall(view({ ...healthy(), kernel: { bpfSyscall: () => ({ ok: false, error: 'bpf_map_create failed', errno: 1 }) } }));
  assert.equal(eperm.status, 'error');
  assert.match(eperm.fix, /root.*CAP_BPF/);
  const nosys = checkBpfSyscall(view({ ...healthy(), kernel: { bpfSyscall: () => ({ ok: false, error: 'x', errno: 38 }) } }));
  assert.match(nosys.fix, /CONFIG_BPF_SYSCALL/);
  const f = healthy();
  delete f.files['/sys/kernel/btf/vmlinux'];
  assert.equal(checkBtf(view(f)).status, 'warning');
  const noObj = checkXdpLoad(view({ ...healthy(), kernel: { loadXdp: () => ({ ok: false, error: 'BPF object /x/xdp_pass.bpf.o: no such file (build it with make build)' }) } }));
  assert.equal(noObj.status, 'error');
  assert.match(noObj.fix, /make build/);
  assert.equal(checkXdpLoad(view({ ...healthy(), kernel: { loadXdp: () => ({ ok: false, error: 'load failed (errno 22 EINVAL)' }) } })).status, 'error');
});

test('xdp-driver: native driver ok, unknown driver warns "generic only, slower", missing interface is an error', () => {
  const t = topo();
  assert.equal(checkXdpDriver(view(), t).status, 'ok');
  const f = healthy();
  f.links['/sys/class/net/eth0/device/driver'] = '../../../../bus/pci/drivers/r8169';
  const unknown = checkXdpDriver(view(f), t);
  assert.equal(unknown.status, 'warning');
  assert.match(unknown.finding, /driver r8169 is not known to support native XDP: generic only, slower/);
  assert.match(unknown.fix, /xdp_mode: generic/);
  const gen = checkXdpDriver(view(f), topo(TOPO.replace('interface: eth0,', 'interface: eth0, xdp_mode: generic,')));
  assert.equal(gen.status, 'ok', 'generic asked for: nothing to fix');
  const missing = checkXdpDriver(view(), topo(TOPO.replace('interface: eth0', 'interface: bond7')));
  assert.equal(missing.status, 'error');
  assert.match(missing.finding, /interface bond7 \(from the topology\) does not exist/);
});

test('xdp-driver: a veth (no sysfs device) is found through ethtool -i, then ip -d link', () => {
  const f = healthy();
  delete f.links['/sys/class/net/eth0/device/driver'];
  f.commands.ethtool = { status: 0, stdout: 'driver: veth\nversion: 1.0\n', stderr: '' };
  assert.match(checkXdpDriver(view(f), topo()).finding, /driver veth supports native XDP/);
  delete f.commands.ethtool;
  f.commands.ip = { status: 0, stdout: JSON.stringify([{ ifname: 'eth0', linkinfo: { info_kind: 'veth' } }]), stderr: '' };
  assert.match(checkXdpDriver(view(f), topo()).finding, /driver veth supports native XDP/);
});

test('xdp-driver --try-attach: attaches only when no program is attached, reports a failed native attach as an error', () => {
  const v = view();
  const r = checkXdpDriver(v, topo(), { tryAttach: true });
  assert.deepEqual(v.calls.filter((c) => c.startsWith('attach')), ['attach eth0']);
  assert.match(r.finding, /attached xdp_pass to eth0 in native mode and detached it/);
  const busy = view({ ...healthy(), kernel: { xdpAttached: () => ({ ok: true, value: { native: 42 } }) } });
  const b = checkXdpDriver(busy, topo(), { tryAttach: true });
  assert.deepEqual(busy.calls.filter((c) => c.startsWith('attach')), []);
  assert.match(b.finding, /attached now: native program id 42; did not try/);
  const fails = checkXdpDriver(view({ ...healthy(), kernel: { tryNativeAttach: () => ({ ok: false, error: 'attach failed (errno 95 EOPNOTSUPP)' }) } }), topo(), { tryAttach: true });
  assert.equal(fails.status, 'error');
  assert.match(fails.fix, /xdp_mode: generic/);
});

test('tun-mtu: MTU 1500 with a TUN service warns (1520 needed, 1540 for IPv6 reals); 1520 is enough; no TUN is ok', () => {
  const w = checkTunMtu(view(), topo(TUN_TOPO));
  assert.equal(w.status, 'warning');
  assert.match(w.finding, /MTU 1500 on eth0 < 1520/);
  assert.match(w.fix, /ip link set eth0 mtu 1520/);
  assert.match(w.fix, /MSS to 1440/);
  const v6 = checkTunMtu(view(), topo(TUN_TOPO.replace('{ address: 192.0.2.20 }', '{ address: 192.0.2.20 }, { address: "2001:db8:9::20" }')));
  assert.match(v6.finding, /< 1540/);
  const f = healthy();
  f.files['/sys/class/net/eth0/mtu'] = '1520\n';
  assert.equal(checkTunMtu(view(f), topo(TUN_TOPO)).status, 'ok');
  assert.equal(checkTunMtu(view(), topo()).status, 'ok');
  assert.equal(checkTunMtu(view(), null).status, 'skipped');
});

test('rp-filter: strict on all or on the interface warns, loose and off are ok', () => {
  const set = (all: string, dev: string): CheckResult => {
    const f = healthy();
    f.files['/proc/sys/net/ipv4/conf/all/rp_filter'] = all;
    f.files['/proc/sys/net/ipv4/conf/eth0/rp_filter'] = dev;
    return checkRpFilter(view(f), topo());
  };
  assert.equal(set('1', '0').status, 'warning');
  assert.equal(set('0', '1').status, 'warning');
  assert.equal(set('2', '1').status, 'ok', 'the larger value wins: loose');
  assert.match(set('2', '0').finding, /^loose/);
  assert.equal(set('0', '0').status, 'ok');
});

test('bpffs: ok when pin_root is on one; absent warns with the mount command; a non-empty directory is an error', () => {
  assert.equal(checkBpffs(view(), topo()).status, 'ok');
  const f = healthy();
  f.files['/proc/self/mountinfo'] = '22 1 0:21 / / rw,relatime - ext4 /dev/vda1 rw\n';
  const w = checkBpffs(view(f), topo());
  assert.equal(w.status, 'warning');
  assert.match(w.fix, /mount -t bpf bpf \/sys\/fs\/bpf/);
  const run = topo(TOPO.replace('addresses:', 'pin_root: /run/xlvs-pins, addresses:'));
  f.dirs['/run/xlvs-pins'] = ['stale'];
  const e = checkBpffs(view(f), run);
  assert.equal(e.status, 'error');
  assert.match(e.finding, /no bpffs at \/run\/xlvs-pins, and it holds 1 entry/);
});

test('firewall: no tools → skipped; a VRRP drop is an error with VRRP in the topology; default drop without accept warns', () => {
  assert.equal(checkFirewall(view(), topo()).status, 'skipped');
  const nft = (ruleset: string): CheckResult => {
    const f = healthy();
    f.commands.nft = { status: 0, stdout: ruleset, stderr: '' };
    return checkFirewall(view(f), topo());
  };
  const dropping = 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy accept;\n\t\tip protocol vrrp drop\n\t}\n}\n';
  const d = nft(dropping);
  assert.equal(d.status, 'error');
  assert.match(d.finding, /drop VRRP: nft chain input: ip protocol vrrp drop/);
  const policy = 'table inet filter {\n\tchain input {\n\t\ttype filter hook input priority filter; policy drop;\n\t\ttcp dport 22 accept\n\t}\n}\n';
  assert.equal(nft(policy).status, 'warning');
  assert.equal(nft(policy.replace('tcp dport 22 accept', 'ip daddr 224.0.0.18 accept')).status, 'ok');
  assert.equal(nft('table inet filter {\n}\n').status, 'ok');
  const f = healthy();
  f.commands['iptables-save'] = { status: 0, stdout: '*filter\n:INPUT DROP [0:0]\n:FORWARD ACCEPT [0:0]\n-A INPUT -p tcp --dport 22 -j ACCEPT\nCOMMIT\n', stderr: '' };
  assert.equal(checkFirewall(view(f), topo()).status, 'warning');
  assert.equal(checkFirewall(view(f), null).status, 'warning');
});

test('scanIptables / scanNft: drops by protocol number, name or multicast address; accepts noticed', () => {
  assert.deepEqual(scanIptables('*filter\n-A INPUT -p 112 -j DROP\nCOMMIT\n').drops, ['iptables filter: -A INPUT -p 112 -j DROP']);
  assert.equal(scanIptables('*filter\n-A INPUT -d 224.0.0.18/32 -j REJECT\n').drops.length, 1);
  assert.equal(scanIptables('*filter\n:INPUT DROP [0:0]\n-A INPUT -p vrrp -j ACCEPT\n').accepts, true);
  assert.equal(scanNft('chain input {\n meta l4proto 112 counter reject\n}').drops.length, 1);
  assert.deepEqual(scanNft('chain input {\n type filter hook input priority 0; policy drop;\n}').defaultDrop, ['nft chain input: policy drop']);
});

test('clocksource: tsc and kvm-clock are fine; hpet warns and names the better one available', () => {
  assert.equal(checkClocksource(view()).status, 'ok');
  const f = healthy();
  f.files['/sys/devices/system/clocksource/clocksource0/current_clocksource'] = 'kvm-clock\n';
  assert.equal(checkClocksource(view(f)).status, 'ok');
  f.files['/sys/devices/system/clocksource/clocksource0/current_clocksource'] = 'hpet\n';
  const w = checkClocksource(view(f));
  assert.equal(w.status, 'warning');
  assert.match(w.fix, /echo tsc > \/sys\/devices\/system\/clocksource\/clocksource0\/current_clocksource/);
});

test('conn-table: IPv4 flows shared, IPv6 flows per CPU from 262,144 entries; few RX queues noted; very many CPUs warn', () => {
  const r = checkConnTable(view(), null);
  assert.equal(r.status, 'ok');
  assert.match(r.finding, /1,048,576 IPv4 flows \(director\.conn_table\.size, the default\), shared by every CPU/);
  assert.match(r.finding, /262,144 IPv6 flows \(director\.conn_table\.ipv6_size, the default\) in 4 per-CPU LRU list\(s\): about 65,536 IPv6 flows per CPU/);
  assert.doesNotMatch(r.finding, /RX queue/);
  const f = healthy();
  f.dirs['/sys/class/net/eth0/queues'] = ['rx-0', 'tx-0'];
  assert.match(checkConnTable(view(f), null).finding, /eth0 has 1 RX queue\(s\).*about 65,536 flows\)/);
  const many = checkConnTable(view({ ...healthy(), kernel: { possibleCpus: () => 128 } }), null);
  assert.equal(many.status, 'warning');
  assert.match(many.finding, /about 2,048 IPv6 flows per CPU/);
  assert.match(many.fix, /director\.conn_table\.ipv6_size/);
  // With a topology, its own table size counts.
  const t = topo();
  t.director.connTable.ipv6Size = 4 * 16384;
  assert.match(checkConnTable(view(), t).finding, /65,536 IPv6 flows \(director\.conn_table\.ipv6_size\) in 4 per-CPU LRU list\(s\): about 16,384 IPv6 flows per CPU/);
});

test('real-arp: names the DR reals and the command to run on each', () => {
  const r = checkRealArp(topo());
  assert.equal(r.status, 'skipped');
  assert.match(r.finding, /2 DR real\(s\).*10\.0\.0\.11, 10\.0\.0\.12/);
  assert.match(r.fix, /xlvs realserver status/);
  assert.equal(checkRealArp(topo(TUN_TOPO)).status, 'ok');
  assert.match(checkRealArp(null).fix, /xlvs realserver status/);
});

test('a check that throws becomes an error finding, the others still run', () => {
  const r = runChecks(view({ ...healthy(), kernel: { possibleCpus: () => { throw new Error('boom'); } } }));
  const c = r.find((x) => x.name === 'conn-table')!;
  assert.equal(c.status, 'error');
  assert.match(c.finding, /the check itself failed: boom/);
  assert.equal(r.length, CHECK_NAMES.length);
});

test('defaultRouteInterface reads /proc/net/route', () => {
  assert.equal(defaultRouteInterface(view()), 'eth0');
  assert.equal(defaultRouteInterface(view({ files: {} })), null);
});
