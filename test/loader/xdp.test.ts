// XDP and tc attach/query/detach on a veth inside namespaces this test creates. Attaching must
// happen in the interface's namespace, so each step runs in a child node process under
// `ip netns exec` (helpers/xdp-child.ts) and reports what it saw.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { needsBpf } from '../lib/env';
import { Netlab } from '../../src/lab/netns';

const lab = new Netlab('ldxdp');
let nsA = '';
let nsB = '';
const child = path.join(__dirname, 'helpers', 'xdp-child.js');

function inNs(ns: string, args: Record<string, unknown>): Record<string, any> {
  const r = lab.exec(ns, [process.execPath, child, JSON.stringify(args)], { allowFail: true, timeoutMs: 20_000 });
  const line = r.stdout.trim().split('\n').pop() ?? '';
  let parsed: { ok?: Record<string, unknown>; error?: string };
  try { parsed = JSON.parse(line); } catch { throw new Error(`child printed no result (exit ${r.status}): ${r.stdout}${r.stderr}`); }
  if (parsed.error) throw new Error(`child failed: ${parsed.error}`);
  return parsed.ok!;
}

/** XDP state of a link as iproute2 reports it: `ip -j -d link show`. */
function linkXdp(ns: string, dev: string): unknown {
  const j = JSON.parse(lab.exec(ns, ['ip', '-j', '-d', 'link', 'show', 'dev', dev]).stdout);
  return j[0].xdp ?? null;
}

before(() => {
  if (needsBpf().skip) return;
  nsA = lab.addNs('a');
  nsB = lab.addNs('b');
  lab.addVeth(nsA, 'a0', nsB, 'b0');
  lab.addAddr(nsA, 'a0', '10.201.0.1/24');
  lab.addAddr(nsB, 'b0', '10.201.0.2/24');
  lab.addBridge(nsA, 'br0');
});
after(() => lab.cleanup());

test('native and generic attach, replace, query and detach on a veth', needsBpf(), () => {
  const r = inNs(nsA, { step: 'modes', ifname: 'a0' });
  const { fwd, pass } = r.ids;
  assert.ok(fwd > 0 && pass > 0 && fwd !== pass);
  assert.deepEqual(r.q0, {});
  assert.deepEqual(r.native, { mode: 'native' });
  assert.deepEqual(r.q1, { native: fwd });
  assert.deepEqual(r.q2, { native: pass }, 'a second attach in the same mode replaces');
  assert.equal(r.genericWhileNative, 'E_BPF_ATTACH:17', 'the kernel refuses two modes at once (EEXIST)');
  assert.deepEqual(r.q3, { native: pass });
  assert.deepEqual(r.q4, {});
  assert.deepEqual(r.generic, { mode: 'generic' });
  assert.deepEqual(r.q5, { generic: fwd });
  assert.deepEqual(r.q6, { generic: fwd }, 'detaching native leaves generic');
  assert.deepEqual(r.q7, {});
  assert.match(r.noIface, /^E_BPF_NO_IFACE/);
  assert.equal(linkXdp(nsA, 'a0'), null, 'iproute2 sees nothing attached');
});

test('native attach where the driver has none: refused, or generic with a warning when allowed', needsBpf(), () => {
  const r = inNs(nsA, { step: 'fallback', ifname: 'br0' });
  assert.match(r.strict, /^E_BPF_ATTACH/);
  assert.deepEqual(r.q0, {}, 'the refused attach left nothing');
  assert.deepEqual(r.fallback, { mode: 'generic' });
  assert.deepEqual(r.q1, { generic: r.ids.pass });
  assert.equal(r.warnings.length, 1);
  assert.match(r.warnings[0], /xdp_pass on br0: native attach failed .*generic mode/);
  assert.deepEqual(r.q2, {});
  assert.equal(linkXdp(nsA, 'br0'), null);
});

test('a natively attached program sees real traffic from the peer namespace', needsBpf(), () => {
  const r = inNs(nsA, { step: 'traffic', ifname: 'a0', peerNs: nsB, dst: '10.201.0.1' });
  assert.equal(r.mode, 'native');
  assert.equal(r.counters.hits, 3, 'three UDP datagrams matched the DROP entry');
  assert.ok(r.counters.packets >= 3, `packets counted: ${r.counters.packets}`);
  assert.deepEqual(r.after, {});
  assert.equal(linkXdp(nsA, 'a0'), null);
});

test('an attachment outlives the process that made it; detach from another removes it', needsBpf(), () => {
  const r = inNs(nsA, { step: 'leave-attached', ifname: 'a0' });
  assert.deepEqual(r.q, { native: r.ids.fwd });
  const x = linkXdp(nsA, 'a0') as { prog?: { id: number; name: string } } | null;
  assert.equal(x?.prog?.id, r.ids.fwd, 'still attached after the child exited');
  assert.equal(x?.prog?.name, 'xdp_fwd');
  const d = inNs(nsA, { step: 'detach', ifname: 'a0' });
  assert.deepEqual(d.after, {});
  assert.equal(linkXdp(nsA, 'a0'), null);
});

test('tc ingress attach and detach leave no filter and no qdisc behind', needsBpf(), () => {
  const r = inNs(nsA, { step: 'tc', ifname: 'a0' });
  assert.equal(r.q1, r.tcId);
  assert.match(r.filters, /tc_pass/);
  assert.match(r.filters, /direct-action/);
  assert.equal(r.q2, null);
  assert.doesNotMatch(r.qdiscs, /clsact/);
});
