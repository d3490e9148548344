// The `xlvs` command. Each file in ./commands exports `register(program)` and adds its own
// subcommands, so areas of the code add commands without touching this file.
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { isXlvsError } from '../errors';

export function buildProgram(): Command {
  const program = new Command();
  program
    .name('xlvs')
    .description('XDP layer-4 load balancer: LVS DR/TUN forwarding, Maglev, VRRP, health checks')
    .version(readVersion())
    .showHelpAfterError();
  const dir = path.join(__dirname, 'commands');
  const files = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.js')).sort() : [];
  for (const f of files) {
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const mod = require(path.join(dir, f)) as { register?: (p: Command) => void };
    if (typeof mod.register === 'function') mod.register(program);
  }
  return program;
}

function readVersion(): string {
  try {
    return JSON.parse(fs.readFileSync(path.join(__dirname, '..', '..', '..', 'package.json'), 'utf8')).version;
  } catch {
    return '0.0.0';
  }
}

export async function main(argv: string[]): Promise<void> {
  try {
    await buildProgram().parseAsync(argv);
  } catch (e) {
    if (isXlvsError(e)) {
      process.stderr.write(`xlvs: ${e.message} [${e.code}]\n`);
      process.exitCode = 1;
      return;
    }
    throw e;
  }
}
