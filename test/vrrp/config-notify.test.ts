// The normalised VRRP config (errors name the path) and notify commands run by argv.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { normaliseVrrp } from '../../src/vrrp/types';
import { notifyCommands, runNotify } from '../../src/vrrp/notify';
import { isXlvsError } from '../../src/errors';

const topo = {
  director: { name: 'edge-a', interface: 'eth0' },
  vrrp: [{
    name: 'VI_1', vrid: 51, priority: 100, advert_interval: '1s', auth: { type: 'pass', secret: '1111-and-more' },
    vips: ['192.168.81.229/24'], preempt_delay: '2s', track_scripts: ['chk'], garp: { master_delay: '1s' },
    notify: { master: ['/bin/true', '%instance%'] },
  }, {
    name: 'VI_6', interface: 'eth1', vrid: 52, version: 3, advert_interval: '100ms', vips: ['2001:db8::1/64'], preempt: false,
  }],
  vrrp_scripts: [{ name: 'chk', command: ['/usr/bin/pgrep', 'haproxy'], interval: 2, timeout: '1s', rise: 2, fall: 3, weight: -20 }],
  vrrp_sync_groups: [{ name: 'G1', instances: ['VI_1', 'VI_6'] }],
};

test('normalises the topology sections: durations in ms, defaults from keepalived.conf(5)', () => {
  const c = normaliseVrrp(topo);
  const [a, b] = c.instances;
  assert.equal(a.interface, 'eth0', 'defaults to director.interface');
  assert.equal(a.advertIntervalMs, 1000);
  assert.equal(a.authPass, '1111-and', 'first 8 characters');
  assert.deepEqual(a.vips, [{ address: '192.168.81.229', prefix: 24 }]);
  assert.equal(a.preempt, true);
  assert.equal(a.preemptDelayMs, 2000);
  assert.deepEqual(a.garp, { masterDelayMs: 1000, masterRepeat: 5, refreshMs: 0, refreshRepeat: 1 });
  assert.equal(a.initialState, 'BACKUP');
  assert.equal(b.family, 6);
  assert.equal(b.version, 3);
  assert.equal(b.advertIntervalMs, 100);
  assert.equal(b.preempt, false);
  assert.deepEqual(c.scripts[0], { name: 'chk', command: ['/usr/bin/pgrep', 'haproxy'], intervalMs: 2000, timeoutMs: 1000, rise: 2, fall: 3, weight: -20 });
  assert.deepEqual(c.syncGroups, [{ name: 'G1', instances: ['VI_1', 'VI_6'] }]);
});

const bad: [string, (t: typeof topo & Record<string, unknown>) => void, RegExp][] = [
  ['vrid out of range', (t) => { t.vrrp[0].vrid = 0; }, /^vrrp\[0\]\.vrid: must be an integer 1\.\.255/],
  ['v2 sub-second interval', (t) => { t.vrrp[0].advert_interval = '100ms'; }, /^vrrp\[0\]\.advert_interval: VRRPv2 carries whole seconds/],
  ['IPv6 with v2', (t) => { (t.vrrp[1] as Record<string, unknown>).version = 2; }, /^vrrp\[1\]\.version: IPv6 VIPs need VRRP version 3/],
  ['bad VIP', (t) => { t.vrrp[0].vips = ['10.0.0.300/24']; }, /^vrrp\[0\]\.vips\[0\]: "10\.0\.0\.300\/24" is not an address/],
  ['unknown track script', (t) => { t.vrrp[0].track_scripts = ['nope']; }, /^vrrp\[0\]\.track_scripts\[0\]: no vrrp_scripts entry named "nope"/],
  ['duplicate vrid on an interface', (t) => { (t.vrrp[1] as Record<string, unknown>).interface = 'eth0'; t.vrrp[1].vrid = 51; t.vrrp[1].vips = ['10.0.0.2/24']; (t.vrrp[1] as Record<string, unknown>).version = 2; t.vrrp[1].advert_interval = '1s'; }, /^vrrp\[1\]\.vrid: vrid 51 already used on eth0/],
  ['notify by a shell string', (t) => { (t.vrrp[0].notify as Record<string, unknown>).master = '/bin/x arg'; }, /^vrrp\[0\]\.notify\.master: must be a non-empty list of strings/],
  ['sync group member missing', (t) => { t.vrrp_sync_groups[0].instances = ['VI_1', 'VI_9']; }, /^vrrp_sync_groups\[0\]\.instances\[1\]: no vrrp instance named "VI_9"/],
  ['auth on v3', (t) => { (t.vrrp[1] as Record<string, unknown>).auth = { type: 'pass', secret: 'x' }; }, /^vrrp\[1\]\.auth: authentication exists only in VRRPv2/],
  ['bad duration', (t) => { t.vrrp[0].preempt_delay = 'soon'; }, /^vrrp\[0\]\.preempt_delay: must be a duration/],
];

for (const [name, mutate, re] of bad) {
  test(`config error names the path: ${name}`, () => {
    const t = structuredClone(topo) as typeof topo & Record<string, unknown>;
    mutate(t);
    assert.throws(() => normaliseVrrp(t), (e: unknown) => isXlvsError(e, 'E_CONFIG_INVALID') && re.test((e as Error).message), name);
  });
}

test("notify commands: the state's own argv with placeholders, then keepalived's generic form", () => {
  const cmds = notifyCommands({ master: ['/x/on-master', '%instance%', 'p=%priority%'], any: ['/x/notify'] }, 'VI_1', 'MASTER', 120);
  assert.deepEqual(cmds, [['/x/on-master', 'VI_1', 'p=120'], ['/x/notify', 'INSTANCE', 'VI_1', 'MASTER', '120']]);
  assert.deepEqual(notifyCommands({ stop: ['/x/stop'], any: ['/x/n'] }, 'VI_1', 'INIT', 100), [['/x/stop'], ['/x/n', 'INSTANCE', 'VI_1', 'STOP', '100']]);
  assert.deepEqual(notifyCommands({ master: ['/x/m'] }, 'VI_1', 'BACKUP', 100), []);
});

test('a notify command receives its arguments literally: no shell interprets metacharacters', async () => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-vrrp-notify-'));
  try {
    const out = path.join(dir, 'args');
    const canary = path.join(dir, 'canary');
    // A script that writes each argument on its own line.
    const script = path.join(dir, 'notify.sh');
    fs.writeFileSync(script, `#!/bin/sh\nfor a in "$@"; do printf '%s\\n' "$a"; done > ${out}\n`, { mode: 0o755 });
    const evil = `x; touch ${canary}`;
    const argv = notifyCommands({ any: [script, `$(touch ${canary})`, evil, '`id`', '*'] }, 'VI_1', 'MASTER', 100)[0];
    const r = await runNotify(argv, 5000);
    assert.equal(r.code, 0, JSON.stringify(r));
    assert.equal(fs.existsSync(canary), false, 'a shell ran our argument');
    assert.deepEqual(fs.readFileSync(out, 'utf8').split('\n').slice(0, -1), [`$(touch ${canary})`, evil, '`id`', '*', 'INSTANCE', 'VI_1', 'MASTER', '100']);
    const missing = await runNotify([path.join(dir, 'does-not-exist')], 1000);
    assert.match(missing.error ?? '', /ENOENT/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
