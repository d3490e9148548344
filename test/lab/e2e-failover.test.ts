// End to end on the lab (config/lab.yaml as shipped), one lab for the file, in order:
//  1. The Master director fails (daemon SIGKILLed, link down, as `make demo` does) while long-lived
//     TCP connections are open through the VIP: the Backup takes the VIPs, and those same
//     connections keep echoing, because both directors compute the same Maglev table (the new
//     Master's connection table names the same real for each); new connections succeed.
//  2. The daemon of the Master (now director 2) is SIGKILLed under a loop of requests and
//     restarted: no request fails, the XDP program stays the same one and the new daemon adopts it.
//  3. Director 1 comes back (link up, daemon restarted: it finds its VIPs still on the interface,
//     as after any SIGKILL) and preempts with priority 150: no request fails under load, and the
//     clients' traffic follows it (gratuitous ARP although the VIPs were already there).
//  4. A director restarted without a route to the TUN segment still starts and serves the DR VIP.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { run, inNs } from '../../src/sys/exec';
import { controlRequest } from '../../src/control/client';
import { labForFile, EchoClient, Capture, Frame, startLoad, waitFor, sleep, interfaceMac, assertTrafficOn } from './lib/e2e-lab';

const P = 'e2f';
const DR_VIP = '10.81.0.100';
const TUN_VIP = '10.81.0.200';

const { lab, G } = labForFile(P, ['curl']);

/** A gratuitous ARP for `vip` as tcpdump prints it: a request with sender = target = VIP, or a reply. */
function isGarp(f: Frame, vip: string): boolean {
  const v = vip.replace(/\./g, '\\.');
  return new RegExp(`who-has ${v} (\\([0-9a-f:]+\\) )?tell ${v},|Reply ${v} is-at`).test(f.line);
}

test('Master fails with long-lived connections open: the Backup takes over and they keep working', G, async () => {
  const [d1, d2] = [lab.dir(1), lab.dir(2)];
  const echo = new EchoClient(lab);
  const n = 12;
  const flows = await echo.open(DR_VIP, 6379, n, 'connections through the VIP');
  await echo.round('before', 'echo before the failover');
  // Where the Master sent each connection (its connection table).
  const conns1 = await lab.connections(1);
  const realOf1 = new Map(flows.map((f) => [f, conns1.get(f)]));
  assert.ok([...realOf1.values()].every(Boolean), `the Master has every connection in its table: ${JSON.stringify([...realOf1])}`);

  const arp = new Capture(lab.client, 'eth0', `arp and ether src ${interfaceMac(d2.ns, lab.L.interface)}`);
  await arp.ready();
  const t0 = Date.now();
  lab.failDirector(1);
  const takeover = await lab.waitHolds(d2.name, 20_000);
  process.stdout.write(`# ${d2.name} holds the VIPs ${takeover} ms after ${d1.name} failed\n`);
  // The new Master announces the VIPs (keepalived's gratuitous ARP: sender = target = VIP).
  await waitFor(`${d2.name}'s gratuitous ARP for ${DR_VIP}`, () => lab.clientNeighMac(DR_VIP) === interfaceMac(d2.ns, lab.L.interface), 3000);
  const frames = (await arp.stop()).frames;
  assert.ok(frames.some((f) => isGarp(f, DR_VIP)), `no gratuitous ARP for ${DR_VIP} from ${d2.name}: ${frames.map((f) => f.line).join(' | ')}`);

  await echo.round('after', 'the same connections after the failover', 15_000);
  const echoedMs = Date.now() - t0;
  process.stdout.write(`# all ${n} long-lived connections echoed through ${d2.name} ${echoedMs} ms after the failure\n`);
  // The new Master sent every one of them to the same real as the old one did.
  const conns2 = await lab.connections(2);
  for (const f of flows) assert.equal(conns2.get(f), realOf1.get(f), `${f}: real on ${d2.name} vs ${d1.name}`);

  await echo.open(DR_VIP, 6379, 5, 'new connections through the new Master');
  await echo.round('new', 'old and new connections echo');
  const web = lab.shares(`http://${DR_VIP}/`, 15);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));
  const svc2 = await waitFor('the new Master to count the requests', async () => {
    const s = await lab.service(2, DR_VIP, 80);
    return s.counters.packets > 0n ? s : undefined;
  }, 5000);
  assert.ok(svc2.counters.newFlows >= 15n, `${d2.name} scheduled ${svc2.counters.newFlows} flows for 15 requests`);
  await echo.close();
});

