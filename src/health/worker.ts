// The health thread's entry (worker_threads): the HealthManager and every checker run on an
// event loop of their own, so probes start on time whatever the main thread does (a scrape of a
// large site, a cold apply, a reload), and a check's own work never blocks the Director. The main
// side is HealthThread (thread.ts); the messages are in thread-protocol.ts.
import { parentPort } from 'node:worker_threads';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { HealthManager } from './manager';
import type { CheckEvent, HealthEvent } from './types';
import type { FromHealth, ToHealth } from './thread-protocol';
import { HEALTH_STATUS_EVERY_MS, reviveSpec } from './thread-protocol';

const port = parentPort;
if (!port) throw new Error('src/health/worker.ts runs only as a worker thread (HealthThread)');
const post = (m: FromHealth) => port.postMessage(m);

const manager = new HealthManager();
const lag = monitorEventLoopDelay({ resolution: 10 });
lag.enable();

manager.on('transition', (event: HealthEvent) => post({ type: 'transition', event, status: manager.status(event.id) }));
manager.on('check', (event: CheckEvent) => post({ type: 'check', event, status: manager.status(event.id) }));
manager.on('removed', (e: { id: string }) => post({ type: 'removed', id: e.id }));

const timer = setInterval(() => {
  post({ type: 'status', at: Date.now(), loopDelayMaxMs: lag.max / 1e6, loopDelayP99Ms: lag.percentile(99) / 1e6 });
  lag.reset();
}, HEALTH_STATUS_EVERY_MS);

port.on('message', (m: ToHealth) => {
  if (m.type === 'sync') {
    try {
      const result = manager.sync(m.specs.map(reviveSpec));
      post({ type: 'synced', seq: m.seq, result, statuses: manager.statuses() });
    } catch (e) {
      post({ type: 'sync-failed', seq: m.seq, error: (e as Error).message, code: (e as { code?: string }).code });
    }
  } else if (m.type === 'stop') {
    clearInterval(timer);
    manager.stop();
    post({ type: 'stopped' });
  }
});
post({ type: 'ready' });

