// The Director: the one way data flows into the maps. Inputs — the topology, health verdicts per
// service, real MACs, VRRP state per instance — go in; the desired state (services and no-accept
// addresses) comes out; the reconciler writes the difference, including the fast "out of
// selection" write a failed real gets before its table is rebuilt. The daemon, `xlvs simulate`,
// the benchmarks and the tests all drive the data plane through this object, so there is one
// wiring to trust. Flow-state sync between directors and a routing agent are meant to be further
// inputs and outputs here.
import type { ServiceModel, Topology } from '../config/model';
import type { ServiceVerdict } from '../health/quorum';
import { ServiceHealth, realInputs, Runner, StatusLookup } from '../health/service';
import type { HealthEvent } from '../health/types';
import type { Dataplane } from '../dataplane/dataplane';
import { LB } from '../maps/lb';
import { Reconciler } from '../reconciler/reconciler';
import { RealIds } from '../reconciler/ids';
import type { DesiredService, DesiredState } from '../reconciler/desired';
import { DataplanePortAdapter, adoptedState } from './dataplane-port';
import { desiredService, desiredState, noAcceptAddresses, RealOverride, LocalView, holdsVip } from './desired-from-model';

/** The highest real id (bpf/include/lb_shared.h LB_MAX_REALS; id 0 = none). */
const MAX_REAL_ID = LB.MAX_REALS - 1;

export interface Desired {
  services: DesiredState;
  /** VIPs the lb program must not let the kernel accept (VRRP accept: false). */
  noAccept: string[];
}

export interface ApplyOutcome {
  /** One line per write, for the event log. */
  summary: string[];
}

export type VrrpInstanceState = 'INIT' | 'BACKUP' | 'MASTER' | 'FAULT';

export interface DirectorOptions {
  /**
   * Take over what the pinned maps hold (a restarted daemon of the same build): the first apply
   * then writes only the difference. Otherwise the first apply writes everything.
   */
  adoptPinned?: boolean;
  /** Where the checkers' states are read (default: none, every real counts as configured). */
  health?: StatusLookup;
  /** Runs quorum_up/quorum_down and notify_up/notify_down commands (default: src/health/notify.ts). */
  notifyRunner?: Runner;
}

/** A service whose quorum verdict changed (the sorry server took over, or gave back). */
export interface QuorumChange { service: string; sorry: boolean; reason: string }

export class Director {
  private topo: Topology;
  private readonly verdicts = new Map<string, ServiceVerdict>();
  private readonly macs = new Map<string, string | null>();
  private readonly vrrp = new Map<string, VrrpInstanceState>();
  /** This machine's addresses found at run time (director.interface); director.addresses count too. */
  private hostAddrs: ReadonlySet<string> = new Set();
  /**
   * The local modes the pinned maps held when this Director adopted them: kept for a VIP until
   * the VRRP instance carrying it reports a state, so a restarted daemon does not turn a Master's
   * scheduling into local-only delivery (moving the flows it forwarded) while VRRP starts up.
   */
  private readonly adoptedLocal = new Map<string, string>();
  /** The operator's runtime overrides (`xlvs real drain|weight`), by service key then real key. */
  private overrides: ReadonlyMap<string, ReadonlyMap<string, RealOverride>> = new Map();
  private readonly reconciler: Reconciler;
  /** The reconciler's writes into `dataplane` (benchmarks wrap its methods to time them). */
  readonly port: DataplanePortAdapter;
  private readonly serviceHealth: ServiceHealth;
  private readonly health: StatusLookup;

  constructor(readonly dataplane: Dataplane, topo: Topology, opts: DirectorOptions = {}) {
    this.topo = topo;
    this.serviceHealth = new ServiceHealth(opts.notifyRunner);
    this.health = opts.health ?? (() => undefined);
    const ids = new RealIds(MAX_REAL_ID);
    this.port = new DataplanePortAdapter(dataplane);
    this.reconciler = new Reconciler(this.port, ids);
    if (opts.adoptPinned) {
      const { state, realIds } = adoptedState(dataplane, topo);
      for (const r of realIds) ids.adopt(r.service, r.real, r.id);
      this.reconciler.adopt(state);
      for (const [k, d] of state) if (d.vip.localMode !== 'none') this.adoptedLocal.set(k, d.vip.localMode);
    } else {
      // Ids of reals already in the maps (another build's, taken over) stay theirs.
      for (const r of adoptedState(dataplane, topo).realIds) ids.adopt(r.service, r.real, r.id);
    }
  }

