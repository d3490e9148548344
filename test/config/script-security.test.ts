// Script security (keepalived enable_script_security): files with bad owners and modes in a
// temp dir, checked by the same functions the daemon and `xlvs vrrp` call; and script_user
// really changes the uid a command runs as. Needs root (chown).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  applyScriptSecurity, enforceScriptSecurity, lookupUser, pathInsecurity, resolveProgram,
  scriptSecurityProblems, topologyCommands, formatInsecurity,
} from '../../src/config/script-security';
import { loadTopology } from '../../src/config/load';
import { runNotify } from '../../src/vrrp/notify';
import { scriptIdentity, setScriptIdentity } from '../../src/sys/run-as';
import { isXlvsError } from '../../src/errors';

const root = process.getuid?.() === 0 ? {} : { skip: 'needs root (chown)' };
const NOBODY = lookupUser('nobody');

/** A fresh root-owned 0755 directory under the (sticky) temp dir, removed afterwards. */
function withDir(fn: (dir: string) => void | Promise<void>): () => Promise<void> {
  return async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-test-scriptsec-'));
    fs.chmodSync(dir, 0o755);
    try {
      await fn(dir);
    } finally {
      setScriptIdentity(null);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  };
}

function script(p: string, mode = 0o755, body = '#!/bin/sh\nexit 0\n'): string {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, body);
  fs.chmodSync(p, mode);
  return p;
}

test('a root-owned 0755 script in root-owned directories is secure (a sticky /tmp above is fine)', root, withDir((dir) => {
  const s = script(path.join(dir, 'ok'));
  assert.equal(pathInsecurity(s), null);
  const sticky = path.join(dir, 'sticky');
  fs.mkdirSync(sticky);
  fs.chmodSync(sticky, 0o1777);
  assert.equal(pathInsecurity(script(path.join(sticky, 'ok'))), null);
  assert.equal(pathInsecurity(path.join(dir, 'missing')), null, 'a program that does not exist runs nothing');
}));

test('writable by others, by a non-root group, owned by another user: the file and each directory above', root, withDir((dir) => {
  assert.equal(pathInsecurity(script(path.join(dir, 'o+w'), 0o757)), 'it is writable by every user (mode 0757)');
  const g = script(path.join(dir, 'g+w'), 0o775);
  fs.chownSync(g, 0, 1000);
  assert.equal(pathInsecurity(g), 'it is writable by group 1000 (mode 0775)');
  const gRoot = script(path.join(dir, 'g+w-root'), 0o775);
  assert.equal(pathInsecurity(gRoot), null, 'group root may write: only root is in it');
  const owned = script(path.join(dir, 'owned'));
  fs.chownSync(owned, 65534, 0);
  assert.equal(pathInsecurity(owned), 'it is owned by uid 65534, not root');
  const open = path.join(dir, 'open');
  const inOpen = script(path.join(open, 'deep', 'x'));
  fs.chmodSync(open, 0o777);
  assert.equal(pathInsecurity(inOpen), `the directory ${open} above it is writable by every user (mode 0777)`);
  const link = path.join(dir, 'link');
  fs.symlinkSync(path.join(dir, 'o+w'), link);
  assert.equal(pathInsecurity(link), `its target ${path.join(dir, 'o+w')} is writable by every user (mode 0757)`);
}));

test('script_user may own its programs; root alone may own the topology file', root, withDir((dir) => {
  assert.ok(NOBODY, 'nobody is in /etc/passwd');
  const owned = script(path.join(dir, 'mine'));
  fs.chownSync(owned, NOBODY.uid, NOBODY.gid);
  assert.equal(pathInsecurity(owned, NOBODY.uid), null);
  assert.equal(pathInsecurity(owned), `it is owned by uid ${NOBODY.uid}, not root`);
}));

