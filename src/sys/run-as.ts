// The identity commands from the topology run under (keepalived `script_user`): set by the
// daemon or `xlvs vrrp` from the topology, read by every place that spawns a notify, check or
// tracking script. Unset: they run as the daemon (root). Node's spawn with uid/gid drops the
// supplementary groups too (libuv calls setgroups(0) before setgid/setuid when run as root).

export interface RunAs { uid: number; gid: number }

let current: RunAs | null = null;

export function setScriptIdentity(id: RunAs | null): void {
  current = id;
}

/** Spawn options for a topology command: `{ uid, gid }`, or nothing when scripts run as root. */
export function scriptIdentity(): Partial<RunAs> {
  return current ? { uid: current.uid, gid: current.gid } : {};
}
