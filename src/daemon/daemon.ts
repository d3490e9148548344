// The xlvs daemon: the process around one Director. Loads (or adopts) the pinned data plane,
// attaches it, feeds the Director its inputs (topology, health verdicts, MACs, VRRP state) and
// lets it write the maps; serves the control socket and metrics. VRRP runs on its own thread
// (src/vrrp/thread.ts), so nothing on this thread can delay an advert. Killing the daemon does
// not stop forwarding: the programs and maps are pinned and a restarted daemon adopts them
// without touching established flows.
import * as fs from 'node:fs';
import type { Server } from 'node:net';
import { loadTopologyFileWithWarnings, checkRuntime } from '../config/load';
import type { Problem } from '../config/model';
import { applyScriptSecurity, topologyCommands } from '../config/script-security';
import type { Topology } from '../config/model';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as path from 'node:path';
import { Dataplane, PROGRAM_NAME, flowTablesOf } from '../dataplane/dataplane';
import { LB_MAPS } from '../maps/lb';
import { BpfProgram, ensureBpffs, queryXdp, setXdpWarningHandler } from '../loader';
import { XlvsError, ErrorCodes } from '../errors';
import { HealthThread } from '../health/thread';
import type { Watchdog } from '../sys/sd-notify';
import { checkerSpecs } from '../health/from-config';
import type { HealthEvent, CheckEvent } from '../health/types';
import { VrrpThread } from '../vrrp/thread';
import type { ThreadHealth } from '../sys/worker';
import type { TransitionMessage } from '../vrrp/thread-protocol';
import type { VrrpConfig } from '../vrrp/types';
import { Director, QuorumChange } from '../director/director';
import { resolveMacs, interfaceMac } from './neigh';
import { ControlRequest, OverrideRequest, OverrideResult } from '../control/protocol';
import { serveControl } from '../control/server';
import { vrrpConfigOf } from './vrrp-config';
import { buildSnapshot } from './snapshot';
import { CounterBaselines } from './zero';
import { RealOverrides, overridesFile } from './overrides';
import { ConnTable } from '../conns/table';
import { connsReply } from '../conns/reply';
import { emptyCounts } from '../conns/census';
import type { DaemonEvent, StatusSnapshot, ThreadStatus } from '../common/status';
import { startMetricsServer, MetricsServer } from '../metrics/server';
import type { EventCounters } from '../metrics/scrape';
import { StatusHistory } from '../metrics/history';
import { realTraffic } from './history-source';
import { LogRecord, makeLogger, recordOfLine } from '../sys/log';
import { applyLocalHost, hostAddresses, undoLocalHost } from './local-host';

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
  /** --insecure: run even when the topology or its scripts are writable by others than root. */
  insecure?: boolean;
  /** Every log line in the text form `[kind] message`, no timestamp (tests); else `logger`. */
  log?: (line: string) => void;
  /** Log records (xlvs run: --log-format, --log-level, journald); default text on stdout. */
  logger?: (r: LogRecord) => void;
  /** sd_notify(3) for the reload protocol: RELOADING=1 when a reload starts, READY=1 when it is over. */
  notify?: (state: string) => void;
  /** systemd's watchdog: fed by the VRRP thread, or by this thread when there is no VRRP. */
  watchdog?: Watchdog | null;
}

