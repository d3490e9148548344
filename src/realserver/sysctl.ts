// Per-interface IPv4 sysctls under /proc/sys/net/ipv4/conf, read and written as files (no
// `sysctl` binary). /proc/sys/net shows the calling process's network namespace, so this works
// unchanged inside `ip netns exec`.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';

const CONF_DIR = '/proc/sys/net/ipv4/conf';

/** The keys real-server setup touches; anything else is refused. */
export type ConfKey = 'arp_ignore' | 'arp_announce' | 'rp_filter';

/** `net.ipv4.conf.<dev>.<key>` as an operator writes it (for messages and status). */
export function confName(dev: string, key: ConfKey): string {
  return `net.ipv4.conf.${dev}.${key}`;
}

function confPath(dev: string, key: ConfKey): string {
  if (dev.includes('/') || dev === '..' || dev === '.') {
    throw new XlvsError(ErrorCodes.USAGE, `interface name "${dev}" is not valid`);
  }
  return path.join(CONF_DIR, dev, key);
}

export function readConf(dev: string, key: ConfKey): number {
  const p = confPath(dev, key);
  let text: string;
  try {
    text = fs.readFileSync(p, 'utf8');
  } catch (e) {
    throw new XlvsError(ErrorCodes.SYSTEM, `cannot read ${confName(dev, key)} (${p}): ${(e as Error).message}`);
  }
  const v = Number.parseInt(text.trim(), 10);
  if (!Number.isInteger(v)) throw new XlvsError(ErrorCodes.SYSTEM, `${confName(dev, key)} holds "${text.trim()}", not an integer`);
  return v;
}

export function writeConf(dev: string, key: ConfKey, value: number): void {
  const p = confPath(dev, key);
  try {
    fs.writeFileSync(p, `${value}\n`);
  } catch (e) {
    throw new XlvsError(ErrorCodes.SYSTEM, `cannot set ${confName(dev, key)}=${value}: ${(e as Error).message}`);
  }
}

export function confExists(dev: string): boolean {
  return fs.existsSync(path.join(CONF_DIR, dev));
}
