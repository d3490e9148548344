// The lab layout derived from config/lab.yaml (pure): addresses, per-real VIPs, director 2's
// topology, and errors that name the offending path.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import YAML from 'yaml';
import { deriveLayout, labNamespacePattern } from '../../src/lab/layout';
import { repoRoot } from '../../src/paths';
import { isXlvsError } from '../../src/errors';
import { loadTopology } from '../../src/config/load';

const text = fs.readFileSync(path.join(repoRoot(), 'config', 'lab.yaml'), 'utf8');

test('config/lab.yaml gives the documented site', () => {
  const L = deriveLayout(text, 'xl');
  assert.deepEqual(L.namespaces, ['xl-br', 'xl-client', 'xl-dir1', 'xl-dir2', 'xl-rtr', 'xl-real1', 'xl-real2', 'xl-real3', 'xl-nat1', 'xl-nat2']);
  // The NAT site: the directors' second arm on 10.83.0.0/24, the reals' gateway the inner VRRP address.
  assert.deepEqual(L.inner, { interface: 'eth1', cidr: '10.83.0.0/24', prefixLen: 24, gateway: '10.83.0.1', instance: 'VI_LAB_IN' });
  assert.deepEqual(L.natReals.map((r) => [r.ns, r.address]), [['xl-nat1', '10.83.0.51'], ['xl-nat2', '10.83.0.52']]);
  assert.deepEqual(L.directors.map((d) => d.innerAddress), ['10.83.0.2', '10.83.0.3']);
  assert.deepEqual([L.lanCidr, L.tunCidr, L.routerLan, L.routerTun], ['10.81.0.0/24', '10.82.0.0/24', '10.81.0.1', '10.82.0.1']);
  assert.deepEqual(L.reals.map((r) => [r.lanAddress, r.tunAddress, r.drVips, r.tunVips]), [1, 2, 3].map((i) => [`10.81.0.5${i}`, `10.82.0.5${i}`, ['10.81.0.100'], ['10.81.0.200']]));
  assert.equal(L.pinRoot, '/run/xlvs-lab/xl/bpffs');
  for (const re of ['xl-client', 'xl-real3', 'xl-dir2', 'xl-nat2']) assert.ok(labNamespacePattern('xl').test(re));
  assert.equal(labNamespacePattern('xl').test('xl2-client'), false);
});

test('director topologies: names, addresses, VRRP roles and pins per prefix', () => {
  const L = deriveLayout(text, 'p1');
  const [d1, d2] = L.directors.map((d) => YAML.parse(d.topologyYaml) as Record<string, any>);
  assert.deepEqual([d1.director.name, d1.director.addresses, d1.vrrp[0].priority, d1.vrrp[0].state], ['p1-dir1', ['10.81.0.2/24'], 150, 'MASTER']);
  assert.deepEqual([d2.director.name, d2.director.addresses, d2.vrrp[0].priority, d2.vrrp[0].state], ['p1-dir2', ['10.81.0.3/24'], 100, 'BACKUP']);
  // The inner instance (NAT gateway) takes the same role: the sync group moves both together.
  assert.deepEqual([d1.vrrp[1].priority, d1.vrrp[1].state, d2.vrrp[1].priority, d2.vrrp[1].state], [150, 'MASTER', 100, 'BACKUP']);
  assert.equal(d2.director.pin_root, undefined, 'default pins: the lab bind-mounts its bpffs on /sys/fs/bpf');
  assert.equal(L.pinRoot, '/run/xlvs-lab/p1/bpffs');
  assert.equal(d2.control.socket, '/run/xlvs/p1-dir2.sock');
  // Everything else is the operator's file, unchanged.
  const orig = YAML.parse(text) as Record<string, any>;
  assert.deepEqual(d2.services, orig.services);
  assert.deepEqual(d2.vrrp[0].vips, orig.vrrp[0].vips);
});

test('bad lab files are refused with the path of the problem', () => {
  const edit = (f: (t: Record<string, any>) => void): string => { const t = YAML.parse(text); f(t); return YAML.stringify(t); };
  const cases: [string, string, RegExp][] = [
    ['DR real off the LAN', edit((t) => { t.services[0].reals[1].address = '10.99.0.5'; }), /services\[0\]\.reals\[1\]\.address: 10\.99\.0\.5: a DR real must be on the LAN 10\.81\.0\.0\/24/],
    ['TUN real on the LAN', edit((t) => { t.services[2].reals[0].address = '10.81.0.60'; }), /services\[2\]\.reals\[0\]\.address: 10\.81\.0\.60: the lab puts TUN reals behind the router/],
    ['VIP off the LAN', edit((t) => { t.services[1].vip = '192.0.2.1'; }), /services\[1\]\.vip: 192\.0\.2\.1 is not in the LAN/],
    ['no VRRP', edit((t) => { delete t.vrrp; }), /vrrp\[0\]: the lab runs a VRRP pair/],
    ['real on a lab address', edit((t) => { t.services[0].reals[0].address = '10.81.0.10'; }), /10\.81\.0\.10 is a real, but the lab uses it for the client/],
    ['NAT real off the inner segment', edit((t) => { t.services[3].reals[1].address = '10.84.0.52'; }), /services\[3\]\.reals\[1\]\.address: 10\.84\.0\.52: a NAT real must be on the inner segment 10\.83\.0\.0\/24/],
    ['NAT without inside_interface', edit((t) => { delete t.director.inside_interface; }), /director\.inside_interface: the lab builds NAT two-armed/],
    ['NAT real on a director address', edit((t) => { t.services[3].reals[0].address = '10.83.0.3'; }), /10\.83\.0\.3 is lab-dir2's inner address|10\.83\.0\.3 is xl-dir2's inner address/],
    ['not YAML', 'director: [', /E?lab\.yaml|Flow sequence|Unexpected/],
  ];
  for (const [name, body, re] of cases) {
    assert.throws(() => deriveLayout(body, 'xl'), (e: unknown) => isXlvsError(e) && re.test(e.message), name);
  }
  assert.throws(() => deriveLayout(text, 'Bad_Prefix'), /lab prefix "Bad_Prefix" must be 1-8 of \[a-z0-9-\]/);
});

test('lab.yaml and both derived director topologies pass the topology schema', () => {
  for (const [name, body] of [['config/lab.yaml', text], ...deriveLayout(text, 'xl').directors.map((d) => [d.name, d.topologyYaml])]) {
    const t = loadTopology(body, name);
    assert.ok(t, name);
  }
});