export class Daemon {
  private dp!: Dataplane;
  private director!: Director;
  /** Health checks on their own thread; find() reads its mirrored statuses. */
  private readonly health = new HealthThread();
  private vrrp: VrrpThread | null = null;
  private vrrpKey = '';
  /** This thread's event-loop delay, for the status page and metrics (the VRRP thread reports its own). */
  private readonly loopDelay = monitorEventLoopDelay({ resolution: 10 });
  private control: Server | null = null;
  private metrics: MetricsServer | null = null;
  private macTimer: NodeJS.Timeout | null = null;
  private watchdogTimer: NodeJS.Timeout | null = null;
  private events: DaemonEvent[] = [];
  /** The status page's rates and transitions over time; sampled while the metrics listener is up. */
  private readonly history = new StatusHistory(() => realTraffic(this.topo, this.dp));
  private readonly counters: EventCounters = {
    reloads: { ok: 0, invalid: 0, failed: 0 },
    vrrpTransitions: {}, vrrpAdvertsReceived: {}, vrrpAdvertsRejected: {}, healthFailures: [],
  };
  private healthFailures = new Map<string, EventCounters['healthFailures'][number]>();
  /** Connection counts and listings, from a worker thread: the event loop never walks lb_conns. */
  private conns: ConnTable | null = null;
  /** `xlvs zero`: what `status` subtracts from the counters (in memory; the maps are never written for it). */
  private readonly zero = new CounterBaselines();
  /** `xlvs real drain|weight`: the operator's overlay, a Director input kept in a file beside the socket. */
  private overrides!: RealOverrides;
  private xdpMode = 'none';
  private adopted = false;
  /** The pinned program of the data plane this daemon took over: attach() may replace it. */
  private replacesProgId: number | null = null;
  private startedAt = Date.now();
  private stopping: Promise<void> | null = null;
  private applyQueued = false;
  private dirty: Set<string> | 'all' = new Set();
  /** A line in the text form `[kind] message` ("warning: …" for a warning). */
  readonly log: (line: string) => void;
  private readonly emit: (r: LogRecord) => void;

  constructor(readonly opts: DaemonOptions) {
    const sink = opts.log;
    const logger = opts.logger ?? makeLogger();
    this.emit = sink ? (r) => sink(`[${r.kind}] ${r.msg}`) : logger;
    this.log = (l) => this.emit(recordOfLine(l));
    this.loopDelay.enable();
  }

  /** The topology in force. */
  get topo(): Topology {
    return this.director.topology;
  }

  /** An event: kept for the status page, and logged with its fields (src/sys/log.ts names). */
  private event(kind: DaemonEvent['kind'], message: string, fields?: LogRecord['fields'], level?: LogRecord['level']): void {
    this.events.push({ at: Date.now(), kind, message });
    if (this.events.length > EVENT_RING) this.events.splice(0, this.events.length - EVENT_RING);
    this.emit({ ...recordOfLine(`[${kind}] ${message}`), ...(level ? { level } : {}), ...(fields ? { fields } : {}) });
  }

  /** What validate warns about (a VRRPv2 secret keepalived would truncate, …), in the log too. */
  private logWarnings(warnings: Problem[]): void {
    for (const w of warnings) this.log(`[daemon] warning: ${this.opts.configFile}: ${w.path}: ${w.message}${w.line ? ` (line ${w.line})` : ''}`);
  }

