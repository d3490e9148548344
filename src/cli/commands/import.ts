// `xlvs import ipvsadm [FILE|-]` and `xlvs import keepalived FILE`: write a topology YAML from
// what an LVS operator already has, and say on stderr what could not be mapped.
import { Command } from 'commander';
import * as dns from 'node:dns';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ErrorCodes, XlvsError } from '../../errors';
import { emitTopology, formatNotes, hostnamesIn, importIpvsadm, importKeepalived, parseIptablesSave, type IptablesMarks, type ImportResult } from '../../import';

interface ImportOpts { output?: string; name?: string; interface?: string; strict?: boolean; quiet?: boolean; iptables?: string }

function readInput(file: string): string {
  try {
    return fs.readFileSync(file === '-' ? 0 : file, 'utf8');
  } catch (e) {
    throw new XlvsError(ErrorCodes.USAGE, `cannot read ${file === '-' ? 'standard input' : file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

/** Write the whole file or nothing: a temporary file renamed into place. */
function writeOutput(file: string | undefined, text: string): void {
  if (!file || file === '-') { process.stdout.write(text); return; }
  const tmp = path.join(path.dirname(file), `.${path.basename(file)}.${process.pid}.tmp`);
  try {
    fs.writeFileSync(tmp, text, { mode: 0o600 }); // may hold VRRP auth_pass
    fs.renameSync(tmp, file);
  } catch (e) {
    try { fs.unlinkSync(tmp); } catch { /* not created */ }
    throw new XlvsError(ErrorCodes.USAGE, `cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}

function finish(res: ImportResult, source: string, o: ImportOpts): void {
  writeOutput(o.output, emitTopology(res, { source }));
  if (!o.quiet && res.notes.length) {
    process.stderr.write(`xlvs import: ${res.notes.length} item(s) not mapped or mapped with a difference:\n${formatNotes(res)}`);
  }
  for (const t of res.todo) if (!o.quiet) process.stderr.write(`xlvs import: TODO ${t.path}: ${t.message}\n`);
  if (o.strict && res.notes.length) process.exitCode = 2;
}

/** Resolve hostnames printed by `ipvsadm -S` without -n (IPv4 first, as ipvsadm prints). */
async function resolveAll(names: string[]): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  await Promise.all(names.map(async (n) => {
    try {
      const r = await dns.promises.lookup(n, { family: 0, verbatim: false });
      out.set(n, r.address);
    } catch { /* reported by the importer as unresolvable */ }
  }));
  return out;
}

/** The firewall-mark rules of --iptables FILE, if given. */
function marks(o: ImportOpts): IptablesMarks | undefined {
  if (o.iptables === undefined) return undefined;
  if (o.iptables === '-') throw new XlvsError(ErrorCodes.USAGE, '--iptables: give a file (standard input is the ipvsadm save)');
  return parseIptablesSave(readInput(o.iptables), o.iptables);
}

function common(cmd: Command): Command {
  return cmd
    .option('-o, --output <file>', 'write the topology here (default: standard output)')
    .option('--name <director>', 'director name (default: keepalived router_id, else "imported")')
    .option('--interface <ifname>', 'interface for the director section (default: the first vrrp_instance\'s)')
    .option('--iptables <file>', '`iptables-save` (or ip6tables-save) output whose -j MARK rules give the VIP, protocol and ports of firewall-mark services: they become grouped services')
    .option('--strict', 'exit with status 2 when anything could not be mapped')
    .option('-q, --quiet', 'do not print notes and TODOs on standard error');
}

export function register(program: Command): void {
  const imp = program.command('import').description('write a topology from ipvsadm -S output or keepalived.conf');
  common(imp.command('ipvsadm').argument('[file]', '`ipvsadm -S` / `ipvsadm-save -n` output, - for standard input', '-'))
    .description('import `ipvsadm -S` output (virtual services and real servers)')
    .action(async (file: string, o: ImportOpts) => {
      const text = readInput(file);
      const resolved = await resolveAll(hostnamesIn(text));
      const res = importIpvsadm(text, { file: file === '-' ? 'stdin' : file, resolveHost: (h) => resolved.get(h), name: o.name, iface: o.interface, iptables: marks(o) });
      finish(res, file === '-' ? 'ipvsadm -S (standard input)' : file, o);
    });
  common(imp.command('keepalived').argument('<file>', 'keepalived.conf (includes are followed)'))
    .description('import keepalived.conf (VRRP instances, scripts, virtual servers, checkers)')
    .action((file: string, o: ImportOpts) => {
      const res = importKeepalived(file, { name: o.name, iface: o.interface, iptables: marks(o) });
      finish(res, file, o);
    });
}
