// How the lb program finds a packet's VIP. The pre-filter (lb_vip_filter, bpf/include/lb_shared.h): a slot per hashed destination
// address says which kinds of VIP may live there. It may let a non-VIP packet through to the
// lb_vips lookup (shared slot) but must never hide a VIP, and removing one VIP of a shared slot
// must keep the other's bits. Two addresses that share a slot are found with the control
// plane's vipFilterSlot(); the BPF side hashes on its own, so every forward below also checks
// that both compute the same slot. Established flows find their VIP by the connection entry's
// vip_id (lb_vip_ids): that copy must follow policy changes and removals, and must not keep a
// flow on a port-0 VIP once a VIP for its exact port exists.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { BpfMap } from '../../src/loader';
import { vipFilterSlot, LB } from '../../src/maps/lb';
import { parseAddr } from '../../src/dataplane/addr';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { harness, runCounted, DIRECTOR_MAC, ROUTER_MAC, CLIENT4, CLIENT6, realMac } from './fixtures/harness';

const h = harness('vipfilter');
const slotOf = (a: string) => vipFilterSlot(parseAddr(a, 'address').bytes);

/** Two IPv4 addresses in 10.0.0.0/8 with the same slot, found by search (deterministic). */
function sharedSlotPair(): [string, string] {
  const seen = new Map<number, string>();
  for (let n = 1; n < 1 << 24; n++) {
    const a = `10.${n >> 16}.${(n >> 8) & 0xff}.${n & 0xff}`;
    const s = slotOf(a);
    const other = seen.get(s);
    if (other) return [other, a];
    seen.set(s, a);
  }
  throw new Error('no two addresses of 10.0.0.0/8 share a slot');
}

const [A, B] = sharedSlotPair();
const V6 = '2001:db8:9::10';

function send(dst: string, dport: number, proto: 'tcp' | 'udp' = 'tcp', flags = 'S'): { verdict: number; reasons: Record<string, bigint>; to: string } {
  const p = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC });
  const l3 = dst.includes(':') ? p.ipv6({ src: CLIENT6, dst }) : p.ipv4({ src: CLIENT4, dst });
  const frame = proto === 'tcp' ? l3.tcp({ sport: 40000, dport, flags }).build() : l3.udp({ sport: 40000, dport }).build();
  const r = runCounted(h.dp(), frame);
  return { verdict: r.verdict, reasons: r.reasons, to: r.out.subarray(0, 6).toString('hex').replace(/(..)(?!$)/g, '$1:') };
}

const fwd = (r: ReturnType<typeof send>) => ({ verdict: r.verdict, reasons: r.reasons });

function filterSlot(addr: string): number {
  const m = BpfMap.openPinned(path.join(h.dp().pinDir, 'lb_vip_filter'));
  try {
    const k = Buffer.alloc(4);
    k.writeUInt32LE(slotOf(addr));
    return m.lookup(k)!.readUInt32LE(0);
  } finally {
    m.close();
  }
}

