// Prometheus metrics computed at scrape time. Each family reads the daemon's snapshot when the
// registry asks for it (prom-client calls `get()` per scrape), so nothing is copied between
// scrapes and per-CPU counters are summed only when someone looks.
import { Registry } from 'prom-client';
import type { StatusSnapshot } from '../common/status';

type Labels = Record<string, string>;
interface Sample {
  value: number;
  labels: Labels;
  /** The label set as text (`{vip="…",real="…"}`), when the family already has it. */
  text?: string;
}

/** A metric family whose samples are produced at scrape time. */
export class ScrapeFamily {
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

  /**
   * The family in the Prometheus text format (0.0.4), written directly: at 256 × 100 a scrape
   * has ~280,000 samples, and prom-client's generic formatter spent most of the scrape on them.
   * A label set seen before (the same vip/real pair in ten families) is escaped once.
   */
  render(labelCache: Map<string, string>): string {
    const out: string[] = [`# HELP ${this.name} ${escapeHelp(this.help)}\n# TYPE ${this.name} ${this.type}\n`];
    for (const v of this.sample()) out.push(`${this.name}${v.text ?? labelText(v.labels, labelCache)} ${formatValue(v.value)}\n`);
    return out.join('');
  }
}

function escapeHelp(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n');
}

function escapeLabel(s: string): string {
  return s.replace(/\\/g, '\\\\').replace(/\n/g, '\\n').replace(/"/g, '\\"');
}

function labelText(labels: Labels, cache: Map<string, string>): string {
  let key = '';
  for (const k in labels) key += `${k}\u0000${labels[k]}\u0000`;
  if (key === '') return '';
  let text = cache.get(key);
  if (text === undefined) {
    const parts: string[] = [];
    for (const k in labels) parts.push(`${k}="${escapeLabel(labels[k])}"`);
    text = `{${parts.join(',')}}`;
    cache.set(key, text);
  }
  return text;
}

/** Sample values as prom-client writes them (Nan, +Inf, -Inf). */
function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'Nan';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

/**
 * The whole registry as Prometheus text: our scrape-time families through their own renderer,
 * anything else (the health-check histogram) through prom-client.
 */
export async function renderRegistry(registry: Registry): Promise<string> {
  const cache = new Map<string, string>();
  const parts: string[] = [];
  // One fresh snapshot for every family of this scrape, however long the rendering takes.
  const hold = scrapeHolds.get(registry);
  hold?.hold();
  try {
    for (const m of registry.getMetricsAsArray() as unknown[]) {
      if (m instanceof ScrapeFamily) parts.push(m.render(cache));
      else parts.push(`${await registry.getSingleMetricAsString((m as { name: string }).name)}\n`);
    }
  } finally {
    hold?.release();
  }
  return parts.join('');
}

/** Per registry: keep one snapshot for the whole of a render (registerScrapeMetrics sets it). */
const scrapeHolds = new WeakMap<Registry, { hold(): void; release(): void }>();

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
  let held = false;
  const snap = (): StatusSnapshot => {
    // Stamped after the build: a snapshot that takes longer than the window to build must still
    // serve every family of the same scrape. While renderRegistry holds it, it is not renewed.
    if (!cached || (!held && Date.now() - cached.at > 250)) {
      const snap = src.snapshot();
      cached = { at: Date.now(), snap };
    }
    return cached.snap;
  };
  scrapeHolds.set(registry, { hold: () => { held = true; cached = null; }, release: () => { held = false; } });
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

  // The vip/real label text of a real, escaped once per snapshot and shared by its families
  // (keyed by the snapshot's own RealStatus object).
  type RealStatus = StatusSnapshot['services'][number]['reals'][number];
  let realLabels = new WeakMap<RealStatus, string>();
  let labelsOf: StatusSnapshot | null = null;
  const realLabel = (sn: StatusSnapshot, vip: string, r: RealStatus): string => {
    if (labelsOf !== sn) { realLabels = new WeakMap(); labelsOf = sn; }
    let t = realLabels.get(r);
    if (t === undefined) {
      t = `vip="${escapeLabel(vip)}",real="${escapeLabel(r.key)}"`;
      realLabels.set(r, t);
    }
    return t;
  };
  const perReal = (pick: (r: RealStatus) => number) => () => {
    const sn = snap();
    const out: Sample[] = [];
    for (const s of sn.services) {
      for (const r of s.reals) out.push({ value: pick(r), labels: { vip: s.key, real: r.key }, text: `{${realLabel(sn, s.key, r)}}` });
    }
    return out;
  };
  fam('xlvs_real_packets_total', 'Packets forwarded to the real.', 'counter', perReal((r) => Number(r.counters.packets)));
  fam('xlvs_real_bytes_total', 'Bytes forwarded to the real.', 'counter', perReal((r) => Number(r.counters.bytes)));
  fam('xlvs_real_connections_total', 'New flows scheduled to the real.', 'counter', perReal((r) => Number(r.counters.newFlows)));
  fam('xlvs_real_weight', 'Weight in force for new flows (0 while drained or down).', 'gauge', perReal((r) => (r.state === 'up' ? r.effectiveWeight : 0)));
  fam('xlvs_real_configured_weight', 'Weight as configured.', 'gauge', perReal((r) => r.weight));
  fam('xlvs_real_up', '1 when the real is in selection for new flows.', 'gauge', perReal((r) => (r.state === 'up' ? 1 : 0)));
  fam('xlvs_real_state', 'Health state of the real, one series per state (1 = current).', 'gauge', () => {
    const sn = snap();
    const out: Sample[] = [];
    for (const s of sn.services) {
      for (const r of s.reals) {
        const base = realLabel(sn, s.key, r);
        for (const st of STATE_VALUES) out.push({ value: r.state === st ? 1 : 0, labels: { vip: s.key, real: r.key, state: st }, text: `{${base},state="${st}"}` });
      }
    }
    return out;
  });
  fam('xlvs_real_override', 'The operator\'s runtime override of a real, by kind: drain (1: drained by `xlvs real drain`) or weight (the weight set by `xlvs real weight`, used instead of the configured one). Absent without an override.', 'gauge', () => {
    const sn = snap();
    const out: Sample[] = [];
    for (const s of sn.services) {
      for (const r of s.reals) {
        if (!r.override) continue;
        const base = realLabel(sn, s.key, r);
        if (r.override.drained) out.push({ value: 1, labels: { vip: s.key, real: r.key, kind: 'drain' }, text: `{${base},kind="drain"}` });
        if (r.override.weight !== undefined) out.push({ value: r.override.weight, labels: { vip: s.key, real: r.key, kind: 'weight' }, text: `{${base},kind="weight"}` });
      }
    }
    return out;
  });
  fam('xlvs_real_active_connections', 'The real\'s ESTABLISHED connections (ipvsadm ActiveConn), as the data plane counts them for lc/wlc and thresholds (corrected by the census every 5 s).', 'gauge', perReal((r) => r.activeConns));
  fam('xlvs_real_inactive_connections', 'The real\'s connections in any other live state: SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, UDP (ipvsadm InActConn).', 'gauge', perReal((r) => r.inactiveConns));
  fam('xlvs_vip_active_connections', 'ESTABLISHED connections of the VIP: the sum of its reals\' ActiveConn.', 'gauge', () =>
    snap().services.map((s) => ({ value: s.activeConns ?? 0, labels: { vip: s.key } })));
  fam('xlvs_vip_inactive_connections', 'Other live connections of the VIP: the sum of its reals\' InActConn.', 'gauge', () =>
    snap().services.map((s) => ({ value: s.inactiveConns ?? 0, labels: { vip: s.key } })));
  fam('xlvs_vip_sorry_active', '1 while the VIP sends new flows to its sorry server (quorum lost).', 'gauge', () =>
    snap().services.map((s) => ({ value: s.sorryActive ? 1 : 0, labels: { vip: s.key } })));

  fam('xlvs_verdicts_total', 'Packets by data-plane verdict reason, summed over CPUs.', 'counter', () =>
    Object.entries(snap().reasons).filter(([reason]) => reason !== 'unused').map(([reason, v]) => ({ value: Number(v), labels: { reason } })));
  fam('xlvs_conntrack_entries', 'Connections in the flow tables (latest census; expired entries and persistence templates left out), by table: confirmed (lb_conns, lb_conns6) and unconfirmed (lb_new: SYNs not yet ACKed, first UDP packets).', 'gauge', () => {
    const sn = snap();
    const t = sn.connTables;
    return t ? [{ value: t.confirmed, labels: { table: 'confirmed' } }, { value: t.unconfirmed, labels: { table: 'unconfirmed' } }]
      : [{ value: sn.connections, labels: { table: 'confirmed' } }];
  });
  fam('xlvs_conntrack_expired_entries', 'Entries past their expiry still in the flow tables (latest census): not connections, but they take room until reused or evicted.', 'gauge', () => {
    const t = snap().connTables;
    return t ? [{ value: t.expired, labels: {} }] : [];
  });
  const flows = (pick: (f: NonNullable<StatusSnapshot['flows']>) => number) => () => {
    const f = snap().flows;
    return f ? [{ value: pick(f), labels: {} }] : [];
  };
  fam('xlvs_flows_unconfirmed_total', 'New flows entered in the unconfirmed table (lb_new): a SYN, a UDP flow\'s first packet, a mid-stream pickup. A SYN flood shows as this growing while xlvs_flows_confirmed_total does not.', 'counter', flows((f) => f.unconfirmed));
  fam('xlvs_flows_confirmed_total', 'Flows confirmed by a second packet (the handshake\'s ACK) and moved to lb_conns / lb_conns6; a flood cannot evict these.', 'counter', flows((f) => f.confirmed));
  fam('xlvs_flows_reused_total', 'SYNs on a connection the client was closing (FIN_WAIT, TIME_WAIT, CLOSE): a new connection on a reused port, scheduled afresh.', 'counter', flows((f) => f.reused));
  fam('xlvs_flows_displaced_total', 'Confirmed IPv4 flows that lost their entry to a new flow because both of the new flow\'s lines in lb_conns were full of live entries (the least recently active of four goes). Above zero means director.conn_table.size is too small for the flows held.', 'counter', flows((f) => f.displaced ?? 0));
  fam('xlvs_flows_expired_total', 'Non-SYN TCP segments on an expired connection, passed to the kernel (which resets them; verdict reason conn_expired), as IPVS does.', 'counter', flows((f) => f.expired));
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
