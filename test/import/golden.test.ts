// Golden tests: each fixture in test/import/fixtures maps to a committed topology YAML and a
// committed list of notes. UPDATE_GOLDEN=1 rewrites them (review the diff before committing).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { repoRoot } from '../../src/paths';
import { emitTopology, importIpvsadm, importKeepalived, parseIptablesSave, type ImportResult } from '../../src/import';

const FIX = path.join(repoRoot(), 'test', 'import', 'fixtures');
const update = process.env.UPDATE_GOLDEN === '1';

// Hostnames of ipvsadm-symbolic.txt, as a resolver would answer them (gone.example.test: no answer).
const HOSTS: Record<string, string> = { 'lb.example.test': '10.20.0.1', 'web1.example.test': '10.20.1.1', 'web2.example.test': '10.20.1.2' };

function run(name: string): ImportResult {
  const file = path.join(FIX, name);
  // A fixture's firewall-mark rules, if any, sit beside it as <name>.iptables (--iptables FILE).
  const rules = file.replace(/\.(conf|txt)$/, '.iptables');
  const iptables = fs.existsSync(rules) ? parseIptablesSave(fs.readFileSync(rules, 'utf8'), path.basename(rules)) : undefined;
  if (name.endsWith('.conf')) return importKeepalived(file, { displayName: name, iptables });
  return importIpvsadm(fs.readFileSync(file, 'utf8'), { file: name, resolveHost: (h) => HOSTS[h], iptables });
}

function golden(file: string, actual: string): void {
  const p = path.join(FIX, file);
  if (update) { fs.writeFileSync(p, actual); return; }
  assert.ok(fs.existsSync(p), `${file} missing: run with UPDATE_GOLDEN=1 and review it`);
  assert.equal(actual, fs.readFileSync(p, 'utf8'), `${file} differs (UPDATE_GOLDEN=1 rewrites it)`);
}

const fixtures = fs.readdirSync(FIX).filter((f) => /\.(conf|txt)$/.test(f) && !f.startsWith('bad-')).sort();

test('every fixture has a golden topology and golden notes', () => {
  assert.ok(fixtures.length >= 10, `expected the fixture set, found ${fixtures.join(', ')}`);
});

for (const name of fixtures) {
  test(`golden: ${name}`, () => {
    const res = run(name);
    const base = name.replace(/\.(conf|txt)$/, '');
    const yamlText = emitTopology(res, { source: name });
    golden(`${base}.yaml`, yamlText);
    golden(`${base}.notes`, res.notes.map((n) => `${n.where}: ${n.message}\n`).join(''));
    // The YAML reads back as the object the importer built: comments do not change data.
    assert.deepEqual(YAML.parse(yamlText), JSON.parse(JSON.stringify(res.topology)));
    // Every note is also in the YAML header.
    for (const n of res.notes) assert.ok(yamlText.includes(`# - ${n.where}: ${n.message}`), `note missing from header: ${n.message}`);
  });
}

// Validation by the config loader (src/config/load.ts), once it is in the tree.
function loader(): ((text: string, file?: string) => unknown) | undefined {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../src/config/load') as { loadTopology: (t: string, f?: string) => unknown }).loadTopology;
  } catch {
    return undefined;
  }
}
const loadTopology = loader();
test('every imported topology validates with loadTopology', loadTopology ? {} : { skip: 'src/config/load.ts not committed yet' }, () => {
  for (const name of fixtures) {
    const res = run(name);
    const text = emitTopology(res, { source: name });
    try {
      loadTopology!(text, `${name}.yaml`);
    } catch (e) {
      const problems = (e as { problems?: unknown[] }).problems;
      assert.fail(`${name}: ${(e as Error).message}${problems ? '\n' + JSON.stringify(problems, null, 2) : ''}`);
    }
  }
});
