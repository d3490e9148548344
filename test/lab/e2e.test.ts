// End to end through the lab's directors (`xlvs run` on both, VRRP elects a Master), on one lab
// shared by the tests of this file, in order:
//  1. DR and TUN: requests from the client reach every real; replies go straight from the reals to
//     the client: the Master counts exactly the client's segments and none of the replies, a capture
//     on each director's LAN interface sees no packet from a VIP, and the client sees every reply
//     come from a real's MAC.
//  2. Persistence (ipvsadm -p): many new connections from one client address reach one real.
//  3. A real's servers killed: the health check takes it out within fall × interval (+ slack), the
//     others take its share with no failed request after that, and it returns after rise.
// The lab is config/lab.yaml plus one persistent service (written to a temporary file).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import YAML from 'yaml';
import { defaultLabConfig, labStatus } from '../../src/lab/site';
import { E2eLab, Capture, tcpCounters, interfaceMac, waitFor, sleep, e2eGate } from './lib/e2e-lab';

const P = 'e2';
const DR_VIP = '10.81.0.100';
const TUN_VIP = '10.81.0.200';
const STICKY_VIP = '10.81.0.150';
const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-e2e-'));

/** config/lab.yaml with a `-p 3600` service on its own VIP (same reals, same check as web). */
function labConfigWithPersistence(): string {
  const t = YAML.parse(fs.readFileSync(defaultLabConfig(), 'utf8')) as { vrrp: { vips: string[] }[]; services: Record<string, unknown>[] };
  const web = t.services.find((s) => s.name === 'web')!;
  t.services.push({ ...web, name: 'web-sticky', vip: STICKY_VIP, persistence: { timeout: '3600s' } });
  t.vrrp[0].vips.push(`${STICKY_VIP}/24`);
  const file = path.join(tmp, 'lab-e2e.yaml');
  fs.writeFileSync(file, YAML.stringify(t));
  return file;
}

const G = e2eGate('curl', 'tcpdump');
const lab = new E2eLab(P, G.skip ? undefined : labConfigWithPersistence());

before(async () => {
  if (G.skip) return;
  await lab.up();
  // keepalived-style start: Backup first, Master after ≈ 3 adverts + skew (docs/lab-notes.md: ≈ 3.6 s).
  const ms = await lab.waitMaster(lab.dir(1).name, 20_000);
  process.stdout.write(`# ${lab.dir(1).name} became VRRP Master ${ms} ms after lab up\n`);
});
after(async () => {
  if (!G.skip) await lab.down();
  fs.rmSync(tmp, { recursive: true, force: true });
});

