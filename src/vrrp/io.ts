// The I/O shell around the pure codec and state machine: one VrrpInstance per configured
// instance owns a raw socket, the two protocol timers, the VIPs on its interface, gratuitous
// ARP / unsolicited NA and notify commands. Everything it decides comes from state.ts; this
// file only carries events in and performs actions out.
import { EventEmitter } from 'node:events';
import { execFile, execFileSync } from 'node:child_process';
import * as fs from 'node:fs';
import { XlvsError, ErrorCodes } from '../errors';
import type { VrrpInstanceConfig } from './types';
import {
  decodeIpv4, decodeAdvert, checkAdvert, encodeAdvert, encodeIpv4, RejectReason, VRRP_MCAST_V4, VRRP_MCAST_V6, bytesToIp, ipToBytes,
} from './codec';
import { newMachine, step, Machine, Event, Action, TimerName, VrrpState } from './state';
import { notifyCommands, runNotify } from './notify';
import { VrrpSocket, ArpSender, NaSender, garpFrame, unsolicitedNa } from '../sys/rawsock';
import { sharedPoller, Poller } from '../sys/poller';

export interface Logger {
  info(msg: string): void;
  warn(msg: string): void;
}

export const consoleLogger: Logger = {
  info: (m) => process.stdout.write(`${new Date().toISOString()} ${m}\n`),
  warn: (m) => process.stderr.write(`${new Date().toISOString()} WARN ${m}\n`),
};

export interface StateChange {
  instance: string;
  from: VrrpState;
  to: VrrpState;
  reason: string;
  priority: number;
  vips: { address: string; prefix: number }[];
  /** keepalived `accept`: whether a non-owner Master should accept packets to the VIPs. */
  accept: boolean;
}

export interface VrrpHooks {
  /** "Make the data plane active for these VIPs" — called after the VIPs were added/removed. */
  onStateChange?: (c: StateChange) => void | Promise<void>;
}

/** The system side effects, injectable so the shell can run against fakes. */
export interface NetOps {
  addVip(iface: string, vip: { address: string; prefix: number }): Promise<void>;
  delVip(iface: string, vip: { address: string; prefix: number }): Promise<void>;
  primaryAddress(iface: string, family: 4 | 6, exclude: string[]): string;
  mac(iface: string): Buffer;
  linkUp(iface: string): boolean;
}

function ip(args: string[]): Promise<{ ok: boolean; stderr: string }> {
  return new Promise((resolve) => {
    execFile('ip', args, { timeout: 10_000 }, (err, _out, stderr) => resolve({ ok: !err, stderr: String(stderr) }));
  });
}

export const systemNetOps: NetOps = {
  async addVip(iface, vip) {
    const fam = vip.address.includes(':') ? ['-6'] : ['-4'];
    const extra = vip.address.includes(':') ? ['nodad'] : [];
    const r = await ip([...fam, 'addr', 'add', `${vip.address}/${vip.prefix}`, 'dev', iface, ...extra]);
    // Already there (a daemon restarted after SIGKILL left it): fine, the ARP burst still follows.
    if (!r.ok && !/exists|already assigned/i.test(r.stderr)) throw new XlvsError(ErrorCodes.SYSTEM, `ip addr add ${vip.address}/${vip.prefix} dev ${iface}: ${r.stderr.trim()}`);
  },
  async delVip(iface, vip) {
    const fam = vip.address.includes(':') ? ['-6'] : ['-4'];
    const r = await ip([...fam, 'addr', 'del', `${vip.address}/${vip.prefix}`, 'dev', iface]);
    if (!r.ok && !/Cannot assign|not found|No such/i.test(r.stderr)) throw new XlvsError(ErrorCodes.SYSTEM, `ip addr del ${vip.address}/${vip.prefix} dev ${iface}: ${r.stderr.trim()}`);
  },
  primaryAddress(iface, family, exclude) {
    // keepalived uses the interface's first address (IPv6: the link-local one).
    const out = execFileSync('ip', ['-j', family === 4 ? '-4' : '-6', 'addr', 'show', 'dev', iface], { encoding: 'utf8' });
    const infos = (JSON.parse(out)[0]?.addr_info ?? []) as { local: string; scope: string }[];
    const cand = infos.filter((a) => !exclude.includes(a.local) && (family === 4 || a.scope === 'link'));
    if (!cand.length) throw new XlvsError(ErrorCodes.VRRP, `interface ${iface} has no ${family === 4 ? 'IPv4' : 'IPv6 link-local'} address to send VRRP from`);
    return cand[0].local;
  },
  mac(iface) {
    const s = fs.readFileSync(`/sys/class/net/${iface}/address`, 'utf8').trim();
    return Buffer.from(s.split(':').map((h) => parseInt(h, 16)));
  },
  linkUp(iface) {
    try {
      const st = fs.readFileSync(`/sys/class/net/${iface}/operstate`, 'utf8').trim();
      return st === 'up' || st === 'unknown';
    } catch { return false; }
  },
};

