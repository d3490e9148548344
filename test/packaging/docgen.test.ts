// The man page and bash completion are generated from the CLI's own definitions: every command
// and option is in them, the roff renders without warnings, the completion completes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import type { Command } from 'commander';
import { buildProgram } from '../../src/cli/main';
import { bashCompletion, manPage } from '../../src/cli/docgen';

function commands(c: Command, pfx: string[] = []): { path: string[]; cmd: Command }[] {
  return c.commands.flatMap((s) => [{ path: [...pfx, s.name()], cmd: s }, ...commands(s, [...pfx, s.name()])]);
}

function has(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`]).status === 0;
}

test('the man page names every command and option and renders without warnings', () => {
  const program = buildProgram();
  const man = manPage(program, { date: '2026-01-01' });
  assert.match(man, /^\.TH XLVS 8 "2026-01-01" "xlvs \d+\.\d+\.\d+"/m);
  const all = commands(program);
  assert.ok(all.length >= 15, `${all.length} commands`);
  for (const { path: p, cmd } of all) {
    assert.ok(man.includes(`.SS "xlvs ${p.join(' ')}`.replace(/-/g, '\\-')), `section for ${p.join(' ')}`);
    for (const o of cmd.options) {
      assert.ok(man.includes(o.long!.replace(/-/g, '\\-')), `${p.join(' ')} ${o.long}`);
    }
    for (const a of cmd.registeredArguments) {
      if (a.description) assert.ok(man.includes(`.TP\n\\fI${a.name()}\\fR\n`), `${p.join(' ')} argument ${a.name()}`);
    }
  }
  if (!has('groff')) return;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-man-'));
  try {
    fs.writeFileSync(path.join(dir, 'xlvs.8'), man);
    const r = spawnSync('groff', ['-man', '-Tutf8', '-ww', '-z', path.join(dir, 'xlvs.8')], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stderr, '', 'groff warnings');
    const text = spawnSync('groff', ['-man', '-Tascii', path.join(dir, 'xlvs.8')], { encoding: 'utf8' }).stdout.replace(/.\x08/g, '');
    assert.match(text, /xlvs import keepalived <file>/);
    assert.match(text, /--keep-forwarding/);
    // SIGNALS: both halves of SIGTERM (VRRP hands over, the data plane stays) and the setting
    assert.match(text, /SIGTERM, SIGINT\s+stop\s+the\s+daemon[^]*priority-0\s+advert[^]*stay\s+attached\s+and\s+pinned/);
    assert.ok(man.includes('\\fBdirector.on_sigterm: remove\\fR'), 'SIGNALS names director.on_sigterm');
    assert.match(text, /RELOADING=1/);
    assert.match(text, /xlvs zero \[service\]\s+zero the counters/);
    assert.match(text, /xlvs real drain <service> <real>\s+no new flows to the real/);
    assert.match(text, /--clear-overrides/);
    assert.match(text, /service\s+service\s+key,\s+e\.g\.\s+10\.0\.0\.1:80\/tcp/); // man justifies: spaces vary
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('the bash completion completes commands, subcommands, options and file arguments', { skip: has('bash') ? undefined : 'no bash' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-compl-'));
  try {
    const script = path.join(dir, 'xlvs');
    fs.writeFileSync(script, bashCompletion(buildProgram()));
    fs.writeFileSync(path.join(dir, 'topo.yaml'), '');
    assert.equal(spawnSync('bash', ['-n', script]).status, 0);
    const complete = (...words: string[]): string[] => {
      const r = spawnSync('bash', ['-c', `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(($# - 1)); _xlvs; printf '%s\\n' "\${COMPREPLY[@]}"`, 'x', script, 'xlvs', ...words], { encoding: 'utf8', cwd: dir });
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.split('\n').filter(Boolean);
    };
    const top = complete('');
    for (const c of ['list', 'reload', 'stop', 'import', 'run', 'validate', 'simulate', 'realserver', 'vrrp', 'lab', 'help']) assert.ok(top.includes(c), c);
    assert.deepEqual(complete('import', ''), ['ipvsadm', 'keepalived']);
    assert.deepEqual(complete('real', ''), ['drain', 'undrain', 'weight', 'clear']);
    assert.deepEqual(complete('st'), ['stop']);
    assert.ok(complete('stop', '--').includes('--keep-forwarding'));
    // the value of --vip is not a command word; options are still those of `list`
    assert.ok(complete('list', '--vip', '10.0.0.1', '--c').includes('--conns'));
    assert.deepEqual(complete('run', '-c', 'to'), ['topo.yaml']);
    assert.deepEqual(complete('validate', 'to'), ['topo.yaml']);
    assert.deepEqual(complete('realserver', 'up', '--vip', ''), []);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
