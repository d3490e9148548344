// The Grafana dashboard (config/grafana/xlvs-dashboard.json) against what the code registers:
// every xlvs_ name its queries use is a family a real scrape of startMetricsServer exposes (and
// every family is on some panel), every label a query selects, groups by or prints exists on
// the metrics it reads, promtool parses every expression, and the layout is importable
// (DS_PROMETHEUS input, unique ids, panels inside the 24-column grid without overlaps).
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { spawnSync } from 'node:child_process';
import { stringify } from 'yaml';
import { repoRoot } from '../../src/paths';
import { startMetricsServer, MetricsServer } from '../../src/metrics/server';
import { syntheticSnapshot, syntheticCounters } from './synthetic';
import { inCI } from '../lib/env';

const DASHBOARD = path.join(repoRoot(), 'config', 'grafana', 'xlvs-dashboard.json');
/** Labels Prometheus adds to every scraped series (scrape_config target labels). */
const TARGET_LABELS = ['instance', 'job'];

interface Target { refId?: string; expr?: string; legendFormat?: string; datasource?: { uid?: string } }
interface Panel {
  id: number; type: string; title: string; datasource?: { type?: string; uid?: string };
  gridPos: { h: number; w: number; x: number; y: number }; targets?: Target[]; panels?: Panel[];
}
interface Dashboard {
  schemaVersion: number; uid: string; title: string;
  __inputs: { name: string; type: string; pluginId: string }[];
  panels: Panel[];
  templating: { list: { name: string; datasource?: { uid?: string }; definition?: string; query?: { query?: string } }[] };
  annotations: { list: { name: string; expr?: string; datasource?: { uid?: string } }[] };
}

const dash = JSON.parse(fs.readFileSync(DASHBOARD, 'utf8')) as Dashboard;
const allPanels = dash.panels.flatMap((p) => [p, ...(p.panels ?? [])]);

/** Every PromQL expression of the dashboard with where it is, for messages. */
function expressions(): { where: string; expr: string; legend?: string }[] {
  const out: { where: string; expr: string; legend?: string }[] = [];
  for (const p of allPanels) for (const t of p.targets ?? []) if (t.expr) out.push({ where: `panel ${p.id} "${p.title}" ${t.refId}`, expr: t.expr, legend: t.legendFormat });
  for (const a of dash.annotations.list) if (a.expr) out.push({ where: `annotation "${a.name}"`, expr: a.expr });
  return out;
}

/** `label_values(metric{…}, label)` of the template variables, as a selector and the label. */
function variableQueries(): { where: string; selector: string; label: string }[] {
  return dash.templating.list.filter((v) => v.query?.query).map((v) => {
    const m = /^label_values\((.+),\s*(\w+)\)$/.exec(v.query!.query!);
    assert.ok(m, `variable ${v.name}: query "${v.query!.query}" is not label_values(selector, label)`);
    return { where: `variable ${v.name}`, selector: m[1], label: m[2] };
  });
}

/** Grafana's variables replaced by values PromQL accepts, so promtool can parse the query. */
function concrete(expr: string): string {
  return expr.replace(/\$__rate_interval|\$__interval|\$__range/g, '5m').replace(/\$\{?(\w+)\}?/g, '.*');
}

// ---- what the code registers, from a real scrape ----------------------------------------------

interface Family { type: string; labels: Set<string>; samples: Set<string> }
let srv: MetricsServer;
const families = new Map<string, Family>();

