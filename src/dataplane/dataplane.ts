// The Dataplane: the lb XDP program and its maps, pinned. This file holds their lifetime — load
// and pin (create), reopen the pins after a restart without touching their contents (adopt),
// load this build's program over another build's pinned maps (loadOver), attach, close,
// destroy — and the director config. What the maps hold is written and read by one role each:
//   vips    VIPs, the pre-filter and the no-accept addresses (vips.ts)
//   reals   reals and their Maglev tables, out-of-selection writes, batched swaps (reals.ts)
//   stats   per-CPU counters per VIP, real and verdict reason (stats.ts)
//   flows   the flow clock, the connection table, persistence templates (flows.ts)
// They share one index of what the maps hold (state.ts), read back at open.
//
// Map writes are ordered so that a failure leaves the previous state in force: a VIP's new
// Maglev table is built whole in a fresh inner map before it is swapped into lb_maglev; new
// and changed reals are written before the swap and restored if a later step fails; reals that
// left are cleared only after the swap.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { bpfObject } from '../paths';
import { BpfObject, BpfProgram, BpfMap, attachXdp, detachXdp, XdpMode, ifindexOf } from '../loader';
import {
  LB, LB_MAPS, vipKey as vipKeyCodec, peerKey as peerKeyCodec, vipInfo as vipInfoCodec, realInfo as realInfoCodec,
  flowKey as flowKeyCodec, connValue as connValueCodec, newSlot as newSlotCodec, lbConfig as lbConfigCodec, lbCounters, lbReasonStats,
  persistKey as persistKeyCodec, persistValue as persistValueCodec, vipEntry as vipEntryCodec,
  conn4Key as conn4KeyCodec, conn4Entry as conn4EntryCodec, realLoad as realLoadCodec, realLoadFix as realLoadFixCodec, lbFlowStats as lbFlowStatsCodec,
  natRev as natRevCodec, snatPool as snatPoolCodec, lbIface as lbIfaceCodec,
} from '../maps/lb';
import { DirectorConfig, configOf, formatAddr, AF6 } from './spec';
import { serviceKey } from './addr';
import { DataplaneIndex, LbMaps, MapName, VipRec, dataplaneState, u32 } from './state';
import { VipTable } from './vips';
import { RealTable } from './reals';
import { Stats } from './stats';
import { Flows } from './flows';
import { run } from '../sys/exec';

export type { VipState } from './vips';
export type { RealState } from './reals';
export type { Traffic, Counters } from './stats';
export type { Connection } from './flows';

export const PROGRAM_NAME = 'xdp_lb';

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
  /** Sizes of the flow tables (topology director.conn_table, director.persistence_table). */
  tables?: FlowTableSizes;
}

/** max_entries of the flow tables; each defaults to lb_shared.h's size. */
export interface FlowTableSizes {
  /** lb_conns: confirmed IPv4 flows. */
  conns?: number;
  /** lb_conns6: confirmed IPv6 flows. */
  conns6?: number;
  /** lb_new: unconfirmed flows (a SYN, a UDP flow's first packet): what a flood can churn. */
  unconfirmed?: number;
  /** lb_persist: persistence templates. */
  persist?: number;
  /** lb_nat_rev: NAT and full-NAT reverse entries (one per NAT flow, both families). */
  nat?: number;
}

const TABLE_MAPS: Record<keyof FlowTableSizes, MapName> = { conns: 'lb_conns', conns6: 'lb_conns6', unconfirmed: 'lb_new', persist: 'lb_persist', nat: 'lb_nat_rev' };
export const DEFAULT_FLOW_TABLES: Required<FlowTableSizes> = {
  conns: LB.CONN_ENTRIES, conns6: LB.CONN6_ENTRIES, unconfirmed: LB.NEW_ENTRIES, persist: LB.PERSIST_ENTRIES, nat: LB.NAT_ENTRIES,
};
/** Bounds of a table size: the kernel rounds a hash map's buckets up to a power of two. */
export const MIN_TABLE_ENTRIES = 1024;
export const MAX_TABLE_ENTRIES = 1 << 28;

/** The flow tables a topology's director.conn_table and director.persistence_table ask for. */
export function flowTablesOf(d: { connTable: { size: number; ipv6Size: number; unconfirmedSize: number; natSize: number }; persistenceTable: { size: number } }): FlowTableSizes {
  return { conns: d.connTable.size, conns6: d.connTable.ipv6Size, unconfirmed: d.connTable.unconfirmedSize, persist: d.persistenceTable.size, nat: d.connTable.natSize };
}

