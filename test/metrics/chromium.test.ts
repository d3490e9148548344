// The status page in a real browser against a real director: `xlvs run` in a namespace with its
// metrics listener on the namespace's address, two real servers (`xlvs realserver up`, an HTTP
// server each) in their own namespaces, and headless Chromium in a client namespace (its only
// link is the test's bridge, so it reaches nothing outside). Requests from the client go through
// the VIP (XDP, DR) first, so the page has traffic to show. The page must show the service and
// both reals up with their packets and shares; after one real's server is killed and the health
// check notices, the same open page shows that real down at its next poll.
// Screenshots of both moments go to test-artifacts/ (gitignored).
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { needsBpf } from '../lib/env';
import { Netlab } from '../../src/lab/netns';
import { run, inNs } from '../../src/sys/exec';
import { xlvsArgv } from '../../src/lab/xlvs-cli';
import { repoRoot } from '../../src/paths';
import { Browser, Page, findChromium, needsChromium } from './cdp';

const PREFIX = 'obscr';
const DIR_ADDR = '10.79.0.2';
const CLIENT_ADDR = '10.79.0.10';
const REALS = ['10.79.0.11', '10.79.0.12'];
const VIP = '10.79.0.100';
const SERVICE = `${VIP}:80/tcp`;
const METRICS = `${DIR_ADDR}:9720`;
const PAGE = `http://${METRICS}/`;
/** The page polls /status.json every 2 s (src/metrics/page.ts); a check notices in ~1 s. */
const NOTICE_MS = 20_000;

function gate(): { skip?: string } {
  const base = needsBpf();
  return base.skip ? base : needsChromium();
}

function topology(ctlSocket: string): string {
  return `director: { name: obs-chromium, interface: eth0, xdp_mode: generic }
services:
  - name: web
    vip: ${VIP}
    port: 80
    method: dr
    check: { type: tcp, interval: 500ms, timeout: 1s, rise: 1, fall: 2, delay_before_retry: 250ms }
    reals:
${REALS.map((r) => `      - { address: ${r} }`).join('\n')}
metrics: { listen: ${METRICS} }
control: { socket: ${ctlSocket} }
`;
}

/** A real's HTTP server on every address (its own and the VIP on lo); answers with its name. */
const SERVER_JS = `
const name = process.argv[1];
const s = require('node:http').createServer((q, r) => r.end(name + '\\n'));
s.on('clientError', (e, c) => c.destroy());
s.listen(80, '0.0.0.0', () => console.log('ready'));`;
/** Requests through the VIP from the client namespace, one connection each. */
const REQUESTS = 30;

interface RealRow { real: string; state: string; cls: string; title: string; share: string; packets: string; conns: string }
interface Rendered { director: string; meta: string; services: { vip: string; rows: RealRow[] }[]; events: string[]; vrrp: string }

/** What the page shows, read from its DOM. */
const READ_PAGE = `(() => ({
  director: document.getElementById('director').textContent,
  meta: document.getElementById('meta').textContent,
  services: [...document.querySelectorAll('#services .card')].map((c) => ({
    vip: (c.querySelector('b') || {}).textContent || '',
    rows: [...c.querySelectorAll('tbody tr')].map((tr) => { const td = tr.querySelectorAll('td');
      return { real: td[0].textContent, state: td[1].textContent, cls: td[1].className, title: td[1].title,
        share: td[3].textContent, packets: td[6].textContent, conns: td[7].textContent }; }),
  })),
  events: [...document.querySelectorAll('#events tbody tr')].map((tr) => tr.textContent),
  vrrp: document.querySelector('#vrrp tbody').textContent,
}))()`;