for (const [method, vip] of [['DR', DR_VIP], ['TUN', TUN_VIP]] as const) {
  test(`${method}: every real answers through ${vip} and the replies bypass the directors`, G, async () => {
    const L = lab.L;
    const xdp = labStatus(P).xdp.find((x) => x.role === `director ${lab.dir(1).name}`);
    assert.equal(xdp?.attach, 'xdp-native', `the Master forwards with native XDP: ${JSON.stringify(xdp)}`);
    const dirMacs = new Set(L.directors.map((d) => interfaceMac(d.ns, L.interface)));
    const realMacs = new Set(L.reals.flatMap((r) => [interfaceMac(r.ns, 'eth0'), ...(r.tunAddress ? [interfaceMac(r.ns, 'eth1')] : [])]));
    // docs/lab-notes.md: tcpdump on a director does not see frames its native XDP transmitted, so the
    // director capture can only prove a negative; VRRP adverts in the same capture show it works.
    const caps = L.directors.map((d) => new Capture(d.ns, L.interface, `(src host ${vip} and tcp) or ip proto 112`));
    const clientCap = new Capture(L.ns.client, 'eth0', `src host ${vip} and tcp`);
    try {
      await Promise.all([...caps, clientCap].map((c) => c.ready()));
      const before1 = await lab.service(1, vip, 80);
      const before2 = await lab.service(2, vip, 80);
      const c0 = tcpCounters(L.ns.client);

      const n = 24;
      const seen = new Map<string, number>();
      for (let i = 0; i < n; i++) {
        const src = L.clientAddresses[i % L.clientAddresses.length];
        const s = lab.get(`http://${vip}/?n=${i}`, src);
        assert.ok(s.ok, `${vip} from ${src}: ${s.body}`);
        seen.set(s.real, (seen.get(s.real) ?? 0) + 1);
      }
      assert.deepEqual([...seen.keys()].sort(), L.reals.map((r) => r.short), `answers per real: ${JSON.stringify([...seen])}`);

      await sleep(300); // the last FIN/ACKs
      const c1 = tcpCounters(L.ns.client);
      const after1 = await lab.service(1, vip, 80);
      const after2 = await lab.service(2, vip, 80);
      const sent = c1.outSegs - c0.outSegs;
      const replies = c1.inSegs - c0.inSegs;
      const perReal = after1.reals.map((r) => Number(r.counters.packets - before1.reals.find((b) => b.address === r.address)!.counters.packets));
      const counted = perReal.reduce((a, b) => a + b, 0);
      process.stdout.write(`# ${method}: client sent ${sent} segments, received ${replies}; Master counted ${counted} (${perReal.join(' + ')}) \n`);
      assert.ok(replies >= n * 3, `client received ${replies} segments for ${n} requests`);
      // Every client segment crosses the Master once and is counted once; replies are not counted
      // because they never reach it.
      assert.equal(counted, sent, `Master's per-real packets (${perReal.join(' + ')}) vs client's sent segments`);
      assert.equal(Number(after1.counters.packets - before1.counters.packets), sent, 'Master service packets');
      assert.equal(Number(after2.counters.packets - before2.counters.packets), 0, 'the Backup forwarded nothing');

      const [d1, d2] = await Promise.all(caps.map((c) => c.stop()));
      const cl = await clientCap.stop();
      for (const [i, d] of [d1, d2].entries()) {
        const tcp = d.frames.filter((f) => !/VRRP/.test(f.line));
        const vrrp = d.frames.length - tcp.length;
        assert.ok(vrrp >= 1, `director ${i + 1}'s capture saw no VRRP advert either, so it proves nothing: ${d.stderr}`);
        assert.deepEqual(tcp.map((f) => f.line), [], `director ${i + 1} saw packets from ${vip}`);
        assert.equal(d.dropped, 0, `director ${i + 1} capture dropped packets`);
      }
      assert.equal(cl.dropped, 0, 'client capture dropped packets');
      assert.equal(cl.frames.length, replies, 'the client capture holds every reply segment');
      const fromDirector = cl.frames.filter((f) => dirMacs.has(f.srcMac));
      const fromReal = cl.frames.filter((f) => realMacs.has(f.srcMac));
      assert.deepEqual(fromDirector.map((f) => f.line), [], 'replies relayed by a director');
      assert.equal(fromReal.length, cl.frames.length, `replies not from a real's MAC: ${cl.frames.filter((f) => !realMacs.has(f.srcMac)).map((f) => f.line).join('\n')}`);
    } finally {
      for (const c of [...caps, clientCap]) c.kill();
    }
  });
}

test('persistence: new connections from one client address all reach the same real', G, async () => {
  const L = lab.L;
  const url = `http://${STICKY_VIP}/`;
  const svc = await lab.service(1, STICKY_VIP, 80);
  assert.equal(svc.persistence?.timeoutMs, 3_600_000, 'the service is persistent');
  const stuck = new Map<string, string>();
  for (const src of L.clientAddresses) {
    const got = new Set<string>();
    for (let i = 0; i < 10; i++) {
      const s = lab.get(`${url}?i=${i}`, src);
      assert.ok(s.ok, `${url} from ${src}: ${s.body}`);
      got.add(s.real);
    }
    assert.equal(got.size, 1, `${src} reached ${[...got].join(', ')} through the persistent service`);
    stuck.set(src, [...got][0]);
  }
  process.stdout.write(`# persistence: ${[...stuck].map(([c, r]) => `${c}→${r}`).join(' ')}\n`);
  // The same client without persistence is spread over several reals: what made it stick above
  // is the persistence entry, not the source address alone.
  const spread = new Set<string>();
  for (let i = 0; i < 20; i++) {
    const s = lab.get(`http://${DR_VIP}/?i=${i}`, L.clientAddresses[0]);
    assert.ok(s.ok, s.body);
    spread.add(s.real);
  }
  assert.ok(spread.size >= 2, `without persistence ${L.clientAddresses[0]} reached only ${[...spread].join(', ')}`);
  // The entry holds across a gap and from the same client again.
  await sleep(1500);
  assert.equal(lab.get(`${url}?again`, L.clientAddresses[0]).real, stuck.get(L.clientAddresses[0]));
});

