// `xlvs simulate` as an operator runs it: a topology and a flow through the real program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { repoRoot } from '../../src/paths';
import { standInMac } from '../../src/cli/commands/simulate';
import { describeFrame, parseHexFrame } from '../../src/sim/packet';
import { isXlvsError } from '../../src/errors';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';

const xlvs = path.join(repoRoot(), 'bin', 'xlvs.js');
const topo = path.join(repoRoot(), 'config', 'examples', 'dr-tcp-master.yaml');

function simWith(file: string, ...args: string[]): { verdict: string; reason: string; real: string | null; service: string | null; output: string; outputHex: string } {
  return JSON.parse(execFileSync('node', [xlvs, 'simulate', '-c', file, '--json', ...args], { encoding: 'utf8' }));
}
const sim = (...args: string[]) => simWith(topo, ...args);

test('a SYN to the VIP is forwarded by DR to one of its reals', needsBpf(), () => {
  const r = sim('--client', '198.51.100.7:40000', '--vip', '192.168.81.229:6379/tcp');
  assert.equal(r.verdict, 'XDP_TX');
  assert.equal(r.reason, 'tx_dr');
  assert.ok(r.real === '192.168.81.51:6379' || r.real === '192.168.81.234:6379', String(r.real));
  const dstMac = r.outputHex.slice(0, 12).match(/../g)!.join(':');
  assert.equal(dstMac, standInMac(r.real!.split(':')[0]));
});

test('the same flow always picks the same real; --down moves it to the other one', needsBpf(), () => {
  const a = sim('--client', '198.51.100.9:40001', '--vip', '192.168.81.229:6379/tcp');
  const b = sim('--client', '198.51.100.9:40001', '--vip', '192.168.81.229:6379/tcp');
  assert.equal(a.real, b.real);
  const c = sim('--client', '198.51.100.9:40001', '--vip', '192.168.81.229:6379/tcp', '--down', a.real!.split(':')[0]);
  assert.notEqual(c.real, a.real);
  assert.equal(c.verdict, 'XDP_TX');
});

test('not a VIP, and no real left: passed to the kernel with the reason', needsBpf(), () => {
  const r = sim('--client', '198.51.100.7:40000', '--vip', '192.168.81.230:6379/tcp');
  assert.deepEqual([r.verdict, r.reason, r.real], ['XDP_PASS', 'not_vip', null]);
  const n = sim('--client', '198.51.100.7:40000', '--vip', '192.168.81.229:6379/tcp', '--down', '192.168.81.51', '192.168.81.234');
  assert.deepEqual([n.verdict, n.reason], ['XDP_PASS', 'no_real']);
});

test('a wlc service (with thresholds and timeouts) and an lc one forward; --down moves a flow', needsBpf(), () => {
  const limits = path.join(repoRoot(), 'config', 'examples', 'connection-limits.yaml');
  const w = simWith(limits, '--client', '203.0.113.5:40000', '--vip', '10.20.0.10:80/tcp');
  assert.equal(w.verdict, 'XDP_TX');
  assert.ok(w.real === '10.20.1.1:80' || w.real === '10.20.1.2:80', String(w.real));
  const other = simWith(limits, '--client', '203.0.113.5:40000', '--vip', '10.20.0.10:80/tcp', '--down', w.real!.split(':')[0]);
  assert.deepEqual([other.verdict, other.real === w.real], ['XDP_TX', false]);
  const l = simWith(limits, '--client', '203.0.113.5:40000', '--vip', '10.20.0.11:53/udp');
  assert.equal(l.verdict, 'XDP_TX');
  assert.ok(l.real === '10.20.1.3:53' || l.real === '10.20.1.4:53', String(l.real));
});

test('a director that is one of the reals (--local): its picks are delivered to it; as Backup every flow is', needsBpf(), () => {
  // The LVS write-up's pair: 192.168.81.51 and .234 each run the service and a director.
  const picks = new Map<string, string>();
  for (let port = 40000; port < 40040 && picks.size < 2; port++) {
    const r = sim('--client', `198.51.100.7:${port}`, '--vip', '192.168.81.229:6379/tcp', '--local', '192.168.81.51');
    if (r.reason === 'local') {
      assert.deepEqual([r.verdict, r.real], ['XDP_PASS', '192.168.81.51:6379']);
      picks.set('local', String(port));
    } else {
      assert.deepEqual([r.verdict, r.reason, r.real], ['XDP_TX', 'tx_dr', '192.168.81.234:6379']);
      picks.set('peer', String(port));
    }
  }
  assert.equal(picks.size, 2, 'flows go both to this director and to the other real');
  const b = sim('--client', `198.51.100.7:${picks.get('peer')}`, '--vip', '192.168.81.229:6379/tcp', '--local', '192.168.81.51', '--backup');
  assert.deepEqual([b.verdict, b.reason, b.real], ['XDP_PASS', 'local', '192.168.81.51:6379']);
  const text = execFileSync('node', [xlvs, 'simulate', '-c', topo, '--client', `198.51.100.7:${picks.get('local')}`, '--vip', '192.168.81.229:6379/tcp', '--local', '192.168.81.51'], { encoding: 'utf8' });
  assert.match(text, /verdict: XDP_PASS \(local\)\nservice: 192\.168\.81\.229:6379\/tcp\nreal: +192\.168\.81\.51:6379 +\(delivered to this director: its own real\)/);
});

