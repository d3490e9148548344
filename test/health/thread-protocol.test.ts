// What the health thread receives: specs pass through postMessage, whose structured clone turns a
// Buffer into a plain Uint8Array. A UDP check's payload must come out a Buffer again, or the
// thread refuses every UDP check (the daemon then exits at start).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { reviveSpec } from '../../src/health/thread-protocol';
import { validateCheckerSpec } from '../../src/health/validate';
import type { CheckerSpec } from '../../src/health/types';

const spec: CheckerSpec = {
  serviceKey: '10.0.0.100:53/udp', realKey: '10.0.0.11:53',
  check: { type: 'udp', address: '10.0.0.11', port: 53, timeoutMs: 500, payload: Buffer.from('ping') },
  timing: { intervalMs: 1000, rise: 1, fall: 2, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false },
} as CheckerSpec;

/** One real trip through a MessagePort, as between the daemon and its health thread. */
function posted(s: CheckerSpec): Promise<CheckerSpec> {
  const { port1, port2 } = new MessageChannel();
  return new Promise((resolve) => {
    port2.once('message', (m: CheckerSpec) => { port1.close(); port2.close(); resolve(m); });
    port1.postMessage(s);
  });
}

test('a UDP payload sent to the health thread is a Buffer again there, with the same bytes', async () => {
  const got = await posted(spec);
  assert.ok(got.check.type === 'udp' && !Buffer.isBuffer(got.check.payload), 'postMessage delivers a plain Uint8Array');
  assert.throws(() => validateCheckerSpec(got), /payload: must be a Buffer/);
  const back = reviveSpec(got);
  validateCheckerSpec(back);
  assert.ok(back.check.type === 'udp' && Buffer.isBuffer(back.check.payload) && back.check.payload.toString() === 'ping');
  // Other checks pass through as they are.
  const tcp = { ...spec, check: { type: 'tcp', address: '10.0.0.11', port: 53, timeoutMs: 500 } } as CheckerSpec;
  assert.equal(reviveSpec(tcp), tcp);
});
