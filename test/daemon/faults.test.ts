// The daemon's fault paths, in a namespace: an error nothing catches is logged and the daemon
// keeps serving (and forwarding); a reload whose new VRRP instances cannot start puts the previous
// instances and the previous maps back, and says so.
import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { controlRequest } from '../../src/control/client';
import { reviveSnapshot } from '../../src/cli/commands/control';
import type { StatusSnapshot } from '../../src/common/status';
import { needsBpf } from '../lib/env';
import { testTopology, topologyLab } from './topology';

const NET = '10.238.0';
const VIP = `${NET}.100`;
const base = `/run/xlvs-test-faults-${process.pid}`;
const sock = `${base}/ctl.sock`;
const cfgFile = `${base}/topology.yaml`;

const topology = (extraVrrp = '', extraServices = ''): string => testTopology({ name: 'faults', net: NET, vrid: 71, base, reals: [50], extraVrrp, extraServices });

describe('daemon fault paths', needsBpf(), () => {
  const lab = new Netlab('dflt');
  let ns = '';
  let daemon: ChildProcess | null = null;
  let log = '';

  async function waitLog(re: RegExp, ms: number): Promise<void> {
    const end = Date.now() + ms;
    while (!re.test(log)) {
      if (Date.now() > end) throw new Error(`timed out waiting for ${re}; daemon log:\n${log}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  const status = async (): Promise<StatusSnapshot> => reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
  function startDaemon(): void {
    log = '';
    daemon = lab.spawn(ns, [process.execPath, path.join(__dirname, 'stall-daemon.js'), cfgFile]);
    daemon.stdout?.on('data', (d) => { log += d; });
    daemon.stderr?.on('data', (d) => { log += d; });
  }

  before(async () => {
    const { ns: d, peer } = topologyLab(lab, { base, net: NET });
    ns = d;
    // An interface with no address: a VRRP instance there passes validation but cannot start
    // (no source address for its adverts).
    lab.addVeth(ns, 'eth1', peer, 'eth1');
    fs.writeFileSync(cfgFile, topology());
    startDaemon();
    await waitLog(/VI_1 BACKUP -> MASTER/, 15_000);
  });
  after(async () => {
    if (daemon && daemon.exitCode === null) {
      const gone = new Promise((r) => daemon!.once('exit', r));
      process.kill(daemon.pid!, 'SIGTERM');
      await gone;
    }
    await lab.cleanup();
  });

  test('an uncaught exception and an unhandled rejection are logged; the daemon keeps answering', async () => {
    process.kill(daemon!.pid!, 'SIGUSR1');
    await waitLog(/uncaught exception .*injected uncaught error/, 5000);
    await waitLog(/unhandled promise rejection .*injected unhandled rejection/, 5000);
    const s = await status();
    assert.equal(daemon!.exitCode, null, 'still running');
    assert.equal(s.vrrp[0].state, 'MASTER');
    assert.equal(s.services.length, 1);
  });

  test('a reload whose new VRRP instance cannot start restores the previous instances and maps', async () => {
    fs.writeFileSync(cfgFile, topology(
      '  - { name: VI_2, interface: eth1, vrid: 72, priority: 100, vips: [10.239.0.100/24] }\n',
      `  - vip: ${NET}.101\n    port: 80\n    method: dr\n    reals:\n      - { address: ${NET}.51, mac: "02:00:00:00:00:51" }\n`,
    ));
    await assert.rejects(controlRequest(sock, { cmd: 'reload' }), (e: Error) => {
      assert.match(e.message, /eth1/, `reload: ${e.message}; daemon log:\n${log}`);
      return true;
    });
    await waitLog(/restarting the previous instances/, 5000);
    await waitLog(/reload\] failed, previous state kept/, 5000);
    const s = await status();
    assert.deepEqual(s.services.map((x) => x.key), [`${VIP}:80/tcp`], 'the service the failed reload added is gone again');
    assert.deepEqual(s.vrrp.map((v) => v.name), ['VI_1']);
    // The previous instance is back and wins the election again (it is alone on the link).
    const end = Date.now() + 5000;
    let state = '';
    while (Date.now() < end) {
      state = (await status()).vrrp[0]?.state ?? '';
      if (state === 'MASTER') break;
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.equal(state, 'MASTER', `VI_1 is ${state} after the failed reload; log:\n${log}`);
  });

  test('a re-pin interrupted after the old program was unpinned does not block the next start', async () => {
    fs.writeFileSync(cfgFile, topology());
    const gone = new Promise((r) => daemon!.once('exit', r));
    await controlRequest(sock, { cmd: 'stop', keepForwarding: true });
    await gone;
    const pinDir = `${base}/bpffs/faults`;
    assert.ok(fs.existsSync(`${pinDir}/lb_conns`), 'the maps stay pinned');
    // What an upgrade that failed between unpinning the old program and pinning the new leaves.
    fs.unlinkSync(`${pinDir}/xdp_lb`);
    startDaemon();
    await waitLog(/took over the pinned data plane of another build/, 15_000);
    await waitLog(/\[daemon\] running: /, 15_000);
    const s = await status();
    assert.equal(s.services.length, 1);
    assert.ok(fs.existsSync(`${pinDir}/xdp_lb`), 'the program is pinned again');
  });
});
