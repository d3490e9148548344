// The pure parts of the connection listing and census: filter parsing (errors name the option),
// matching raw flow_key/conn_value bytes, and the census tally's active/inactive split.
import { describe, test } from 'node:test';
import * as assert from 'node:assert/strict';
import { compileConnFilter, matcherOf, parseVipFilter } from '../../src/conns/filter';
import { Tally } from '../../src/conns/census';
import { formatIdle } from '../../src/conns/rows';

/** struct flow_key + struct conn_value, written field by field (bpf/include/lb_shared.h). */
function entry(o: { src: string; dst: string; sport: number; dport: number; proto?: number; real: number; vip?: number; last?: bigint }): { key: Buffer; value: Buffer } {
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
  value.writeUInt32LE(o.vip ?? 1, 4);
  value.writeBigUInt64LE(o.last ?? 0n, 8);
  return { key, value };
}

const reals = [{ id: 1, address: '10.3.0.1' }, { id: 2, address: '10.3.0.2' }, { id: 7, address: '10.3.0.1' }];
const match = (req: Record<string, unknown>, e: { key: Buffer; value: Buffer }) => matcherOf(compileConnFilter(req, reals))(e.key, 0, e.value, 0);

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

  test('bad input names the option', () => {
    const bad = (req: Record<string, unknown>, re: RegExp) => assert.throws(() => compileConnFilter(req, reals), (e: Error & { code?: string }) => e.code === 'E_USAGE' && re.test(e.message));
    bad({ vip: 'web.example' }, /--vip: "web.example"/);
    bad({ vip: '10.0.0.60:99999' }, /--vip: port 99999/);
    bad({ vip: '' }, /--vip/);
    bad({ client: '100.64.0.0/40' }, /--client: prefix "\/40"/);
    bad({ client: '100.64.0.0/8/2' }, /--client/);
    bad({ real: 5 }, /--real: expected an address/);
    bad({ limit: 0 }, /--limit: expected a positive integer/);
    bad({ limit: 1.5 }, /--limit/);
    bad({ limit: 'ten' }, /--limit/);
    assert.equal(compileConnFilter({ limit: '10' }, reals).limit, 10);
  });
});

describe('census tally', () => {
  test('splits by the active window, per real and per VIP', () => {
    const now = 1_000_000_000_000n;
    const window = 60_000_000_000n;
    const vals = Buffer.alloc(16 * 5);
    const put = (i: number, real: number, vip: number, last: bigint) => { vals.writeUInt32LE(real, i * 16); vals.writeUInt32LE(vip, i * 16 + 4); vals.writeBigUInt64LE(last, i * 16 + 8); };
    put(0, 1, 1, now);
    put(1, 1, 1, now - window); // exactly at the edge: active
    put(2, 1, 1, now - window - 1n);
    put(3, 2, 1, now - 5n);
    put(4, 3, 2, 0n);
    const t = new Tally(now, window);
    t.add(vals, 3);
    t.add(vals.subarray(48), 2);
    const r = t.result(123, 4.5);
    assert.equal(r.total, 5);
    assert.deepEqual(new Map(r.byReal.map(([id, a, i]) => [id, [a, i]])), new Map([[1, [2, 1]], [2, [1, 0]], [3, [0, 1]]]));
    assert.deepEqual(new Map(r.byVip.map(([id, a, i]) => [id, [a, i]])), new Map([[1, [3, 1]], [2, [0, 1]]]));
    assert.equal(r.at, 123);
    assert.equal(r.walkMs, 4.5);
  });

  test('idle column', () => {
    assert.equal(formatIdle(0), '00:00');
    assert.equal(formatIdle(61_500), '01:01');
    assert.equal(formatIdle(3_725_000), '1:02:05');
  });
});
