// Serialise an import result as a topology YAML: the notes as a comment block at the top, and
// TODO placeholders as comments on the nodes they concern.
import * as YAML from 'yaml';
import type { ImportResult } from './types';

export interface EmitOptions {
  /** What the topology was imported from, for the header ("ipvsadm -S", a file path). */
  source: string;
}

export function emitTopology(res: ImportResult, opts: EmitOptions): string {
  const doc = new YAML.Document(orderKeys(res.topology));
  const head = [` xlvs topology imported from ${opts.source} by \`xlvs import\`.`, ' Review it before use: validate with the daemon\'s config check.'];
  if (res.notes.length) {
    head.push('', ` Not mapped, or mapped with a difference (${res.notes.length}):`);
    for (const n of res.notes) head.push(` - ${n.where}: ${n.message}`);
  } else {
    head.push('', ' Everything in the input was mapped.');
  }
  doc.commentBefore = head.join('\n');
  for (const t of res.todo) {
    const parts = t.path.split('.');
    const parent = doc.getIn(parts.slice(0, -1), true);
    if (!YAML.isMap(parent)) continue;
    const pair = parent.items.find((p) => YAML.isScalar(p.key) && p.key.value === parts[parts.length - 1]);
    if (pair && YAML.isNode(pair.value)) {
      pair.value.comment = ` TODO: ${t.message}`;
    } else {
      // The field is absent (e.g. addresses): a comment after the parent map.
      parent.comment = [parent.comment, ` TODO ${parts[parts.length - 1]}: ${t.message}`].filter(Boolean).join('\n');
    }
  }
  YAML.visit(doc, {
    Seq(_, node) {
      if (node.items.every((i) => YAML.isScalar(i))) node.flow = true;
    },
    Map(_, node, path) {
      // Small maps of scalars read best inline, as docs/topology.md writes them; the director
      // stays block style so its TODO comments have room.
      if (path.length < 4) return;
      if (node.items.every((p) => YAML.isScalar(p.value) || (YAML.isSeq(p.value) && p.value.items.every((i) => YAML.isScalar(i))))) node.flow = true;
    },
  });
  return doc.toString({ lineWidth: 0, flowCollectionPadding: false });
}

/** Notes as lines for stderr. */
export function formatNotes(res: ImportResult): string {
  return res.notes.map((n) => `${n.where}: ${n.message}\n`).join('');
}

// Keys in the order docs/topology.md lists them, per kind of object.
const ORDER: [string, string[]][] = [
  ['vrid', ['name', 'interface', 'vrid', 'priority', 'state', 'version', 'advert_interval', 'auth', 'vips', 'preempt', 'preempt_delay', 'accept', 'unicast_src', 'unicast_peers', 'track_interfaces', 'track_scripts', 'garp', 'notify']],
  ['vip', ['name', 'vip', 'port', 'ports', 'protocol', 'method', 'scheduler', 'persistence', 'table_size', 'on_down', 'inhibit_on_failure', 'quorum', 'sorry_server', 'check', 'reals']],
  ['command', ['name', 'command', 'interval', 'timeout', 'rise', 'fall', 'weight']],
  ['type', ['type', 'secret', 'interval', 'timeout', 'rise', 'fall', 'delay_before_retry', 'warmup', 'alpha', 'port', 'connect_ip', 'bindto', 'http', 'udp', 'script']],
  ['address', ['address', 'port', 'weight', 'upper_threshold', 'lower_threshold', 'inhibit_on_failure', 'mac', 'check', 'notify_up', 'notify_down']],
  ['path', ['method', 'path', 'host', 'status', 'digest', 'regex', 'sni']],
  ['xdp_mode', ['name', 'interface', 'xdp_mode', 'addresses']],
];
function orderKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(orderKeys);
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const entries = Object.entries(o).filter(([, x]) => x !== undefined);
    const order = ORDER.find(([k]) => k in o)?.[1];
    if (order) {
      const rank = (k: string): number => (order.includes(k) ? order.indexOf(k) : order.length);
      entries.sort(([a], [b]) => rank(a) - rank(b));
    }
    return Object.fromEntries(entries.map(([k, x]) => [k, orderKeys(x)]));
  }
  return v;
}
