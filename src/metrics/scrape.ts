// Prometheus metrics computed at scrape time. Each family reads the daemon's snapshot when the
// registry asks for it (prom-client calls `get()` per scrape), so nothing is copied between
// scrapes and per-CPU counters are summed only when someone looks.
import { Registry } from 'prom-client';
import type { StatusSnapshot } from '../common/status';

type Labels = Record<string, string>;
interface Sample { value: number; labels: Labels }

/** A metric family whose samples are produced at scrape time. */
class ScrapeFamily {
  readonly aggregator = 'sum';
  constructor(
    readonly name: string,
    readonly help: string,
    readonly type: 'counter' | 'gauge',
    private readonly sample: () => Sample[],
  ) {}
  get(): { name: string; help: string; type: string; aggregator: string; values: Sample[] } {
    return { name: this.name, help: this.help, type: this.type, aggregator: this.aggregator, values: this.sample() };
  }
  reset(): void { /* values come from the snapshot */ }
}

export interface ScrapeSources {
  /** Snapshot of services, reals, VRRP, reasons; taken once per scrape. */
  snapshot(): StatusSnapshot;
  /** Cumulative counters kept by the daemon (reloads, VRRP adverts, health failures). */
  eventCounters(): EventCounters;
  version: string;
}

export interface EventCounters {
  reloads: Record<'ok' | 'invalid' | 'failed', number>;
  vrrpTransitions: Record<string, number>;
  vrrpAdvertsReceived: Record<string, number>;
  vrrpAdvertsRejected: Record<string, number>; // by reason
  healthFailures: { service: string; real: string; reason: string; count: number }[];
  /** Errors nothing caught (logged; the daemon keeps running). */
  uncaught?: number;
}

const STATE_VALUES = ['up', 'drain', 'down'] as const;
const VRRP_STATES = ['INIT', 'BACKUP', 'MASTER', 'FAULT'] as const;

/**
 * Registers xlvs's families on `registry` (injected — never prom-client's global one).
 * The snapshot is taken once per scrape and shared by every family of that scrape.
 */