  /** Loads the topology, brings up the data plane and everything around it. */
  async start(): Promise<void> {
    const { topology: topo, warnings } = loadTopologyFileWithWarnings(this.opts.configFile);
    this.logWarnings(warnings);
    const runtime = checkRuntime(topo);
    if (runtime.length) {
      throw new XlvsError(ErrorCodes.CONFIG_INVALID, `${this.opts.configFile}: ${runtime.map((p) => `${p.path}: ${p.message}`).join('; ')}`);
    }
    applyScriptSecurity(this.opts.configFile, topologyCommands(topo), topo.scriptUser, { insecure: this.opts.insecure, warn: (m) => this.log(`[daemon] warning: ${m}`) });
    const d = topo.director;
    setXdpWarningHandler((msg: string) => this.event('daemon', `warning: ${msg}`));
    ensureBpffs(d.pinRoot);
    fs.mkdirSync(d.pinDir, { recursive: true });

    const mac = interfaceMac(d.interface);
    if (!mac) throw new XlvsError(ErrorCodes.CONFIG_INVALID, `director.interface: ${d.interface} has no MAC address`);
    const dirCfg = { mac, tunSource4: d.tunSource4 ?? undefined, tunSource6: d.tunSource6 ?? undefined, mtu: interfaceMtu(d.interface), tables: flowTablesOf(d) };
    const progPin = path.join(d.pinDir, PROGRAM_NAME);
    if ([PROGRAM_NAME, ...LB_MAPS].some((n) => fs.existsSync(path.join(d.pinDir, n)))) {
      // Restarted (after a crash, or `xlvs stop --keep-forwarding` and an upgrade), or a
      // re-pin was interrupted. The same build adopts the pins and writes only the difference.
      // Another build loads its program over the pinned maps it can reuse; its first apply
      // rebuilds every table and attach() swaps the program; the old one forwards until then.
      if (fs.existsSync(progPin)) {
        const old = BpfProgram.openPinned(progPin);
        this.replacesProgId = old.id;
        old.close();
      } else {
        // Maps without a program pin: the program on the interface, if it is an lb program,
        // is the one they belonged to; attach() replaces it.
        this.replacesProgId = attachedLbProgram(d.interface);
      }
      const over = Dataplane.loadOver({ pinDir: d.pinDir, ...dirCfg });
      this.dp = over.dp;
      this.adopted = true;
      this.director = new Director(this.dp, topo, { adoptPinned: !over.replaced, health: (s, r) => this.health.find(s, r) });
      const vips = this.dp.vips.list().length;
      const reals = this.dp.reals.list().length;
      if (!over.replaced) {
        this.event('daemon', `adopted pinned data plane at ${d.pinDir} (${vips} VIPs, ${reals} reals)`);
      } else {
        this.event('daemon', `took over the pinned data plane of another build at ${d.pinDir} (${vips} VIPs, ${reals} reals; ` +
          `maps kept: ${over.reused.length}, new: ${over.created.join(', ')})`);
      }
    } else {
      this.dp = Dataplane.create({ pinDir: d.pinDir, ...dirCfg });
      this.director = new Director(this.dp, topo, { health: (s, r) => this.health.find(s, r) });
      this.event('daemon', `loaded and pinned the data plane at ${d.pinDir}`);
    }

    this.overrides = RealOverrides.load(overridesFile(topo), (m) => this.event('daemon', m));
    for (const l of this.overrides.retain(topo)) this.event('daemon', l);
    for (const o of this.overrides.list()) this.event('daemon', `override in force from ${this.overrides.file}: ${o.service} ${o.real}${o.drained ? ' drained' : ''}${o.weight !== undefined ? ` weight ${o.weight}` : ''}`);
    this.director.setOverrides(this.overrides.map());

    this.conns = new ConnTable({ pinDir: d.pinDir, intervalMs: CONN_CENSUS_MS, onError: (m) => this.event('daemon', `warning: ${m}`) });
    this.dp.flows.startClock(CLOCK_TICK_MS);
    this.director.setHostAddresses(hostAddresses(topo));
    await this.refreshMacs();
    this.health.on('transition', (e: HealthEvent) => this.onHealth(e));
    this.health.on('check', (e: CheckEvent) => this.onCheck(e));
    this.health.on('crashed', (e: Error) => this.event('health', e.message, undefined, 'error'));
    await this.health.start();
    await this.syncHealth();
    this.applyNow('start');
    this.localHost('start');
    this.attach();

    await this.startVrrp(vrrpConfigOf(topo));
    this.macTimer = setInterval(() => void this.refreshMacs().then((changed) => { if (changed) this.applySoon('MAC change'); }), MAC_REFRESH_MS);
    // Without VRRP (or between two VRRP threads, during a reload) this thread feeds the watchdog.
    const wd = this.opts.watchdog;
    if (wd) this.watchdogTimer = setInterval(() => { if (!this.vrrp) this.opts.notify?.('WATCHDOG=1'); }, wd.intervalMs);

    this.control = await serveControl(topo.control.socket, (req) => this.handle(req));
    if (topo.metrics.enabled) {
      this.metrics = await startMetricsServer(`${topo.metrics.host.includes(':') ? `[${topo.metrics.host}]` : topo.metrics.host}:${topo.metrics.port}`, {
        snapshot: () => this.snapshot(), eventCounters: () => this.eventCounters(), version: packageVersion(), history: this.history,
      });
    }
    this.event('daemon', `running: director ${d.name} on ${d.interface} (XDP ${this.xdpMode}), ${topo.services.length} services, control ${topo.control.socket}` +
      (this.metrics ? `, metrics http://${topo.metrics.host}:${topo.metrics.port}/metrics` : ''));
  }

