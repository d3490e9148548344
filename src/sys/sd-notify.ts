// sd_notify(3) without libsystemd: one datagram to $NOTIFY_SOCKET. Node has no unix datagram
// sockets, so it goes through libc (socket, sendto). Sent from this process, it passes systemd's
// NotifyAccess=main check when this process is the unit's main PID (/usr/bin/xlvs execs node).
import { AF_UNIX, SOCK_CLOEXEC, SOCK_DGRAM, MSG_NOSIGNAL, errno, libc, sockaddrUn } from './libc';

export interface NotifyResult { sent: boolean; error?: string }

/** systemd's watchdog (WatchdogSec=): where to send WATCHDOG=1 and how often (half the timeout). */
export interface Watchdog { notifySocket: string; intervalMs: number }

/**
 * The watchdog systemd set for this process: WATCHDOG_USEC (and WATCHDOG_PID, when set, naming
 * this process) with a NOTIFY_SOCKET; null when there is none.
 */
export function watchdogOf(env: NodeJS.ProcessEnv = process.env, pid = process.pid): Watchdog | null {
  const usec = Number(env.WATCHDOG_USEC);
  if (!env.NOTIFY_SOCKET || !Number.isSafeInteger(usec) || usec <= 0) return null;
  if (env.WATCHDOG_PID && Number(env.WATCHDOG_PID) !== pid) return null;
  return { notifySocket: env.NOTIFY_SOCKET, intervalMs: Math.max(1, Math.floor(usec / 2000)) };
}

/**
 * Sends `state` ("READY=1", "STOPPING=1", "STATUS=…", newline-separated) to the socket named by
 * NOTIFY_SOCKET. Not sent (and no error) when the variable is unset: not run by systemd with
 * Type=notify. Never throws: a notification is not worth stopping the daemon for.
 */
export function sdNotify(state: string, env: NodeJS.ProcessEnv = process.env): NotifyResult {
  const target = env.NOTIFY_SOCKET;
  if (!target) return { sent: false };
  if (!target.startsWith('/') && !target.startsWith('@')) return { sent: false, error: `NOTIFY_SOCKET=${target}: only unix socket paths are supported` };
  const sa = sockaddrUn(target);
  if (!sa) return { sent: false, error: `NOTIFY_SOCKET=${target}: too long for a unix socket address` };
  const c = libc();
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0) as number;
  if (fd < 0) return { sent: false, error: `socket(AF_UNIX, SOCK_DGRAM): errno ${errno()}` };
  try {
    const data = Buffer.from(state);
    const n = c.sendto(fd, data, data.length, MSG_NOSIGNAL, sa.addr, sa.len) as number;
    if (n < 0) return { sent: false, error: `sendto ${target}: errno ${errno()}` };
    if (n !== data.length) return { sent: false, error: `sendto ${target}: ${n} of ${data.length} bytes` };
    return { sent: true };
  } finally {
    c.close(fd);
  }
}
