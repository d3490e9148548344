// The daemon's log lines: text and JSON, levels, journald (no timestamps, priority prefixes), and
// `xlvs run` refusing a log option it does not know before it touches anything.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { makeLogger, recordOfLine, LogRecord } from '../../src/sys/log';
import { repoRoot } from '../../src/paths';

const at = new Date('2026-12-07T10:00:00.000Z');
const health: LogRecord = {
  level: 'warning', kind: 'health', msg: '10.0.0.1:80/tcp 10.0.0.2:80 down: connection refused',
  fields: { service: '10.0.0.1:80/tcp', real: '10.0.0.2:80', state: 'down', from: 'up', reason: 'connection refused' },
};

function lines(o: Parameters<typeof makeLogger>[0], records: LogRecord[]): string[] {
  const out: string[] = [];
  const log = makeLogger({ ...o, write: (l) => out.push(l), now: () => at });
  for (const r of records) log(r);
  return out;
}

test('text: a timestamp and [kind] message; under journald the syslog priority instead of a timestamp', () => {
  assert.deepEqual(lines({ journal: false }, [health]), ['2026-12-07T10:00:00.000Z [health] 10.0.0.1:80/tcp 10.0.0.2:80 down: connection refused']);
  assert.deepEqual(lines({ journal: true }, [health, { level: 'error', kind: 'reload', msg: 'failed' }, { level: 'info', kind: 'vrrp', msg: 'VI_1 BACKUP -> MASTER' }]),
    ['<4>[health] 10.0.0.1:80/tcp 10.0.0.2:80 down: connection refused', '<3>[reload] failed', '<6>[vrrp] VI_1 BACKUP -> MASTER']);
});

test('json: one object per line with stable field names; no ts under journald', () => {
  const [l] = lines({ format: 'json', journal: false }, [health]);
  assert.deepEqual(JSON.parse(l), {
    ts: '2026-12-07T10:00:00.000Z', level: 'warning', kind: 'health', msg: '10.0.0.1:80/tcp 10.0.0.2:80 down: connection refused',
    service: '10.0.0.1:80/tcp', real: '10.0.0.2:80', state: 'down', from: 'up', reason: 'connection refused',
  });
  const [j] = lines({ format: 'json', journal: true }, [{ level: 'info', kind: 'vrrp', msg: 'VI_1 BACKUP -> MASTER', fields: { vrrp_instance: 'VI_1', state: 'MASTER' } }]);
  assert.deepEqual(JSON.parse(j), { level: 'info', kind: 'vrrp', msg: 'VI_1 BACKUP -> MASTER', vrrp_instance: 'VI_1', state: 'MASTER' });
});

test('levels: below the chosen one nothing is written', () => {
  const recs: LogRecord[] = (['debug', 'info', 'warning', 'error'] as const).map((level) => ({ level, kind: 'daemon', msg: level }));
  assert.deepEqual(lines({ journal: true }, recs), ['<6>[daemon] info', '<4>[daemon] warning', '<3>[daemon] error']);
  assert.deepEqual(lines({ journal: true, level: 'warning' }, recs), ['<4>[daemon] warning', '<3>[daemon] error']);
  assert.deepEqual(lines({ journal: true, level: 'debug' }, recs).length, 4);
});

test('a text line of the daemon becomes a record: its kind, and "warning:" as the level', () => {
  assert.deepEqual(recordOfLine('[daemon] warning: sd_notify READY=1: ENOENT'), { level: 'warning', kind: 'daemon', msg: 'warning: sd_notify READY=1: ENOENT' });
  assert.deepEqual(recordOfLine('[reload] no change'), { level: 'info', kind: 'reload', msg: 'no change' });
  assert.deepEqual(recordOfLine('no prefix'), { level: 'info', kind: 'daemon', msg: 'no prefix' });
});

test('xlvs run refuses an unknown --log-format or --log-level, naming it, before loading anything', () => {
  const xlvs = path.join(repoRoot(), 'bin', 'xlvs.js');
  const topo = path.join(repoRoot(), 'config', 'examples', 'dr-tcp-master.yaml');
  const a = spawnSync('node', [xlvs, 'run', '-c', topo, '--log-format', 'xml'], { encoding: 'utf8' });
  assert.notEqual(a.status, 0);
  assert.match(a.stderr, /--log-format "xml": expected text or json/);
  const b = spawnSync('node', [xlvs, 'run', '-c', topo, '--log-level', 'loud'], { encoding: 'utf8' });
  assert.notEqual(b.status, 0);
  assert.match(b.stderr, /--log-level "loud": expected one of debug, info, warning, error/);
});
