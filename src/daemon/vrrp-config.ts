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

/**
 * The addresses the lb program must not let the kernel accept (Dataplane.setNoAccept): the
 * VIPs of VRRP instances with accept: false (keepalived no_accept), unless the instance is the
 * address owner (priority 255), which always accepts (RFC 5798 §6.4.3).
 */
export function noAcceptAddresses(t: Topology): string[] {
  const out = new Set<string>();
  for (const i of t.vrrp) {
    if (i.accept || i.priority === 255) continue;
    for (const v of i.vips) out.add(v.address);
  }
  return [...out];
}
