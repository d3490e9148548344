// Ending a worker thread that owns sockets or timers: ask it to stop (it finishes its own
// shutdown, e.g. VRRP's priority-0 advert, and releases anything a native call still holds),
// wait for its 'stopped' message or its exit, at most `waitMs`, then terminate it.
import type { Worker } from 'node:worker_threads';

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