test('SIGKILL of the Master\'s daemon under load: no request fails, the restarted daemon adopts', G, async () => {
  const d2 = lab.dir(2);
  const prog = lab.xdpProgId(2);
  assert.ok(prog, 'director 2 has XDP attached');
  const load = startLoad(lab, { urls: [`http://${DR_VIP}/`, `http://${TUN_VIP}/`], gapMs: 20, timeoutMs: 3000 });
  const timeline: string[] = [];
  const t0 = Date.now();
  const mark = (s: string): void => { timeline.push(`${Date.now() - t0} ms ${s}`); };
  let summary;
  try {
    await sleep(1500);
    const before2 = await lab.service(2, DR_VIP, 80);
    process.kill(lab.pidOf(`xlvs run ${d2.name}`), 'SIGKILL');
    mark('daemon SIGKILLed');
    await sleep(1000);
    // Forwarding goes on from the pinned program with no daemon at all.
    assert.equal(lab.xdpProgId(2), prog, 'XDP program still attached with no daemon');
    await lab.startDaemon(2, lab.topologyFile(2));
    mark('daemon restarted (control socket answers)');
    const st = await lab.status(2);
    assert.equal(st.adopted, true, 'the restarted daemon adopted the pins');
    assert.equal(lab.xdpProgId(2), prog, 'the same XDP program is attached after the restart');
    await waitFor('the restarted daemon to be VRRP Master again', async () => (await lab.status(2)).vrrp[0]?.state === 'MASTER', 10_000);
    mark('VRRP Master again');
    await sleep(1000);
    const after2 = await lab.service(2, DR_VIP, 80);
    assert.ok(after2.counters.packets > before2.counters.packets, 'the restarted daemon reads the same counters, still climbing');
  } finally {
    summary = await load.finish();
    mark(`load stopped: ${summary.ok}/${summary.sent} ok, slowest ${summary.maxLatencyMs} ms`);
    process.stdout.write(`# ${timeline.join('; ')}\n`);
  }
  assert.ok(summary.sent >= 50, `only ${summary.sent} requests sent`);
  assert.deepEqual(summary.failed, [], 'requests failed while the daemon was killed and restarted');
  assert.equal(Object.keys(summary.reals).length, 3, `answers from ${JSON.stringify(summary.reals)}`);
});

/** ARP frames director 1 sent while it came back (test 3), read by test 4. */
let comebackArp: Frame[] = [];

test('director 1 comes back and preempts: no request fails under load', G, async () => {
  const [d1, d2] = [lab.dir(1), lab.dir(2)];
  const arp = new Capture(lab.client, 'eth0', `arp and ether src ${interfaceMac(d1.ns, lab.L.interface)}`);
  await arp.ready();
  const load = startLoad(lab, { urls: [`http://${DR_VIP}/`, `http://${TUN_VIP}/`], gapMs: 20, timeoutMs: 3000 });
  let summary;
  const t0 = Date.now();
  try {
    await sleep(500);
    lab.directorLinkUp(1);
    await lab.startDaemon(1, lab.topologyFile(1));
    assert.equal((await lab.status(1)).adopted, true, 'director 1 adopted its pins');
    await waitFor('director 1 VRRP Master', async () => (await lab.status(1)).vrrp[0]?.state === 'MASTER', 15_000);
    await lab.waitReleases(d2.name, 5000);
    process.stdout.write(`# ${d1.name} Master and ${d2.name} released the VIPs ${Date.now() - t0} ms after its link came up\n`);
    await sleep(2000);
  } finally {
    summary = await load.finish();
    comebackArp = (await arp.stop()).frames;
  }
  assert.deepEqual(summary.failed, [], 'requests failed while director 1 came back');
  assert.ok(summary.sent >= 50, `only ${summary.sent} requests sent`);
});

// Regression: iproute2 says "Address already assigned" for a VIP already on the interface (left by
// the SIGKILL); the daemon must still send its gratuitous ARP, or clients keep sending to the old
// Master's MAC and the Backup carries the traffic.
test('the clients\' traffic follows director 1 back (gratuitous ARP)', G, async () => {
  assert.ok(comebackArp.some((f) => isGarp(f, DR_VIP)), `no gratuitous ARP for ${DR_VIP} from ${lab.dir(1).name}; its ARP frames: ${comebackArp.map((f) => f.line).join(' | ') || 'none'}`);
  const d1mac = interfaceMac(lab.dir(1).ns, lab.L.interface);
  await waitFor(`the client to resolve ${DR_VIP} to ${lab.dir(1).name}'s MAC ${d1mac} (has ${lab.clientNeighMac(DR_VIP)})`, () => lab.clientNeighMac(DR_VIP) === d1mac, 5000);
  await assertTrafficOn(lab, DR_VIP, 1);
});

// Regression: a service whose reals have no MAC yet (here: no route to the TUN segment, so no next
// hop) must not fail the whole apply: the daemon starts, those reals are down, the DR VIP works.
// Seen when a director's link comes back without its routes.
test('a director that cannot resolve the TUN reals\' next hop still starts and serves the DR VIP', G, async () => {
  const d2 = lab.dir(2);
  const old = lab.pidOf(`xlvs run ${d2.name}`);
  await controlRequest(d2.socket, { cmd: 'stop', keepForwarding: true }, 10_000);
  await waitFor(`${d2.name}'s daemon to exit`, () => { try { process.kill(old, 0); return false; } catch { return true; } }, 10_000);
  run(inNs(d2.ns, ['ip', 'route', 'del', lab.L.tunCidr!]));
  run(inNs(d2.ns, ['ip', 'neigh', 'flush', 'dev', lab.L.interface]));
  try {
    await lab.startDaemon(2, lab.topologyFile(2));
    const tun = await lab.service(2, TUN_VIP, 80);
    assert.ok(tun.reals.every((r) => r.mac === null && r.state === 'down'), `TUN reals without a MAC are down: ${JSON.stringify(tun.reals.map((r) => [r.address, r.mac, r.state]))}`);
    const dr = await lab.service(2, DR_VIP, 80);
    assert.ok(dr.reals.every((r) => r.mac !== null && r.state === 'up'), 'DR reals usable');
  } finally {
    run(inNs(d2.ns, ['ip', 'route', 'replace', lab.L.tunCidr!, 'via', lab.L.routerLan, 'dev', lab.L.interface]));
  }
});
