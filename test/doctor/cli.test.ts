// `xlvs doctor` as an operator runs it: on this machine (read-only: whatever it finds, it exits
// 0/1/2 and names every check), and inside a network namespace on a veth with a topology, where
// --try-attach attaches a pass program natively to the namespace's eth0 and takes it off again.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../../src/paths';
import { CHECK_NAMES } from '../../src/doctor/checks';
import { realKernel } from '../../src/doctor/system';
import { Netlab } from '../../src/lab/netns';
import { needsBpf } from '../lib/env';

const xlvs = path.join(repoRoot(), 'bin', 'xlvs.js');

interface Out { status: number | null; stdout: string; stderr: string }
function doctor(argv: string[], ns?: string): Out {
  const cmd = ns ? ['ip', 'netns', 'exec', ns, process.execPath, xlvs, 'doctor', ...argv] : [process.execPath, xlvs, 'doctor', ...argv];
  const r = spawnSync(cmd[0], cmd.slice(1), { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

type Check = { name: string; status: string; finding: string; fix: string };
const worst = (checks: Check[]): number => (checks.some((c) => c.status === 'error') ? 2 : checks.some((c) => c.status === 'warning') ? 1 : 0);

test('xlvs doctor on this machine: exits 0, 1 or 2 and prints every check', needsBpf(), () => {
  const r = doctor([]);
  assert.ok(r.status === 0 || r.status === 1 || r.status === 2, `exit ${r.status}: ${r.stderr}`);
  for (const n of CHECK_NAMES) assert.match(r.stdout, new RegExp(`^(ok|warning|error|skipped)\\s+${n}\\s`, 'm'), `${n} in\n${r.stdout}`);
  assert.match(r.stdout, /^12 checks: /m);
  const j = doctor(['--json']);
  const checks = (JSON.parse(j.stdout) as { checks: Check[] }).checks;
  assert.deepEqual(checks.map((c) => c.name), [...CHECK_NAMES]);
  assert.equal(j.status, worst(checks));
  // Reading this machine must never attach anything to its own interfaces.
  assert.doesNotMatch(j.stdout, /attached xdp_pass/);
});

test('a topology that does not load: the topology check is an error (exit 2), the rest still run', needsBpf(), () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-doctor-'));
  try {
    const file = path.join(dir, 'bad.yaml');
    fs.writeFileSync(file, 'director: { name: d, interface: eth0 }\nservices: [{ vip: 10.0.0.1, port: 70000, reals: [] }]\n');
    const r = doctor(['-c', file, '--json']);
    assert.equal(r.status, 2, r.stderr);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    assert.equal(checks[0].name, 'topology');
    assert.equal(checks[0].status, 'error');
    assert.match(checks[0].finding, /port/);
    assert.equal(checks.length, CHECK_NAMES.length);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

const lab = new Netlab(`doc${process.pid % 10000}`);
after(async () => { await lab.cleanup(); });

test('inside a namespace on a veth with -c: native attach tried and undone, TUN MTU and strict rp_filter warned', needsBpf(), () => {
  const dir = lab.addNs('dir');
  const peer = lab.addNs('peer');
  lab.addVeth(dir, 'eth0', peer, 'eth0', { mtu: 1500 });
  lab.addAddr(dir, 'eth0', '10.99.0.2/24');
  lab.exec(dir, ['ip', 'route', 'add', 'default', 'via', '10.99.0.1']);
  lab.exec(dir, ['sysctl', '-qw', 'net.ipv4.conf.all.rp_filter=1']);
  const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-doctor-'));
  try {
    const file = path.join(tmp, 'topo.yaml');
    fs.writeFileSync(file, [
      'director: { name: doc, interface: eth0, addresses: [10.99.0.2/24], pin_root: /run/xlvs-doctor-test-nothing-here }',
      'vrrp:',
      '  - { name: VI_1, vrid: 51, priority: 100, vips: [10.99.0.100/24] }',
      'services:',
      '  - { vip: 10.99.0.100, port: 80, method: dr, reals: [{ address: 10.99.0.11 }, { address: 10.99.0.12 }] }',
      '  - { vip: 10.99.0.100, port: 443, method: tun, reals: [{ address: 192.0.2.20 }] }',
      '',
    ].join('\n'));
    const r = doctor(['-c', file, '--json', '--try-attach'], dir);
    const checks = (JSON.parse(r.stdout) as { checks: Check[] }).checks;
    const by = Object.fromEntries(checks.map((c) => [c.name, c]));
    assert.deepEqual(checks.map((c) => c.name), [...CHECK_NAMES]);
    assert.equal(r.status, worst(checks), r.stderr);
    assert.equal(by.topology.status, 'ok');
    assert.equal(by['xdp-driver'].status, 'ok', by['xdp-driver'].finding);
    assert.match(by['xdp-driver'].finding, /eth0 \(from the topology\): driver veth supports native XDP; attached xdp_pass to eth0 in native mode and detached it/);
    assert.equal(lab.exec(dir, ['ip', '-j', '-d', 'link', 'show', 'dev', 'eth0']).stdout.includes('"xdp"'), false, 'nothing left attached');
    assert.equal(by['tun-mtu'].status, 'warning');
    assert.match(by['tun-mtu'].finding, /MTU 1500 on eth0 < 1520/);
    assert.equal(by['rp-filter'].status, 'warning');
    assert.match(by['rp-filter'].finding, /all=1, eth0=/);
    assert.match(by['bpffs'].finding, /\/run\/xlvs-doctor-test-nothing-here/);
    assert.equal(fs.existsSync('/run/xlvs-doctor-test-nothing-here'), false, 'doctor creates nothing');
    assert.equal(by['real-arp'].status, 'skipped');
    assert.match(by['real-arp'].finding, /10\.99\.0\.11, 10\.99\.0\.12/);
    assert.match(by['conn-table'].finding, /per-CPU LRU/);

    // The text form of the same run names every check too.
    const text = doctor(['-c', file], dir);
    assert.equal(text.status, r.status);
    for (const n of CHECK_NAMES) assert.match(text.stdout, new RegExp(`^\\w+\\s+${n}\\s`, 'm'));
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
});

test('outside a named network namespace tryNativeAttach refuses before any attach', needsBpf(), () => {
  // Checked in-process: the CLI with --try-attach is never run outside a test namespace.
  assert.equal(realKernel.namedNetns(), null);
  const r = realKernel.tryNativeAttach('lo');
  assert.equal(r.ok, false);
  assert.match(!r.ok ? r.error : '', /^refused: not inside a named network namespace/);
});
