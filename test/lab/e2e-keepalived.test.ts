// The migration story on the lab: director 2 runs Debian's keepalived for VRRP (the instance of
// config/lab.yaml written in keepalived.conf(5) words: same VRID, auth, advert interval, VIPs)
// while its xlvs daemon keeps the data plane with no `vrrp:` section; director 1 runs xlvs with
// VRRP. Failover works both ways:
//  1. keepalived stays Backup under the xlvs Master; requests go through director 1.
//  2. Director 1 fails (daemon SIGKILLed, link down): keepalived takes the VIPs and requests are
//     answered through director 2's XDP.
//  3. Director 1 comes back as from a reboot (link up, no VIPs, daemon started): it preempts with
//     priority 150, keepalived releases the VIPs, and the traffic returns to director 1.
//  4. xlvs stops gracefully: its priority-0 advert hands the VIPs to keepalived at once.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { run, inNs } from '../../src/sys/exec';
import { controlRequest } from '../../src/control/client';
import { E2eLab, startLoad, waitFor, sleep, interfaceMac, LoadSummary, e2eGate, assertTrafficOn } from './lib/e2e-lab';

const P = 'e2k';
const DR_VIP = '10.81.0.100';
const TUN_VIP = '10.81.0.200';

const G = e2eGate('curl', 'keepalived');
const lab = new E2eLab(P);
let kaPid = 0;

interface RawVrrp { name: string; interface?: string; vrid: number; advert_interval: string; auth?: { type: string; secret: string }; vips: string[]; version?: number }
interface RawSync { name: string; instances: string[] }

/**
 * keepalived.conf(5) for director 2: the lab's VRRP instances (the LAN one and the NAT site's
 * inner gateway) and their sync group, priority 100, BACKUP.
 */
function keepalivedConf(vs: RawVrrp[], groups: RawSync[], iface: string): string {
  return `global_defs {
  router_id ${P}-dir2
  vrrp_garp_master_delay 1
}
${groups.map((g) => `vrrp_sync_group ${g.name} {\n  group {\n${g.instances.map((i) => `    ${i}\n`).join('')}  }\n}\n`).join('')}${vs.map((v) => instanceConf(v, v.interface ?? iface)).join('')}`;
}

function instanceConf(v: RawVrrp, iface: string): string {
  const advert = /^(\d+)s$/.exec(v.advert_interval)?.[1];
  if (!advert) throw new Error(`advert_interval ${v.advert_interval}: expected whole seconds`);
  return `vrrp_instance ${v.name} {
  state BACKUP
  interface ${iface}
  virtual_router_id ${v.vrid}
  priority 100
  advert_int ${advert}
  version ${v.version ?? 2}
${v.auth ? `  authentication {\n    auth_type ${v.auth.type.toUpperCase()}\n    auth_pass ${v.auth.secret}\n  }\n` : ''}  virtual_ipaddress {
${v.vips.map((a) => `    ${a} dev ${iface}\n`).join('')}  }
}
`;
}

before(async () => {
  if (G.skip) return;
  await lab.up();
  await lab.waitMaster(lab.dir(1).name, 20_000);
  const d2 = lab.dir(2);
  // Director 2's daemon hands over to one without VRRP (an upgrade stop: forwarding continues).
  const old = lab.pidOf(`xlvs run ${d2.name}`);
  await controlRequest(d2.socket, { cmd: 'stop', keepForwarding: true }, 10_000);
  await waitFor('director 2\'s old daemon to exit', () => { try { process.kill(old, 0); return false; } catch { return true; } }, 10_000);
  const topo = YAML.parse(fs.readFileSync(lab.topologyFile(2), 'utf8')) as { vrrp: RawVrrp[]; vrrp_sync_groups?: RawSync[] };
  const vrrp = topo.vrrp;
  const groups = topo.vrrp_sync_groups ?? [];
  delete (topo as { vrrp?: unknown }).vrrp;
  delete (topo as { vrrp_sync_groups?: unknown }).vrrp_sync_groups;
  const noVrrp = path.join(lab.L.dir, 'dir2-no-vrrp.yaml');
  fs.writeFileSync(noVrrp, YAML.stringify(topo));
  await lab.startDaemon(2, noVrrp);
  assert.equal((await lab.status(2)).adopted, true);

  const conf = path.join(lab.L.dir, 'keepalived-dir2.conf');
  fs.writeFileSync(conf, keepalivedConf(vrrp, groups, lab.L.interface));
  const check = run(inNs(d2.ns, ['keepalived', '-t', '-f', conf]), { allowFail: true });
  assert.equal(check.status, 0, `keepalived -t -f ${conf}: ${check.stdout}${check.stderr}`);
  kaPid = lab.startProcess(`keepalived ${d2.name}`, d2.ns, ['keepalived', '-n', '-l', '-D', '-P', '-f', conf,
    '-p', path.join(lab.L.dir, 'keepalived.pid'), '-r', path.join(lab.L.dir, 'keepalived.vrrp.pid')], path.join(lab.L.dir, 'keepalived.log'));
  // keepalived logs its state on the console (-l): wait until it has entered BACKUP.
  await waitFor('keepalived to enter BACKUP', () => /Entering BACKUP STATE/.test(kaLog()), 10_000);
});
after(async () => { if (!G.skip) await lab.down(); });

function kaLog(): string {
  try { return fs.readFileSync(path.join(lab.L.dir, 'keepalived.log'), 'utf8'); } catch { return ''; }
}

function failuresAfter(s: LoadSummary, ms: number): LoadSummary['failed'] {
  return s.failed.filter((f) => f.at > ms);
}

