// Interface names to indexes, with the error every attach path shares.
import { XlvsError, ErrorCodes } from '../errors';
import { c, lastErrno } from './ffi';

/** if_nametoindex(3); E_BPF_NO_IFACE naming the interface when it does not exist here. */
export function ifindexOf(ifname: string): number {
  if (typeof ifname !== 'string' || ifname.length === 0 || ifname.length > 15) {
    throw new XlvsError(ErrorCodes.BPF_NO_IFACE, `interface name "${ifname}" must be 1..15 characters (IFNAMSIZ)`);
  }
  const idx = c.ifNametoindex(ifname) as number;
  if (!idx) throw new XlvsError(ErrorCodes.BPF_NO_IFACE, `no interface "${ifname}" in this network namespace`, { errno: lastErrno() || 19 });
  return idx;
}
