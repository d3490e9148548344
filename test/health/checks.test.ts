// TCP, HTTP(S) and UDP checks against real servers in a network namespace; the checks run in
// a child process inside a second namespace joined by a veth.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { needsBpf } from '../lib/env';
import { CheckSpec, HttpCheck, CheckerSpec } from '../../src/health/types';
import { Lab, makeLab, startServer, stopProcess, checkOnce, checkOnceGaps, manage, SRV_ADDR, CHK_ADDR2 } from './lab';

const TCP = 7001;
const HTTP = 7080;
const HTTPS = 7443;
const UDP_ECHO = 7053;
const UDP_SILENT = 7054;
const UDP_CLOSED = 7055;

describe('health checks against real servers in namespaces', needsBpf(), () => {
  let l: Lab;
  let tmp: string;
  const body = 'hello world\n';

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-health-'));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=real.example',
      '-addext', 'subjectAltName=DNS:real.example', '-keyout', path.join(tmp, 'key.pem'), '-out', path.join(tmp, 'cert.pem')], { stdio: 'ignore' });
    l = makeLab('hlthc');
    await startServer(l, {
      http: HTTP, https: { port: HTTPS, key: path.join(tmp, 'key.pem'), cert: path.join(tmp, 'cert.pem') },
      udpEcho: UDP_ECHO, udpSilent: UDP_SILENT,
    });
  });

  after(async () => {
    if (l) await l.lab.cleanup();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  const http = (o: Partial<HttpCheck>): HttpCheck => ({
    type: 'http', address: SRV_ADDR, port: HTTP, timeoutMs: 800, method: 'GET', path: '/ok', status: '200-299', ...o,
  });

  test('http/https: status sets, genhash digest, regex, Host, SNI, TLS verification, bindto, no redirects, timeout', async () => {
    // The expected digest comes from md5sum, not from our code.
    const md5 = execFileSync('md5sum', { input: body }).toString().split(' ')[0];
    const cases: Array<[string, CheckSpec, boolean, RegExp]> = [
      ['200 in default set', http({}), true, /^HTTP 200$/],
      ['500 → down', http({ path: '/err' }), false, /^HTTP 500 not in 200-299$/],
      ['500 accepted by a list', http({ path: '/err', status: '200,500-503' }), true, /^HTTP 500$/],
      ['digest match', http({ digest: md5.toUpperCase() }), true, /body ok/],
      ['digest mismatch → down', http({ digest: 'f'.repeat(32) }), false, new RegExp(`body digest ${md5} != f{32}`)],
      ['regex match', http({ regex: '^hello\\s+w' }), true, /body ok/],
      ['regex mismatch → down', http({ regex: 'goodbye' }), false, /does not match \/goodbye\//],
      ['redirect not followed', http({ path: '/redirect' }), false, /^HTTP 302 not in/],
      ['redirect accepted as 302', http({ path: '/redirect', status: '302' }), true, /^HTTP 302$/],
      ['Host header (virtualhost)', http({ path: '/echo', host: 'www.example.org', regex: 'host=www\\.example\\.org ' }), true, /body ok/],
      ['bindto sets the source address', http({ path: '/echo', bindto: CHK_ADDR2, regex: `from=(::ffff:)?${CHK_ADDR2.replace(/\./g, '\\.')}\\b` }), true, /body ok/],
      ['slower than timeout → down', http({ path: '/slow', timeoutMs: 400 }), false, /^timeout after 400ms$/],
      ['connection refused → down', http({ port: HTTP + 1 }), false, /connection refused/],
      ['https without verification', http({ type: 'https', port: HTTPS }), true, /^HTTP 200$/],
      ['https sends SNI', http({ type: 'https', port: HTTPS, path: '/echo', sni: 'real.example', regex: 'sni=real\\.example ' }), true, /body ok/],
      ['https SNI from Host', http({ type: 'https', port: HTTPS, path: '/echo', host: 'real.example', regex: 'sni=real\\.example ' }), true, /body ok/],
      ['https verify against a self-signed cert → down', http({ type: 'https', port: HTTPS, verify: true, sni: 'real.example' }), false, /SELF_SIGNED|self.signed/i],
      ['connect_ip/connect_port override the real', http({ address: '10.77.0.99', port: 1, connectIp: SRV_ADDR, connectPort: HTTP }), true, /^HTTP 200$/],
    ];
    const results = await checkOnce(l, cases.map((c) => c[1]));
    const bad: string[] = [];
    cases.forEach(([name, , ok, re], i) => {
      const r = results[i];
      if (r.ok !== ok || !re.test(r.reason)) bad.push(`${name}: got ok=${r.ok} "${r.reason}"`);
      assert.ok(r.durationMs >= 0);
    });
    assert.deepEqual(bad, []);
    const slow = results[cases.findIndex((c) => c[0].startsWith('slower'))];
    assert.ok(slow.durationMs >= 390 && slow.durationMs < 1400, `timed out near 400 ms, took ${slow.durationMs}`);
  });

  test('http regex (a+)+$ against a 41-byte body, 300 ms timeout: "regex timed out" at the deadline, the checker thread never held', async () => {
    const evil = http({ path: '/backtrack', regex: '(a+)+$', timeoutMs: 300 });
    const fine = http({ path: '/backtrack', regex: '^a+!$', timeoutMs: 2000 });
    const { results: [r, after], maxGapMs } = await checkOnceGaps(l, [evil, fine]);
    process.stdout.write(`# measured: HTTP check with (a+)+$ failed after ${r.durationMs.toFixed(0)} ms; runner's largest main-thread gap ${maxGapMs.toFixed(1)} ms\n`);
    assert.deepEqual([r.ok, r.reason], [false, 'regex timed out after 300ms']);
    assert.ok(r.durationMs >= 295 && r.durationMs < 700, `verdict near the 300 ms timeout, took ${r.durationMs}`);
    assert.ok(maxGapMs < 150, `main thread held for ${maxGapMs} ms`);
    assert.deepEqual([after.ok, after.reason], [true, 'HTTP 200 body ok'], 'a check queued behind it runs in the replacement worker');
  });

  test('udp: a reply is up; ICMP port unreachable and silence are down with their reasons', async () => {
    const udp = (port: number): CheckSpec => ({ type: 'udp', address: SRV_ADDR, port, timeoutMs: 500, payload: Buffer.from('ping') });
    const [echo, closed, silent] = await checkOnce(l, [udp(UDP_ECHO), udp(UDP_CLOSED), udp(UDP_SILENT)]);
    assert.deepEqual([echo.ok, echo.reason], [true, 'reply of 4 bytes']);
    assert.deepEqual([closed.ok, closed.reason], [false, `port unreachable (ICMP) from ${SRV_ADDR}:${UDP_CLOSED}`]);
    assert.ok(closed.durationMs < 400, 'port unreachable is a verdict, not a timeout');
    assert.equal(silent.ok, false);
    assert.match(silent.reason, /timeout after 500ms|no reply/);
  });

  test('tcp: a stopped server is out after `fall` failures, back after `rise` successes', async () => {
    let tcp = await startServer(l, { tcp: TCP });
    const spec: CheckerSpec = {
      serviceKey: `10.77.0.100:${TCP}/tcp`, realKey: `${SRV_ADDR}:${TCP}`,
      check: { type: 'tcp', address: SRV_ADDR, port: TCP, timeoutMs: 300 },
      timing: { intervalMs: 600, rise: 2, fall: 3, delayBeforeRetryMs: 100, warmupMs: 0, alpha: true },
    };
    const m = manage(l, [spec]);
    try {
      const up = await m.waitFor((e) => e.kind === 'transition' && e.to === 'up', 15_000);
      assert.equal((up as { from: string }).from, 'down', 'alpha: starts down, first success brings it up');
      await stopProcess(tcp);
      const mark = m.events.length;
      const down = await m.waitFor((e) => e.kind === 'transition' && e.to === 'down', 10_000, mark);
      assert.match(down.reason, /connection refused \(3 failures\)/);
      const between = m.events.slice(mark, m.events.indexOf(down));
      const fails = between.filter((e) => e.kind === 'check' && !e.ok);
      assert.equal(fails.length, 3, 'exactly `fall` failed checks before down');
      // retries come delay_before_retry apart (100 ms ± 10 % jitter), not interval (600 ms)
      const gap = fails[2].at - fails[1].at;
      assert.ok(gap >= 85 && gap < 450, `retry spacing ${gap} ms`);

      tcp = await startServer(l, { tcp: TCP });
      const mark2 = m.events.length;
      const back = await m.waitFor((e) => e.kind === 'transition' && e.to === 'up', 10_000, mark2);
      assert.match(back.reason, /connected .* \(2 successes\)/);
      const oks = m.events.slice(mark2, m.events.indexOf(back)).filter((e) => e.kind === 'check' && e.ok);
      assert.equal(oks.length, 2, 'exactly `rise` successful checks before up');
    } finally {
      await m.stop();
      await stopProcess(tcp);
    }
  });

});
