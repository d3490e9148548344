// The VIPs (lb_vips, lb_vip_ids, the lb_vip_filter pre-filter) and the no-accept addresses
// (lb_no_accept). Filter bits go in before a map entry and come out after it, so the program
// may look up in vain, never miss.
import { LB, vipKey as vipKeyCodec, vipEntry as vipEntryCodec, vipFilterSlot, vipFilterBit, VipInfo, VipKey, SnatPool, snatPool as snatPoolCodec } from '../maps/lb';
import { XlvsError, ErrorCodes } from '../errors';
import { VipSpec, VipRef, resolveVipRef, vipPolicy, schedulerName, Timeouts, LocalMode, LOCAL_MODES, Method, methodName, isNatMethod, snatPoolOf, formatAddr } from './spec';
import { parseAddr } from './addr';
import { DataplaneIndex, VipRec, dataplaneState, portSlotKey, u32, poolAddrs } from './state';
import { RealTable, zeroStats } from './reals';

export interface VipState {
  key: string;
  id: number;
  address: string;
  port: number;
  protocol: 'tcp' | 'udp';
  /** A grouped VIP's ports (`80,443,10000-10100`); null for one port. */
  ports: string | null;
  /** Ports of the group another VIP still holds (it waits for that VIP's removal). */
  waitingPorts: number;
  method: Method;
  /** Full-NAT: its source pool. */
  snatPool?: { addresses: string[]; portMin: number; portMax: number };
  scheduler: string;
  persistenceTimeoutMs: number;
  persistencePrefix: number;
  tableSize: number;
  onDown: 'expire' | 'keep';
  /** Real id of the sorry real, 0 = none. */
  sorryReal: number;
  /** How the local real takes the VIP's flows (LocalMode), and its real id (0 = none). */
  localMode: LocalMode;
  localReal: number;
  /** Idle timeouts in seconds. */
  timeouts: Timeouts;
}

export class VipTable {
  constructor(private readonly ix: DataplaneIndex, private readonly reals: RealTable) {}

