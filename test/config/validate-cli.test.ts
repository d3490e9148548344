// `xlvs validate` end to end: a real process running the CLI entry with the compiled commands.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { repoRoot } from '../../src/paths';

// The compiled main.js next to this test's output tree (dist or dist-NAME).
const mainJs = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');

/** What the default table sizes cost, as validate prints it after the ok line. */
const DEFAULT_TABLES = 'kernel memory of the tables:\n'
  + 'table                entries  bytes/entry    MiB\n'
  + 'IPv4 connections     1048576           64   64.0\n'
  + 'IPv6 connections      262144          120   30.0\n'
  + 'unconfirmed flows     131072           64    8.0\n'
  + 'persistence           262144          104   26.0\n'
  + 'NAT reverse entries   262144          152   38.0\n'
  + 'total                                      166.0\n';

function xlvs(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, ['-e', 'require(process.argv[1]).main(["node", "xlvs", ...process.argv.slice(2)])', mainJs, ...args], { encoding: 'utf8', timeout: 30_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

test('validate: ok line with counts for a good file', () => {
  const f = path.join(repoRoot(), 'config', 'examples', 'master-master.yaml');
  const r = xlvs('validate', f);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${f}: ok (2 services, 4 reals, 2 VRRP instances)\n` + DEFAULT_TABLES);
});

test('validate: every problem and exit 1 for a bad file; --json lists them; --normalised prints the model', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-validate-'));
  try {
    const f = path.join(dir, 'bad.yaml');
    fs.writeFileSync(f, 'director: { name: d, interface: eth0 }\nservices:\n  - { vip: 10.0.0.1, port: 80, protocl: tcp, reals: [{ address: 10.0.0.2, weight: 70000 }] }\n');
    const r = xlvs('validate', f);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `${f}: 2 problems\n`
      + '  services[0].protocl: unknown field (did you mean "protocol"?) (line 3:32)\n'
      + '  services[0].reals[0].weight: 70000 is above 65535 (line 3:83)\n');
    const j = xlvs('validate', f, '--json');
    assert.equal(j.status, 1);
    const body = JSON.parse(j.stdout);
    assert.equal(body.ok, false);
    assert.equal(body.code, 'E_CONFIG_INVALID');
    assert.deepEqual(body.problems[1], { path: 'services[0].reals[0].weight', message: '70000 is above 65535', line: 3, col: 83 });
    const good = path.join(repoRoot(), 'config', 'examples', 'tun.yaml');
    const n = xlvs('validate', good, '--normalised');
    assert.equal(n.status, 0, n.stderr);
    assert.equal(JSON.parse(n.stdout).services[0].method, 'tun');
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: a warning is printed to stderr and in --json, and the file stays valid (exit 0)', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-validate-'));
  try {
    const f = path.join(dir, 'warn.yaml');
    fs.writeFileSync(f, 'director: { name: d, interface: eth0 }\nvrrp:\n  - { name: VI_1, vrid: 9, auth: { type: pass, secret: abcdefghij }, vips: [10.0.0.1] }\n');
    const r = xlvs('validate', f);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(r.stdout, `${f}: ok (0 services, 0 reals, 1 VRRP instance)\n` + DEFAULT_TABLES);
    assert.equal(r.stderr, `${f}: warning: vrrp[0].auth.secret: is 10 characters; VRRPv2 carries 8 (RFC 2338 §5.3.6), so only "abcdefgh" is sent, as keepalived truncates it (line 3:56)\n`);
    const j = xlvs('validate', f, '--json');
    assert.equal(j.status, 0, j.stderr);
    const body = JSON.parse(j.stdout);
    assert.equal(body.ok, true);
    assert.deepEqual(body.warnings.map((w: { path: string }) => w.path), ['vrrp[0].auth.secret']);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('validate --runtime: what xlvs run would refuse as insecure is a problem of this machine', process.getuid?.() === 0 ? {} : { skip: 'needs root (files owned by root)' }, () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-validate-'));
  try {
    const f = path.join(dir, 'open.yaml');
    fs.writeFileSync(f, 'director: { name: d, interface: lo }\n');
    fs.chmodSync(f, 0o666);
    const r = xlvs('validate', '--runtime', f);
    assert.equal(r.status, 1);
    assert.equal(r.stderr, `${f}: valid, but not on this machine:\n  (file): ${f}: it is writable by every user (mode 0666) (xlvs run refuses this without --insecure)\n`);
    fs.chmodSync(f, 0o644);
    assert.equal(xlvs('validate', '--runtime', f).status, 0);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('validate: the tables\' kernel memory, as set in the file, in the text and in --json', () => {
  const f = path.join(repoRoot(), 'config', 'examples', 'connection-limits.yaml');
  const r = xlvs('validate', f);
  assert.equal(r.status, 0, r.stderr);
  assert.equal(r.stdout, `${f}: ok (2 services, 4 reals, 0 VRRP instances)\n`
    + 'kernel memory of the tables:\n'
    + 'table                entries  bytes/entry   MiB\n'
    + 'IPv4 connections      524288           64  32.0\n'
    + 'IPv6 connections       65536          120   7.5\n'
    + 'unconfirmed flows      65536           64   4.0\n'
    + 'persistence           131072          104  13.0\n'
    + 'NAT reverse entries    65536          152   9.5\n'
    + 'total                                      66.0\n');
  const j = JSON.parse(xlvs('validate', f, '--json').stdout);
  assert.deepEqual(j.tables.map((t: { field: string; entries: number; bytesPerEntry: number; bytes: number }) => [t.field, t.entries, t.bytesPerEntry, t.bytes]), [
    // Arrays with BPF_F_MMAPABLE: a page of header, then the values (a line per IPv4 flow).
    ['director.conn_table.size', 524288, 64, 4096 + 524288 * 64],
    ['director.conn_table.ipv6_size', 65536, 120, 65536 * 120],
    // An mmapable array: a page of header, then the 64-byte slots.
    ['director.conn_table.unconfirmed_size', 65536, 64, 4096 + 65536 * 64],
    ['director.persistence_table.size', 131072, 104, 131072 * 104],
    ['director.conn_table.nat_size', 65536, 152, 65536 * 152],
  ]);
  assert.equal(j.tablesBytes, 66 * 1048576 + 2 * 4096);
});
