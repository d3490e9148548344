// The real daemon (src/daemon/daemon.ts, with the handlers `xlvs run` installs) and two faults to
// inject for tests: SIGUSR2 blocks its main thread on purpose (a busy loop of the given length),
// as a scrape of a huge table or a runaway regex once did; SIGUSR1 throws where nothing catches. Run: node stall-daemon.js TOPOLOGY [STALL_MS]
import { Daemon } from '../../src/daemon/daemon';

const [configFile, stallArg] = process.argv.slice(2);
const stallMs = Number(stallArg ?? 5000);
const d = new Daemon({ configFile });
d.installProcessHandlers();
// SIGUSR1: an error nothing catches, thrown from a timer (and a rejected promise nobody awaits).
process.on('SIGUSR1', () => {
  setTimeout(() => { throw new Error('injected uncaught error'); }, 0);
  void Promise.reject(new Error('injected unhandled rejection'));
});
process.on('SIGUSR2', () => {
  process.stdout.write('stall begins\n');
  const t0 = Date.now();
  while (Date.now() - t0 < stallMs) { /* the main thread does nothing else */ }
  process.stdout.write(`stalled ${Date.now() - t0} ms\n`);
});
process.on('SIGTERM', () => void d.stop(false).then(() => process.exit(0), () => process.exit(1)));
d.start().catch((e: Error) => { process.stderr.write(`start failed: ${e.stack ?? e.message}\n`); process.exit(1); });
