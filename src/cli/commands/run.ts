// `xlvs run -c FILE`: the daemon, in the foreground (systemd runs it as is).
import { Command } from 'commander';
import { Daemon } from '../../daemon/daemon';
import { sdNotify, watchdogOf } from '../../sys/sd-notify';
import { LOG_FORMATS, LOG_LEVELS, isLogFormat, isLogLevel, makeLogger } from '../../sys/log';
import { XlvsError, ErrorCodes } from '../../errors';

export function register(program: Command): void {
  program.command('run')
    .description('run the director: load and pin the data plane, attach XDP, health checks, VRRP, metrics')
    .requiredOption('-c, --config <file>', 'topology YAML')
    .option('--insecure', 'run even when the topology or a script it runs is writable by users other than root (warns instead)')
    .option('--log-format <format>', `log lines as ${LOG_FORMATS.join(' or ')} (json: one object per line, fields ts, level, kind, msg, service, real, vrrp_instance, state, from, reason, result); under systemd (JOURNAL_STREAM) without timestamps`, 'text')
    .option('--log-level <level>', `lowest level logged: ${LOG_LEVELS.join(', ')}`, 'info')
    .action(async (o: { config: string; insecure?: boolean; logFormat: string; logLevel: string }) => {
      if (!isLogFormat(o.logFormat)) throw new XlvsError(ErrorCodes.USAGE, `--log-format "${o.logFormat}": expected ${LOG_FORMATS.join(' or ')}`);
      if (!isLogLevel(o.logLevel)) throw new XlvsError(ErrorCodes.USAGE, `--log-level "${o.logLevel}": expected one of ${LOG_LEVELS.join(', ')}`);
      const logger = makeLogger({ format: o.logFormat, level: o.logLevel });
      // Under systemd (Type=notify, xlvs@.service) the unit is started once the first apply is
      // done and the control socket and metrics listen, shows as reloading during a reload and as
      // stopping while it stops. Taken out of the environment so that scripts and threads do not
      // inherit it.
      // WatchdogSec= (WATCHDOG_USEC): the VRRP thread sends WATCHDOG=1 (see src/vrrp/worker.ts).
      const notifyEnv = { NOTIFY_SOCKET: process.env.NOTIFY_SOCKET };
      const watchdog = watchdogOf(process.env);
      delete process.env.NOTIFY_SOCKET;
      delete process.env.WATCHDOG_USEC;
      delete process.env.WATCHDOG_PID;
      const notify = (state: string) => {
        const r = sdNotify(state, notifyEnv);
        if (r.error) d.log(`[daemon] warning: sd_notify ${state.split('\n')[0]}: ${r.error}`);
      };
      const d = new Daemon({ configFile: o.config, insecure: !!o.insecure, notify, watchdog, logger });
      d.installProcessHandlers();
      // SIGTERM (systemctl stop/restart) and SIGINT (^C in a terminal) alike: VRRP sends
      // priority 0 so the Backup takes the VIPs at once, and the data plane stays attached and
      // pinned for the next daemon unless director.on_sigterm is remove (`xlvs stop` removes it).
      const stop = (sig: string) => {
        d.log(`[daemon] ${sig}: stopping`);
        notify('STOPPING=1');
        void d.stopOnSignal().then(() => process.exit(0), (e: Error) => { d.log(`[daemon] stop failed: ${e.message}`); process.exit(1); });
      };
      process.on('SIGTERM', () => stop('SIGTERM'));
      process.on('SIGINT', () => stop('SIGINT'));
      process.on('SIGHUP', () => { d.reload().catch(() => { /* logged as an event; running state kept */ }); });
      try {
        await d.start();
      } catch (e) {
        await d.abort().catch(() => undefined);
        throw e;
      }
      notify(`READY=1\nSTATUS=forwarding with ${o.config}`);
      await new Promise(() => { /* serve until a signal or `xlvs stop` */ });
    });
}
