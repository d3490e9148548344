// The VRRP thread's entry (worker_threads): runs a VrrpRunner on its own event loop, so adverts
// and the protocol timers never wait on anything the daemon's main thread does — a scrape, a
// listing, a reload, a Maglev rebuild, a health check. keepalived gets the same isolation from a
// separate VRRP process. The main side is VrrpThread (thread.ts); the messages are in
// thread-protocol.ts.
import { parentPort, workerData } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { VrrpRunner } from './runner';
import type { VrrpConfig } from './types';
import type { StateChange } from './io';
import type { FromVrrp, ToVrrp, VrrpInstanceStatus } from './thread-protocol';
import { STATUS_EVERY_MS } from './thread-protocol';
import { closeSharedPoller } from '../sys/poller';
import { sdNotify, type Watchdog } from '../sys/sd-notify';

const port = parentPort;
if (!port) throw new Error('src/vrrp/worker.ts runs only as a worker thread (VrrpThread)');

const { cfg, watchdog } = workerData as { cfg: VrrpConfig; watchdog: Watchdog | null };
const post = (m: FromVrrp) => port.postMessage(m);
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

const runner = new VrrpRunner(cfg, {
  logger: { info: (line) => post({ type: 'log', level: 'info', line }), warn: (line) => post({ type: 'log', level: 'warn', line }) },
});

function statuses(): VrrpInstanceStatus[] {
  return [...runner.instances.values()].map((i) => ({
    name: i.cfg.name, vrid: i.cfg.vrid, interface: i.cfg.interface, state: i.state,
    priority: i.cfg.priority, effectivePriority: i.machine.priority,
    vips: i.cfg.vips.map((v) => `${v.address}/${v.prefix}`), since: i.lastTransitionAt, counters: { ...i.counters, rejected: { ...i.counters.rejected } },
  }));
}

function status(): void {
  post({ type: 'status', at: Date.now(), instances: statuses(), loopDelayMaxMs: lag.max / 1e6, loopDelayP99Ms: lag.percentile(99) / 1e6 });
  lag.reset();
}

runner.on('transition', (c: StateChange) => {
  post({ type: 'transition', change: { instance: c.instance, from: c.from, to: c.to, reason: c.reason, priority: c.priority } });
  status();
});
runner.on('advert-received', (x: { instance: string }) => post({ type: 'advert-received', instance: x.instance }));
runner.on('rejected', (x: { instance: string; reason: string }) => post({ type: 'rejected', instance: x.instance, reason: x.reason }));

let statusTimer: NodeJS.Timeout | null = null;
// systemd's watchdog (WatchdogSec= in xlvs@.service) is fed from this loop, the one that must
// never stall: a VRRP thread stuck (or dying and failing to restart) gets the daemon restarted,
// a busy main thread does not (it delays no advert). The data plane forwards through it all.
let watchdogTimer: NodeJS.Timeout | null = null;
let watchdogWarned = false;
function feedWatchdog(): void {
  const r = sdNotify('WATCHDOG=1', { NOTIFY_SOCKET: watchdog!.notifySocket });
  if (r.error && !watchdogWarned) { watchdogWarned = true; post({ type: 'log', level: 'warn', line: `sd_notify WATCHDOG=1: ${r.error}` }); }
}
try {
  runner.start();
  statusTimer = setInterval(status, STATUS_EVERY_MS);
  if (watchdog) { feedWatchdog(); watchdogTimer = setInterval(feedWatchdog, watchdog.intervalMs); }
  post({ type: 'started' });
  status();
} catch (e) {
  // Close what the instances before the failing one opened, and let the in-flight poll return,
  // before saying why: the main side then ends this thread.
  const error = (e as Error).message;
  void runner.stop().finally(() => closeSharedPoller()).finally(() => post({ type: 'failed', error }));
}

port.on('message', (m: ToVrrp) => {
  if (m.type !== 'stop') return;
  if (statusTimer) clearInterval(statusTimer);
  if (watchdogTimer) clearInterval(watchdogTimer);
  // The poller is closed (no poll in flight) before 'stopped': the main side then ends the thread.
  void runner.stop().then(
    () => closeSharedPoller().then(() => { status(); post({ type: 'stopped' }); }),
    (e: Error) => closeSharedPoller().then(() => post({ type: 'stopped', error: e.message })),
  );
});
