// Normalisation details: canonical addresses, durations, keys, aliases, check resolution,
// runtime checks; and the pure helpers they use.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTopology, checkRuntime, validateTopology, type ConfigError } from '../../src/config/load';
import { canonicalIp, maskToPrefix, parseIp, prefixToMask } from '../../src/common/address';
import { parseDuration } from '../../src/config/duration';
import { isXlvsError } from '../../src/errors';

test('IPv6 addresses come out RFC 5952 canonical; bad ones are refused', () => {
  const cases: [string, string | null][] = [
    ['2001:DB8:0:0:0:0:0:1', '2001:db8::1'],
    ['2001:0db8:0000:0001:0000:0000:0000:0012', '2001:db8:0:1::12'],
    ['2001:db8:0:0:1:0:0:1', '2001:db8::1:0:0:1'], // §4.2.3: first of equal runs
    ['2001:db8:0:1:1:1:1:1', '2001:db8:0:1:1:1:1:1'], // §4.2.2: a single 0 is not ::
    ['::', '::'],
    ['::1', '::1'],
    ['fe80::', 'fe80::'],
    ['::ffff:192.0.2.1', '::ffff:c000:201'],
    ['10.0.0.1', '10.0.0.1'],
    ['010.0.0.1', null],
    ['1::2::3', null],
    ['1:2:3:4:5:6:7:8:9', null],
    ['12345::', null],
    ['256.1.1.1', null],
    ['fe80::1%eth0', null],
  ];
  for (const [input, want] of cases) assert.equal(canonicalIp(input), want, input);
});

test('dotted masks: contiguous ones give a prefix, others null', () => {
  assert.equal(maskToPrefix(parseIp('255.255.255.0')!), 24);
  assert.equal(maskToPrefix(parseIp('255.255.255.255')!), 32);
  assert.equal(maskToPrefix(parseIp('0.0.0.0')!), 0);
  assert.equal(maskToPrefix(parseIp('255.255.0.255')!), null);
  assert.equal(prefixToMask(4, 20), '255.255.240.0');
  assert.equal(prefixToMask(6, 64), 'ffff:ffff:ffff:ffff::');
});

test('durations', () => {
  assert.deepEqual(parseDuration('1m30s'), { ms: 90_000 });
  assert.deepEqual(parseDuration('250ms'), { ms: 250 });
  assert.deepEqual(parseDuration(6), { ms: 6000 });
  assert.deepEqual(parseDuration(0.5), { ms: 500 });
  assert.deepEqual(parseDuration('2'), { ms: 2000 });
  assert.deepEqual(parseDuration('1h'), { ms: 3_600_000 });
  for (const bad of ['5 sec', '1d', '', '-1s', 's']) assert.ok('error' in parseDuration(bad), bad);
  assert.ok('error' in parseDuration(0.0001));
});

const BASE = `director: { name: d, interface: eth0, addresses: [10.0.0.2/24, 2001:db8::2/64] }
`;

