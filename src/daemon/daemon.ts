// The xlvs daemon: one director. Loads (or adopts) the pinned data plane, attaches it, runs the
// health checkers and VRRP, keeps the maps equal to the desired state through the reconciler,
// and serves the control socket and metrics. Killing it does not stop forwarding: the programs
// and maps are pinned and a restarted daemon adopts them without touching established flows.
import * as fs from 'node:fs';
import type { Server } from 'node:net';
import { loadTopologyFile, checkRuntime } from '../config/load';
import type { Topology, ServiceModel } from '../config/model';
import { Dataplane } from '../dataplane/dataplane';
import { LB } from '../maps/lb';
import { BpfProgram, ensureBpffs, queryXdp, setXdpWarningHandler } from '../loader';
import { XlvsError, ErrorCodes } from '../errors';
import { HealthManager } from '../health/manager';
import { ServiceHealth, realInputs } from '../health/service';
import { checkerSpecs } from '../health/from-config';
import type { ServiceVerdict } from '../health/quorum';
import type { HealthEvent, CheckEvent } from '../health/types';
import { VrrpRunner } from '../vrrp/runner';
import type { StateChange } from '../vrrp/io';
import { Reconciler } from '../reconciler/reconciler';
import { RealIds } from '../reconciler/ids';
import { DesiredState } from '../reconciler/desired';
import { desiredService, desiredState, leavingSelection } from './desired-from-model';
import { DataplanePortAdapter, adoptedState } from './dataplane-port';
import { resolveMacs, interfaceMac } from './neigh';
import { serveControl, ControlRequest } from './control';
import { vrrpConfigOf, noAcceptAddresses } from './vrrp-config';
import { buildSnapshot } from './snapshot';
import { ConnTable } from '../conns/table';
import { connsReply } from '../conns/reply';
import { emptyCounts } from '../conns/census';
import type { DaemonEvent, StatusSnapshot } from './status';
import { startMetricsServer, MetricsServer } from '../metrics/server';
import type { EventCounters } from '../metrics/scrape';

/** How often real MACs are looked up again ("kept fresh"). */
const MAC_REFRESH_MS = 30_000;
/** How often the flow clock is written: connection entries are stamped at this resolution. */
const CLOCK_TICK_MS = 1000;
/** Events kept for the status page and `xlvs list`. */
const EVENT_RING = 200;
/** Pause between two connection censuses (each walks the whole LRU, in a worker thread). */
const CONN_CENSUS_MS = 5_000;

export interface DaemonOptions {
  configFile: string;
  log?: (line: string) => void;
}

export class Daemon {
  topo!: Topology;
  private dp!: Dataplane;
  private reconciler!: Reconciler;
  private readonly health = new HealthManager();
  private readonly serviceHealth = new ServiceHealth();
  private verdicts = new Map<string, ServiceVerdict>();
  private macs = new Map<string, string | null>();
  private vrrp: VrrpRunner | null = null;
  private vrrpKey = '';
  private control: Server | null = null;
  private metrics: MetricsServer | null = null;
  private macTimer: NodeJS.Timeout | null = null;
  /** Writes the data plane's flow clock (Dataplane.tickClock) once a second. */
  private clockTimer: NodeJS.Timeout | null = null;
  private events: DaemonEvent[] = [];
  private readonly counters: EventCounters = {
    reloads: { ok: 0, invalid: 0, failed: 0 },
    vrrpTransitions: {}, vrrpAdvertsReceived: {}, vrrpAdvertsRejected: {}, healthFailures: [],
  };
  private healthFailures = new Map<string, EventCounters['healthFailures'][number]>();
  /** Connection counts and listings, from a worker thread: the event loop never walks lb_conns. */
  private conns: ConnTable | null = null;
  private xdpMode = 'none';
  private adopted = false;
  /** The pinned program of the data plane this daemon took over: attach() may replace it. */
  private replacesProgId: number | null = null;
  private startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  private applyQueued = false;
  private dirty: Set<string> | 'all' = new Set();
  readonly log: (line: string) => void;

  constructor(readonly opts: DaemonOptions) {
    this.log = opts.log ?? ((l) => process.stdout.write(`${new Date().toISOString()} ${l}\n`));
  }

  private event(kind: DaemonEvent['kind'], message: string): void {
    this.events.push({ at: Date.now(), kind, message });
    if (this.events.length > EVENT_RING) this.events.splice(0, this.events.length - EVENT_RING);
    this.log(`[${kind}] ${message}`);
  }

