// What the Dataplane's roles share: the typed handles of the lb maps, and an index of what the
// maps hold (VIPs by service key, reals by id, no-accept addresses), read back from the maps at
// open and kept in step with every write. The roles (vips.ts, reals.ts, stats.ts, flows.ts) each
// own their writes; none keeps a copy of its own.
import { XlvsError, ErrorCodes } from '../errors';
import type { BpfMap } from '../loader';
import {
  LB, LB_MAPS, vipKey as vipKeyCodec, vipInfo as vipInfoCodec, realInfo as realInfoCodec, lbConfig as lbConfigCodec,
  vipEntry as vipEntryCodec, peerKey as peerKeyCodec, VipInfo, VipKey, RealInfo, SnatPool, snatPool as snatPoolCodec, vipFilterSlot, vipFilterBit,
} from '../maps/lb';
import { resolveVipRef, VipRef, DirectorConfig, configFrom, formatAddr, ResolvedVip } from './spec';
import { portSpecOf } from '../common/ports';

export type MapName = (typeof LB_MAPS)[number];
export type LbMaps = Record<MapName, BpfMap>;

/**
 * A VIP and the lb_vips keys it holds. A port wanted by a new VIP while another still holds it
 * (a group replacing a service or group that overlaps it, in one apply) waits in `waiting`: the
 * key stays the holder's until the holder is removed, then passes to the waiting VIP with one
 * overwrite, so no packet of that port ever misses (VipTable.remove).
 */
export interface VipRec {
  key: string; bin: Buffer; info: VipInfo; resolved: ResolvedVip;
  /** Ports whose lb_vips key holds this VIP. */
  owned: Set<number>;
  /** Ports of this VIP another VIP still holds. */
  waiting: Set<number>;
}

/** A port's identity across VIPs: address, protocol, port. */
export function portSlotKey(res: ResolvedVip, port: number): string {
  return `${res.address.text}/${res.protocol}/${port}`;
}

export function dataplaneState(msg: string): XlvsError {
  return new XlvsError(ErrorCodes.DATAPLANE_STATE, msg);
}

export function u32(n: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n);
  return b;
}

export class DataplaneIndex {
  readonly vips = new Map<string, VipRec>(); // by service key
  readonly reals = new Map<number, RealInfo>(); // by real id, state != NONE
  readonly noAccept = new Map<string, VipKey>(); // lb_no_accept, by address text
  readonly peers = new Map<number, Set<string>>(); // lb_peers: MACs by VIP id
  readonly pools = new Map<number, SnatPool>(); // lb_snat, by VIP id (full-NAT VIPs)
  /** LB_VF_NAT_ON is in every lb_vip_filter slot (some VIP is NAT or full-NAT). */
  natOn = false;
  /** lb_vips keys (portSlotKey) → the service key of the VIP they hold. */
  readonly portOwner = new Map<string, string>();
  /** Ports a VIP waits for (portSlotKey) → its service key (VipRec.waiting). */
  readonly portWaiter = new Map<string, string>();
  nextVipId = 1;

  constructor(readonly maps: LbMaps, readonly maglevSeed: number) {
    this.readBack();
  }