export function registerScrapeMetrics(registry: Registry, src: ScrapeSources): void {
  let cached: { at: number; snap: StatusSnapshot } | null = null;
  const snap = (): StatusSnapshot => {
    // Stamped after the build: a snapshot that takes longer than the window to build must still
    // serve every family of the same scrape.
    if (!cached || Date.now() - cached.at > 250) {
      const snap = src.snapshot();
      cached = { at: Date.now(), snap };
    }
    return cached.snap;
  };
  const fam = (name: string, help: string, type: 'counter' | 'gauge', sample: () => Sample[]) =>
    registry.registerMetric(new ScrapeFamily(name, help, type, sample) as never);

  fam('xlvs_build_info', 'xlvs version and Node.js runtime.', 'gauge', () => [
    { value: 1, labels: { version: src.version, node: process.version } },
  ]);

  const perVip = (pick: (c: StatusSnapshot['services'][number]['counters']) => bigint) => () =>
    snap().services.map((s) => ({ value: Number(pick(s.counters)), labels: { vip: s.key } }));
  fam('xlvs_vip_packets_total', 'Packets received for the VIP and forwarded (client to VIP direction).', 'counter', perVip((c) => c.packets));
  fam('xlvs_vip_bytes_total', 'Bytes received for the VIP and forwarded.', 'counter', perVip((c) => c.bytes));
  fam('xlvs_vip_connections_total', 'New flows scheduled for the VIP (ipvsadm Conns).', 'counter', perVip((c) => c.newFlows));

  const perReal = (pick: (r: StatusSnapshot['services'][number]['reals'][number]) => number) => () =>
    snap().services.flatMap((s) => s.reals.map((r) => ({ value: pick(r), labels: { vip: s.key, real: r.key } })));
  fam('xlvs_real_packets_total', 'Packets forwarded to the real.', 'counter', perReal((r) => Number(r.counters.packets)));
  fam('xlvs_real_bytes_total', 'Bytes forwarded to the real.', 'counter', perReal((r) => Number(r.counters.bytes)));
  fam('xlvs_real_connections_total', 'New flows scheduled to the real.', 'counter', perReal((r) => Number(r.counters.newFlows)));
  fam('xlvs_real_weight', 'Weight in force for new flows (0 while drained or down).', 'gauge', perReal((r) => (r.state === 'up' ? r.effectiveWeight : 0)));
  fam('xlvs_real_configured_weight', 'Weight as configured.', 'gauge', perReal((r) => r.weight));
  fam('xlvs_real_up', '1 when the real is in selection for new flows.', 'gauge', perReal((r) => (r.state === 'up' ? 1 : 0)));
  fam('xlvs_real_state', 'Health state of the real, one series per state (1 = current).', 'gauge', () =>
    snap().services.flatMap((s) => s.reals.flatMap((r) => STATE_VALUES.map((st) => ({ value: r.state === st ? 1 : 0, labels: { vip: s.key, real: r.key, state: st } })))));
  fam('xlvs_real_active_connections', 'Connection-table entries to the real seen recently (ipvsadm ActiveConn).', 'gauge', perReal((r) => r.activeConns));
  fam('xlvs_real_inactive_connections', 'Connection-table entries to the real not seen recently (ipvsadm InActConn).', 'gauge', perReal((r) => r.inactiveConns));
  fam('xlvs_vip_active_connections', 'Connection-table entries of the VIP seen recently.', 'gauge', () =>
    snap().services.map((s) => ({ value: s.activeConns ?? 0, labels: { vip: s.key } })));
  fam('xlvs_vip_inactive_connections', 'Connection-table entries of the VIP not seen recently.', 'gauge', () =>
    snap().services.map((s) => ({ value: s.inactiveConns ?? 0, labels: { vip: s.key } })));
  fam('xlvs_vip_sorry_active', '1 while the VIP sends new flows to its sorry server (quorum lost).', 'gauge', () =>
    snap().services.map((s) => ({ value: s.sorryActive ? 1 : 0, labels: { vip: s.key } })));

  fam('xlvs_verdicts_total', 'Packets by data-plane verdict reason, summed over CPUs.', 'counter', () =>
    Object.entries(snap().reasons).filter(([reason]) => reason !== 'unused').map(([reason, v]) => ({ value: Number(v), labels: { reason } })));
  fam('xlvs_conntrack_entries', 'Entries in the connection table (latest census).', 'gauge', () => [{ value: snap().connections, labels: {} }]);
  fam('xlvs_conntrack_census_age_seconds', 'Seconds since the connection census the connection gauges come from finished (absent before the first).', 'gauge', () => {
    const at = snap().census?.at;
    return at == null ? [] : [{ value: Math.max(0, (Date.now() - at) / 1000), labels: {} }];
  });
  fam('xlvs_conntrack_census_duration_seconds', 'How long that census walked the connection table (in a worker thread).', 'gauge', () => {
    const ms = snap().census?.walkMs;
    return ms == null ? [] : [{ value: ms / 1000, labels: {} }];
  });

  fam('xlvs_vrrp_state', 'VRRP state per instance, one series per state (1 = current).', 'gauge', () =>
    snap().vrrp.flatMap((v) => VRRP_STATES.map((st) => ({ value: v.state === st ? 1 : 0, labels: { vrrp_instance: v.name, state: st } }))));
  fam('xlvs_vrrp_priority', 'Effective VRRP priority per instance (after tracking).', 'gauge', () =>
    snap().vrrp.map((v) => ({ value: v.effectivePriority, labels: { vrrp_instance: v.name } })));
  fam('xlvs_vrrp_transitions_total', 'VRRP state transitions per instance.', 'counter', () =>
    Object.entries(src.eventCounters().vrrpTransitions).map(([vrrp_instance, n]) => ({ value: n, labels: { vrrp_instance } })));
  fam('xlvs_vrrp_adverts_received_total', 'VRRP advertisements accepted per instance.', 'counter', () =>
    Object.entries(src.eventCounters().vrrpAdvertsReceived).map(([vrrp_instance, n]) => ({ value: n, labels: { vrrp_instance } })));
  fam('xlvs_vrrp_adverts_rejected_total', 'VRRP advertisements rejected, by reason.', 'counter', () =>
    Object.entries(src.eventCounters().vrrpAdvertsRejected).map(([reason, n]) => ({ value: n, labels: { reason } })));

  fam('xlvs_health_check_failures_total', 'Failed health checks by real and reason.', 'counter', () =>
    src.eventCounters().healthFailures.map((f) => ({ value: f.count, labels: { vip: f.service, real: f.real, reason: f.reason } })));
  fam('xlvs_thread_up', '1 while the daemon thread runs (main; vrrp: adverts and timers on their own event loop).', 'gauge', () =>
    snap().threads.map((t) => ({ value: t.running ? 1 : 0, labels: { thread: t.name } })));
  fam('xlvs_thread_loop_delay_max_seconds', 'Largest event-loop delay of the thread since its last report (a busy main thread shows here, never in VRRP timing).', 'gauge', () =>
    snap().threads.map((t) => ({ value: t.loopDelayMaxMs / 1000, labels: { thread: t.name } })));
  fam('xlvs_thread_report_age_seconds', 'Time since the thread last reported to the main thread (the VRRP thread reports every 0.5 s).', 'gauge', () =>
    snap().threads.filter((t) => t.lastReportAgeMs >= 0).map((t) => ({ value: t.lastReportAgeMs / 1000, labels: { thread: t.name } })));
  fam('xlvs_thread_restarts_total', 'Times the thread was started again after it died.', 'counter', () =>
    snap().threads.map((t) => ({ value: t.restarts, labels: { thread: t.name } })));
  fam('xlvs_uncaught_errors_total', 'Errors nothing caught; each is logged with its stack and the daemon keeps running.', 'counter', () =>
    [{ value: src.eventCounters().uncaught ?? 0, labels: {} }]);
  fam('xlvs_config_reloads_total', 'Configuration reloads by result.', 'counter', () =>
    Object.entries(src.eventCounters().reloads).map(([result, n]) => ({ value: n, labels: { result } })));
}
