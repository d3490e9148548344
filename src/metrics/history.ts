// What the status page draws over time (/history.json): per-real rates from a bounded ring of
// samples of the counters the snapshot reads (every intervalMs, `capacity` samples: 5 s × 120 =
// the last 10 minutes), and the last VRRP and health transitions. A page opened during an
// incident sees the minutes before it. Memory is O(capacity × reals) + the transition rings; a
// sample costs O(reals) (one read of the per-real counters, never a walk of the flow tables).

/** One real's counters as the data plane holds them (cumulative since the real's id was taken). */
export interface RealTraffic {
  service: string;
  real: string;
  /** The data plane's id: a real removed and added again gets a fresh id and fresh counters. */
  id: number;
  packets: bigint;
  bytes: bigint;
  newFlows: bigint;
}

/** Rates of one real in one sample: packets/s, new flows/s, bytes/s. */
type Rates = [number, number, number];

interface Sample { at: number; rates: Map<string, Rates> }

export interface HealthTransition { at: number; service: string; real: string; from: string; to: string; reason: string }
export interface VrrpTransition { at: number; instance: string; from: string; to: string; reason: string }

export interface HistoryJson {
  intervalMs: number;
  capacity: number;
  /** Sample times (ms since the epoch), oldest first. */
  at: number[];
  /** Per real, one value per `at` (null: the real was absent, or its counters started again). */
  reals: { service: string; real: string; pps: (number | null)[]; cps: (number | null)[]; bps: (number | null)[] }[];
  health: HealthTransition[];
  vrrp: VrrpTransition[];
}

export interface HistoryOptions {
  intervalMs?: number;
  capacity?: number;
  /** Transitions kept, per kind. */
  transitions?: number;
}

const SEP = '|';

export class StatusHistory {
  readonly intervalMs: number;
  readonly capacity: number;
  private readonly maxTransitions: number;
  private readonly samples: Sample[] = [];
  private prev = new Map<string, { id: number; at: number; packets: bigint; bytes: bigint; newFlows: bigint }>();
  private readonly healthRing: HealthTransition[] = [];
  private readonly vrrpRing: VrrpTransition[] = [];
  private timer: NodeJS.Timeout | null = null;

  /** `source` is read every interval once start() is called. */
  constructor(private readonly source: () => Iterable<RealTraffic> = () => [], opts: HistoryOptions = {}) {
    this.intervalMs = opts.intervalMs ?? 5000;
    this.capacity = opts.capacity ?? 120;
    this.maxTransitions = opts.transitions ?? 500;
  }

  /** Samples now and every interval until stop() (the timer does not keep the process alive). */
  start(): void {
    this.stop();
    const tick = (): void => {
      try { this.sample(Date.now(), this.source()); } catch { /* the data plane is going away; the next tick tries again */ }
    };
    tick();
    this.timer = setInterval(tick, this.intervalMs);
    this.timer.unref();
  }

  stop(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
  }

  /**
   * One sample: each real's rates from its counters' change since the previous sample. A real
   * seen for the first time, with another id than before, or whose counters went down (zeroed,
   * removed and added again) has no rate in this sample, never a negative one.
   */
  sample(at: number, reals: Iterable<RealTraffic>): void {
    const next = new Map<string, { id: number; at: number; packets: bigint; bytes: bigint; newFlows: bigint }>();
    const rates = new Map<string, Rates>();
    for (const r of reals) {
      const k = r.service + SEP + r.real;
      const cur = { id: r.id, at, packets: r.packets, bytes: r.bytes, newFlows: r.newFlows };
      next.set(k, cur);
      const p = this.prev.get(k);
      if (!p || p.id !== r.id || at <= p.at) continue;
      if (cur.packets < p.packets || cur.bytes < p.bytes || cur.newFlows < p.newFlows) continue;
      const s = (at - p.at) / 1000;
      rates.set(k, [Number(cur.packets - p.packets) / s, Number(cur.newFlows - p.newFlows) / s, Number(cur.bytes - p.bytes) / s]);
    }
    // Only the reals of this sample are remembered: the map follows the topology, never grows past it.
    this.prev = next;
    this.samples.push({ at, rates });
    if (this.samples.length > this.capacity) this.samples.splice(0, this.samples.length - this.capacity);
  }

  health(t: HealthTransition): void {
    push(this.healthRing, t, this.maxTransitions);
  }

  vrrp(t: VrrpTransition): void {
    push(this.vrrpRing, t, this.maxTransitions);
  }

  toJSON(): HistoryJson {
    const order = new Map<string, HistoryJson['reals'][number]>();
    const n = this.samples.length;
    this.samples.forEach((s, i) => {
      for (const [k, [pps, cps, bps]] of s.rates) {
        let row = order.get(k);
        if (!row) {
          const cut = k.indexOf(SEP);
          row = { service: k.slice(0, cut), real: k.slice(cut + 1), pps: new Array(n).fill(null), cps: new Array(n).fill(null), bps: new Array(n).fill(null) };
          order.set(k, row);
        }
        row.pps[i] = round(pps);
        row.cps[i] = round(cps);
        row.bps[i] = round(bps);
      }
    });
    return {
      intervalMs: this.intervalMs, capacity: this.capacity, at: this.samples.map((s) => s.at), reals: [...order.values()],
      health: [...this.healthRing], vrrp: [...this.vrrpRing],
    };
  }
}

function push<T>(ring: T[], t: T, max: number): void {
  ring.push(t);
  if (ring.length > max) ring.splice(0, ring.length - max);
}

function round(x: number): number {
  return Math.round(x * 100) / 100;
}
