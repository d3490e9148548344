// A small compiled entry that runs only `xlvs vrrp …` (used by the interop tests and the
// benchmark through `ip netns exec NS node …/cli/vrrp-standalone.js -c FILE`), without needing the
// whole CLI to be built into dist/.
import { Command } from 'commander';
import { register } from './commands/vrrp';
import { isXlvsError } from '../errors';

export async function main(args: string[]): Promise<void> {
  const program = new Command().name('xlvs');
  register(program);
  try {
    await program.parseAsync(['node', 'xlvs', 'vrrp', ...args]);
  } catch (e) {
    if (isXlvsError(e)) {
      process.stderr.write(`xlvs: ${e.message} [${e.code}]\n`);
      process.exit(1);
    }
    throw e;
  }
}

if (require.main === module) void main(process.argv.slice(2));
