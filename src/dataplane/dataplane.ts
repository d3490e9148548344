// The Dataplane: the lb XDP program and its maps as the daemon, the reconciler and the health
// checkers see them. Loads and pins (create), reopens the pins after a restart without touching
// their contents (adopt), writes VIPs and reals so that a packet never sees half a change, and
// reads back counters, connections and what the maps hold.
//
// Map writes are ordered so that a failure leaves the previous state in force: a VIP's new
// Maglev table is built whole in a fresh inner map before it is swapped into lb_maglev; new
// and changed reals are written before the swap and restored if a later step fails; reals that
// left are cleared only after the swap.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { bpfObject } from '../paths';
import { BpfObject, BpfProgram, BpfMap, attachXdp, detachXdp, XdpMode, possibleCpus } from '../loader';
import { buildMaglevTable } from '../maglev/maglev';
import {
  LB, LB_MAPS, REASONS, ReasonName, vipKey as vipKeyCodec, vipInfo as vipInfoCodec, realInfo as realInfoCodec,
  flowKey as flowKeyCodec, connValue as connValueCodec, lbConfig as lbConfigCodec, lbCounters, lbReasonStats,
  persistKey as persistKeyCodec, persistValue as persistValueCodec, VipInfo, VipKey, RealInfo,
  vipFilterSlot, vipFilterBit, vipEntry as vipEntryCodec,
} from '../maps/lb';
import {
  VipSpec, VipRef, RealSpec, DirectorConfig, resolveVipRef, vipPolicy, realInfoOf, selectable, configOf, configFrom,
  schedulerName, stateName, formatAddr, AF6, ResolvedVip,
} from './spec';
import { serviceKey, parseAddr } from './addr';

export const PROGRAM_NAME = 'xdp_lb';
type MapName = (typeof LB_MAPS)[number];

export interface CreateOptions extends DirectorConfig {
  /** BPF object; default build/bpf/lb.bpf.o. */
  object?: string;
  /** Directory on a bpffs for the program and map pins (must not hold a data plane yet). */
  pinDir: string;
  /** Attach to this interface right away. */
  ifname?: string;
  xdpMode?: XdpMode;
  /** Seed of the Maglev table builder (default 0; identical on every director). */
  maglevSeed?: number;
}

export interface VipState {
  key: string;
  id: number;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  method: 'dr' | 'tun';
  scheduler: string;
  persistenceTimeoutMs: number;
  persistencePrefix: number;
  tableSize: number;
  onDown: 'expire' | 'keep';
  /** Real id of the sorry real, 0 = none. */
  sorryReal: number;
}

export interface RealState {
  id: number;
  vipKey: string;
  address: string;
  mac: string;
  nexthopMac: string | null;
  weight: number;
  state: 'up' | 'drain' | 'down';
  sorry: boolean;
}

export interface Traffic { packets: bigint; bytes: bigint; newFlows: bigint }

export interface Counters {
  vips: Array<{ key: string; id: number } & Traffic>;
  reals: Array<{ id: number; vipKey: string } & Traffic>;
  reasons: Record<ReasonName, bigint>;
}

export interface Connection {
  protocol: 'tcp' | 'udp';
  client: string;
  clientPort: number;
  vip: string;
  vipPort: number;
  realId: number;
  vipId: number;
  /** CLOCK_MONOTONIC of the last packet: lb_clock as the daemon last wrote it (Dataplane.tickClock, once a second), or the kernel's coarse clock while nobody writes it. */
  lastSeenNs: bigint;
}

interface PendingSwap { vipId: number; inner: BpfMap; commit(): void; rollback(): void }

interface VipRec { key: string; bin: Buffer; info: VipInfo; resolved: ResolvedVip }

function state(msg: string): XlvsError {
  return new XlvsError(ErrorCodes.DATAPLANE_STATE, msg);
}

function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

/** Codec sizes every map must have (a pinned map of another layout is refused at adopt). */
const SHAPES: Record<MapName, { key: number; value: number }> = {
  lb_vips: { key: vipKeyCodec.size, value: vipInfoCodec.size },
  lb_reals: { key: 4, value: realInfoCodec.size },
  lb_cfg: { key: 4, value: lbConfigCodec.size },
  lb_maglev: { key: 4, value: 4 },
  lb_conns: { key: flowKeyCodec.size, value: connValueCodec.size },
  lb_persist: { key: persistKeyCodec.size, value: persistValueCodec.size },
  lb_vip_stats: { key: 4, value: lbCounters.size },
  lb_real_stats: { key: 4, value: lbCounters.size },
  lb_reasons: { key: 4, value: lbReasonStats.size },
  lb_vip_filter: { key: 4, value: 4 },
  lb_vip_ids: { key: 4, value: vipEntryCodec.size },
  lb_clock: { key: 4, value: 8 },
  lb_no_accept: { key: vipKeyCodec.size, value: 4 },
};

