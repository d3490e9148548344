// The pure parts of the connection listing and census: filter parsing (errors name the option),
// matching raw flow_key / conn4_key and conn_value bytes, the census tally's active/inactive
// split of live entries, and the corrections it writes to lb_real_load_fix.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileConnFilter, matcherOf, parseVipFilter } from '../../src/conns/filter';
import { Tally, fixesFor } from '../../src/conns/census';
import { formatExpire } from '../../src/conns/rows';
import { CONN4_KEY, FLOW_KEY } from '../../src/conns/tables';

/** struct flow_key + struct conn_value, written field by field (bpf/include/lb_shared.h). */
function entry(o: { src: string; dst: string; sport: number; dport: number; proto?: number; real: number; vip?: number; state?: number; expires?: number }): { key: Buffer; value: Buffer } {
  const key = Buffer.alloc(40);
  const v6 = o.src.includes(':');
  const put = (a: string, at: number) => {
    if (!v6) Buffer.from(a.split('.').map(Number)).copy(key, at);
    else {
      const [h, t] = a.split('::');
      const hs = h ? h.split(':') : [];
      const ts = t ? t.split(':') : [];
      const groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
      groups.forEach((g, i) => key.writeUInt16BE(parseInt(g, 16), at + i * 2));
    }
  };
  put(o.src, 0);
  put(o.dst, 16);
  key.writeUInt16BE(o.sport, 32);
  key.writeUInt16BE(o.dport, 34);
  key[36] = o.proto ?? 6;
  key[37] = v6 ? 6 : 4;
  const value = Buffer.alloc(16);
  value.writeUInt32LE(o.real, 0);
  value.writeUInt16LE(o.vip ?? 1, 4);
  value[6] = o.state ?? 1;
  value.writeUInt32LE(o.expires ?? 1000, 8);
  return { key, value };
}

/** The same IPv4 entry's lb_conns key (struct conn4_key). */
function conn4(e: { key: Buffer; value: Buffer }): { key: Buffer; value: Buffer } {
  const key = Buffer.alloc(16);
  e.key.copy(key, 0, 0, 4);
  e.key.copy(key, 4, 16, 20);
  e.key.copy(key, 8, 32, 37);
  return { key, value: e.value };
}

const reals = [{ id: 1, address: '10.3.0.1' }, { id: 2, address: '10.3.0.2' }, { id: 7, address: '10.3.0.1' }];
/** Matches in lb_new's layout, and for IPv4 entries in lb_conns' too (both must agree). */
const match = (req: Record<string, unknown>, e: { key: Buffer; value: Buffer }) => {
  const spec = compileConnFilter(req, reals);
  const r = matcherOf(spec, FLOW_KEY)(e.key, 0, e.value, 0);
  if (e.key[37] === 4) {
    const c = conn4(e);
    assert.equal(matcherOf(spec, CONN4_KEY)(c.key, 0, c.value, 0), r, `conn4_key layout disagrees on ${JSON.stringify(req)}`);
  } else if (spec.vip?.family === 6 || spec.client?.family === 6) {
    assert.equal(matcherOf(spec, CONN4_KEY)(Buffer.alloc(16), 0, e.value, 0), false, 'an IPv6 filter never matches lb_conns');
  }
  return r;
};

