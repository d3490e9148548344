// The `conns` control command: checks the filters (bad ones are refused before any walk) and
// streams the matching entries from the connection-table worker as control-socket items.
import { StreamReply, ControlRequest } from '../control/protocol';
import { compileConnFilter, ConnFilterRequest } from './filter';
import type { ConnTable } from './table';

/** `reals`: the data plane's reals (Dataplane.listReals()), for --real and the destination column. */
export function connsReply(table: ConnTable, req: ControlRequest, reals: Array<{ id: number; address: string }>): StreamReply {
  const own = reals.map((r) => ({ id: r.id, address: r.address }));
  const listing = table.list(compileConnFilter(req as ConnFilterRequest, own), own);
  return new StreamReply(listing.lines, () => listing.summary());
}
