// sd_notify for xlvs@.service (Type=notify): the datagram itself, to a path and to an abstract
// socket; and `xlvs run` in a namespace sending READY=1 once it has applied its topology and
// answers on its control socket, RELOADING=1 then READY=1 around a reload (SIGHUP), STOPPING=1 on
// SIGTERM, which leaves the data plane pinned unless director.on_sigterm is remove.
import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, SOCK_NONBLOCK, libc, recvFrom, sockaddrUn } from '../../src/sys/libc';
import { sdNotify, watchdogOf } from '../../src/sys/sd-notify';
import { Netlab } from '../../src/lab/netns';
import { run } from '../../src/sys/exec';
import { controlRequest } from '../../src/control/client';
import { reviveSnapshot } from '../../src/cli/commands/control';
import { repoRoot } from '../../src/paths';
import { needsBpf } from '../lib/env';

/** A bound, non-blocking unix datagram socket: what systemd listens on. */
function receiver(where: string): { fd: number; close: () => void } {
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0) as number;
  assert.ok(fd >= 0, 'socket');
  const sa = sockaddrUn(where)!;
  assert.equal(c.bind(fd, sa.addr, sa.len), 0, `bind ${where}`);
  return { fd, close: () => { c.close(fd); if (!where.startsWith('@')) fs.rmSync(where, { force: true }); } };
}

async function receive(fd: number, ms: number, log = () => ''): Promise<string> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    const m = recvFrom(fd);
    if (m) return m.data.toString();
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no notification in ${ms} ms\n${log()}`);
}

test('sdNotify sends one datagram to a path or an abstract NOTIFY_SOCKET, nothing without one', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-notify-'));
  try {
    const p = path.join(dir, 'notify');
    const r = receiver(p);
    try {
      assert.deepEqual(sdNotify('READY=1\nSTATUS=up', { NOTIFY_SOCKET: p }), { sent: true });
      assert.equal(await receive(r.fd, 1000), 'READY=1\nSTATUS=up');
    } finally { r.close(); }
    const abs = `@xlvs-test-notify-${process.pid}`;
    const a = receiver(abs);
    try {
      assert.deepEqual(sdNotify('STOPPING=1', { NOTIFY_SOCKET: abs }), { sent: true });
      assert.equal(await receive(a.fd, 1000), 'STOPPING=1');
    } finally { a.close(); }
    assert.deepEqual(sdNotify('READY=1', {}), { sent: false });
    assert.match(sdNotify('READY=1', { NOTIFY_SOCKET: 'relative' }).error!, /only unix socket paths/);
    assert.match(sdNotify('READY=1', { NOTIFY_SOCKET: path.join(dir, 'nobody') }).error!, /sendto .*errno/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('watchdogOf: half of WATCHDOG_USEC, only with a NOTIFY_SOCKET and for the PID WATCHDOG_PID names', () => {
  assert.deepEqual(watchdogOf({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '20000000' }, 42), { notifySocket: '/run/n', intervalMs: 10_000 });
  assert.deepEqual(watchdogOf({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '42' }, 42), { notifySocket: '/run/n', intervalMs: 10_000 });
  assert.equal(watchdogOf({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: '20000000', WATCHDOG_PID: '41' }, 42), null);
  assert.equal(watchdogOf({ WATCHDOG_USEC: '20000000' }, 42), null);
  assert.equal(watchdogOf({ NOTIFY_SOCKET: '/run/n' }, 42), null);
  assert.equal(watchdogOf({ NOTIFY_SOCKET: '/run/n', WATCHDOG_USEC: 'x' }, 42), null);
});

describe('xlvs run under a notify socket', needsBpf(), () => {
  const lab = new Netlab('sdn');
  const base = `/run/xlvs-test-sdn-${process.pid}`;
  const bpffs = `${base}/bpffs`;
  const sock = `${base}/ctl.sock`;
  const cfgFile = `${base}/topology.yaml`;
  const notifyPath = `${base}/notify`;
  let dirNs = '';
  let daemon: ChildProcess | null = null;
  let log = '';
  let rx: { fd: number; close: () => void } | null = null;

  before(() => {
    fs.mkdirSync(bpffs, { recursive: true });
    run(['mount', '-t', 'bpf', 'bpf', bpffs]);
    lab.onCleanup(() => { run(['umount', bpffs], { allowFail: true }); fs.rmSync(base, { recursive: true, force: true }); });
    dirNs = lab.addNs('dir');
    const peer = lab.addNs('peer');
    lab.addVeth(dirNs, 'eth0', peer, 'eth0');
    lab.addAddr(dirNs, 'eth0', '10.78.0.1/24');
    fs.writeFileSync(cfgFile, `director:
  name: sdn
  interface: eth0
  xdp_mode: generic
  addresses: [10.78.0.1/24]
  pin_root: ${bpffs}
services:
  - vip: 10.78.0.100
    port: 80
    protocol: tcp
    method: dr
    reals:
      - { address: 10.78.0.21, weight: 1 }
