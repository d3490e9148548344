// Behaviour of the importers beyond the goldens: the mappings operators rely on, exact errors
// with file:line for bad input, the tokenizer, the command splitter, includes, and the CLI.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as YAML from 'yaml';
import { repoRoot } from '../../src/paths';
import { emitTopology, importIpvsadm, importKeepalived, splitCommand, mapScheduler, parseIptablesSave, resolveMark } from '../../src/import';
import { loadTopology } from '../../src/config/load';
import { tokenizeText } from '../../src/import/keepalived/lexer';
import { parseTokens } from '../../src/import/keepalived/parser';
import { expandBraces } from '../../src/import/keepalived/glob';
import { isXlvsError } from '../../src/errors';

const FIX = path.join(repoRoot(), 'test', 'import', 'fixtures');
const kc = (name: string) => importKeepalived(path.join(FIX, name), { displayName: name });

test('DR + TCP_CHECK + MASTER/BACKUP PASS: the values keepalived would run with', () => {
  const { topology: t } = kc('dr-tcp-master-backup.conf');
  assert.equal(t.director.name, 'lvs-master');
  assert.equal(t.director.interface, 'eth0');
  const v = t.vrrp![0];
  assert.deepEqual([v.vrid, v.priority, v.state, v.auth], [51, 150, 'MASTER', { type: 'pass', secret: 's3cret' }]);
  assert.deepEqual(v.notify!.master, ['/etc/keepalived/notify.sh', 'master', 'VI_1']);
  assert.deepEqual(v.notify!.fault, ['/etc/keepalived/notify.sh', 'fault state']);
  const s = t.services![0];
  assert.deepEqual([s.vip, s.port, s.protocol, s.method], ['192.168.81.229', 6379, 'tcp', 'dr']);
  // nb_get_retry 2: down after the first failure and 2 retries.
  assert.deepEqual(s.check, { type: 'tcp', interval: '6s', timeout: '3s', rise: 1, fall: 3, delay_before_retry: '2s' });
  assert.deepEqual(s.reals.map((r) => r.weight), [3, 1]);
});

test('master-master: two VRIDs, unicast, tracking, nopreempt, sync group', () => {
  const { topology: t, todo } = kc('master-master.conf');
  assert.deepEqual(t.vrrp!.map((v) => [v.name, v.vrid, v.state]), [['VI_WEB', 61, 'MASTER'], ['VI_API', 62, 'BACKUP']]);
  assert.equal(t.vrrp![1].preempt, false);
  assert.equal(t.vrrp![1].preempt_delay, '30s');
  assert.deepEqual(t.vrrp![0].track_interfaces, [{ name: 'ens3', weight: 0 }, { name: 'ens4', weight: -20 }]);
  assert.deepEqual(t.vrrp_sync_groups, [{ name: 'G_EDGE', instances: ['VI_WEB', 'VI_API'] }]);
  assert.equal(t.services![1].method, 'tun');
  // The default fall for TCP_CHECK is retry 1 + 1.
  assert.equal(t.services![0].check!.fall, 2);
  assert.match(todo.find((x) => x.path === 'director.addresses')!.message, /unicast_src_ip 10\.0\.0\.2/);
});

test('persistence timeout and granularity, port-0 default, quorum, sorry server, inhibit', () => {
  const { topology: t } = kc('persistence.conf');
  const [a, b, c] = t.services!;
  assert.deepEqual(a.persistence, { timeout: '600s', netmask: '255.255.255.0' });
  assert.equal(a.scheduler, 'source-hash');
  // inhibit_on_failure on the virtual_server → the service's default; real_server 172.16.1.2
  // turns it off for itself (keepalived.conf(5): "inhibit_on_failure <BOOL>" on a real_server).
  assert.equal(a.inhibit_on_failure, true);
  assert.deepEqual(a.reals.map((r) => r.inhibit_on_failure), [undefined, false]);
  assert.equal(a.on_down, 'expire');
  assert.equal(b.inhibit_on_failure, undefined);
  assert.deepEqual(a.quorum, { min: 2, hysteresis: 1, up: ['/usr/local/bin/quorum-up', '172.16.0.10'], down: ['/usr/local/bin/quorum-down', '172.16.0.10'] });
  assert.deepEqual(a.sorry_server, { address: '172.16.0.250', port: 443 });
  assert.deepEqual(a.reals[0].notify_down, ['/usr/local/bin/rs-down', '172.16.1.1']);
  assert.deepEqual([b.port, b.persistence], [0, { timeout: '360s' }]); // "default 6 minutes"
  assert.deepEqual([c.protocol, c.scheduler, c.check!.udp], ['udp', 'maglev-source-port', { payload_hex: '00010100' }]);
});

