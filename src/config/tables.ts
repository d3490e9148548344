// The sized tables (director.conn_table, director.persistence_table) and the connection
// timeouts: defaults, bounds, and the memory check that keeps `xlvs validate` equal to what the
// kernel can allocate.
import * as fs from 'node:fs';
import { mib, tableCosts, totalBytes, type TableSizes } from '../dataplane/table-cost';
import { LB } from '../maps/lb';

/** Default entries: IPv4 connections, IPv6 connections, unconfirmed flows, persistence
 *  (lb_shared.h's sizes). */
export const DEFAULT_TABLES: TableSizes = {
  connTable: { size: LB.CONN_ENTRIES, ipv6Size: LB.CONN6_ENTRIES, unconfirmedSize: LB.NEW_ENTRIES, natSize: LB.NAT_ENTRIES },
  persistenceTable: { size: LB.PERSIST_ENTRIES },
};

/** IPVS's default timeouts, and the longest, in seconds (src/dataplane/spec.ts). */
export { DEFAULT_TIMEOUTS, MAX_TIMEOUT_S } from '../dataplane/spec';

/** MemTotal from /proc/meminfo in bytes; null when it cannot be read (not Linux). */
export function memTotalBytes(file = '/proc/meminfo'): number | null {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
  const m = /^MemTotal:\s+(\d+)\s+kB$/m.exec(text);
  return m ? Number(m[1]) * 1024 : null;
}

/**
 * Why these tables cannot be allocated here (their memory exceeds half of `memTotal`), or null.
 * Half: the tables are preallocated in kernel memory the rest of the machine then cannot use.
 */
export function tableMemoryProblem(sizes: TableSizes, memTotal: number | null): string | null {
  if (memTotal === null) return null;
  const costs = tableCosts(sizes);
  const total = totalBytes(costs);
  if (total <= memTotal / 2) return null;
  const parts = costs.map((c) => `${c.field} ${c.entries} × ${Number.isInteger(c.bytesPerEntry) ? c.bytesPerEntry : c.bytesPerEntry.toFixed(1)} B = ${mib(c.bytes)}`).join(', ');
  return `the connection and persistence tables need ${mib(total)} of kernel memory (${parts}), more than half of this machine's ${mib(memTotal)} (MemTotal); make them smaller`;
}