metrics: { listen: 127.0.0.1:9793 }
control: { socket: ${sock} }
`, { mode: 0o600 });
    rx = receiver(notifyPath);
  });

  after(async () => {
    if (daemon?.pid && daemon.exitCode === null) {
      try { await controlRequest(sock, { cmd: 'stop' }, 3000); } catch { /* gone */ }
    }
    rx?.close();
    await lab.cleanup();
  });

  const start = () => {
    daemon = lab.spawn(dirNs, ['node', path.join(repoRoot(), 'bin', 'xlvs.js'), 'run', '-c', cfgFile], { env: { ...process.env, NOTIFY_SOCKET: notifyPath } });
    daemon.stdout?.on('data', (d) => { log += d; });
    daemon.stderr?.on('data', (d) => { log += d; });
  };
  const sigterm = async () => {
    const exited = new Promise<number | null>((resolve) => daemon!.once('exit', (code) => resolve(code)));
    process.kill(daemon!.pid!, 'SIGTERM');
    assert.equal(await receive(rx!.fd, 5000, () => log), 'STOPPING=1');
    assert.equal(await exited, 0, log);
  };

  test('READY=1 once the topology is applied and the control socket answers; RELOADING=1 and READY=1 around a reload; STOPPING=1 on SIGTERM, pins kept', async () => {
    start();
    const ready = await receive(rx!.fd, 20_000, () => log);
    assert.match(ready, /^READY=1\nSTATUS=forwarding with /);
    // at that moment, not after a retry: the first apply is done and the socket listens
    const s = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }, 3000));
    assert.equal(s.services.length, 1);
    assert.equal(s.services[0].reals[0].address, '10.78.0.21');
    assert.ok(fs.existsSync(`${bpffs}/sdn/xdp_lb`), 'program pinned');
    assert.equal(recvFrom(rx!.fd), null, 'one READY=1, nothing else');
    // systemctl reload (ExecReload sends SIGHUP): reloading from RELOADING=1 to READY=1
    process.kill(daemon!.pid!, 'SIGHUP');
    assert.match(await receive(rx!.fd, 5000, () => log), /^RELOADING=1\nMONOTONIC_USEC=\d+$/);
    assert.match(await receive(rx!.fd, 5000, () => log), /^READY=1\nSTATUS=forwarding with .* \(reloaded\)$/);
    // a reload refused (bad file) still ends the reloading state
    const good = fs.readFileSync(cfgFile, 'utf8');
    fs.writeFileSync(cfgFile, good.replace('weight: 1', 'weight: 70000'), { mode: 0o600 });
    process.kill(daemon!.pid!, 'SIGHUP');
    assert.match(await receive(rx!.fd, 5000, () => log), /^RELOADING=1\n/);
    assert.match(await receive(rx!.fd, 5000, () => log), /^READY=1\nSTATUS=forwarding with the previous topology; reload refused: /);
    fs.writeFileSync(cfgFile, good, { mode: 0o600 });
    await sigterm();
    assert.ok(fs.existsSync(`${bpffs}/sdn/xdp_lb`), 'SIGTERM left the program pinned (director.on_sigterm: keep)');
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.ok(link.xdp, 'and attached');
  });

  test('with director.on_sigterm: remove, SIGTERM detaches and unpins', async () => {
    fs.writeFileSync(cfgFile, fs.readFileSync(cfgFile, 'utf8').replace('  xdp_mode: generic\n', '  xdp_mode: generic\n  on_sigterm: remove\n'), { mode: 0o600 });
    log = '';
    start();
    assert.match(await receive(rx!.fd, 20_000, () => log), /^READY=1\n/);
    assert.match(log, /adopted pinned data plane/);
    await sigterm();
    assert.ok(!fs.existsSync(`${bpffs}/sdn/xdp_lb`), 'SIGTERM unpinned');
    const link = JSON.parse(lab.exec(dirNs, ['ip', '-j', '-d', 'link', 'show', 'eth0']).stdout)[0];
    assert.equal(link.xdp, undefined, 'no XDP program left');
  });

  test('WatchdogSec= (WATCHDOG_USEC): WATCHDOG=1 at half the timeout, from the VRRP thread or, without VRRP, the main one', async () => {
    const plain = fs.readFileSync(cfgFile, 'utf8');
    const withVrrp = plain.replace('services:\n', 'vrrp:\n  - { name: VI_1, vrid: 78, priority: 150, version: 3, advert_interval: 100ms, vips: [10.78.0.100/24] }\nservices:\n');
    for (const [what, cfg] of [['VRRP', withVrrp], ['no VRRP', plain]]) {
      fs.writeFileSync(cfgFile, cfg, { mode: 0o600 });
      log = '';
      daemon = lab.spawn(dirNs, ['node', path.join(repoRoot(), 'bin', 'xlvs.js'), 'run', '-c', cfgFile],
        { env: { ...process.env, NOTIFY_SOCKET: notifyPath, WATCHDOG_USEC: '200000' } });
      daemon.stdout?.on('data', (d) => { log += d; });
      daemon.stderr?.on('data', (d) => { log += d; });
      const seen: string[] = [];
      const end = Date.now() + 20_000;
      while (Date.now() < end && !seen.some((m) => m.startsWith('READY=1'))) seen.push(await receive(rx!.fd, 20_000, () => log));
      const t0 = Date.now();
      let pings = 0;
      while (Date.now() - t0 < 1000) { if ((await receive(rx!.fd, 1000, () => log)) === 'WATCHDOG=1') pings++; }
      assert.ok(pings >= 6 && pings <= 12, `${what}: ${pings} WATCHDOG=1 in 1 s at a 100 ms interval`);
      await new Promise<void>((resolve) => { daemon!.once('exit', () => resolve()); process.kill(daemon!.pid!, 'SIGTERM'); });
      while (recvFrom(rx!.fd)) { /* drain STOPPING=1 and late pings */ }
    }
  });
});