test('a grouped service forwards every port of its list and ranges, and shows its ports', needsBpf(), () => {
  const grouped = path.join(repoRoot(), 'config', 'examples', 'grouped.yaml');
  for (const vip of ['10.20.0.50:80/tcp', '10.20.0.50:443/tcp']) {
    const r = simWith(grouped, '--client', '198.51.100.7:40000', '--vip', vip);
    assert.deepEqual([r.verdict, r.service], ['XDP_TX', '10.20.0.50:80,443/tcp'], vip);
    assert.ok(r.real === '10.20.0.11:0' || r.real === '10.20.0.12:0', String(r.real));
  }
  for (const vip of ['10.20.0.50:27000/udp', '10.20.0.50:27015/udp', '10.20.0.50:27020/udp']) {
    const r = simWith(grouped, '--client', '198.51.100.7:40000', '--vip', vip);
    assert.deepEqual([r.verdict, r.service], ['XDP_TX', '10.20.0.50:27000-27015,27020/udp'], vip);
  }
  for (const vip of ['10.20.0.50:8080/tcp', '10.20.0.50:27016/udp', '10.20.0.50:27000/tcp']) {
    const r = simWith(grouped, '--client', '198.51.100.7:40000', '--vip', vip);
    assert.deepEqual([r.verdict, r.reason, r.service], ['XDP_PASS', 'not_vip', null], vip);
  }
});