test('HTTP_GET digest and SSL_GET with SNI', () => {
  const { topology: t, notes } = kc('http-get-digest.conf');
  assert.deepEqual(t.services![0].check!.http, { path: '/health', host: 'www.example.com', status: '200', digest: '9b3a0c85a887a256d6939da88aabd8cd' });
  assert.equal(t.services![0].check!.fall, 4);
  assert.equal(t.services![1].check!.type, 'https');
  assert.equal(t.services![1].check!.http!.sni, 'secure.example.com');
  assert.equal(t.services![1].check!.http!.status, '200-299,301');
  assert.ok(notes.some((n) => n.where === 'http-get-digest.conf:21' && /only the first/.test(n.message)));
});

test('MISC_CHECK misc_dynamic and scripts needing a shell', () => {
  const { topology: t, notes } = kc('misc-dynamic.conf');
  // The two reals' commands differ, so each real keeps its own check.
  assert.equal(t.services![0].check, undefined);
  const chk = t.services![0].reals[0].check!;
  assert.deepEqual(chk.script, { command: ['/usr/local/bin/load-weight.sh', '203.0.113.21', 'http check'], dynamic: true });
  assert.equal(t.services![0].reals[1].check!.script!.command[1], '203.0.113.22');
  assert.equal(chk.timeout, '3s');
  assert.equal(chk.fall, 1); // MISC_CHECK retry defaults to 0
  assert.deepEqual(t.vrrp_scripts![0].command, ['/bin/sh', '-c', '[[ -f /etc/keepalived/down ]] && exit 1 || exit 0']);
  assert.ok(notes.some((n) => n.where === 'misc-dynamic.conf:7' && /shell/.test(n.message)));
  assert.ok(!notes.some((n) => /misc_dynamic/.test(n.message)), 'misc_dynamic maps as is');
});

test('include: glob and braces relative to the including file, notes name the included file', () => {
  const { topology: t, notes } = kc('include-main.conf');
  assert.deepEqual(t.services!.map((s) => `${s.vip}:${s.port}/${s.protocol}`), ['10.9.0.1:80/tcp', '10.9.0.1:53/udp']);
  assert.equal(t.vrrp![0].name, 'VI_INC');
  assert.equal(t.director.interface, 'bond0');
  assert.ok(notes.some((n) => n.where.startsWith('include.d/10-web.conf:')));
});

test('lb_kind NAT and no lb_kind (keepalived\'s default, NAT) map to method nat; fwmark reported', () => {
  const { topology: t, notes } = kc('nat-fwmark.conf');
  assert.deepEqual(t.services!.map((s) => `${s.port} ${s.method}`), ['80 nat', '8080 nat', '25 dr']);
  assert.deepEqual(t.services![2].check, { type: 'none' });
  assert.equal(t.vrrp![0].auth, undefined);
  for (const re of [/:33: .*keepalived uses NAT, and so does the import/, /:21: NAT: the reals must route their replies/, /:41: .*fwmark 5 not mapped/, /AH/, /SMTP_CHECK/]) {
    assert.ok(notes.some((n) => re.test(`${n.where}: ${n.message}`)), `no note matching ${re}`);
  }
});

test('virtual_server_group expands address ranges into services', () => {
  const { topology: t, notes } = kc('group.conf');
  assert.deepEqual(t.services!.map((s) => s.vip), ['192.168.50.1', '192.168.50.2', '192.168.50.3', '192.168.60.9']);
  assert.ok(notes.some((n) => /fwmark 7 not mapped/.test(n.message)));
});