export interface Counters {
  advertsSent: number;
  advertsReceived: number;
  priorityZeroSent: number;
  priorityZeroReceived: number;
  rejected: Partial<Record<RejectReason | 'unknown-peer', number>>;
  transitions: number;
  becameMaster: number;
  garpSent: number;
}

export interface InstanceOptions {
  logger?: Logger;
  hooks?: VrrpHooks;
  net?: NetOps;
  poller?: Poller;
}

const STOP_NOTIFY_WAIT_MS = 5000; // how long stop() waits for notify scripts still running
const REJECT_LOG_EVERY_MS = 1000; // one log line per reason per second, the counter has the rest

/**
 * One VRRP instance on the wire. Events: 'transition' (StateChange & {bySync}), 'advert-sent',
 * 'advert-received', 'rejected' ({reason, detail, src}), 'garp' ({count}), 'notify' (result).
 */
export class VrrpInstance extends EventEmitter {
  machine: Machine;
  readonly counters: Counters = { advertsSent: 0, advertsReceived: 0, priorityZeroSent: 0, priorityZeroReceived: 0, rejected: {}, transitions: 0, becameMaster: 0, garpSent: 0 };
  private sock: VrrpSocket | null = null;
  private arp: ArpSender | null = null;
  private na: NaSender | null = null;
  private timers = new Map<TimerName, NodeJS.Timeout>();
  private garpTimers: NodeJS.Timeout[] = [];
  private ipId = 0;
  private primary = '';
  private macAddr: Buffer = Buffer.alloc(6);
  private ops: Promise<void> = Promise.resolve();
  private lastRejectLog = new Map<string, number>();
  private pendingNotifies = new Set<Promise<unknown>>();
  private log: Logger;
  private net: NetOps;
  private poller: Poller;

  constructor(readonly cfg: VrrpInstanceConfig, private opts: InstanceOptions = {}) {
    super();
    this.log = opts.logger ?? consoleLogger;
    this.net = opts.net ?? systemNetOps;
    this.poller = opts.poller ?? sharedPoller();
    this.machine = newMachine({ name: cfg.name, priority: cfg.priority, advertIntervalMs: cfg.advertIntervalMs, preempt: cfg.preempt, preemptDelayMs: cfg.preemptDelayMs, primaryAddress: '0.0.0.0' });
  }

  /** Date.now() of the last transition (0 before start): the status page's "since". */
  lastTransitionAt = 0;

  get state(): VrrpState { return this.machine.state; }
  get primaryAddress(): string { return this.primary; }

