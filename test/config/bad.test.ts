// Bad topologies: each maps to its exact list of problems (path, words, line:col), all of them
// reported at once, with E_CONFIG_PARSE for YAML syntax and E_CONFIG_INVALID for the rest.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopology, loadTopologyWithWarnings, type ConfigError } from '../../src/config/load';
import { formatProblem } from '../../src/config/problems';
import { isXlvsError } from '../../src/errors';
import { BAD_CASES, DIRECTOR, WARN_CASES } from './bad-cases';

function source(yaml: string): string {
  return yaml.startsWith('!raw\n') ? yaml.slice(5) : DIRECTOR + yaml;
}

test('at least 40 bad configurations are covered', () => {
  assert.ok(BAD_CASES.length >= 40, `${BAD_CASES.length} cases`);
  assert.equal(new Set(BAD_CASES.map((c) => c.name)).size, BAD_CASES.length, 'case names are unique');
});

for (const c of BAD_CASES) {
  test(`bad: ${c.name}`, () => {
    let err: ConfigError | undefined;
    try {
      loadTopology(source(c.yaml), 'bad.yaml');
    } catch (e) {
      err = e as ConfigError;
    }
    assert.ok(err, 'the topology was accepted');
    assert.ok(isXlvsError(err, c.code ?? 'E_CONFIG_INVALID'), `code ${err.code}, want ${c.code ?? 'E_CONFIG_INVALID'}: ${err.message}`);
    assert.deepEqual(err.problems.map(formatProblem), c.problems);
    // The message carries every problem too, for callers that only print it.
    for (const p of c.problems) assert.ok(err.message.includes(p), `message lacks: ${p}`);
    for (const p of err.problems) {
      assert.equal(typeof p.path, 'string');
      assert.ok(Number.isInteger(p.line) && Number.isInteger(p.col));
    }
  });
}

for (const c of WARN_CASES) {
  test(`warns: ${c.name}`, () => {
    const r = loadTopologyWithWarnings(source(c.yaml), 'warn.yaml');
    assert.deepEqual(r.warnings.map(formatProblem), c.warnings);
  });
}

test('the director block alone draws no warning', () => {
  assert.deepEqual(loadTopologyWithWarnings(DIRECTOR, 'ok.yaml').warnings, []);
});

test('the director block alone is valid (so every bad case fails for its own reason)', () => {
  const t = loadTopology(DIRECTOR, 'ok.yaml');
  assert.equal(t.director.name, 'edge-a');
  assert.deepEqual(t.director.addresses.map((a) => `${a.address}/${a.prefix}`), ['10.0.0.2/24', '2001:db8::2/64']);
});