before(async () => {
  srv = await startMetricsServer('127.0.0.1:0', { snapshot: syntheticSnapshot, eventCounters: () => syntheticCounters, version: '0.0.0-test' });
  srv.observeCheck('10.0.0.10:80/tcp', '10.0.1.1:80', 0.004);
  const a = srv.address();
  const text = await (await fetch(`http://${a.host}:${a.port}/metrics`)).text();
  for (const line of text.split('\n')) {
    const t = /^# TYPE (\S+) (\S+)$/.exec(line);
    if (t) { families.set(t[1], { type: t[2], labels: new Set(), samples: new Set() }); continue; }
    const s = /^([a-zA-Z_:][\w:]*)(?:\{(.*)\})? \S+$/.exec(line);
    if (!s) continue;
    const fam = [...families.entries()].find(([n]) => s[1] === n || (s[1].startsWith(`${n}_`) && ['_bucket', '_sum', '_count'].includes(s[1].slice(n.length))));
    assert.ok(fam, `sample ${s[1]} before its # TYPE line`);
    fam[1].samples.add(s[1]);
    for (const m of (s[2] ?? '').matchAll(/(\w+)="/g)) fam[1].labels.add(m[1]);
  }
});
after(async () => { await srv?.close(); });

/** The family a name used in a query belongs to (histogram series map to their family). */
function familyOf(name: string): string | undefined {
  if (families.has(name) && families.get(name)!.type !== 'histogram') return name;
  for (const [n, f] of families) if (f.type === 'histogram' && ['_bucket', '_sum', '_count'].some((x) => name === n + x)) return n;
  return undefined;
}

// ---- tests ------------------------------------------------------------------------------------

test('the scrape exposes the families the dashboard is built for', () => {
  const xlvs = [...families.keys()].filter((n) => n.startsWith('xlvs_'));
  assert.ok(xlvs.length >= 20, `only ${xlvs.length} xlvs_ families: ${xlvs.join(', ')}`);
  assert.equal(families.get('xlvs_health_check_duration_seconds')?.type, 'histogram');
  for (const [n, f] of families) if (n.startsWith('xlvs_')) assert.ok(f.samples.size > 0, `${n}: the synthetic snapshot gave it no sample, so its labels are unknown`);
});

test('every xlvs_ name in a query is registered, and every family is on some panel', () => {
  const unknown: string[] = [];
  const seen = new Set<string>();
  const use = (where: string, text: string) => {
    for (const m of text.matchAll(/\bxlvs_[a-z0-9_]+/g)) {
      const f = familyOf(m[0]);
      if (!f) unknown.push(`${where}: ${m[0]}`);
      else seen.add(f);
    }
  };
  for (const e of expressions()) use(e.where, e.expr);
  for (const v of variableQueries()) use(v.where, v.selector);
  assert.deepEqual(unknown, [], 'names the code does not register');
  const panelOnly = new Set<string>();
  for (const p of allPanels) for (const t of p.targets ?? []) for (const m of (t.expr ?? '').matchAll(/\bxlvs_[a-z0-9_]+/g)) { const f = familyOf(m[0]); if (f) panelOnly.add(f); }
  const missing = [...families.keys()].filter((n) => n.startsWith('xlvs_') && !panelOnly.has(n));
  assert.deepEqual(missing, [], 'families on no panel');
});

test('every label a query selects, groups by or prints exists on the metrics it reads', () => {
  const bad: string[] = [];
  const check = (where: string, expr: string, extra: string[]) => {
    const names = [...expr.matchAll(/\bxlvs_[a-z0-9_]+/g)].map((m) => familyOf(m[0])).filter((f): f is string => !!f);
    const allowed = new Set<string>(TARGET_LABELS);
    for (const n of names) {
      const f = families.get(n)!;
      for (const l of f.labels) allowed.add(l);
    }
    // Label matchers on each selector must be labels of that very metric.
    for (const m of expr.matchAll(/\b(xlvs_[a-z0-9_]+)\{([^}]*)\}/g)) {
      const f = families.get(familyOf(m[1]) ?? '');
      if (!f) continue;
      const own = new Set([...f.labels, ...TARGET_LABELS]);
      for (const l of m[2].matchAll(/(\w+)\s*(?:=~|!~|!=|=)/g)) if (!own.has(l[1])) bad.push(`${where}: ${m[1]} has no label "${l[1]}"`);
    }
    const clauses = [...expr.matchAll(/\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)/g)].flatMap((m) => m[1].split(',').map((s) => s.trim()).filter(Boolean));
    for (const l of [...clauses, ...extra]) if (!allowed.has(l)) bad.push(`${where}: label "${l}" is on none of ${names.join(', ')}`);
  };
  for (const e of expressions()) check(e.where, e.expr, [...(e.legend ?? '').matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]));
  for (const v of variableQueries()) check(v.where, v.selector, [v.label]);
  assert.deepEqual(bad, []);
});

