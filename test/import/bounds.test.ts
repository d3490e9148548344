// The keepalived importer's bounds (issue 12): include nesting, loops, the number of files and
// bytes read, glob and brace expansion, non-regular and binary files, and errors that name the
// including file and line but never repeat what an included file contains. Real files in a
// temporary directory, removed afterwards.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { importKeepalived } from '../../src/import';
import { MAX_CONF_BYTES, MAX_CONF_FILES, MAX_INCLUDE_DEPTH, tokenizeText } from '../../src/import/keepalived/lexer';
import { expandBraces, globMatch, MAX_BRACE_ALTERNATIVES, GlobLimitError } from '../../src/import/keepalived/glob';
import { isXlvsError } from '../../src/errors';

function withDir(fn: (dir: string) => void): void {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-bounds-'));
  try { fn(dir); } finally { fs.rmSync(dir, { recursive: true, force: true }); }
}
const write = (dir: string, name: string, text: string | Buffer): string => {
  const f = path.join(dir, name);
  fs.mkdirSync(path.dirname(f), { recursive: true });
  fs.writeFileSync(f, text);
  return f;
};
const service = (i: number) => `virtual_server 10.0.${i >> 8}.${i & 0xff} 80 {\n  lb_kind DR\n  protocol TCP\n  real_server 10.1.${i >> 8}.${i & 0xff} 80 {\n    weight 1\n  }\n}\n`;

/** The E_IMPORT_PARSE message of `fn`, which must throw one. */
function importError(fn: () => unknown): string {
  try { fn(); } catch (e) {
    assert.ok(isXlvsError(e, 'E_IMPORT_PARSE'), `expected E_IMPORT_PARSE, got ${(e as Error).stack}`);
    return (e as Error).message;
  }
  return assert.fail('no error');
}
const imp = (dir: string) => importKeepalived(path.join(dir, 'main.conf'), { displayName: 'main.conf' });

test(`a nest of includes ${MAX_INCLUDE_DEPTH} deep maps; one more is refused at the including line`, () => {
  withDir((dir) => {
    write(dir, 'main.conf', 'include n1.conf\n');
    for (let i = 1; i <= MAX_INCLUDE_DEPTH; i++) write(dir, `n${i}.conf`, `${service(i)}${i < MAX_INCLUDE_DEPTH ? `include n${i + 1}.conf\n` : ''}`);
    assert.equal(imp(dir).topology.services!.length, MAX_INCLUDE_DEPTH);
    write(dir, `n${MAX_INCLUDE_DEPTH}.conf`, `# deepest\n\ninclude n${MAX_INCLUDE_DEPTH + 1}.conf\n`);
    write(dir, `n${MAX_INCLUDE_DEPTH + 1}.conf`, service(99));
    assert.equal(importError(() => imp(dir)), `n${MAX_INCLUDE_DEPTH}.conf:3: includes nested more than ${MAX_INCLUDE_DEPTH} deep (at n${MAX_INCLUDE_DEPTH + 1}.conf)`);
  });
});

test('include loops are found, also through a symlink, and named with the including line', () => {
  withDir((dir) => {
    write(dir, 'main.conf', 'include a.conf\n');
    write(dir, 'a.conf', `${service(1)}include b.conf\n`);
    write(dir, 'b.conf', '\ninclude a.conf\n');
    assert.equal(importError(() => imp(dir)), 'b.conf:2: include loop: a.conf includes itself (through a.conf → b.conf → a.conf)');
    // The same file under another name is the same file.
    write(dir, 'b.conf', 'include link/a.conf\n');
    fs.symlinkSync('.', path.join(dir, 'link'));
    assert.match(importError(() => imp(dir)), /^b\.conf:1: include loop: link\/a\.conf includes itself/);
  });
});

test('a glob matching many files: all mapped in order, time printed; past the file limit it is refused', (t) => {
  withDir((dir) => {
    const n = 200;
    for (let i = 0; i < n; i++) write(dir, `conf.d/${String(i).padStart(3, '0')}.conf`, service(i));
    write(dir, 'main.conf', 'include conf.d/*.conf\n');
    const t0 = process.hrtime.bigint();
    const r = imp(dir);
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    t.diagnostic(`${n} included files: ${ms.toFixed(1)} ms`);
    process.stdout.write(`# import of ${n} included files through one glob: ${ms.toFixed(1)} ms\n`);
    assert.equal(r.topology.services!.length, n);
    assert.equal(r.topology.services![n - 1].vip, service(n - 1).split(' ')[1]);
    for (let i = n; i < MAX_CONF_FILES; i++) write(dir, `conf.d/${String(i).padStart(3, '0')}.conf`, service(i));
    assert.equal(importError(() => imp(dir)), `main.conf:1: include conf.d/*.conf: more than ${MAX_CONF_FILES} files read (main file and includes; a file included twice counts twice)`);
  });
});