  /** Opens the socket and enters Backup (or Master for an address owner). */
  start(initial?: { priority: number; fault: boolean }): void {
    const c = this.cfg;
    const vipAddrs = c.vips.map((v) => v.address);
    this.primary = c.unicastSrc ?? this.net.primaryAddress(c.interface, c.family, vipAddrs);
    this.macAddr = this.net.mac(c.interface);
    this.machine = newMachine({ ...this.machine.cfg, primaryAddress: this.primary });
    this.sock = new VrrpSocket({ family: c.family, iface: c.interface, multicast: c.unicastPeers.length === 0 });
    if (c.family === 4) this.arp = new ArpSender(c.interface);
    else this.na = new NaSender(c.interface);
    const sock = this.sock;
    this.poller.add(sock.fd, () => this.drain(sock));
    this.log.info(`(${c.name}) vrid ${c.vrid} v${c.version} on ${c.interface} from ${this.primary}, priority ${c.priority}, ${c.unicastPeers.length ? `unicast to ${c.unicastPeers.join(',')}` : 'multicast'}`);
    if (initial) this.machine = { ...this.machine, priority: initial.priority, ownFault: initial.fault };
    this.feed({ type: 'startup', now: Date.now() });
  }

  /** Priority-0 advert if Master, VIPs removed, notify stop; then the socket is closed. */
  async stop(): Promise<void> {
    if (!this.sock) return;
    this.feed({ type: 'shutdown', now: Date.now() });
    await this.ops;
    // notify stop (and any still running) get a bounded wait so a runner exits promptly.
    await Promise.race([Promise.all([...this.pendingNotifies]), new Promise((r) => setTimeout(r, STOP_NOTIFY_WAIT_MS).unref())]);
    this.clearGarpTimers();
    this.poller.removeAndClose(this.sock.fd);
    this.sock = null;
    this.arp?.close(); this.na?.close();
    this.arp = this.na = null;
  }

  /** Tracking result (effective priority, fault) from the runner. */
  setTracking(priority: number, fault: boolean): void {
    if (priority === this.machine.priority && fault === this.machine.ownFault) return;
    if (!this.sock) { this.machine = { ...this.machine, priority, ownFault: fault }; return; }
    this.feed({ type: 'tracking', now: Date.now(), priority, fault });
  }

  /** A sync-group member changed state. */
  syncTo(to: 'MASTER' | 'BACKUP' | 'FAULT'): void {
    if (this.sock) this.feed({ type: 'sync', now: Date.now(), to });
  }

  /** Waits for queued VIP changes, notifies and hooks to finish (tests, shutdown). */
  settled(): Promise<void> { return this.ops; }

  private feed(ev: Event): void {
    const { machine, actions } = step(this.machine, ev);
    this.machine = machine;
    for (const a of actions) this.perform(a);
  }

  private perform(a: Action): void {
    switch (a.type) {
      case 'send-advert': this.sendAdvert(a.priority); break;
      case 'arm': {
        const old = this.timers.get(a.timer);
        if (old) clearTimeout(old);
        this.timers.set(a.timer, setTimeout(() => { this.timers.delete(a.timer); this.feed({ type: 'timer', timer: a.timer, now: Date.now() }); }, a.ms));
        break;
      }
      case 'cancel': {
        const t = this.timers.get(a.timer);
        if (t) clearTimeout(t);
        this.timers.delete(a.timer);
        break;
      }
      case 'garp':
        this.log.info(`(${this.cfg.name}) ${a.reason}: sending gratuitous ARP again`);
        this.garpBurst(this.cfg.garp.masterRepeat);
        break;
      case 'transition': this.onTransition(a); break;
      case 'interval-clamped':
        // Counted with the rejected adverts (reason 'interval-clamped', docs/metrics.md): the
        // advert itself was used, only its interval was not learned as sent.
        this.count('interval-clamped', `Master advertises ${a.peerMs}ms, ours is ${this.cfg.advertIntervalMs}ms: master-down interval computed from ${a.usedMs}ms (RFC 5798 §6.4.2, bounded)`, a.src, 'interval not learned');
        break;
    }
  }