test('promtool parses every expression', (t) => {
  const has = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
  if (!has && !inCI) { t.skip('promtool not installed (make test installs Debian prometheus)'); return; }
  const exprs = expressions();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'xlvs-grafana-'));
  try {
    const file = path.join(dir, 'rules.yml');
    fs.writeFileSync(file, stringify({ groups: [{ name: 'dashboard', rules: exprs.map((e, i) => ({ record: `xlvs:dashboard_expr_${i}`, expr: concrete(e.expr) })) }] }));
    const r = spawnSync('promtool', ['check', 'rules', file], { encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool check rules:\n${r.stdout}${r.stderr}\n${exprs.map((e, i) => `${i}: ${e.where}`).join('\n')}`);
    assert.match(r.stdout, new RegExp(`SUCCESS: ${exprs.length} rules found`));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});

test('importable: schema, DS_PROMETHEUS input, datasources, unique ids, panels on the grid without overlaps', () => {
  assert.ok(dash.schemaVersion >= 36, `schemaVersion ${dash.schemaVersion} < 36`);
  assert.ok(dash.uid && dash.title);
  const input = dash.__inputs.find((i) => i.name === 'DS_PROMETHEUS');
  assert.deepEqual(input && { type: input.type, pluginId: input.pluginId }, { type: 'datasource', pluginId: 'prometheus' });
  const DS = '${DS_PROMETHEUS}';
  const problems: string[] = [];
  const ids = new Set<number>();
  for (const p of allPanels) {
    if (ids.has(p.id)) problems.push(`panel id ${p.id} used twice`);
    ids.add(p.id);
    if (p.type === 'row') continue;
    if (p.datasource?.uid !== DS) problems.push(`panel ${p.id} "${p.title}": datasource ${JSON.stringify(p.datasource)}`);
    if (!p.targets?.length) problems.push(`panel ${p.id} "${p.title}": no queries`);
    for (const t of p.targets ?? []) {
      if (!t.expr?.trim()) problems.push(`panel ${p.id} ${t.refId}: empty expr`);
      if (t.datasource && t.datasource.uid !== DS) problems.push(`panel ${p.id} ${t.refId}: datasource ${JSON.stringify(t.datasource)}`);
    }
    const refs = (p.targets ?? []).map((t) => t.refId);
    if (new Set(refs).size !== refs.length) problems.push(`panel ${p.id}: refIds repeat (${refs.join(',')})`);
  }
  for (const v of dash.templating.list) if (v.datasource && v.datasource.uid !== DS) problems.push(`variable ${v.name}: datasource ${JSON.stringify(v.datasource)}`);
  for (const a of dash.annotations.list) if (a.expr && a.datasource?.uid !== DS) problems.push(`annotation ${a.name}: datasource ${JSON.stringify(a.datasource)}`);
  // Grid: 24 columns; no two panels share a cell.
  const cells = new Map<string, number>();
  for (const p of allPanels) {
    const g = p.gridPos;
    if (!(g.w >= 1 && g.h >= 1 && g.x >= 0 && g.y >= 0 && g.x + g.w <= 24)) { problems.push(`panel ${p.id}: gridPos ${JSON.stringify(g)} off the grid`); continue; }
    for (let x = g.x; x < g.x + g.w; x++) {
      for (let y = g.y; y < g.y + g.h; y++) {
        const k = `${x},${y}`;
        const other = cells.get(k);
        if (other !== undefined && other !== p.id) { problems.push(`panels ${other} and ${p.id} overlap at ${k}`); x = g.x + g.w; break; }
        cells.set(k, p.id);
      }
    }
  }
  assert.deepEqual(problems, []);
});
