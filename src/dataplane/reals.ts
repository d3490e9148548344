// The reals of every VIP and their Maglev tables (lb_reals, lb_maglev): a VIP's reals are
// replaced whole and its table swapped in one map-in-map update, so a packet never sees half a
// change; a real can leave new selection with one write before its table is rebuilt; an apply's
// table swaps can be installed together in one batch.
import { XlvsError, ErrorCodes } from '../errors';
import { BpfMap, possibleCpus } from '../loader';
import { buildMaglevTable } from '../maglev/maglev';
import { LB, realInfo as realInfoCodec, RealInfo, lbCounters, peerKey as peerKeyCodec, vipFilterSlot } from '../maps/lb';
import { VipRef, RealSpec, realInfoOf, selectable, stateName, formatAddr, AF6 } from './spec';
import { DataplaneIndex, dataplaneState, u32 } from './state';

export interface RealState {
  id: number;
  vipKey: string;
  address: string;
  mac: string;
  nexthopMac: string | null;
  weight: number;
  state: 'up' | 'drain' | 'down';
  sorry: boolean;
  /** Connection thresholds (ipvsadm -x / -y) as written: the lower one filled in when unset. */
  upperThreshold: number;
  lowerThreshold: number;
  /** This director's own address (LB_RF_LOCAL): delivered locally, never forwarded. */
  local: boolean;
  /** NAT, full-NAT: the real's port (0 = the VIP's). */
  port: number;
}

interface PendingSwap { vipId: number; inner: BpfMap; commit(): void; rollback(): void }

/** Zeroes one id's per-CPU counters (a VIP or real id taken into use). */
export function zeroStats(map: BpfMap, id: number): void {
  const zero = Buffer.alloc(map.valueSize);
  map.updatePerCpu(u32(id), Array.from({ length: possibleCpus() }, () => zero));
}

/** Adds one id's per-CPU counters into another's (lb_counters, CPU by CPU). */
function retireStats(from: BpfMap, id: number, to: BpfMap, toId: number): void {
  const add = from.lookupPerCpu(u32(id));
  const cur = to.lookupPerCpu(u32(toId));
  if (!add || !cur) return;
  to.updatePerCpu(u32(toId), cur.map((b, cpu) => {
    const a = lbCounters.decode(add[cpu]);
    const c = lbCounters.decode(b);
    return lbCounters.encode({ packets: a.packets + c.packets, bytes: a.bytes + c.bytes, newFlows: a.newFlows + c.newFlows });
  }));
}

export class RealTable {
  private pending: PendingSwap[] | null = null;

  constructor(private readonly ix: DataplaneIndex) {}

