// The fixture runner and diffPackets() on a fake program written in JS: a row that holds passes,
// and each kind of mismatch (verdict, output, counter, strict counter) is reported by name.
import { test, describe } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { checkFixture, runFixtureTable, FixtureContext, FixtureRow, XDP } from '../lib/fixtures';

const VIP = '10.0.0.10';
const REAL_MAC = '02:00:00:00:0a:01';
const OUR_MAC = '02:00:00:00:00:fe';

/**
 * A stand-in for an XDP program: TCP to VIP:80 → rewrite MACs, XDP_TX; truncated → XDP_DROP;
 * anything else → XDP_PASS. Counts per reason like the real one.
 */
function fakeProgram(counters: Record<string, bigint>) {
  return (data: Buffer) => {
    const out = Buffer.from(data);
    const bump = (k: string) => { counters[k] = (counters[k] ?? 0n) + 1n; };
    if (data.length < 14 + 20 + 20) { bump('drop_malformed'); return { retval: XDP.XDP_DROP, data: out, duration: 1 }; }
    const dst = [...data.subarray(30, 34)].join('.');
    if (data.readUInt16BE(12) === 0x0800 && data[23] === 6 && dst === VIP && data.readUInt16BE(36) === 80) {
      Buffer.from(REAL_MAC.replace(/:/g, ''), 'hex').copy(out, 0);
      Buffer.from(OUR_MAC.replace(/:/g, ''), 'hex').copy(out, 6);
      bump('tx'); bump('packets');
      return { retval: XDP.XDP_TX, data: out, duration: 1 };
    }
    bump('pass_not_vip');
    return { retval: XDP.XDP_PASS, data: out, duration: 1 };
  };
}

function makeCtx(strict?: FixtureContext['strictCounters']): FixtureContext {
  const counters: Record<string, bigint> = { tx: 0n, packets: 0n, pass_not_vip: 0n, drop_malformed: 0n };
  const run = fakeProgram(counters);
  return { testRun: run, readCounters: () => ({ ...counters }), strictCounters: strict };
}

const client = () => eth({ src: '02:00:00:00:00:01', dst: OUR_MAC }).ipv4({ src: '198.51.100.7', dst: VIP, ttl: 64 });
const syn = client().tcp({ sport: 40000, dport: 80, flags: 'S' }).build();
const synOut = eth({ src: OUR_MAC, dst: REAL_MAC }).ipv4({ src: '198.51.100.7', dst: VIP, ttl: 64 }).tcp({ sport: 40000, dport: 80, flags: 'S' }).build();
const notVip = eth({ src: '02:00:00:00:00:01', dst: OUR_MAC }).ipv4({ src: '198.51.100.7', dst: '10.0.0.99' }).tcp({ sport: 1, dport: 80 }).build();

// A table that holds: registered as one test per row.
runFixtureTable('fixture table on a fake program', [
  { name: 'SYN to the VIP is sent to the real', packet: syn, verdict: 'XDP_TX', output: synOut, counters: { tx: 1, packets: 1 } },
  { name: 'non-VIP passes untouched', packet: notVip, verdict: 'XDP_PASS', output: 'unchanged', counters: { pass_not_vip: 1 } },
  { name: 'truncated SYN is dropped', packet: syn.subarray(0, 40), verdict: 'XDP_DROP', counters: { drop_malformed: 1n } },
], makeCtx(['tx', 'pass_not_vip', 'drop_malformed']));

