// Script checks (keepalived MISC_CHECK, misc_dynamic): real processes run by argv.
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

test('exit 0 = up, 1 = down, 7 = up with weight 5 (misc_dynamic), 255 = weight 253', async () => {
  const [r0, r1, r7, r255] = await Promise.all([run(node('process.exit(0)')), run(node('process.exit(1)')), run(node('process.exit(7)')), run(node('process.exit(255)'))]);
  assert.deepEqual([r0.ok, r0.weight, r0.reason], [true, undefined, 'exit 0']);
  assert.deepEqual([r1.ok, r1.weight, r1.reason], [false, undefined, 'exit 1']);
  assert.deepEqual([r7.ok, r7.weight, r7.reason], [true, 5, 'exit 7: weight 5']);
  assert.deepEqual([r255.ok, r255.weight], [true, 253]);
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
