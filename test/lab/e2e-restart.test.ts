// `systemctl restart` of the Master's daemon on the lab (config/lab.yaml), with long-lived TCP
// connections open through the VIP and a loop of requests: SIGTERM keeps the data plane
// (director.on_sigterm defaults to keep) and VRRP hands the VIPs over as keepalived does.
//  - the stopping Master sends a priority-0 advert: the Backup takes the VIPs at once (skew
//    time, not the 3.6 s master-down interval);
//  - the stopped daemon leaves its XDP program attached and its maps pinned (frames still
//    addressed to it are forwarded);
//  - the restarted daemon adopts the same program and connection table (every connection still
//    names its real), preempts, and every connection opened before the SIGTERM echoes through it.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { labForFile, EchoClient, startLoad, waitFor, sleep, interfaceMac, alive } from './lib/e2e-lab';

const P = 'e2r';
const DR_VIP = '10.81.0.100';
const TUN_VIP = '10.81.0.200';

const { lab, G } = labForFile(P, ['curl']);

test('SIGTERM of the Master\'s daemon under traffic: the Backup takes over at once, the restarted daemon adopts the pins and every connection survives', G, async () => {
  const [d1, d2] = [lab.dir(1), lab.dir(2)];
  const echo = new EchoClient(lab);
  const flows = await echo.open(DR_VIP, 6379, 12, 'connections through the VIP');
  await echo.round('before', 'echo before the restart');
  const conns0 = await lab.connections(1);
  const realOf = new Map(flows.map((f) => [f, conns0.get(f)]));
  assert.ok([...realOf.values()].every(Boolean), `director 1 has every connection in its table: ${JSON.stringify([...realOf])}`);
  const prog = lab.xdpProgId(1);
  assert.ok(prog, 'director 1 has XDP attached');

  const load = startLoad(lab, { urls: [`http://${DR_VIP}/`, `http://${TUN_VIP}/`], gapMs: 20, timeoutMs: 3000 });
  const timeline: string[] = [];
  const t0 = Date.now();
  const mark = (s: string): void => { timeline.push(`${Date.now() - t0} ms ${s}`); };
  let summary;
  try {
    await sleep(1000);
    const pid = lab.pidOf(`xlvs run ${d1.name}`);
    process.kill(pid, 'SIGTERM'); // what systemctl stop/restart sends
    mark('director 1\'s daemon got SIGTERM');
    const takeover = await lab.waitHolds(d2.name, 10_000);
    mark(`${d2.name} holds the VIPs`);
    await waitFor('the SIGTERMed daemon to exit', () => !alive(pid), 15_000);
    mark('daemon exited');
    // The Backup took over on the priority-0 advert (after its skew time, 0.6 s): without it, it
    // would wait for master-down, 3.6 s after the last advert, at least 2.6 s after the SIGTERM.
    assert.ok(takeover < 2500, `${d2.name} took ${takeover} ms to hold the VIPs`);
    assert.equal((await lab.status(2)).vrrp[0].state, 'MASTER');
    assert.ok(!lab.holders().includes(d1.name), `${d1.name} removed its VIPs`);
    // The data plane stays: same program attached, maps pinned.
    assert.equal(lab.xdpProgId(1), prog, 'XDP program still attached after SIGTERM');
    assert.ok(fs.existsSync(path.join(lab.L.pinRoot, 'xlvs', d1.name, 'xdp_lb')), 'program still pinned');
    await echo.round('during', 'the connections echo with director 1\'s daemon stopped', 10_000);

    await lab.startDaemon(1, lab.topologyFile(1));
    mark('daemon restarted (control socket answers)');
    const st1 = await lab.status(1);
    assert.equal(st1.adopted, true, 'the restarted daemon adopted the pins');
    assert.equal(lab.xdpProgId(1), prog, 'the same XDP program is attached after the restart');
    // The connection table survived the restart: every connection still names its real.
    const conns1 = await lab.connections(1);
    for (const f of flows) assert.equal(conns1.get(f), realOf.get(f), `${f} kept its real across the restart`);
    await lab.waitHolds(d1.name, 15_000);
    mark(`${d1.name} holds the VIPs again (preempt)`);
    await waitFor(`the client to send ${DR_VIP} to director 1`, () => lab.clientNeighMac(DR_VIP) === interfaceMac(d1.ns, lab.L.interface), 5000);
    await echo.round('after', 'every connection opened before the SIGTERM echoes through the restarted daemon', 10_000);
    mark('every connection echoed through director 1');
  } finally {
    summary = await load.finish();
    mark(`load stopped: ${summary.ok}/${summary.sent} ok, slowest ${summary.maxLatencyMs} ms`);
    process.stdout.write(`# ${timeline.join('; ')}\n`);
  }
  assert.ok(summary.sent >= 50, `only ${summary.sent} requests sent`);
  assert.deepEqual(summary.failed, [], 'requests failed while the daemon was restarted');
  await echo.close();
});
