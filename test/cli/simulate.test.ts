// `xlvs simulate` as an operator runs it: a topology and a flow through the real program.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { repoRoot } from '../../src/paths';
import { standInMac } from '../../src/cli/commands/simulate';
import { needsBpf } from '../lib/env';

const xlvs = path.join(repoRoot(), 'bin', 'xlvs.js');
const topo = path.join(repoRoot(), 'config', 'examples', 'dr-tcp-master.yaml');

function sim(...args: string[]): { verdict: string; reason: string; real: string | null; output: string; outputHex: string } {
  return JSON.parse(execFileSync('node', [xlvs, 'simulate', '-c', topo, '--json', ...args], { encoding: 'utf8' }));
}

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

test('bad flow arguments name what is wrong', () => {
  assert.throws(() => execFileSync('node', [xlvs, 'simulate', '-c', topo, '--client', 'nope', '--vip', '1.2.3.4:80/tcp'], { encoding: 'utf8', stdio: 'pipe' }),
    (e: Error & { stderr?: string }) => /--client "nope": expected ADDR:PORT/.test(String(e.stderr)));
});
