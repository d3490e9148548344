// The VRRP runner's configuration from the normalised topology.
import type { Topology } from '../config/model';
import type { VrrpConfig } from '../vrrp/types';

export function vrrpConfigOf(t: Topology): VrrpConfig {
  const byName = new Map(t.vrrpScripts.map((s) => [s.name, s]));
  const orNone = (a: string[] | null) => (a && a.length ? a : undefined);
  return {
    instances: t.vrrp.map((i) => ({
      name: i.name,
      interface: i.interface,
      vrid: i.vrid,
      priority: i.priority,
      initialState: i.state,
      version: i.version,
      family: i.family,
      advertIntervalMs: i.advertIntervalMs,
      authPass: i.auth ? i.auth.secret : null,
      vips: i.vips.map((v) => ({ address: v.address, prefix: v.prefix })),
      preempt: i.preempt,
      preemptDelayMs: i.preemptDelayMs,
      accept: i.accept,
      unicastSrc: i.unicastSrc,
      unicastPeers: i.unicastPeers,
      trackInterfaces: i.trackInterfaces,
      trackScripts: i.trackScripts.map((name) => ({ name, weight: byName.get(name)?.weight ?? null })),
      garp: i.garp,
      notify: {
        master: orNone(i.notify.master), backup: orNone(i.notify.backup), fault: orNone(i.notify.fault),
        stop: orNone(i.notify.stop), any: orNone(i.notify.any),
      },
    })),
    scripts: t.vrrpScripts.map((s) => ({ ...s })),
    syncGroups: t.vrrpSyncGroups.map((g) => ({ name: g.name, instances: [...g.instances] })),
  };
}