  /**
   * Replaces the VIP's reals whole and swaps in a Maglev table built from those in selection
   * (state up, weight > 0). `sorry` takes new flows while no real is in selection. Real ids are
   * the caller's and must not belong to another VIP. On failure the previous state stays.
   */
  set(ref: VipRef, reals: RealSpec[], sorry: RealSpec | null = null): void {
    const v = this.ix.vipOf(ref);
    const vipId = v.info.id;
    if (!Array.isArray(reals)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `reals of ${v.key}: expected an array`);
    const next = new Map<number, RealInfo>();
    const seenAddr = new Map<string, number>();
    const all = sorry ? [...reals.map((r, i) => ({ r, where: `reals[${i}]` })), { r: sorry, where: 'sorry' }] : reals.map((r, i) => ({ r, where: `reals[${i}]` }));
    for (const { r, where } of all) {
      const w = `vip ${v.key} ${where}`;
      const { info, addr } = realInfoOf(r, vipId, w, { method: v.info.method, family: v.resolved.address.family, port: v.resolved.port });
      if (next.has(r.id)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${w}.id: ${r.id} is used twice`);
      const other = this.ix.reals.get(r.id);
      if (other && other.vipId !== vipId) throw dataplaneState(`${w}.id: real id ${r.id} belongs to VIP ${this.ix.keyOfId(other.vipId)}`);
      // DR and TUN keep the VIP's port, so one address can be only one real of a VIP; the
      // address is also the real's Maglev placement key (the same on every director). (NAT
      // could tell real:8080 from real:8081, but one placement key per address keeps Maglev's
      // placement the same on every director: also one real per address.)
      if (seenAddr.has(addr.text)) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `${w}.address: ${addr.text} is already real id ${seenAddr.get(addr.text)} of this VIP`);
      seenAddr.set(addr.text, r.id);
      next.set(r.id, info);
    }
    if (v.info.method === LB.METHOD_TUN) this.requireTunSources(v.key, [...next.values()].filter((r) => !(r.flags & LB.RF_LOCAL)));
    const sorryId = sorry ? sorry.id : 0;
    const locals = [...next.entries()].filter(([, r]) => r.flags & LB.RF_LOCAL);
    if (locals.length > 1) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `vip ${v.key}: ${locals.length} local reals (ids ${locals.map(([id]) => id).join(', ')}); a director is one real of a VIP`);
    const localId = locals.length ? locals[0][0] : 0;
    // The other reals' MACs: frames from them to the VIP are a peer director's forwards (lb_peers).
    const peers = new Set<string>();
    if (localId) for (const [id, r] of next) if (id !== localId && r.mac !== '00:00:00:00:00:00') peers.add(r.mac);
    const prevPeers = new Set(this.ix.peers.get(vipId) ?? []);

    const inner = this.buildTable(v.info.tableSize, [...next.entries()].filter(([id]) => id !== sorryId), `vip ${v.key}`);
    const previous = new Map<number, Buffer | null>();
    const prevInfo = v.info;
    const rollback = () => {
      for (const [id, old] of previous) {
        try { this.ix.maps.lb_reals.update(u32(id), old ?? Buffer.alloc(realInfoCodec.size)); } catch { /* keep the first error */ }
      }
      try { this.ix.writeVip(v, prevInfo); } catch { /* keep the first error */ }
      try { this.setPeers(vipId, prevPeers); } catch { /* keep the first error */ }
    };
    // Committed: update the index, then clear the reals that left (after the swap, so the new
    // table never points at them).
    const nat = v.info.method === LB.METHOD_NAT;
    const commit = () => {
      const left = this.ix.realIdsOf(vipId).filter((id) => !next.has(id));
      const leftAddrs = left.map((id) => this.ix.reals.get(id)!.addr);
      for (const [id, info] of next) this.ix.reals.set(id, info);
      v.info = { ...prevInfo, sorryReal: sorryId, localReal: localId };
      for (const id of left) this.clear(id);
      // A NAT real's filter bit (its replies) comes out after it left.
      if (nat) for (const a of leftAddrs) this.ix.setFilterSlot(vipFilterSlot(a));
    };
    try {
      // ... and goes in before it is written.
      if (nat) for (const info of next.values()) this.ix.setFilterSlot(vipFilterSlot(info.addr), undefined, { src: [info.addr] });
      for (const [id, info] of next) {
        const old = this.ix.reals.get(id);
        if (old && realInfoCodec.encode(old).equals(realInfoCodec.encode(info))) continue;
        previous.set(id, old ? realInfoCodec.encode(old) : null);
        if (!old) zeroStats(this.ix.maps.lb_real_stats, id);
        this.ix.maps.lb_reals.update(u32(id), realInfoCodec.encode(info));
      }
      // Peers go in before local_real names the local real: the loop breaker is in force from
      // the first packet that can be delivered locally.
      this.setPeers(vipId, peers);
      if (prevInfo.sorryReal !== sorryId || prevInfo.localReal !== localId) {
        this.ix.writeVip(v, { ...prevInfo, sorryReal: sorryId, localReal: localId });
      }
      if (this.pending) {
        // Inside withBatchedSwaps: the table is installed with the others of the batch.
        this.pending.push({ vipId, inner, commit, rollback });
        return;
      }
      this.ix.maps.lb_maglev.setInner(u32(vipId), inner);
    } catch (e) {
      rollback();
      inner.close();
      throw e;
    }
    inner.close(); // the outer map holds its own reference once swapped in
    commit();
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
      if (!this.ix.reals.has(c.id)) throw new XlvsError(ErrorCodes.DATAPLANE_STATE, `real id ${c.id} is not in the data plane`);
    }
    const written: number[] = [];
    for (const c of changes) {
      const r = this.ix.reals.get(c.id)!;
      if (r.state !== LB.REAL_UP) continue;
      const next = { ...r, state: c.state === 'down' ? LB.REAL_DOWN : LB.REAL_DRAIN };
      this.ix.maps.lb_reals.update(u32(c.id), realInfoCodec.encode(next));
      this.ix.reals.set(c.id, next);
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
    if (this.pending) return fn();
    this.pending = [];
    let result: T;
    let swaps: PendingSwap[];
    try {
      result = fn();
    } catch (e) {
      swaps = this.pending;
      this.pending = null;
      for (const sw of swaps.reverse()) { sw.rollback(); sw.inner.close(); }
      throw e;
    }
    swaps = this.pending;
    this.pending = null;
    if (!swaps.length) return result;
    const keys = Buffer.alloc(4 * swaps.length);
    const fds = Buffer.alloc(4 * swaps.length);
    swaps.forEach((sw, i) => { keys.writeUInt32LE(sw.vipId, 4 * i); fds.writeUInt32LE(sw.inner.fd, 4 * i); });
    let written = swaps.length;
    let failure: unknown = null;
    try {
      this.ix.maps.lb_maglev.updateBatchRaw(keys, fds);
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

  list(ref?: VipRef): RealState[] {
    const only = ref === undefined ? undefined : this.ix.vipOf(ref).info.id;
    const out: RealState[] = [];
    const vipById = new Map([...this.ix.vips.values()].map((v) => [v.info.id, v]));
    for (const [id, r] of [...this.ix.reals.entries()].sort((a, b) => a[0] - b[0])) {
      if (only !== undefined && r.vipId !== only) continue;
      const vip = vipById.get(r.vipId);
      out.push({
        id, vipKey: vip ? vip.key : '', address: formatAddr(r.addr, r.family), mac: r.mac,
        nexthopMac: r.nexthopMac === '00:00:00:00:00:00' ? null : r.nexthopMac, weight: r.weight,
        state: stateName(r.state) as 'up' | 'drain' | 'down', sorry: vip ? vip.info.sorryReal === id : false,
        upperThreshold: r.upperThreshold, lowerThreshold: r.lowerThreshold, local: (r.flags & LB.RF_LOCAL) !== 0, port: r.port,
      });
    }
    return out;
  }

  /**
   * Clears a real's entry (its VIP is gone, or it left the VIP after the swap). Its counters are
   * first added to its VIP's lb_vip_stats, per CPU: the data plane counts per real only, and a
   * VIP's traffic is what its reals carried, those that left included (Stats.counters).
   */
  clear(id: number): void {
    const vipId = this.ix.reals.get(id)?.vipId;
    this.ix.maps.lb_reals.update(u32(id), Buffer.alloc(realInfoCodec.size));
    this.ix.reals.delete(id);
    if (vipId) retireStats(this.ix.maps.lb_real_stats, id, this.ix.maps.lb_vip_stats, vipId);
  }

  /** Makes lb_peers hold exactly `macs` for this VIP (the index follows each write). */
  setPeers(vipId: number, macs: ReadonlySet<string>): void {
    const cur = this.ix.peers.get(vipId) ?? new Set<string>();
    const key = (mac: string) => peerKeyCodec.encode({ mac, vipId });
    for (const m of macs) {
      if (cur.has(m)) continue;
      this.ix.maps.lb_peers.update(key(m), u32(1));
      cur.add(m);
      this.ix.peers.set(vipId, cur);
    }
    for (const m of [...cur]) {
      if (macs.has(m)) continue;
      this.ix.maps.lb_peers.delete(key(m));
      cur.delete(m);
    }
    if (!cur.size) this.ix.peers.delete(vipId);
  }

  /** The peer MACs of a VIP (lb_peers). */
  peersOf(ref: VipRef): string[] {
    return [...(this.ix.peers.get(this.ix.vipOf(ref).info.id) ?? [])].sort();
  }

  requireTunSources(vipKey: string, reals: RealInfo[]): void {
    const c = this.ix.config();
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
  buildTable(size: number, reals: Array<[number, RealInfo]>, where: string): BpfMap {
    const backends = reals.filter(([, r]) => selectable(r)).map(([id, r]) => ({ id, key: formatAddr(r.addr, r.family), weight: r.weight }));
    const table = buildMaglevTable(backends, size, this.ix.maglevSeed);
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
}
