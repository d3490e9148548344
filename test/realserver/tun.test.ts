// TUN on a real server: with `xlvs realserver up --tun`, an IP-in-IP packet sent from another
// namespace (as a TUN director would send it) reaches an HTTP server listening on the VIP, and the
// reply goes straight to the client, not tunnelled. After `down` the same packets get nothing.
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawnSync, ChildProcess } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { inNs, run } from '../../src/sys/exec';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { bpfObject } from '../../src/paths';
import { needsBpf } from '../lib/env';

const lab = new Netlab('trt');
let client = '';
let real = '';
const VIP = '10.99.63.200'; // outside the LAN: the client kernel cannot route its RSTs to it
let servers: ChildProcess | null = null;

function xlvs(args: string[]): { status: number; stdout: string; stderr: string } {
  const argv = inNs(real, xlvsArgv(args));
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}
function macOf(ns: string, dev: string): string {
  return (JSON.parse(lab.exec(ns, ['ip', '-j', 'link', 'show', 'dev', dev]).stdout) as { address: string }[])[0].address;
}
function tunnelledGet(): { synAck: boolean; replies: { outerProto: number; src: string }[]; data: string; fin: boolean } {
  const script = path.join(__dirname, 'ipip-client.js');
  const argv = inNs(client, [process.execPath, script, 'eth0', macOf(client, 'eth0'), macOf(real, 'eth0'),
    '10.63.0.2', '10.63.0.51', '10.63.0.10', VIP, '80', 'GET / HTTP/1.0\\r\\nHost: vip\\r\\n\\r\\n']);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout);
}

before(async () => {
  if (needsBpf().skip) return;
  assert.ok(fs.existsSync(bpfObject('decap')), `${bpfObject('decap')} missing: make build`);
  client = lab.addNs('client');
  real = lab.addNs('real');
  lab.addVeth(client, 'eth0', real, 'eth0');
  lab.addAddr(client, 'eth0', '10.63.0.10/24');
  lab.addAddr(real, 'eth0', '10.63.0.51/24');
  lab.exec(real, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter']);
  lab.onCleanup(() => fs.rmSync(`/run/xlvs/realserver-${real}.json`, { force: true }));
  servers = lab.spawn(real, [process.execPath, path.join(__dirname, '..', '..', 'src', 'lab', 'servers.js'), '--name', 'real1', '--http', '80']);
  await new Promise<void>((resolve, reject) => {
    servers!.stdout!.on('data', (d: Buffer) => { if (d.toString().startsWith('ready')) resolve(); });
    servers!.once('exit', (c) => reject(new Error(`servers exited ${c}`)));
  });
});
after(() => lab.cleanup());

test('decap delivers tunnelled TCP to the VIP; replies go straight back; down removes it', needsBpf(), () => {
  // Control: without decap the tunnelled SYN reaches nothing.
  let r = tunnelledGet();
  assert.equal(r.synAck, false, 'no SYN-ACK before realserver up --tun');

  const up = xlvs(['realserver', 'up', '--vip', VIP, '--tun', '--dev', 'eth0']);
  assert.equal(up.status, 0, up.stderr);
  const st = JSON.parse(xlvs(['realserver', 'status', '--json']).stdout) as {
    problems: string[]; decap: { attach: string; name: string; expected: boolean }[]; sysctls: { name: string; current: number; before: number }[];
  };
  assert.deepEqual(st.problems, []);
  assert.equal(st.decap.length, 1);
  assert.equal(st.decap[0].attach, 'xdp-native');
  assert.equal(st.decap[0].name, 'xdp_decap');
  assert.equal(st.decap[0].expected, true);
  const rp = st.sysctls.find((s) => s.name === 'net.ipv4.conf.all.rp_filter');
  assert.deepEqual([rp?.before, rp?.current], [1, 2], 'strict rp_filter relaxed to loose');

  r = tunnelledGet();
  assert.equal(r.synAck, true, 'SYN-ACK from the VIP');
  assert.match(r.data, /^HTTP\/1\.1 200 OK\r\n/);
  assert.match(r.data, /\r\nx-real: real1\r\n/i);
  assert.ok(r.data.endsWith('\r\n\r\nreal1\n'), JSON.stringify(r.data));
  assert.equal(r.fin, true);
  for (const x of r.replies) {
    assert.equal(x.outerProto, 6, 'replies are plain TCP, not tunnelled');
    assert.equal(x.src, VIP);
  }

  // Idempotent with decap too: the same program stays.
  const again = xlvs(['realserver', 'up', '--vip', VIP, '--tun', '--dev', 'eth0']);
  assert.match(again.stdout, /nothing changed/);

  // Asking for pins replaces the program in one step (new id) and pins it under --pin-root, a
  // bpffs mounted in the root mount namespace (inside ip netns exec, /sys/fs/bpf is throwaway).
  const pinRoot = `/tmp/xlvs-test-rs-${process.pid}`;
  fs.mkdirSync(pinRoot, { recursive: true });
  run(['mount', '-t', 'bpf', 'bpf', pinRoot]);
  lab.onCleanup(() => { run(['umount', pinRoot], { allowFail: true }); fs.rmSync(pinRoot, { recursive: true, force: true }); });
  const firstId = JSON.parse(fs.readFileSync(`/run/xlvs/realserver-${real}.json`, 'utf8')).decap.progId as number;
  const pinned = xlvs(['realserver', 'up', '--vip', VIP, '--tun', '--dev', 'eth0', '--pin-root', pinRoot]);
  assert.equal(pinned.status, 0, pinned.stderr);
  const saved = JSON.parse(fs.readFileSync(`/run/xlvs/realserver-${real}.json`, 'utf8')).decap as { progId: number; pinDir: string };
  assert.notEqual(saved.progId, firstId);
  assert.deepEqual(fs.readdirSync(saved.pinDir).sort(), ['decap_stats', 'decap_vips', 'xdp_decap']);
  const xdp = JSON.parse(lab.exec(real, ['ip', '-j', 'link', 'show', 'dev', 'eth0']).stdout)[0].xdp.attached as { mode: number; prog: { id: number } }[];
  assert.deepEqual(xdp.map((x) => x.prog.id), [saved.progId], 'exactly one decap program, the new one');
  r = tunnelledGet();
  assert.ok(r.data.endsWith('real1\n'), 'still delivered after the swap');

  const down = xlvs(['realserver', 'down']);
  assert.equal(down.status, 0, down.stderr);
  const link = JSON.parse(lab.exec(real, ['ip', '-j', 'link', 'show', 'dev', 'eth0']).stdout) as { xdp?: unknown }[];
  assert.equal(link[0].xdp, undefined, 'no XDP program left on eth0');
  assert.equal(lab.exec(real, ['cat', '/proc/sys/net/ipv4/conf/all/rp_filter']).stdout.trim(), '1');
  assert.equal(fs.existsSync(saved.pinDir), false, 'pins removed');
  r = tunnelledGet();
  assert.equal(r.synAck, false, 'no SYN-ACK after down');
});
