// `xlvs vrrp -c FILE`: runs only the VRRP part in the foreground, logging transitions.
// FILE is a topology (YAML) or a JSON/YAML of just the vrrp sections; SIGTERM/SIGINT send
// priority-0 adverts, remove the VIPs, run notify stop, then exit.
import { Command } from 'commander';
import * as fs from 'node:fs';
import { parse as parseYaml } from 'yaml';
import { XlvsError, ErrorCodes } from '../../errors';
import { normaliseVrrp, VrrpConfig } from '../../vrrp/types';
import { VrrpRunner } from '../../vrrp/runner';
import { consoleLogger } from '../../vrrp/io';
import { applyScriptSecurity, vrrpCommands } from '../../config/script-security';

function loadVrrpFile(file: string): VrrpConfig {
  let text: string;
  try { text = fs.readFileSync(file, 'utf8'); } catch (e) {
    throw new XlvsError(ErrorCodes.CONFIG_PARSE, `${file}: cannot read (${(e as Error).message})`);
  }
  let doc: unknown;
  try { doc = parseYaml(text); } catch (e) {
    throw new XlvsError(ErrorCodes.CONFIG_PARSE, `${file}: ${(e as Error).message}`);
  }
  try { return normaliseVrrp(doc); } catch (e) {
    if (e instanceof XlvsError) throw new XlvsError(e.code, `${file}: ${e.message}`);
    throw e;
  }
}

/** The file's top-level `script_user` (keepalived script_user), or null. */
function scriptUserOf(file: string): string | null {
  const doc = parseYaml(fs.readFileSync(file, 'utf8')) as { script_user?: unknown } | null;
  const u = doc?.script_user;
  if (u === undefined || u === null) return null;
  if (typeof u !== 'string' || u === '') throw new XlvsError(ErrorCodes.CONFIG_INVALID, `${file}: script_user: must be a user name`);
  return u;
}

export function register(program: Command): void {
  program
    .command('vrrp')
    .description('run only the VRRP instances of a topology in the foreground (keepalived-compatible)')
    .requiredOption('-c, --config <file>', 'topology YAML, or a JSON/YAML file with vrrp, vrrp_scripts, vrrp_sync_groups')
    .option('--check', 'validate the file and print the normalised instances, then exit')
    .option('--insecure', 'run even when the file or a script it runs is writable by users other than root (warns instead)')
    .action(async (o: { config: string; check?: boolean; insecure?: boolean }) => {
      const cfg = loadVrrpFile(o.config);
      if (o.check) { process.stdout.write(JSON.stringify(cfg, null, 2) + '\n'); return; }
      if (cfg.instances.length === 0) throw new XlvsError(ErrorCodes.USAGE, `${o.config}: no vrrp instances`);
      applyScriptSecurity(o.config, vrrpCommands(cfg), scriptUserOf(o.config), { insecure: !!o.insecure, warn: (m) => consoleLogger.warn(m) });
      for (const i of cfg.instances) {
        if (!i.accept) consoleLogger.warn(`(${i.name}) accept: false is enforced by the director's XDP program (xlvs run); xlvs vrrp alone leaves packets to the VIPs to the kernel`);
      }
      const runner = new VrrpRunner(cfg, { logger: consoleLogger });
      runner.start();
      await new Promise<void>((resolve) => {
        let stopping = false;
        const stop = (sig: string) => {
          if (stopping) return;
          stopping = true;
          consoleLogger.info(`${sig}: stopping VRRP (priority 0, VIPs removed)`);
          runner.stop().then(() => {
            consoleLogger.info(`counters ${JSON.stringify(runner.counters())}`);
            resolve();
          });
        };
        process.on('SIGTERM', () => stop('SIGTERM'));
        process.on('SIGINT', () => stop('SIGINT'));
      });
      process.exit(0);
    });
}
