// The Dataplane API: pins survive close(), adopt() reopens them with flows intact, bad specs
// name their field and change nothing, and read-back matches what was written.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { eth } from '../lib/packet';
import { XDP } from '../lib/fixtures';
import { needsBpf } from '../lib/env';
import { pinThreadToCpu } from '../../src/loader';
import { Dataplane } from '../../src/dataplane/dataplane';
import { isXlvsError, ErrorCodes } from '../../src/errors';
import { DIRECTOR_MAC, ROUTER_MAC, realMac } from './fixtures/harness';

const pinDir = `/sys/fs/bpf/xlvs-test-dp-api-${process.pid}`;
const VIP = '10.0.0.70';
const KEY = `${VIP}:80/tcp`;
const open: Dataplane[] = [];
after(() => {
  for (const d of open) try { d.close(); } catch { /* closed */ }
  if (fs.existsSync(pinDir)) {
    try { Dataplane.adopt(pinDir).destroy(); } catch { fs.rmSync(pinDir, { recursive: true, force: true }); }
  }
});

const real = (id: number, state: 'up' | 'drain' | 'down' = 'up') => ({ id, address: `10.6.0.${id}`, mac: realMac(id), weight: 1, state });
const flow = (i: number, flags = 'A') => eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: `198.18.0.${i}`, dst: VIP }).tcp({ sport: 7000 + i, dport: 80, flags }).build();
const code = (c: string) => (e: unknown) => isXlvsError(e) && e.code === c;

test('create, close, adopt: pins outlive the process handle and flows keep their real', needsBpf(), () => {
  pinThreadToCpu(0);
  const dp = Dataplane.create({ pinDir, mac: DIRECTOR_MAC, tunSource4: '198.51.100.1', mtu: 9000, hashSeed: 7 });
  open.push(dp);
  dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', persistenceTimeoutMs: 60000, persistencePrefix: 24, tableSize: 251, onDown: 'keep', scheduler: 'source-hash' });
  dp.reals.set(KEY, [real(1), real(2), real(3)]);
  const first = new Map<number, number>();
  for (let i = 1; i <= 20; i++) first.set(i, dp.program.testRun(flow(i, 'S')).data[5]);
  dp.close();

  assert.throws(() => Dataplane.create({ pinDir, mac: DIRECTOR_MAC }), code(ErrorCodes.DATAPLANE_STATE));

  const again = Dataplane.adopt(pinDir);
  open.push(again);
  assert.deepEqual(again.config(), { mac: DIRECTOR_MAC, tunSource4: '198.51.100.1', mtu: 9000, hashSeed: 7 });
  assert.deepEqual(again.vips.list().map((v) => [v.key, v.method, v.scheduler, v.persistenceTimeoutMs, v.persistencePrefix, v.tableSize, v.onDown]),
    [[KEY, 'dr', 'source-hash', 60000, 24, 251, 'keep']]);
  assert.deepEqual(again.reals.list(KEY).map((r) => [r.id, r.address, r.mac, r.weight, r.state]),
    [1, 2, 3].map((id) => [id, `10.6.0.${id}`, realMac(id), 1, 'up']));
  assert.equal(again.flows.connections().length, 20);
  // A new real set after the restart: established flows stay where they were.
  again.reals.set(KEY, [real(1), real(2), real(3), real(4)]);
  for (let i = 1; i <= 20; i++) {
    const r = again.program.testRun(flow(i));
    assert.equal(r.retval, XDP.XDP_TX);
    assert.equal(r.data[5], first.get(i), `flow ${i} moved after adopt`);
  }
  const c = again.stats.counters();
  assert.equal(c.vips[0].packets, 40n);
  assert.equal(c.vips[0].newFlows, 20n);
  assert.equal(c.reasons.tx_dr, 40n);
  again.destroy();
  assert.equal(fs.existsSync(pinDir), false);
  assert.throws(() => Dataplane.adopt(pinDir), code(ErrorCodes.BPF_NO_PROGRAM));
});