test('includes that fan out (3 files per level, each including the next level: 3^7 paths) stop at the file limit', () => {
  withDir((dir) => {
    write(dir, 'main.conf', 'include l1/*.conf\n');
    for (let k = 1; k <= 7; k++) for (const f of ['a', 'b', 'c']) write(dir, `l${k}/${f}.conf`, k < 7 ? `include ../l${k + 1}/*.conf\n` : '# leaf\n');
    const t0 = Date.now();
    assert.match(importError(() => imp(dir)), new RegExp(`^l\\d/[abc]\\.conf:1: include \\.\\./l\\d/\\*\\.conf: more than ${MAX_CONF_FILES} files read`));
    process.stdout.write(`# 21 files fanning out to 3^7 include paths: refused after ${Date.now() - t0} ms\n`);
  });
});

test('braces expanding past the limit are refused at the include line', () => {
  assert.equal(expandBraces('{a,b}{c,d}').join(' '), 'ac ad bc bd');
  assert.throws(() => expandBraces('{a,b}'.repeat(9)), GlobLimitError);
  assert.equal(expandBraces('{a,b}'.repeat(8)).length, MAX_BRACE_ALTERNATIVES);
  withDir((dir) => {
    write(dir, 'main.conf', `\ninclude x${'{a,b}'.repeat(20)}.conf\n`);
    assert.equal(importError(() => imp(dir)), `main.conf:2: include x${'{a,b}'.repeat(20)}.conf: braces expand to more than ${MAX_BRACE_ALTERNATIVES} patterns`);
  });
});

test('globs match as glob(7) does, in linear time on patterns that used to backtrack for minutes', () => {
  const rows: [string, string, boolean][] = [
    ['*.conf', 'a.conf', true], ['*.conf', 'a.conf.bak', false], ['?.conf', 'ab.conf', false], ['f[2-9].conf', 'f5.conf', true],
    ['f[2-9].conf', 'f1.conf', false], ['f[!2-9].conf', 'f1.conf', true], ['[]]x', ']x', true], ['[ab', '[ab', true], ['a*b*c', 'aXbYc', true],
    ['a*b*c', 'aXbY', false], ['**', '', true], ['*x', 'x', true],
  ];
  for (const [p, n, want] of rows) assert.equal(globMatch(p, n), want, `${p} vs ${n}`);
  const t0 = process.hrtime.bigint();
  assert.equal(globMatch(`${'*'.repeat(12)}x`, 'a'.repeat(40)), false);
  assert.equal(globMatch(`${'*a'.repeat(20)}x`, 'a'.repeat(4000)), false);
  process.stdout.write(`# pathological globs: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(2)} ms (a RegExp took 195 s on the first)\n`);
});

test('includes naming a directory, a device or a FIFO are refused by name, without reading them', () => {
  withDir((dir) => {
    fs.mkdirSync(path.join(dir, 'sub'));
    const cases: [string, string][] = [
      ['include sub\n', 'main.conf:1: include sub: sub is a directory, not a regular file'],
      ['include /dev/zero\n', 'main.conf:1: include /dev/zero: /dev/zero is a character device, not a regular file'],
      ['include /dev/null\n', 'main.conf:1: include /dev/null: /dev/null is a character device, not a regular file'],
    ];
    if (spawnSync('mkfifo', [path.join(dir, 'fifo')]).status === 0) cases.push(['include fifo\n', 'main.conf:1: include fifo: fifo is a FIFO, not a regular file']);
    for (const [text, msg] of cases) {
      write(dir, 'main.conf', text);
      assert.equal(importError(() => imp(dir)), msg);
    }
    // A directory a wildcard matches is skipped with a note, as keepalived skips it.
    write(dir, 'sub/a.conf', service(1));
    fs.mkdirSync(path.join(dir, 'sub2'));
    write(dir, 'main.conf', 'include s*\ninclude sub/*\n');
    const r = imp(dir);
    assert.equal(r.topology.services!.length, 1);
    assert.deepEqual(r.notes.filter((n) => /skipped/.test(n.message)).map((n) => `${n.where}: ${n.message}`), [
      'main.conf:1: include s*: directory sub skipped (keepalived skips directories a wildcard matches)',
      'main.conf:1: include s*: directory sub2 skipped (keepalived skips directories a wildcard matches)',
    ]);
    // The main file too (the importer reads only regular files).
    assert.equal(importError(() => importKeepalived('/dev/zero')), '/dev/zero is a character device, not a regular file');
  });
});

