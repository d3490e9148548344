// End to end through the lab's directors: `xlvs run` on both, VRRP elects a Master, the client
// reaches the DR and TUN VIPs from several source addresses and gets answers from several reals.
// Needs the daemon: skipped, with the reason printed, while this build has no `xlvs run`.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { run, inNs } from '../../src/lab/netns';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { labDown, labStatus, hasRunCommand } from '../../src/lab/site';
import { needsCommand } from '../lib/env';

const P = 'te2e';

function gate(): { skip?: string } {
  const base = needsCommand('curl');
  if (base.skip) return base;
  if (!hasRunCommand()) {
    const reason = 'needs the daemon (`xlvs run`), which this build does not have yet';
    process.stdout.write(`# skip: ${reason}\n`);
    return { skip: reason };
  }
  return {};
}

after(() => labDown(P));

function get(url: string, src: string): string {
  return run(inNs(`${P}-client`, ['curl', '-s', '-m', '3', '--interface', src, url]), { allowFail: true }).stdout;
}

test('requests through the VRRP Master reach the reals by DR and by TUN', gate(), async () => {
  const argv = xlvsArgv(['lab', 'up', '--prefix', P]);
  const r = spawnSync(argv[0], argv.slice(1), { encoding: 'utf8', timeout: 120_000 });
  assert.equal(r.status, 0, r.stderr + r.stdout);
  // keepalived-style start: Backup first, Master after ≈ 3 adverts + skew (LAB-NOTES: ≈ 3.6 s).
  const end = Date.now() + 15_000;
  let masters: string[] = [];
  while (Date.now() < end) {
    masters = labStatus(P).directors.filter((d) => d.holdsVips.length > 0).map((d) => d.name);
    if (masters.length === 1) break;
    await new Promise((res) => setTimeout(res, 250));
  }
  assert.deepEqual(masters, [`${P}-dir1`], 'director 1 (priority 150) is the only Master');
  const st = labStatus(P);
  assert.ok(st.xdp.some((x) => x.role === `director ${P}-dir1` && x.attach === 'xdp-native'), JSON.stringify(st.xdp));

  for (const vip of ['10.81.0.100', '10.81.0.200']) {
    const seen = new Set<string>();
    for (let port = 0; port < 12; port++) {
      const src = `10.81.0.1${port % 5}`;
      const body = get(`http://${vip}/?n=${port}`, src);
      assert.match(body, /^real[123]\n$/, `${vip} from ${src}: ${JSON.stringify(body)}`);
      seen.add(body.trim());
    }
    assert.ok(seen.size >= 2, `${vip}: answers from ${[...seen].join(', ')} only`);
  }
});
