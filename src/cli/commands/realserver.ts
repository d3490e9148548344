// `xlvs realserver up|down|status`: prepares this machine (or the network namespace it runs in,
// `ip netns exec NS xlvs realserver …`) as an LVS-DR/TUN real server.
import { Command } from 'commander';
import { up, down, status, formatStatus } from '../../realserver/setup';
import type { DecapMode } from '../../realserver/state';

function collect(v: string, acc: string[]): string[] {
  return [...acc, ...v.split(',').map((s) => s.trim()).filter(Boolean)];
}

export function register(program: Command): void {
  const rs = program.command('realserver').description('real-server side: VIPs on lo, ARP sysctls, TUN decap');
  rs.command('up')
    .description('hold the VIPs on lo with arp_ignore=1/arp_announce=2; with --tun also decapsulate IP-in-IP (idempotent)')
    .requiredOption('--vip <addr>', 'a VIP (repeat, or comma-separated); IPv4 goes on lo as /32, IPv6 as /128', collect, [])
    .option('--tun', 'also accept LVS-TUN traffic: attach the decap program, relax strict rp_filter')
    .option('--dev <iface>', 'interface the traffic arrives on (default: the default route\'s)')
    .option('--decap <mode>', 'where decap runs: xdp (native, generic if the driver cannot) or xdp-generic', undefined)
    .option('--pin-root <dir>', 'also pin the decap program and VIP map under this bpffs directory')
    .option('--state <file>', 'state file (default /run/xlvs/realserver-<netns>.json)')
    .option('--json', 'print the resulting state as JSON')
    .action((o: { vip: string[]; tun?: boolean; dev?: string; decap?: string; pinRoot?: string; state?: string; json?: boolean }) => {
      const r = up({ vips: o.vip, tun: o.tun, dev: o.dev, decap: o.decap as DecapMode | undefined, pinRoot: o.pinRoot, stateFile: o.state });
      if (o.json) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return; }
      if (r.changes.length === 0) process.stdout.write('realserver: already in place, nothing changed\n');
      for (const c of r.changes) process.stdout.write(`realserver: ${c}\n`);
      process.stdout.write(`realserver: state saved in ${r.stateFile}\n`);
    });
  rs.command('down')
    .description('undo `up`: detach decap, remove the VIPs it added, restore every sysctl it changed')
    .option('--state <file>', 'state file (default /run/xlvs/realserver-<netns>.json)')
    .action((o: { state?: string }) => {
      const r = down({ stateFile: o.state });
      if (!r.hadState) { process.stdout.write(`realserver: nothing to undo (no ${r.stateFile})\n`); return; }
      for (const c of r.changes) process.stdout.write(`realserver: ${c}\n`);
      process.stdout.write('realserver: restored\n');
    });
  rs.command('status')
    .description('what is in place: VIPs on lo, sysctls against their wanted and saved values, decap')
    .option('--state <file>', 'state file (default /run/xlvs/realserver-<netns>.json)')
    .option('--dev <iface>', 'interface to report on when there is no state file')
    .option('--json', 'machine-readable output')
    .action((o: { state?: string; dev?: string; json?: boolean }) => {
      const r = status({ stateFile: o.state, dev: o.dev });
      process.stdout.write(o.json ? JSON.stringify(r, null, 2) + '\n' : formatStatus(r));
      if (r.problems.length) process.exitCode = 3;
    });
}
