// `xlvs real drain|weight|clear` (ipvsadm -e -w 0) against a running daemon in a namespace:
// packets through the pinned program (BPF_PROG_TEST_RUN). A drained real gets no new SYNs while
// a connection established on it keeps going to it; `xlvs list`, /status.json and /metrics say
// it is the operator's doing. The daemon restarts (stop --keep-forwarding, run again) and the
// override is still in force, read from its file; `xlvs real clear` gives the real back.
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
import type { StatusSnapshot } from '../../src/common/status';
import { needsBpf } from '../lib/env';
import { eth } from '../lib/packet';
import { waitFor } from '../lab/lib/e2e-lab';
import { stopDaemon, testTopology, topologyLab, xlvsAt } from './topology';

const NET = '10.229.0';
const VIP = `${NET}.100`;
const WEB = `${VIP}:80/tcp`;
const METRICS = 9798;
const base = `/run/xlvs-test-drain-${process.pid}`;
const sock = `${base}/ctl.sock`;
const cfgFile = `${base}/topology.yaml`;
const ovFile = `${base}/drain.overrides.json`;
const DIR_MAC = '02:00:00:00:02:01';
const CLIENT = '198.51.100.7';
/** The reals .50 and .51, by the MAC testTopology gives them. */
const MAC_OF: Record<string, string> = { '02:00:00:00:00:32': `${NET}.50`, '02:00:00:00:00:33': `${NET}.51` };

const xlvs = xlvsAt(sock);

function macOf(frame: Buffer): string {
  return [...frame.subarray(0, 6)].map((b) => b.toString(16).padStart(2, '0')).join(':');
}