describe('lb: VIP pre-filter', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
  });
  after(() => h.ctx.after!());

  test(`${A} and ${B} share slot ${slotOf(A)}; a packet to the one that is no VIP is passed as not_vip`, () => {
    assert.equal(slotOf(A), slotOf(B));
    const dp = h.dp();
    dp.vips.upsert({ address: A, port: 80, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${A}:80/tcp`, [{ id: 1, address: '10.255.255.1', mac: realMac(1), weight: 1, state: 'up' }]);
    assert.equal(filterSlot(A), LB.VF_TCP);
    assert.deepEqual(fwd(send(A, 80)), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } });
    assert.deepEqual(fwd(send(B, 80)), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } }, 'slot shared, lb_vips has no such VIP');
    assert.deepEqual(fwd(send(A, 81)), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } }, 'VIP address, other port');
    assert.deepEqual(fwd(send(A, 80, 'udp')), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } }, 'VIP address, other protocol');
  });

  test('a port-0 VIP in the shared slot sets its own bit; removing the other VIP keeps it', () => {
    const dp = h.dp();
    dp.vips.upsert({ address: B, port: 0, protocol: 'udp', method: 'dr' });
    dp.reals.set(`${B}:0/udp`, [{ id: 2, address: '10.255.255.2', mac: realMac(2), weight: 1, state: 'up' }]);
    assert.equal(filterSlot(A), LB.VF_TCP | LB.VF_UDP_ALL);
    assert.deepEqual(fwd(send(B, 5353, 'udp')), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } });
    dp.vips.remove(`${A}:80/tcp`);
    assert.equal(filterSlot(B), LB.VF_UDP_ALL);
    assert.deepEqual(fwd(send(A, 80)), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } }, 'removed VIP');
    assert.deepEqual(fwd(send(B, 53, 'udp')), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } }, 'the slot still lets the other VIP through');
    dp.vips.remove(`${B}:0/udp`);
    assert.equal(filterSlot(B), 0, 'slot cleared with its last VIP');
    assert.deepEqual(fwd(send(B, 53, 'udp')), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
  });

  test('IPv6 VIPs hash all four words of the address', () => {
    const dp = h.dp();
    dp.vips.upsert({ address: V6, port: 443, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`[${V6}]:443/tcp`, [{ id: 3, address: '2001:db8:9::1:1', mac: realMac(3), weight: 1, state: 'up' }]);
    assert.equal(filterSlot(V6), LB.VF_TCP);
    assert.deepEqual(fwd(send(V6, 443)), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } });
    // The same low word in another /64: another slot here, and not a VIP either way.
    assert.deepEqual(fwd(send('2001:db8:8::10', 443)), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
  });

  test('a packet whose address and protocol have no filter bit is passed before the full parse; one that may be ours is checked', () => {
    const dp = h.dp();
    const V = '10.0.88.1';
    dp.vips.upsert({ address: V, port: 80, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${V}:80/tcp`, [{ id: 4, address: '10.255.255.4', mac: realMac(4), weight: 1, state: 'up' }]);
    const frame = (dst: string, ip: Record<string, unknown>) => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: CLIENT4, dst, ...ip }).tcp({ sport: 40000, dport: 80, flags: 'S' }).build();
    const run = (f: Buffer) => { const r = runCounted(dp, f); return { verdict: r.verdict, reasons: r.reasons }; };
    // To another address: the kernel gets it and checks it itself (only the header's bounds,
    // version, protocol and destination were read).
    assert.deepEqual(run(frame('10.0.88.2', { checksum: 0x1234 })), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
    assert.deepEqual(run(frame('10.0.88.2', { mf: true, df: false })), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
    // To the VIP: every check runs, nothing malformed is forwarded.
    assert.deepEqual(run(frame(V, { checksum: 0x1234 })), { verdict: XDP.XDP_DROP, reasons: { malformed: 1n } });
    assert.deepEqual(run(frame(V, { mf: true, df: false })), { verdict: XDP.XDP_PASS, reasons: { fragment: 1n } });
    assert.deepEqual(run(frame(V, {})), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } });
    dp.vips.remove(`${V}:80/tcp`);
  });

  test('an established flow follows its VIP by id: policy changes, an exact-port VIP over port 0, removal', () => {
    const dp = h.dp();
    const C = '10.0.77.1';
    dp.vips.upsert({ address: C, port: 0, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${C}:0/tcp`, [{ id: 10, address: '10.255.0.10', mac: realMac(10), weight: 1, state: 'up' }]);
    const first = send(C, 8080);
    assert.deepEqual(fwd(first), { verdict: XDP.XDP_TX, reasons: { tx_dr: 1n } });
    assert.equal(first.to, realMac(10));
    assert.equal(send(C, 8080, 'tcp', 'A').to, realMac(10), 'established on the port-0 VIP');
    // Policy change: the flow's next packet is tunnelled (the id copy was rewritten too).
    dp.vips.upsert({ address: C, port: 0, protocol: 'tcp', method: 'tun' });
    assert.deepEqual(fwd(send(C, 8080, 'tcp', 'A')), { verdict: XDP.XDP_TX, reasons: { tx_tun: 1n } });
    dp.vips.upsert({ address: C, port: 0, protocol: 'tcp', method: 'dr' });
    // A VIP for the flow's exact port now exists: it wins, as for a new flow.
    dp.vips.upsert({ address: C, port: 8080, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${C}:8080/tcp`, [{ id: 11, address: '10.255.0.11', mac: realMac(11), weight: 1, state: 'up' }]);
    assert.equal(send(C, 8080, 'tcp', 'A').to, realMac(11), 'moved to the exact-port VIP');
    assert.equal(send(C, 9090, 'tcp', 'A').to, realMac(10), 'other ports stay on port 0');
    // Removal: the established flow is no longer forwarded.
    dp.vips.remove(`${C}:8080/tcp`);
    assert.equal(send(C, 8080, 'tcp', 'A').to, realMac(10), 'back on port 0');
    dp.vips.remove(`${C}:0/tcp`);
    assert.deepEqual(fwd(send(C, 8080, 'tcp', 'A')), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
    assert.deepEqual(fwd(send(C, 9090, 'tcp', 'A')), { verdict: XDP.XDP_PASS, reasons: { not_vip: 1n } });
  });
});
