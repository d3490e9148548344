// The `conns` control command: checks the filters (bad ones are refused before any walk) and
// streams the matching entries from the connection-table worker as control-socket items.
import { StreamReply, ControlRequest } from '../control/protocol';
import { compileConnFilter, ConnFilterRequest } from './filter';
import type { ConnTable } from './table';

/** `reals`: the data plane's reals (Dataplane.reals.list()), for --real and the destination column (a NAT
 *  real's own port); `vips`: the VIPs (Dataplane.vips.list()), whose full-NAT pools name each flow's source. */
export function connsReply(table: ConnTable, req: ControlRequest, reals: Array<{ id: number; address: string; port?: number }>, vips: Array<{ id: number; snatPool?: { addresses: string[] } }> = []): StreamReply {
  const own = reals.map((r) => ({ id: r.id, address: r.address, port: r.port ?? 0 }));
  const pools = vips.filter((v) => v.snatPool).map((v) => ({ vipId: v.id, addresses: v.snatPool!.addresses }));
  const listing = table.list(compileConnFilter(req as ConnFilterRequest, own), own, pools);
  return new StreamReply(listing.lines, () => listing.summary());
}