function sizeTables(obj: BpfObject, t: FlowTableSizes | undefined): void {
  for (const k of Object.keys(TABLE_MAPS) as Array<keyof FlowTableSizes>) {
    const n = t?.[k] ?? DEFAULT_FLOW_TABLES[k];
    if (!Number.isInteger(n) || n < MIN_TABLE_ENTRIES || n > MAX_TABLE_ENTRIES) {
      throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `tables.${k}: ${n} is not an integer ${MIN_TABLE_ENTRIES}..${MAX_TABLE_ENTRIES}`);
    }
    // lb_conns gets a line (struct conn4_line, two entries) per flow of its size, so it holds
    // that many flows at half its entries (bpf/include/conntrack.h says why).
    obj.setMaxEntries(TABLE_MAPS[k], n);
  }
}

/** Codec sizes every map must have (a pinned map of another layout is refused at adopt). */
const SHAPES: Record<MapName, { key: number; value: number }> = {
  lb_vips: { key: vipKeyCodec.size, value: vipInfoCodec.size },
  lb_reals: { key: 4, value: realInfoCodec.size },
  lb_cfg: { key: 4, value: lbConfigCodec.size },
  lb_maglev: { key: 4, value: 4 },
  lb_conns: { key: 4, value: 2 * conn4EntryCodec.size },
  lb_conns6: { key: flowKeyCodec.size, value: connValueCodec.size },
  lb_new: { key: 4, value: newSlotCodec.size },
  lb_persist: { key: persistKeyCodec.size, value: persistValueCodec.size },
  lb_real_load: { key: 4, value: realLoadCodec.size },
  lb_real_load_fix: { key: 4, value: realLoadFixCodec.size },
  lb_flow_stats: { key: 4, value: lbFlowStatsCodec.size },
  lb_vip_stats: { key: 4, value: lbCounters.size },
  lb_real_stats: { key: 4, value: lbCounters.size },
  lb_reasons: { key: 4, value: lbReasonStats.size },
  lb_vip_filter: { key: 4, value: 4 },
  lb_vip_ids: { key: 4, value: vipEntryCodec.size },
  lb_no_accept: { key: vipKeyCodec.size, value: 4 },
  lb_peers: { key: peerKeyCodec.size, value: 4 },
  lb_nat_rev: { key: flowKeyCodec.size, value: natRevCodec.size },
  lb_snat: { key: 4, value: snatPoolCodec.size },
  lb_tx_ports: { key: 4, value: 4 },
  lb_ifaces: { key: 4, value: lbIfaceCodec.size },
};

export class Dataplane {
  readonly vips: VipTable;
  readonly reals: RealTable;
  readonly stats: Stats;
  readonly flows: Flows;
  private readonly ix: DataplaneIndex;

  private constructor(
    readonly pinDir: string,
    readonly program: BpfProgram,
    maps: LbMaps,
    private obj: BpfObject | null,
    maglevSeed: number,
  ) {
    this.ix = new DataplaneIndex(maps, maglevSeed);
    this.reals = new RealTable(this.ix);
    this.vips = new VipTable(this.ix, this.reals);
    this.stats = new Stats(this.ix, this.vips, this.reals);
    this.flows = new Flows(this.ix);
    // Replies of NAT reals are looked for while a NAT VIP exists (LB_VF_NAT_ON): maps of an
    // older build taken over by loadOver may lack it; adopted ones have it (no write then).
    this.ix.syncNatOn();
  }

