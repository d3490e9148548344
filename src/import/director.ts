// The director section of an imported topology. Neither ipvsadm nor keepalived knows which
// interface XDP should attach to or the director's own addresses, so importers fill in what
// they can and mark the rest as TODO (placeholders that still validate).
import type { DirectorOut, ImportResult } from './types';

/** Default placeholder interface when the input names none. */
export const PLACEHOLDER_INTERFACE = 'eth0';

/** A director name from a hint (keepalived router_id, a file name): [a-z0-9-]{1,32}. */
function directorName(hint: string | undefined): string | undefined {
  if (!hint) return undefined;
  const n = hint.toLowerCase().replace(/[^a-z0-9-]+/g, '-').replace(/-+/g, '-').replace(/^-|-$/g, '').slice(0, 32).replace(/-$/, '');
  return n || undefined;
}

export function buildDirector(opts: { nameHint?: string; iface?: string }, todo: ImportResult['todo']): DirectorOut {
  let name = directorName(opts.nameHint);
  if (!name) {
    name = 'imported';
    todo.push({ path: 'director.name', message: 'no router_id in the input: name this director (pins live under /sys/fs/bpf/xlvs/<name>/)' });
  }
  let iface = opts.iface;
  if (!iface) {
    iface = PLACEHOLDER_INTERFACE;
    todo.push({ path: 'director.interface', message: `placeholder — set the interface the XDP program attaches to` });
  }
  todo.push({ path: 'director.addresses', message: "add the director's own addresses (e.g. [10.0.0.2/24]); needed for the DR subnet check and as TUN outer source" });
  return { name, interface: iface, xdp_mode: 'native' };
}