describe('connection filters', () => {
  const a = entry({ src: '100.64.1.5', dst: '10.0.0.60', sport: 40000, dport: 80, real: 1 });
  const b = entry({ src: '2001:db8:c::7', dst: '2001:db8::60', sport: 40001, dport: 443, real: 2 });

  test('--vip by address, port and protocol, IPv4 and IPv6', () => {
    assert.ok(match({ vip: '10.0.0.60' }, a));
    assert.ok(match({ vip: '10.0.0.60:80' }, a));
    assert.ok(match({ vip: '10.0.0.60:80/tcp' }, a));
    assert.ok(!match({ vip: '10.0.0.60:80/udp' }, a));
    assert.ok(!match({ vip: '10.0.0.60:81' }, a));
    assert.ok(!match({ vip: '10.0.0.61' }, a));
    assert.ok(!match({ vip: '10.0.0.60' }, b));
    assert.ok(match({ vip: '2001:db8::60' }, b));
    assert.ok(match({ vip: '[2001:db8::60]:443' }, b));
    assert.ok(!match({ vip: '[2001:db8::60]:80' }, b));
    assert.deepEqual(parseVipFilter('[2001:db8::60]').port, null);
  });

  test('--client by address and prefix', () => {
    assert.ok(match({ client: '100.64.1.5' }, a));
    assert.ok(!match({ client: '100.64.1.6' }, a));
    assert.ok(match({ client: '100.64.0.0/16' }, a));
    assert.ok(match({ client: '100.64.1.4/31' }, a));
    assert.ok(!match({ client: '100.64.1.6/31' }, a));
    assert.ok(match({ client: '0.0.0.0/0' }, a));
    assert.ok(!match({ client: '0.0.0.0/0' }, b), 'an IPv4 prefix never matches an IPv6 client');
    assert.ok(match({ client: '2001:db8:c::/48' }, b));
    assert.ok(!match({ client: '2001:db8:d::/48' }, b));
  });

  test('--real by address (every id of that address), combined filters', () => {
    assert.ok(match({ real: '10.3.0.1' }, a));
    assert.ok(match({ real: '10.3.0.1' }, entry({ src: '1.2.3.4', dst: '10.0.0.60', sport: 1, dport: 80, real: 7 })));
    assert.ok(!match({ real: '10.3.0.2' }, a));
    assert.ok(!match({ real: '10.3.0.9' }, a));
    assert.ok(match({ real: '10.3.0.1', vip: '10.0.0.60:80', client: '100.64.0.0/10' }, a));
    assert.ok(!match({ real: '10.3.0.1', vip: '10.0.0.60:80', client: '100.128.0.0/10' }, a));
  });

  test('--state by name, any case, several', () => {
    const syn = entry({ src: '100.64.1.5', dst: '10.0.0.60', sport: 40000, dport: 80, real: 1, state: 3 });
    assert.ok(match({ state: 'ESTABLISHED' }, a));
    assert.ok(match({ state: 'established' }, a));
    assert.ok(!match({ state: 'SYN_RECV' }, a));
    assert.ok(match({ state: 'SYN_RECV' }, syn));
    assert.ok(match({ state: 'fin_wait,syn_recv' }, syn));
    assert.ok(match({ state: 'SYN_RECV', real: '10.3.0.1' }, syn));
  });

  test('bad input names the option', () => {
    const bad = (req: Record<string, unknown>, re: RegExp) => assert.throws(() => compileConnFilter(req, reals), (e: Error & { code?: string }) => e.code === 'E_USAGE' && re.test(e.message));
    bad({ vip: 'web.example' }, /--vip: "web.example"/);
    bad({ vip: '10.0.0.60:99999' }, /--vip: port 99999/);
    bad({ vip: '' }, /--vip/);
    bad({ client: '100.64.0.0/40' }, /--client: prefix "\/40"/);
    bad({ client: '100.64.0.0/8/2' }, /--client/);
    bad({ real: 5 }, /--real: expected an address/);
    bad({ state: 'OPEN' }, /--state: "OPEN" is not a state \(.*ESTABLISHED/);
    bad({ state: 'TEMPLATE' }, /--state/);
    bad({ state: 3 }, /--state/);
    bad({ limit: 0 }, /--limit: expected a positive integer/);
    bad({ limit: 1.5 }, /--limit/);
    bad({ limit: 'ten' }, /--limit/);
    assert.equal(compileConnFilter({ limit: '10' }, reals).limit, 10);
  });
});

describe('census tally', () => {
  test('live entries by state, per real and per VIP; expired ones and templates skipped', () => {
    const now = 1000;
    const vals = Buffer.alloc(16 * 7);
    const put = (i: number, real: number, vip: number, state: number, expires: number) => {
      vals.writeUInt32LE(real, i * 16); vals.writeUInt16LE(vip, i * 16 + 4); vals[i * 16 + 6] = state; vals.writeUInt32LE(expires, i * 16 + 8);
    };
    put(0, 1, 1, 1, 1900); // ESTABLISHED
    put(1, 1, 1, 1, 1000); // expires this second: still live (expired when now > expires)
    put(2, 1, 1, 1, 999); // expired
    put(3, 2, 1, 3, 1060); // SYN_RECV: inactive
    put(4, 3, 2, 11, 1300); // UDP: inactive
    put(5, 3, 2, 12, 1060); // a persistence template: not a connection
    put(6, 2, 1, 4, 0xfffffff0); // FIN_WAIT expiring "before" now, as the data plane's s32 compare says
    const t = new Tally(now);
    t.add(vals, 3, true);
    t.add(vals.subarray(48), 4, false);
    const r = t.result(123, 4.5, 2);
    assert.equal(r.total, 4);
    assert.equal(r.confirmed, 2);
    assert.equal(r.unconfirmed, 2);
    assert.equal(r.expired, 2);
    assert.deepEqual(new Map(r.byReal.map(([id, a, i]) => [id, [a, i]])), new Map([[1, [2, 0]], [2, [0, 1]], [3, [0, 1]]]));
    assert.deepEqual(new Map(r.byVip.map(([id, a, i]) => [id, [a, i]])), new Map([[1, [2, 1]], [2, [0, 1]]]));
    assert.equal(r.at, 123);
    assert.equal(r.walkMs, 4.5);
    assert.equal(r.fixed, 2);
  });

  test('corrections: fix = exact - raw for counted reals and reals with a count, unchanged ones not written', () => {
    const ids = 8;
    const load = Buffer.alloc(ids * 24);
    const fix = Buffer.alloc(ids * 16);
    const setLoad = (id: number, a: bigint, i: bigint) => { load.writeBigInt64LE(a, id * 24); load.writeBigInt64LE(i, id * 24 + 8); };
    const setFix = (id: number, a: bigint, i: bigint) => { fix.writeBigInt64LE(a, id * 16); fix.writeBigInt64LE(i, id * 16 + 8); };
    setLoad(1, 10n, 5n); // counted 7 / 2: fix -3 / -3
    setLoad(2, 4n, 0n); setFix(2, -4n, 0n); // nothing left and already fixed: not written
    setLoad(3, 6n, 1n); setFix(3, -1n, 0n); // all gone since: fix -6 / -1
    setFix(5, 2n, 0n); // a fix left over, no count: back to 0
    // real 6: counted by the walk with no raw count (a count the data plane lost): fix +1
    const w = fixesFor(new Map([[1, [7, 2]], [6, [1, 0]]]), load, fix, ids);
    const got = new Map<number, [bigint, bigint]>();
    for (let k = 0; k < w.count; k++) got.set(w.keys.readUInt32LE(k * 4), [w.values.readBigInt64LE(k * 16), w.values.readBigInt64LE(k * 16 + 8)]);
    assert.deepEqual(got, new Map([[1, [-3n, -3n]], [3, [-6n, -1n]], [5, [0n, 0n]], [6, [1n, 0n]]]));
  });

  test('expire column', () => {
    assert.equal(formatExpire(0), '00:00');
    assert.equal(formatExpire(61), '01:01');
    assert.equal(formatExpire(900), '15:00');
    assert.equal(formatExpire(3725), '1:02:05');
    assert.equal(formatExpire(-3), '00:00');
  });
});
