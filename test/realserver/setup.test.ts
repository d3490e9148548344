// `xlvs realserver up|down|status` inside a namespace: exact restore of sysctls and addresses,
// idempotency, declarative VIP changes, status, and bad input changing nothing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { spawnSync } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { inNs } from '../../src/sys/exec';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { needsBpf } from '../lib/env';

const lab = new Netlab('trs');
let ns = '';
const stateFile = () => `/run/xlvs/realserver-${ns}.json`;

function xlvs(args: string[]): { status: number; stdout: string; stderr: string } {
  const argv = inNs(ns, xlvsArgv(args));
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function conf(dev: string, key: string): number {
  return Number(lab.exec(ns, ['cat', `/proc/sys/net/ipv4/conf/${dev}/${key}`]).stdout.trim());
}
function loAddrs(): string[] {
  const j = JSON.parse(lab.exec(ns, ['ip', '-j', 'addr', 'show', 'dev', 'lo']).stdout) as { addr_info: { local: string; prefixlen: number }[] }[];
  return j[0].addr_info.map((a) => `${a.local}/${a.prefixlen}`).sort();
}
/** Every value `up` may touch, to compare before/after exactly. */
function snapshot(): Record<string, unknown> {
  const s: Record<string, unknown> = { lo: loAddrs() };
  for (const d of ['all', 'eth0']) for (const k of ['arp_ignore', 'arp_announce', 'rp_filter']) s[`${d}.${k}`] = conf(d, k);
  return s;
}

before(() => {
  if (needsBpf().skip) return;
  ns = lab.addNs('rs');
  const peer = lab.addNs('peer');
  lab.addVeth(ns, 'eth0', peer, 'eth0');
  lab.addAddr(ns, 'eth0', '10.61.0.51/24');
  // Values an operator may already have, which `down` must give back as they were.
  lab.exec(ns, ['sh', '-c', 'echo 2 > /proc/sys/net/ipv4/conf/eth0/arp_ignore; echo 1 > /proc/sys/net/ipv4/conf/all/arp_announce; echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter']);
  lab.addAddr(ns, 'lo', '10.61.0.99/32'); // a VIP that was there before xlvs
  lab.onCleanup(() => fs.rmSync(stateFile(), { force: true }));
});
after(() => lab.cleanup());

test('bad input is refused by name and changes nothing', needsBpf(), () => {
  const before = snapshot();
  let r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--vip', 'not-an-ip', '--dev', 'eth0']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--vip\[1\] "not-an-ip": not an IPv4 or IPv6 address \[E_USAGE\]/);
  r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--dev', 'eth9']);
  assert.equal(r.status, 1);
  assert.match(r.stderr, /--dev "eth9": no such interface in network namespace trs-rs/);
  r = xlvs(['realserver', 'up', '--vip', '10.61.0.100/24', '--dev', 'eth0']);
  assert.match(r.stderr, /host address \(\/32\)/);
  assert.deepEqual(snapshot(), before);
  assert.equal(fs.existsSync(stateFile()), false);
});

test('up applies the DR recipe, is idempotent, status reports it, down restores exactly', needsBpf(), () => {
  const before = snapshot();
  let r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--vip', '10.61.0.99,2001:db8:61::100', '--dev', 'eth0']);
  assert.equal(r.status, 0, r.stderr);
  for (const d of ['all', 'eth0']) {
    assert.equal(conf(d, 'arp_ignore'), 1, `${d}.arp_ignore`);
    assert.equal(conf(d, 'arp_announce'), 2, `${d}.arp_announce`);
  }
  assert.equal(conf('all', 'rp_filter'), 1, 'DR leaves rp_filter alone');
  assert.deepEqual(loAddrs(), ['10.61.0.100/32', '10.61.0.99/32', '127.0.0.1/8', '2001:db8:61::100/128', '::1/128']);
  const state1 = fs.readFileSync(stateFile(), 'utf8');
  const st = JSON.parse(state1) as { vips: { address: string; added: boolean }[]; sysctls: { dev: string; key: string; before: number }[] };
  assert.deepEqual(st.vips.find((v) => v.address === '10.61.0.99'), { address: '10.61.0.99', added: false });
  assert.equal(st.sysctls.find((s) => s.dev === 'eth0' && s.key === 'arp_ignore')?.before, 2);

  r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--vip', '10.61.0.99,2001:db8:61::100', '--dev', 'eth0']);
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /already in place, nothing changed/);
  assert.equal(fs.readFileSync(stateFile(), 'utf8'), state1, 'a second up rewrites nothing');

  r = xlvs(['realserver', 'status', '--json']);
  assert.equal(r.status, 0, r.stderr);
  const s = JSON.parse(r.stdout) as { configured: boolean; netns: string; problems: string[]; vips: { address: string; onLo: boolean; addedByXlvs: boolean }[] };
  assert.equal(s.configured, true);
  assert.equal(s.netns, 'trs-rs');
  assert.deepEqual(s.problems, []);
  assert.deepEqual(s.vips.map((v) => [v.address, v.onLo, v.addedByXlvs]), [['10.61.0.100', true, true], ['10.61.0.99', true, false], ['2001:db8:61::100', true, true]]);

  // Someone removes a VIP by hand: status says so and exits 3; up puts it back.
  lab.exec(ns, ['ip', 'addr', 'del', '10.61.0.100/32', 'dev', 'lo']);
  r = xlvs(['realserver', 'status']);
  assert.equal(r.status, 3);
  assert.match(r.stdout, /VIP 10\.61\.0\.100 is missing from lo/);
  r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--vip', '10.61.0.99,2001:db8:61::100', '--dev', 'eth0']);
  assert.match(r.stdout, /added 10\.61\.0\.100 to lo/);

  // Declarative: a VIP left out is removed (only if xlvs added it).
  r = xlvs(['realserver', 'up', '--vip', '10.61.0.100', '--dev', 'eth0']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(loAddrs(), ['10.61.0.100/32', '10.61.0.99/32', '127.0.0.1/8', '::1/128']);

  r = xlvs(['realserver', 'down']);
  assert.equal(r.status, 0, r.stderr);
  assert.deepEqual(snapshot(), before);
  assert.equal(fs.existsSync(stateFile()), false);
  r = xlvs(['realserver', 'down']);
  assert.equal(r.status, 0);
  assert.match(r.stdout, /nothing to undo/);
});
