// `xlvs run` and `xlvs vrrp` refuse a topology file or a notify program that users other than
// root can write (keepalived enable_script_security) before they touch anything: no bpffs
// mounted, no pins, no socket, no VRRP speaker; with --insecure they warn and run. In a namespace of the test's own.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { Netlab } from '../../src/lab/netns';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { needsBpf } from '../lib/env';

const lab = new Netlab('xsec');
const base = `/run/xlvs-test-xsec-${process.pid}`;
after(async () => {
  await lab.cleanup();
  fs.rmSync(base, { recursive: true, force: true });
});

test('xlvs run and xlvs vrrp refuse an insecure topology file and notify program, naming each, and create nothing; --insecure warns and runs', needsBpf(), async () => {
  const ns = lab.addNs('dir');
  fs.mkdirSync(base, { recursive: true, mode: 0o755 });
  const notify = path.join(base, 'on-master');
  fs.writeFileSync(notify, '#!/bin/sh\nexit 0\n');
  fs.chmodSync(notify, 0o777);
  const file = path.join(base, 'topology.yaml');
  fs.writeFileSync(file, `director:
  name: xsec
  interface: lo
  pin_root: ${base}/bpffs
vrrp:
  - { name: VI_1, vrid: 7, interface: lo, vips: [10.99.0.1/32], notify: { master: [${notify}] } }
metrics: { enabled: false }
control: { socket: ${base}/ctl.sock }
`);
  fs.chmodSync(file, 0o666);
  const findings = [
    `  the topology file: ${file}: it is writable by every user (mode 0666)`,
    `  vrrp[0].notify.master: ${notify}: it is writable by every user (mode 0777)`,
  ];
  for (const cmd of ['run', 'vrrp']) {
    const r = lab.exec(ns, xlvsArgv([cmd, '-c', file]), { allowFail: true, timeoutMs: 30_000 });
    assert.notEqual(r.status, 0, `xlvs ${cmd} ran: ${r.stdout}`);
    assert.match(r.stderr, /E_INSECURE/, r.stderr);
    assert.match(r.stderr, /refusing to run commands that users other than root can change/);
    for (const f of findings) assert.ok(r.stderr.includes(f), `xlvs ${cmd} stderr lacks ${f}:\n${r.stderr}`);
  }
  assert.equal(fs.existsSync(`${base}/bpffs`), false, 'no pin root was created');
  assert.equal(fs.existsSync(`${base}/ctl.sock`), false, 'no control socket');
  assert.equal(lab.exec(ns, ['ip', '-o', 'addr', 'show', 'dev', 'lo']).stdout.includes('10.99.0.1'), false, 'no VIP was added');

  // --insecure: the same findings as warnings, and the speaker runs (stopped by its PID).
  const p = lab.spawn(ns, xlvsArgv(['vrrp', '--insecure', '-c', file]));
  let err = '';
  p.stderr!.on('data', (d) => { err += String(d); });
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no warning within 15 s:\n${err}`)), 15_000);
    const check = () => { if (findings.every((f) => err.includes(`insecure (--insecure given, running anyway): ${f.trim()}`))) { clearTimeout(t); resolve(); } };
    p.stderr!.on('data', check);
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`xlvs vrrp --insecure exited (${code}):\n${err}`)); });
  });
  assert.equal(p.exitCode, null, 'still running');
  const exited = new Promise((r) => p.once('exit', r));
  p.kill('SIGTERM');
  await exited;
});
