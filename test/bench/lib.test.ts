// The benchmark suite's own parts: statistics, the table, the probe that splits apply time, and
// the load generator against a real HTTP server in a namespace this test creates.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';
import { inNs } from '../../src/sys/exec';
import { needsBpf } from '../lib/env';
import { median, percentile, summarise } from '../../bench/lib/stats';
import { renderTable, atMost } from '../../bench/lib/report';
import { Probe } from '../../bench/lib/probe';
import type { LoadResult } from '../../bench/lib/loadgen';

test('median, percentile and summary of samples', () => {
  assert.equal(median([5, 1, 3]), 3);
  assert.equal(median([4, 1, 3, 2]), 2.5);
  assert.ok(Number.isNaN(median([])));
  const xs = Array.from({ length: 100 }, (_, i) => 100 - i); // 1..100, unsorted
  assert.equal(percentile(xs, 50), 50);
  assert.equal(percentile(xs, 99), 99);
  assert.equal(percentile(xs, 100), 100);
  const s = summarise([3, 9, 1]);
  assert.deepEqual([s.median, s.min, s.max, s.n], [3, 1, 9, 3]);
});

test('a ≤ target row reads ok or MISS and the table keeps its columns aligned', () => {
  const ok = atMost('s', 'fast', summarise([1, 2, 3]), 'ms', 5);
  const miss = atMost('s', 'slow', summarise([9, 10, 11]), 'ms', 5);
  assert.equal(ok.met, true);
  assert.equal(miss.met, false);
  assert.equal(miss.ratio, 2);
  const lines = renderTable([ok, miss]).split('\n');
  assert.equal(lines.length, 4);
  assert.match(lines[2], /\|\s+0\.40 ok \|/);
  assert.match(lines[3], /\|\s+2\.00 MISS \|/);
  assert.equal(new Set(lines.map((l) => l.length)).size, 1, 'every line the same width');
});

test('the probe counts calls, time and elements, and restores the original method', () => {
  const target = { calls: 0, write(keys: number[]): number { this.calls++; return keys.length; } };
  const orig = target.write;
  const p = new Probe();
  p.wrap('write', target, 'write', (_self, args) => (args[0] as number[]).length);
  assert.equal(target.write([1, 2, 3]), 3, 'result passes through');
  target.write([4]);
  assert.throws(() => p.wrap('nope', target, 'missing'), /missing is not a function/);
  const s = p.read().write;
  assert.deepEqual([s.calls, s.entries], [2, 4]);
  assert.ok(s.ms >= 0);
  assert.equal(target.calls, 2, 'the original ran with its own this');
  p.restore();
  assert.equal(target.write, orig);
});

test('load generator: every request answered on new and kept-alive connections; a closed port gives only errors', needsBpf(), async () => {
  const lab = new Netlab('bnchlg');
  after(() => lab.cleanup());
  const ns = lab.addNs('c');
  lab.exec(ns, ['ip', 'link', 'set', 'lo', 'up']);
  const server = lab.spawn(ns, [process.execPath, '-e',
    "require('http').createServer((q,r)=>{r.writeHead(200,{'content-length':3,'x-real':'r1'});r.end('ok\\n')}).listen(18080,'127.0.0.1',()=>console.log('ready'))"]);
  await new Promise<void>((resolve, reject) => {
    server.stdout!.on('data', (c: Buffer) => { if (c.toString().includes('ready')) resolve(); });
    server.on('exit', () => reject(new Error('server exited')));
  });
  const loadgen = path.join(__dirname, '..', '..', 'bench', 'lib', 'loadgen.js');
  const gen = (o: object): LoadResult => {
    const argv = inNs(ns, [process.execPath, loadgen, JSON.stringify({ host: '127.0.0.1', sources: ['127.0.0.1'], concurrency: 4, maxSeconds: 10, ...o })]);
    const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 30_000 });
    assert.equal(r.status, 0, r.stderr);
    return JSON.parse(r.stdout.trim()) as LoadResult;
  };
  for (const mode of ['conn', 'keepalive']) {
    const r = gen({ port: 18080, mode, count: 200 });
    assert.equal(r.ok, 200, `${mode}: ${JSON.stringify(r.errorKinds)}`);
    assert.equal(r.errors, 0);
    assert.deepEqual(r.byReal, { r1: 200 });
    assert.ok(r.p50Ms > 0 && r.p50Ms <= r.p99Ms && r.p99Ms <= r.maxMs, `${mode}: p50 ${r.p50Ms} p99 ${r.p99Ms} max ${r.maxMs}`);
    assert.ok(r.rps > 0);
  }
  const closed = gen({ port: 18081, mode: 'conn', count: 20, timeoutMs: 1000 });
  assert.equal(closed.ok, 0);
  assert.equal(closed.errors, 20);
  assert.equal(closed.errorKinds.ECONNREFUSED, 20);
});
