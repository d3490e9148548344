// Codec behaviour: zeroed encoding with padding, round trips of every field type, and errors that
// name the struct and field.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { defineStruct, allCodecs, parseIpv6, formatIpv6 } from '../../src/maps/codec';
import { isXlvsError } from '../../src/errors';

interface Demo { addr: string; v4: string; port: number; proto: number; n: bigint; mac: string; raw: Buffer; w: number[]; a6: string }
const demo = defineStruct<Demo>({
  cName: 'codec_test_demo',
  size: 64,
  fields: [
    { name: 'addr', offset: 0, type: { ip16: 'mapped' } },
    { name: 'port', offset: 16, type: 'be16' },
    { name: 'proto', offset: 18, type: 'u8' },
    { name: 'pad0', offset: 19, type: { pad: 1 } },
    { name: 'v4', offset: 20, type: 'ipv4' },
    { name: 'n', offset: 24, type: 'u64' },
    { name: 'mac', offset: 32, type: 'mac' },
    { name: 'raw', offset: 38, type: { bytes: 2 } },
    { name: 'w', offset: 40, type: { array: 'u16', length: 4 } },
    { name: 'a6', offset: 48, type: { ip16: 'first4' } },
  ],
});

test('encode writes every field at its offset in a zeroed buffer and decode inverts it', () => {
  const v: Demo = { addr: '192.0.2.1', v4: '10.1.2.3', port: 443, proto: 6, n: 0x0102030405060708n, mac: '02:aa:bb:cc:dd:0e', raw: Buffer.from([9, 8]), w: [1, 2, 3, 0xffff], a6: '198.51.100.9' };
  const b = demo.encode(v);
  assert.equal(b.length, 64);
  const expected = Buffer.alloc(64);
  Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 192, 0, 2, 1]).copy(expected, 0); // RFC 4291 §2.5.5.2
  expected.writeUInt16BE(443, 16);
  expected[18] = 6;
  Buffer.from([10, 1, 2, 3]).copy(expected, 20);
  Buffer.from([8, 7, 6, 5, 4, 3, 2, 1]).copy(expected, 24);
  Buffer.from([0x02, 0xaa, 0xbb, 0xcc, 0xdd, 0x0e]).copy(expected, 32);
  Buffer.from([9, 8, 1, 0, 2, 0, 3, 0, 0xff, 0xff]).copy(expected, 38);
  Buffer.from([198, 51, 100, 9]).copy(expected, 48);
  assert.deepEqual(b, expected);
  assert.deepEqual(demo.decode(b), v);
  assert.ok(allCodecs().includes(demo as never));
});

test('IPv6 values round-trip through 16-byte fields', () => {
  const v = { addr: '2001:db8::7', v4: '0.0.0.0', port: 0, proto: 17, n: 0n, mac: '00:00:00:00:00:00', raw: Buffer.alloc(2), w: [0, 0, 0, 0], a6: 'fe80::1' };
  assert.deepEqual(demo.decode(demo.encode(v)), v);
  assert.equal(formatIpv6(parseIpv6('2001:0db8:0:0:1:0:0:1')), '2001:db8::1:0:0:1'); // RFC 5952 §4.2.3: first longest run
  assert.deepEqual(parseIpv6('::ffff:1.2.3.4'), Buffer.from([0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4]));
});

test('a value that does not fit names the struct and field, and nothing is returned', () => {
  const ok: Demo = { addr: '192.0.2.1', v4: '10.1.2.3', port: 1, proto: 6, n: 1n, mac: '02:00:00:00:00:01', raw: Buffer.alloc(2), w: [], a6: '::' };
  const cases: Array<[Partial<Demo> & Record<string, unknown>, RegExp]> = [
    [{ port: 65536 }, /codec_test_demo\.port: 65536 does not fit in be16/],
    [{ proto: -1 }, /codec_test_demo\.proto: -1 does not fit in u8/],
    [{ n: -1n }, /codec_test_demo\.n: -1 does not fit in u64/],
    [{ addr: '300.1.1.1' }, /codec_test_demo\.addr: "300\.1\.1\.1" is not an IPv4 address/],
    [{ v4: '2001:db8::1' }, /codec_test_demo\.v4: .* is not an IPv4 address/],
    [{ mac: '02:00:00:00:00' }, /codec_test_demo\.mac: .* is not a MAC address/],
    [{ raw: Buffer.alloc(3) }, /codec_test_demo\.raw: Buffer of 3 bytes does not fit 2/],
    [{ w: [1, 2, 3, 4, 5] }, /codec_test_demo\.w: 5 elements do not fit 4/],
    [{ port: undefined }, /codec_test_demo\.port: missing/],
    [{ port: 1.5 }, /codec_test_demo\.port: 1\.5 is not an integer/],
  ];
  for (const [patch, re] of cases) {
    assert.throws(() => demo.encode({ ...ok, ...patch } as Demo), (e: unknown) => isXlvsError(e, 'E_CODEC') && re.test((e as Error).message), JSON.stringify(patch, (_, x) => typeof x === 'bigint' ? String(x) : x));
  }
  assert.throws(() => demo.decode(Buffer.alloc(10)), /codec_test_demo: decode needs 64 bytes/);
});

test('a bad layout is refused when defined', () => {
  assert.throws(() => defineStruct({ cName: 'codec_test_overlap', size: 8, fields: [{ name: 'a', offset: 0, type: 'u32' }, { name: 'b', offset: 2, type: 'u32' }] }),
    /codec_test_overlap\.b: offset 2 overlaps/);
  assert.throws(() => defineStruct({ cName: 'codec_test_past', size: 4, fields: [{ name: 'a', offset: 2, type: 'u32' }] }),
    /codec_test_past\.a: offset 2 \+ size 4 runs past the struct size 4/);
});
