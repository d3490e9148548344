// Grouped services (ports: [80, 443], ranges; IPVS's fwmark services): every port of a group
// finds the same VIP id, so a client's persistence template holds across the ports, a port of a
// range reaches the service, a port outside the group is not a VIP, removing the group removes
// every port, and a group that replaces an overlapping service takes its ports over without a
// moment where they miss.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import { eth } from '../lib/packet';
import { diffPackets } from '../lib/packet-parse';
import { XDP } from '../lib/fixtures';
import * as path from 'node:path';
import { lbReasonStats } from '../../src/maps/lb';
import { BpfMap } from '../../src/loader';
import { Dataplane, type VipState } from '../../src/dataplane/dataplane';
import { harness, DIRECTOR_MAC, ROUTER_MAC, CLIENT6, realMac } from './fixtures/harness';
import { Reconciler, DataplanePort } from '../../src/reconciler/reconciler';
import { RealIds } from '../../src/reconciler/ids';
import type { DesiredService, DesiredState } from '../../src/reconciler/desired';
import { DataplanePortAdapter } from '../../src/director/dataplane-port';

const WEB = '10.0.0.70'; // group 80,443 with persistence; 8080 a service of its own
const PROBE = '10.0.0.71'; // the same group and reals without persistence: where flows would go
const GAME = '10.0.0.72'; // ranges
const CLIENT = '203.0.113.7';
const h = harness('grouped');

const reals = (base: number) => [1, 2, 3, 4].map((n) => ({ id: base + n, address: `10.4.0.${n}`, mac: realMac(n), weight: 1, state: 'up' as const }));

/** The verdict reasons' counters, summed over CPUs (lb_reasons alone: the full counters walk every real). */
let reasonMap: BpfMap | null = null;
function reasons(): Record<string, bigint> {
  reasonMap ??= BpfMap.openPinned(path.join(h.dp().pinDir, 'lb_reasons'));
  const out: Record<string, bigint> = {};
  for (const b of reasonMap.lookupPerCpu(Buffer.alloc(4)) ?? []) {
    for (const [k, v] of Object.entries(lbReasonStats.decode(b))) out[k] = (out[k] ?? 0n) + (v as bigint);
  }
  return out;
}

/** Sends one TCP segment; the real's number (its MAC's last byte) it was forwarded to, else the verdict's reason. */
function send(vip: string, dport: number, sport: number, flags = 'S', client = CLIENT): number | string {
  const input = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv4({ src: client, dst: vip }).tcp({ sport, dport, flags }).build();
  const before = reasons();
  const r = h.dp().program.testRun(input);
  if (r.retval !== XDP.XDP_TX) {
    const after = reasons();
    return Object.keys(after).filter((k) => after[k] !== before[k]).join(',');
  }
  const n = r.data[5];
  const want = eth({ src: DIRECTOR_MAC, dst: realMac(n) }).ipv4({ src: client, dst: vip }).tcp({ sport, dport, flags }).build();
  assert.equal(diffPackets(want, r.data), '', 'DR keeps the destination port');
  return n;
}