test('ipvsadm -S: wlc DR with weights, persistence, sh-port, TUN, IPv6', () => {
  const { topology: t, notes } = importIpvsadm(fs.readFileSync(path.join(FIX, 'ipvsadm-wlc-dr.txt'), 'utf8'), { file: 'x' });
  const s = t.services!;
  assert.deepEqual(s[0].reals.map((r) => [r.address, r.weight]), [['192.168.81.51', 3], ['192.168.81.52', 2], ['192.168.81.53', 0]]);
  assert.equal(s[0].scheduler, 'wlc');
  assert.ok(!notes.some((n) => n.where === 'x:1'), 'wlc is mapped as it is: no note');
  assert.deepEqual([s[2].reals[0].upper_threshold, s[2].reals[0].lower_threshold], [1000, 800]);
  assert.deepEqual(s[1].persistence, { timeout: '300s', netmask: '255.255.255.0' });
  assert.deepEqual([s[2].protocol, s[2].method, s[2].scheduler], ['udp', 'tun', 'maglev-source-port']);
  assert.deepEqual([s[3].vip, s[3].reals[0].address], ['2001:db8::10', '2001:db8::51']);
});

test('ipvsadm -S: fwmark and masquerading reported, symbolic names resolved or reported', () => {
  const r = importIpvsadm(fs.readFileSync(path.join(FIX, 'ipvsadm-fwmark-nat.txt'), 'utf8'), { file: 'f' });
  assert.deepEqual(r.topology.services!.map((s) => `${s.port} ${s.method}`), ['80 nat', '22 dr']);
  assert.deepEqual(r.topology.services![0].reals.map((x) => x.port), [8080, 8080]);
  assert.ok(r.notes.some((n) => n.where === 'f:1' && /firewall-mark/.test(n.message)));
  assert.ok(r.notes.some((n) => n.where === 'f:4' && /is NAT \(-m\): its reals must route their replies/.test(n.message)));
  const sym = importIpvsadm('-A -t lb:http -s rr\n-a -t lb:http -r web:www -g -w 1\n-a -t lb:http -r nowhere:http -g -w 1\n', {
    file: 's', resolveHost: (h) => ({ lb: '10.0.0.1', web: '10.0.0.2' } as Record<string, string>)[h],
  });
  assert.deepEqual(sym.topology.services![0].reals, [{ address: '10.0.0.2', weight: 1 }]);
  assert.equal(sym.topology.services![0].port, 80);
  assert.ok(sym.notes.some((n) => n.where === 's:3' && /cannot resolve host 'nowhere'/.test(n.message)));
});

function parseErr(fn: () => unknown): string {
  try { fn(); } catch (e) {
    assert.ok(isXlvsError(e, 'E_IMPORT_PARSE'), `expected E_IMPORT_PARSE, got ${String(e)}`);
    return (e as Error).message;
  }
  assert.fail('no error');
}

test('bad inputs: errors name file:line and what is wrong', () => {
  assert.equal(parseErr(() => kc('bad-unbalanced.conf')), "bad-unbalanced.conf:1: 'virtual_server' block opened here is never closed (missing '}')");
  assert.equal(parseErr(() => kc('bad-extra-brace.conf')), "bad-extra-brace.conf:5: unbalanced '}': no block is open");
  assert.match(parseErr(() => kc('bad-unknown-block.conf')), /^bad-unknown-block\.conf:4: unknown block 'virtual_sever'/);
  assert.equal(parseErr(() => kc('bad-unknown-checker.conf')), "bad-unknown-checker.conf:4: unknown block 'TCP_CHEK' in real_server 10.0.0.2 80 of 10.0.0.1:80");
  assert.equal(parseErr(() => importIpvsadm(fs.readFileSync(path.join(FIX, 'bad-ipvsadm.txt'), 'utf8'), { file: 'bad-ipvsadm.txt' })),
    'bad-ipvsadm.txt:2: real server for 10.0.0.2:80 (tcp) before its service (-A) line');
  assert.equal(parseErr(() => importIpvsadm('-A -t 10.0.0.1:80 -s nope\n', { file: 'i' })), "i:1: unknown scheduler 'nope'");
  assert.equal(parseErr(() => importIpvsadm('-X -t 10.0.0.1:80\n', { file: 'i' })), "i:1: expected -A or -a (an ipvsadm -S line), got '-X'");
  assert.equal(parseErr(() => importIpvsadm('--set 900 120\n', { file: 'i' })), "i:1: --set needs three whole numbers of seconds (tcp tcpfin udp), got '900 120'");
  assert.equal(parseErr(() => importIpvsadm('-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -x many\n', { file: 'i' })), "i:2: -x 'many' is not a connection count (0..4294967295)");
  assert.equal(parseErr(() => importIpvsadm('-A -t 10.0.0.1:80\n-a -t 10.0.0.1:80 -r 10.0.0.2 -y 4294967296\n', { file: 'i' })), "i:2: -y '4294967296' is not a connection count (0..4294967295)");
});

