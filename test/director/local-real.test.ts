// A director that is also a real of its service, as the Director sees it: the keepalived.conf of
// the LVS write-up (two Redis hosts, each a director and a real) imported, then the same topology
// on each host. Which real is local comes from the host's addresses, the local mode from the VRRP
// state of the instance that carries the VIP; a VRRP transition names the services to apply. No
// maps: the Director is given an empty stand-in data plane (test/dataplane/local-real.test.ts
// runs the packets).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { repoRoot } from '../../src/paths';
import { emitTopology, importKeepalived } from '../../src/import';
import { loadTopology } from '../../src/config/load';
import { Director } from '../../src/director/director';
import type { Dataplane } from '../../src/dataplane/dataplane';

const imported = importKeepalived(path.join(repoRoot(), 'test', 'import', 'fixtures', 'director-is-real.conf'), { displayName: 'director-is-real.conf' });
const topo = loadTopology(emitTopology(imported, { source: 'director-is-real.conf' }));
const SVC = '192.168.81.229:6379/tcp';
const emptyDataplane = { vips: { list: () => [] }, reals: { list: () => [] } } as unknown as Dataplane;

function on(host: string | null): Director {
  const d = new Director(emptyDataplane, topo);
  if (host) d.setHostAddresses([host]);
  for (const a of ['192.168.81.51', '192.168.81.234']) if (a !== host) d.setMac(a, '02:00:00:00:00:34');
  return d;
}

test('the importer reports the notify scripts as unnecessary and keeps both reals', () => {
  const note = imported.notes.find((n) => /notify_master .* and notify_backup .* are unnecessary if this machine is also a real of 192\.168\.81\.229:6379\/tcp/.test(n.message));
  assert.ok(note, imported.notes.map((n) => n.message).join('\n'));
  assert.match(note.message, /puts the VIP on lo and sets arp_ignore=1\/arp_announce=2 once/);
  assert.deepEqual(topo.services[0].reals.map((r) => [r.address, r.local]), [['192.168.81.51', false], ['192.168.81.234', false]]);
});

test('each host finds its own real by its addresses; a host that is no real has none', () => {
  for (const host of ['192.168.81.51', '192.168.81.234']) {
    const svc = on(host).desired().services.get(SVC)!;
    assert.deepEqual(svc.reals.map((r) => [r.address, r.local, r.state]), [
      ['192.168.81.51', host === '192.168.81.51', 'up'], ['192.168.81.234', host === '192.168.81.234', 'up'],
    ], `on ${host}: the local real needs no MAC and is up`);
  }
  const other = on('192.168.81.9').desired().services.get(SVC)!;
  assert.equal(other.vip.localMode, 'none');
  assert.ok(other.reals.every((r) => !r.local));
});

test('local mode follows the VRRP state of the instance carrying the VIP; a transition names the service', () => {
  const d = on('192.168.81.51');
  assert.equal(d.desired().services.get(SVC)!.vip.localMode, 'backup', 'before VRRP says anything, deliver only (IPVS backup_only)');
  assert.deepEqual([...d.setVrrpState('VI_1', 'BACKUP')], [], 'INIT -> BACKUP changes nothing');
  assert.deepEqual([...d.setVrrpState('VI_1', 'MASTER')], [SVC]);
  assert.equal(d.desired().services.get(SVC)!.vip.localMode, 'active');
  assert.deepEqual([...d.setVrrpState('VI_1', 'FAULT')], [SVC]);
  assert.equal(d.desired().services.get(SVC)!.vip.localMode, 'backup');
  // A director that is no real of the service does not care about its VRRP state here.
  const o = on('192.168.81.9');
  assert.deepEqual([...o.setVrrpState('VI_1', 'MASTER')], []);
});

test('a VIP no VRRP instance carries is always held; local: true marks a real without the address', () => {
  const t = loadTopology(`
director: { name: d1, interface: eth0 }
services:
  - vip: 10.1.0.100
    port: 80
    reals:
      - { address: 10.1.0.51, local: true }
      - { address: 10.1.0.52, mac: "02:00:00:00:00:52" }
`);
  const d = new Director(emptyDataplane, t);
  const svc = d.desired().services.get('10.1.0.100:80/tcp')!;
  assert.equal(svc.vip.localMode, 'active');
  assert.deepEqual(svc.reals.map((r) => r.local), [true, false]);
  assert.deepEqual(d.localVips(), ['10.1.0.100']);
});

test('a restarted daemon keeps the local mode it adopted until VRRP reports the instance', () => {
  const vip = {
    key: SVC, id: 1, address: '192.168.81.229', port: 6379, protocol: 'tcp', method: 'dr', scheduler: 'maglev', persistenceTimeoutMs: 0,
    persistencePrefix: 32, tableSize: 65537, onDown: 'expire', sorryReal: 0, timeouts: { tcp: 900, tcpFin: 120, udp: 300 }, localMode: 'active', localReal: 1,
  };
  const real = (id: number, address: string, local: boolean) => ({
    id, vipKey: SVC, address, mac: local ? '00:00:00:00:00:00' : '02:00:00:00:00:34', nexthopMac: null, weight: 1, state: 'up', sorry: false,
    upperThreshold: 0, lowerThreshold: 0, local,
  });
  const pinned = { vips: { list: () => [vip] }, reals: { list: () => [real(1, '192.168.81.51', true), real(2, '192.168.81.234', false)] } } as unknown as Dataplane;
  const d = new Director(pinned, topo, { adoptPinned: true });
  d.setHostAddresses(['192.168.81.51']);
  d.setMac('192.168.81.234', '02:00:00:00:00:34');
  assert.equal(d.desired().services.get(SVC)!.vip.localMode, 'active', 'the Master\'s pinned program keeps scheduling while VRRP starts');
  assert.deepEqual([...d.setVrrpState('VI_1', 'BACKUP')], [SVC], 'VRRP\'s first word decides');
  assert.equal(d.desired().services.get(SVC)!.vip.localMode, 'backup');
});
