// Addresses on an interface through iproute2 (`ip -j addr`): the VIPs real servers hold on `lo`.
import { run } from '../sys/exec';
import { XlvsError, ErrorCodes } from '../errors';
import * as net from 'node:net';

export interface IfAddr { family: 4 | 6; address: string; prefixlen: number }

/** The addresses on `dev`, as iproute2 reports them. */
export function listAddrs(dev: string): IfAddr[] {
  const out = run(['ip', '-j', 'addr', 'show', 'dev', dev]).stdout;
  const links = JSON.parse(out || '[]') as { addr_info?: { family: string; local: string; prefixlen: number }[] }[];
  const res: IfAddr[] = [];
  for (const l of links) {
    for (const a of l.addr_info ?? []) {
      if (a.family !== 'inet' && a.family !== 'inet6') continue;
      res.push({ family: a.family === 'inet' ? 4 : 6, address: normalizeIp(a.local), prefixlen: a.prefixlen });
    }
  }
  return res;
}

/** Host prefix of a VIP on lo: /32 for IPv4, /128 for IPv6. */
function hostCidr(vip: string): string {
  return `${vip}/${net.isIPv6(vip) ? 128 : 32}`;
}

export function hasAddr(dev: string, vip: string): boolean {
  const want = normalizeIp(vip);
  return listAddrs(dev).some((a) => a.address === want);
}

export function addHostAddr(dev: string, vip: string): void {
  run(['ip', 'addr', 'add', hostCidr(vip), 'dev', dev]);
}

export function delHostAddr(dev: string, vip: string): void {
  const want = normalizeIp(vip);
  const found = listAddrs(dev).find((a) => a.address === want);
  if (!found) return;
  run(['ip', 'addr', 'del', `${found.address}/${found.prefixlen}`, 'dev', dev]);
}

/** Canonical text of an IP address (IPv6 compressed and lower-case), or throws E_USAGE. */
export function normalizeIp(addr: string): string {
  const v = net.isIP(addr);
  if (v === 4) return addr.split('.').map((o) => String(Number(o))).join('.');
  if (v === 6) return canonicalIPv6(addr);
  throw new XlvsError(ErrorCodes.USAGE, `"${addr}" is not an IPv4 or IPv6 address`);
}

function canonicalIPv6(addr: string): string {
  // Expand to 8 groups, then compress the longest run of zero groups (RFC 5952 §4.2).
  let groups: string[];
  const tail4 = /(\d+\.\d+\.\d+\.\d+)$/.exec(addr);
  let a = addr.toLowerCase();
  if (tail4) {
    const o = tail4[1].split('.').map(Number);
    a = a.slice(0, -tail4[1].length) + `${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  if (a.includes('::')) {
    const [h, t] = a.split('::');
    const hs = h ? h.split(':') : [];
    const ts = t ? t.split(':') : [];
    groups = [...hs, ...Array(8 - hs.length - ts.length).fill('0'), ...ts];
  } else {
    groups = a.split(':');
  }
  groups = groups.map((g) => parseInt(g, 16).toString(16));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8;) {
    if (groups[i] !== '0') { i++; continue; }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen && j - i >= 2) { bestStart = i; bestLen = j - i; }
    i = j;
  }
  if (bestStart < 0) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}
