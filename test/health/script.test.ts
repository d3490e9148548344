// Script checks (keepalived MISC_CHECK, with and without misc_dynamic): real processes run by argv.
import { test, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { scriptCheck } from '../../src/health/script';
import { ScriptCheck } from '../../src/health/types';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-health-script-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

const node = (code: string, timeoutMs = 5000): ScriptCheck => ({
  type: 'script', address: '10.0.0.7', port: 8080, timeoutMs, command: [process.execPath, '-e', code, '%address%', '%port%'],
});
const run = (s: ScriptCheck) => scriptCheck(s, new AbortController().signal);

/** A real script file `#!/bin/sh\nexit N`, as operators write them (a Nagios plugin exits 2 = CRITICAL). */
const exitScript = (code: number): string => {
  const f = path.join(tmp, `exit-${code}.sh`);
  fs.writeFileSync(f, `#!/bin/sh\nexit ${code}\n`, { mode: 0o755 });
  return f;
};
const sh = (code: number, dynamic?: boolean): ScriptCheck => ({
  type: 'script', address: '10.0.0.7', port: 8080, timeoutMs: 5000, command: [exitScript(code)], ...(dynamic === undefined ? {} : { dynamic }),
});
const verdicts = async (codes: number[], dynamic?: boolean) =>
  (await Promise.all(codes.map((c) => run(sh(c, dynamic))))).map((r) => [r.ok, r.weight, r.reason]);

test('without dynamic (keepalived MISC_CHECK): exit 0 = up, every other exit = down, no weight', async () => {
  const want = [[true, undefined, 'exit 0'], [false, undefined, 'exit 1'], [false, undefined, 'exit 2'], [false, undefined, 'exit 3'], [false, undefined, 'exit 255']];
  assert.deepEqual(await verdicts([0, 1, 2, 3, 255]), want);
  assert.deepEqual(await verdicts([0, 1, 2, 3, 255], false), want, 'dynamic: false is the same');
});

test('dynamic (misc_dynamic): exit 0 = up, 1 = down, 2 = up with weight 0, 7 = weight 5, 255 = weight 253', async () => {
  assert.deepEqual(await verdicts([0, 1, 2, 7, 255], true), [
    [true, undefined, 'exit 0'], [false, undefined, 'exit 1'], [true, 0, 'exit 2: weight 0'], [true, 5, 'exit 7: weight 5'], [true, 253, 'exit 255: weight 253'],
  ]);
});

test('a script killed by a signal is down, dynamic or not', async () => {
  const f = path.join(tmp, 'self-kill.sh');
  fs.writeFileSync(f, '#!/bin/sh\nkill -TERM $$\n', { mode: 0o755 });
  for (const dynamic of [false, true]) {
    const r = await run({ type: 'script', address: '10.0.0.7', port: 8080, timeoutMs: 5000, command: [f], dynamic });
    assert.deepEqual([r.ok, r.reason], [false, 'killed by SIGTERM']);
  }
});

test('placeholders in argv and the real in the environment, no shell', async () => {
  const out = path.join(tmp, 'args.json');
  const code = `require('fs').writeFileSync(${JSON.stringify(out)}, JSON.stringify({argv: process.argv.slice(1), a: process.env.XLVS_ADDRESS, p: process.env.XLVS_PORT}))`;
  const s = node(code);
  s.command.push('$HOME;|&');
  s.connectPort = 9090;
  const r = await run(s);
  assert.equal(r.ok, true);
  assert.deepEqual(JSON.parse(fs.readFileSync(out, 'utf8')), { argv: ['10.0.0.7', '9090', '$HOME;|&'], a: '10.0.0.7', p: '9090' });
});

test('a script that outlives its timeout is down and its whole process group is killed', async () => {
  const pidFile = path.join(tmp, 'grandchild.pid');
  // The script starts a grandchild (sleep) and then hangs; both must die on timeout.
  const code = `const c=require('child_process').spawn('sleep',['30'],{stdio:'ignore'});require('fs').writeFileSync(${JSON.stringify(pidFile)},String(c.pid));setInterval(()=>{},1000)`;
  const r = await run(node(code, 700));
  assert.equal(r.ok, false);
  assert.equal(r.reason, 'timeout after 700ms');
  const pid = Number(fs.readFileSync(pidFile, 'utf8'));
  // Dead = gone from /proc or a zombie waiting for init to reap it.
  const running = () => {
    try { return fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '')[0] !== 'Z'; } catch { return false; }
  };
  let alive = true;
  for (let i = 0; i < 50 && (alive = running()); i++) await new Promise((res) => setTimeout(res, 20));
  assert.equal(alive, false, `grandchild ${pid} was killed with the group`);
});

test('a missing program is down with the spawn error', async () => {
  const r = await run({ type: 'script', address: '10.0.0.7', port: 80, timeoutMs: 1000, command: ['/nonexistent/check'] });
  assert.equal(r.ok, false);
  assert.match(r.reason, /ENOENT/);
});