test('a file over the byte limit is refused by its size before it is read', () => {
  withDir((dir) => {
    const big = path.join(dir, 'big.conf');
    fs.closeSync(fs.openSync(big, 'w'));
    fs.truncateSync(big, MAX_CONF_BYTES + 1); // sparse: nothing is written
    write(dir, 'main.conf', 'include big.conf\n');
    assert.equal(importError(() => imp(dir)), `main.conf:1: include big.conf: big.conf is ${MAX_CONF_BYTES + 1} bytes, more than the ${MAX_CONF_BYTES - 17} left of the ${MAX_CONF_BYTES} bytes an import reads in all`);
  });
});

test('an included binary or secret file: the error names file and line, never its content', () => {
  withDir((dir) => {
    const secret = 'hunter2-TOPSECRET-7f3a';
    write(dir, 'keys/db.bin', Buffer.concat([Buffer.from(secret), Buffer.from([0, 1, 2, 0xff]), Buffer.from('\nmore\n')]));
    write(dir, 'keys/db.txt', `${secret} ${secret}\nsecond line\n`);
    write(dir, 'keys/block.txt', `${secret} {\n}\n`);
    write(dir, 'keys/token', `${secret}\n`);
    const cases: [string, string][] = [
      ['include keys/db.bin', 'main.conf:3: include keys/db.bin: keys/db.bin is not a text file (NUL byte at offset 22)'],
      ['include keys/db.txt', 'keys/db.txt:1: not a keepalived keyword at top level (text from an included file is not repeated here)'],
      ['include keys/block.txt', 'keys/block.txt:1: not a keepalived block at top level (text from an included file is not repeated here)'],
      ['include keys/tok*', 'keys/token:1: not a keepalived keyword at top level (text from an included file is not repeated here)'],
    ];
    for (const [line, msg] of cases) {
      write(dir, 'main.conf', `global_defs {\n}\n${line}\n`);
      const m = importError(() => imp(dir));
      assert.equal(m, msg);
      assert.ok(!m.includes('hunter2') && !m.includes('TOPSECRET'), m);
    }
    // The CLI says the same on stderr, without a stack trace.
    const xlvs = path.join(__dirname, '..', '..', '..', 'bin', 'xlvs.js');
    write(dir, 'main.conf', 'include keys/db.bin\n');
    const r = spawnSync('node', [xlvs, 'import', 'keepalived', path.join(dir, 'main.conf')], { encoding: 'utf8' });
    assert.equal(r.status, 1);
    assert.ok(!r.stderr.includes('hunter2') && !r.stdout.includes('hunter2'), r.stderr);
    assert.match(r.stderr, /^xlvs: .*main\.conf:1: include keys\/db\.bin: keys\/db\.bin is not a text file \(NUL byte at offset 22\) \[E_IMPORT_PARSE\]\n$/);
  });
});

test('long runs of continued lines tokenize in linear time, as before', () => {
  const n = 20_000;
  const text = `global_defs {\n  router_id x${' \\\n y'.repeat(n)}\n}\n`;
  const t0 = process.hrtime.bigint();
  const lines = tokenizeText(text, 'f');
  process.stdout.write(`# ${n} continued lines: ${(Number(process.hrtime.bigint() - t0) / 1e6).toFixed(1)} ms\n`);
  assert.equal(lines[1].length, 2 + n + 1);
  assert.equal(lines[2][0].line, n + 3);
  // Quotes and comments across continuations, as keepalived reads them.
  const words = tokenizeText('a "b \\\nc" # x \\\nd\ne \\\n# f\ng\n', 'f').map((l) => l.filter((t) => t.kind !== 'eol').map((t) => t.text));
  // (the joined line of a continuation keeps the space before '\\' and adds one for it)
  assert.deepEqual(words, [['a', 'b  c'], ['d'], ['e'], ['g']]);
});
