// `make deb`: the package built by scripts/build-deb, extracted into a scratch root (never
// installed on this machine), has what an operator needs, runs from /usr/lib/xlvs alone, and
// its systemd unit passes `systemd-analyze verify`.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { execFileSync, spawnSync } from 'node:child_process';
import { repoRoot } from '../../src/paths';
import { needsBpf, needsCommand } from '../lib/env';

const gate = needsBpf();
const root = repoRoot();
const pkg = JSON.parse(fs.readFileSync(path.join(root, 'package.json'), 'utf8')) as { version: string };
let deb = '';
let scratch = '';

function run(cmd: string, args: string[], opts: { env?: NodeJS.ProcessEnv; cwd?: string } = {}): { status: number | null; out: string } {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 60_000, ...opts });
  return { status: r.status, out: (r.stdout ?? '') + (r.stderr ?? '') };
}

before(() => {
  if (gate.skip) return;
  deb = execFileSync(path.join(root, 'scripts', 'build-deb'), { cwd: root, encoding: 'utf8', timeout: 120_000 }).trim().split('\n').pop()!;
  deb = path.resolve(root, deb);
  scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-deb-'));
  execFileSync('dpkg-deb', ['-x', deb, scratch]);
});

after(() => {
  if (scratch) fs.rmSync(scratch, { recursive: true, force: true });
});

test('make deb names the package after package.json and this architecture; control says what it needs', gate, () => {
  const arch = execFileSync('dpkg', ['--print-architecture'], { encoding: 'utf8' }).trim();
  assert.equal(path.basename(deb), `xlvs_${pkg.version}_${arch}.deb`);
  assert.equal(path.relative(root, path.dirname(deb)), path.join('build', 'deb'));
  const field = (f: string) => execFileSync('dpkg-deb', ['-f', deb, f], { encoding: 'utf8' }).trim();
  assert.equal(field('Package'), 'xlvs');
  assert.equal(field('Version'), pkg.version);
  assert.equal(field('Architecture'), arch);
  assert.equal(field('Section'), 'net');
  assert.equal(field('Priority'), 'optional');
  // Node 20 (Debian 12's own nodejs is 18), the libbpf the loader opens, the ip command, and
  // what dpkg-shlibdeps finds koffi's binary linked against
  assert.match(field('Depends'), /^nodejs \(>= 20\), libbpf1, iproute2, libc6 \(>= [\d.]+\)/);
  assert.match(field('Depends'), /libstdc\+\+6/);
  assert.match(field('Recommends'), /bpftool/);
  assert.doesNotMatch(field('Recommends'), /keepalived/);
  assert.match(field('Maintainer'), /<[^>]+@[^>]+>/);
  const info = execFileSync('dpkg-deb', ['-I', deb], { encoding: 'utf8' });
  assert.match(info, /postinst/);
  // every file belongs to root (dpkg-deb --root-owner-group)
  const listing = execFileSync('dpkg-deb', ['-c', deb], { encoding: 'utf8', maxBuffer: 64 << 20 });
  for (const line of listing.split('\n').filter(Boolean)) assert.match(line, /^\S+ root\/root /, line);
});

