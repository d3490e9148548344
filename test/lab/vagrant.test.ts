// vagrant/: the Vagrantfile validates against config/lab.yaml and the provisioning scripts parse.
// Runs when the vagrant command is installed (Debian package `vagrant`); skips with the reason otherwise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { repoRoot } from '../../src/paths';

function gate(): { skip?: string } {
  if (spawnSync('sh', ['-c', 'command -v vagrant']).status === 0) return {};
  const reason = 'needs vagrant (apt-get install vagrant)';
  process.stdout.write(`# skip: ${reason}\n`);
  return { skip: reason };
}

const dir = path.join(repoRoot(), 'vagrant');

test('provisioning scripts are valid bash', () => {
  const scripts = fs.readdirSync(dir).filter((f) => f.endsWith('.sh'));
  assert.deepEqual(scripts.sort(), ['provision-client.sh', 'provision-common.sh', 'provision-director.sh', 'provision-real.sh', 'provision-router.sh']);
  for (const s of scripts) {
    const r = spawnSync('bash', ['-n', path.join(dir, s)], { encoding: 'utf8' });
    assert.equal(r.status, 0, `${s}: ${r.stderr}`);
  }
});

test('vagrant validate accepts the Vagrantfile for the lab file', gate(), () => {
  const dot = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-vagrant-'));
  try {
    const env = { ...process.env, VAGRANT_CWD: dir, VAGRANT_DOTFILE_PATH: dot, VAGRANT_CHECKPOINT_DISABLE: '1' };
    // --ignore-provider: without VirtualBox or the libvirt plugin installed, plain `validate`
    // stops at "No usable default provider" before it reads the machines (CI has neither).
    const r = spawnSync('vagrant', ['validate', '--ignore-provider'], { encoding: 'utf8', env, timeout: 60_000 });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /Vagrantfile validated successfully/);
    // A broken lab file must fail validation, naming the problem (addresses come from it).
    const bad = path.join(dot, 'lab.yaml');
    fs.writeFileSync(bad, 'director: {}\n');
    const r2 = spawnSync('vagrant', ['validate', '--ignore-provider'], { encoding: 'utf8', env: { ...env, XLVS_LAB: bad }, timeout: 60_000 });
    assert.notEqual(r2.status, 0);
    assert.match(r2.stdout + r2.stderr, /addresses/);
  } finally {
    fs.rmSync(dot, { recursive: true, force: true });
  }
});