describe('xlvs real drain / weight / clear', needsBpf(), () => {
  const lab = new Netlab('drn');
  let ns = '';
  let daemon: ChildProcess | null = null;
  let log = '';
  let prog: BpfProgram | null = null;
  let sport = 30000;
  /** The established connection: its client port and the real it went to. */
  let est = { sport: 0, real: '' };

  /** One TCP segment from CLIENT:sport to the VIP through the pinned program; the real it was sent to. */
  function segment(port: number, flags: string): string {
    const frame = eth({ src: '02:00:00:00:00:aa', dst: DIR_MAC }).ipv4({ src: CLIENT, dst: VIP }).tcp({ sport: port, dport: 80, flags }).build();
    const r = prog!.testRun(frame);
    assert.equal(r.retval, 3, `XDP_TX for ${flags} from port ${port}\n${log}`);
    const real = MAC_OF[macOf(r.data)];
    assert.ok(real, `forwarded to an unknown MAC ${macOf(r.data)}`);
    return real;
  }

  /** The reals `n` new connections (SYNs from fresh ports) went to, counted. */
  function newFlows(n: number): Map<string, number> {
    const out = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const real = segment(sport++, 'S');
      out.set(real, (out.get(real) ?? 0) + 1);
    }
    return out;
  }

  async function status(): Promise<StatusSnapshot> {
    return reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
  }

  function startDaemon(extra: string[] = []): void {
    daemon = lab.spawn(ns, xlvsArgv(['run', '-c', cfgFile, ...extra]));
    daemon.stdout?.on('data', (d) => { log += d; });
    daemon.stderr?.on('data', (d) => { log += d; });
  }

  async function daemonUp(): Promise<void> {
    await waitFor(`the daemon up, every real in the maps\n${log}`, async () => {
      const s = await status();
      return s.services.length === 1 && s.services[0].reals.every((r) => r.id !== 0 && r.state !== 'down');
    }, 20_000);
  }

  before(async () => {
    ns = topologyLab(lab, { base, net: NET }).ns;
    lab.exec(ns, ['ip', 'link', 'set', 'eth0', 'address', DIR_MAC]);
    fs.writeFileSync(cfgFile, testTopology({ name: 'drain', net: NET, vrid: 78, base, reals: [50, 51], metricsPort: METRICS }));
    startDaemon();
    await daemonUp();
    prog = BpfProgram.openPinned(path.join(base, 'bpffs', 'drain', 'xdp_lb'));
  });
  after(async () => {
    prog?.close();
    await stopDaemon(daemon, sock);
    await lab.cleanup();
  });

  test('drain: new SYNs avoid the real, the connection established on it keeps going to it; list, status and metrics say so', async () => {
    const before = newFlows(40);
    assert.equal(before.size, 2, `both reals take new flows before: ${JSON.stringify([...before])}`);
    est = { sport: sport++, real: '' };
    est.real = segment(est.sport, 'S');
    assert.equal(segment(est.sport, 'A'), est.real, 'the handshake\'s ACK follows its SYN');

    const r = xlvs('real', 'drain', WEB, est.real);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `  ${WEB} ${est.real}:80: drained by operator\n`);
    const logged = new RegExp(`\\[daemon\\] ${WEB.replace(/\./g, '\\.')} ${est.real.replace(/\./g, '\\.')}:80: drained by operator`);
    await waitFor(`the drain in the daemon's log\n${log}`, async () => logged.test(log), 5000);

    const after = newFlows(40);
    assert.equal(after.get(est.real), undefined, `no new flow to the drained real: ${JSON.stringify([...after])}`);
    for (let i = 0; i < 5; i++) assert.equal(segment(est.sport, 'PA'), est.real, 'the established connection stays on it');

    const list = xlvs('list');
    assert.equal(list.status, 0, list.stderr);
    assert.match(list.stdout, new RegExp(`-> ${est.real.replace(/\./g, '\\.')}:80 +Route +0 .*\\(drained by operator; topology 1\\)`), list.stdout);
    const s = await status();
    const real = s.services[0].reals.find((x) => x.address === est.real)!;
    assert.equal(real.state, 'drain');
    assert.equal(real.override?.drained, true);
    assert.equal(real.reason, 'drained by operator; topology 1');
    assert.ok(fs.existsSync(ovFile), 'kept in the file beside the socket');

    await new Promise((res) => setTimeout(res, 300)); // the scrape cache lives 250 ms
    const metrics = lab.exec(ns, ['curl', '-sf', `http://127.0.0.1:${METRICS}/metrics`]).stdout;
    assert.match(metrics, new RegExp(`^xlvs_real_override\\{vip="${WEB}",real="${est.real}:80",kind="drain"\\} 1$`, 'm'));
    const json = JSON.parse(lab.exec(ns, ['curl', '-sf', `http://127.0.0.1:${METRICS}/status.json`]).stdout) as StatusSnapshot;
    assert.equal(json.services[0].reals.find((x) => x.address === est.real)!.override?.drained, true);
  });

  test('an unknown service or real is an error naming it, and nothing changes', async () => {
    const before = JSON.stringify((await status()).services[0].reals.map((r) => [r.key, r.state, r.override]));
    const file = fs.readFileSync(ovFile, 'utf8');
    const svc = xlvs('real', 'drain', `${VIP}:8080/tcp`, `${NET}.50`);
    assert.notEqual(svc.status, 0);
    assert.match(svc.stderr, new RegExp(`no service ${VIP.replace(/\./g, '\\.')}:8080/tcp .*nothing changed \\[E_USAGE\\]`));
    const real = xlvs('real', 'weight', WEB, `${NET}.99`, '5');
    assert.notEqual(real.status, 0);
    assert.match(real.stderr, new RegExp(`has no real ${NET.replace(/\./g, '\\.')}\\.99 .*nothing changed \\[E_USAGE\\]`));
    assert.equal(JSON.stringify((await status()).services[0].reals.map((r) => [r.key, r.state, r.override])), before);
    assert.equal(fs.readFileSync(ovFile, 'utf8'), file);
  });

  test('a restarted daemon keeps the override in force; the established connection survives too', async () => {
    const gone = new Promise((r) => daemon!.once('exit', r));
    await controlRequest(sock, { cmd: 'stop', keepForwarding: true });
    await gone;
    log = '';
    // This daemon logs JSON lines (--log-format json): each line one record, stable fields.
    startDaemon(['--log-format', 'json']);
    await daemonUp();
    const records = () => log.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as { ts?: string; level: string; kind: string; msg: string });
    await waitFor(`the new daemon serving\n${log}`, async () => records().some((r) => r.kind === 'daemon' && r.msg.startsWith('running: ')), 10_000);
    const inForce = records().find((r) => /override in force from .*drain\.overrides\.json: .* drained/.test(r.msg));
    assert.ok(inForce, `no override record in\n${log}`);
    assert.equal(inForce.level, 'info');
    assert.match(inForce.ts ?? '', /^\d{4}-\d\d-\d\dT/, 'a timestamp outside journald');
    const s = await status();
    assert.equal(s.services[0].reals.find((x) => x.address === est.real)!.state, 'drain');
    const flows = newFlows(40);
    assert.equal(flows.get(est.real), undefined, `still no new flow to the drained real: ${JSON.stringify([...flows])}`);
    assert.equal(segment(est.sport, 'PA'), est.real);
  });

  test('weight and clear: a weight override shows beside the topology\'s; clear gives the real back to new flows', async () => {
    const other = est.real === `${NET}.50` ? `${NET}.51` : `${NET}.50`;
    const w = xlvs('real', 'weight', WEB, `${other}:80`, '4');
    assert.equal(w.status, 0, w.stderr);
    assert.equal(w.stdout, `  ${WEB} ${other}:80: weight 4 by operator (topology 1)\n`);
    assert.match(xlvs('list').stdout, new RegExp(`-> ${other.replace(/\./g, '\\.')}:80 +Route +4 .*\\(weight 4 by operator; topology 1\\)`));

    const c = xlvs('real', 'clear');
    assert.equal(c.status, 0, c.stderr);
    assert.equal(c.stdout.split('\n').filter(Boolean).length, 2, c.stdout);
    assert.equal(fs.existsSync(ovFile), false);
    const s = await status();
    for (const r of s.services[0].reals) {
      assert.equal(r.state, 'up', r.key);
      assert.equal(r.override, undefined, r.key);
    }
    assert.doesNotMatch(xlvs('list').stdout, /by operator/);
    const flows = newFlows(40);
    assert.ok((flows.get(est.real) ?? 0) > 0, `the real takes new flows again: ${JSON.stringify([...flows])}`);
  });

  test('reload keeps the overrides; --clear-overrides removes them; one whose real is gone is dropped and logged', async () => {
    const other = est.real === `${NET}.50` ? `${NET}.51` : `${NET}.50`;
    assert.equal(xlvs('real', 'drain', WEB, est.real).status, 0);
    assert.equal(xlvs('real', 'weight', WEB, other, '3').status, 0);
    const keep = xlvs('reload');
    assert.equal(keep.status, 0, keep.stderr);
    let s = await status();
    assert.deepEqual(s.services[0].reals.map((r) => [r.address, r.state, r.override?.drained, r.override?.weight]).sort(),
      [[est.real, 'drain', true, undefined], [other, 'up', undefined, 3]].sort());

    const cleared = xlvs('reload', '--clear-overrides');
    assert.equal(cleared.status, 0, cleared.stderr);
    assert.match(cleared.stdout, /cleared the operator overrides/);
    s = await status();
    assert.ok(s.services[0].reals.every((r) => r.state === 'up' && !r.override), JSON.stringify(s.services[0].reals.map((r) => [r.key, r.state, r.override])));
    assert.equal(fs.existsSync(ovFile), false);

    // The drained real leaves the topology: its override goes with it, said in the log.
    assert.equal(xlvs('real', 'drain', WEB, est.real).status, 0);
    const octet = (a: string) => Number(a.split('.')[3]);
    fs.writeFileSync(cfgFile, testTopology({ name: 'drain', net: NET, vrid: 78, base, reals: [octet(other)], metricsPort: METRICS }));
    const gone = xlvs('reload');
    assert.equal(gone.status, 0, gone.stderr);
    // (This daemon logs JSON since the restart: the record's kind and message.)
    const dropped = new RegExp(`"kind":"reload","msg":"${WEB.replace(/\./g, '\\.')} ${est.real.replace(/\./g, '\\.')}:80: override dropped, the real is no longer configured`);
    await waitFor(`the dropped override in the log\n${log}`, async () => dropped.test(log), 5000);
    assert.equal(fs.existsSync(ovFile), false);
    // Back in the topology, it is a plain real again.
    fs.writeFileSync(cfgFile, testTopology({ name: 'drain', net: NET, vrid: 78, base, reals: [50, 51], metricsPort: METRICS }));
    assert.equal(xlvs('reload').status, 0);
    s = await status();
    assert.ok(s.services[0].reals.every((r) => !r.override), JSON.stringify(s.services[0].reals.map((r) => [r.key, r.state, r.override])));
  });
});
