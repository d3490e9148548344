// What the Dataplane's roles share: the typed handles of the lb maps, and an index of what the
// maps hold (VIPs by service key, reals by id, no-accept addresses), read back from the maps at
// open and kept in step with every write. The roles (vips.ts, reals.ts, stats.ts, flows.ts) each
// own their writes; none keeps a copy of its own.
import { XlvsError, ErrorCodes } from '../errors';
import type { BpfMap } from '../loader';
import {
  LB, LB_MAPS, vipKey as vipKeyCodec, vipInfo as vipInfoCodec, realInfo as realInfoCodec, lbConfig as lbConfigCodec,
  vipEntry as vipEntryCodec, peerKey as peerKeyCodec, VipInfo, VipKey, RealInfo,
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
}