test('bad input names the field and changes nothing', needsBpf(), () => {
  pinThreadToCpu(0);
  const dp = Dataplane.create({ pinDir, mac: DIRECTOR_MAC });
  open.push(dp);
  try {
    assert.throws(() => Dataplane.create({ pinDir: pinDir + '-x', mac: 'nope' }), /config\.mac: "nope" is not a MAC/);
    assert.throws(() => Dataplane.create({ pinDir: pinDir + '-x', mac: DIRECTOR_MAC, mtu: 1000 }), /config\.mtu: 1000 is not an integer 1320\.\.65535/);
    assert.equal(fs.existsSync(pinDir + '-x'), false);
    assert.throws(() => dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr', tableSize: 1000 }), /tableSize: 1000 is not prime/);
    assert.throws(() => dp.vips.upsert({ address: '10.0.0.300', port: 80, protocol: 'tcp', method: 'dr' }), /vip\.address: "10\.0\.0\.300"/);
    assert.throws(() => dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'masq' as 'dr' }), /method: "masq" is not one of dr, tun, nat, fullnat/);
    // NAT and full-NAT: the pool belongs to full-NAT only, in the VIP's family, 1..8 addresses.
    const pool = (addresses: string[], more = {}) => ({ address: VIP, port: 80, protocol: 'tcp' as const, method: 'fullnat' as const, snatPool: { addresses, ...more } });
    assert.throws(() => dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'nat', snatPool: { addresses: ['10.9.0.1'] } }), /snatPool: only a fullnat VIP has a source pool/);
    assert.throws(() => dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'fullnat' }), /snatPool: a fullnat VIP needs \{addresses/);
    assert.throws(() => dp.vips.upsert(pool(['2001:db8::1'])), /snatPool\.addresses\[0\]: 2001:db8::1 is not of the VIP's family/);
    assert.throws(() => dp.vips.upsert(pool(Array.from({ length: 9 }, (_, i) => `10.9.0.${i + 1}`))), /snatPool\.addresses: 9 addresses: 1\.\.8/);
    assert.throws(() => dp.vips.upsert(pool(['10.9.0.1', '10.9.0.1'])), /snatPool\.addresses\[1\]: 10\.9\.0\.1 is listed twice/);
    assert.throws(() => dp.vips.upsert(pool(['10.9.0.1'], { portMin: 2000, portMax: 1999 })), /snatPool\.portMax: 1999 is not an integer 2000\.\.65535/);
    assert.equal(dp.vips.list().length, 0);

    dp.vips.upsert({ address: VIP, port: 80, protocol: 'tcp', method: 'dr' });
    dp.reals.set(KEY, [real(1), real(2)]);
    const before = JSON.stringify(dp.reals.list());
    assert.throws(() => dp.reals.set(KEY, [real(1), { ...real(3), mac: 'zz' }]), /reals\[1\]\.mac: "zz"/);
    assert.throws(() => dp.reals.set(KEY, [real(1), real(1)]), /reals\[1\]\.id: 1 is used twice/);
    assert.throws(() => dp.reals.set(KEY, [real(1), { ...real(2), address: '10.6.0.1' }]), /reals\[1\]\.address: 10\.6\.0\.1 is already real id 1/);
    assert.throws(() => dp.reals.set(KEY, [{ ...real(1), weight: 70000 }]), /weight: 70000 is not an integer 0\.\.65535/);
    // DR keeps the VIP's port; NAT maps it but not across families.
    assert.throws(() => dp.reals.set(KEY, [{ ...real(1), port: 8080 }]), /reals\[0\]\.port: 8080: DR and TUN keep the VIP's port 80/);
    dp.vips.upsert({ address: VIP, port: 82, protocol: 'tcp', method: 'nat' });
    assert.throws(() => dp.reals.set(`${VIP}:82/tcp`, [{ ...real(7), address: '2001:db8::7', port: 8080 }]), /reals\[0\]\.address: 2001:db8::7: NAT cannot change the address family/);
    assert.throws(() => dp.reals.set(`${VIP}:82/tcp`, [{ ...real(7), port: 70000 }]), /reals\[0\]\.port: 70000 is not an integer 0\.\.65535/);
    dp.reals.set(`${VIP}:82/tcp`, [{ ...real(7), mac: '00:00:00:00:00:00', port: 8080 }]);
    assert.equal(dp.reals.list(`${VIP}:82/tcp`)[0].port, 8080, 'a NAT real needs no MAC; its port is kept');
    dp.vips.remove(`${VIP}:82/tcp`);
    dp.vips.upsert({ address: VIP, port: 81, protocol: 'tcp', method: 'tun' });
    assert.throws(() => dp.reals.set(`${VIP}:81/tcp`, [real(2)]), code(ErrorCodes.DATAPLANE_STATE));
    assert.throws(() => dp.reals.set(`${VIP}:81/tcp`, [{ ...real(5), address: '2001:db8::5' }]), /needs config\.tunSource6/);
    assert.throws(() => dp.reals.set('10.0.0.99:80/tcp', [real(9)]), /VIP 10\.0\.0\.99:80\/tcp is not configured/);
    assert.equal(JSON.stringify(dp.reals.list()), before);
    // The table in force still forwards to the reals of before.
    const r = dp.program.testRun(flow(1, 'S'));
    assert.equal(r.retval, XDP.XDP_TX);
    assert.ok([1, 2].includes(r.data[5]));

    dp.vips.remove(KEY);
    assert.deepEqual(dp.vips.list().map((v) => v.key), [`${VIP}:81/tcp`]);
    assert.deepEqual(dp.reals.list(), []);
    assert.equal(dp.program.testRun(flow(2, 'S')).retval, XDP.XDP_PASS);
  } finally {
    dp.destroy();
  }
});