  // ---- inputs -------------------------------------------------------------------------------

  get topology(): Topology { return this.topo; }

  /** A new topology (reload); verdicts of services that are gone are forgotten. */
  setTopology(topo: Topology): void {
    this.topo = topo;
    const keys = new Set(topo.services.map((s) => s.key));
    for (const k of [...this.verdicts.keys()]) {
      if (!keys.has(k)) { this.verdicts.delete(k); this.serviceHealth.forget(k); }
    }
  }

  /** Sets a verdict directly (simulate: reals given as down); the daemon uses refreshVerdicts(). */
  setVerdict(serviceKey: string, v: ServiceVerdict): void {
    this.verdicts.set(serviceKey, v);
  }

  /**
   * Recomputes the verdicts (quorum, hysteresis, inhibit_on_failure) of every service, or of one,
   * from the checkers' states; runs quorum_up/quorum_down on a change, and returns the changes.
   */
  refreshVerdicts(serviceKey?: string): QuorumChange[] {
    const changes: QuorumChange[] = [];
    for (const svc of this.topo.services) {
      if (serviceKey !== undefined && svc.key !== serviceKey) continue;
      const v = this.computeVerdict(svc);
      const before = this.verdicts.get(svc.key);
      if (before && before.sorry !== v.sorry) changes.push({ service: svc.key, sorry: v.sorry, reason: v.reason });
      this.verdicts.set(svc.key, v);
    }
    return changes;
  }

  private computeVerdict(svc: ServiceModel): ServiceVerdict {
    return this.serviceHealth.update(
      svc.key,
      realInputs(svc.key, svc.reals, this.health),
      { min: svc.quorum.min, hysteresis: svc.quorum.hysteresis, hasSorry: !!svc.sorryServer },
      { quorumUp: svc.quorum.up, quorumDown: svc.quorum.down },
    );
  }

  /**
   * A checker's transition: notify_up/notify_down, the service's verdict again, and the reals
   * that left selection out of it at once (one write each). The caller applies the service
   * (`apply(new Set([service]))`) soon after, which rebuilds its table.
   */
  healthEvent(e: HealthEvent): { service: string; changes: QuorumChange[]; outOfSelection: number[] } | null {
    const svc = this.topo.services.find((s) => s.key === e.serviceKey);
    const real = svc?.reals.find((r) => r.key === e.realKey);
    if (!svc || !real) return null;
    this.serviceHealth.realEvent(e, { notifyUp: real.notifyUp, notifyDown: real.notifyDown }, real.address, real.port);
    const changes = this.refreshVerdicts(svc.key);
    return { service: svc.key, changes, outOfSelection: this.outOfSelection(svc.key) };
  }

  verdict(serviceKey: string): ServiceVerdict | undefined {
    return this.verdicts.get(serviceKey);
  }

  /** A real's MAC as resolved (null: not resolvable now; such a real stays out of selection). */
  setMac(address: string, mac: string | null): void {
    this.macs.set(address, mac);
  }

  forgetMac(address: string): void {
    this.macs.delete(address);
  }

  knownMacs(): ReadonlyMap<string, string | null> {
    return this.macs;
  }

  /**
   * The operator's overrides (`xlvs real drain|undrain|weight`), replacing the previous set:
   * a weight instead of the topology's, or drained (no new flows, established ones continue).
   * Keys the topology does not have are ignored. The caller applies the services it touched.
   */
  setOverrides(o: ReadonlyMap<string, ReadonlyMap<string, RealOverride>>): void {
    this.overrides = o;
  }

  /**
   * VRRP state per instance. A service with a local real (this director is one of its reals)
   * schedules while we hold its VIP and delivers everything here while we do not (IPVS
   * backup_only); the routes and flow sync to come will follow it too. Returns the services
   * whose desired state changed, for the caller to apply (`apply(services)`) at once.
   */
  setVrrpState(instance: string, state: VrrpInstanceState): Set<string> {
    const inst = this.topo.vrrp.find((i) => i.name === instance);
    const vips = new Set(inst?.vips.map((v) => v.address) ?? []);
    const before = this.localModes(vips);
    this.vrrp.set(instance, state);
    const after = this.localModes(vips);
    return new Set([...after].filter(([k, m]) => before.get(k) !== m).map(([k]) => k));
  }