describe('checkFixture reports each mismatch', () => {
  const check = (row: FixtureRow, strict?: FixtureContext['strictCounters']) => checkFixture(row, makeCtx(strict));

  test('a row that holds gives no problems; with strict "all" every moved counter must be listed', async () => {
    assert.equal(await check({ name: 'ok', packet: syn, verdict: 'XDP_TX', output: synOut, counters: { tx: 1, packets: 1 } }, 'all'), '');
    assert.equal(await check({ name: 'ok', packet: syn, verdict: 'XDP_TX', output: synOut, counters: { tx: 1 } }, 'all'), 'counter packets: expected no change, got +1');
  });

  test('wrong verdict names both verdicts', async () => {
    assert.equal(await check({ name: 'v', packet: notVip, verdict: 'XDP_DROP' }), 'verdict: expected XDP_DROP, got XDP_PASS');
  });

  test('wrong output shows the per-field diff', async () => {
    const p = await check({ name: 'o', packet: syn, verdict: 'XDP_TX', output: 'unchanged' });
    assert.match(p, /^output \(expected unchanged\):/);
    assert.match(p, /eth\.dst: expected 02:00:00:00:00:fe, got 02:00:00:00:0a:01/);
    assert.match(p, /eth\.src: expected 02:00:00:00:00:01, got 02:00:00:00:00:fe/);
    assert.match(p, /first differing byte at offset 4 /);
  });

  test('counter deltas, unknown counters and strict counters', async () => {
    assert.equal(await check({ name: 'c', packet: notVip, verdict: 'XDP_PASS', counters: { pass_not_vip: 2 } }), 'counter pass_not_vip: expected +2, got +1');
    assert.match(await check({ name: 'c', packet: notVip, verdict: 'XDP_PASS', counters: { nope: 1 } }), /^counter nope: no such counter \(known: drop_malformed, packets, pass_not_vip, tx\)$/);
    // Listed counter right, but an unlisted strict one moved: the packet was counted twice.
    assert.equal(await check({ name: 's', packet: syn, verdict: 'XDP_TX', counters: { tx: 1 } }, (k) => k !== 'tx'), 'counter packets: expected no change, got +1');
    // Not strict: unlisted changes are ignored.
    assert.equal(await check({ name: 's', packet: syn, verdict: 'XDP_TX', counters: { tx: 1 } }), '');
  });

  test('setup runs before the packet', async () => {
    let ran = false;
    await check({ name: 'setup', setup: () => { ran = true; }, packet: notVip, verdict: 'XDP_PASS' });
    assert.ok(ran);
  });

  test('the program never mutates the row packet', async () => {
    const copy = Buffer.from(syn);
    await check({ name: 'm', packet: syn, verdict: 'XDP_TX' });
    assert.deepEqual(syn, copy);
  });

  test('duplicate row names are refused', () => {
    assert.throws(() => runFixtureTable('dup', [{ name: 'a', packet: syn, verdict: 'XDP_TX' }, { name: 'a', packet: syn, verdict: 'XDP_TX' }], makeCtx()), /duplicate row name "a"/);
  });
});

describe('diffPackets messages', () => {
  const base = () => client().tcp({ sport: 40000, dport: 80, flags: 'S' }).payload('hello');

  test('identical frames diff to the empty string', () => {
    assert.equal(diffPackets(base().build(), base().build()), '');
  });

  test('a TTL decrement names the field, the broken checksum and the byte', () => {
    const want = base().build();
    const got = Buffer.from(want);
    got[14 + 8] = 63;
    const d = diffPackets(want, got).split('\n');
    assert.deepEqual(d, [
      'ipv4.ttl: expected 64, got 63',
      `ipv4 checksum: invalid in actual (0x${want.readUInt16BE(24).toString(16).padStart(4, '0')}, correct 0x${eth().ipv4({ src: '198.51.100.7', dst: VIP, ttl: 63 }).tcp({ sport: 40000, dport: 80, flags: 'S' }).payload('hello').build().readUInt16BE(24).toString(16).padStart(4, '0')})`,
      'first differing byte at offset 22 (expected 0x40, got 0x3f)',
    ]);
  });

  test('a consistently rebuilt packet shows only the fields, checksums both valid', () => {
    const want = base().build();
    const got = eth({ src: '02:00:00:00:00:01', dst: OUR_MAC }).ipv4({ src: '198.51.100.7', dst: VIP, ttl: 64 }).tcp({ sport: 40001, dport: 80, flags: 'SA' }).payload('hello').build();
    const d = diffPackets(want, got);
    assert.match(d, /^tcp\.sport: expected 40000, got 40001$/m);
    assert.match(d, /^tcp\.flags: expected S, got AS$/m);
    assert.match(d, /^tcp\.checksum: expected 0x[0-9a-f]{4}, got 0x[0-9a-f]{4}$/m);
    assert.doesNotMatch(d, /invalid/);
  });

  test('structure differences: an encapsulated frame vs the plain one, and truncation', () => {
    const plain = base().build();
    const encap = eth({ src: '02:00:00:00:00:01', dst: OUR_MAC }).ipv4({ src: '10.1.0.1', dst: '10.1.0.2' })
      .ipv4({ src: '198.51.100.7', dst: VIP, ttl: 64 }).tcp({ sport: 40000, dport: 80, flags: 'S' }).payload('hello').build();
    const d = diffPackets(plain, encap);
    assert.match(d, /ipv4\.protocol: expected 6, got 4/);
    assert.match(d, /layer 2: expected tcp, got inner\.ipv4/);
    assert.match(d, /length: expected \d+, got \d+/);
    const t = diffPackets(plain, plain.subarray(0, 40));
    assert.match(t, /parse: expected complete, got tcp: truncated at 34/);
    assert.match(t, /first differing byte at offset 40 \(expected 0x[0-9a-f]{2}, got end of frame\)/);
  });
});
