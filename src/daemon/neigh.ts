// Real-server MAC addresses from the neighbour table, for reals configured without `mac`.
// DR needs the real's own MAC; TUN needs the MAC of the next hop toward the real (the real
// itself when on-link). A missing entry is solicited by sending one empty UDP datagram to the
// discard port (RFC 863) of the on-link address, which makes the kernel ARP/ND for it.
import * as dgram from 'node:dgram';
import { run } from '../sys/exec';

export interface NeighResult { mac: string | null; via: string; reason: string }

interface NeighEntry { dst: string; lladdr?: string; state?: string[] }
interface RouteEntry { dst: string; gateway?: string; dev?: string }

const DISCARD_PORT = 9; // RFC 863

/** The on-link address to resolve for `addr`: itself, or the gateway of its route. */
function nextHop(addr: string, dev: string): { via: string; dev: string } {
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

/** Every usable neighbour entry on `dev`: address → MAC. One `ip` call for the whole table. */
function neighbourTable(dev: string): Map<string, string> {
  const out = new Map<string, string>();
  const r = run(['ip', '-j', 'neigh', 'show', 'dev', dev], { allowFail: true });
  if (r.status !== 0 || !r.stdout.trim()) return out;
  try {
    for (const n of JSON.parse(r.stdout) as NeighEntry[]) {
      if (n.lladdr && !(n.state ?? []).some((st) => st === 'FAILED' || st === 'INCOMPLETE')) out.set(n.dst, n.lladdr.toLowerCase());
    }
  } catch { /* unreadable: treat as empty */ }
  return out;
}

/**
 * Resolves the MACs of many reals on `dev`: one read of the neighbour table; only the missing
 * ones are looked up by route and solicited, then the table is read again until `waitMs`.
 */
export async function resolveMacs(addrs: string[], dev: string, waitMs = 1500): Promise<Map<string, NeighResult>> {
  const out = new Map<string, NeighResult>();
  let table = neighbourTable(dev);
  const pending = new Map<string, { via: string; dev: string }>();
  for (const a of addrs) {
    const direct = table.get(a);
    if (direct) out.set(a, { mac: direct, via: a, reason: 'neighbour table' });
    else pending.set(a, nextHop(a, dev));
  }
  // A next hop on another device, or a gateway: look it up there.
  for (const [a, hop] of [...pending]) {
    const mac = (hop.dev === dev ? table : neighbourTable(hop.dev)).get(hop.via);
    if (mac) { out.set(a, { mac, via: hop.via, reason: 'neighbour table' }); pending.delete(a); }
  }
  if (pending.size) {
    await Promise.all([...new Set([...pending.values()].map((h) => h.via))].map(solicit));
    const deadline = Date.now() + waitMs;
    while (pending.size && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
      table = neighbourTable(dev);
      for (const [a, hop] of [...pending]) {
        const mac = (hop.dev === dev ? table : neighbourTable(hop.dev)).get(hop.via);
        if (mac) { out.set(a, { mac, via: hop.via, reason: 'resolved' }); pending.delete(a); }
      }
    }
  }
  for (const [a, hop] of pending) out.set(a, { mac: null, via: hop.via, reason: `no neighbour entry for ${hop.via} on ${hop.dev}` });
  return out;
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
