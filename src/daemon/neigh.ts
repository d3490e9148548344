// Real-server MAC addresses from the neighbour table, for reals configured without `mac`.
// DR needs the real's own MAC; TUN needs the MAC of the next hop toward the real (the real
// itself when on-link). A missing entry is solicited by sending one empty UDP datagram to the
// discard port (RFC 863) of the on-link address, which makes the kernel ARP/ND for it.
import * as dgram from 'node:dgram';
import { run } from '../lab/netns';

export interface NeighResult { mac: string | null; via: string; reason: string }

interface NeighEntry { dst: string; lladdr?: string; state?: string[] }
interface RouteEntry { dst: string; gateway?: string; dev?: string }

const DISCARD_PORT = 9; // RFC 863

function lookup(addr: string, dev: string): string | null {
  const r = run(['ip', '-j', 'neigh', 'show', 'to', addr, 'dev', dev], { allowFail: true });
  if (r.status !== 0 || !r.stdout.trim()) return null;
  try {
    const rows = JSON.parse(r.stdout) as NeighEntry[];
    const ok = rows.find((n) => n.lladdr && !(n.state ?? []).some((s) => s === 'FAILED' || s === 'INCOMPLETE'));
    return ok?.lladdr?.toLowerCase() ?? null;
  } catch {
    return null;
  }
}

/** The on-link address to resolve for `addr`: itself, or the gateway of its route. */
export function nextHop(addr: string, dev: string): { via: string; dev: string } {
  const r = run(['ip', '-j', 'route', 'get', addr], { allowFail: true });
  if (r.status === 0) {
    try {
      const rows = JSON.parse(r.stdout) as RouteEntry[];
      if (rows[0]) return { via: rows[0].gateway ?? addr, dev: rows[0].dev ?? dev };
    } catch { /* fall through */ }
  }
  return { via: addr, dev };
}

function solicit(addr: string): Promise<void> {
  return new Promise((resolve) => {
    const s = dgram.createSocket(addr.includes(':') ? 'udp6' : 'udp4');
    s.on('error', () => { s.close(); resolve(); });
    s.send(Buffer.alloc(0), DISCARD_PORT, addr, () => { s.close(); resolve(); });
  });
}

/** Resolves the MAC for a real on `dev`, soliciting once and waiting up to `waitMs`. */
export async function resolveMac(addr: string, dev: string, waitMs = 1500): Promise<NeighResult> {
  const hop = nextHop(addr, dev);
  const via = hop.via;
  let mac = lookup(via, hop.dev);
  if (mac) return { mac, via, reason: 'neighbour table' };
  await solicit(via);
  const deadline = Date.now() + waitMs;
  while (Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 50));
    mac = lookup(via, hop.dev);
    if (mac) return { mac, via, reason: 'resolved' };
  }
  return { mac: null, via, reason: `no neighbour entry for ${via} on ${hop.dev}` };
}

/** The MAC of a local interface. */
export function interfaceMac(dev: string): string | null {
  const r = run(['ip', '-j', 'link', 'show', 'dev', dev], { allowFail: true });
  if (r.status !== 0) return null;
  try {
    const rows = JSON.parse(r.stdout) as { address?: string }[];
    return rows[0]?.address?.toLowerCase() ?? null;
  } catch {
    return null;
  }
}