test('programs are found on PATH like execvp; every finding names its config path and file', root, withDir((dir) => {
  const bin = path.join(dir, 'bin');
  script(path.join(bin, 'on-master'), 0o777);
  assert.equal(resolveProgram('on-master', `/nonexistent:${bin}`), path.join(bin, 'on-master'));
  assert.equal(resolveProgram('no-such-program-xlvs', bin), null);
  assert.equal(resolveProgram('./x'), path.resolve('x'));
  const topo = path.join(dir, 'topology.yaml');
  fs.writeFileSync(topo, 'director: { name: d, interface: eth0 }\n');
  fs.chmodSync(topo, 0o666);
  const found = scriptSecurityProblems(topo, [
    { argv: ['on-master', '%instance%'], use: 'vrrp[0].notify.master' },
    { argv: ['/bin/true'], use: 'services[0].quorum.up' },
    { argv: ['on-master'], use: 'vrrp_scripts[0].command' },
  ], { pathEnv: bin });
  assert.deepEqual(found.map(formatInsecurity), [
    `the topology file: ${topo}: it is writable by every user (mode 0666)`,
    `vrrp[0].notify.master: ${path.join(bin, 'on-master')}: it is writable by every user (mode 0777)`,
    `vrrp_scripts[0].command: ${path.join(bin, 'on-master')}: it is writable by every user (mode 0777)`,
  ]);
  assert.throws(() => enforceScriptSecurity(topo, [], {}), (e: unknown) => {
    assert.ok(isXlvsError(e, 'E_INSECURE'), String(e));
    assert.match((e as Error).message, /refusing to run commands that users other than root can change/);
    assert.ok((e as Error).message.includes(`the topology file: ${topo}: it is writable by every user (mode 0666)`));
    return true;
  });
  const warned: string[] = [];
  enforceScriptSecurity(topo, [], { insecure: true, warn: (m) => warned.push(m) });
  assert.deepEqual(warned, [`insecure (--insecure given, running anyway): the topology file: ${topo}: it is writable by every user (mode 0666)`]);
  fs.chmodSync(topo, 0o644);
  enforceScriptSecurity(topo, [{ argv: ['/bin/true'], use: 'x' }]);
}));

test('topologyCommands lists every command of a topology with its config path', () => {
  const t = loadTopology(`director: { name: d, interface: eth0, addresses: [10.0.0.2/24] }
vrrp_scripts: [{ name: chk, command: [/usr/bin/chk] }]
vrrp:
  - { name: VI_1, vrid: 1, vips: [10.0.0.100], track_scripts: [chk], notify: { master: [/usr/bin/m], any: [/usr/bin/a] } }
services:
  - vip: 10.0.0.100
    port: 80
    quorum: { up: [/usr/bin/qu], down: [/usr/bin/qd] }
    check: { type: script, script: { command: [/usr/bin/c, "%address%"] } }
    reals: [{ address: 10.0.0.11, notify_up: [/usr/bin/nu], notify_down: [/usr/bin/nd] }]
`);
  assert.deepEqual(topologyCommands(t).map((c) => `${c.use}=${c.argv[0]}`), [
    'vrrp[0].notify.master=/usr/bin/m', 'vrrp[0].notify.any=/usr/bin/a', 'vrrp_scripts[0].command=/usr/bin/chk',
    'services[0].quorum.up=/usr/bin/qu', 'services[0].quorum.down=/usr/bin/qd',
    'services[0].reals[0].notify_up=/usr/bin/nu', 'services[0].reals[0].notify_down=/usr/bin/nd',
    'services[0].reals[0].check.script.command=/usr/bin/c',
  ]);
});

test('script_user: applyScriptSecurity makes commands run as that user (uid and gid checked by the script)', root, withDir(async (dir) => {
  assert.ok(NOBODY);
  const topo = path.join(dir, 'topology.yaml');
  fs.writeFileSync(topo, 'x\n');
  const probe = script(path.join(dir, 'whoami'), 0o755, `#!/bin/sh\n[ "$(id -u)" = ${NOBODY.uid} ] && [ "$(id -g)" = ${NOBODY.gid} ]\n`);
  assert.equal((await runNotify([probe])).code, 1, 'as root the probe fails');
  applyScriptSecurity(topo, [{ argv: [probe], use: 'vrrp[0].notify.master' }], 'nobody');
  assert.deepEqual(scriptIdentity(), { uid: NOBODY.uid, gid: NOBODY.gid });
  assert.equal((await runNotify([probe])).code, 0, 'as nobody it succeeds');
  assert.throws(() => applyScriptSecurity(topo, [], 'no-such-user-xlvs'), /script_user: no user "no-such-user-xlvs" in \/etc\/passwd/);
  applyScriptSecurity(topo, [], null);
  assert.deepEqual(scriptIdentity(), {});
}));
