// The daemon's overlay of operator overrides (src/daemon/overrides.ts) without a daemon: how a
// request names a real, what an unknown service or real does (an error naming it, nothing
// changed, the file untouched), the file written atomically and read back, reload's pruning.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTopology } from '../../src/config/load';
import { RealOverrides, overridesFile } from '../../src/daemon/overrides';
import type { OverrideRequest } from '../../src/control/protocol';

const yaml = (extra = '') => `
director: { name: d1, interface: eth0, addresses: [10.1.0.2/24, 2001:db8::2/64] }
control: { socket: /run/xlvs-x/d1.sock }
services:
  - vip: 10.1.0.100
    port: 80
    reals:
      - { address: 10.1.0.51, weight: 3 }
      - { address: 10.1.0.52 }
  - vip: 10.1.0.100
    port: 8080
    reals:
      - { address: 10.1.0.51, port: 8080 }
${extra}`;
const topo = loadTopology(yaml(`  - vip: 2001:db8::100
    port: 53
    protocol: udp
    reals:
      - { address: "2001:db8::5" }
`));
const WEB = '10.1.0.100:80/tcp';
const req = (op: OverrideRequest['op'], service?: string, real?: string, weight?: number): OverrideRequest => ({ cmd: 'real', op, service, real, weight });

function tmpFile(): string {
  return path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-ov-')), 'd1.overrides.json');
}

test('the file lives beside the control socket, named after the director', () => {
  assert.equal(overridesFile(topo), '/run/xlvs-x/d1.overrides.json');
});

test('drain, weight, undrain, clear of one real; each change is written to the file at once', () => {
  const file = tmpFile();
  const o = new RealOverrides(file);
  const r1 = o.handle(req('drain', WEB, '10.1.0.51'), topo, 1000);
  assert.deepEqual(r1.result.changed, [`${WEB} 10.1.0.51:80: drained by operator`]);
  assert.deepEqual([...r1.services], [WEB]);
  assert.deepEqual(o.map().get(WEB)?.get('10.1.0.51:80'), { weight: undefined, drained: true });
  assert.deepEqual(RealOverrides.load(file, assert.fail).list(), [{ service: WEB, real: '10.1.0.51:80', drained: true, at: 1000 }]);

  const r2 = o.handle(req('weight', WEB, '10.1.0.51:80', 7), topo, 2000);
  assert.deepEqual(r2.result.changed, [`${WEB} 10.1.0.51:80: weight 7 by operator (topology 3)`]);
  assert.deepEqual(o.of(WEB, '10.1.0.51:80'), { service: WEB, real: '10.1.0.51:80', drained: true, weight: 7, at: 2000 });
  o.handle(req('undrain', WEB, '10.1.0.51'), topo, 3000);
  assert.deepEqual(RealOverrides.load(file, assert.fail).list(), [{ service: WEB, real: '10.1.0.51:80', weight: 7, at: 3000 }]);
  o.handle(req('clear', WEB, '10.1.0.51'), topo);
  assert.deepEqual(o.list(), []);
  assert.equal(fs.existsSync(file), false, 'no overrides, no file');
  assert.deepEqual(fs.readdirSync(path.dirname(file)), [], 'no temporary file left');
});

test('a real named by address, address:port, or [v6]:port (an address is one real of a service)', () => {
  const o = new RealOverrides(tmpFile());
  o.handle(req('drain', '[2001:db8::100]:53/udp', '2001:db8::5'), topo);
  o.handle(req('drain', '[2001:DB8:0::100]:53/udp', '[2001:db8::5]:53'), topo);
  assert.deepEqual(o.list().map((e) => `${e.service} ${e.real}`), ['[2001:db8::100]:53/udp [2001:db8::5]:53']);
  o.handle(req('drain', '10.1.0.100:8080/tcp', '10.1.0.51'), topo);
  assert.equal(o.of('10.1.0.100:8080/tcp', '10.1.0.51:8080')?.drained, true, 'by its address alone');
  assert.throws(() => o.handle(req('drain', '10.1.0.100:8080/tcp', '10.1.0.51:8081'), topo), /has no real 10\.1\.0\.51:8081/);
});