  /** Loads lb.bpf.o, writes the director config, pins program and maps under `pinDir`. */
  static create(opts: CreateOptions): Dataplane {
    if (!opts || typeof opts.pinDir !== 'string' || !opts.pinDir) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, 'pinDir: required');
    const cfg = configOf(opts);
    const seed = opts.maglevSeed ?? 0;
    if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `maglevSeed: ${seed} is not an integer 0..4294967295`);
    const existing = [PROGRAM_NAME, ...LB_MAPS].filter((n) => fs.existsSync(path.join(opts.pinDir, n)));
    if (existing.length) {
      throw dataplaneState(`${opts.pinDir} already holds a data plane (${existing.join(', ')}): adopt it with Dataplane.adopt(), or destroy() it first`);
    }
    const obj = BpfObject.open(opts.object ?? bpfObject('lb'));
    const pinned: string[] = [];
    const madeDir = !fs.existsSync(opts.pinDir);
    try {
      sizeTables(obj, opts.tables);
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
    // No pinned program (a re-pin interrupted after the old one was unpinned): not the same
    // build; the maps that are pinned are taken over like another build's.
    let pinnedTag: string | null = null;
    if (fs.existsSync(path.join(opts.pinDir, PROGRAM_NAME))) {
      const pinned = BpfProgram.openPinned(path.join(opts.pinDir, PROGRAM_NAME));
      try { pinnedTag = pinned.tag; } finally { pinned.close(); }
    }
    let sameBuild = false;
    if (pinnedTag !== null) try {
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
      // lives on through its reference until the swap. Each is pinned beside the old one and
      // renamed over it (atomic on bpffs), so an interruption leaves the old pin or the new,
      // never neither.
      for (const [name, h] of [[PROGRAM_NAME, prog] as const, ...created.map((n) => [n, maps[n]] as const)]) {
        const pin = path.join(opts.pinDir, name);
        const fresh = `${pin}__new`; // bpffs refuses names with a dot
        try { fs.unlinkSync(fresh); } catch { /* no leftover */ }
        h.pin(fresh);
        fs.renameSync(fresh, pin);
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
      sizeTables(obj, opts.tables);
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
          throw dataplaneState(`${path.join(pinDir, n)}: key ${m.keySize} / value ${m.valueSize} bytes, this xlvs expects ${want.key} / ${want.value} (pinned by another version: destroy and create)`);
        }
        maps[n] = m;
      }
      return new Dataplane(pinDir, prog, maps, null, opts.maglevSeed ?? 0);
    } catch (e) {
      for (const h of opened) h.close();
      throw e;
    }
  }

  // ---- director config --------------------------------------------------------------------

  config(): DirectorConfig & { mtu: number; hashSeed: number } {
    return this.ix.config();
  }

  /** Replaces the director config (MAC, TUN sources, MTU, hash seed) in one map write; the flow
   *  clock it shares the entry with is kept. */
  configure(c: DirectorConfig): void {
    const cur = this.ix.maps.lb_cfg.lookup(u32(0));
    const enc = lbConfigCodec.encode({ ...configOf(c), nowS: cur ? lbConfigCodec.decode(cur).nowS : 0 });
    this.checkTunSources(c, [...this.ix.vips.values()]);
    this.ix.maps.lb_cfg.update(u32(0), enc);
  }

  private checkTunSources(c: DirectorConfig, vips: VipRec[]): void {
    for (const v of vips) {
      if (v.info.method !== LB.METHOD_TUN) continue;
      for (const r of this.ix.realsOf(v.info.id)) {
        const six = r.family === AF6;
        if (six ? !c.tunSource6 : !c.tunSource4) {
          throw new XlvsError(ErrorCodes.DATAPLANE_SPEC, `config.${six ? 'tunSource6' : 'tunSource4'}: required by TUN VIP ${v.key} (real ${formatAddr(r.addr, r.family)})`);
        }
      }
    }
  }

  // ---- attachment and lifetime ------------------------------------------------------------

  /**
   * Attaches the lb program to an interface and makes it a redirect target (lb_tx_ports): NAT
   * sends a packet out of another interface the program runs on (two-armed: outside and inside)
   * with XDP_REDIRECT, out of the one it came in by with XDP_TX. Attach it to every interface
   * NAT traffic crosses.
   */
  attach(ifname: string, mode: XdpMode = 'native'): { mode: XdpMode } {
    const r = attachXdp(ifname, this.program, { mode, fallbackToGeneric: true });
    this.addTxPort(ifname);
    return r;
  }

  /**
   * Makes an interface a redirect target (lb_tx_ports) and records its MAC (lb_ifaces: NAT
   * replies are sent to it), without attaching: attach() does this, and a daemon that finds
   * its program already attached. `mac` defaults to the interface's own (ip link).
   */
  addTxPort(ifname: string, mac?: string): void {
    const ifindex = ifindexOf(ifname);
    this.ix.maps.lb_ifaces.update(u32(ifindex), lbIfaceCodec.encode({ mac: mac ?? linkMac(ifname) }));
    this.ix.maps.lb_tx_ports.update(u32(ifindex), u32(ifindex));
  }

  /** The interfaces (ifindexes) NAT may redirect to. */
  txPorts(): number[] {
    return [...this.ix.maps.lb_tx_ports.entries()].map(([k]) => k.readUInt32LE(0)).sort((a, b) => a - b);
  }

  detach(ifname: string): void {
    const ifindex = ifindexOf(ifname);
    try { this.ix.maps.lb_tx_ports.delete(u32(ifindex)); } catch { /* not a port */ }
    try { this.ix.maps.lb_ifaces.delete(u32(ifindex)); } catch { /* not a port */ }
    detachXdp(ifname, 'all');
  }

  /** Drops our fds; pinned program and maps keep forwarding. */
  close(): void {
    this.flows.stopClock();
    for (const m of Object.values(this.ix.maps)) m.close();
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

/** An interface's MAC in this network namespace (`ip -j link show`). */
function linkMac(ifname: string): string {
  const out = run(['ip', '-j', 'link', 'show', 'dev', ifname]).stdout;
  const j = JSON.parse(out) as Array<{ address?: string }>;
  if (!j[0]?.address) throw new XlvsError(ErrorCodes.BPF_NO_IFACE, `${ifname}: no MAC address (ip link)`);
  return j[0].address;
}
