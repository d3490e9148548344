// Ending a worker thread that owns sockets or timers: ask it to stop (it finishes its own
// shutdown, e.g. VRRP's priority-0 advert, and releases anything a native call still holds),
// wait for its 'stopped' message or its exit, at most `waitMs`, then terminate it.
import type { Worker } from 'node:worker_threads';

/** How a daemon thread is doing, as its main-side owner last heard (status page, metrics). */
export interface ThreadHealth {
  /** Date.now() of the last status message from the thread (0 before the first). */
  lastStatusAt: number;
  loopDelayMaxMs: number;
  loopDelayP99Ms: number;
  restarts: number;
  running: boolean;
}

export async function endWorker(w: Worker, waitMs: number): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = () => { clearTimeout(timer); resolve(); };
    const timer = setTimeout(done, waitMs);
    w.on('message', (m: { type?: string }) => { if (m?.type === 'stopped') done(); });
    w.once('exit', done);
    w.postMessage({ type: 'stop' });
  });
  await w.terminate();
}