  /** The director's interface, and the inside one of a two-armed NAT director. */
  private interfaces(): string[] {
    const d = this.topo.director;
    return d.insideInterface && d.insideInterface !== d.interface ? [d.interface, d.insideInterface] : [d.interface];
  }

  private attach(): void {
    for (const ifname of this.interfaces()) this.attachTo(ifname);
  }

  private attachTo(ifname: string): void {
    const d = this.topo.director;
    const q = queryXdp(ifname);
    const ours = this.dp.program.id;
    if (q.native === ours || q.generic === ours) {
      this.xdpMode = q.native === ours ? 'native' : 'generic';
      this.dp.addTxPort(ifname);
      return;
    }
    const prev = this.replacesProgId;
    if (prev !== null && (q.native === prev || q.generic === prev)) {
      // One atomic swap in the mode the previous program ran in: no packet meets no program.
      this.xdpMode = this.dp.attach(ifname, q.native === prev ? 'native' : 'generic').mode;
      this.event('daemon', `replaced XDP program ${prev} with ${ours} (${this.xdpMode}) on ${ifname}`);
      return;
    }
    if (q.native !== undefined || q.generic !== undefined) {
      throw new XlvsError(ErrorCodes.BPF_ATTACH, `${ifname} already has another XDP program (id ${q.native ?? q.generic}); detach it first (ip link set dev ${ifname} xdp off)`);
    }
    this.xdpMode = this.dp.attach(ifname, d.xdpMode).mode;
    if (this.xdpMode !== d.xdpMode) this.event('daemon', `warning: ${d.xdpMode} XDP failed on ${ifname}; running in ${this.xdpMode} mode`);
    else this.event('daemon', `attached XDP (${this.xdpMode}) to ${ifname}`);
  }

  // ---- inputs to the Director ---------------------------------------------------------------

  private async syncHealth(): Promise<void> {
    const r = await this.health.sync(checkerSpecs(this.topo.services));
    if (r.started.length || r.stopped.length) this.log(`[health] checkers: ${r.kept.length} kept, ${r.started.length} started, ${r.stopped.length} stopped`);
    this.logQuorum(this.director.refreshVerdicts());
  }

  private logQuorum(changes: QuorumChange[]): void {
    for (const c of changes) {
      this.event('health', `${c.service}: ${c.sorry ? 'quorum lost, sorry server takes new flows' : 'quorum regained'} (${c.reason})`,
        { service: c.service, state: c.sorry ? 'quorum-lost' : 'quorum', reason: c.reason }, c.sorry ? 'warning' : 'info');
    }
  }

  /**
   * The host side of the local reals (src/daemon/local-host.ts): their VIPs on lo and the ARP
   * sysctls, set once (not per VRRP transition); a failure is logged and leaves forwarding as it is.
   */
  private localHost(why: string): void {
    try {
      const vips = this.director.localVips();
      for (const [svc, real] of this.director.localReals()) this.event('daemon', `${svc}: real ${real} is this director: its flows are delivered here (${why})`, { service: svc, real });
      for (const c of applyLocalHost(this.topo, vips)) this.event('daemon', `local real host setup: ${c} (${why})`);
    } catch (e) {
      this.event('daemon', `local real host setup failed: ${(e as Error).message}`, undefined, 'error');
    }
  }

