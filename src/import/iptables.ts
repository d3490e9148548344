// Firewall marks from `iptables-save` / `ip6tables-save` output: which VIP, protocol and ports
// the rules that set a mark select, so an IPVS fwmark service (`ipvsadm -A -f N`, keepalived
// `virtual_server fwmark N`) can be imported as a grouped service (`ports:`). Only what can be
// read for certain is resolved: a rule with `-j MARK --set-mark N` (or `--set-xmark N/0xffffffff`,
// as iptables-save prints it), `-d` one address, `-p tcp|udp` and `--dport P`, `--dport A:B`,
// `-m multiport --dports A,B,C:D`. Anything else about a mark (negations, networks, several VIPs
// or protocols, no port match, partial masks) is reported with the rule's line instead.
import * as net from 'node:net';
import { runsOf, type PortRun } from '../common/ports';

export interface MarkRule {
  /** `FILE:LINE`. */
  where: string;
  mark: number;
  vip: string | null;
  protocol: 'tcp' | 'udp' | null;
  /** null: the rule matches every port. */
  ports: PortRun[] | null;
  /** Why this rule cannot be turned into VIP, protocol and ports. */
  problems: string[];
  /** Matches that restrict the rule in ways a service cannot (source, interface): noted, not blocking. */
  ignored: string[];
}

export interface IptablesMarks {
  file: string;
  rules: MarkRule[];
}

/** Words of a rule line; double-quoted words (comments) are kept whole. */
function words(line: string): string[] {
  const out: string[] = [];
  const re = /"((?:[^"\\]|\\.)*)"|(\S+)/g;
  let m: RegExpExecArray | null;
  while ((m = re.exec(line))) out.push(m[1] ?? m[2]);
  return out;
}

/** `80`, `1000:2000` (iptables ranges use a colon; `:2000` and `1000:` are open ends). */
function portRun(t: string): PortRun | null {
  const m = /^(\d{0,5})(?::(\d{0,5}))?$/.exec(t);
  if (!m || (m[1] === '' && m[2] === undefined)) return null;
  const from = m[1] === '' ? 0 : Number(m[1]);
  const to = m[2] === undefined ? from : m[2] === '' ? 65535 : Number(m[2]);
  if (to > 65535 || from > to) return null;
  return { from: Math.max(from, 1), to };
}

const PROTOS: Record<string, 'tcp' | 'udp'> = { tcp: 'tcp', '6': 'tcp', udp: 'udp', '17': 'udp' };
// Options that take no value (so the word after them is not skipped as theirs).
const FLAG_OPTIONS = new Set(['--syn', '-f', '--fragment']);