  /** The local mode of the services on these VIP addresses (those with a local real only). */
  private localModes(vips: ReadonlySet<string>): Map<string, string> {
    const out = new Map<string, string>();
    for (const svc of this.topo.services) {
      if (!vips.has(svc.vip)) continue;
      const d = this.desiredService(svc.key);
      if (d && d.vip.localMode !== 'none') out.set(svc.key, d.vip.localMode);
    }
    return out;
  }

  /**
   * This machine's own addresses as found at run time (the daemon reads director.interface): a
   * real at one of them, or at one of director.addresses, or marked `local: true`, is this
   * director. The caller applies everything after a change.
   */
  setHostAddresses(addrs: Iterable<string>): void {
    this.hostAddrs = new Set(addrs);
  }

  /** Is this address this director's own (director.addresses, or found on its interface)? */
  isLocalAddress(a: string): boolean {
    return this.localView.isLocal(a);
  }

  /** The VIP addresses of the services that have a local real (they go on lo). */
  localVips(): string[] {
    const keys = this.localReals();
    return [...new Set(this.topo.services.filter((s) => keys.has(s.key)).map((s) => s.vip))];
  }

  /** The reals that are this director, by service key (for the host setup and `list`). */
  localReals(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [k, d] of this.desired().services) {
      const r = d.reals.find((x) => x.local);
      if (r) out.set(k, r.key);
    }
    return out;
  }

  vrrpState(instance: string): VrrpInstanceState | undefined {
    return this.vrrp.get(instance);
  }

  // ---- outputs ------------------------------------------------------------------------------

  private macOf = (a: string): string | null => this.macs.get(a) ?? null;
  private readonly localView: LocalView = {
    isLocal: (a) => this.hostAddrs.has(a) || this.topo.director.addresses.some((x) => x.address === a),
    holdsVip: (vip, key) => {
      const covering = this.topo.vrrp.filter((i) => i.vips.some((v) => v.address === vip));
      const adopted = this.adoptedLocal.get(key);
      if (adopted && covering.length && covering.every((i) => !this.vrrp.has(i.name))) return adopted === 'active';
      return holdsVip(this.topo, (i) => this.vrrp.get(i), vip);
    },
  };
  private overrideOf = (service: string, real: string): RealOverride | undefined => this.overrides.get(service)?.get(real);

  desiredService(serviceKey: string): DesiredService | undefined {
    const svc = this.topo.services.find((s) => s.key === serviceKey);
    return svc ? desiredService(svc, this.verdicts.get(svc.key), this.macOf, this.overrideOf, this.localView) : undefined;
  }

  desired(): Desired {
    return { services: desiredState(this.topo, this.verdicts, this.macOf, this.overrideOf, this.localView), noAccept: noAcceptAddresses(this.topo) };
  }

  /**
   * Writes the difference between the desired state and the maps: everything, or with `only`
   * just those services (a health verdict touches one service). On failure nothing of this
   * apply stays and E_APPLY is thrown.
   */
  apply(only?: ReadonlySet<string>): ApplyOutcome {
    if (only) {
      const services: DesiredState = new Map();
      for (const k of only) {
        const d = this.desiredService(k);
        if (d) services.set(k, d);
      }
      return { summary: this.reconciler.apply(services, only).summary };
    }
    const d = this.desired();
    const summary = this.reconciler.apply(d.services).summary;
    const na = this.reconciler.applyNoAccept(d.noAccept);
    for (const a of na.added) summary.push(`no-accept ${a}`);
    for (const a of na.removed) summary.push(`accept ${a}`);
    return { summary };
  }

  /**
   * A verdict's fast half: the service's reals that left selection stop getting new flows with
   * one write each, now; `apply(new Set([serviceKey]))` rebuilds the table after.
   */
  outOfSelection(serviceKey: string): number[] {
    const d = this.desiredService(serviceKey);
    return d ? this.reconciler.outOfSelection(d) : [];
  }

  /** The no-accept addresses in force. */
  noAcceptInForce(): string[] {
    return this.dataplane.vips.listNoAccept();
  }
}
