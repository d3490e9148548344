// Runs a whole VRRP configuration: every instance, the vrrp_scripts and interface tracking that
// adjust their priorities, and sync groups that move members together. Usable standalone
// (`xlvs vrrp`) or from the daemon, which passes hooks and reads `counters()`/events.
import { EventEmitter } from 'node:events';
import { spawn } from 'node:child_process';
import type { VrrpConfig, VrrpScriptConfig } from './types';
import { VrrpInstance, InstanceOptions, consoleLogger, Logger, StateChange, Counters, NetOps, systemNetOps } from './io';
import { trackedPriority, scriptResult, ScriptFilter, TrackItem } from './state';
import { scriptIdentity } from '../sys/run-as';
import { timerMs } from '../config/limits';

const LINK_POLL_MS = 250; // interface tracking by polling operstate (keepalived uses netlink)

interface ScriptRun { cfg: VrrpScriptConfig; filter: ScriptFilter; timer: NodeJS.Timeout | null; running: boolean }

export class VrrpRunner extends EventEmitter {
  readonly instances = new Map<string, VrrpInstance>();
  private scripts = new Map<string, ScriptRun>();
  private linkTimer: NodeJS.Timeout | null = null;
  private linkState = new Map<string, boolean>();
  private log: Logger;
  private net: NetOps;
  private stopped = false;

  constructor(readonly cfg: VrrpConfig, opts: InstanceOptions = {}) {
    super();
    this.log = opts.logger ?? consoleLogger;
    this.net = opts.net ?? systemNetOps;
    for (const ic of cfg.instances) {
      const inst = new VrrpInstance(ic, opts);
      inst.on('transition', (c: StateChange & { bySync: boolean }) => this.onTransition(inst, c));
      for (const ev of ['advert-sent', 'advert-received', 'rejected', 'garp', 'notify']) inst.on(ev, (x) => this.emit(ev, x));
      this.instances.set(ic.name, inst);
    }
    for (const s of cfg.scripts) this.scripts.set(s.name, { cfg: s, filter: { ok: null, streak: 0 }, timer: null, running: false });
  }

  start(): void {
    for (const inst of this.instances.values()) {
      for (const name of [inst.cfg.interface, ...inst.cfg.trackInterfaces.map((t) => t.name)]) {
        if (!this.linkState.has(name)) this.linkState.set(name, this.net.linkUp(name));
      }
    }
    for (const inst of this.instances.values()) inst.start(this.tracking(inst));
    this.linkTimer = setInterval(() => this.pollLinks(), LINK_POLL_MS);
    for (const s of this.scripts.values()) this.runScript(s);
  }

  /** SIGTERM path: every instance sends priority 0 (if Master), removes its VIPs, notifies stop. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.linkTimer) clearInterval(this.linkTimer);
    for (const s of this.scripts.values()) if (s.timer) clearTimeout(s.timer);
    await Promise.all([...this.instances.values()].map((i) => i.stop()));
  }

  counters(): Record<string, Counters & { state: string; priority: number }> {
    const out: Record<string, Counters & { state: string; priority: number }> = {};
    for (const [n, i] of this.instances) out[n] = { ...i.counters, state: i.state, priority: i.machine.priority };
    return out;
  }

  private tracking(inst: VrrpInstance): { priority: number; fault: boolean } {
    const items: TrackItem[] = [{ ok: this.linkState.get(inst.cfg.interface) ?? true, weight: 0 }];
    for (const t of inst.cfg.trackInterfaces) items.push({ ok: this.linkState.get(t.name) ?? false, weight: t.weight });
    for (const t of inst.cfg.trackScripts) {
      const s = this.scripts.get(t.name)!;
      items.push({ ok: s.filter.ok ?? true, weight: t.weight ?? s.cfg.weight });
    }
    return trackedPriority(inst.cfg.priority, items);
  }

  private retrack(): void {
    for (const inst of this.instances.values()) {
      const t = this.tracking(inst);
      inst.setTracking(t.priority, t.fault);
    }
  }

  private pollLinks(): void {
    let changed = false;
    for (const [name, was] of this.linkState) {
      const up = this.net.linkUp(name);
      if (up !== was) {
        this.linkState.set(name, up);
        this.log.info(`interface ${name} is ${up ? 'up' : 'down'}`);
        changed = true;
      }
    }
    if (changed) this.retrack();
  }

  private runScript(s: ScriptRun): void {
    if (this.stopped) return;
    const started = Date.now();
    const child = spawn(s.cfg.command[0], s.cfg.command.slice(1), { stdio: 'ignore', shell: false, ...scriptIdentity() });
    const kill = setTimeout(() => { try { child.kill('SIGKILL'); } catch { /* gone */ } }, timerMs(s.cfg.timeoutMs));
    const done = (success: boolean) => {
      clearTimeout(kill);
      const before = s.filter.ok;
      s.filter = scriptResult(s.filter, success, s.cfg.rise, s.cfg.fall);
      if (s.filter.ok !== before) {
        this.log.info(`vrrp_script ${s.cfg.name} now ${s.filter.ok ? 'succeeds' : 'fails'}`);
        this.retrack();
      }
      if (!this.stopped) s.timer = setTimeout(() => this.runScript(s), timerMs(s.cfg.intervalMs - (Date.now() - started)));
    };
    child.once('error', () => done(false));
    child.once('exit', (code) => done(code === 0));
  }

  private onTransition(inst: VrrpInstance, c: StateChange & { bySync: boolean }): void {
    this.emit('transition', c);
    if (c.bySync || c.to === 'INIT') return;
    const group = this.cfg.syncGroups.find((g) => g.instances.includes(inst.cfg.name));
    if (!group) return;
    for (const m of group.instances) if (m !== inst.cfg.name) this.instances.get(m)?.syncTo(c.to);
  }
}