/** Parses the rules that set a mark; other rules and lines are skipped. */
export function parseIptablesSave(text: string, file: string): IptablesMarks {
  const rules: MarkRule[] = [];
  let table = '';
  text.split('\n').forEach((raw, i) => {
    const line = raw.trim().replace(/^\[\d+:\d+\]\s*/, ''); // iptables-save -c counters
    if (line.startsWith('*')) { table = line.slice(1); return; }
    if (!line.startsWith('-A ') && !line.startsWith('-I ')) return;
    const w = words(line);
    const r: MarkRule = { where: `${file}:${i + 1}`, mark: -1, vip: null, protocol: null, ports: null, problems: [], ignored: [] };
    let jump = '';
    let negate = false;
    const addPorts = (runs: (PortRun | null)[], opt: string, value: string) => {
      if (runs.some((x) => x === null)) { r.problems.push(`${opt} ${value} is not a port, a range A:B or a list of them`); return; }
      r.ports = [...(r.ports ?? []), ...(runs as PortRun[])];
    };
    for (let k = 2; k < w.length; k++) {
      const opt = w[k];
      if (opt === '!') { negate = true; continue; }
      const value = FLAG_OPTIONS.has(opt) ? '' : w[k + 1] ?? '';
      if (!FLAG_OPTIONS.has(opt) && opt.startsWith('-')) k++;
      const neg = negate;
      negate = false;
      if (neg && opt !== '-m' && opt !== '--match') { r.problems.push(`a negated match (! ${opt} ${value}) selects everything but ${value}`); continue; }
      switch (opt) {
        case '-j': case '--jump': jump = value; break;
        case '-m': case '--match': break;
        case '-p': case '--protocol':
          r.protocol = PROTOS[value.toLowerCase()] ?? null;
          if (!r.protocol) r.problems.push(`-p ${value}: xlvs forwards tcp and udp`);
          break;
        case '-d': case '--destination': {
          const [addr, len, more] = value.split('/');
          const full = net.isIPv4(addr) ? 32 : 128;
          if (!net.isIP(addr) || more !== undefined || value.includes(',')) r.problems.push(`-d ${value} is not one address`);
          else if (len !== undefined && Number(len) !== full && !(net.isIPv4(addr) && len === '255.255.255.255')) r.problems.push(`-d ${value} is a network, not one VIP`);
          else r.vip = addr;
          break;
        }
        case '--dport': case '--destination-port': addPorts([portRun(value)], opt, value); break;
        case '--dports': case '--destination-ports': addPorts(value.split(',').map(portRun), opt, value); break;
        case '--set-mark': case '--set-xmark': {
          const [v, mask] = value.split('/');
          const n = /^(0x[0-9a-f]+|\d+)$/i.test(v) ? Number(v) : NaN;
          if (!Number.isInteger(n) || n > 0xffffffff) r.problems.push(`${opt} ${value} is not a mark`);
          else if (mask !== undefined && Number(mask) !== 0xffffffff) r.problems.push(`${opt} ${value} sets only some bits of the mark (the result depends on the packet's mark before)`);
          r.mark = Number.isInteger(n) ? n : -1;
          break;
        }
        case '--or-mark': case '--and-mark': case '--xor-mark': r.problems.push(`${opt} ${value}: the resulting mark depends on the packet's mark before`); break;
        case '--comment': break;
        case '-s': case '--source': case '-i': case '--in-interface': case '--sport': case '--source-port': case '--sports': case '--source-ports':
          r.ignored.push(`${opt} ${value}`);
          break;
        default:
          if (opt.startsWith('-')) r.ignored.push(`${opt}${value ? ` ${value}` : ''}`);
      }
    }
    if (jump !== 'MARK') return;
    if (table && table !== 'mangle') r.ignored.push(`table ${table} (marks for IPVS are set in mangle PREROUTING)`);
    rules.push(r);
  });
  return { file, rules };
}

export type MarkResolution =
  | { ok: true; vip: string; protocol: 'tcp' | 'udp'; ports: (number | string)[]; where: string[]; ignored: string[] }
  | { ok: false; why: string };

/**
 * The VIP, protocol and ports mark `mark` selects: every rule that sets it must name the same
 * one address and protocol and some ports. `ports` as the topology writes them (a lone port as a
 * number, a run as "A-B"), sorted.
 */
export function resolveMark(marks: IptablesMarks | undefined, mark: number): MarkResolution {
  if (!marks) return { ok: false, why: 'give the iptables-save output that sets the mark with --iptables FILE, so its VIP and ports can be read' };
  const rules = marks.rules.filter((r) => r.mark === mark);
  if (!rules.length) return { ok: false, why: `no rule in ${marks.file} sets mark ${mark} (-j MARK --set-mark ${mark})` };
  for (const r of rules) {
    if (r.problems.length) return { ok: false, why: `${r.where}: ${r.problems.join('; ')}` };
    if (!r.vip) return { ok: false, why: `${r.where}: the rule has no -d ADDRESS, so the mark is not one VIP's` };
    if (!r.protocol) return { ok: false, why: `${r.where}: the rule has no -p tcp|udp` };
    if (!r.ports) return { ok: false, why: `${r.where}: the rule has no --dport/--dports, so the mark covers every port (write a port: 0 service for that)` };
  }
  const vips = [...new Set(rules.map((r) => r.vip!))];
  if (vips.length > 1) return { ok: false, why: `rules ${rules.map((r) => r.where).join(', ')} mark ${mark} for ${vips.join(' and ')}: a grouped service is one VIP (write one service per VIP)` };
  const protos = [...new Set(rules.map((r) => r.protocol!))];
  if (protos.length > 1) return { ok: false, why: `rules ${rules.map((r) => r.where).join(', ')} mark ${mark} for tcp and udp: a grouped service is one protocol (write one service per protocol)` };
  const set: number[] = [];
  for (const r of rules) for (const run of r.ports!) for (let p = run.from; p <= run.to; p++) set.push(p);
  const ports = runsOf(set).map((x) => (x.from === x.to ? x.from : `${x.from}-${x.to}`));
  return { ok: true, vip: vips[0], protocol: protos[0], ports, where: rules.map((r) => r.where), ignored: rules.flatMap((r) => r.ignored.map((x) => `${r.where}: ${x}`)) };
}
