// `xlvs lab up|down|status`: the network-namespace lab of config/lab.yaml (see src/lab/site.ts).
import { Command } from 'commander';
import * as fs from 'node:fs';
import YAML from 'yaml';
import { labUp, labDown, labStatus, formatLabStatus, DEFAULT_PREFIX, defaultLabConfig } from '../../lab/site';
import { deriveLayout } from '../../lab/layout';
import { labDemo } from '../../lab/demo';
import { XlvsError, ErrorCodes } from '../../errors';

const log = (l: string): void => { process.stdout.write(l + '\n'); };

export function register(program: Command): void {
  const lab = program.command('lab').description('the LVS site of config/lab.yaml in network namespaces (client, 2 directors, reals, router)');
  lab.command('up')
    .description('build the lab (removing any earlier one with the same prefix first)')
    .option('-c, --config <file>', 'lab topology (default config/lab.yaml)')
    .option('--prefix <p>', 'namespace prefix, 1-8 of [a-z0-9-]', DEFAULT_PREFIX)
    .option('--no-directors', 'do not start `xlvs run` on the directors')
    .option('--json', 'print the layout and state as JSON')
    .action(async (o: { config?: string; prefix: string; directors: boolean; json?: boolean }) => {
      const r = await labUp({ prefix: o.prefix, config: o.config, directors: o.directors ? 'auto' : 'no', log: o.json ? undefined : log });
      if (o.json) { process.stdout.write(JSON.stringify(r, null, 2) + '\n'); return; }
      process.stdout.write(formatLabStatus(labStatus(o.prefix)));
      const c = r.layout.ns.client;
      process.stdout.write(`try: ip netns exec ${c} curl -s http://${r.layout.vips[0]}/    (or a real directly: http://${r.layout.reals[0].lanAddress}/)\n`);
    });
  lab.command('down')
    .description('remove everything the lab made (processes, namespaces, mounts); safe when nothing is up')
    .option('--prefix <p>', 'namespace prefix', DEFAULT_PREFIX)
    .action(async (o: { prefix: string }) => {
      const removed = await labDown(o.prefix, log);
      if (removed.length === 0) log(`lab "${o.prefix}": nothing to remove`);
    });
  lab.command('status')
    .description('namespaces, processes, XDP modes in use, which director holds the VIPs')
    .option('--prefix <p>', 'namespace prefix', DEFAULT_PREFIX)
    .option('--json', 'machine-readable output')
    .action((o: { prefix: string; json?: boolean }) => {
      const s = labStatus(o.prefix);
      process.stdout.write(o.json ? JSON.stringify(s, null, 2) + '\n' : formatLabStatus(s));
      if (s.problems.length) process.exitCode = 3;
    });
  lab.command('demo')
    .description('make demo: lab up, requests through the VIPs, a real stops, the Master dies, timeline, lab down')
    .option('-c, --config <file>', 'lab topology (default config/lab.yaml)')
    .option('--prefix <p>', 'namespace prefix', DEFAULT_PREFIX)
    .option('--keep', 'leave the lab up at the end')
    .action(async (o: { config?: string; prefix: string; keep?: boolean }) => {
      await labDemo({ prefix: o.prefix, config: o.config, keep: o.keep });
    });
  lab.command('layout')
    .description('the layout derived from the lab file (for vagrant/ and scripts); no system changes')
    .option('-c, --config <file>', 'lab topology (default config/lab.yaml)')
    .option('--prefix <p>', 'name prefix', DEFAULT_PREFIX)
    .option('--director <n>', 'print director N\'s topology YAML instead of the layout')
    .option('--interface <if>', 'with --director: the LAN interface on that machine')
    .option('--pin-root <dir>', 'with --director: pin root (default the lab\'s bpffs)')
    .action((o: { config?: string; prefix: string; director?: string; interface?: string; pinRoot?: string }) => {
      const file = o.config ?? defaultLabConfig();
      const L = deriveLayout(fs.readFileSync(file, 'utf8'), o.prefix, file);
      if (o.director === undefined) {
        process.stdout.write(JSON.stringify({ ...L, directors: L.directors.map(({ topologyYaml, ...d }) => d) }, null, 2) + '\n');
        return;
      }
      const d = L.directors[Number(o.director) - 1];
      if (!d) throw new XlvsError(ErrorCodes.USAGE, `--director "${o.director}": 1 or 2`);
      const doc = YAML.parseDocument(d.topologyYaml);
      if (o.interface) doc.setIn(['director', 'interface'], o.interface);
      if (o.pinRoot) doc.setIn(['director', 'pin_root'], o.pinRoot);
      process.stdout.write(doc.toString());
    });
}
