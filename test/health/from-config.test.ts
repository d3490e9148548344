// Mapping a topology check block to a CheckerSpec, and its identity across equal configs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import { checkerSpec, FALLBACK_TIMING } from '../../src/health/from-config';
import { checkerId } from '../../src/health/identity';
import { validateCheckerSpec } from '../../src/health/validate';

const real = { key: '10.0.0.1:80', address: '10.0.0.1', port: 80 };

test('type none has no checker; tcp gets keepalived fallbacks for what the config leaves out', () => {
  assert.equal(checkerSpec('s', real, { type: 'none' }), null);
  const s = checkerSpec('s', real, { type: 'tcp', intervalMs: 6000, fall: 3 })!;
  assert.deepEqual(s.timing, { ...FALLBACK_TIMING, intervalMs: 6000, fall: 3 });
  assert.equal(s.check.timeoutMs, 5000);
  validateCheckerSpec(s);
});

test('http, udp (text and hex payloads) and script map their own blocks; each validates', () => {
  const h = checkerSpec('s', real, { type: 'https', port: 8443, http: { path: '/health', status: '200,204', sni: 'a.example', verify: true } })!;
  assert.equal(h.check.type, 'https');
  assert.equal(h.check.connectPort, 8443);
  assert.deepEqual([h.check.type === 'https' && h.check.path, h.check.type === 'https' && h.check.status], ['/health', '200,204']);
  const u1 = checkerSpec('s', real, { type: 'udp', udp: { payload: 'ping' } })!;
  const u2 = checkerSpec('s', real, { type: 'udp', udp: { payloadHex: '70696e67' } })!;
  assert.deepEqual(u1.check.type === 'udp' && [...u1.check.payload], [0x70, 0x69, 0x6e, 0x67]);
  assert.equal(checkerId(u1), checkerId(u2), 'the same bytes written as text or hex are the same checker');
  const sc = checkerSpec('s', real, { type: 'script', script: { command: ['/bin/check', '%address%'] } })!;
  for (const s of [h, u1, sc]) validateCheckerSpec(s);
  assert.throws(() => validateCheckerSpec(checkerSpec('s', real, { type: 'script' })!), /check\.command: must be a non-empty argv/);
});