test('a stopped real leaves within fall × interval and returns after rise', G, async () => {
  const L = lab.L;
  const url = `http://${DR_VIP}/`;
  const svc0 = (await lab.status(1)).services.find((s) => s.vip === DR_VIP && s.port === 80)!;
  const cfg = (YAML.parse(fs.readFileSync(lab.topologyFile(1), 'utf8')) as { services: { name: string; check: { interval: string; timeout: string; rise: number; fall: number } }[] }).services.find((s) => s.name === 'web')!.check;
  const secs = (d: string): number => Number(/^(\d+)s$/.exec(d)![1]);
  // + slack: the first failing check comes up to one jittered interval after the kill, retries are
  // delay_before_retry apart, then the apply.
  const downBound = cfg.fall * secs(cfg.interval) + secs(cfg.timeout) + 3;
  const upBound = cfg.rise * secs(cfg.interval) + secs(cfg.timeout) + 2;
  const victim = L.reals[1];
  assert.equal(svc0.reals.find((r) => r.address === victim.lanAddress)!.state, 'up');

  const t0 = Date.now();
  process.kill(lab.pidOf(`servers ${victim.short}`), 'SIGKILL');
  let failedBefore = 0;
  let sent = 0;
  const downMs = await waitFor(`${victim.short} down`, async () => {
    if (!lab.get(`${url}?stop=${sent}`, L.clientAddresses[sent++ % L.clientAddresses.length], 1).ok) failedBefore++;
    const s = await lab.service(1, DR_VIP, 80);
    return s.reals.find((r) => r.address === victim.lanAddress)!.state === 'down' ? Date.now() - t0 : undefined;
  }, downBound * 1000, 50);
  process.stdout.write(`# ${victim.short} down after ${downMs} ms (bound ${downBound} s); ${failedBefore} of ${sent} requests failed before\n`);

  const pkt0 = (await lab.service(1, DR_VIP, 80)).reals.find((r) => r.address === victim.lanAddress)!.counters.packets;
  const shares = lab.shares(url, 30);
  const others = L.reals.filter((r) => r !== victim).map((r) => r.short);
  assert.deepEqual([...shares.keys()].sort(), others, `after ${victim.short} left: ${JSON.stringify([...shares])}`);
  const pkt1 = (await lab.service(1, DR_VIP, 80)).reals.find((r) => r.address === victim.lanAddress)!.counters.packets;
  assert.equal(pkt1, pkt0, `the director still sent packets to ${victim.short}`);
  // The Backup's own checker (on its own schedule) comes to the same verdict within the same bound,
  // so its table agrees for the moment of a failover.
  await waitFor(`${victim.short} down on the Backup`, async () => (await lab.service(2, DR_VIP, 80)).reals.find((r) => r.address === victim.lanAddress)!.state === 'down', Math.max(0, downBound * 1000 - (Date.now() - t0)) + 500, 100);

  const t1 = Date.now();
  await lab.startServers(victim.short);
  const upMs = await waitFor(`${victim.short} up again`, async () => {
    const s = await lab.service(1, DR_VIP, 80);
    return s.reals.find((r) => r.address === victim.lanAddress)!.state === 'up' ? Date.now() - t1 : undefined;
  }, upBound * 1000, 50);
  process.stdout.write(`# ${victim.short} up again ${upMs} ms after its servers restarted (bound ${upBound} s)\n`);
  const back = lab.shares(url, 30);
  assert.equal(back.get('failed'), undefined, JSON.stringify([...back]));
  assert.ok((back.get(victim.short) ?? 0) > 0, `${victim.short} gets no requests after it returned: ${JSON.stringify([...back])}`);
});
