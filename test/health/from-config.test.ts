// Mapping the normalised model (src/config/model.ts) to checker specs, and identity across
// equal configs.
import { test } from 'node:test';
import * as assert from 'node:assert/strict';
import type { CheckModel, RealModel } from '../../src/config/model';
import { checkerSpec, checkerSpecs } from '../../src/health/from-config';
import { checkerId } from '../../src/health/identity';
import { validateCheckerSpec } from '../../src/health/validate';

const base: CheckModel = {
  type: 'tcp', intervalMs: 6000, timeoutMs: 3000, rise: 2, fall: 3, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false,
  port: 80, connectIp: '10.0.0.1', bindto: null, http: null, udp: null, script: null,
};
const real = (check: Partial<CheckModel>): RealModel => ({
  key: '10.0.0.1:80', address: '10.0.0.1', family: 4, port: 80, weight: 1, inhibitOnFailure: false, mac: null,
  check: { ...base, ...check }, notifyUp: null, notifyDown: null,
} as RealModel);

test('tcp: timing carried over; connect address/port that equal the real are not overrides', () => {
  const s = checkerSpec('svc', real({}))!;
  assert.deepEqual(s.timing, { intervalMs: 6000, rise: 2, fall: 3, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false });
  assert.deepEqual([s.check.connectIp, s.check.connectPort, s.check.timeoutMs], [null, null, 3000]);
  validateCheckerSpec(s);
  const o = checkerSpec('svc', real({ port: 8080, connectIp: '10.0.0.9' }))!;
  assert.deepEqual([o.check.connectIp, o.check.connectPort], ['10.0.0.9', 8080]);
  assert.notEqual(checkerId(o), checkerId(s));
});

test('none has no checker; http, udp and script map their blocks and validate', () => {
  assert.equal(checkerSpec('svc', real({ type: 'none', port: 0 })), null);
  const h = checkerSpec('svc', real({ type: 'https', http: { method: 'GET', path: '/health', host: null, status: '200,204', digest: null, regex: null, sni: 'a.example', verify: true } }))!;
  assert.equal(h.check.type, 'https');
  const u = checkerSpec('svc', real({ type: 'udp', udp: { payloadHex: '70696e67' } }))!;
  assert.deepEqual(u.check.type === 'udp' && u.check.payload.toString(), 'ping');
  const sc = checkerSpec('svc', real({ type: 'script', port: 0, script: { command: ['/bin/check', '%address%'], dynamic: false } }))!;
  assert.equal(sc.check.connectPort, null, 'port 0 (script) is no override');
  for (const s of [h, u, sc]) validateCheckerSpec(s);
  const all = checkerSpecs([{ key: 'svc', reals: [real({}), real({ type: 'none', port: 0 }), { ...real({}), key: '10.0.0.1:81', port: 81 }] }]);
  assert.deepEqual(all.map((s) => s.realKey), ['10.0.0.1:80', '10.0.0.1:81']);
});
