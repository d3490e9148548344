// VRRP on its own thread, seen from the daemon's main thread. The runner lives in worker.ts with
// its own event loop (sockets, timers, VIP changes, notify commands); this side only starts and
// stops it and keeps the latest status it reported, so a blocked main thread delays the status
// page, never an advert. A thread that dies is started again (as keepalived's parent restarts its
// VRRP child), after RESTART_DELAY_MS; its instances come back as Backup and elect afresh.
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { XlvsError, ErrorCodes } from '../errors';
import { endWorker, ThreadHealth } from '../sys/worker';
import type { VrrpConfig } from './types';
import type { Watchdog } from '../sys/sd-notify';
import type { FromVrrp, TransitionMessage, VrrpInstanceStatus } from './thread-protocol';

/** How long stop() waits for the priority-0 adverts, VIP removal and notify-stop (io.ts waits 5 s for notifies). */
const STOP_WAIT_MS = 8_000;
/** How long start() waits for the thread to open its sockets. */
const START_WAIT_MS = 10_000;
const RESTART_DELAY_MS = 1_000;

/**
 * Events: 'transition' (TransitionMessage), 'advert-received' ({instance}), 'rejected'
 * ({instance, reason}), 'log' ({level, line}), 'crashed' (Error).
 */
export class VrrpThread extends EventEmitter {
  private worker: Worker | null = null;
  private latest: VrrpInstanceStatus[] = [];
  private health: ThreadHealth = { lastStatusAt: 0, loopDelayMaxMs: 0, loopDelayP99Ms: 0, restarts: 0, running: false };
  private stopping = false;
  private restartTimer: NodeJS.Timeout | null = null;

  /** `watchdog`: the thread sends systemd's WATCHDOG=1 from its own loop (see worker.ts). */
  constructor(readonly cfg: VrrpConfig, private readonly opts: { watchdog?: Watchdog | null } = {}) {
    super();
  }

  /** The instances as the thread last reported them. */
  instances(): VrrpInstanceStatus[] {
    return this.latest;
  }

  threadHealth(): ThreadHealth {
    return { ...this.health };
  }

  /** Starts the thread; resolves once every instance has its socket, rejects (thread gone) if one cannot. */
  start(): Promise<void> {
    this.stopping = false;
    const w = new Worker(path.join(__dirname, 'worker.js'), { workerData: { cfg: this.cfg, watchdog: this.opts.watchdog ?? null } });
    this.worker = w;
    return new Promise<void>((resolve, reject) => {
      let settled = false;
      const settle = (err?: Error) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err) { this.worker = null; void w.terminate(); reject(err); } else { this.health.running = true; resolve(); }
      };
      const timer = setTimeout(() => settle(new XlvsError(ErrorCodes.VRRP, `the VRRP thread did not start within ${START_WAIT_MS} ms`)), START_WAIT_MS);
      w.on('message', (m: FromVrrp) => {
        if (m.type === 'started') settle();
        else if (m.type === 'failed') settle(new XlvsError(ErrorCodes.VRRP, m.error));
        else this.onMessage(m);
      });
      w.on('error', (e) => {
        if (!settled) { settle(e); return; }
        this.emit('log', { level: 'warn', line: `VRRP thread failed: ${e.stack ?? e.message}` });
      });
      w.on('exit', (code) => {
        if (!settled) { settle(new XlvsError(ErrorCodes.VRRP, `the VRRP thread exited (${code}) before it started`)); return; }
        if (this.worker !== w) return;
        this.worker = null;
        this.health.running = false;
        if (this.stopping) return;
        const err = new XlvsError(ErrorCodes.VRRP, `the VRRP thread exited unexpectedly (code ${code}); starting it again in ${RESTART_DELAY_MS} ms`);
        this.emit('crashed', err);
        this.restartTimer = setTimeout(() => {
          this.restartTimer = null;
          if (this.stopping) return;
          this.health.restarts++;
          this.start().catch((e: Error) => this.emit('crashed', e));
        }, RESTART_DELAY_MS);
      });
    });
  }

  /** SIGTERM semantics in the thread (priority-0 advert if Master, VIPs removed, notify stop), then it ends. */
  async stop(): Promise<void> {
    this.stopping = true;
    if (this.restartTimer) { clearTimeout(this.restartTimer); this.restartTimer = null; }
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    this.health.running = false;
    await endWorker(w, STOP_WAIT_MS);
  }

  private onMessage(m: FromVrrp): void {
    switch (m.type) {
      case 'status':
        this.latest = m.instances;
        this.health.lastStatusAt = m.at;
        this.health.loopDelayMaxMs = m.loopDelayMaxMs;
        this.health.loopDelayP99Ms = m.loopDelayP99Ms;
        break;
      case 'transition': this.emit('transition', m.change as TransitionMessage); break;
      case 'advert-received': this.emit('advert-received', { instance: m.instance }); break;
      case 'rejected': this.emit('rejected', { instance: m.instance, reason: m.reason }); break;
      case 'log': this.emit('log', { level: m.level, line: m.line }); break;
      default: break;
    }
  }
}
