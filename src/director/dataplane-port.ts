// The reconciler's view of the Dataplane: its writes, and the state read back from the
// pinned maps when a restarted daemon adopts them.
import type { Dataplane } from '../dataplane/dataplane';
import type { Topology } from '../config/model';
import type { DataplanePort, RealWithId } from '../reconciler/reconciler';
import type { DesiredReal, DesiredState, DesiredVip } from '../reconciler/desired';
import { hostPort } from '../common/address';

export class DataplanePortAdapter implements DataplanePort {
  constructor(private readonly dp: Dataplane) {}

  upsertVip(v: DesiredVip): void {
    this.dp.vips.upsert({
      address: v.address, port: v.port, protocol: v.protocol, ports: v.ports, method: v.method, scheduler: v.scheduler,
      persistenceTimeoutMs: v.persistenceTimeoutMs, persistencePrefix: v.persistencePrefix, tableSize: v.tableSize, onDown: v.onDown,
      timeouts: v.timeouts, localMode: v.localMode,
      ...(v.method === 'fullnat' ? { snatPool: { addresses: v.snatPool ?? [] } } : {}),
    });
  }

  removeVip(v: DesiredVip): void {
    this.dp.vips.remove(v.key);
  }

  batch<T>(fn: () => T): T {
    return this.dp.reals.withBatchedSwaps(fn);
  }

  takeOutOfSelection(changes: ReadonlyArray<{ id: number; state: 'drain' | 'down' }>): number[] {
    return this.dp.reals.takeOutOfSelection(changes);
  }

  setNoAccept(addresses: readonly string[]): { added: string[]; removed: string[] } {
    return this.dp.vips.setNoAccept(addresses);
  }

  setReals(v: DesiredVip, reals: RealWithId[], sorry: RealWithId | null): void {
    const spec = (r: RealWithId) => ({
      id: r.id, address: r.address, mac: r.mac ?? '00:00:00:00:00:00', weight: r.weight, state: r.state,
      upperThreshold: r.upperThreshold, lowerThreshold: r.lowerThreshold, local: r.local,
      // NAT maps VIP:port to the real's own port; DR and TUN keep the VIP's.
      // A grouped service's flows keep their own port (its VIP is port 0 in the data plane).
      ...(v.method === 'nat' || v.method === 'fullnat' ? { port: v.ports ? 0 : r.port } : {}),
    });
    this.dp.reals.set(v.key, reals.map(spec), sorry ? spec(sorry) : null);
  }
}

/**
 * What the pinned maps hold, as desired state, with the real ids found there. Real keys carry a
 * port the maps do not store (DR and TUN keep the VIP's port): it is taken from the topology's
 * real of the same address, else the VIP's port.
 */
export function adoptedState(dp: Dataplane, topo: Topology): { state: DesiredState; realIds: { service: string; real: string; id: number }[] } {
  const state: DesiredState = new Map();
  const realIds: { service: string; real: string; id: number }[] = [];
  const reals = dp.reals.list();
  for (const v of dp.vips.list()) {
    const svc = topo.services.find((s) => s.key === v.key);
    const keyOf = (addr: string): { key: string; port: number } => {
      const cr = svc?.reals.find((r) => r.address === addr);
      if (cr) return { key: cr.key, port: cr.port };
      if (svc?.sorryServer && svc.sorryServer.address === addr) return { key: hostPort(addr, svc.sorryServer.port), port: svc.sorryServer.port };
      return { key: hostPort(addr, v.port), port: v.port };
    };
    const mine: DesiredReal[] = [];
    let sorry: DesiredReal | null = null;
    for (const r of reals.filter((x) => x.vipKey === v.key)) {
      const k = r.port ? { key: hostPort(r.address, r.port), port: r.port } : keyOf(r.address);
      const d: DesiredReal = {
        key: k.key, address: r.address, port: k.port, weight: r.weight, state: r.state, mac: r.mac,
        upperThreshold: r.upperThreshold, lowerThreshold: r.lowerThreshold, local: r.local,
      };
      realIds.push({ service: v.key, real: k.key, id: r.id });
      if (r.sorry) sorry = d;
      else mine.push(d);
    }
    state.set(v.key, {
      vip: {
        key: v.key, address: v.address, port: v.port, protocol: v.protocol, ports: v.ports, method: v.method, scheduler: v.scheduler,
        persistenceTimeoutMs: v.persistenceTimeoutMs, persistencePrefix: v.persistencePrefix, tableSize: v.tableSize, onDown: v.onDown,
        timeouts: v.timeouts, localMode: v.localMode,
        ...(v.snatPool ? { snatPool: v.snatPool.addresses } : {}),
      },
      reals: mine,
      sorry,
    });
  }
  return { state, realIds };
}
