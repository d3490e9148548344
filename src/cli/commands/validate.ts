// `xlvs validate FILE`: check a topology without touching the machine's data plane.
// Prints "FILE: ok (N services, M reals, K VRRP instances)" and what the connection and
// persistence tables will cost in kernel memory, or every problem; exit 1 on error.
// Warnings (valid, but probably not what was meant) go to stderr and never change the exit code.
import { Command } from 'commander';
import { loadTopologyFileWithWarnings, checkRuntime, type ConfigError } from '../../config/load';
import { formatProblem } from '../../config/problems';
import { isXlvsError } from '../../errors';
import type { Problem, Topology } from '../../config/model';
import { scriptSecurityProblems, topologyCommands } from '../../config/script-security';
import { formatTableCosts, tableCosts, totalBytes } from '../../dataplane/table-cost';

export interface ValidateOptions { json?: boolean; normalised?: boolean; runtime?: boolean }

/** Runs the check; returns the exit code and what to print (stdout, stderr). */
function runValidate(file: string, o: ValidateOptions): { code: number; out: string; err: string } {
  let topo: Topology;
  let warnings: Problem[];
  try {
    ({ topology: topo, warnings } = loadTopologyFileWithWarnings(file));
  } catch (e) {
    if (!isXlvsError(e)) throw e;
    const problems: Problem[] = (e as ConfigError).problems ?? [{ path: '(file)', message: e.message, line: 0, col: 0 }];
    if (o.json) return { code: 1, out: JSON.stringify({ file, ok: false, code: e.code, problems }, null, 2) + '\n', err: '' };
    return { code: 1, out: '', err: `${file}: ${problems.length} problem${problems.length === 1 ? '' : 's'}\n` + problems.map((p) => `  ${formatProblem(p)}\n`).join('') };
  }
  const runtime = o.runtime ? [...checkRuntime(topo), ...securityProblems(file, topo)] : [];
  const reals = topo.services.reduce((n, s) => n + s.reals.length, 0);
  const summary = `${topo.services.length} service${topo.services.length === 1 ? '' : 's'}, ${reals} real${reals === 1 ? '' : 's'}, ${topo.vrrp.length} VRRP instance${topo.vrrp.length === 1 ? '' : 's'}`;
  const code = runtime.length ? 1 : 0;
  const warned = warnings.map((p) => `${file}: warning: ${formatProblem(p)}\n`).join('');
  if (o.normalised) return { code, out: JSON.stringify(topo, null, 2) + '\n', err: warned + runtime.map((p) => `  ${formatProblem(p)}\n`).join('') };
  const tables = tableCosts(topo.director);
  if (o.json) {
    const body = { file, ok: code === 0, services: topo.services.length, reals, vrrpInstances: topo.vrrp.length, tables, tablesBytes: totalBytes(tables), problems: runtime, warnings };
    return { code, out: JSON.stringify(body, null, 2) + '\n', err: '' };
  }
  if (runtime.length) return { code, out: '', err: warned + `${file}: valid, but not on this machine:\n` + runtime.map((p) => `  ${formatProblem(p)}\n`).join('') };
  return { code: 0, out: `${file}: ok (${summary})\nkernel memory of the tables:\n${formatTableCosts(tables)}`, err: warned };
}

/** What `xlvs run` would refuse as insecure (script security), as problems of this machine. */
function securityProblems(file: string, topo: Topology): Problem[] {
  return scriptSecurityProblems(file, topologyCommands(topo)).map((i) => ({ path: i.use === 'the topology file' ? '(file)' : i.use, message: `${i.file}: ${i.why} (xlvs run refuses this without --insecure)`, line: 0, col: 0 }));
}

export function register(program: Command): void {
  program
    .command('validate')
    .description('check a topology file: schema, semantics, and with --runtime this machine (interfaces)')
    .argument('<file>', 'topology YAML')
    .option('--json', 'print the result (or every problem) as JSON')
    .option('--normalised', 'print the normalised model as JSON (every default filled in)')
    .option('--runtime', 'also check this machine: interfaces exist, TUN source addresses, script security')
    .action((file: string, o: ValidateOptions) => {
      const r = runValidate(file, o);
      process.stdout.write(r.out);
      process.stderr.write(r.err);
      process.exitCode = r.code;
    });
}