test('an unknown service or real, a bad weight or operation: E_USAGE naming it, nothing changed, file untouched', () => {
  const file = tmpFile();
  const o = new RealOverrides(file);
  o.handle(req('weight', WEB, '10.1.0.52', 2), topo, 5);
  const before = fs.readFileSync(file, 'utf8');
  const bad: [OverrideRequest, RegExp][] = [
    [req('drain', '10.1.0.100:81/tcp', '10.1.0.51'), /no service 10\.1\.0\.100:81\/tcp \(configured: .*10\.1\.0\.100:80\/tcp.*\); nothing changed/],
    [req('drain', WEB, '10.1.0.99'), /service 10\.1\.0\.100:80\/tcp has no real 10\.1\.0\.99 \(its reals: 10\.1\.0\.51:80, 10\.1\.0\.52:80\); nothing changed/],
    [req('drain', WEB, '10.1.0.51:81'), /has no real 10\.1\.0\.51:81/],
    [req('drain', 'web', '10.1.0.51'), /"web" is not a service key/],
    [req('drain', WEB, 'real-1'), /"real-1" is not ADDR\[:PORT\]/],
    [req('weight', WEB, '10.1.0.51', -1), /"-1" is not a weight/],
    [req('weight', WEB, '10.1.0.51', 70000), /"70000" is not a weight/],
    [req('weight', WEB, '10.1.0.51'), /"undefined" is not a weight/],
    [{ cmd: 'real', op: 'delete' as never, service: WEB, real: '10.1.0.51' }, /unknown operation "delete"/],
    [req('clear', '10.9.9.9:80/tcp'), /no service 10\.9\.9\.9:80\/tcp/],
  ];
  for (const [r, re] of bad) {
    assert.throws(() => o.handle(r, topo), (e: Error & { code?: string }) => re.test(e.message) && e.code === 'E_USAGE', `${JSON.stringify(r)}`);
  }
  assert.equal(fs.readFileSync(file, 'utf8'), before);
  assert.deepEqual(o.list(), [{ service: WEB, real: '10.1.0.52:80', weight: 2, at: 5 }]);
});

test('clear of a service, clear of all; retain drops (and says) what the topology no longer has', () => {
  const file = tmpFile();
  const o = new RealOverrides(file);
  o.handle(req('drain', WEB, '10.1.0.51'), topo);
  o.handle(req('drain', WEB, '10.1.0.52'), topo);
  o.handle(req('drain', '10.1.0.100:8080/tcp', '10.1.0.51:8080'), topo);
  o.handle(req('drain', '[2001:db8::100]:53/udp', '2001:db8::5'), topo);
  assert.equal(o.handle(req('clear', '10.1.0.100:8080/tcp'), topo).result.changed.length, 1);
  const smaller = loadTopology(yaml().replace('      - { address: 10.1.0.52 }\n', ''));
  assert.deepEqual(o.retain(smaller), [
    `${WEB} 10.1.0.52:80: override dropped, the real is no longer configured`,
    '[2001:db8::100]:53/udp [2001:db8::5]:53: override dropped, the service is no longer configured',
  ]);
  assert.deepEqual(RealOverrides.load(file, assert.fail).list().map((e) => e.real), ['10.1.0.51:80']);
  const all = o.handle(req('clear'), topo);
  assert.deepEqual(all.result.changed, [`${WEB} 10.1.0.51:80: override cleared`]);
  assert.equal(fs.existsSync(file), false);
});

test('a damaged file is logged and left alone; the daemon starts without overrides', () => {
  const file = tmpFile();
  fs.writeFileSync(file, '{"version":1,"overrides":[');
  const logged: string[] = [];
  assert.deepEqual(RealOverrides.load(file, (l) => logged.push(l)).list(), []);
  assert.match(logged.join('\n'), /starting without overrides \(the file is left as it is\)/);
  assert.equal(fs.readFileSync(file, 'utf8'), '{"version":1,"overrides":[');
});