  private sendAdvert(priority: number): void {
    if (!this.sock) return;
    const c = this.cfg;
    const addresses = c.vips.map((v) => v.address);
    const dsts = c.unicastPeers.length ? c.unicastPeers : [c.family === 4 ? VRRP_MCAST_V4 : VRRP_MCAST_V6];
    for (const dst of dsts) {
      const msg = encodeAdvert({ version: c.version, vrid: c.vrid, priority, intervalMs: c.advertIntervalMs, addresses, authPass: c.authPass, src: this.primary, dst });
      const pkt = c.family === 4 ? encodeIpv4({ src: this.primary, dst, id: (this.ipId = (this.ipId + 1) & 0xffff) }, msg) : msg;
      try {
        this.sock.send(pkt, dst);
        this.counters.advertsSent++;
        if (priority === 0) this.counters.priorityZeroSent++;
        this.emit('advert-sent', { instance: c.name, priority, dst });
      } catch (e) {
        this.log.warn(`(${c.name}) advert to ${dst} failed: ${(e as Error).message}`);
      }
    }
  }

  private drain(sock: VrrpSocket): void {
    for (let i = 0; i < 64; i++) {
      const r = sock.recv();
      if (!r) return;
      this.onPacket(r.data, r.src, r.hopLimit, r.dst);
    }
  }

  private reject(reason: RejectReason | 'unknown-peer', detail: string, src: string): void {
    this.count(reason, detail, src, 'rejected');
  }

  /** Counts (counters.rejected, 'rejected' event → metrics) and logs at most once a second per reason. */
  private count(reason: RejectReason | 'unknown-peer', detail: string, src: string, what: string): void {
    this.counters.rejected[reason] = (this.counters.rejected[reason] ?? 0) + 1;
    this.emit('rejected', { instance: this.cfg.name, reason, detail, src });
    const now = Date.now();
    if ((this.lastRejectLog.get(reason) ?? 0) + REJECT_LOG_EVERY_MS <= now) {
      this.lastRejectLog.set(reason, now);
      this.log.warn(`(${this.cfg.name}) advert from ${src} ${what}: ${reason}: ${detail} (count ${this.counters.rejected[reason]})`);
    }
  }

  /** One received datagram: every check of codec.ts, then an event for the machine. */
  onPacket(data: Buffer, from: string, hopLimit?: number, dstV6?: string): void {
    const c = this.cfg;
    // IPv6 raw sockets deliver no header: sender from recvmsg's address, hop limit and
    // destination from ancillary data (IPV6_RECVHOPLIMIT / IPV6_RECVPKTINFO).
    let payload = data, src = c.family === 6 && from ? bytesToIp(ipToBytes(from)) : from;
    let dst = dstV6 ? bytesToIp(ipToBytes(dstV6)) : (c.unicastPeers.length ? this.primary : VRRP_MCAST_V6);
    let ttl: number | null = c.family === 6 ? hopLimit ?? null : null;
    if (c.family === 4) {
      const ip4 = decodeIpv4(data);
      if (!ip4.ok) { this.reject(ip4.reason, ip4.detail, from); return; }
      ({ payload } = ip4);
      ({ src, dst, ttl } = ip4.header);
    }
    if (src === this.primary) return; // our own multicast looped back
    if (payload.length >= 2 && payload[1] !== c.vrid) return; // another virtual router's advert
    const d = decodeAdvert(payload, { family: c.family, src, dst, ttl });
    if (!d.ok) { this.reject(d.reason, d.detail, src); return; }
    const chk = checkAdvert(d.advert, { version: c.version, intervalMs: c.advertIntervalMs, authPass: c.authPass, addresses: c.vips.map((v) => v.address) });
    if (!chk.ok) { this.reject(chk.reason, chk.detail, src); return; }
    if (c.unicastPeers.length && !c.unicastPeers.includes(src)) { this.reject('unknown-peer', `${src} is not a unicast_peer`, src); return; }
    this.counters.advertsReceived++;
    if (d.advert.priority === 0) this.counters.priorityZeroReceived++;
    this.emit('advert-received', { instance: c.name, priority: d.advert.priority, src });
    this.feed({ type: 'advert', now: Date.now(), priority: d.advert.priority, src, intervalMs: d.advert.intervalMs });
  }

