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

export type MapName = (typeof LB_MAPS)[number];
export type LbMaps = Record<MapName, BpfMap>;

export interface VipRec { key: string; bin: Buffer; info: VipInfo; resolved: ResolvedVip }

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
  nextVipId = 1;

  constructor(readonly maps: LbMaps, readonly maglevSeed: number) {
    this.readBack();
  }

  /** Rebuilds the index from the maps (create: empty; adopt: what is pinned). */
  private readBack(): void {
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
   * A VIP's policy into lb_vip_ids[id] (read by established flows) and lb_vips (read by the
   * rest). Either order leaves every packet a consistent VIP: the id entry is a copy.
   */
  writeVip(bin: Buffer, key: VipKey, info: VipInfo): void {
    this.maps.lb_vip_ids.update(u32(info.id), vipEntryCodec.encode({ key, info }));
    this.maps.lb_vips.update(bin, vipInfoCodec.encode(info));
  }

  vipKeys(): VipKey[] {
    return [...this.vips.values()].map((x) => x.resolved.vipKey);
  }
}
