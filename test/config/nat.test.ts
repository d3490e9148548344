// NAT and full-NAT, the configuration side: method nat|fullnat, the real's port (port mapping),
// snat_pool (the service's or the director's), director.inside_interface, and what validate
// refuses with the path and line of each.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { loadTopology, checkRuntime, type ConfigError } from '../../src/config/load';

const DIRECTOR = 'director: { name: d1, interface: eth0, addresses: [203.0.113.2/24], inside_interface: eth1, snat_pool: [192.168.10.2, "2001:db8:10::2"] }\n';

function problems(yaml: string): string[] {
  try {
    loadTopology(yaml, 'nat.yaml');
  } catch (e) {
    return (e as ConfigError).problems.map((p) => `${p.path} (line ${p.line}): ${p.message}`);
  }
  assert.fail('the topology validated');
}

test('nat maps ports, fullnat takes the pool of its family from the director; inside_interface kept', () => {
  const t = loadTopology(`${DIRECTOR}services:
  - vip: 203.0.113.10
    port: 80
    method: nat
    reals: [{ address: 192.168.10.11, port: 8080 }, { address: 192.168.10.12, port: 8080 }]
  - vip: 203.0.113.10
    port: 443
    method: fullnat
    reals: [{ address: 10.9.0.11, port: 8443 }]
  - vip: "2001:db8::10"
    port: 443
    method: fullnat
    snat_pool: ["2001:db8:10::3"]
    reals: [{ address: "2001:db8:20::11" }]
  - vip: 203.0.113.10
    port: 0
    method: nat
    persistence: { timeout: 5m }
    reals: [{ address: 192.168.10.11 }]
`);
  assert.equal(t.director.insideInterface, 'eth1');
  const [nat, full, full6, all] = t.services;
  assert.equal(nat.method, 'nat');
  assert.deepEqual(nat.reals.map((r) => r.key), ['192.168.10.11:8080', '192.168.10.12:8080']);
  assert.equal(nat.snatPool, undefined);
  // The health check probes the real's own port, the one the flows are rewritten to.
  assert.equal(nat.reals[0].check.port, 8080);
  assert.deepEqual(full.snatPool, ['192.168.10.2']);
  assert.deepEqual(full6.snatPool, ['2001:db8:10::3']);
  assert.equal(all.reals[0].port, 0);
});

test('DR and TUN still refuse a real port of their own, and say which method maps ports', () => {
  assert.deepEqual(problems(`${DIRECTOR}services:
  - vip: 203.0.113.10
    port: 80
    reals: [{ address: 203.0.113.11, port: 8080 }]
`), ['services[0].reals[0].port (line 5): 8080 differs from the service port 80: DR forwards without rewriting ports (method: nat maps ports)']);
});

test('refused: a port-0 NAT service with a real port, snat_pool off fullnat, fullnat without a pool, mixed families', () => {
  const noPool = 'director: { name: d1, interface: eth0 }\n';
  assert.deepEqual(problems(`${noPool}services:
  - vip: 203.0.113.10
    port: 0
    method: nat
    persistence: {}
    reals: [{ address: 192.168.10.11, port: 22 }]
  - vip: 203.0.113.10
    port: 80
    method: nat
    snat_pool: [192.168.10.2]
    reals: [{ address: "2001:db8::11" }]
  - vip: 203.0.113.10
    port: 443
    method: fullnat
    reals: [{ address: 192.168.10.11 }]
  - vip: 203.0.113.10
    port: 8443
    method: fullnat
    snat_pool: [203.0.113.10, "2001:db8::2", 192.168.10.11, 192.168.10.3, 192.168.10.3]
    sorry_server: { address: 192.168.10.11, port: 9000 }
    reals: [{ address: 192.168.10.11 }]
`).sort(), [
    "services[0].reals[0].port (line 7): 22: the service is port 0 (every port), so NAT keeps each flow's own port; leave the real's port out or 0",
    'services[1].reals[0].address (line 12): 2001:db8::11 is IPv6 but the VIP is IPv4: NAT does not change the family (use method: tun)',
    'services[1].snat_pool (line 11): only a fullnat service rewrites the source; this one is nat',
    'services[2].method (line 15): fullnat needs source addresses for the reals to answer: set snat_pool on the service or director.snat_pool (addresses of this director, IPv4)',
    'services[3].snat_pool[0] (line 20): 203.0.113.10 is the service\'s VIP: the pool must be other addresses of the director',
    'services[3].snat_pool[1] (line 20): 2001:db8::2 is IPv6 but the VIP is IPv4: full-NAT does not change the family',
    'services[3].snat_pool[2] (line 20): 192.168.10.11 is a real of this service',
    'services[3].snat_pool[4] (line 20): 192.168.10.3 is already snat_pool[3]',
    'services[3].sorry_server.address (line 21): 192.168.10.11 is also reals[0]',
  ].sort());
});

test('refused: inside_interface equal to interface', () => {
  assert.deepEqual(problems('director: { name: d1, interface: eth0, inside_interface: eth0 }\n'),
    ['director.inside_interface (line 1): eth0 is also director.interface: a one-armed NAT director leaves inside_interface out']);
});

test('checkRuntime: the inside interface must exist, and forward', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-config-nat-'));
  try {
    fs.mkdirSync(path.join(dir, 'eth0'));
    const t = loadTopology(`${DIRECTOR}services:
  - { vip: 203.0.113.10, port: 443, method: fullnat, reals: [{ address: 10.9.0.11 }] }
  - { vip: 203.0.113.10, port: 444, method: fullnat, snat_pool: [203.0.113.2, 192.168.10.254], reals: [{ address: 10.9.0.11 }] }
vrrp:
  - { name: IN, vrid: 2, interface: eth0, vips: [192.168.10.254/24] }
`);
    const addrs = { eth0: [{ family: 4 as const, address: '203.0.113.2' }], eth1: [{ family: 4 as const, address: '192.168.10.2' }] };
    const problemsOf = (withEth1: boolean, forwarding = (_i: string, _f: number) => true) => {
      if (withEth1) fs.mkdirSync(path.join(dir, 'eth1'), { recursive: true });
      return checkRuntime(t, { sysClassNet: dir, interfaceAddresses: (i) => addrs[i as 'eth0' | 'eth1'] ?? [], forwarding }).map((p) => `${p.path}: ${p.message}`);
    };
    // The pool addresses are not checked against the interfaces: a VRRP address held by
    // keepalived (a migration) is on the interface only while it is Master.
    assert.deepEqual(problemsOf(false), [
      'director.inside_interface: interface eth1 does not exist on this machine (the XDP program attaches there too, toward the NAT reals)',
    ]);
    assert.deepEqual(problemsOf(true), []);
    // Forwarding off on the inner arm: NAT could find no next hop there.
    assert.deepEqual(problemsOf(true, (i) => i !== 'eth1').filter((p) => p.includes('forwarding')), [
      'director.inside_interface: IPv4 forwarding is off on eth1, and NAT services need it (bpf_fib_lookup finds no next hop otherwise): sysctl -w net.ipv4.conf.eth1.forwarding=1 (or net.ipv4.ip_forward=1, and in /etc/sysctl.d to keep it)',
    ]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