  private garpBurst(count: number): void {
    const c = this.cfg;
    for (const vip of c.vips) {
      for (let i = 0; i < count; i++) {
        try {
          if (c.family === 4) this.arp?.send(garpFrame(this.macAddr, vip.address));
          else this.na?.send(unsolicitedNa(this.macAddr, vip.address));
          this.counters.garpSent++;
        } catch (e) {
          this.log.warn(`(${c.name}) gratuitous ARP for ${vip.address} failed: ${(e as Error).message}`);
        }
      }
    }
    this.emit('garp', { instance: c.name, count: count * c.vips.length });
  }

  private clearGarpTimers(): void {
    for (const t of this.garpTimers) { clearTimeout(t); clearInterval(t); }
    this.garpTimers = [];
  }

  private onTransition(a: Extract<Action, { type: 'transition' }>): void {
    const c = this.cfg;
    this.counters.transitions++;
    this.lastTransitionAt = Date.now();
    const change: StateChange = { instance: c.name, from: a.from, to: a.to, reason: a.reason, priority: this.machine.priority, vips: c.vips, accept: c.accept };
    this.log.info(`(${c.name}) ${a.from} -> ${a.to}: ${a.reason} (priority ${this.machine.priority})`);
    if (a.to === 'MASTER') {
      this.counters.becameMaster++;
      // keepalived: VIPs up, a burst of garp_master_repeat now, another after garp_master_delay,
      // then every garp_master_refresh if set (keepalived.conf(5)).
      this.queue(async () => {
        for (const v of c.vips) await this.net.addVip(c.interface, v);
        if (this.machine.state !== 'MASTER') return;
        this.garpBurst(c.garp.masterRepeat);
      });
      this.clearGarpTimers();
      if (c.garp.masterDelayMs > 0) {
        this.garpTimers.push(setTimeout(() => { if (this.machine.state === 'MASTER') this.garpBurst(c.garp.masterRepeat); }, c.garp.masterDelayMs));
      }
      if (c.garp.refreshMs > 0) {
        this.garpTimers.push(setInterval(() => { if (this.machine.state === 'MASTER') this.garpBurst(c.garp.refreshRepeat); }, c.garp.refreshMs));
      }
    } else if (a.from === 'MASTER' || a.from === 'INIT') {
      // Leaving Master, or starting as Backup/Fault: the VIPs go. At start they may have been
      // left by a predecessor that was killed while Master (keepalived removes them too).
      this.clearGarpTimers();
      this.queue(async () => { for (const v of c.vips) await this.net.delVip(c.interface, v); });
    }
    this.queue(async () => {
      try { await this.opts.hooks?.onStateChange?.(change); } catch (e) { this.log.warn(`(${c.name}) onStateChange hook failed: ${(e as Error).message}`); }
    });
    for (const argv of notifyCommands(c.notify, c.name, a.to, this.machine.priority)) {
      const p = runNotify(argv).then((r) => {
        this.pendingNotifies.delete(p);
        this.emit('notify', r);
        if (r.error || r.code !== 0) this.log.warn(`(${c.name}) notify ${JSON.stringify(r.argv)} ${r.error ?? `exited ${r.code ?? r.signal}`}`);
      });
      this.pendingNotifies.add(p);
    }
    this.emit('transition', { ...change, bySync: a.bySync });
  }

  /** VIP changes and hooks run one after another in transition order. */
  private queue(fn: () => Promise<void>): void {
    this.ops = this.ops.then(fn).catch((e) => this.log.warn(`(${this.cfg.name}) ${(e as Error).message}`));
  }
}
