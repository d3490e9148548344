// `xlvs zero` (ipvsadm -Z) against a running daemon in a namespace: packets through the pinned
// program, then `xlvs zero SERVICE` over the control socket: `xlvs list --stats` shows zero for
// that service and its reals but not for the other, then only what was sent after; /metrics
// never goes down. An unknown service fails naming it and zeroes nothing; a service removed and
// added again by reload counts from its new entry (its old baseline is gone).
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { BpfProgram } from '../../src/loader';
import { controlRequest } from '../../src/control/client';
import { reviveSnapshot } from '../../src/cli/commands/control';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';
import { waitFor } from '../lab/lib/e2e-lab';
import { stopDaemon, testTopology, topologyLab, xlvsAt } from './topology';

const NET = '10.239.0';
const VIP = `${NET}.100`;
const WEB = `${VIP}:80/tcp`;
const TLS = `${VIP}:443/tcp`;
const METRICS = 9796;
const base = `/run/xlvs-test-zero-${process.pid}`;
const sock = `${base}/ctl.sock`;
const cfgFile = `${base}/topology.yaml`;
const DIR_MAC = '02:00:00:00:02:01';

const tlsService = `  - vip: ${VIP}
    port: 443
    method: dr
    reals:
      - { address: ${NET}.52, mac: "02:00:00:00:00:34" }
`;
const topology = (withTls: boolean): string =>
  testTopology({ name: 'zero', net: NET, vrid: 74, base, reals: [50, 51], metricsPort: METRICS, extraServices: withTls ? tlsService : '' });

const xlvs = xlvsAt(sock);

/** `xlvs list --stats` as numbers: `InPkts` and `Conns` per service key and per `service|real`. */
function listStats(): Map<string, { conns: number; pkts: number; bytes: number }> {
  const r = xlvs('list', '--stats');
  assert.equal(r.status, 0, r.stderr);
  const out = new Map<string, { conns: number; pkts: number; bytes: number }>();
  let service = '';
  for (const line of r.stdout.split('\n')) {
    const m = /^(TCP|UDP)\s+(\S+)\s+(\d+)\s+(\d+)\s+\d+\s+(\d+)/.exec(line) ?? /^ {2}-> (\S+)\s+(\d+)\s+(\d+)\s+\d+\s+(\d+)/.exec(line);
    if (!m) continue;
    const nums = m.slice(-3).map(Number);
    const key = m[1] === 'TCP' || m[1] === 'UDP' ? (service = `${m[2]}/${m[1].toLowerCase()}`) : `${service}|${m[1]}`;
    out.set(key, { conns: nums[0], pkts: nums[1], bytes: nums[2] });
  }
  return out;
}

