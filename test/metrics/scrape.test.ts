// The metrics listener on a synthetic snapshot: names, labels and values as Prometheus sees
// them, `promtool check metrics` clean, status page and JSON served, loopback by default.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { startMetricsServer, MetricsServer } from '../../src/metrics/server';
import type { StatusSnapshot } from '../../src/common/status';
import type { EventCounters } from '../../src/metrics/scrape';
import { inCI } from '../lib/env';

let snapshots = 0;
function snapshot(): StatusSnapshot {
  snapshots++;
  const c = (p: number, b: number, n: number) => ({ packets: BigInt(p), bytes: BigInt(b), newFlows: BigInt(n) });
  return {
    director: 'edge-a', interface: 'eth0', xdpMode: 'native', startedAt: 0, adopted: false, configFile: 'x.yaml',
    services: [{
      key: '10.0.0.10:80/tcp', id: 1, vip: '10.0.0.10', port: 80, protocol: 'tcp', method: 'dr', scheduler: 'maglev',
      persistence: null, onDown: 'expire', sorryActive: false, counters: c(30, 3000, 3), activeConns: 1, inactiveConns: 2,
      reals: [
        { key: '10.0.1.1:80', id: 1, address: '10.0.1.1', port: 80, weight: 2, effectiveWeight: 2, state: 'up', reason: 'check ok', mac: null, activeConns: 1, inactiveConns: 0, counters: c(20, 2000, 2) },
        { key: '10.0.1.2:80', id: 2, address: '10.0.1.2', port: 80, weight: 1, effectiveWeight: 1, state: 'down', reason: 'connection refused', mac: null, activeConns: 0, inactiveConns: 2, counters: c(10, 1000, 1) },
      ],
    }],
    vrrp: [{ name: 'VI_1', vrid: 51, interface: 'eth0', state: 'MASTER', priority: 100, effectivePriority: 100, vips: ['10.0.0.10/24'], since: 0 }],
    reasons: { tx_dr: 30n, not_vip: 7n },
    connections: 3, threads: [],
    connTables: { confirmed: 2, unconfirmed: 1, expired: 4 },
    flows: { unconfirmed: 9, confirmed: 5, reused: 1, expired: 2, displaced: 3 },
    census: { at: Date.now() - 2000, ageMs: 2000, walkMs: 12.5 },
    events: [{ at: Date.now(), kind: 'health', message: '10.0.1.2:80 down: connection refused' }],
  };
}
const counters: EventCounters = {
  reloads: { ok: 2, invalid: 1, failed: 0 },
  vrrpTransitions: { VI_1: 2 }, vrrpAdvertsReceived: { VI_1: 40 }, vrrpAdvertsRejected: { auth: 3 },
  healthFailures: [{ service: '10.0.0.10:80/tcp', real: '10.0.1.2:80', reason: 'refused', count: 4 }],
};

let srv: MetricsServer;
after(async () => { await srv?.close(); });

async function get(path: string): Promise<{ status: number; type: string; body: string }> {
  const a = srv.address();
  const r = await fetch(`http://${a.host}:${a.port}${path}`);
  return { status: r.status, type: r.headers.get('content-type') ?? '', body: await r.text() };
}

test('serves /metrics with values from the snapshot at scrape time', async () => {
  srv = await startMetricsServer('127.0.0.1:0', { snapshot, eventCounters: () => counters, version: '9.9.9' });
  srv.observeCheck('10.0.0.10:80/tcp', '10.0.1.1:80', 0.003);
  assert.equal(srv.address().host, '127.0.0.1');
  const before = snapshots;
  const m = await get('/metrics');
  assert.equal(m.status, 200);
  assert.match(m.type, /text\/plain/);
  assert.equal(snapshots - before, 1, 'one snapshot per scrape, shared by every family');
  const line = (s: string) => assert.ok(m.body.split('\n').includes(s), `missing line: ${s}\n${m.body}`);
  line('xlvs_vip_packets_total{vip="10.0.0.10:80/tcp"} 30');
  line('xlvs_real_packets_total{vip="10.0.0.10:80/tcp",real="10.0.1.1:80"} 20');
  line('xlvs_real_bytes_total{vip="10.0.0.10:80/tcp",real="10.0.1.2:80"} 1000');
  line('xlvs_real_up{vip="10.0.0.10:80/tcp",real="10.0.1.2:80"} 0');
  line('xlvs_real_state{vip="10.0.0.10:80/tcp",real="10.0.1.2:80",state="down"} 1');
  line('xlvs_verdicts_total{reason="not_vip"} 7');
  line('xlvs_vrrp_state{vrrp_instance="VI_1",state="MASTER"} 1');
  line('xlvs_vrrp_adverts_rejected_total{reason="auth"} 3');
  line('xlvs_config_reloads_total{result="invalid"} 1');
  line('xlvs_health_check_duration_seconds_bucket{le="0.005",vip="10.0.0.10:80/tcp",real="10.0.1.1:80"} 1');
  line('xlvs_build_info{version="9.9.9",node="' + process.version + '"} 1');
  line('# TYPE xlvs_vip_bytes_total counter');
  line('xlvs_real_inactive_connections{vip="10.0.0.10:80/tcp",real="10.0.1.2:80"} 2');
  line('xlvs_vip_active_connections{vip="10.0.0.10:80/tcp"} 1');
  line('xlvs_vip_inactive_connections{vip="10.0.0.10:80/tcp"} 2');
  line('xlvs_conntrack_entries{table="confirmed"} 2');
  line('xlvs_conntrack_entries{table="unconfirmed"} 1');
  line('xlvs_conntrack_expired_entries 4');
  line('xlvs_flows_unconfirmed_total 9');
  line('xlvs_flows_confirmed_total 5');
  line('xlvs_flows_reused_total 1');
  line('xlvs_flows_expired_total 2');
  line('xlvs_flows_displaced_total 3');
  line('xlvs_conntrack_census_duration_seconds 0.0125');
  const age = Number(/^xlvs_conntrack_census_age_seconds (\S+)$/m.exec(m.body)?.[1]);
  assert.ok(age >= 2 && age < 5, `census age ${age}`);
});

test('promtool check metrics finds nothing to complain about', (t) => {
  const has = spawnSync('sh', ['-c', 'command -v promtool']).status === 0;
  if (!has && !inCI) { t.skip('promtool not installed (make test installs Debian prometheus)'); return; }
  return get('/metrics').then((m) => {
    const r = spawnSync('promtool', ['check', 'metrics'], { input: m.body, encoding: 'utf8' });
    assert.equal(r.status, 0, `promtool: ${r.stdout}${r.stderr}`);
    assert.equal((r.stdout + r.stderr).trim(), '');
  });
});

test('status page and JSON are served; unknown paths are 404', async () => {
  const page = await get('/');
  assert.equal(page.status, 200);
  assert.match(page.body, /<title>xlvs status<\/title>/);
  assert.doesNotMatch(page.body, /<script[^>]+src=|<link[^>]+href=/, 'no external assets');
  const js = await get('/status.json');
  const s = JSON.parse(js.body);
  assert.equal(s.services[0].reals[1].state, 'down');
  assert.equal(s.services[0].counters.packets, '30');
  assert.equal((await get('/nope')).status, 404);
});