  /** Rebuilds the index from the maps (create: empty; adopt: what is pinned). */
  private readBack(): void {
    let maxId = 0;
    // A grouped VIP is one lb_vips key per port, all with its id: gathered by id, its key
    // rebuilt from the ports found.
    const byId = new Map<number, { kk: VipKey; info: VipInfo; ports: number[] }>();
    for (const [k, v] of this.maps.lb_vips.entries()) {
      const kk = vipKeyCodec.decode(k);
      const info = vipInfoCodec.decode(v);
      const have = byId.get(info.id);
      if (have) have.ports.push(kk.port);
      else byId.set(info.id, { kk, info, ports: [kk.port] });
    }
    for (const { kk, info, ports } of byId.values()) {
      const protocol = kk.proto === 17 ? 'udp' : 'tcp';
      const address = formatAddr(kk.addr, kk.family);
      const resolved = info.flags & LB.VIP_F_GROUP && ports.length > 1
        ? resolveVipRef({ address, port: 0, protocol, ports: portSpecOf(ports) })
        : resolveVipRef({ address, port: kk.port, protocol });
      const rec: VipRec = {
        key: resolved.key, bin: vipKeyCodec.encode(resolved.vipKey), info, resolved, owned: new Set(resolved.portList), waiting: new Set(),
      };
      this.vips.set(resolved.key, rec);
      for (const p of rec.owned) this.portOwner.set(portSlotKey(resolved, p), rec.key);
      maxId = Math.max(maxId, info.id);
    }
    this.nextVipId = maxId + 1 >= LB.MAX_VIPS ? 1 : maxId + 1;
    for (const [k] of this.maps.lb_no_accept.entries()) {
      const kk = vipKeyCodec.decode(k);
      this.noAccept.set(formatAddr(kk.addr, kk.family), kk);
    }
    const owners = new Set([...this.vips.values()].map((v) => v.info.id));
    for (const [k] of this.maps.lb_peers.entries()) {
      const pk = peerKeyCodec.decode(k);
      if (!this.peers.has(pk.vipId)) this.peers.set(pk.vipId, new Set());
      this.peers.get(pk.vipId)!.add(pk.mac);
    }
    const slot0 = this.maps.lb_vip_filter.lookup(u32(0));
    this.natOn = !!slot0 && (slot0.readUInt32LE(0) & LB.VF_NAT_ON) !== 0;
    for (const v of this.vips.values()) {
      if (v.info.method !== LB.METHOD_FULLNAT) continue;
      const raw = this.maps.lb_snat.lookup(u32(v.info.id));
      if (raw) this.pools.set(v.info.id, snatPoolCodec.decode(raw));
    }
    // One batch read of the whole reals array (65536 lookups one by one would cost ~100 ms).
    for (const [k, raw] of this.maps.lb_reals.lookupBatch()) {
      const id = k.readUInt32LE(0);
      if (id === 0) continue;
      const r = realInfoCodec.decode(raw);
      if (r.state !== LB.REAL_NONE && owners.has(r.vipId)) this.reals.set(id, r);
    }
  }

  config(): DirectorConfig & { mtu: number; hashSeed: number } {
    return configFrom(lbConfigCodec.decode(this.maps.lb_cfg.lookup(u32(0))!));
  }

  vipOf(ref: VipRef): VipRec {
    const res = resolveVipRef(ref);
    const v = this.vips.get(res.key);
    if (!v) throw dataplaneState(`VIP ${res.key} is not configured (upsertVip it first)`);
    return v;
  }

  vipById(vipId: number): VipRec | undefined {
    for (const v of this.vips.values()) if (v.info.id === vipId) return v;
    return undefined;
  }

  keyOfId(vipId: number): string {
    return this.vipById(vipId)?.key ?? `#${vipId}`;
  }

  realsOf(vipId: number): RealInfo[] {
    return [...this.reals.values()].filter((r) => r.vipId === vipId);
  }

  entriesOf(vipId: number): Array<[number, RealInfo]> {
    return [...this.reals.entries()].filter(([, r]) => r.vipId === vipId);
  }

  realIdsOf(vipId: number): number[] {
    return this.entriesOf(vipId).map(([id]) => id);
  }

  /**
   * A VIP's policy into lb_vip_ids[id] (read by established flows) and lb_vips under every port
   * it holds (read by the rest). Either order leaves every packet a consistent VIP: the id
   * entry is a copy. A group's ports go in one batch.
   */
  writeVip(v: VipRec, info: VipInfo): void {
    const res = v.resolved;
    const list = res.portList;
    this.maps.lb_vip_ids.update(u32(info.id), vipEntryCodec.encode({ key: res.vipKey, info, portHi: res.ports ? list[list.length - 1] : 0 }));
    this.putPorts(res, [...v.owned], info);
  }

  /** lb_vips[address, port, protocol] = info for each port (one batch for many). */
  putPorts(res: ResolvedVip, ports: number[], info: VipInfo): void {
    if (ports.length === 0) return;
    const value = vipInfoCodec.encode(info);
    if (ports.length === 1) {
      this.maps.lb_vips.update(this.portBin(res, ports[0]), value);
      return;
    }
    this.maps.lb_vips.updateBatch(ports.map((p) => this.portBin(res, p)), ports.map(() => value));
  }

  /** Deletes lb_vips[address, port, protocol] for each port (absent ones are skipped). */
  deletePorts(res: ResolvedVip, ports: number[]): void {
    for (const p of ports) this.maps.lb_vips.delete(this.portBin(res, p));
  }