test('an imported keepalived NAT pair: a SYN is rewritten to real:8080, the real\'s answer back to VIP:80', needsBpf(), () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-sim-nat-'));
  try {
    const file = path.join(dir, 'nat.yaml');
    execFileSync('node', [xlvs, 'import', 'keepalived', path.join(repoRoot(), 'test', 'import', 'fixtures', 'nat-pair.conf'), '-o', file, '-q']);
    execFileSync('node', [xlvs, 'validate', file]);
    const reals = new Set<string>();
    for (const port of [40000, 40001, 40002, 40003, 40004, 40005]) {
      const r = simWith(file, '--client', `198.51.100.7:${port}`, '--vip', '203.0.113.10:80/tcp') as ReturnType<typeof simWith> & { reply: { verdict: string; reason: string; output: string } };
      // Two-armed (director.inside_interface from the inner VRRP instance): out by the other interface.
      assert.equal(r.verdict, 'XDP_REDIRECT', r.output);
      assert.equal(r.reason, 'redir_nat');
      assert.match(r.real!, /^192\.168\.10\.1[12]:8080$/);
      const f = describeFrame(Buffer.from(r.outputHex, 'hex')).flow!;
      assert.deepEqual([f.src, f.sport, `${f.dst}:${f.dport}`], ['198.51.100.7', port, r.real]);
      assert.equal(r.reply.reason, 'redir_nat_reply');
      assert.match(r.reply.output, new RegExp(`IP 203\\.0\\.113\\.10\\.80 > 198\\.51\\.100\\.7\\.${port} TCP`));
      reals.add(r.real!);
    }
    assert.equal(reals.size, 2, 'both reals are picked over six flows');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  assert.ok(!execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' }).includes(`xlvs-sim-`), 'the scratch namespace is gone');
});

test('full-NAT (the lab\'s): the real sees the pool address; the answer goes back from VIP:8080', needsBpf(), () => {
  const lab = path.join(repoRoot(), 'config', 'lab.yaml');
  const r = simWith(lab, '--client', '10.81.0.10:40000', '--vip', '10.81.0.200:8080/tcp') as ReturnType<typeof simWith> & { reply: { reason: string; output: string } };
  assert.equal(r.reason, 'redir_nat');
  const f = describeFrame(Buffer.from(r.outputHex, 'hex')).flow!;
  assert.equal(f.src, '10.83.0.4', 'the source is the pool address');
  assert.equal(`${f.dst}:${f.dport}`, r.real);
  assert.equal(r.reply.reason, 'redir_nat_reply');
  assert.match(r.reply.output, /IP 10\.81\.0\.200\.8080 > 10\.81\.0\.10\.40000 TCP/);
  // A DR flow of a real shared by two services names the service of the flow's port.
  const dr = simWith(lab, '--client', '10.81.0.10:40000', '--vip', '10.81.0.100:80/tcp');
  assert.equal(dr.service, '10.81.0.100:80/tcp');
});

test('bad flow arguments name what is wrong', () => {
  assert.throws(() => execFileSync('node', [xlvs, 'simulate', '-c', topo, '--client', 'nope', '--vip', '1.2.3.4:80/tcp'], { encoding: 'utf8', stdio: 'pipe' }),
    (e: Error & { stderr?: string }) => /--client "nope": expected ADDR:PORT/.test(String(e.stderr)));
});

// ---------------------------------------------------------------- truncated frames and bad hex

const MACS = { src: '02:00:00:00:00:fe', dst: '02:00:00:00:00:01' };
const PAYLOAD = Buffer.from('0123456789');

/** describeFrame of every prefix of `frame`: never throws, and the text names the header the cut falls in. */
function everyCut(frame: Buffer, regions: { upTo: number; want: (n: number) => RegExp | string }[]): void {
  for (let n = 0; n <= frame.length; n++) {
    let text: string;
    try {
      text = describeFrame(frame.subarray(0, n)).text;
    } catch (e) {
      assert.fail(`describeFrame threw on the first ${n} of ${frame.length} bytes: ${(e as Error).stack}`);
    }
    const region = regions.find((r) => n < r.upTo)!;
    const want = region.want(n);
    if (typeof want === 'string') assert.equal(text, want, `cut at ${n}`);
    else assert.match(text, want, `cut at ${n}`);
  }
}

test('describeFrame: a TCP/IPv4 frame cut at every byte is described, never thrown', () => {
  const frame = eth(MACS).ipv4({ src: '198.51.100.7', dst: '192.168.81.229' }).tcp({ sport: 40000, dport: 6379, flags: 'S' }).payload(PAYLOAD).build();
  assert.equal(frame.length, 14 + 20 + 20 + 10);
  const head = '02:00:00:00:00:fe > 02:00:00:00:00:01';
  everyCut(frame, [
    { upTo: 14, want: (n) => `truncated at byte ${n} inside the Ethernet header (bytes 0..13)` },
    { upTo: 34, want: (n) => `${head}, truncated at byte ${n} inside the IPv4 header (bytes 14..33)` },
    { upTo: 54, want: (n) => `${head}, IP 198.51.100.7 > 192.168.81.229 TCP len 50, truncated at byte ${n} inside the TCP header (bytes 34..53)` },
    { upTo: 64, want: (n) => `${head}, IP 198.51.100.7.40000 > 192.168.81.229.6379 TCP flags 0x2 len 50 (IP length says 50 bytes, the frame has ${n - 14})` },
    { upTo: 65, want: () => `${head}, IP 198.51.100.7.40000 > 192.168.81.229.6379 TCP flags 0x2 len 50` },
  ]);
  const s = describeFrame(frame.subarray(0, 9));
  assert.deepEqual([s.dstMac, s.srcMac, s.innerDst], ['02:00:00:00:00:01', '', null]);
});

test('describeFrame: a UDP/IPv6 frame cut at every byte is described, never thrown', () => {
  const frame = eth(MACS).ipv6({ src: '2001:db8::7', dst: '2001:db8::229' }).udp({ sport: 5353, dport: 53 }).payload(PAYLOAD).build();
  assert.equal(frame.length, 14 + 40 + 8 + 10);
  const head = '02:00:00:00:00:fe > 02:00:00:00:00:01';
  everyCut(frame, [
    { upTo: 14, want: (n) => `truncated at byte ${n} inside the Ethernet header (bytes 0..13)` },
    { upTo: 54, want: (n) => `${head}, truncated at byte ${n} inside the IPv6 header (bytes 14..53)` },
    { upTo: 62, want: (n) => `${head}, IP6 2001:db8::7 > 2001:db8::229 UDP len 58, truncated at byte ${n} inside the UDP header (bytes 54..61)` },
    { upTo: 72, want: (n) => `${head}, IP6 2001:db8::7.5353 > 2001:db8::229.53 UDP len 58 (IP length says 58 bytes, the frame has ${n - 14})` },
    { upTo: 73, want: () => `${head}, IP6 2001:db8::7.5353 > 2001:db8::229.53 UDP len 58` },
  ]);
});

test('describeFrame: tunnels, VLAN tags and bad header lengths are named, never thrown', () => {
  const tun = eth(MACS).ipv4({ src: '10.0.0.1', dst: '10.0.1.5' }).ipv4({ src: '198.51.100.7', dst: '192.168.81.229' }).tcp({ sport: 1, dport: 2 }).build();
  everyCut(tun, [
    { upTo: 34, want: () => /inside the (Ethernet|IPv4) header/ },
    { upTo: 54, want: (n) => new RegExp(`IP 10\\.0\\.0\\.1 > 10\\.0\\.1\\.5 \\(tunnel, proto 4\\), truncated at byte ${n} inside the inner IPv4 header \\(bytes 34\\.\\.53\\)$`) },
    { upTo: 74, want: (n) => new RegExp(`inside the TCP header \\(bytes 54\\.\\.73\\)$`) },
    { upTo: 75, want: () => /tunnel, proto 4\), IP 198\.51\.100\.7\.1 > 192\.168\.81\.229\.2 TCP/ },
  ]);
  assert.equal(describeFrame(tun).outerDst, '10.0.1.5');
  const vlan = eth(MACS).vlan(100).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).build();
  assert.match(describeFrame(vlan.subarray(0, 16)).text, /truncated at byte 16 inside the 802\.1Q tag \(bytes 12\.\.17\)/);
  assert.match(describeFrame(vlan).text, /vlan 100, IP 10\.0\.0\.1\.1 > 10\.0\.0\.2\.2 UDP/);
  const ihl = Buffer.from(eth(MACS).ipv4({ src: '10.0.0.1', dst: '10.0.0.2' }).udp({ sport: 1, dport: 2 }).build());
  ihl[14] = 0x42;
  assert.match(describeFrame(ihl).text, /IPv4 header length 8 is less than 20$/);
  ihl[14] = 0x4f; // 60-byte header in a 42-byte frame
  assert.match(describeFrame(ihl).text, /truncated at byte 42 inside the IPv4 options \(bytes 14\.\.73\)$/);
  // Any bytes at all: random frames, half of them claiming IPv4 or IPv6.
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) & 0x7fffffff; return seed; };
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.alloc(rnd() % 120);
    for (let j = 0; j < b.length; j++) b[j] = rnd() & 0xff;
    if (b.length >= 14 && i % 2) b.writeUInt16BE(i % 4 === 1 ? 0x0800 : 0x86dd, 12);
    assert.doesNotThrow(() => describeFrame(b), b.toString('hex'));
  }
});

