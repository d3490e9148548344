// NAT and full-NAT on a real packet path: a client namespace, the director namespace with the lb
// program attached (generic XDP, docs/lab-notes.md) to its outside and inside veths, and a real
// namespace running a TCP server on 8080 that answers with the address it sees. A connection to
// VIP:80 must be answered through the director: with NAT the server sees the client's address,
// with full-NAT the pool's. Real kernels check every checksum on the way, and the reply crosses
// from the inside to the outside interface by XDP_REDIRECT (lb_tx_ports).
import { SMALL_TEST_TABLES } from '../lib/fixtures';
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { Dataplane } from '../../src/dataplane/dataplane';
import { Netlab } from '../../src/lab/netns';
import { needsBpf } from '../lib/env';
import { enterNetns } from '../../src/sys/netns-enter';

const CLIENT = '198.51.100.7';
const REAL = '10.1.0.1';
const POOL = '10.1.0.100';

// Answers each connection with the address it came from; a reset connection (the readiness probe
// below) must not end it.
const SERVER = "require('net').createServer((s) => { s.on('error', () => {}); s.end(s.remoteAddress + '\\n'); }).listen(8080, '0.0.0.0')";
const client = (vip: string) => `const s = require('net').connect(80, '${vip}'); let d = '';
s.on('data', (b) => { d += b; }); s.on('end', () => { console.log(d.trim()); process.exit(0); });
s.on('error', (e) => { console.error(e.message); process.exit(1); }); setTimeout(() => { console.error('timeout'); process.exit(2); }, 3000);`;

describe('NAT on a packet path (veth, generic XDP)', needsBpf(), () => {
  const lab = new Netlab('natpath');
  const pinDir = `/sys/fs/bpf/xlvs-test-natpath-${process.pid}`;
  let dp: Dataplane | null = null;
  let leave: (() => void) | null = null;
  let cli = '';

  before(async () => {
    cli = lab.addNs('cli');
    const dir = lab.addNs('dir');
    const real = lab.addNs('real');
    lab.addVeth(dir, 'out0', cli, 'c0');
    lab.addVeth(dir, 'in0', real, 'r0');
    lab.addAddr(cli, 'c0', `${CLIENT}/24`);
    lab.exec(cli, ['ip', 'route', 'add', 'default', 'via', '198.51.100.1']);
    lab.addAddr(dir, 'out0', '198.51.100.1/24');
    lab.addAddr(dir, 'in0', '10.1.0.254/24');
    lab.addAddr(dir, 'in0', `${POOL}/32`); // the director answers ARP for its pool address
    lab.exec(dir, ['sysctl', '-qw', 'net.ipv4.conf.all.forwarding=1']);
    lab.addAddr(real, 'r0', `${REAL}/24`);
    lab.exec(real, ['ip', 'route', 'add', 'default', 'via', '10.1.0.254']);
    // A veth sender leaves TCP checksums partial (lab notes): the ends that originate traffic
    // compute them in full.
    lab.exec(cli, ['ethtool', '-K', 'c0', 'tx', 'off'], { allowFail: true });
    lab.exec(real, ['ethtool', '-K', 'r0', 'tx', 'off'], { allowFail: true });
    // Neighbours (bpf_fib_lookup only reads them; no ping here to have the kernel resolve them).
    const macOf = (ns: string, dev: string) => (JSON.parse(lab.exec(ns, ['ip', '-j', 'link', 'show', 'dev', dev]).stdout) as Array<{ address: string }>)[0].address;
    lab.exec(dir, ['ip', 'neigh', 'replace', CLIENT, 'lladdr', macOf(cli, 'c0'), 'dev', 'out0', 'nud', 'permanent']);
    lab.exec(dir, ['ip', 'neigh', 'replace', REAL, 'lladdr', macOf(real, 'r0'), 'dev', 'in0', 'nud', 'permanent']);
    lab.spawn(real, [process.execPath, '-e', SERVER]);

    leave = enterNetns(dir);
    dp = Dataplane.create({ pinDir, mac: macOf(dir, 'out0'), tables: SMALL_TEST_TABLES });
    dp.vips.upsert({ address: '10.0.0.10', port: 80, protocol: 'tcp', method: 'nat' });
    dp.reals.set('10.0.0.10:80/tcp', [{ id: 1, address: REAL, mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
    dp.vips.upsert({ address: '10.0.0.20', port: 80, protocol: 'tcp', method: 'fullnat', snatPool: { addresses: [POOL] } });
    dp.reals.set('10.0.0.20:80/tcp', [{ id: 2, address: REAL, mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
    dp.attach('out0', 'generic');
    dp.attach('in0', 'generic');
    // The server is up once a plain connection to it works (from the director, not through XDP's VIPs).
    for (let i = 0; i < 50; i++) {
      const r = lab.exec(dir, [process.execPath, '-e', `require('net').connect(8080, '${REAL}').on('connect', () => process.exit(0)).on('error', () => process.exit(1))`], { allowFail: true });
      if (r.status === 0) break;
      await new Promise((res) => setTimeout(res, 100));
    }
  });

  const reasonText = () => ` (verdicts: ${Object.entries(dp!.stats.counters().reasons).filter(([, v]) => v > 0n).map(([k, v]) => `${k}=${v}`).join(' ')})`;

  after(async () => {
    try {
      if (dp) {
        for (const i of ['out0', 'in0']) try { dp.detach(i); } catch { /* gone with the namespace */ }
        dp.destroy();
      }
    } finally {
      dp = null;
      if (leave) leave();
      await lab.cleanup();
    }
  });

  test('NAT: the client reaches real:8080 through VIP:80 and the real sees the client', () => {
    const r = lab.exec(cli, [process.execPath, '-e', client('10.0.0.10')], { allowFail: true, timeoutMs: 10_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout + reasonText());
    assert.equal(r.stdout.trim(), CLIENT);
    const reasons = dp!.stats.counters().reasons;
    assert.ok(reasons.redir_nat > 0n && reasons.redir_nat_reply > 0n, `redirected both ways: ${reasons.redir_nat}/${reasons.redir_nat_reply}`);
  });

  test('full-NAT: the real sees the pool address', () => {
    const r = lab.exec(cli, [process.execPath, '-e', client('10.0.0.20')], { allowFail: true, timeoutMs: 10_000 });
    assert.equal(r.status, 0, r.stderr + r.stdout + reasonText());
    assert.equal(r.stdout.trim(), POOL);
  });
});