test('keepalived stays Backup under the xlvs Master; requests go through director 1', G, async () => {
  await sleep(4000); // longer than keepalived's Master_Down_Interval (3 × 1 s + skew): it must not take over
  assert.deepEqual(lab.holders(), [lab.dir(1).name], `VIP holders; keepalived log:\n${kaLog()}`);
  assert.doesNotMatch(kaLog(), /Entering MASTER STATE/);
  const b = await lab.service(1, DR_VIP, 80);
  const web = lab.shares(`http://${DR_VIP}/`, 10);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));
  const a = await lab.service(1, DR_VIP, 80);
  assert.ok(a.counters.newFlows - b.counters.newFlows >= 10n, 'director 1 scheduled the requests');
});

test('the xlvs Master fails: keepalived takes the VIPs, director 2\'s XDP answers', G, async () => {
  const d2 = lab.dir(2);
  const load = startLoad(lab, { urls: [`http://${DR_VIP}/`, `http://${TUN_VIP}/`], gapMs: 20, timeoutMs: 3000 });
  let summary: LoadSummary;
  let takeover = 0;
  let settled = 0;
  const t0 = Date.now();
  let b2;
  try {
    await sleep(1000);
    lab.failDirector(1);
    takeover = await lab.waitHolds(d2.name, 20_000);
    // keepalived's gratuitous ARP moves the client to director 2.
    await waitFor('the client to send to director 2', () => lab.clientNeighMac(DR_VIP) === interfaceMac(d2.ns, lab.L.interface), 5000);
    settled = Date.now() - t0;
    b2 = await lab.service(2, DR_VIP, 80);
    await sleep(2000);
  } finally {
    summary = await load.finish();
  }
  const a2 = await lab.service(2, DR_VIP, 80);
  process.stdout.write(`# keepalived held the VIPs ${takeover} ms after director 1 failed; ${summary.ok}/${summary.sent} requests ok, ${summary.failed.length} failed (at ${summary.failed.map((f) => f.at).join(', ') || '-'} ms)\n`);
  assert.match(kaLog(), /Entering MASTER STATE/);
  assert.deepEqual(failuresAfter(summary, settled), [], 'requests failed after keepalived took over');
  assert.ok(a2.counters.newFlows - b2!.counters.newFlows >= 20n, `director 2's XDP scheduled ${a2.counters.newFlows - b2!.counters.newFlows} flows in 2 s of load`);
});

test('director 1 comes back: xlvs preempts keepalived and the traffic returns', G, async () => {
  const [d1, d2] = [lab.dir(1), lab.dir(2)];
  const load = startLoad(lab, { urls: [`http://${DR_VIP}/`, `http://${TUN_VIP}/`], gapMs: 20, timeoutMs: 3000 });
  let summary: LoadSummary;
  const t0 = Date.now();
  let back = 0;
  try {
    await sleep(500);
    // A machine that rebooted has no VIPs on its interface.
    for (const v of lab.L.vips) run(inNs(d1.ns, ['ip', 'addr', 'del', `${v}/${lab.L.lanPrefixLen}`, 'dev', lab.L.interface]), { allowFail: true });
    lab.directorLinkUp(1);
    await lab.startDaemon(1, lab.topologyFile(1));
    await lab.waitHolds(d1.name, 15_000);
    await lab.waitReleases(d2.name, 5000);
    await waitFor('the client to send to director 1', () => lab.clientNeighMac(DR_VIP) === interfaceMac(d1.ns, lab.L.interface), 5000);
    back = Date.now() - t0;
    await sleep(1500);
  } finally {
    summary = await load.finish();
  }
  process.stdout.write(`# xlvs Master again and keepalived Backup ${back} ms after director 1's link came up; ${summary.ok}/${summary.sent} ok\n`);
  assert.match(kaLog(), /Entering BACKUP STATE[\s\S]*Entering MASTER STATE[\s\S]*Entering BACKUP STATE/, 'keepalived went back to BACKUP');
  assert.deepEqual(summary.failed, [], 'requests failed while xlvs took the VIPs back');
  await assertTrafficOn(lab, DR_VIP, 1);
});

test('xlvs stops gracefully: its priority-0 advert hands the VIPs to keepalived at once', G, async () => {
  const [d1, d2] = [lab.dir(1), lab.dir(2)];
  const masterLines = (kaLog().match(/Entering MASTER STATE/g) ?? []).length;
  const t0 = Date.now();
  await controlRequest(d1.socket, { cmd: 'stop' }, 10_000);
  await waitFor('keepalived to enter MASTER', () => (kaLog().match(/Entering MASTER STATE/g) ?? []).length > masterLines, 10_000, 20);
  const ms = Date.now() - t0;
  process.stdout.write(`# keepalived Master ${ms} ms after xlvs stop\n`);
  // RFC 3768 §6.4.2: a Backup that hears priority 0 sets its Master_Down_Timer to Skew_Time
  // instead of waiting 3 × Advertisement_Interval + Skew_Time; keepalived logs that it heard it.
  assert.match(kaLog(), /Backup received priority 0 advertisement/, 'keepalived did not hear xlvs\'s priority-0 advert');
  await lab.waitHolds(d2.name, 5000);
  await lab.waitReleases(d1.name, 5000);
  await waitFor('the client to send to director 2', () => lab.clientNeighMac(DR_VIP) === interfaceMac(d2.ns, lab.L.interface), 5000);
  const web = lab.shares(`http://${DR_VIP}/`, 10);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));
  assert.ok(kaPid > 0);
});
