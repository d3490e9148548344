// `xlvs doctor [-c TOPOLOGY] [--json] [--try-attach]`: can this machine run xlvs well, and what
// must the operator fix? Every check reads; only --try-attach changes anything (an XDP attach
// and detach), only inside a named network namespace (ip netns exec). Exit 0 ok, 1 warnings, 2 errors.
import { Command } from 'commander';
import { loadTopologyFile, type ConfigError } from '../../config/load';
import { formatProblem } from '../../config/problems';
import { isXlvsError } from '../../errors';
import { runChecks, type TopologyInput } from '../../doctor/checks';
import { exitCode, formatJson, formatText } from '../../doctor/report';
import { realSystem } from '../../doctor/system';

function loadInput(file: string): TopologyInput {
  try {
    return { file, topology: loadTopologyFile(file), problems: [] };
  } catch (e) {
    if (!isXlvsError(e)) throw e;
    const problems = (e as ConfigError).problems;
    return { file, topology: null, problems: problems?.length ? problems.map(formatProblem) : [e.message.split('\n')[0]] };
  }
}

export function register(program: Command): void {
  program
    .command('doctor')
    .description('check this machine for xlvs: BPF/XDP support, driver, MTU, rp_filter, bpffs, firewall, clock, CPUs; exit 0 ok, 1 warnings, 2 errors')
    .option('-c, --config <file>', 'a topology: check its interface, pin_root, TUN services, VRRP and DR reals')
    .option('--json', 'print {checks:[{name,status,finding,fix}]}')
    .option('--try-attach', 'also attach a pass-through XDP program in native mode to the interface and detach it (only when it has none, and only inside `ip netns exec NS`)')
    .action((o: { config?: string; json?: boolean; tryAttach?: boolean }) => {
      const checks = runChecks(realSystem(), { topology: o.config ? loadInput(o.config) : undefined, tryAttach: o.tryAttach });
      process.stdout.write(o.json ? formatJson(checks) : formatText(checks));
      process.exitCode = exitCode(checks);
    });
}