export class Dataplane {
  private vips = new Map<string, VipRec>(); // by service key
  private pendingSwaps: PendingSwap[] | null = null;
  private reals = new Map<number, RealInfo>(); // by real id, state != NONE
  private noAccept = new Map<string, VipKey>(); // lb_no_accept, by address text
  private nextVipId = 1;

  private constructor(
    readonly pinDir: string,
    readonly program: BpfProgram,
    private readonly maps: Record<MapName, BpfMap>,
    private obj: BpfObject | null,
    private readonly maglevSeed: number,
  ) {
    this.readBack();
  }

  /** Loads lb.bpf.o, writes the director config, pins program and maps under `pinDir`. */
  static create(opts: CreateOptions): Dataplane {
    if (!opts || typeof opts.pinDir !== 'string' || !opts.pinDir) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, 'pinDir: required');
    const cfg = configOf(opts);
    const seed = opts.maglevSeed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `maglevSeed: ${seed} is not an integer 0..4294967295`);
    const existing = [PROGRAM_NAME, ...LB_MAPS].filter((n) => fs.existsSync(path.join(opts.pinDir, n)));
    if (existing.length) {
      throw state(`${opts.pinDir} already holds a data plane (${existing.join(', ')}): adopt it with Dataplane.adopt(), or destroy() it first`);
    }
    const obj = BpfObject.open(opts.object ?? bpfObject('lb'));
    const pinned: string[] = [];
    const madeDir = !fs.existsSync(opts.pinDir);
    try {
      obj.load();
      const prog = obj.program(PROGRAM_NAME);
      const maps = {} as Record<MapName, BpfMap>;
      for (const n of LB_MAPS) maps[n] = obj.map(n);
      maps.lb_cfg.update(u32(0), lbConfigCodec.encode(cfg));
      const progPin = path.join(opts.pinDir, PROGRAM_NAME);
      prog.pin(progPin);
      pinned.push(progPin);
      for (const n of LB_MAPS) {
        const p = path.join(opts.pinDir, n);
        maps[n].pin(p);
        pinned.push(p);
      }
      const dp = new Dataplane(opts.pinDir, prog, maps, obj, seed);
      if (opts.ifname) dp.attach(opts.ifname, opts.xdpMode ?? 'native');
      return dp;
    } catch (e) {
      for (const p of pinned) try { fs.unlinkSync(p); } catch { /* best effort */ }
      if (madeDir) try { fs.rmdirSync(opts.pinDir); } catch { /* not empty or gone */ }
      obj.close();
      throw e;
    }
  }

  /**
   * Takes over the data plane pinned in `pinDir` (a daemon restarted, or upgraded). When the
   * pinned program is this build's (same instructions: bpf_prog_info.tag) and every map fits,
   * it is adopted as it is (`replaced: false`): nothing is written, the caller diffs against
   * what the maps hold. Otherwise this build's program is loaded over every pinned map it can
   * use as it is (same type, key and value size, max entries) — flows, persistence templates,
   * VIPs, reals and counters stay — and the others are created new, lb_maglev always (its
   * inner-map template may differ between builds), so the caller must rebuild every table with
   * a full apply (`replaced: true`). The new program and maps are pinned in place of the old;
   * the old program keeps forwarding, on the reused maps, until attach() replaces it on the
   * interface (one atomic XDP swap).
   */
  static loadOver(opts: CreateOptions): { dp: Dataplane; replaced: boolean; reused: MapName[]; created: MapName[] } {
    if (!opts || typeof opts.pinDir !== 'string' || !opts.pinDir) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, 'pinDir: required');
    const pinned = BpfProgram.openPinned(path.join(opts.pinDir, PROGRAM_NAME));
    let pinnedTag: string;
    try { pinnedTag = pinned.tag; } finally { pinned.close(); }
    let sameBuild = false;
    try {
      const same = Dataplane.openOver(opts, true);
      sameBuild = same.created.length === 0 && same.prog.tag === pinnedTag;
      same.obj.close();
    } catch {
      // This build does not even load over all the pinned maps: not the same build.
    }
    if (sameBuild) {
      const dp = Dataplane.adopt(opts.pinDir, { maglevSeed: opts.maglevSeed });
      dp.configure(opts);
      return { dp, replaced: false, reused: [...LB_MAPS], created: [] };
    }
    const { obj, prog, reused, created } = Dataplane.openOver(opts, false);
    try {
      const maps = {} as Record<MapName, BpfMap>;
      for (const n of LB_MAPS) maps[n] = obj.map(n);
      maps.lb_cfg.update(u32(0), lbConfigCodec.encode(configOf(opts)));
      // The pins now name this build's program and maps; a map the old program still uses
      // lives on through its reference until the swap.
      for (const [name, h] of [[PROGRAM_NAME, prog] as const, ...created.map((n) => [n, maps[n]] as const)]) {
        const pin = path.join(opts.pinDir, name);
        try { fs.unlinkSync(pin); } catch { /* not pinned before */ }
        h.pin(pin);
      }
      const dp = new Dataplane(opts.pinDir, prog, maps, obj, opts.maglevSeed ?? 0);
      if (opts.ifname) dp.attach(opts.ifname, opts.xdpMode ?? 'native');
      return { dp, replaced: true, reused, created };
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** Opens and loads lb.bpf.o reusing the pinned maps that fit (lb_maglev only if asked). */
  private static openOver(opts: CreateOptions, reuseMaglev: boolean): { obj: BpfObject; prog: BpfProgram; reused: MapName[]; created: MapName[] } {
    const obj = BpfObject.open(opts.object ?? bpfObject('lb'));
    const reused: MapName[] = [];
    const created: MapName[] = [];
    try {
      for (const n of LB_MAPS) {
        const pin = path.join(opts.pinDir, n);
        if ((n === 'lb_maglev' && !reuseMaglev) || !fs.existsSync(pin)) { created.push(n); continue; }
        try {
          obj.reuseMap(n, pin);
          reused.push(n);
        } catch {
          created.push(n); // another layout: this build's own map replaces it
        }
      }
      obj.load();
      return { obj, prog: obj.program(PROGRAM_NAME), reused, created };
    } catch (e) {
      obj.close();
      throw e;
    }
  }

  /** Reopens the pinned program and maps of a running data plane; changes nothing in them. */
  static adopt(pinDir: string, opts: { maglevSeed?: number } = {}): Dataplane {
    const opened: Array<BpfMap | BpfProgram> = [];
    try {
      const prog = BpfProgram.openPinned(path.join(pinDir, PROGRAM_NAME));
      opened.push(prog);
      const maps = {} as Record<MapName, BpfMap>;
      for (const n of LB_MAPS) {
        const m = BpfMap.openPinned(path.join(pinDir, n));
        opened.push(m);
        const want = SHAPES[n];
        if (m.keySize !== want.key || m.valueSize !== want.value) {
          throw state(`${path.join(pinDir, n)}: key ${m.keySize} / value ${m.valueSize} bytes, this xlvs expects ${want.key} / ${want.value} (pinned by another version: destroy and create)`);
        }
        maps[n] = m;
      }
      return new Dataplane(pinDir, prog, maps, null, opts.maglevSeed ?? 0);
    } catch (e) {
      for (const h of opened) h.close();
      throw e;
    }
  }

  /** Rebuilds the in-memory index from the maps (create: empty; adopt: what is pinned). */
  private readBack(): void {
    this.vips.clear();
    this.reals.clear();
    let maxId = 0;
    for (const [k, v] of this.maps.lb_vips.entries()) {
      const kk = vipKeyCodec.decode(k);
      const info = vipInfoCodec.decode(v);
      const protocol = kk.proto === 17 ? 'udp' : 'tcp';
      const resolved = resolveVipRef({ address: formatAddr(kk.addr, kk.family), port: kk.port, protocol });
      this.vips.set(resolved.key, { key: resolved.key, bin: Buffer.from(k), info, resolved });
      maxId = Math.max(maxId, info.id);
    }
    this.nextVipId = maxId + 1 >= LB.MAX_VIPS ? 1 : maxId + 1;
    this.noAccept.clear();
    for (const [k] of this.maps.lb_no_accept.entries()) {
      const kk = vipKeyCodec.decode(k);
      this.noAccept.set(formatAddr(kk.addr, kk.family), kk);
    }
    const ids = [...this.vips.values()].map((v) => v.info.id);
    const owners = new Set(ids);
    // One batch read of the whole reals array (65536 lookups one by one would cost ~100 ms).
    for (const [k, raw] of this.maps.lb_reals.lookupBatch()) {
      const id = k.readUInt32LE(0);
      if (id === 0) continue;
      const r = realInfoCodec.decode(raw);
      if (r.state !== LB.REAL_NONE && owners.has(r.vipId)) this.reals.set(id, r);
    }
  }

  // ---- director config --------------------------------------------------------------------

  config(): DirectorConfig & { mtu: number; hashSeed: number } {
    return configFrom(lbConfigCodec.decode(this.maps.lb_cfg.lookup(u32(0))!));
  }

  /** Replaces the director config (MAC, TUN sources, MTU, hash seed) in one map write. */
  configure(c: DirectorConfig): void {
    const enc = lbConfigCodec.encode(configOf(c));
    this.checkTunSources(c, [...this.vips.values()]);
    this.maps.lb_cfg.update(u32(0), enc);
  }

  private checkTunSources(c: DirectorConfig, vips: VipRec[]): void {
    for (const v of vips) {
      if (v.info.method !== LB.METHOD_TUN) continue;
      for (const r of this.realsOf(v.info.id)) {
        const six = r.family === AF6;
        if (six ? !c.tunSource6 : !c.tunSource4) {
          throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `config.${six ? 'tunSource6' : 'tunSource4'}: required by TUN VIP ${v.key} (real ${formatAddr(r.addr, r.family)})`);
        }
      }
    }
  }

  // ---- VIPs -------------------------------------------------------------------------------

  /** Adds a VIP or changes its policy (method, scheduler, persistence, table size, on_down). */
  upsertVip(spec: VipSpec): VipState {
    const res = resolveVipRef(spec);
    const policy = vipPolicy(spec, res.address.family, `vip ${res.key}`);
    const cur = this.vips.get(res.key);
    if (cur && policy.method === LB.METHOD_TUN) this.requireTunSources(res.key, this.realsOf(cur.info.id));
    const id = cur ? cur.info.id : this.freeVipId();
    const info: VipInfo = { ...policy, id, sorryReal: cur ? cur.info.sorryReal : 0 };
    const bin = vipKeyCodec.encode(res.vipKey);
    if (!cur) this.zeroStats(this.maps.lb_vip_stats, id);
    // A table of another size is rebuilt before the policy changes (the table carries its size).
    if (cur && cur.info.tableSize !== info.tableSize) {
      const inner = this.buildTable(info.tableSize, this.entriesOf(id).filter(([rid]) => rid !== info.sorryReal), `vip ${res.key}`);
      try { this.maps.lb_maglev.setInner(u32(id), inner); } finally { inner.close(); }
    }
    // The pre-filter bit goes in first: a packet may pass the filter and miss lb_vips, never
    // the reverse.
    this.setFilterSlot(vipFilterSlot(res.vipKey.addr), [res.vipKey, ...[...this.vips.values()].map((x) => x.resolved.vipKey)]);
    this.writeVip(bin, res.vipKey, info);
    this.vips.set(res.key, { key: res.key, bin, info, resolved: res });
    if (!cur) this.nextVipId = id + 1 >= LB.MAX_VIPS ? 1 : id + 1;
    return this.vipState(this.vips.get(res.key)!);
  }

  /** Removes a VIP: no new packet matches it; its table and reals are cleared. */
  removeVip(ref: VipRef): void {
    const v = this.vipOf(ref);
    this.maps.lb_vips.delete(v.bin);
    this.maps.lb_vip_ids.update(u32(v.info.id), Buffer.alloc(vipEntryCodec.size));
    this.vips.delete(v.key);
    this.setFilterSlot(vipFilterSlot(v.resolved.vipKey.addr), [...this.vips.values()].map((x) => x.resolved.vipKey));
    this.maps.lb_maglev.delete(u32(v.info.id));
    for (const r of this.realIdsOf(v.info.id)) this.clearReal(r);
  }

  /**
   * A VIP's policy into lb_vip_ids[id] (read by established flows) and lb_vips (read by the
   * rest). Either order leaves every packet a consistent VIP: the id entry is a copy.
   */
  private writeVip(bin: Buffer, key: VipKey, info: VipInfo): void {
    this.maps.lb_vip_ids.update(u32(info.id), vipEntryCodec.encode({ key, info }));
    this.maps.lb_vips.update(bin, vipInfoCodec.encode(info));
  }

  /**
   * Writes one lb_vip_filter slot: the OR of the bits of the given VIPs that fall in it, and
   * LB_VF_NO_ACCEPT when a no-accept address (this.noAccept) does.
   */
  private setFilterSlot(slot: number, keys: VipKey[]): void {
    let bits = 0;
    for (const k of keys) if (vipFilterSlot(k.addr) === slot) bits |= vipFilterBit(k.proto, k.port);
    for (const k of this.noAccept.values()) if (vipFilterSlot(k.addr) === slot) bits |= LB.VF_NO_ACCEPT;
    this.maps.lb_vip_filter.update(u32(slot), u32(bits));
  }

  /**
   * Replaces the set of no-accept addresses (VRRP instances with accept: false, keepalived
   * no_accept): the lb program drops packets to them that no VIP service takes, except IPv6
   * neighbour discovery. Filter bits are set before an address is added and cleared after it
   * is removed, so the program never misses one that is in the map.
   */
  setNoAccept(addresses: readonly string[]): { added: string[]; removed: string[] } {
    const want = new Map<string, VipKey>();
    addresses.forEach((a, i) => {
      const p = parseAddr(a, `noAccept[${i}]`);
      want.set(p.text, { addr: p.bytes, port: 0, proto: 0, family: p.family });
    });
    const added = [...want.keys()].filter((a) => !this.noAccept.has(a));
    const removed = [...this.noAccept.keys()].filter((a) => !want.has(a));
    const vipKeys = () => [...this.vips.values()].map((x) => x.resolved.vipKey);
    const before = [...this.noAccept.keys()];
    try {
      // Added: known here first so its filter bit is written before its map entry.
      for (const a of added) {
        const k = want.get(a)!;
        this.noAccept.set(a, k);
        this.setFilterSlot(vipFilterSlot(k.addr), vipKeys());
        this.maps.lb_no_accept.update(vipKeyCodec.encode(k), u32(1));
      }
      // Removed: the map entry goes first, the filter bit after.
      for (const a of removed) {
        const k = this.noAccept.get(a)!;
        this.maps.lb_no_accept.delete(vipKeyCodec.encode(k));
        this.noAccept.delete(a);
        this.setFilterSlot(vipFilterSlot(k.addr), vipKeys());
      }
    } catch (e) {
      try { this.setNoAccept(before); } catch { /* keep the first error */ }
      throw e;
    }
    return { added, removed };
  }

  /** The no-accept addresses in force (setNoAccept). */
  listNoAccept(): string[] {
    return [...this.noAccept.keys()].sort();
  }

  listVips(): VipState[] {
    return [...this.vips.values()].sort((a, b) => a.info.id - b.info.id).map((v) => this.vipState(v));
  }

  private vipState(v: VipRec): VipState {
    const i = v.info;
    return {
      key: v.key, id: i.id, address: v.resolved.address.text, port: v.resolved.port, protocol: v.resolved.protocol,
      method: i.method === LB.METHOD_TUN ? 'tun' : 'dr', scheduler: schedulerName(i.hashFields),
      persistenceTimeoutMs: i.persistTimeoutMs, persistencePrefix: i.persistPrefix, tableSize: i.tableSize,
      onDown: i.onDown === LB.ON_DOWN_KEEP ? 'keep' : 'expire', sorryReal: i.sorryReal,
    };
  }

  private vipOf(ref: VipRef): VipRec {
    const res = resolveVipRef(ref);
    const v = this.vips.get(res.key);
    if (!v) throw state(`VIP ${res.key} is not configured (upsertVip it first)`);
    return v;
  }

  private freeVipId(): number {
    const used = new Set([...this.vips.values()].map((v) => v.info.id));
    for (let i = 0, id = this.nextVipId; i < LB.MAX_VIPS - 1; i++, id = id + 1 >= LB.MAX_VIPS ? 1 : id + 1) {
      if (!used.has(id)) return id;
    }
    throw state(`no free VIP id: all ${LB.MAX_VIPS - 1} are in use`);
  }

  // ---- reals ------------------------------------------------------------------------------

  /**
   * Replaces the VIP's reals whole and swaps in a Maglev table built from those in selection
   * (state up, weight > 0). `sorry` takes new flows while no real is in selection. Real ids are
   * the caller's and must not belong to another VIP. On failure the previous state stays.
   */
  setReals(ref: VipRef, reals: RealSpec[], sorry: RealSpec | null = null): void {
    const v = this.vipOf(ref);
    const vipId = v.info.id;
    if (!Array.isArray(reals)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `reals of ${v.key}: expected an array`);
    const next = new Map<number, RealInfo>();
    const seenAddr = new Map<string, number>();
    const all = sorry ? [...reals.map((r, i) => ({ r, where: `reals[${i}]` })), { r: sorry, where: 'sorry' }] : reals.map((r, i) => ({ r, where: `reals[${i}]` }));
    for (const { r, where } of all) {
      const w = `vip ${v.key} ${where}`;
      const { info, addr } = realInfoOf(r, vipId, w);
      if (next.has(r.id)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${w}.id: ${r.id} is used twice`);
      const other = this.reals.get(r.id);
      if (other && other.vipId !== vipId) throw state(`${w}.id: real id ${r.id} belongs to VIP ${this.keyOfId(other.vipId)}`);
      // DR and TUN keep the VIP's port, so one address can be only one real of a VIP; the
      // address is also the real's Maglev placement key (the same on every director).
      if (seenAddr.has(addr.text)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${w}.address: ${addr.text} is already real id ${seenAddr.get(addr.text)} of this VIP`);
      seenAddr.set(addr.text, r.id);
      next.set(r.id, info);
    }
    if (v.info.method === LB.METHOD_TUN) this.requireTunSources(v.key, [...next.values()]);
    const sorryId = sorry ? sorry.id : 0;

    const inner = this.buildTable(v.info.tableSize, [...next.entries()].filter(([id]) => id !== sorryId), `vip ${v.key}`);
    const previous = new Map<number, Buffer | null>();
    const prevInfo = v.info;
    const rollback = () => {
      for (const [id, old] of previous) {
        try { this.maps.lb_reals.update(u32(id), old ?? Buffer.alloc(realInfoCodec.size)); } catch { /* keep the first error */ }
      }
      try { this.writeVip(v.bin, v.resolved.vipKey, prevInfo); } catch { /* keep the first error */ }
    };
    // Committed: update the index, then clear the reals that left (after the swap, so the new
    // table never points at them).
    const commit = () => {
      const left = this.realIdsOf(vipId).filter((id) => !next.has(id));
      for (const [id, info] of next) this.reals.set(id, info);
      v.info = { ...prevInfo, sorryReal: sorryId };
      for (const id of left) this.clearReal(id);
    };
    try {
      for (const [id, info] of next) {
        const old = this.reals.get(id);
        if (old && realInfoCodec.encode(old).equals(realInfoCodec.encode(info))) continue;
        previous.set(id, old ? realInfoCodec.encode(old) : null);
        if (!old) this.zeroStats(this.maps.lb_real_stats, id);
        this.maps.lb_reals.update(u32(id), realInfoCodec.encode(info));
      }
      if (prevInfo.sorryReal !== sorryId) {
        this.writeVip(v.bin, v.resolved.vipKey, { ...prevInfo, sorryReal: sorryId });
      }
      if (this.pendingSwaps) {
        // Inside withBatchedSwaps: the table is installed with the others of the batch.
        this.pendingSwaps.push({ vipId, inner, commit, rollback });
        return;
      }
      this.maps.lb_maglev.setInner(u32(vipId), inner);
    } catch (e) {
      rollback();
      inner.close();
      throw e;
    }
    inner.close(); // the outer map holds its own reference once swapped in
    commit();
  }

  /**
   * Writes the clock connection entries are stamped with (lb_clock in bpf/lb.bpf.c):
   * CLOCK_MONOTONIC, the base of Connection.lastSeenNs. The daemon calls it once a second;
   * until someone does, the program reads the kernel's coarse clock itself, per packet.
   */
  tickClock(nowNs: bigint = process.hrtime.bigint()): void {
    const b = Buffer.alloc(8);
    b.writeBigUInt64LE(nowNs);
    this.maps.lb_clock.update(u32(0), b);
  }

  /**
   * Takes reals out of new selection at once, one lb_reals write each, without rebuilding the
   * VIP's table: the lb program probes past a slot whose real is not up (LB_PICK_PROBES in
   * bpf/lb.bpf.c), so new flows avoid it from this write on. Existing flows follow the state:
   * `drain` keeps them, `down` applies the VIP's on_down. The caller rebuilds the table with
   * setReals afterwards, which restores Maglev's exact shares. Ids not known are an error;
   * a real already out of selection is left as it is. Returns the ids written.
   */
  takeOutOfSelection(changes: ReadonlyArray<{ id: number; state: 'drain' | 'down' }>): number[] {
    for (const c of changes) {
      if (!this.reals.has(c.id)) throw new XlvsError(ErrorCodes.DATAPLANE_STATE, `real id ${c.id} is not in the data plane`);
    }
    const written: number[] = [];
    for (const c of changes) {
      const r = this.reals.get(c.id)!;
      if (r.state !== LB.REAL_UP) continue;
      const next = { ...r, state: c.state === 'down' ? LB.REAL_DOWN : LB.REAL_DRAIN };
      this.maps.lb_reals.update(u32(c.id), realInfoCodec.encode(next));
      this.reals.set(c.id, next);
      written.push(c.id);
    }
    return written;
  }

  /**
   * Runs `fn` with the Maglev table swaps of its setReals calls deferred, then installs them all
   * with one BPF_MAP_UPDATE_BATCH on lb_maglev. The kernel waits for an RCU grace period after
   * every update of a map-in-map (maybe_wait_bpf_programs), once per call: batched, once for
   * the whole apply instead of once per VIP (measured here: 16 swaps 154 ms one by one, 6 ms
   * batched). Each VIP's table still changes whole. If `fn` throws, the deferred VIPs are put
   * back as they were; if the batch fails partway, the tables it installed stay (and count as
   * committed), the rest are put back, and the error is thrown for the caller to undo.
   */
  withBatchedSwaps<T>(fn: () => T): T {
    if (this.pendingSwaps) return fn();
    this.pendingSwaps = [];
    let result: T;
    let swaps: PendingSwap[];
    try {
      result = fn();
    } catch (e) {
      swaps = this.pendingSwaps;
      this.pendingSwaps = null;
      for (const sw of swaps.reverse()) { sw.rollback(); sw.inner.close(); }
      throw e;
    }
    swaps = this.pendingSwaps;
    this.pendingSwaps = null;
    if (!swaps.length) return result;
    const keys = Buffer.alloc(4 * swaps.length);
    const fds = Buffer.alloc(4 * swaps.length);
    swaps.forEach((sw, i) => { keys.writeUInt32LE(sw.vipId, 4 * i); fds.writeUInt32LE(sw.inner.fd, 4 * i); });
    let written = swaps.length;
    let failure: unknown = null;
    try {
      this.maps.lb_maglev.updateBatchRaw(keys, fds);
    } catch (e) {
      failure = e;
      written = (e as { written?: number }).written ?? 0;
    }
    swaps.forEach((sw, i) => {
      if (i < written) sw.commit();
      else sw.rollback();
      sw.inner.close();
    });
    if (failure) throw failure;
    return result;
  }

  listReals(ref?: VipRef): RealState[] {
    const only = ref === undefined ? undefined : this.vipOf(ref).info.id;
    const out: RealState[] = [];
    for (const [id, r] of [...this.reals.entries()].sort((a, b) => a[0] - b[0])) {
      if (only !== undefined && r.vipId !== only) continue;
      const vip = [...this.vips.values()].find((x) => x.info.id === r.vipId);
      out.push({
        id, vipKey: vip ? vip.key : '', address: formatAddr(r.addr, r.family), mac: r.mac,
        nexthopMac: r.nexthopMac === '00:00:00:00:00:00' ? null : r.nexthopMac, weight: r.weight,
        state: stateName(r.state) as 'up' | 'drain' | 'down', sorry: vip ? vip.info.sorryReal === id : false,
      });
    }
    return out;
  }

  private realsOf(vipId: number): RealInfo[] {
    return [...this.reals.values()].filter((r) => r.vipId === vipId);
  }

  private entriesOf(vipId: number): Array<[number, RealInfo]> {
    return [...this.reals.entries()].filter(([, r]) => r.vipId === vipId);
  }

  private realIdsOf(vipId: number): number[] {
    return [...this.reals.entries()].filter(([, r]) => r.vipId === vipId).map(([id]) => id);
  }

  private keyOfId(vipId: number): string {
    return [...this.vips.values()].find((x) => x.info.id === vipId)?.key ?? `#${vipId}`;
  }

  private clearReal(id: number): void {
    this.maps.lb_reals.update(u32(id), Buffer.alloc(realInfoCodec.size));
    this.reals.delete(id);
  }

  private requireTunSources(vipKey: string, reals: RealInfo[]): void {
    const c = this.config();
    for (const r of reals) {
      const six = r.family === AF6;
      if (six ? !c.tunSource6 : !c.tunSource4) {
        throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `vip ${vipKey}: TUN to ${formatAddr(r.addr, r.family)} needs config.${six ? 'tunSource6' : 'tunSource4'} (the outer source address)`);
      }
    }
  }

  /**
   * A fresh inner map holding [size, slot 0 … slot size-1] (bpf/include/maglev.h). Only reals
   * in selection are placed; their address is the placement key. The caller closes it.
   */
  private buildTable(size: number, reals: Array<[number, RealInfo]>, where: string): BpfMap {
    const backends = reals.filter(([, r]) => selectable(r)).map(([id, r]) => ({ id, key: formatAddr(r.addr, r.family), weight: r.weight }));
    const table = buildMaglevTable(backends, size, this.maglevSeed);
    const inner = BpfMap.create({ type: 'ARRAY', name: 'lb_maglev_in', keySize: 4, valueSize: 4, maxEntries: size + 1, flags: LB.F_INNER_MAP | LB.F_MMAPABLE });
    try {
      // The kernel keeps array elements 8 bytes apart (round8 of the 4-byte value).
      const image = Buffer.alloc(8 * (size + 1));
      const words = new Uint32Array(image.buffer, image.byteOffset, 2 * (size + 1));
      words[0] = size;
      for (let i = 0; i < size; i++) words[2 * (i + 1)] = table[i];
      inner.writeAllMmapped(image);
    } catch (e) {
      inner.close();
      throw new XlvsError(ErrorCodes.BPF_MAP_OP, `${where}: filling its Maglev table of ${size} slots failed: ${(e as Error).message}`, { cause: e });
    }
    return inner;
  }

  private zeroStats(map: BpfMap, id: number): void {
    const zero = Buffer.alloc(map.valueSize);
    map.updatePerCpu(u32(id), Array.from({ length: possibleCpus() }, () => zero));
  }

  // ---- reading ----------------------------------------------------------------------------

  private sumPerCpu(map: BpfMap, id: number): Traffic {
    const per = map.lookupPerCpu(u32(id)) ?? [];
    const t: Traffic = { packets: 0n, bytes: 0n, newFlows: 0n };
    for (const b of per) {
      const c = lbCounters.decode(b);
      t.packets += c.packets;
      t.bytes += c.bytes;
      t.newFlows += c.newFlows;
    }
    return t;
  }

  /**
   * Every id's counters of a per-CPU lb_counters array in one batch read (one syscall per 8192
   * ids instead of one per id), summed over CPUs on demand.
   */
  private sumAllPerCpu(map: BpfMap): (id: number) => Traffic {
    const { keys, values, count } = map.lookupBatchRaw();
    const slot = Math.ceil(lbCounters.size / 8) * 8;
    const per = values.length / Math.max(count, 1);
    const cpus = per / slot;
    const at = new Map<number, number>();
    for (let i = 0; i < count; i++) at.set(keys.readUInt32LE(i * 4), i * per);
    return (id) => {
      const t: Traffic = { packets: 0n, bytes: 0n, newFlows: 0n };
      const base = at.get(id);
      if (base === undefined) return t;
      for (let c = 0; c < cpus; c++) {
        const o = base + c * slot;
        t.packets += values.readBigUInt64LE(o);
        t.bytes += values.readBigUInt64LE(o + 8);
        t.newFlows += values.readBigUInt64LE(o + 16);
      }
      return t;
    };
  }

  /** Per VIP, per real and per reason, summed over CPUs. */
  counters(): Counters {
    const vips = this.listVips().map((v) => ({ key: v.key, id: v.id, ...this.sumPerCpu(this.maps.lb_vip_stats, v.id) }));
    const realStats = this.sumAllPerCpu(this.maps.lb_real_stats);
    const reals = this.listReals().map((r) => ({ id: r.id, vipKey: r.vipKey, ...realStats(r.id) }));
    const reasons = Object.fromEntries(REASONS.map((r) => [r, 0n])) as Record<ReasonName, bigint>;
    for (const b of this.maps.lb_reasons.lookupPerCpu(u32(0)) ?? []) {
      const s = lbReasonStats.decode(b);
      for (const r of REASONS) reasons[r] += s[r];
    }
    return { vips, reals, reasons };
  }

  /**
   * The whole connection table (client → VIP flow → real), one get_next_key + lookup per entry
   * on the calling thread: seconds for a full table. For tests only; the daemon counts and lists
   * connections from a worker thread (src/conns), never with this.
   */
  connections(): Connection[] {
    const out: Connection[] = [];
    for (const [k, v] of this.maps.lb_conns.entries()) {
      const f = flowKeyCodec.decode(k);
      const c = connValueCodec.decode(v);
      out.push({
        protocol: f.proto === 17 ? 'udp' : 'tcp', client: formatAddr(f.src, f.family), clientPort: f.sport,
        vip: formatAddr(f.dst, f.family), vipPort: f.dport, realId: c.realId, vipId: c.vipId, lastSeenNs: c.lastSeenNs,
      });
    }
    return out;
  }

  /** The real a persistence template holds for a client (tests, `xlvs` listings), or null. */
  persistence(ref: VipRef, client: string): { realId: number; lastUsedNs: bigint } | null {
    const v = this.vipOf(ref);
    const a = parseAddr(client, 'client');
    const prefix = v.info.persistPrefix;
    const masked = Buffer.alloc(16);
    for (let i = 0; i < (a.family === AF6 ? 16 : 4); i++) {
      const bits = Math.max(0, Math.min(8, prefix - 8 * i));
      masked[i] = a.bytes[i] & ((0xff << (8 - bits)) & 0xff);
    }
    const raw = this.maps.lb_persist.lookup(persistKeyCodec.encode({ client: masked, vipId: v.info.id, family: a.family }));
    if (!raw) return null;
    const p = persistValueCodec.decode(raw);
    return { realId: p.realId, lastUsedNs: p.lastUsedNs };
  }

  // ---- attachment and lifetime ------------------------------------------------------------

  attach(ifname: string, mode: XdpMode = 'native'): { mode: XdpMode } {
    return attachXdp(ifname, this.program, { mode, fallbackToGeneric: true });
  }

  detach(ifname: string): void {
    detachXdp(ifname, 'all');
  }

  /** Drops our fds; pinned program and maps keep forwarding. */
  close(): void {
    for (const m of Object.values(this.maps)) m.close();
    this.program.close();
    if (this.obj) this.obj.close();
    this.obj = null;
  }

  /** Unpins program and maps (the kernel frees them once nothing else holds them) and closes. */
  destroy(): void {
    const problems: string[] = [];
    for (const n of [PROGRAM_NAME, ...LB_MAPS]) {
      try { fs.unlinkSync(path.join(this.pinDir, n)); } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT') problems.push(`${n}: ${(e as Error).message}`);
      }
    }
    try { fs.rmdirSync(this.pinDir); } catch { /* not empty (other pins) or gone */ }
    this.close();
    if (problems.length) throw new XlvsError(ErrorCodes.BPF_PIN, `destroy ${this.pinDir}: ${problems.join('; ')}`);
  }
}

export { serviceKey };
