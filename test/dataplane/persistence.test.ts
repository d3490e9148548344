// Persistence (ipvsadm -p T -M mask): clients of one /24 keep one real while the template
// lives, whatever their ports; once it expires the next connection is scheduled afresh.
// Two VIPs hash the client address and port only (maglev-source-port) over the same reals, so
// they have identical Maglev tables: the one without persistence shows where a flow would go.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { setTimeout as sleep } from 'node:timers/promises';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { XDP } from '../lib/fixtures';
import { harness, DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';

const PROBE = '10.0.0.60';
const STICKY = '10.0.0.61';
const TIMEOUT_MS = 300;
const h = harness('persist');
const macOfAddr = (n: number) => realMac(n);

function send(vip: string, client: string, sport: number): number {
  const input = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport, dport: 80, flags: 'S' }).build();
  const r = h.dp().program.testRun(input);
  assert.equal(r.retval, XDP.XDP_TX);
  const n = r.data[5];
  const want = eth({ src: DIRECTOR_MAC, dst: macOfAddr(n) }).ipv4({ src: client, dst: vip }).tcp({ sport, dport: 80, flags: 'S' }).build();
  assert.equal(diffPackets(want, r.data), '');
  return n; // the real's last address byte = its MAC's last byte
}

/** The handshake's ACK: confirms the flow, and with it the client's persistence template. */
function ack(vip: string, client: string, sport: number): void {
  const input = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport, dport: 80, flags: 'A' }).build();
  assert.equal(h.dp().program.testRun(input).retval, XDP.XDP_TX);
}

describe('lb: persistence', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    const dp = h.dp();
    dp.vips.upsert({ address: PROBE, port: 80, protocol: 'tcp', method: 'dr', scheduler: 'maglev-source-port' });
    dp.vips.upsert({ address: STICKY, port: 80, protocol: 'tcp', method: 'dr', scheduler: 'maglev-source-port', persistenceTimeoutMs: TIMEOUT_MS, persistencePrefix: 24 });
    const reals = (base: number) => [1, 2, 3, 4].map((n) => ({ id: base + n, address: `10.4.0.${n}`, mac: realMac(n), weight: 1, state: 'up' as const }));
    dp.reals.set(`${PROBE}:80/tcp`, reals(0));
    dp.reals.set(`${STICKY}:80/tcp`, reals(10));
  });
  after(() => h.ctx.after!());

  const client = '203.0.113.7';
  const probe = new Map<number, number>();

  test('without persistence, ports of one client spread', () => {
    for (let p = 1000; p < 1032; p++) probe.set(p, send(PROBE, client, p));
    assert.ok(new Set(probe.values()).size >= 3);
  });

  let held = 0;
  test('with persistence, every port and every host of the /24 gets the first real', () => {
    held = send(STICKY, client, 1000);
    assert.equal(held, probe.get(1000));
    // Until the handshake completes the template is the unconfirmed flow's (lb_new); SYNs of
    // the client follow it all the same.
    assert.equal(send(STICKY, client, 1001), held);
    assert.equal(h.dp().flows.persistence(`${STICKY}:80/tcp`, client), null);
    ack(STICKY, client, 1000);
    for (let p = 1002; p < 1032; p++) assert.equal(send(STICKY, client, p), held, `port ${p}`);
    assert.equal(send(STICKY, '203.0.113.200', 1005), held, 'same /24, other host');
    assert.equal(h.dp().flows.persistence(`${STICKY}:80/tcp`, '203.0.113.99')?.realId, 10 + held);
    assert.equal(h.dp().flows.persistence(`${STICKY}:80/tcp`, '203.0.114.7'), null);
  });

  test('after the timeout the template is ignored and replaced by a new choice', async () => {
    const other = [...probe].find(([p, n]) => p >= 2000 || n !== held);
    assert.ok(other, 'every probed port maps to the held real');
    await sleep(TIMEOUT_MS + 150);
    // A new connection (a port not used before on the sticky VIP) whose hash picks another real.
    let port = 0;
    for (let p = 1032; p < 1200 && !port; p++) {
      if (send(PROBE, client, p) !== held) port = p;
    }
    assert.ok(port, 'no port found whose Maglev choice differs from the held real');
    const expect = send(PROBE, client, port);
    assert.equal(send(STICKY, client, port), expect);
    ack(STICKY, client, port);
    assert.equal(h.dp().flows.persistence(`${STICKY}:80/tcp`, client)?.realId, 10 + expect);
    assert.equal(send(STICKY, client, port + 1000), expect, 'the new template holds');
  });
});
