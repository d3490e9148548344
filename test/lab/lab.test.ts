// `xlvs lab up|status|down` with its own prefix: the client reaches every real directly (HTTP that
// names itself, TCP echo), the TUN segment is routed with a large MTU, status lists everything
// with the XDP modes, a second up replaces the first, and down leaves nothing behind.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { run, inNs } from '../../src/sys/exec';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { labDown } from '../../src/lab/site';
import { needsCommand } from '../lib/env';

const P = 'tlab';

function xlvs(args: string[]): { status: number; stdout: string; stderr: string } {
  const argv = xlvsArgv(args);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function inside(ns: string, argv: string[]): string {
  return run(inNs(ns, argv), { allowFail: true }).stdout;
}
function echo(ns: string, host: string, port: number, msg: string): string {
  const code = `const s=require('net').connect(${port},${JSON.stringify(host)},()=>s.end(${JSON.stringify(msg)}));let b='';s.on('data',d=>b+=d);s.on('close',()=>process.stdout.write(b));s.on('error',e=>{console.error(e.message);process.exit(1)});setTimeout(()=>process.exit(2),3000)`;
  return inside(ns, [process.execPath, '-e', code]);
}
function leftovers(): string[] {
  const out: string[] = [];
  for (const l of run(['ip', 'netns', 'list']).stdout.split('\n')) if (l.startsWith(`${P}-`)) out.push(`netns ${l}`);
  for (const l of run(['ip', '-o', 'link', 'show']).stdout.split('\n')) if (l.includes(`${P}t`) || / (c0|d1|d2|r1|t1|rt0)[@:]/.test(l)) out.push(`root link ${l}`);
  if (fs.readFileSync('/proc/self/mountinfo', 'utf8').includes(`/run/xlvs-lab/${P}/`)) out.push('mount');
  if (fs.existsSync(`/run/xlvs-lab/${P}`)) out.push(`/run/xlvs-lab/${P}`);
  return out;
}

after(() => labDown(P));

interface Status { up: boolean; namespaces: { ns: string; present: boolean }[]; processes: { role: string; pid: number; alive: boolean }[]; xdp: { role: string; attach: string; name: string; dev: string }[]; problems: string[]; directorsNote: string }

test('lab up, status, reach the reals, up again, down leaves nothing', needsCommand('curl'), async () => {
  let r = xlvs(['lab', 'up', '--prefix', P, '--no-directors']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  r = xlvs(['lab', 'status', '--prefix', P, '--json']);
  assert.equal(r.status, 0, r.stdout);
  const s1 = JSON.parse(r.stdout) as Status;
  assert.equal(s1.up, true);
  assert.deepEqual(s1.namespaces.map((n) => [n.ns, n.present]), ['br', 'client', 'dir1', 'dir2', 'rtr', 'real1', 'real2', 'real3', 'nat1', 'nat2'].map((n) => [`${P}-${n}`, true]));
  assert.deepEqual(s1.processes.map((p) => [p.role, p.alive]), [['servers real1', true], ['servers real2', true], ['servers real3', true], ['servers nat1', true], ['servers nat2', true]]);
  assert.deepEqual(s1.problems, []);
  assert.match(s1.directorsNote, /not started/);
  const modes = s1.xdp.map((x) => `${x.role} ${x.dev} ${x.attach} ${x.name}`).sort();
  assert.deepEqual(modes, [
    'decap real1 eth1 xdp-native xdp_decap', 'decap real2 eth1 xdp-native xdp_decap', 'decap real3 eth1 xdp-native xdp_decap',
    'veth peer (xdp_pass) d1 xdp-native xdp_pass', 'veth peer (xdp_pass) d2 xdp-native xdp_pass',
    // The NAT site's inner arm: frames the directors redirect into it need the same.
    'veth peer (xdp_pass) n1 xdp-native xdp_pass', 'veth peer (xdp_pass) n2 xdp-native xdp_pass',
  ]);
  const human = xlvs(['lab', 'status', '--prefix', P]).stdout;
  assert.match(human, /XDP \(native is the default/);

  for (const [i, addr] of ['10.81.0.51', '10.81.0.52', '10.81.0.53'].entries()) {
    const name = `real${i + 1}`;
    const head = inside(`${P}-client`, ['curl', '-s', '-m', '3', '-D', '-', '--interface', `10.81.0.1${i}`, `http://${addr}/`]);
    assert.match(head, new RegExp(`\\r\\nx-real: ${name}\\r\\n`, 'i'));
    assert.ok(head.endsWith(`\r\n\r\n${name}\n`), head);
    assert.equal(echo(`${P}-client`, addr, 6379, `hello ${name}\n`), `hello ${name}\n`);
    // TUN segment: routed through the router from a director, answered by the same real.
    assert.equal(inside(`${P}-dir1`, ['curl', '-s', '-m', '3', `http://10.82.0.5${i + 1}/`]), `${name}\n`);
    // The real holds both VIPs on lo with the DR ARP rules (xlvs realserver up).
    const lo = inside(`${P}-${name}`, ['ip', '-o', 'addr', 'show', 'dev', 'lo']);
    assert.match(lo, /10\.81\.0\.100\/32/);
    assert.match(lo, /10\.81\.0\.200\/32/);
    assert.equal(inside(`${P}-${name}`, ['cat', '/proc/sys/net/ipv4/conf/all/arp_ignore']).trim(), '1');
  }
  // The NAT site: each NAT real alone behind the directors, its default route the inner VRRP
  // address, serving HTTP, echo and UDP; the directors reach it by their second arm and forward.
  for (const [i, addr] of ['10.83.0.51', '10.83.0.52'].entries()) {
    const name = `nat${i + 1}`;
    assert.equal(inside(`${P}-dir1`, ['curl', '-s', '-m', '3', `http://${addr}/`]), `${name}\n`);
    assert.match(inside(`${P}-${name}`, ['ip', 'route', 'show', 'default']), /^default via 10\.83\.0\.1 dev eth0/);
  }
  assert.equal(inside(`${P}-dir1`, ['cat', '/proc/sys/net/ipv4/ip_forward']).trim(), '1');
  const dirMtu = JSON.parse(inside(`${P}-dir1`, ['ip', '-j', 'link', 'show', 'dev', 'eth0'])) as { mtu: number }[];
  assert.ok(dirMtu[0].mtu >= 1520, `director→real path MTU ${dirMtu[0].mtu}`);
  assert.match(inside(`${P}-client`, ['ethtool', '-k', 'eth0']), /tx-checksumming: off/);

  // An interrupted run: the state file is lost; up must still find and replace everything.
  fs.rmSync(`/run/xlvs-lab/${P}/state.json`);
  r = xlvs(['lab', 'up', '--prefix', P, '--no-directors']);
  assert.equal(r.status, 0, r.stderr + r.stdout);
  assert.match(r.stdout, /removing what an earlier lab "tlab" left/);
  for (const p of s1.processes) assert.throws(() => process.kill(p.pid, 0), 'old server process gone');
  assert.equal(inside(`${P}-client`, ['curl', '-s', '-m', '3', 'http://10.81.0.52/']), 'real2\n');
  const s2 = JSON.parse(xlvs(['lab', 'status', '--prefix', P, '--json']).stdout) as Status;

  r = xlvs(['lab', 'down', '--prefix', P]);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(leftovers(), []);
  for (const p of s2.processes) assert.throws(() => process.kill(p.pid, 0), `pid ${p.pid} gone`);
  for (const n of ['real1', 'real2', 'real3']) assert.equal(fs.existsSync(`/run/xlvs/realserver-${P}-${n}.json`), false);
  r = xlvs(['lab', 'down', '--prefix', P]);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /nothing to remove/);
  r = xlvs(['lab', 'status', '--prefix', P]);
  assert.match(r.stdout, /lab "tlab": down/);
});
