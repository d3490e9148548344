// VRRP no-accept mode in the data plane (keepalived no_accept, RFC 5798 §6.4.3): packets to a
// no-accept address that no VIP service takes are dropped instead of reaching the kernel;
// the services on that address still forward; IPv6 neighbour discovery still passes.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, runCounted, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, CLIENT6, realMac } from './fixtures/harness';
import { Dataplane } from '../../src/dataplane/dataplane';
import { parseAddr } from '../../src/dataplane/addr';

const V4 = '10.0.0.70';
const V6 = '2001:db8:70::70';
const h = harness('noaccept');

const run = (frame: Buffer) => { const r = runCounted(h.dp(), frame); return { verdict: r.verdict, reasons: r.reasons }; };
const e = () => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
const tcp4 = (dst: string, dport: number) => e().ipv4({ src: CLIENT4, dst }).tcp({ sport: 41000, dport, flags: 'S' }).build();
const udp4 = (dst: string, dport: number) => e().ipv4({ src: CLIENT4, dst }).udp({ sport: 41000, dport }).build();
const ping4 = (dst: string) => e().ipv4({ src: CLIENT4, dst }).icmp({ type: 8, id: 1, seq: 1 }).build();
const tcp6 = (dst: string, dport: number) => e().ipv6({ src: CLIENT6, dst }).tcp({ sport: 41000, dport, flags: 'S' }).build();
const icmp6 = (dst: string, type: number) => e().ipv6({ src: CLIENT6, dst, hopLimit: 255 }).icmpv6({ type, body: Buffer.concat([Buffer.alloc(4), parseAddr(dst, 'target').bytes]) }).build();

const PASS = (reason: string) => ({ verdict: XDP.XDP_PASS, reasons: { [reason]: 1n } });
const DROPPED = { verdict: XDP.XDP_DROP, reasons: { no_accept: 1n } };

describe('lb: no-accept addresses (VRRP accept: false)', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    const dp = h.dp();
    for (const [addr, id] of [[V4, 1], [V6, 2]] as const) {
      dp.vips.upsert({ address: addr, port: 80, protocol: 'tcp', method: 'dr' });
      dp.reals.set({ address: addr, port: 80, protocol: 'tcp' }, [{ id, address: addr.includes(':') ? '2001:db8:70::1' : '10.0.9.1', mac: realMac(id), weight: 1, state: 'up' }]);
    }
  });
  after(() => h.ctx.after!());

  test('before: everything but the service goes to the kernel', () => {
    assert.deepEqual(run(ping4(V4)), PASS('proto'));
    assert.deepEqual(run(tcp4(V4, 22)), PASS('not_vip'));
  });

  test('no-accept: the service still forwards; other ports, UDP, ICMP and IPv6 to the address are dropped; ND passes', () => {
    const dp = h.dp();
    assert.deepEqual(dp.vips.setNoAccept([V4, V6]), { added: [V4, V6], removed: [] });
    assert.deepEqual(dp.vips.listNoAccept(), [V6, V4].sort());
    assert.equal(run(tcp4(V4, 80)).verdict, XDP.XDP_TX);
    assert.deepEqual(run(tcp4(V4, 22)), DROPPED);
    assert.deepEqual(run(udp4(V4, 53)), DROPPED);
    assert.deepEqual(run(ping4(V4)), DROPPED);
    assert.equal(run(tcp6(V6, 80)).verdict, XDP.XDP_TX);
    assert.deepEqual(run(tcp6(V6, 443)), DROPPED);
    assert.deepEqual(run(icmp6(V6, 128)), DROPPED, 'echo request');
    assert.deepEqual(run(icmp6(V6, 135)), PASS('proto'), 'neighbour solicitation');
    assert.deepEqual(run(icmp6(V6, 136)), PASS('proto'), 'neighbour advertisement');
    // Other addresses are untouched, and frames for another MAC stay the kernel's to drop.
    assert.deepEqual(run(ping4('10.0.0.71')), PASS('proto'));
    assert.deepEqual(run(tcp4('10.0.0.71', 22)), PASS('not_vip'));
    assert.deepEqual(run(eth({ src: ROUTER_MAC, dst: '02:00:00:00:00:99' }).ipv4({ src: CLIENT4, dst: V4 }).tcp({ sport: 1, dport: 22 }).build()), PASS('not_ours'));
  });

  test('the filter bit stays with VIP changes in the same slot and leaves with the address', () => {
    const dp = h.dp();
    dp.vips.remove(`${V4}:80/tcp`);
    assert.deepEqual(run(tcp4(V4, 80)), DROPPED, 'no service left on the address');
    dp.vips.upsert({ address: V4, port: 80, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${V4}:80/tcp`, [{ id: 1, address: '10.0.9.1', mac: realMac(1), weight: 1, state: 'up' }]);
    assert.equal(run(tcp4(V4, 80)).verdict, XDP.XDP_TX);
    assert.deepEqual(run(ping4(V4)), DROPPED);
    assert.deepEqual(dp.vips.setNoAccept([V6]), { added: [], removed: [V4] });
    assert.deepEqual(run(ping4(V4)), PASS('proto'));
    assert.deepEqual(run(tcp4(V4, 22)), PASS('not_vip'));
    assert.deepEqual(run(icmp6(V6, 128)), DROPPED);
  });

  test('a bad address is refused before anything is written', () => {
    const dp = h.dp();
    assert.throws(() => dp.vips.setNoAccept([V4, 'not-an-address']), /noAccept\[1\]: "not-an-address" is not an IPv4 or IPv6 address/);
    assert.deepEqual(dp.vips.listNoAccept(), [V6]);
    assert.deepEqual(run(ping4(V4)), PASS('proto'));
  });

  test('a restarted daemon reads the set back from the pinned map', () => {
    const again = Dataplane.adopt(h.dp().pinDir);
    try {
      assert.deepEqual(again.vips.listNoAccept(), [V6]);
    } finally {
      again.close();
    }
  });
});