  portBin(res: ResolvedVip, port: number): Buffer {
    return vipKeyCodec.encode({ ...res.vipKey, port });
  }

  vipKeys(): VipKey[] {
    return [...this.vips.values()].map((x) => x.resolved.vipKey);
  }

  /**
   * Writes one lb_vip_filter slot: the OR of the bits of the given VIPs that fall in it,
   * LB_VF_NO_ACCEPT for a no-accept address, LB_VF_NAT_SRC for the address of a real of a NAT
   * VIP (where its replies come from) and LB_VF_SNAT for a full-NAT pool address (where they
   * go). `extraNat` adds addresses about to be written (a bit goes in before its entry).
   */
  setFilterSlot(slot: number, keys: VipKey[] = this.vipKeys(), extraNat: { src?: Buffer[]; snat?: Buffer[] } = {}): void {
    this.maps.lb_vip_filter.update(u32(slot), u32(this.filterBits(slot, keys, extraNat)));
  }

  private filterBits(slot: number, keys: VipKey[], extraNat: { src?: Buffer[]; snat?: Buffer[] } = {}): number {
    let bits = this.natOn ? LB.VF_NAT_ON : 0;
    for (const k of keys) if (vipFilterSlot(k.addr) === slot) bits |= vipFilterBit(k.proto, k.port);
    for (const k of this.noAccept.values()) if (vipFilterSlot(k.addr) === slot) bits |= LB.VF_NO_ACCEPT;
    const natVips = new Set([...this.vips.values()].filter((v) => v.info.method === LB.METHOD_NAT).map((v) => v.info.id));
    for (const r of this.reals.values()) if (natVips.has(r.vipId) && vipFilterSlot(r.addr) === slot) bits |= LB.VF_NAT_SRC;
    for (const a of extraNat.src ?? []) if (vipFilterSlot(a) === slot) bits |= LB.VF_NAT_SRC;
    for (const p of this.pools.values()) for (const a of poolAddrs(p)) if (vipFilterSlot(a) === slot) bits |= LB.VF_SNAT;
    for (const a of extraNat.snat ?? []) if (vipFilterSlot(a) === slot) bits |= LB.VF_SNAT;
    return bits >>> 0;
  }

  /**
   * LB_VF_NAT_ON in every lb_vip_filter slot, or in none: the lb program reads a packet's source
   * slot (replies of NAT reals) only while it is set, so directors without NAT pay nothing. Every
   * slot is rewritten in one BPF_MAP_UPDATE_BATCH, each with its other bits as they are; only
   * when the first NAT VIP comes (before it is written) or the last one went (after).
   */
  setNatFlag(on: boolean): void {
    if (on === this.natOn) return;
    this.natOn = on;
    const n = LB.VIP_FILTER_SLOTS;
    const { keys: k0, values: v0, count } = this.maps.lb_vip_filter.lookupBatchRaw();
    const keys = Buffer.alloc(4 * n);
    const values = Buffer.alloc(4 * n);
    const cur = new Uint32Array(n);
    for (let i = 0; i < count; i++) cur[k0.readUInt32LE(4 * i)] = v0.readUInt32LE(4 * i);
    for (let i = 0; i < n; i++) {
      keys.writeUInt32LE(i, 4 * i);
      values.writeUInt32LE((on ? cur[i] | LB.VF_NAT_ON : cur[i] & ~LB.VF_NAT_ON) >>> 0, 4 * i);
    }
    this.maps.lb_vip_filter.updateBatchRaw(keys, values);
  }

  /** LB_VF_NAT_ON as the VIPs want it. */
  syncNatOn(): void {
    const want = this.hasNatVip();
    if (want === this.natOn) return;
    // What is in the slots decides (readBack): force a full rewrite.
    this.natOn = !want;
    this.setNatFlag(want);
  }

  /** Is some VIP NAT or full-NAT? */
  hasNatVip(): boolean {
    return [...this.vips.values()].some((v) => v.info.method === LB.METHOD_NAT || v.info.method === LB.METHOD_FULLNAT);
  }
}

/** The 16-byte addresses of a pool in use. */
export function poolAddrs(p: SnatPool): Buffer[] {
  return Array.from({ length: p.count }, (_, i) => Buffer.from(p.addr.subarray(16 * i, 16 * i + 16)));
}