  /**
   * Adds a VIP or changes its policy (method, scheduler, persistence, table size, on_down). A
   * grouped VIP (spec.ports) takes one lb_vips key per port, all with its one id. A port another
   * VIP still holds is not taken: it waits until that VIP is removed (remove() hands it over).
   */
  upsert(spec: VipSpec): VipState {
    const res = resolveVipRef(spec);
    const policy = vipPolicy(spec, res.address.family, `vip ${res.key}`);
    const full = policy.method === LB.METHOD_FULLNAT;
    if (!full && spec.snatPool !== undefined) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `vip ${res.key}.snatPool: only a fullnat VIP has a source pool`);
    const pool = full ? snatPoolOf(spec, res.address.family, `vip ${res.key}`) : null;
    const cur = this.ix.vips.get(res.key);
    if (cur && policy.method === LB.METHOD_TUN) this.reals.requireTunSources(res.key, this.ix.realsOf(cur.info.id));
    const id = cur ? cur.info.id : this.freeVipId();
    const info: VipInfo = { ...policy, id, sorryReal: cur ? cur.info.sorryReal : 0, localReal: cur ? cur.info.localReal : 0, flags: res.ports ? LB.VIP_F_GROUP : 0 };
    const bin = vipKeyCodec.encode(res.vipKey);
    const rec: VipRec = cur ?? { key: res.key, bin, info, resolved: res, owned: new Set(), waiting: new Set() };
    if (!cur) {
      for (const p of res.portList) {
        const holder = this.ix.portOwner.get(portSlotKey(res, p));
        if (holder !== undefined && holder !== res.key) rec.waiting.add(p);
        else rec.owned.add(p);
      }
      const free = LB.VIP_KEYS - this.ix.portOwner.size;
      if (rec.owned.size > free) {
        throw dataplaneState(`vip ${res.key}: ${rec.owned.size} ports, but lb_vips has room for ${free} more (LB_VIP_KEYS ${LB.VIP_KEYS}: one key per port of every VIP)`);
      }
    }
    if (!cur) zeroStats(this.ix.maps.lb_vip_stats, id);
    // A table of another size is rebuilt before the policy changes (the table carries its size).
    if (cur && cur.info.tableSize !== info.tableSize) {
      const inner = this.reals.buildTable(info.tableSize, this.ix.entriesOf(id).filter(([rid]) => rid !== info.sorryReal), `vip ${res.key}`);
      try { this.ix.maps.lb_maglev.setInner(u32(id), inner); } finally { inner.close(); }
    }
    // The pre-filter bit goes in first: a packet may pass the filter and miss lb_vips, never
    // the reverse.
    this.setFilterSlot(vipFilterSlot(res.vipKey.addr), [res.vipKey, ...[...this.ix.vips.values()].map((x) => x.resolved.vipKey)]);
    // NAT: the program looks for replies (LB_VF_NAT_ON) before the VIP takes a flow; a full-NAT
    // pool and its filter bits are in place before the VIP that allocates from it.
    const prevMethod = cur?.info.method;
    if (isNatMethod(policy.method)) this.ix.setNatFlag(true);
    const oldPool = this.ix.pools.get(id);
    if (pool) {
      for (const a of poolAddrs(pool)) this.ix.setFilterSlot(vipFilterSlot(a), undefined, { snat: [a] });
      this.ix.maps.lb_snat.update(u32(id), snatPoolCodec.encode(pool));
      this.ix.pools.set(id, pool);
    }
    try {
      this.ix.writeVip(rec, info);
    } catch (e) {
      // A new VIP leaves nothing behind (a group's batch may have written some ports).
      if (!cur) {
        try { this.ix.deletePorts(res, [...rec.owned]); } catch { /* keep the first error */ }
        try { this.ix.maps.lb_vip_ids.update(u32(id), Buffer.alloc(vipEntryCodec.size)); } catch { /* keep the first error */ }
        if (pool) {
          this.ix.pools.delete(id);
          try { this.ix.maps.lb_snat.update(u32(id), Buffer.alloc(snatPoolCodec.size)); } catch { /* keep the first error */ }
        }
      }
      throw e;
    }
    rec.info = info;
    if (!cur) {
      this.ix.vips.set(res.key, rec);
      for (const p of rec.owned) this.ix.portOwner.set(portSlotKey(res, p), res.key);
      for (const p of rec.waiting) this.ix.portWaiter.set(portSlotKey(res, p), res.key);
      this.ix.nextVipId = id + 1 >= LB.MAX_VIPS ? 1 : id + 1;
    }
    // What the change left behind: a pool (or its addresses) no longer used, NAT real bits of a
    // VIP that is no longer NAT (or now is), LB_VF_NAT_ON once no VIP is NAT.
    if (oldPool && !pool) {
      this.ix.pools.delete(id);
      this.ix.maps.lb_snat.update(u32(id), Buffer.alloc(snatPoolCodec.size));
    }
    if (oldPool) for (const a of poolAddrs(oldPool)) this.ix.setFilterSlot(vipFilterSlot(a));
    if (prevMethod !== undefined && prevMethod !== info.method) for (const r of this.ix.realsOf(id)) this.ix.setFilterSlot(vipFilterSlot(r.addr));
    if (!this.ix.hasNatVip()) this.ix.setNatFlag(false);
    return this.vipState(rec);
  }

  /**
   * Removes a VIP: no new packet matches it; its table and reals are cleared. A port another
   * VIP waits for passes to it with one overwrite of its lb_vips key (never a miss between).
   */
  remove(ref: VipRef): void {
    const v = this.ix.vipOf(ref);
    const res = v.resolved;
    const gone: number[] = [];
    for (const p of v.owned) {
      const sk = portSlotKey(res, p);
      const heir = this.ix.vips.get(this.ix.portWaiter.get(sk) ?? '');
      if (heir) {
        this.ix.putPorts(heir.resolved, [p], heir.info);
        heir.waiting.delete(p);
        heir.owned.add(p);
        this.ix.portWaiter.delete(sk);
        this.ix.portOwner.set(sk, heir.key);
      } else {
        gone.push(p);
      }
    }
    this.ix.deletePorts(res, gone);
    for (const p of gone) this.ix.portOwner.delete(portSlotKey(res, p));
    for (const p of v.waiting) this.ix.portWaiter.delete(portSlotKey(res, p));
    this.ix.maps.lb_vip_ids.update(u32(v.info.id), Buffer.alloc(vipEntryCodec.size));
    this.ix.vips.delete(v.key);
    this.setFilterSlot(vipFilterSlot(v.resolved.vipKey.addr), [...this.ix.vips.values()].map((x) => x.resolved.vipKey));
    this.ix.maps.lb_maglev.delete(u32(v.info.id));
    this.reals.setPeers(v.info.id, new Set());
    const natAddrs = this.ix.realsOf(v.info.id).map((r) => r.addr);
    for (const r of this.ix.realIdsOf(v.info.id)) this.reals.clear(r);
    const pool = this.ix.pools.get(v.info.id);
    if (pool) {
      this.ix.pools.delete(v.info.id);
      this.ix.maps.lb_snat.update(u32(v.info.id), Buffer.alloc(snatPoolCodec.size));
      natAddrs.push(...poolAddrs(pool));
    }
    if (isNatMethod(v.info.method)) for (const a of natAddrs) this.ix.setFilterSlot(vipFilterSlot(a));
    if (!this.ix.hasNatVip()) this.ix.setNatFlag(false);
  }

  private setFilterSlot(slot: number, keys: VipKey[], extraNat: { src?: Buffer[]; snat?: Buffer[] } = {}): void {
    this.ix.setFilterSlot(slot, keys, extraNat);
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
    const added = [...want.keys()].filter((a) => !this.ix.noAccept.has(a));
    const removed = [...this.ix.noAccept.keys()].filter((a) => !want.has(a));
    const vipKeys = () => this.ix.vipKeys();
    const before = [...this.ix.noAccept.keys()];
    try {
      // Added: known here first so its filter bit is written before its map entry.
      for (const a of added) {
        const k = want.get(a)!;
        this.ix.noAccept.set(a, k);
        this.setFilterSlot(vipFilterSlot(k.addr), vipKeys());
        this.ix.maps.lb_no_accept.update(vipKeyCodec.encode(k), u32(1));
      }
      // Removed: the map entry goes first, the filter bit after.
      for (const a of removed) {
        const k = this.ix.noAccept.get(a)!;
        this.ix.maps.lb_no_accept.delete(vipKeyCodec.encode(k));
        this.ix.noAccept.delete(a);
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
    return [...this.ix.noAccept.keys()].sort();
  }

  list(): VipState[] {
    return [...this.ix.vips.values()].sort((a, b) => a.info.id - b.info.id).map((v) => this.vipState(v));
  }

  private vipState(v: VipRec): VipState {
    const i = v.info;
    return {
      key: v.key, id: i.id, address: v.resolved.address.text, port: v.resolved.port, protocol: v.resolved.protocol,
      ports: v.resolved.ports, waitingPorts: v.waiting.size,
      method: methodName(i.method), scheduler: schedulerName(i.hashFields, i.sched),
      persistenceTimeoutMs: i.persistTimeoutMs, persistencePrefix: i.persistPrefix, tableSize: i.tableSize,
      onDown: i.onDown === LB.ON_DOWN_KEEP ? 'keep' : 'expire', sorryReal: i.sorryReal,
      localMode: LOCAL_MODES[i.localMode] ?? 'none', localReal: i.localReal,
      timeouts: { tcp: i.tmoTcp, tcpFin: i.tmoTcpFin, udp: i.tmoUdp },
      ...(this.ix.pools.has(i.id) ? { snatPool: poolState(this.ix.pools.get(i.id)!) } : {}),
    };
  }

  private freeVipId(): number {
    const used = new Set([...this.ix.vips.values()].map((v) => v.info.id));
    for (let i = 0, id = this.ix.nextVipId; i < LB.MAX_VIPS - 1; i++, id = id + 1 >= LB.MAX_VIPS ? 1 : id + 1) {
      if (!used.has(id)) return id;
    }
    throw dataplaneState(`no free VIP id: all ${LB.MAX_VIPS - 1} are in use`);
  }
}

function poolState(p: SnatPool): { addresses: string[]; portMin: number; portMax: number } {
  return { addresses: poolAddrs(p).map((a) => formatAddr(a, p.family)), portMin: p.portLo, portMax: p.portHi };
}