describe('xlvs zero', needsBpf(), () => {
  const lab = new Netlab('zro');
  let ns = '';
  let daemon: ChildProcess | null = null;
  let log = '';
  let prog: BpfProgram | null = null;
  let sport = 20000;

  /** `n` TCP packets of new flows from one client to VIP:port through the pinned program, each forwarded. */
  function send(port: number, n: number): void {
    for (let i = 0; i < n; i++) {
      const frame = eth({ src: '02:00:00:00:00:aa', dst: DIR_MAC }).ipv4({ src: '198.51.100.9', dst: VIP }).tcp({ sport: sport++, dport: port, flags: 'S' }).build();
      assert.equal(prog!.testRun(frame).retval, 3, `XDP_TX for a SYN to ${VIP}:${port}\n${log}`);
    }
  }

  /** `xlvs_vip_packets_total` per VIP, from /metrics (the cache there lives 250 ms). */
  async function scrape(): Promise<Map<string, number>> {
    await new Promise((r) => setTimeout(r, 300));
    const text = lab.exec(ns, ['curl', '-sf', `http://127.0.0.1:${METRICS}/metrics`]).stdout;
    return new Map([...text.matchAll(/^xlvs_vip_packets_total\{vip="([^"]+)"\} (\d+)$/gm)].map((m) => [m[1], Number(m[2])]));
  }

  before(async () => {
    ns = topologyLab(lab, { base, net: NET }).ns;
    lab.exec(ns, ['ip', 'link', 'set', 'eth0', 'address', DIR_MAC]); // the frames' destination
    fs.writeFileSync(cfgFile, topology(true));
    daemon = lab.spawn(ns, xlvsArgv(['run', '-c', cfgFile]));
    daemon.stdout?.on('data', (d) => { log += d; });
    daemon.stderr?.on('data', (d) => { log += d; });
    await waitFor(`the daemon up, VRRP Master, every real up\n${log}`, async () => {
      const s = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
      return s.vrrp[0]?.state === 'MASTER' && s.services.length === 2 && s.services.every((x) => x.reals.every((r) => r.state === 'up'));
    }, 20_000);
    prog = BpfProgram.openPinned(path.join(base, 'bpffs', 'zero', 'xdp_lb'));
  });
  after(async () => {
    prog?.close();
    await stopDaemon(daemon, sock);
    await lab.cleanup();
  });

  test('zero SERVICE zeroes that service and its reals, not the other; later traffic shows; /metrics keeps counting', async () => {
    send(80, 12);
    send(443, 5);
    const m0 = await scrape();
    assert.equal(m0.get(WEB), 12);
    assert.equal(m0.get(TLS), 5);
    const l0 = listStats();
    assert.equal(l0.get(WEB)!.pkts, 12);
    assert.equal(l0.get(WEB)!.conns, 12);
    assert.ok(l0.get(WEB)!.bytes > 0);

    const z = xlvs('zero', WEB);
    assert.equal(z.status, 0, z.stderr);
    assert.equal(z.stdout, `  zeroed ${WEB}\n`);
    const l1 = listStats();
    assert.deepEqual(l1.get(WEB), { conns: 0, pkts: 0, bytes: 0 });
    for (const r of [50, 51]) assert.deepEqual(l1.get(`${WEB}|${NET}.${r}:80`), { conns: 0, pkts: 0, bytes: 0 }, `real .${r}`);
    assert.deepEqual(l1.get(TLS), l0.get(TLS), 'the other service is not zeroed');
    assert.equal(l1.get(TLS)!.pkts, 5);

    send(80, 3);
    const l2 = listStats();
    assert.equal(l2.get(WEB)!.pkts, 3, 'only the packets sent after the zero');
    assert.equal(l2.get(WEB)!.conns, 3);
    assert.equal((l2.get(`${WEB}|${NET}.50:80`)!.pkts + l2.get(`${WEB}|${NET}.51:80`)!.pkts), 3, 'the reals add up to the service');
    assert.equal(l2.get(TLS)!.pkts, 5);

    const m1 = await scrape();
    assert.equal(m1.get(WEB), 15, '/metrics keeps the raw, monotonic total');
    assert.equal(m1.get(TLS), 5);

    // The snapshot over the socket says since when (what `xlvs list --json` prints).
    const s = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
    const web = s.services.find((x) => x.key === WEB)!;
    assert.ok(web.zeroedAt && Date.now() - web.zeroedAt < 60_000, `zeroedAt ${web.zeroedAt}`);
    assert.equal(s.services.find((x) => x.key === TLS)!.zeroedAt, undefined);
    assert.match(log, new RegExp(`zeroed the listed counters of ${WEB.replace(/\./g, '\\.')}`));
  });

  test('an unknown service is an error naming it, with a non-zero exit, and nothing is zeroed', async () => {
    const before = listStats();
    const r = xlvs('zero', `${VIP}:8080/tcp`);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, new RegExp(`no service ${VIP.replace(/\./g, '\\.')}:8080/tcp .*nothing zeroed \\[E_USAGE\\]`));
    assert.equal(r.stdout, '');
    assert.deepEqual(listStats(), before);
    const bad = xlvs('zero', 'web');
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /"web" is not a service key/);
  });

  test('zero with no argument zeroes every service', async () => {
    send(443, 2);
    const z = xlvs('zero');
    assert.equal(z.status, 0, z.stderr);
    assert.equal(z.stdout, `  zeroed ${WEB}\n  zeroed ${TLS}\n`);
    for (const [k, v] of listStats()) assert.deepEqual(v, { conns: 0, pkts: 0, bytes: 0 }, k);
    const m = await scrape();
    assert.equal(m.get(WEB), 15);
    assert.equal(m.get(TLS), 7);
  });

  test('a zeroed service removed and added again by reload counts from its new entry', async () => {
    send(443, 4);
    assert.equal(listStats().get(TLS)!.pkts, 4);
    fs.writeFileSync(cfgFile, topology(false));
    assert.equal(xlvs('reload').status, 0);
    assert.equal(listStats().get(TLS), undefined);
    fs.writeFileSync(cfgFile, topology(true));
    assert.equal(xlvs('reload').status, 0);
    await waitFor('the TLS real up again', async () => {
      const s = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
      return s.services.find((x) => x.key === TLS)?.reals.every((r) => r.state === 'up');
    }, 10_000);
    send(443, 6);
    // The new entry started at zero in the maps: 6, not 6 minus the old baseline (clamped or negative).
    const l = listStats();
    assert.equal(l.get(TLS)!.pkts, 6);
    assert.equal(l.get(TLS)!.conns, 6);
    assert.equal(l.get(`${TLS}|${NET}.52:443`)!.pkts, 6);
    const s = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
    assert.equal(s.services.find((x) => x.key === TLS)!.zeroedAt, undefined, 'its old baseline is gone');
    assert.equal(l.get(WEB)!.pkts, 0, 'the other service keeps its zero');
    assert.equal((await scrape()).get(TLS), 6, '/metrics: a new entry, a new counter (as before xlvs zero existed)');
  });
});