test('ipvsadm: wlc with persistence and -x/-y thresholds, the --set timeouts (0 = unchanged)', () => {
  const { topology: t, notes } = importIpvsadm([
    '-A -t 10.20.0.10:80 -s wlc -p 600',
    '-a -t 10.20.0.10:80 -r 10.20.0.11:80 -g -w 1 -x 500 -y 300',
    '--set 900 0 0',
    '--set 0 90 0',
  ].join('\n'), { file: 'i' });
  const s = t.services![0];
  assert.deepEqual([s.scheduler, s.persistence], ['wlc', { timeout: '600s' }]);
  assert.deepEqual(s.reals[0], { address: '10.20.0.11', weight: 1, upper_threshold: 500, lower_threshold: 300 });
  assert.deepEqual(t.timeouts, { tcp: '900s', tcp_fin: '90s' }, 'udp left at 0 is unchanged: the default');
  assert.deepEqual(notes, []);
  // What `ipvsadm -L --timeout` prints is read too, and a timeout beyond 365 days is noted.
  const shown = importIpvsadm('Timeout (tcp tcpfin udp): 900 120 31536001\n', { file: 'l' });
  assert.deepEqual(shown.topology.timeouts, { tcp: '900s', tcp_fin: '120s' });
  assert.deepEqual(shown.notes, [{ where: 'l:1', message: "--set udp 31536001s is above xlvs's longest connection timeout (31536000s, 365 days); not mapped, the default applies" }]);
  assert.equal(importIpvsadm('--set 0 0 0\n', { file: 'z' }).topology.timeouts, undefined);
  loadTopology(emitTopology(shown, { source: 'l' }));
});

