// Where a check connects, and the %placeholders% of script argv.
import { CheckTarget } from './types';

export function connectHost(t: CheckTarget): string {
  return t.connectIp || t.address;
}

export function connectPort(t: CheckTarget): number {
  return t.connectPort || t.port;
}

/** `10.0.0.1:80`, `[2001:db8::1]:80`. */
export function hostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Replaces `%name%` in `s` from `vars`; unknown names stay as written. */
export function substitute(s: string, vars: Record<string, string>): string {
  return s.replace(/%([a-z_]+)%/g, (all, name: string) => (name in vars ? vars[name] : all));
}
