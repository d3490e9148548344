// Connections with a life, the configuration side: timeouts (ipvsadm --set), lc/wlc, real
// thresholds (ipvsadm -x/-y), and the sized tables with what they cost in kernel memory.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { loadTopology, type ConfigError } from '../../src/config/load';
import { formatProblem } from '../../src/config/problems';
import { DEFAULT_TABLES, memTotalBytes, tableMemoryProblem } from '../../src/config/tables';
import { hashMapBytes, tableCosts, totalBytes } from '../../src/dataplane/table-cost';
import { desiredService } from '../../src/director/desired-from-model';
import { sameReals, sameVip } from '../../src/reconciler/desired';

const DIRECTOR = 'director: { name: d1, interface: eth0, addresses: [10.1.0.2/24] }\n';

test('timeouts: IPVS defaults; the top level over them; a service over the top level, field by field', () => {
  const t = loadTopology(`${DIRECTOR}timeouts: { tcp: 1h, udp: 60 }
services:
  - { vip: 10.1.0.100, port: 80, reals: [] }
  - { vip: 10.1.0.100, port: 53, protocol: udp, timeouts: { udp: 10s, tcp_fin: 30s }, reals: [] }
`);
  assert.deepEqual(t.timeouts, { tcp: 3600, tcpFin: 120, udp: 60 });
  assert.deepEqual(t.services[0].timeouts, { tcp: 3600, tcpFin: 120, udp: 60 });
  assert.deepEqual(t.services[1].timeouts, { tcp: 3600, tcpFin: 30, udp: 10 });
  const plain = loadTopology(`${DIRECTOR}services: [{ vip: 10.1.0.100, port: 80, reals: [] }]\n`);
  assert.deepEqual(plain.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  assert.deepEqual(plain.services[0].timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
});

test('timeouts: the bounds are 1s and 365 days, inclusive', () => {
  const t = loadTopology(`${DIRECTOR}timeouts: { tcp: 8760h, tcp_fin: 1s, udp: 31536000 }\n`);
  assert.deepEqual(t.timeouts, { tcp: 31_536_000, tcpFin: 1, udp: 31_536_000 });
});

test('lc and wlc are schedulers of their own; the hash names stay', () => {
  const t = loadTopology(`${DIRECTOR}services:
  - { vip: 10.1.0.100, port: 80, scheduler: wlc, reals: [] }
  - { vip: 10.1.0.100, port: 81, scheduler: lc, reals: [] }
  - { vip: 10.1.0.100, port: 82, scheduler: maglev-source-port, reals: [] }
`);
  assert.deepEqual(t.services.map((s) => s.scheduler), ['wlc', 'lc', 'maglev-source-port']);
});

test('thresholds: both spellings, 0 = none, a lower one of 0 with an upper one', () => {
  const t = loadTopology(`${DIRECTOR}services:
  - vip: 10.1.0.100
    port: 80
    reals:
      - { address: 10.1.0.11, upper_threshold: 500, lower_threshold: 300 }
      - { address: 10.1.0.12, uthreshold: 200, lthreshold: 10 }
      - { address: 10.1.0.13, uthreshold: 4294967295 }
      - { address: 10.1.0.14 }
`);
  assert.deepEqual(t.services[0].reals.map((r) => [r.upperThreshold, r.lowerThreshold]), [[500, 300], [200, 10], [4294967295, 0], [0, 0]]);
});

test('desired state carries timeouts and thresholds, and a change in either is a change', () => {
  const text = (tcp: string, upper: number) => `${DIRECTOR}services:
  - vip: 10.1.0.100
    port: 80
    scheduler: wlc
    timeouts: { tcp: ${tcp} }
    reals: [{ address: 10.1.0.11, upper_threshold: ${upper}, lower_threshold: 5 }]
`;
  const mac = () => '02:00:00:00:00:01';
  const a = desiredService(loadTopology(text('900s', 10)).services[0], undefined, mac);
  assert.deepEqual(a.vip.timeouts, { tcp: 900, tcpFin: 120, udp: 300 });
  assert.equal(a.vip.scheduler, 'wlc');
  assert.deepEqual([a.reals[0].upperThreshold, a.reals[0].lowerThreshold], [10, 5]);
  const same = desiredService(loadTopology(text('15m', 10)).services[0], undefined, mac);
  assert.ok(sameVip(a.vip, same.vip) && sameReals(a, same));
  const longer = desiredService(loadTopology(text('901s', 10)).services[0], undefined, mac);
  assert.ok(!sameVip(a.vip, longer.vip));
  assert.ok(sameReals(a, longer));
  const higher = desiredService(loadTopology(text('900s', 11)).services[0], undefined, mac);
  assert.ok(sameVip(a.vip, higher.vip));
  assert.ok(!sameReals(a, higher));
});

test('table sizes: defaults, and what is written', () => {
  const d = loadTopology(DIRECTOR).director;
  assert.deepEqual(d.connTable, { size: 1_048_576, ipv6Size: 262_144, unconfirmedSize: 131_072, natSize: 262_144 });
  assert.deepEqual(d.persistenceTable, { size: 262_144 });
  const s = loadTopology(`director:
  name: d1
  interface: eth0
  conn_table: { size: 2048, unconfirmed_size: 1024, nat_size: 8192 }
  persistence_table: { size: 4096 }
`).director;
  assert.deepEqual(s.connTable, { size: 2048, ipv6Size: 262_144, unconfirmedSize: 1024, natSize: 8192 });
  assert.deepEqual(s.persistenceTable, { size: 4096 });
});

test('table cost: buckets per power of two plus 48 bytes and the rounded key and value per entry', () => {
  // 1048576 IPv4 connections: 16 B of bucket + 48 + 16 + 16 = 96 B each.
  assert.equal(hashMapBytes(1_048_576, 16, 16), 1_048_576 * 96);
  // Not a power of two: the buckets round up (2048 for 1025), keys and values to 8 bytes.
  assert.equal(hashMapBytes(1025, 13, 4), 2048 * 16 + 1025 * (48 + 16 + 8));
  const costs = tableCosts(DEFAULT_TABLES);
  assert.deepEqual(costs.map((c) => [c.field, c.entries, c.bytesPerEntry]), [
    // An array of 64-byte lines, one per flow of the size (its page of header is in the bytes).
    ['director.conn_table.size', 1_048_576, 64],
    ['director.conn_table.ipv6_size', 262_144, 120],
    // An array of 64-byte slots (its page of header is in the bytes, not per entry).
    ['director.conn_table.unconfirmed_size', 131_072, 64],
    ['director.persistence_table.size', 262_144, 104],
    // NAT: a 40-byte flow key and a 48-byte nat_rev.
    ['director.conn_table.nat_size', 262_144, 152],
  ]);
  assert.equal(totalBytes(costs), (4096 + 1_048_576 * 64) + 262_144 * 120 + (4096 + 131_072 * 64) + 262_144 * 104 + 262_144 * 152);
});

test('memory: tables above half of MemTotal are refused with the figures', () => {
  const total = totalBytes(tableCosts(DEFAULT_TABLES)); // about 166 MiB
  assert.equal(tableMemoryProblem(DEFAULT_TABLES, total * 2), null);
  assert.equal(tableMemoryProblem(DEFAULT_TABLES, null), null, 'no /proc/meminfo: no check');
  assert.equal(tableMemoryProblem(DEFAULT_TABLES, 256 * 1048576),
    'the connection and persistence tables need 166.0 MiB of kernel memory (director.conn_table.size 1048576 × 64 B = 64.0 MiB, '
    + 'director.conn_table.ipv6_size 262144 × 120 B = 30.0 MiB, director.conn_table.unconfirmed_size 131072 × 64 B = 8.0 MiB, '
    + 'director.persistence_table.size 262144 × 104 B = 26.0 MiB, director.conn_table.nat_size 262144 × 152 B = 38.0 MiB), '
    + "more than half of this machine's 256.0 MiB (MemTotal); make them smaller");
});

test('memory: the largest tables are refused on this machine at director.conn_table, with its line', (t) => {
  const mem = memTotalBytes();
  const max = 268_435_456;
  const sizes = { connTable: { size: max, ipv6Size: max, unconfirmedSize: max, natSize: DEFAULT_TABLES.connTable.natSize }, persistenceTable: { size: max } };
  const need = totalBytes(tableCosts(sizes)); // 110 GiB
  if (mem === null || need <= mem / 2) {
    t.skip(mem === null ? 'no /proc/meminfo' : `this machine holds ${need} bytes of tables`);
    return;
  }
  let err: ConfigError | undefined;
  try {
    loadTopology(`director:
  name: d1
  interface: eth0
  conn_table: { size: ${max}, ipv6_size: ${max}, unconfirmed_size: ${max} }
  persistence_table: { size: ${max} }
`, 'big.yaml');
  } catch (e) {
    err = e as ConfigError;
  }
  assert.ok(err, 'accepted');
  assert.equal(err.problems.length, 1);
  assert.equal(formatProblem(err.problems[0]), `director.conn_table: ${tableMemoryProblem(sizes, mem)} (line 4:3)`);
});