test('keepalived: lb_algo wlc/lc, uthreshold/lthreshold, global_defs lvs_timeouts; all validate', () => {
  const res = kc('lvs-limits.conf');
  const t = res.topology;
  assert.deepEqual(t.timeouts, { tcp: '7200s', tcp_fin: '60s', udp: '300s' });
  assert.deepEqual(t.services!.map((s) => s.scheduler), ['wlc', 'lc']);
  assert.deepEqual(t.services![0].reals.map((r) => [r.upper_threshold, r.lower_threshold]), [[500, 300], [200, undefined]]);
  assert.deepEqual(t.services![1].reals.map((r) => [r.upper_threshold, r.lower_threshold]), [[undefined, undefined]]);
  assert.ok(res.notes.some((n) => n.where === 'lvs-limits.conf:38' && /lthreshold 10 without uthreshold has no effect in IPVS/.test(n.message)));
  const topo = loadTopology(emitTopology(res, { source: 'lvs-limits.conf' }));
  assert.deepEqual(topo.timeouts, { tcp: 7200, tcpFin: 60, udp: 300 });
  assert.deepEqual(topo.services[0].reals.map((r) => [r.upperThreshold, r.lowerThreshold]), [[500, 300], [200, 0]]);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-'));
  try {
    const f = path.join(dir, 'k.conf');
    fs.writeFileSync(f, 'global_defs {\n  lvs_timeouts tcp 900 tcpfin\n}\n');
    assert.equal(parseErr(() => importKeepalived(f, { displayName: 'k.conf' })), "k.conf:2: lvs_timeouts: expected pairs of tcp|tcpfin|udp and seconds, got 'tcp 900 tcpfin'");
    fs.writeFileSync(f, 'global_defs {\n  lvs_timeouts tcp 900 sctp 5\n}\n');
    assert.equal(parseErr(() => importKeepalived(f, { displayName: 'k.conf' })), "k.conf:2: lvs_timeouts: 'sctp' is not tcp, tcpfin or udp");
    fs.writeFileSync(f, 'virtual_server 10.0.0.1 80 {\n lb_kind DR\n protocol TCP\n real_server 10.0.0.2 80 {\n  uthreshold 100\n  lthreshold 100\n }\n}\n');
    const eq = importKeepalived(f, { displayName: 'k.conf' });
    assert.deepEqual(eq.topology.services![0].reals[0], { address: '10.0.0.2', weight: 1, upper_threshold: 100, lower_threshold: 99 });
    assert.ok(eq.notes.some((n) => n.where === 'k.conf:6' && n.message.endsWith('lthreshold 100 is not below uthreshold 100: IPVS lets the real take new flows again once it is below 100; mapped as lower_threshold 99')));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('bad keepalived values and references are errors with file:line', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-'));
  try {
    const cases: [string, string][] = [
      ['vrrp_instance V {\n  interface e\n}\n', "c.conf:1: vrrp_instance V: virtual_router_id is missing (keepalived requires it)"],
      ['vrrp_instance V {\n  virtual_router_id 300\n}\n', "c.conf:2: virtual_router_id: '300' is not a whole number in 1..255"],
      ['vrrp_sync_group G {\n  group {\n    VX\n  }\n}\n', "c.conf:1: vrrp_sync_group G: no vrrp_instance 'VX'"],
      ['virtual_server 10.0.0.1 80 {\n lb_kind DR\n real_server 10.0.0.2 80 {\n HTTP_GET {\n url {\n path /\n digest xyz\n }\n }\n }\n}\n', "c.conf:7: digest: 'xyz' is not an MD5 hex digest (32 hex digits, as genhash prints)"],
      ['include missing-dir/none.conf\nvirtual_server 10.0.0.1 {\n', "c.conf:2: 'virtual_server' block opened here is never closed (missing '}')"],
      ['a "unterminated\n', 'c.conf:1: unterminated double quote'],
      ['include c.conf\n', 'c.conf:1: include loop'],
    ];
    for (const [text, msg] of cases) {
      fs.writeFileSync(path.join(dir, 'c.conf'), text);
      const m = parseErr(() => importKeepalived(path.join(dir, 'c.conf'), { displayName: 'c.conf' }));
      assert.ok(m.startsWith(msg), `${JSON.stringify(text)}:\n  got      ${m}\n  expected ${msg}`);
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('tokenizer: comments, quotes, braces on the same or the next line, continuation', () => {
  const toks = tokenizeText('a "b # c" d # gone\n! all gone\nx { y 1 } z\nq\n{\n r\n}\ns \'1 2\'\\\n 3\n', 'f');
  const words = toks.map((l) => l.filter((t) => t.kind !== 'eol').map((t) => t.text));
  assert.deepEqual(words, [['a', 'b # c', 'd'], ['x', '{', 'y', '1', '}', 'z'], ['q'], ['{'], ['r'], ['}'], ['s', '1 2', '3']]);
  const tree = parseTokens(toks.flat(), 'f');
  assert.deepEqual(tree.map((s) => [s.key, s.args, s.children?.map((c) => c.key)]), [
    ['a', ['b # c', 'd'], undefined], ['x', [], ['y']], ['z', [], undefined], ['q', [], ['r']], ['s', ['1 2', '3'], undefined],
  ]);
  assert.equal(tree[3].line, 4);
});

test('commands split like keepalived; shell syntax wrapped in /bin/sh -c', () => {
  assert.deepEqual(splitCommand("/bin/x 'a b' c\\ d \"e f\""), { argv: ['/bin/x', 'a b', 'c d', 'e f'] });
  assert.deepEqual(splitCommand('/usr/bin/pgrep -x nginx'), { argv: ['/usr/bin/pgrep', '-x', 'nginx'] });
  for (const s of ['pidof x || exit 1', 'curl -s http://x > /dev/null', 'test -f $HOME/x', 'exit 0', 'ls /tmp/*.pid']) {
    const r = splitCommand(s);
    assert.deepEqual(r.argv, ['/bin/sh', '-c', s], s);
    assert.ok(r.shell, s);
  }
  assert.deepEqual(splitCommand("echo '$HOME|x'").argv, ['echo', '$HOME|x']); // quoted: not shell syntax
});

test('scheduler table: every IPVS scheduler maps, and only the documented ones are exact', () => {
  for (const s of ['lc', 'wlc']) assert.deepEqual(mapScheduler(s), { scheduler: s }, s);
  for (const s of ['rr', 'wrr', 'lblc', 'lblcr', 'sed', 'nq', 'fo', 'ovf']) {
    const m = mapScheduler(s)!;
    assert.equal(m.scheduler, 'maglev', s);
    assert.match(m.differs!, new RegExp(`^${s} .*weights kept`), s);
  }
  assert.equal(mapScheduler('sh')!.scheduler, 'source-hash');
  assert.equal(mapScheduler('dh')!.scheduler, 'dest-hash');
  assert.equal(mapScheduler('mh')!.scheduler, 'maglev');
  assert.deepEqual(mapScheduler('mh', ['mh-port']), { scheduler: 'maglev-source-port' });
  assert.equal(mapScheduler('bogus'), undefined);
  assert.deepEqual(expandBraces('a/{b,c{d,e}}.conf'), ['a/b.conf', 'a/cd.conf', 'a/ce.conf']);
});

test('CLI: writes the topology, prints notes on stderr, --strict and bad input exit codes', () => {
  const main = path.join(__dirname, '..', '..', 'src', 'cli', 'main.js');
  const cli = (args: string[], input?: string) => spawnSync(process.execPath,
    ['-e', `require(${JSON.stringify(main)}).main(['node', 'xlvs', ...process.argv.slice(1)])`, '--', ...args], { input, encoding: 'utf8', timeout: 20000 });
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-cli-'));
  try {
    const out = path.join(dir, 'topo.yaml');
    const r = cli(['import', 'keepalived', path.join(FIX, 'nat-fwmark.conf'), '-o', out]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /the reals must route their replies through this director/);
    const doc = YAML.parse(fs.readFileSync(out, 'utf8'));
    assert.deepEqual(doc.services.map((s: { port: number; method: string }) => `${s.port} ${s.method}`), ['80 nat', '8080 nat', '25 dr']);
    assert.match(fs.readFileSync(out, 'utf8'), /^# xlvs topology imported from/);
    assert.equal(cli(['import', 'keepalived', path.join(FIX, 'nat-fwmark.conf'), '-o', out, '--strict', '-q']).status, 2);

    const bad = path.join(dir, 'bad.yaml');
    const rb = cli(['import', 'keepalived', path.join(FIX, 'bad-unbalanced.conf'), '-o', bad]);
    assert.equal(rb.status, 1);
    assert.match(rb.stderr, /bad-unbalanced\.conf:1: .*never closed.*\[E_IMPORT_PARSE\]/);
    assert.equal(fs.existsSync(bad), false, 'nothing written on error');

    const ri = cli(['import', 'ipvsadm', '-', '--name', 'edge-b', '--interface', 'ens5'], '-A -t 10.0.0.1:80 -s rr\n-a -t 10.0.0.1:80 -r 10.0.0.2:80 -g -w 1\n');
    assert.equal(ri.status, 0, ri.stderr);
    const t = YAML.parse(ri.stdout);
    assert.deepEqual([t.director.name, t.director.interface, t.services[0].reals], ['edge-b', 'ens5', [{ address: '10.0.0.2', weight: 1 }]]);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('accept mode: keepalived accepts by default; vrrp_strict and strict_mode make no_accept the default; explicit words win', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-accept-'));
  try {
    const inst = (name: string, vrid: number, extra = '') => `vrrp_instance ${name} {\n  interface eth0\n  virtual_router_id ${vrid}\n  priority 100\n${extra}  virtual_ipaddress {\n    10.9.0.${vrid}/24\n  }\n}\n`;
    const plain = path.join(dir, 'plain.conf');
    fs.writeFileSync(plain, inst('A', 1) + inst('B', 2, '  no_accept\n') + inst('C', 3, '  strict_mode on\n'));
    const p = importKeepalived(plain).topology.vrrp!;
    assert.deepEqual(p.map((v) => v.accept), [undefined, false, false]);
    const strict = path.join(dir, 'strict.conf');
    fs.writeFileSync(strict, 'global_defs {\n  vrrp_strict\n}\n' + inst('A', 1) + inst('B', 2, '  accept\n'));
    const r = importKeepalived(strict);
    assert.deepEqual(r.topology.vrrp!.map((v) => v.accept), [false, true]);
    assert.ok(r.notes.some((n) => /vrrp_strict: instances default to no_accept/.test(n.message)), JSON.stringify(r.notes));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('iptables marks: what resolves to one VIP, protocol and ports, and why the rest does not', () => {
  const rules = [
    '*mangle',
    '-A PREROUTING -d 10.9.0.1 -p tcp -m multiport --dports 80,443,8000:8002 -j MARK --set-mark 0x10',
    '-A PREROUTING -d 10.9.0.1/32 -p tcp -m tcp --dport 8001:8010 -j MARK --set-mark 16',
    '[12:3400] -A PREROUTING -d 2001:db8::1/128 -p udp --dport 53 -j MARK --set-xmark 0x11/0xffffffff',
    '-A PREROUTING -d 10.9.0.2/32 -p tcp ! --dport 22 -j MARK --set-mark 18',
    '-A PREROUTING -d 10.9.0.3/32 -p tcp --dport 80 -j MARK --set-xmark 0x13/0xff',
    '-A PREROUTING -p tcp --dport 80 -j MARK --set-mark 20',
    '-A PREROUTING -d 10.9.0.4/32 -p tcp -j MARK --set-mark 21',
    '-A PREROUTING -d 10.9.0.5/32 -p icmp -j MARK --set-mark 22',
    '-A PREROUTING -d 10.9.0.6/32 -p tcp --dport 80 -j MARK --set-mark 23',
    '-A PREROUTING -d 10.9.0.7/32 -p tcp --dport 80 -j MARK --set-mark 23',
    '-A PREROUTING -d 10.9.0.8/32 -p tcp --dport 80 -j ACCEPT',
    'COMMIT',
  ].join('\n');
  const m = parseIptablesSave(rules, 'rules');
  assert.deepEqual(resolveMark(m, 16), { ok: true, vip: '10.9.0.1', protocol: 'tcp', ports: [80, 443, '8000-8010'], where: ['rules:2', 'rules:3'], ignored: [] });
  assert.deepEqual(resolveMark(m, 17), { ok: true, vip: '2001:db8::1', protocol: 'udp', ports: [53], where: ['rules:4'], ignored: [] });
  const why = (mark: number) => { const r = resolveMark(m, mark); return r.ok ? 'resolved' : r.why; };
  assert.equal(why(18), 'rules:5: a negated match (! --dport 22) selects everything but 22');
  assert.equal(why(19), 'rules:6: --set-xmark 0x13/0xff sets only some bits of the mark (the result depends on the packet\'s mark before)');
  assert.equal(why(20), 'rules:7: the rule has no -d ADDRESS, so the mark is not one VIP\'s');
  assert.equal(why(21), 'rules:8: the rule has no --dport/--dports, so the mark covers every port (write a port: 0 service for that)');
  assert.equal(why(22), 'rules:9: -p icmp: xlvs forwards tcp and udp');
  assert.equal(why(23), 'rules rules:10, rules:11 mark 23 for 10.9.0.6 and 10.9.0.7: a grouped service is one VIP (write one service per VIP)');
  assert.equal(why(24), 'no rule in rules sets mark 24 (-j MARK --set-mark 24)');
  assert.match((resolveMark(undefined, 1) as { why: string }).why, /--iptables FILE/);
});

test('CLI: import ipvsadm --iptables turns a resolvable -f service into a grouped service that validates', () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-import-fwm-'));
  try {
    const out = path.join(dir, 'topology.yaml');
    const r = spawnSync('node', [path.join(repoRoot(), 'bin', 'xlvs.js'), 'import', 'ipvsadm', path.join(FIX, 'ipvsadm-fwmark-groups.txt'),
      '--iptables', path.join(FIX, 'ipvsadm-fwmark-groups.iptables'), '-o', out], { encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /firewall-mark service -f 1 mapped to a grouped service 10\.30\.0\.10 ports 80,443\/tcp/);
    const topo = loadTopology(fs.readFileSync(out, 'utf8'), out);
    assert.deepEqual(topo.services.map((s) => s.key), ['10.30.0.10:80,443/tcp', '10.30.0.10:27000-27015,27020/udp', '10.30.0.12:10000-10099/tcp']);
    const bad = spawnSync('node', [path.join(repoRoot(), 'bin', 'xlvs.js'), 'import', 'ipvsadm', path.join(FIX, 'ipvsadm-fwmark-groups.txt'), '--iptables', path.join(dir, 'none')], { encoding: 'utf8' });
    assert.notEqual(bad.status, 0);
    assert.match(bad.stderr, /cannot read .*none: ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