describe('status page in headless Chromium against a running director', gate(), () => {
  let lab: Netlab;
  let tmp: string;
  const runDir = `/run/xlvs-test-chromium-${process.pid}`;
  let daemon: ChildProcess;
  let daemonLog = '';
  const servers = new Map<string, ChildProcess>();
  const answered = new Map<string, number>();
  let browser: Browser | null = null;
  let page: Page;
  const artifacts = path.join(repoRoot(), 'test-artifacts');

  const startServer = (ns: string, name: string): Promise<void> => new Promise((resolve, reject) => {
    const p = lab.spawn(ns, [process.execPath, '-e', SERVER_JS, name]);
    servers.set(name, p);
    const t = setTimeout(() => reject(new Error(`server ${name} did not start`)), 10_000);
    p.stdout!.on('data', (d) => { if (String(d).includes('ready')) { clearTimeout(t); resolve(); } });
    p.once('exit', (code) => { clearTimeout(t); reject(new Error(`server ${name} exited ${code}`)); });
  });

  /** /status.json fetched from the client namespace (curl), until `ok` or `ms`. */
  async function statusFromClient(ok: (s: { services: { reals: { key: string; state: string }[] }[] }) => boolean, ms: number): Promise<void> {
    const end = Date.now() + ms;
    let last = '';
    while (Date.now() < end) {
      if (daemon.exitCode !== null) break;
      const r = run(inNs(lab.name('client'), ['curl', '-s', '-m', '1', `http://${METRICS}/status.json`]), { allowFail: true });
      last = r.stdout || r.stderr;
      try { if (r.status === 0 && ok(JSON.parse(r.stdout))) return; } catch { /* not JSON yet */ }
      await new Promise((res) => setTimeout(res, 200));
    }
    throw new Error(`director status not as expected after ${ms} ms: ${last.slice(0, 400)}\ndaemon log:\n${daemonLog.slice(-2000)}`);
  }

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-chromium-'));
    lab = new Netlab(PREFIX);
    const br = lab.addNs('br');
    lab.addBridge(br, 'br0');
    const dir = lab.addNs('dir');
    const client = lab.addNs('client');
    lab.addVeth(dir, 'eth0', br, 'd0', { bMaster: 'br0' });
    lab.addVeth(client, 'eth0', br, 'c0', { bMaster: 'br0' });
    lab.addAddr(dir, 'eth0', `${DIR_ADDR}/24`);
    lab.addAddr(client, 'eth0', `${CLIENT_ADDR}/24`);
    // The VIP is routed through the director; docs/lab-notes.md: a veth sender's partial TCP checksums.
    lab.exec(client, ['ip', 'route', 'add', `${VIP}/32`, 'via', DIR_ADDR]);
    lab.exec(client, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    for (const [i, r] of REALS.entries()) {
      const ns = lab.addNs(`real${i + 1}`);
      lab.addVeth(ns, 'eth0', br, `r${i + 1}`, { bMaster: 'br0' });
      lab.addAddr(ns, 'eth0', `${r}/24`);
      // The real-server side as an operator sets it up: VIP on lo, ARP sysctls.
      const state = path.join(tmp, `realserver-${i + 1}.json`);
      lab.exec(ns, xlvsArgv(['realserver', 'up', '--vip', VIP, '--dev', 'eth0', '--state', state]));
      await startServer(ns, r);
    }

    const topo = path.join(tmp, 'director.yaml');
    // Control sockets live under /run (validate refuses others: src/config/host-paths.ts).
    fs.mkdirSync(runDir, { recursive: true, mode: 0o700 });
    fs.writeFileSync(topo, topology(path.join(runDir, 'control.sock')));
    daemon = lab.spawn(dir, xlvsArgv(['run', '-c', topo]));
    daemon.stdout!.on('data', (d) => { daemonLog += String(d); });
    daemon.stderr!.on('data', (d) => { daemonLog += String(d); });
    await statusFromClient((s) => s.services[0]?.reals.length === 2 && s.services[0].reals.every((r) => r.state === 'up'), 20_000);

    browser = Browser.launch(findChromium() ?? 'chromium', path.join(tmp, 'profile'), inNs(client, []));
    page = await browser.open(PAGE);
    fs.mkdirSync(artifacts, { recursive: true });
  });

  after(async () => {
    await browser?.close();
    if (lab) {
      // Chromium's helper processes live in the client namespace; they are ours: end them by PID.
      const pids = run(['ip', 'netns', 'pids', lab.name('client')], { allowFail: true }).stdout.split('\n').filter((l) => /^\d+$/.test(l.trim()));
      for (const pid of pids) try { process.kill(Number(pid), 'SIGKILL'); } catch { /* gone */ }
      await lab.cleanup();
    }
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
    fs.rmSync(runDir, { recursive: true, force: true });
  });

  test('requests through the VIP reach both reals (XDP, DR)', () => {
    const out = run(inNs(lab.name('client'), ['sh', '-c', `for i in $(seq ${REQUESTS}); do curl -s -m 2 http://${VIP}/; done`]), { allowFail: true }).stdout;
    for (const line of out.split('\n').filter(Boolean)) answered.set(line, (answered.get(line) ?? 0) + 1);
    assert.deepEqual([...answered.keys()].sort(), [...REALS].sort(), `answers: ${out}`);
    assert.equal([...answered.values()].reduce((a, b) => a + b, 0), REQUESTS, `answers: ${out}`);
  });

  test('the page shows the director, the service and both reals up with their traffic', async () => {
    const r = await page.waitFor<Rendered>('the service with two reals and the requests', READ_PAGE,
      (v) => v.services?.[0]?.rows?.length === 2 && v.services[0].rows.reduce((a, x) => a + Number(x.conns), 0) === REQUESTS, 15_000);
    assert.match(r.director, /^obs-chromium on eth0 \(XDP generic\)$/);
    assert.match(r.meta, /updated .* · 1 service · \d+ connections?/);
    assert.equal(r.services.length, 1);
    assert.equal(r.services[0].vip, SERVICE);
    assert.deepEqual(r.services[0].rows.map((x) => [x.real, x.state, x.cls]), REALS.map((a) => [`${a}:80`, 'up', 'up']));
    // Connections per real are the flows each served; shares (of packets) add up to 100 %.
    for (const x of r.services[0].rows) {
      const name = x.real.replace(/:80$/, '');
      assert.equal(Number(x.conns), answered.get(name), `${x.real}: conns on the page vs requests it answered`);
      assert.ok(Number(x.packets) >= 3 * Number(x.conns), `${x.real}: ${x.packets} packets for ${x.conns} connections`);
    }
    const shares = r.services[0].rows.map((x) => parseFloat(x.share));
    assert.ok(Math.abs(shares.reduce((a, b) => a + b, 0) - 100) < 0.2, `shares ${shares.join(' + ')}`);
    assert.match(r.vrrp, /no VRRP instances/);
    // The charts from the daemon's own history: a path per real in both (points come every 5 s).
    const charts = await page.evaluate<string[][]>(`[...document.querySelectorAll('#services .chart')].map((c) => [...c.querySelectorAll('path.series')].map((p) => p.dataset.real))`);
    assert.deepEqual(charts, [0, 1].map(() => REALS.map((a) => `${a}:80`)));
    assert.ok(r.events.some((e) => /running: director obs-chromium/.test(e)), `events: ${r.events.join(' | ')}`);
    fs.writeFileSync(path.join(artifacts, 'status-page-up.png'), await page.screenshot());
  });

  test('a stopped real is shown down on the same page after the check notices', async () => {
    const victim = `${REALS[1]}:80`;
    const p = servers.get(REALS[1])!;
    await new Promise<void>((res) => { p.once('exit', () => res()); process.kill(p.pid!, 'SIGKILL'); });
    const r = await page.waitFor<Rendered>(`${victim} down`, READ_PAGE,
      (v) => v.services?.[0]?.rows?.some((x) => x.real === victim && x.state === 'down'), NOTICE_MS);
    const rows = new Map(r.services[0].rows.map((x) => [x.real, x]));
    assert.equal(rows.get(victim)!.cls, 'down', 'styled as down');
    assert.match(rows.get(victim)!.title, /refused/, 'the reason is on the state cell');
    assert.equal(rows.get(`${REALS[0]}:80`)!.state, 'up', 'the other real stays up');
    assert.ok(r.events.some((e) => e.includes(`${victim} down`)), `no health event for ${victim}: ${r.events.join(' | ')}`);
    // The health timeline has the transition, from the daemon's history.
    const tl = await page.waitFor<{ n: number; segs: string[] }>(`${victim} on the health timeline`,
      `(() => { const tr = document.querySelector('#health-timeline tr[data-real="${SERVICE} ${victim}"]');
        return tr ? { n: Number(tr.dataset.transitions), segs: [...tr.querySelectorAll('rect.seg')].map((x) => x.getAttribute('class')) } : { n: 0, segs: [] }; })()`,
      // Wait for the down segment itself: an earlier transition (the real coming up) may be
      // on the timeline first.
      (v) => v.n >= 1 && v.segs[v.segs.length - 1] === 'seg down', NOTICE_MS);
    assert.equal(tl.segs[tl.segs.length - 1], 'seg down');
    assert.deepEqual(page.errors, [], 'no exception or console error in the page');
    fs.writeFileSync(path.join(artifacts, 'status-page-down.png'), await page.screenshot());
    // The same verdict through the JSON the page polls (the browser saw what the daemon says).
    await statusFromClient((s) => s.services[0].reals.find((x) => x.key === victim)?.state === 'down', 2000);
  });
});