test('the package holds the command, unit, man page, completion, program, BPF objects and schema', gate, () => {
  const lib = path.join(scratch, 'usr/lib/xlvs');
  for (const p of [
    'usr/bin/xlvs', 'lib/systemd/system/xlvs@.service', 'usr/share/man/man8/xlvs.8.gz',
    'usr/share/bash-completion/completions/xlvs', 'usr/share/doc/xlvs/copyright',
    'usr/lib/xlvs/bin/xlvs.js', 'usr/lib/xlvs/package.json', 'usr/lib/xlvs/dist/src/cli/main.js',
    'usr/lib/xlvs/config/topology.schema.json', 'usr/lib/xlvs/build/bpf/lb.bpf.o',
    'usr/lib/xlvs/build/bpf/decap.bpf.o', 'usr/lib/xlvs/node_modules/koffi/index.js',
  ]) assert.ok(fs.existsSync(path.join(scratch, p)), p);
  assert.ok(fs.statSync(path.join(scratch, 'usr/bin/xlvs')).mode & 0o111, '/usr/bin/xlvs is executable');
  assert.match(fs.readFileSync(path.join(scratch, 'usr/bin/xlvs'), 'utf8'), /exec \/usr\/bin\/node \/usr\/lib\/xlvs\/bin\/xlvs\.js "\$@"/);
  for (const m of ['ajv', 'commander', 'koffi', 'prom-client', 'yaml']) assert.ok(fs.existsSync(path.join(lib, 'node_modules', m, 'package.json')), m);
  // production only: no tests, benches, TypeScript or type packages
  for (const p of ['dist/test', 'dist/bench', 'node_modules/typescript', 'node_modules/@types', 'build/test-bpf', 'build/bench-bpf']) {
    assert.ok(!fs.existsSync(path.join(lib, p)), p);
  }
  assert.deepEqual(fs.readdirSync(path.join(lib, 'node_modules/koffi/build/koffi')).filter((d) => !/^linux_(x64|arm64)$/.test(d)), []);
  // /etc/xlvs is there and empty: no live config; examples are documentation
  assert.deepEqual(fs.readdirSync(path.join(scratch, 'etc/xlvs')), []);
  assert.ok(fs.readdirSync(path.join(scratch, 'usr/share/doc/xlvs/examples')).includes('dr-tcp-master.yaml'));
  const man = execFileSync('gzip', ['-dc', path.join(scratch, 'usr/share/man/man8/xlvs.8.gz')], { encoding: 'utf8' });
  assert.match(man, /^\.TH XLVS 8 .*"xlvs /m);
  assert.equal(spawnSync('bash', ['-n', path.join(scratch, 'usr/share/bash-completion/completions/xlvs')]).status, 0);
});

test('the installed xlvs validates the shipped examples and runs a flow through its own BPF object', gate, () => {
  const xlvs = path.join(scratch, 'usr/lib/xlvs/bin/xlvs.js');
  const examples = path.join(scratch, 'usr/share/doc/xlvs/examples');
  // run from / with no NODE_PATH: nothing may come from the repository
  const env = { ...process.env, NODE_PATH: '' };
  const v = run('node', [xlvs, '--version'], { env, cwd: '/' });
  assert.equal(v.out.trim(), pkg.version);
  for (const f of fs.readdirSync(examples).filter((x) => x.endsWith('.yaml'))) {
    const r = run('node', [xlvs, 'validate', path.join(examples, f)], { env, cwd: '/' });
    assert.equal(r.status, 0, `${f}: ${r.out}`);
    assert.match(r.out, /: ok \(/);
  }
  const where = run('node', ['-e', 'const p = require(process.argv[1]); console.log(p.repoRoot(), p.bpfObject("lb"))', path.join(scratch, 'usr/lib/xlvs/dist/src/paths.js')], { env, cwd: '/' });
  assert.equal(where.out.trim(), `${path.join(scratch, 'usr/lib/xlvs')} ${path.join(scratch, 'usr/lib/xlvs/build/bpf/lb.bpf.o')}`);
  // koffi, libbpf and the packaged lb.bpf.o: one SYN through the program
  const sim = run('node', [xlvs, 'simulate', '-c', path.join(examples, 'dr-tcp-master.yaml'), '--client', '198.51.100.7:40000', '--vip', '192.168.81.229:6379/tcp', '--json'], { env, cwd: '/' });
  assert.equal(sim.status, 0, sim.out);
  assert.equal(JSON.parse(sim.out).reason, 'tx_dr');
});

test('systemd-analyze verify finds no problem in xlvs@.service', gate, () => {
  // The scratch root holds the package only. For verify it also needs what a Debian system has
  // around it: systemd's own units (sysinit.target, network-online.target, … which the unit's
  // default dependencies pull in) and /bin/kill (ExecReload=). They are copied from this
  // machine. MANPATH points at the package's man pages so Documentation=man:xlvs(8) is checked
  // against the page the package ships.
  const units = fs.existsSync('/usr/lib/systemd/system/sysinit.target') ? '/usr/lib/systemd/system' : '/lib/systemd/system';
  fs.mkdirSync(path.join(scratch, 'usr/lib/systemd'), { recursive: true });
  execFileSync('cp', ['-a', units, path.join(scratch, 'usr/lib/systemd/')]);
  fs.mkdirSync(path.join(scratch, 'bin'), { recursive: true });
  fs.copyFileSync('/bin/kill', path.join(scratch, 'bin/kill'));
  fs.chmodSync(path.join(scratch, 'bin/kill'), 0o755);
  assert.ok(!fs.existsSync(path.join(scratch, 'usr/lib/systemd/system/xlvs@.service')), 'xlvs@.service is not from this machine');
  const env = { ...process.env, MANPATH: path.join(scratch, 'usr/share/man'), SYSTEMD_LOG_COLOR: '0' };
  for (const unit of ['xlvs@.service', 'xlvs@edge-a.service']) {
    const r = run('systemd-analyze', ['verify', `--root=${scratch}`, unit], { env });
    assert.equal(r.status, 0, `${unit}:\n${r.out}`);
    assert.deepEqual(r.out.split('\n').filter((l) => /xlvs/.test(l)), [], `${unit}:\n${r.out}`);
  }
  // verify is not silent about this unit: a broken copy is reported
  const unitFile = path.join(scratch, 'lib/systemd/system/xlvs@.service');
  const good = fs.readFileSync(unitFile, 'utf8');
  try {
    fs.writeFileSync(unitFile, good.replace('ProtectHome=yes', 'ProtectHome=perhaps'));
    const r = run('systemd-analyze', ['verify', `--root=${scratch}`, 'xlvs@edge-a.service'], { env });
    assert.match(r.out, /xlvs@\.service:\d+: Failed to parse protect home value/);
  } finally {
    fs.writeFileSync(unitFile, good);
  }
  // and the settings the unit is there for
  for (const line of ['Type=notify', 'NotifyAccess=main', 'ExecStart=/usr/bin/xlvs run -c /etc/xlvs/%i.yaml', 'ExecReload=/bin/kill -HUP $MAINPID', 'Restart=on-failure',
    'ProtectSystem=strict', 'ReadWritePaths=/sys/fs/bpf /run/xlvs', 'NoNewPrivileges=yes', 'ProtectHome=yes', 'PrivateTmp=yes']) {
    assert.ok(good.split('\n').includes(line), line);
  }
  assert.match(good, /^CapabilityBoundingSet=.*\bCAP_BPF\b.*\bCAP_NET_ADMIN\b/m);
});

test('lintian finds nothing to report', needsCommand('lintian'), () => {
  // The one override the package carries is for the BPF objects (bytecode for the kernel, not
  // for this CPU); lintian prints nothing else, errors or warnings.
  const r = run('lintian', ['--tag-display-limit', '0', deb]);
  const tags = r.out.split('\n').filter((l) => /^[EWI]: /.test(l));
  assert.deepEqual(tags, [], r.out);
  assert.equal(r.status, 0, r.out);
});