test('parseHexFrame: whitespace between digits is fine; anything else names its offset', () => {
  assert.equal(parseHexFrame('0200 0000 0001\n0200 0000 00fe 0800').toString('hex'), '0200000000010200000000fe0800');
  const usage = (text: string, re: RegExp) => assert.throws(() => parseHexFrame(text), (e: unknown) => isXlvsError(e, 'E_USAGE') && re.test((e as Error).message), JSON.stringify(text));
  usage('0200000000010200000000fe08zz', /^--hex: 'z' at offset 26 is not a hex digit$/);
  usage('0x0200000000010200000000fe0800', /^--hex: 'x' at offset 1 is not a hex digit$/);
  usage('02:00:00:00:00:01', /^--hex: ':' at offset 2 is not a hex digit$/);
  usage('0200000000010200000000fe08é0', /^--hex: U\+00E9 at offset 26 is not a hex digit$/);
  usage('0200000000010200000000fe080 ', /^--hex: odd number of hex digits \(27\): the digit at offset 26 has no partner$/);
  usage('  ', /no hex digits/);
  usage('020000000001', /6 bytes is shorter than an Ethernet header \(14\)/);
});

function cli(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('node', [xlvs, 'simulate', '-c', topo, ...args], { encoding: 'utf8' });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('CLI: bad hex is a usage error with the offset, no stack trace, nothing run', () => {
  const bad = cli('--hex', '0200000000010200000000fe08zz');
  assert.equal(bad.status, 1);
  assert.equal(bad.stderr, "xlvs: --hex: 'z' at offset 26 is not a hex digit [E_USAGE]\n");
  assert.equal(bad.stdout, '');
  const odd = cli('--hex', '0200000000010200000000fe080');
  assert.equal(odd.status, 1);
  assert.match(odd.stderr, /^xlvs: --hex: odd number of hex digits \(27\): the digit at offset 26 has no partner \[E_USAGE\]\n$/);
});

test('CLI: a frame truncated inside the TCP header runs and is described, no stack trace', needsBpf(), () => {
  const frame = eth(MACS).ipv4({ src: '198.51.100.7', dst: '192.168.81.229' }).tcp({ sport: 40000, dport: 6379, flags: 'S' }).build();
  for (const n of [16, 40]) {
    const r = cli('--hex', frame.subarray(0, n).toString('hex'));
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '');
    assert.doesNotMatch(r.stdout, /TypeError|RangeError|\n\s+at /);
    assert.match(r.stdout, /^verdict: XDP_DROP \(malformed\)\n/);
    assert.match(r.stdout, new RegExp(`output:  .*truncated at byte ${n} inside the ${n < 34 ? 'IPv4' : 'TCP'} header`));
  }
});