describe('lb: grouped services', h.ctx.testOptions ?? {}, () => {
  before(async () => {
    await h.ctx.before!();
    const dp = h.dp();
    const common = { protocol: 'tcp' as const, method: 'dr' as const, port: 0, scheduler: 'maglev-source-port' };
    dp.vips.upsert({ ...common, address: WEB, ports: '80,443', persistenceTimeoutMs: 60_000 });
    dp.reals.set(`${WEB}:80,443/tcp`, reals(0));
    dp.vips.upsert({ ...common, address: PROBE, ports: '80,443' });
    dp.reals.set(`${PROBE}:80,443/tcp`, reals(10));
    dp.vips.upsert({ address: WEB, port: 8080, protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${WEB}:8080/tcp`, [{ id: 30, address: '10.4.0.9', mac: realMac(9), weight: 1, state: 'up' }]);
    dp.vips.upsert({ ...common, address: GAME, ports: '20000,10000-10100' });
    dp.reals.set(`${GAME}:10000-10100,20000/tcp`, reals(40));
  });
  after(() => { reasonMap?.close(); reasonMap = null; return h.ctx.after!(); });

  test('one VIP id per group, its key the canonical port list', () => {
    const list = h.dp().vips.list();
    const web = list.find((v) => v.key === `${WEB}:80,443/tcp`);
    const game = list.find((v) => v.key === `${GAME}:10000-10100,20000/tcp`);
    assert.ok(web && game);
    assert.equal(web.ports, '80,443');
    assert.equal(game.ports, '10000-10100,20000');
    assert.equal(list.filter((v) => v.address === WEB).length, 2, 'the group and 8080');
  });

  test('a daemon adopting the pins reads each group back under its key and id', () => {
    const again = Dataplane.adopt(h.dp().pinDir);
    try {
      const view = (l: VipState[]) => l.map((v) => [v.key, v.id, v.ports, v.waitingPorts, v.port]);
      assert.deepEqual(view(again.vips.list()), view(h.dp().vips.list()));
      assert.ok(again.vips.list().some((v) => v.key === `${GAME}:10000-10100,20000/tcp`));
    } finally {
      again.close();
    }
  });

  test('without persistence, the ports of one client spread over the reals', () => {
    const seen = new Set<number | string>();
    for (let s = 1000; s < 1016; s++) seen.add(send(PROBE, s % 2 ? 443 : 80, s));
    assert.ok([...seen].every((x) => typeof x === 'number'), `all forwarded: ${[...seen]}`);
    assert.ok(seen.size >= 3, `spread over ${seen.size} reals`);
  });

  test('with persistence, HTTP and HTTPS of one client reach the same real', () => {
    const held = send(WEB, 80, 1000);
    assert.equal(typeof held, 'number');
    assert.equal(send(WEB, 80, 1000, 'A'), held); // confirms the flow and its template
    assert.equal(h.dp().flows.persistence(`${WEB}:80,443/tcp`, CLIENT)?.realId, 0 + (held as number));
    for (let s = 2000; s < 2016; s++) assert.equal(send(WEB, 443, s), held, `443 from source port ${s}`);
    // The probe group sends some of those source ports elsewhere: the template is what held them.
    const probe = new Set<number | string>();
    for (let s = 2000; s < 2016; s++) probe.add(send(PROBE, 443, s));
    assert.ok([...probe].some((n) => n !== held), 'every probed flow hashed to the held real');
  });

  test('an established flow on a port of the group that is not its lowest keeps its real', () => {
    const r = send(GAME, 10050, 3000);
    assert.equal(typeof r, 'number');
    for (let i = 0; i < 3; i++) assert.equal(send(GAME, 10050, 3000, 'A'), r);
    const id = h.dp().vips.list().find((v) => v.address === GAME)!.id;
    const conns = h.dp().flows.connections().filter((c) => c.vip === GAME && c.vipPort === 10050);
    assert.deepEqual(conns.map((c) => [c.vipId, c.confirmed, c.realId]), [[id, true, 40 + (r as number)]]);
  });

  test('every port of a range and the lone port reach the group; ports around them do not', () => {
    for (const port of [10000, 10001, 10099, 10100, 20000]) assert.equal(typeof send(GAME, port, 4000 + (port % 1000)), 'number', `port ${port}`);
    for (const port of [9999, 10101, 19999, 20001, 80]) assert.equal(send(GAME, port, 4000), 'not_vip', `port ${port}`);
    assert.equal(send(WEB, 8080, 4000), 9, 'a port of the same address outside the group: its own service');
    assert.equal(send(WEB, 81, 4000), 'not_vip');
  });

  test('an IPv6 group: every port of it reaches the service, ports beside it do not', () => {
    const vip = '2001:db8::70';
    h.dp().vips.upsert({ address: vip, port: 0, ports: '80,443,8000-8009', protocol: 'tcp', method: 'dr' });
    h.dp().reals.set(`[${vip}]:80,443,8000-8009/tcp`, [{ id: 60, address: '2001:db8::4:8', mac: realMac(8), weight: 1, state: 'up' }]);
    const send6 = (dport: number, flags = 'S'): number | string => {
      const input = eth({ src: ROUTER_MAC, dst: DIRECTOR_MAC }).ipv6({ src: CLIENT6, dst: vip }).tcp({ sport: 4000, dport, flags }).build();
      const before = reasons();
      const r = h.dp().program.testRun(input);
      if (r.retval === XDP.XDP_TX) return r.data[5];
      const after = reasons();
      return Object.keys(after).filter((k) => after[k] !== before[k]).join(',');
    };
    for (const port of [80, 443, 8000, 8009]) assert.equal(send6(port), 8, `port ${port}`);
    assert.equal(send6(8009, 'A'), 8, 'established on the highest port');
    for (const port of [81, 442, 7999, 8010]) assert.equal(send6(port), 'not_vip', `port ${port}`);
    h.dp().vips.remove(`[${vip}]:80,443,8000-8009/tcp`);
    assert.equal(send6(443), 'not_vip');
  });

  test('removing a group removes every one of its ports', () => {
    h.dp().vips.remove(`${GAME}:10000-10100,20000/tcp`);
    for (const port of [10000, 10050, 10100, 20000]) assert.equal(send(GAME, port, 5000), 'not_vip', `port ${port}`);
    assert.equal(send(GAME, 10050, 3000, 'A'), 'not_vip', 'the established flow too');
    assert.equal(h.dp().vips.list().some((v) => v.address === GAME), false);
  });

  test('a group that replaces an overlapping service takes its port only when that one leaves', () => {
    const dp = h.dp();
    // 8080 is held by its own service: the new group waits for it and takes 8081 at once.
    dp.vips.upsert({ address: WEB, port: 0, ports: '8080-8081', protocol: 'tcp', method: 'dr' });
    dp.reals.set(`${WEB}:8080-8081/tcp`, [{ id: 50, address: '10.4.0.7', mac: realMac(7), weight: 1, state: 'up' }]);
    assert.equal(dp.vips.list().find((v) => v.key === `${WEB}:8080-8081/tcp`)?.waitingPorts, 1);
    assert.equal(send(WEB, 8080, 6000), 9, 'still the old service');
    assert.equal(send(WEB, 8081, 6000), 7);
    dp.vips.remove(`${WEB}:8080/tcp`);
    assert.equal(send(WEB, 8080, 6001), 7, 'handed over to the group');
    assert.equal(dp.vips.list().find((v) => v.key === `${WEB}:8080-8081/tcp`)?.waitingPorts, 0);
    dp.vips.remove(`${WEB}:8080-8081/tcp`);
    assert.equal(send(WEB, 8080, 6002), 'not_vip');
    assert.equal(send(WEB, 80, 6002), send(WEB, 443, 6003), 'the 80,443 group is untouched');
  });

  test('the reconciler replaces a service by a group over it with no write after which its port misses', () => {
    const VIP = '10.0.0.73';
    const svc = (ports: string | null, realN: number): DesiredService => {
      const key = `${VIP}:${ports ?? 80}/tcp`;
      return {
        vip: { key, address: VIP, port: ports ? 0 : 80, protocol: 'tcp', ports, method: 'dr', scheduler: 'maglev', persistenceTimeoutMs: 0, persistencePrefix: 32, tableSize: 251, onDown: 'expire', timeouts: { tcp: 900, tcpFin: 120, udp: 300 } },
        reals: [{ key: `10.4.0.${realN}:0`, address: `10.4.0.${realN}`, port: 0, weight: 1, state: 'up', mac: realMac(realN), upperThreshold: 0, lowerThreshold: 0 }],
        sorry: null,
      };
    };
    const state = (...x: DesiredService[]): DesiredState => new Map(x.map((d) => [d.vip.key, d]));
    const adapter = new DataplanePortAdapter(h.dp());
    const seen: string[] = [];
    // After every write the reconciler makes, a new flow to port 80 must still be forwarded.
    let sport = 7000;
    const probe = (what: string) => seen.push(`${what}: ${send(VIP, 80, sport++)}`);
    const watched: DataplanePort = {
      upsertVip: (v) => { adapter.upsertVip(v); probe(`vip ${v.key}`); },
      removeVip: (v) => { adapter.removeVip(v); probe(`rm ${v.key}`); },
      setReals: (v, reals, sorry) => { adapter.setReals(v, reals, sorry); probe(`reals ${v.key}`); },
      batch: (fn) => { const out = adapter.batch(fn); probe('tables installed'); return out; },
      takeOutOfSelection: (c) => adapter.takeOutOfSelection(c),
      setNoAccept: (a) => adapter.setNoAccept(a),
    };
    const ids = new RealIds(200);
    for (let id = 1; id < 100; id++) ids.adopt('(the other tests)', String(id), id); // theirs, in the same maps
    const r = new Reconciler(watched, ids);
    r.apply(state(svc(null, 5)));
    seen.length = 0;
    r.apply(state(svc('80,443', 6)));
    assert.deepEqual(seen, [
      `vip ${VIP}:80,443/tcp: 5`, `reals ${VIP}:80,443/tcp: 5`, 'tables installed: 5', `rm ${VIP}:80/tcp: 6`,
    ]);
    assert.equal(send(VIP, 443, 7100), 6);
    // And back: the group gives port 80 to the single service only when it leaves.
    seen.length = 0;
    r.apply(state(svc(null, 5)));
    assert.deepEqual(seen, [`vip ${VIP}:80/tcp: 6`, `reals ${VIP}:80/tcp: 6`, 'tables installed: 6', `rm ${VIP}:80,443/tcp: 5`]);
    assert.equal(send(VIP, 443, 7101), 'not_vip');
    r.apply(new Map());
    assert.equal(send(VIP, 80, 7102), 'not_vip');
  });
});