  /** Applies the whole desired state, or with `only` just those services (health events). */
  private applyNow(why: string, only?: ReadonlySet<string>): string[] {
    const before = only ? [] : this.director.noAcceptInForce();
    const { summary } = this.director.apply(only);
    this.zero.retain(this.dp.vips.list().map((v) => v.id), this.dp.reals.list().map((r) => r.id));
    for (const s of summary) this.event('apply', `${s} (${why})`);
    if (!only) {
      const after = this.director.noAcceptInForce();
      if (before.join() !== after.join()) this.event('apply', `VRRP no-accept addresses: ${after.join(', ') || 'none'} (${why})`);
    }
    return summary;
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
        this.event('apply', `failed: ${(e as Error).message}`, { result: 'failed' }, 'error');
      }
    });
  }

  private onHealth(e: HealthEvent): void {
    if (e.from !== e.to) {
      this.event('health', `${e.serviceKey} ${e.realKey} ${e.to}: ${e.reason}`,
        { service: e.serviceKey, real: e.realKey, state: e.to, from: e.from, reason: e.reason }, e.to === 'down' ? 'warning' : 'info');
    }
    if (e.from !== e.to) this.history.health({ at: e.time, service: e.serviceKey, real: e.realKey, from: e.from, to: e.to, reason: e.reason });
    let r: ReturnType<Director['healthEvent']>;
    try {
      // A real that failed leaves new selection with one map write now; the table rebuild that
      // restores Maglev's exact shares follows in the coalesced apply.
      r = this.director.healthEvent(e);
    } catch (err) {
      this.event('apply', `taking ${e.realKey} out of selection failed: ${(err as Error).message}; the table rebuild follows`);
      r = { service: e.serviceKey, changes: [], outOfSelection: [] };
    }
    if (!r) return;
    this.logQuorum(r.changes);
    this.applySoon(`health ${e.realKey} ${e.to}`, r.service);
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
      // A local real is not sent to: no MAC to look for (its own address has no neighbour entry).
      for (const r of s.reals) if (!r.mac && !r.local && !this.director.isLocalAddress(r.address)) want.add(r.address);
      if (s.sorryServer) want.add(s.sorryServer.address);
    }
    let changed = false;
    const found = await resolveMacs([...want], this.topo.director.interface);
    const known = this.director.knownMacs();
    for (const [a, r] of found) {
      const was = known.get(a);
      if (!r.mac && was) {
        // A real that answered before keeps its MAC while the neighbour entry is briefly gone.
        this.log(`[daemon] ${a}: ${r.reason}; keeping ${was}`);
        continue;
      }
      if (was !== r.mac) {
        changed = true;
        if (r.mac) this.log(`[daemon] ${a} is at ${r.mac} (via ${r.via})`);
        else this.event('daemon', `cannot resolve the MAC of ${a}: ${r.reason}; kept out of selection`);
      }
      this.director.setMac(a, r.mac);
    }
    for (const a of [...known.keys()]) if (!want.has(a)) this.director.forgetMac(a);
    return changed;
  }

  // ---- VRRP (its own thread) ----------------------------------------------------------------

  /** Starts the VRRP thread for `cfg` (nothing when it has no instances); rejects if it cannot start. */
  private async startVrrp(cfg: VrrpConfig): Promise<void> {
    this.vrrpKey = JSON.stringify(cfg);
    if (!cfg.instances.length) return;
    const t = new VrrpThread(cfg, { watchdog: this.opts.watchdog });
    t.on('log', (l: { level: string; line: string }) => this.log(`[vrrp] ${l.line}`));
    t.on('crashed', (e: Error) => this.event('vrrp', e.message, undefined, 'error'));
    t.on('transition', (c: TransitionMessage) => {
      this.counters.vrrpTransitions[c.instance] = (this.counters.vrrpTransitions[c.instance] ?? 0) + 1;
      const touched = this.director.setVrrpState(c.instance, c.to);
      this.event('vrrp', `${c.instance} ${c.from} -> ${c.to} (${c.reason})`, { vrrp_instance: c.instance, state: c.to, from: c.from, reason: c.reason });
      // Services with a local real follow the instance at once: Master schedules, anything else
      // delivers here only (a VIP entry each, no table rebuilt). The advert timing is the VRRP
      // thread's own; this runs after the transition, never before it.
      if (touched.size) {
        try {
          this.applyNow(`vrrp ${c.instance} ${c.to}`, touched);
        } catch (e) {
          this.event('apply', `failed: ${(e as Error).message}`, { result: 'failed' }, 'error');
        }
      }
      this.history.vrrp({ at: Date.now(), instance: c.instance, from: c.from, to: c.to, reason: c.reason });
    });
    t.on('advert-received', (x: { instance: string }) => {
      this.counters.vrrpAdvertsReceived[x.instance] = (this.counters.vrrpAdvertsReceived[x.instance] ?? 0) + 1;
    });
    t.on('rejected', (x: { reason: string }) => {
      this.counters.vrrpAdvertsRejected[x.reason] = (this.counters.vrrpAdvertsRejected[x.reason] ?? 0) + 1;
    });
    await t.start();
    this.vrrp = t;
  }

  /**
   * Replaces the VRRP thread with one for `next`. If the new one cannot start, the previous
   * instances are started again and the error is thrown (the reload then fails as a whole).
   */
  private async restartVrrp(prev: VrrpConfig, next: VrrpConfig): Promise<void> {
    await this.vrrp?.stop();
    this.vrrp = null;
    try {
      await this.startVrrp(next);
    } catch (e) {
      this.event('vrrp', `the new VRRP configuration did not start (${(e as Error).message}); restarting the previous instances`);
      try {
        await this.startVrrp(prev);
      } catch (e2) {
        this.event('vrrp', `the previous VRRP instances did not start again either: ${(e2 as Error).message}`);
      }
      throw e;
    }
  }

  // ---- reload, stop, control ----------------------------------------------------------------

  /**
   * Re-reads the file and applies the difference; an invalid file changes nothing. Under systemd
   * the unit shows as reloading meanwhile (RELOADING=1, then READY=1 whatever the outcome: the
   * daemon forwards with the new or the previous topology).
   */
  async reload(opts: { clearOverrides?: boolean } = {}): Promise<{ summary: string[] }> {
    this.opts.notify?.(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`);
    try {
      const r = await this.reloadNow(opts);
      this.opts.notify?.(`READY=1\nSTATUS=forwarding with ${this.opts.configFile} (reloaded)`);
      return r;
    } catch (e) {
      this.opts.notify?.(`READY=1\nSTATUS=forwarding with the previous topology; reload refused: ${(e as Error).message.split('\n')[0]}`);
      throw e;
    }
  }

  private async reloadNow(opts: { clearOverrides?: boolean }): Promise<{ summary: string[] }> {
    let next: Topology;
    try {
      const loaded = loadTopologyFileWithWarnings(this.opts.configFile);
      next = loaded.topology;
      this.logWarnings(loaded.warnings);
      const runtime = checkRuntime(next);
      if (runtime.length) throw new XlvsError(ErrorCodes.CONFIG_INVALID, runtime.map((p) => `${p.path}: ${p.message}`).join('; '));
      const d = this.topo.director;
      if (next.director.name !== d.name || next.director.interface !== d.interface || next.director.pinDir !== d.pinDir ||
        (next.director.insideInterface ?? null) !== (d.insideInterface ?? null)) {
        throw new XlvsError(ErrorCodes.CONFIG_INVALID, 'director.name, director.interface, director.inside_interface and director.pin_root cannot change on reload: restart the daemon');
      }
      if (JSON.stringify(flowTablesOf(next.director)) !== JSON.stringify(flowTablesOf(d))) {
        throw new XlvsError(ErrorCodes.CONFIG_INVALID, 'director.conn_table and director.persistence_table cannot change on reload: restart the daemon ' +
          '(a resized table is created empty: its flows are forgotten)');
      }
      applyScriptSecurity(this.opts.configFile, topologyCommands(next), next.scriptUser, { insecure: this.opts.insecure, warn: (m) => this.log(`[reload] warning: ${m}`) });
    } catch (e) {
      this.counters.reloads.invalid++;
      this.event('reload', `rejected, running state kept: ${(e as Error).message}`, { result: 'rejected' }, 'error');
      throw e;
    }
    const prev = this.topo;
    const prevVrrp = vrrpConfigOf(prev);
    const nextVrrp = vrrpConfigOf(next);
    let mapsChanged = false;
    try {
      this.director.setTopology(next);
      this.director.setHostAddresses(hostAddresses(next));
      if (opts.clearOverrides) this.director.setOverrides(new Map());
      await this.refreshMacs();
      await this.syncHealth();
      mapsChanged = true;
      const summary = this.applyNow('reload');
      if (JSON.stringify(nextVrrp) !== this.vrrpKey) {
        this.event('reload', 'VRRP configuration changed: restarting the VRRP instances');
        await this.restartVrrp(prevVrrp, nextVrrp);
        summary.push('restarted VRRP');
      }
      this.localHost('reload');
      if (opts.clearOverrides && this.overrides.clearAll()) summary.push('cleared the operator overrides');
      for (const l of this.overrides.retain(next)) this.event('reload', l);
      this.counters.reloads.ok++;
      this.event('reload', summary.length ? `applied: ${summary.join('; ')}` : 'no change', { result: summary.length ? 'applied' : 'no-change' });
      return { summary };
    } catch (e) {
      // Back to the previous topology, maps included: nothing of this reload stays.
      this.director.setTopology(prev);
      try { this.director.setHostAddresses(hostAddresses(prev)); } catch { /* keep the addresses read last */ }
      this.director.setOverrides(this.overrides.map());
      try { await this.syncHealth(); } catch (e2) { this.event('reload', `restoring the previous checks failed: ${(e2 as Error).message}`); }
      if (mapsChanged) {
        try { this.applyNow('reload rolled back'); } catch (e2) { this.event('reload', `rolling the maps back failed: ${(e2 as Error).message}`); }
        this.localHost('reload rolled back');
      }
      this.counters.reloads.failed++;
      this.event('reload', `failed, previous state kept: ${(e as Error).message}`, { result: 'failed' }, 'error');
      throw e;
    }
  }

  /**
   * Logs what nothing else caught, counts it and keeps running: the data plane forwards on its
   * own, VRRP lives on its own thread, and exiting would hand the VIP to the peer for nothing.
   */
  installProcessHandlers(): void {
    const report = (what: string, e: unknown) => {
      this.counters.uncaught = (this.counters.uncaught ?? 0) + 1;
      this.event('daemon', `${what} (the daemon keeps running, forwarding is untouched): ${e instanceof Error ? e.stack ?? e.message : String(e)}`);
    };
    process.on('uncaughtException', (e) => report('uncaught exception', e));
    process.on('unhandledRejection', (e) => report('unhandled promise rejection', e));
  }

  /** After a failed start: undo what this run created (a data plane it adopted stays). */
  async abort(): Promise<void> {
    await this.stop(this.adopted);
  }

  /**
   * SIGTERM/SIGINT (systemctl stop/restart): `director.on_sigterm` decides, keep by default, so a
   * restart keeps every connection (the next daemon adopts the pins). VRRP hands the VIPs over
   * either way. Before the topology is in force, only a data plane this run created is removed.
   */
  stopOnSignal(): Promise<void> {
    const keep = this.director ? this.topo.director.onSigterm === 'keep' : this.adopted;
    return this.stop(keep);
  }

  /** Stops everything; unless `keepForwarding`, detaches XDP and removes the pins. */
  stop(keepForwarding = false): Promise<void> {
    if (this.stopping) return this.stopping;
    this.stopping = (async () => {
      this.event('daemon', keepForwarding ? 'stopping; forwarding stays on the pinned programs' : 'stopping: detaching XDP and removing pins');
      if (this.macTimer) clearInterval(this.macTimer);
      if (this.watchdogTimer) clearInterval(this.watchdogTimer);
      await this.health.stop();
      await this.vrrp?.stop();
      await this.metrics?.close();
      await new Promise<void>((r) => (this.control ? this.control.close(() => r()) : r()));
      await this.conns?.close();
      this.loopDelay.disable();
      if (!this.dp) return;
      if (keepForwarding) {
        this.dp.close();
      } else {
        for (const ifname of this.interfaces()) {
          try { this.dp.detach(ifname); } catch (e) { this.log(`[daemon] detach ${ifname}: ${(e as Error).message}`); }
        }
        this.dp.destroy();
        // Nothing delivers to the local reals any more: their VIPs leave lo, the sysctls go back.
        try {
          for (const c of undoLocalHost(this.topo)) this.log(`[daemon] local real host setup undone: ${c}`);
        } catch (e) { this.log(`[daemon] local real host setup: ${(e as Error).message}`); }
      }
    })();
    return this.stopping;
  }

  private async handle(req: ControlRequest): Promise<unknown> {
    switch (req.cmd) {
      case 'status': return this.zero.apply(this.snapshot());
      case 'zero': {
        const r = this.zero.zero(this.snapshot(), req.service);
        this.event('daemon', `zeroed the listed counters of ${req.service === undefined ? 'every service' : r.zeroed.join(', ')} (metrics keep the raw totals)`);
        return r;
      }
      case 'conns':
        if (!this.conns) throw new XlvsError(ErrorCodes.CONTROL, 'conns: the data plane is not up yet');
        return connsReply(this.conns, req, this.dp.reals.list(), this.dp.vips.list());
      case 'real': return this.realOverride(req as OverrideRequest);
      case 'reload': return this.reload({ clearOverrides: !!req.clearOverrides });
      case 'stop':
        setImmediate(() => void this.stop(!!req.keepForwarding).then(() => process.exit(0)));
        return { stopping: true };
      default:
        throw new XlvsError(ErrorCodes.CONTROL, `unknown command "${req.cmd}" (status, conns, zero, real, reload, stop)`);
    }
  }

  /** `xlvs real drain|undrain|weight|clear`: the overlay changes (and its file), then the services it touched are applied. */
  private realOverride(req: OverrideRequest): OverrideResult {
    const { result, services } = this.overrides.handle(req, this.topo);
    this.director.setOverrides(this.overrides.map());
    for (const c of result.changed) this.event('daemon', c);
    if (services.size) this.applyNow(`xlvs real ${req.op}`, services);
    return result;
  }

  /** How each thread of the daemon is doing: event-loop delay, last report, restarts. */
  private threads(): ThreadStatus[] {
    const main: ThreadStatus = {
      name: 'main', running: true, loopDelayMaxMs: this.loopDelay.max / 1e6, loopDelayP99Ms: this.loopDelay.percentile(99) / 1e6,
      lastReportAgeMs: 0, restarts: 0,
    };
    this.loopDelay.reset();
    const of = (name: string, h: ThreadHealth): ThreadStatus => ({
      name, running: h.running, loopDelayMaxMs: h.loopDelayMaxMs, loopDelayP99Ms: h.loopDelayP99Ms,
      lastReportAgeMs: h.lastStatusAt ? Date.now() - h.lastStatusAt : -1, restarts: h.restarts,
    });
    const out = [main, of('health', this.health.threadHealth())];
    if (this.vrrp) out.push(of('vrrp', this.vrrp.threadHealth()));
    return out;
  }

  snapshot(): StatusSnapshot {
    return buildSnapshot({
      topo: this.topo, dp: this.dp, verdicts: (k) => this.director.verdict(k), macs: this.director.knownMacs(), conns: this.conns ? this.conns.latest() : emptyCounts(),
      health: (s, r) => this.health.find(s, r), overrides: (s, r) => this.overrides?.of(s, r),
      vrrp: this.vrrp ? this.vrrp.instances() : [],
      threads: this.threads(),
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

/** The id of the XDP program on `dev` when it is an lb program (by its kernel name), else null. */
function attachedLbProgram(dev: string): number | null {
  const q = queryXdp(dev);
  for (const id of [q.native, q.generic]) {
    if (id === undefined) continue;
    try {
      const p = BpfProgram.openById(id);
      const ours = p.name === PROGRAM_NAME;
      p.close();
      if (ours) return id;
    } catch { /* gone meanwhile */ }
  }
  return null;
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

