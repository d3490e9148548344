// Golden tests: each config/examples/*.yaml normalises to the committed *.json beside it.
// UPDATE_GOLDEN=1 rewrites the JSON files (review the diff before committing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTopologyFile } from '../../src/config/load';
import { repoRoot } from '../../src/paths';

const dir = path.join(repoRoot(), 'config', 'examples');
const examples = fs.readdirSync(dir).filter((f) => f.endsWith('.yaml')).sort();

test('there are examples for every feature the issue lists', () => {
  for (const name of ['dr-tcp-master', 'dr-tcp-backup', 'master-master', 'persistence', 'tun', 'ipv6', 'port-zero', 'http-digest', 'dns-udp']) {
    assert.ok(examples.includes(`${name}.yaml`), `${name}.yaml missing`);
  }
});

for (const f of examples) {
  test(`example ${f} normalises to its golden JSON`, () => {
    const got = JSON.stringify(loadTopologyFile(path.join(dir, f)), null, 2) + '\n';
    const golden = path.join(dir, f.replace(/\.yaml$/, '.json'));
    if (process.env.UPDATE_GOLDEN === '1') fs.writeFileSync(golden, got);
    assert.ok(fs.existsSync(golden), `${golden} missing (run with UPDATE_GOLDEN=1)`);
    assert.equal(got, fs.readFileSync(golden, 'utf8'));
  });
}

test('the master/backup pair differ only where keepalived pairs differ', () => {
  const a = loadTopologyFile(path.join(dir, 'dr-tcp-master.yaml'));
  const b = loadTopologyFile(path.join(dir, 'dr-tcp-backup.yaml'));
  assert.deepEqual(a.services, b.services);
  assert.equal(a.vrrp[0].vrid, b.vrrp[0].vrid);
  assert.deepEqual(a.vrrp[0].auth, b.vrrp[0].auth);
  assert.deepEqual([a.vrrp[0].state, b.vrrp[0].state], ['MASTER', 'BACKUP']);
  assert.ok(a.vrrp[0].priority > b.vrrp[0].priority);
});