test('defaults, keys and the resolved check of every real', () => {
  const t = loadTopology(BASE + `services:
  - vip: 2001:DB8::100
    port: 443
    persistence: {}
    check: { type: http, port: 8443, http: { path: /h } }
    reals:
      - { address: "2001:db8::11" }
      - { address: "2001:db8::12", weight: 0, check: { timeout: 1s, http: { status: 204 } } }
      - { address: "2001:db8::13", check: { type: tcp } }
`);
  const s = t.services[0];
  assert.equal(s.key, '[2001:db8::100]:443/tcp');
  assert.equal(s.name, s.key);
  assert.deepEqual(s.persistence, { timeoutMs: 300_000, prefix: 128, netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff' });
  assert.equal(s.tableSize, 65537);
  assert.deepEqual(s.reals.map((r) => r.key), ['[2001:db8::11]:443', '[2001:db8::12]:443', '[2001:db8::13]:443']);
  const [a, b, c] = s.reals;
  assert.equal(a.check.type, 'http');
  assert.equal(a.check.port, 8443);
  assert.equal(a.check.connectIp, '2001:db8::11');
  assert.equal(a.check.http?.path, '/h');
  assert.equal(a.check.timeoutMs, 5000);
  assert.equal(b.weight, 0);
  assert.equal(b.check.timeoutMs, 1000);
  assert.equal(b.check.http?.status, '204');
  assert.equal(b.check.http?.path, '/h', 'fields the real does not override come from the service');
  assert.equal(c.check.type, 'tcp');
  assert.equal(c.check.http, null, 'another type replaces the service check');
  assert.equal(c.check.port, 443);
  assert.equal(t.metrics.host, '127.0.0.1');
  assert.equal(t.control.socket, '/run/xlvs/d.sock');
});

test('keepalived aliases fold: retry is fall - 1, delay_loop, connect_port, nopreempt, virtual_router_id', () => {
  const t = loadTopology(BASE + `vrrp:
  - { name: V, virtual_router_id: 9, advert_int: 3, nopreempt: true, virtual_ipaddress: [10.0.0.9] }
services:
  - vip: 10.0.0.100
    port: 0
    check: { type: tcp, delay_loop: 7, connect_timeout: 2, retry: 2, connect_port: 22 }
    reals: [{ address: 10.0.0.11 }]
`);
  const v = t.vrrp[0];
  assert.deepEqual([v.vrid, v.advertIntervalMs, v.preempt, v.vips[0].prefix], [9, 3000, false, 32]);
  const ck = t.services[0].reals[0].check;
  assert.deepEqual([ck.intervalMs, ck.timeoutMs, ck.fall, ck.port], [7000, 2000, 3, 22]);
  assert.equal(t.services[0].reals[0].port, 0);
});

test('retries: at the interval by default (down after fall x interval); keepalived\'s delays with its retry words; delay_before_retry wins', () => {
  const t = loadTopology(BASE + `services:
  - { vip: 10.0.0.101, port: 80, check: { type: http, interval: 2s, fall: 3 }, reals: [{ address: 10.0.0.11 }] }
  - { vip: 10.0.0.102, port: 80, check: { type: http, delay_loop: 2, retry: 2 }, reals: [{ address: 10.0.0.11 }] }
  - { vip: 10.0.0.103, port: 80, check: { type: tcp, delay_loop: 2, nb_get_retry: 2 }, reals: [{ address: 10.0.0.11 }] }
  - { vip: 10.0.0.104, port: 80, check: { type: tcp, interval: 2s, retry: 1, delay_before_retry: 500ms }, reals: [{ address: 10.0.0.11 }] }
`);
  assert.deepEqual(t.services.map((s) => [s.reals[0].check.fall, s.reals[0].check.delayBeforeRetryMs]), [[3, 2000], [3, 3000], [3, 1000], [2, 500]]);
});

test('an object without positions validates too (problems have line 0)', () => {
  assert.throws(() => validateTopology({ director: { name: 'x', interface: 'eth0' }, services: [{ vip: '10.0.0.1', port: 80, reals: [], bogus: 1 }] }),
    (e: unknown) => isXlvsError(e, 'E_CONFIG_INVALID') && (e as ConfigError).problems[0].path === 'services[0].bogus'
      && (e as ConfigError).problems[0].line === 0);
});

test('checkRuntime: missing interfaces and TUN sources left to the interface', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-config-net-'));
  try {
    fs.mkdirSync(path.join(dir, 'eth0'));
    const t = loadTopology(`director: { name: d, interface: eth0 }
vrrp:
  - { name: V, vrid: 1, interface: eth9, vips: [10.0.0.9], track_interfaces: [eth0, eth7] }
services:
  - { vip: 10.0.0.100, port: 80, method: tun, reals: [{ address: 192.0.2.1 }, { address: "2001:db8::1" }] }
`);
    const problems = checkRuntime(t, { sysClassNet: dir, interfaceAddresses: () => [{ family: 4, address: '10.0.0.2' }] });
    assert.deepEqual(problems.map((p) => `${p.path}: ${p.message}`), [
      'vrrp[0].interface: interface eth9 does not exist on this machine (VRRP adverts are sent there)',
      'vrrp[0].track_interfaces[1]: interface eth7 does not exist on this machine (tracked for FAULT)',
      'director.addresses: a TUN service has IPv6 reals, but eth0 has no IPv6 address to use as tunnel source (set director.addresses or tun_source)',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the real /sys/class/net: lo exists, a made-up name does not', () => {
  const t = loadTopology('director: { name: d, interface: lo }\n');
  assert.deepEqual(checkRuntime(t), []);
  const u = loadTopology('director: { name: d, interface: xlvs-nope0 }\n');
  assert.equal(checkRuntime(u).length, 1);
});