  /** Loads the topology, brings up the data plane and everything around it. */
  async start(): Promise<void> {
    const topo = loadTopologyFile(this.opts.configFile);
    const runtime = checkRuntime(topo);
    if (runtime.length) {
      throw new XlvsError(ErrorCodes.CONFIG_INVALID, `${this.opts.configFile}: ${runtime.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    }
    this.topo = topo;
    const d = topo.director;
    setXdpWarningHandler((msg: string) => this.event('daemon', `warning: ${msg}`));
    ensureBpffs(d.pinRoot);
    fs.mkdirSync(d.pinDir, { recursive: true });

    const mac = interfaceMac(d.interface);
    if (!mac) throw new XlvsError(ErrorCodes.CONFIG_INVALID, `director.interface: ${d.interface} has no MAC address`);
    const dirCfg = { mac, tunSource4: d.tunSource4 ?? undefined, tunSource6: d.tunSource6 ?? undefined, mtu: interfaceMtu(d.interface) };
    const ids = new RealIds(LB.MAX_REALS - 1);
    if (fs.existsSync(`${d.pinDir}/xdp_lb`)) {
      // Restarted (after a crash, or `xlvs stop --keep-forwarding` and an upgrade). The same
      // build adopts the pins and writes only the difference. Another build loads its program
      // over the pinned maps it can reuse; its first apply rebuilds every table and attach()
      // swaps the program; the old one forwards until then.
      const old = BpfProgram.openPinned(`${d.pinDir}/xdp_lb`);
      this.replacesProgId = old.id;
      old.close();
      const over = Dataplane.loadOver({ pinDir: d.pinDir, ...dirCfg });
      this.dp = over.dp;
      this.adopted = true;
      const { state, realIds } = adoptedState(this.dp, topo);
      for (const r of realIds) ids.adopt(r.service, r.real, r.id);
      this.reconciler = new Reconciler(new DataplanePortAdapter(this.dp), ids);
      if (!over.replaced) {
        this.reconciler.adopt(state);
        this.event('daemon', `adopted pinned data plane at ${d.pinDir} (${state.size} VIPs, ${realIds.length} reals)`);
      } else {
        this.event('daemon', `took over the pinned data plane of another build at ${d.pinDir} (${state.size} VIPs, ${realIds.length} reals; ` +
          `maps kept: ${over.reused.length}, new: ${over.created.join(', ')})`);
      }
    } else {
      this.dp = Dataplane.create({ pinDir: d.pinDir, ...dirCfg });
      this.reconciler = new Reconciler(new DataplanePortAdapter(this.dp), ids);
      this.event('daemon', `loaded and pinned the data plane at ${d.pinDir}`);
    }

    this.conns = new ConnTable({ pinDir: d.pinDir, intervalMs: CONN_CENSUS_MS, onError: (m) => this.event('daemon', `warning: ${m}`) });
    this.dp.tickClock();
    this.clockTimer = setInterval(() => { try { this.dp.tickClock(); } catch { /* the next tick retries */ } }, CLOCK_TICK_MS);
    await this.refreshMacs();
    this.syncHealth();
    this.applyNow('start');
    this.attach();

    this.health.on('transition', (e: HealthEvent) => this.onHealth(e));
    this.health.on('check', (e: CheckEvent) => this.onCheck(e));
    this.startVrrp();
    this.macTimer = setInterval(() => void this.refreshMacs().then((changed) => { if (changed) this.applySoon('MAC change'); }), MAC_REFRESH_MS);

    this.control = await serveControl(topo.control.socket, (req) => this.handle(req));
    if (topo.metrics.enabled) {
      this.metrics = await startMetricsServer(`${topo.metrics.host.includes(':') ? `[${topo.metrics.host}]` : topo.metrics.host}:${topo.metrics.port}`, {
        snapshot: () => this.snapshot(), eventCounters: () => this.eventCounters(), version: packageVersion(),
      });
    }
    this.event('daemon', `running: director ${d.name} on ${d.interface} (XDP ${this.xdpMode}), ${topo.services.length} services, control ${topo.control.socket}` +
      (this.metrics ? `, metrics http://${topo.metrics.host}:${topo.metrics.port}/metrics` : ''));
  }

  private attach(): void {
    const d = this.topo.director;
    const q = queryXdp(d.interface);
    const ours = this.dp.program.id;
    if (q.native === ours) { this.xdpMode = 'native'; return; }
    if (q.generic === ours) { this.xdpMode = 'generic'; return; }
    const prev = this.replacesProgId;
    if (prev !== null && (q.native === prev || q.generic === prev)) {
      // One atomic swap in the mode the previous program ran in: no packet meets no program.
      this.xdpMode = this.dp.attach(d.interface, q.native === prev ? 'native' : 'generic').mode;
      this.event('daemon', `replaced XDP program ${prev} with ${ours} (${this.xdpMode}) on ${d.interface}`);
      return;
    }
    if (q.native !== undefined || q.generic !== undefined) {
      throw new XlvsError(ErrorCodes.BPF_ATTACH, `${d.interface} already has another XDP program (id ${q.native ?? q.generic}); detach it first (ip link set dev ${d.interface} xdp off)`);
    }
    this.xdpMode = this.dp.attach(d.interface, d.xdpMode).mode;
    if (this.xdpMode !== d.xdpMode) this.event('daemon', `warning: ${d.xdpMode} XDP failed on ${d.interface}; running in ${this.xdpMode} mode`);
    else this.event('daemon', `attached XDP (${this.xdpMode}) to ${d.interface}`);
  }

  // ---- desired state ------------------------------------------------------------------------

  private syncHealth(): void {
    const r = this.health.sync(checkerSpecs(this.topo.services));
    if (r.started.length || r.stopped.length) this.log(`[health] checkers: ${r.kept.length} kept, ${r.started.length} started, ${r.stopped.length} stopped`);
    this.recomputeVerdicts();
  }

  private recomputeVerdicts(only?: ServiceModel): void {
    for (const svc of only ? [only] : this.topo.services) {
      const v = this.serviceHealth.update(
        svc.key,
        realInputs(svc.key, svc.reals.map((r) => ({ key: r.key, weight: r.weight, inhibitOnFailure: (r as { inhibitOnFailure?: boolean }).inhibitOnFailure })), (s, r) => this.health.find(s, r)),
        { min: svc.quorum.min, hysteresis: svc.quorum.hysteresis, hasSorry: !!svc.sorryServer },
        { quorumUp: svc.quorum.up, quorumDown: svc.quorum.down },
      );
      const before = this.verdicts.get(svc.key);
      if (before && before.sorry !== v.sorry) this.event('health', `${svc.key}: ${v.sorry ? 'quorum lost, sorry server takes new flows' : 'quorum regained'} (${v.reason})`);
      this.verdicts.set(svc.key, v);
    }
  }

  private macOf = (a: string): string | null => this.macs.get(a) ?? null;

  /** Applies the whole desired state, or with `only` just those services (health events). */
  private applyNow(why: string, only?: ReadonlySet<string>): string[] {
    let desired: DesiredState;
    if (only) {
      desired = new Map();
      for (const svc of this.topo.services) if (only.has(svc.key)) desired.set(svc.key, desiredService(svc, this.verdicts.get(svc.key), this.macOf));
    } else {
      desired = desiredState(this.topo, this.verdicts, this.macOf);
    }
    const res = this.reconciler.apply(desired, only);
    for (const s of res.summary) this.event('apply', `${s} (${why})`);
    if (!only) {
      const na = this.dp.setNoAccept(noAcceptAddresses(this.topo));
      for (const a of na.added) res.summary.push(`no-accept ${a}`);
      for (const a of na.removed) res.summary.push(`accept ${a}`);
      if (na.added.length || na.removed.length) this.event('apply', `VRRP no-accept addresses: ${this.dp.listNoAccept().join(', ') || 'none'} (${why})`);
    }
    return res.summary;
  }

  /**
   * Coalesces bursts of events (many checkers flipping at once) into one apply, of the services
   * they touched only (`service` given) or of everything.
   */
  private applySoon(why: string, service?: string): void {
    if (service === undefined) this.dirty = 'all';
    else if (this.dirty !== 'all') this.dirty.add(service);
    if (this.applyQueued) return;
    this.applyQueued = true;
    queueMicrotask(() => {
      const only = this.dirty === 'all' ? undefined : this.dirty;
      this.applyQueued = false;
      this.dirty = new Set();
      try {
        this.applyNow(why, only);
      } catch (e) {
        this.event('apply', `failed: ${(e as Error).message}`);
      }
    });
  }

  private onHealth(e: HealthEvent): void {
    const svc = this.topo.services.find((s) => s.key === e.serviceKey);
    const real = svc?.reals.find((r) => r.key === e.realKey);
    if (!svc || !real) return;
    if (e.from !== e.to) this.event('health', `${e.serviceKey} ${e.realKey} ${e.to}: ${e.reason}`);
    this.serviceHealth.realEvent(e, { notifyUp: real.notifyUp, notifyDown: real.notifyDown }, real.address, real.port);
    this.recomputeVerdicts(svc);
    // A real that failed leaves new selection with one map write now; the table rebuild that
    // restores Maglev's exact shares follows in the coalesced apply.
    try {
      const out = leavingSelection(desiredService(svc, this.verdicts.get(svc.key), this.macOf), (r) => this.reconciler.ids.get(svc.key, r));
      if (out.length) this.dp.takeOutOfSelection(out);
    } catch (err) {
      this.event('apply', `taking ${e.realKey} out of selection failed: ${(err as Error).message}; the table rebuild follows`);
    }
    this.applySoon(`health ${e.realKey} ${e.to}`, svc.key);
  }

  private onCheck(e: CheckEvent): void {
    this.metrics?.observeCheck(e.serviceKey, e.realKey, e.durationMs / 1000);
    if (e.ok) return;
    const k = `${e.serviceKey}|${e.realKey}|${e.reason}`;
    const f = this.healthFailures.get(k) ?? { service: e.serviceKey, real: e.realKey, reason: failureReason(e.reason), count: 0 };
    f.count++;
    this.healthFailures.set(k, f);
  }

  /** Looks up every real's MAC (those without a configured one); true when any changed. */
  private async refreshMacs(): Promise<boolean> {
    const want = new Set<string>();
    for (const s of this.topo.services) {
      for (const r of s.reals) if (!r.mac) want.add(r.address);
      if (s.sorryServer) want.add(s.sorryServer.address);
    }
    let changed = false;
    const found = await resolveMacs([...want], this.topo.director.interface);
    for (const [a, r] of found) {
      const known = this.macs.get(a);
      if (!r.mac && known) {
        // A real that answered before keeps its MAC while the neighbour entry is briefly gone.
        this.log(`[daemon] ${a}: ${r.reason}; keeping ${known}`);
        continue;
      }
      if (known !== r.mac) {
        changed = true;
        if (r.mac) this.log(`[daemon] ${a} is at ${r.mac} (via ${r.via})`);
        else this.event('daemon', `cannot resolve the MAC of ${a}: ${r.reason}; kept out of selection`);
      }
      this.macs.set(a, r.mac);
    }
    for (const a of [...this.macs.keys()]) if (!want.has(a)) this.macs.delete(a);
    return changed;
  }

  // ---- VRRP ---------------------------------------------------------------------------------

  private startVrrp(): void {
    const cfg = vrrpConfigOf(this.topo);
    this.vrrpKey = JSON.stringify(cfg);
    if (!cfg.instances.length) return;
    const runner = new VrrpRunner(cfg, { logger: { info: (m: string) => this.log(`[vrrp] ${m}`), warn: (m: string) => this.log(`[vrrp] ${m}`) } as never });
    runner.on('transition', (c: StateChange) => {
      this.counters.vrrpTransitions[c.instance] = (this.counters.vrrpTransitions[c.instance] ?? 0) + 1;
      this.event('vrrp', `${c.instance} ${c.from} -> ${c.to} (${c.reason})`);
    });
    runner.on('advert-received', (x: { instance?: string }) => {
      const n = x?.instance ?? '?';
      this.counters.vrrpAdvertsReceived[n] = (this.counters.vrrpAdvertsReceived[n] ?? 0) + 1;
    });
    runner.on('rejected', (x: { reason?: string }) => {
      const r = x?.reason ?? 'unknown';
      this.counters.vrrpAdvertsRejected[r] = (this.counters.vrrpAdvertsRejected[r] ?? 0) + 1;
    });
    runner.start();
    this.vrrp = runner;
  }

  // ---- reload, stop, control ----------------------------------------------------------------

  /** Re-reads the file and applies the difference; an invalid file changes nothing. */
  async reload(): Promise<{ summary: string[] }> {
    let next: Topology;
    try {
      next = loadTopologyFile(this.opts.configFile);
      const runtime = checkRuntime(next);
      if (runtime.length) throw new XlvsError(ErrorCodes.CONFIG_INVALID, runtime.map((p) => `${p.path}: ${p.message}`).join('; '));
      const d = this.topo.director;
      if (next.director.name !== d.name || next.director.interface !== d.interface || next.director.pinDir !== d.pinDir) {
        throw new XlvsError(ErrorCodes.CONFIG_INVALID, 'director.name, director.interface and director.pin_root cannot change on reload: restart the daemon');
      }
    } catch (e) {
      this.counters.reloads.invalid++;
      this.event('reload', `rejected, running state kept: ${(e as Error).message}`);
      throw e;
    }
    const prev = this.topo;
    this.topo = next;
    try {
      await this.refreshMacs();
      this.syncHealth();
      const summary = this.applyNow('reload');
      const vrrpKey = JSON.stringify(vrrpConfigOf(next));
      if (vrrpKey !== this.vrrpKey) {
        this.event('reload', 'VRRP configuration changed: restarting the VRRP instances');
        await this.vrrp?.stop();
        this.vrrp = null;
        this.startVrrp();
        summary.push('restarted VRRP');
      }
      this.counters.reloads.ok++;
      this.event('reload', summary.length ? `applied: ${summary.join('; ')}` : 'no change');
      return { summary };
    } catch (e) {
      this.topo = prev;
      this.syncHealth();
      this.counters.reloads.failed++;
      this.event('reload', `failed, previous state kept: ${(e as Error).message}`);
      throw e;
    }
  }

  /** After a failed start: undo what this run created (a data plane it adopted stays). */
  async abort(): Promise<void> {
    await this.stop(this.adopted);
  }

  /** Stops everything; unless `keepForwarding`, detaches XDP and removes the pins. */
  stop(keepForwarding = false): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.event('daemon', keepForwarding ? 'stopping; forwarding stays on the pinned programs' : 'stopping: detaching XDP and removing pins');
      if (this.macTimer) clearInterval(this.macTimer);
      if (this.clockTimer) clearInterval(this.clockTimer);
      this.health.stop();
      await this.vrrp?.stop();
      await this.metrics?.close();
      await new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()));
      await this.conns?.close();
      if (!this.dp) return;
      if (keepForwarding) {
        this.dp.close();
      } else {
        try { this.dp.detach(this.topo.director.interface); } catch (e) { this.log(`[daemon] detach: ${(e as Error).message}`); }
        this.dp.destroy();
      }
    })();
    return this.stopping;
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'status': return this.snapshot();
      case 'conns':
        if (!this.conns) throw new XlvsError(ErrorCodes.CONTROL, 'conns: the data plane is not up yet');
        return connsReply(this.conns, req, this.dp.listReals());
      case 'reload': return this.reload();
      case 'stop':
        setImmediate(() => void this.stop(!!req.keepForwarding).then(() => process.exit(0)));
        return { stopping: true };
      default:
        throw new XlvsError(ErrorCodes.CONTROL, `unknown command "${req.cmd}" (status, conns, reload, stop)`);
    }
  }

  snapshot(): StatusSnapshot {
    return buildSnapshot({
      topo: this.topo, dp: this.dp, verdicts: this.verdicts, macs: this.macs, conns: this.conns ? this.conns.latest() : emptyCounts(),
      health: (s, r) => this.health.find(s, r),
      vrrp: this.vrrp ? [...this.vrrp.instances.values()] : [],
      xdpMode: this.xdpMode, startedAt: this.startedAt, adopted: this.adopted, configFile: this.opts.configFile, events: this.events,
    });
  }

  private eventCounters(): EventCounters {
    return { ...this.counters, healthFailures: [...this.healthFailures.values()] };
  }
}

/** A bounded label for the failure counter (the reason text can hold addresses and numbers). */
function failureReason(reason: string): string {
  const r = reason.toLowerCase();
  for (const k of ['timeout', 'refused', 'unreachable', 'reset', 'status', 'digest', 'regex', 'tls', 'exit', 'dns']) if (r.includes(k)) return k;
  return 'other';
}

function interfaceMtu(dev: string): number {
  try {
    return Number(fs.readFileSync(`/sys/class/net/${dev}/mtu`, 'utf8').trim()) || 1500;
  } catch {
    return 1500;
  }
}

function packageVersion(): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    return (require('../../../package.json') as { version: string }).version;
  } catch {
    return '0.0.0';
  }
}

