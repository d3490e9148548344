// The status page's charts and timelines in headless Chromium, from a history with known content
// (no data plane needed: the metrics listener serves the synthetic snapshot and a StatusHistory
// filled by hand). Per real a path with one point per sample that has a rate, broken where the
// real was absent or came back under a new id; the VRRP and health timelines with a segment per
// state; no exception or console error in the page. The page shot goes to test-artifacts/.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { startMetricsServer, MetricsServer } from '../../src/metrics/server';
import { StatusHistory, RealTraffic } from '../../src/metrics/history';
import { repoRoot } from '../../src/paths';
import { Browser, Page, findChromium, needsChromium } from './cdp';
import { syntheticSnapshot, syntheticCounters } from './synthetic';

const SVC = '10.0.0.10:80/tcp';
const R1 = '10.0.1.1:80';
const R2 = '10.0.1.2:80';
const INTERVAL = 5000;
const SAMPLES = 12;

/** 12 samples: R1 in all (11 rates); R2 in 0..5, absent in 6..7, back under a new id in 8..11 (5 + 3 rates). */
function filledHistory(end: number): StatusHistory {
  const h = new StatusHistory(undefined, { intervalMs: INTERVAL, capacity: 120 });
  const tr = (real: string, id: number, n: number): RealTraffic => ({ service: SVC, real, id, packets: BigInt(n * 50), bytes: BigInt(n * 5000), newFlows: BigInt(n * 2) });
  for (let i = 0; i < SAMPLES; i++) {
    const at = end - (SAMPLES - 1 - i) * INTERVAL;
    const reals = [tr(R1, 1, i * (i + 1))];
    if (i <= 5) reals.push(tr(R2, 2, i));
    else if (i >= 8) reals.push(tr(R2, 3, i - 8));
    h.sample(at, reals);
  }
  h.vrrp({ at: end - 55_000, instance: 'VI_1', from: 'INIT', to: 'BACKUP', reason: 'startup' });
  h.vrrp({ at: end - 50_000, instance: 'VI_1', from: 'BACKUP', to: 'MASTER', reason: 'master down timer' });
  h.health({ at: end - 30_000, service: SVC, real: R2, from: 'up', to: 'down', reason: 'connection refused' });
  return h;
}

interface Drawn {
  charts: { metric: string; paths: { real: string; points: number; moves: number; stroke: string }[] }[];
  vrrp: { instance: string; transitions: number; segs: string[]; text: string }[];
  health: { real: string; transitions: number; segs: string[]; text: string }[];
  tableRows: number;
}

const READ_DRAWN = `(() => ({
  charts: [...document.querySelectorAll('#services .chart')].map((c) => ({ metric: c.dataset.metric,
    paths: [...c.querySelectorAll('path.series')].map((p) => ({ real: p.dataset.real, points: Number(p.dataset.points),
      moves: (p.getAttribute('d').match(/M/g) || []).length, stroke: p.getAttribute('stroke') })) })),
  vrrp: [...document.querySelectorAll('#vrrp-timeline tbody tr[data-instance]')].map((tr) => ({ instance: tr.dataset.instance,
    transitions: Number(tr.dataset.transitions), segs: [...tr.querySelectorAll('rect.seg')].map((r) => r.getAttribute('class').replace('seg ', '')), text: tr.textContent })),
  health: [...document.querySelectorAll('#health-timeline tbody tr[data-real]')].map((tr) => ({ real: tr.dataset.real,
    transitions: Number(tr.dataset.transitions), segs: [...tr.querySelectorAll('rect.seg')].map((r) => r.getAttribute('class').replace('seg ', '')), text: tr.textContent })),
  tableRows: document.querySelectorAll('#services .card tbody tr').length,
}))()`;

describe('status page charts and timelines in headless Chromium', needsChromium(), () => {
  let srv: MetricsServer;
  let browser: Browser | null = null;
  let page: Page;
  let tmp: string;

  before(async () => {
    tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-chromium-history-'));
    const h = filledHistory(Date.now());
    // Not started: the listener would sample the (empty) source; the ring already holds what the page draws.
    const history = Object.assign(Object.create(h) as StatusHistory, { start: () => undefined });
    srv = await startMetricsServer('127.0.0.1:0', { snapshot: syntheticSnapshot, eventCounters: () => syntheticCounters, version: '0.0.0-test', history });
    browser = Browser.launch(findChromium() ?? 'chromium', path.join(tmp, 'profile'));
    page = await browser.open(`http://127.0.0.1:${srv.address().port}/`);
  });

  after(async () => {
    await browser?.close();
    await srv?.close();
    if (tmp) fs.rmSync(tmp, { recursive: true, force: true });
  });

  test('a path per real and metric, one point per sample with a rate, broken where the real had none', async () => {
    const d = await page.waitFor<Drawn>('the charts', READ_DRAWN, (v) => v.charts?.length === 2 && v.charts[0].paths.some((p) => p.points > 0), 15_000);
    assert.deepEqual(d.charts.map((c) => c.metric), ['pps', 'cps']);
    for (const c of d.charts) {
      assert.deepEqual(c.paths.map((p) => [p.real, p.points, p.moves]), [[R1, SAMPLES - 1, 1], [R2, 5 + 3, 2]], `${c.metric}: ${JSON.stringify(c.paths)}`);
      assert.notEqual(c.paths[0].stroke, c.paths[1].stroke, 'each real its colour');
    }
    assert.equal(d.tableRows, 2, 'the table of reals is still there');
  });

  test('the VRRP and health timelines show each state between the transitions, with their times', async () => {
    const d = await page.evaluate<Drawn>(READ_DRAWN);
    assert.equal(d.vrrp.length, 1);
    assert.equal(d.vrrp[0].instance, 'VI_1');
    assert.equal(d.vrrp[0].transitions, 2);
    assert.deepEqual(d.vrrp[0].segs, ['INIT', 'BACKUP', 'MASTER']);
    assert.match(d.vrrp[0].text, /BACKUP → MASTER/);
    const by = new Map(d.health.map((x) => [x.real, x]));
    assert.deepEqual([...by.keys()], [`${SVC} ${R1}`, `${SVC} ${R2}`]);
    assert.deepEqual(by.get(`${SVC} ${R1}`)!.segs, ['up'], 'no transition: its current state throughout');
    assert.equal(by.get(`${SVC} ${R2}`)!.transitions, 1);
    assert.deepEqual(by.get(`${SVC} ${R2}`)!.segs, ['up', 'down']);
    assert.match(by.get(`${SVC} ${R2}`)!.text, /up → down connection refused/);
    const artifacts = path.join(repoRoot(), 'test-artifacts');
    fs.mkdirSync(artifacts, { recursive: true });
    fs.writeFileSync(path.join(artifacts, 'status-page-history.png'), await page.screenshot());
  });

  test('no exception or console error in the page', () => {
    assert.deepEqual(page.errors, []);
  });
});
