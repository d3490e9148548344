// Health checking on its own thread, seen from the daemon's main thread. The checkers run in
// worker.ts; this side validates a configuration before sending it (so a bad one changes
// nothing), mirrors every checker's status as the thread reports it (find() is what the Director
// reads verdicts from) and re-emits transitions and check results. A thread that dies is started
// again with the last configuration; its checkers start afresh.
import { EventEmitter } from 'node:events';
import * as path from 'node:path';
import { Worker } from 'node:worker_threads';
import { XlvsError, ErrorCodes } from '../errors';
import { endWorker, ThreadHealth } from '../sys/worker';
import { HealthManager, SyncResult } from './manager';
import type { CheckerSpec, CheckerStatus, CheckEvent, HealthEvent } from './types';
import type { FromHealth } from './thread-protocol';

const START_WAIT_MS = 10_000;
const SYNC_WAIT_MS = 10_000;
const STOP_WAIT_MS = 5_000;
const RESTART_DELAY_MS = 1_000;

/** Events: 'transition' (HealthEvent), 'check' (CheckEvent), 'crashed' (Error). */
export class HealthThread extends EventEmitter {
  private worker: Worker | null = null;
  private readonly byId = new Map<string, CheckerStatus>();
  private readonly byKey = new Map<string, string>(); // service|real → id
  private specs: CheckerSpec[] = [];
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (r: SyncResult) => void; reject: (e: Error) => void; timer: NodeJS.Timeout }>();
  private health: ThreadHealth = { lastStatusAt: 0, loopDelayMaxMs: 0, loopDelayP99Ms: 0, restarts: 0, running: false };
  private stopping = false;
  /** Validates specs exactly as the thread's manager will, before anything is sent. */
  private readonly validator = new HealthManager();

  async start(): Promise<void> {
    this.stopping = false;
    const w = new Worker(path.join(__dirname, 'worker.js'));
    this.worker = w;
    await new Promise<void>((resolve, reject) => {
      let ready = false;
      const timer = setTimeout(() => { if (!ready) { void w.terminate(); reject(new XlvsError(ErrorCodes.HEALTH, `the health thread did not start within ${START_WAIT_MS} ms`)); } }, START_WAIT_MS);
      w.on('message', (m: FromHealth) => {
        if (m.type === 'ready' && !ready) { ready = true; clearTimeout(timer); this.health.running = true; resolve(); return; }
        this.onMessage(m);
      });
      w.on('error', (e) => {
        if (!ready) { clearTimeout(timer); reject(e); return; }
        this.emit('crashed', e);
      });
      w.on('exit', (code) => this.onExit(w, code));
    });
  }

  /** Makes the thread's checkers match `specs`; throws E_HEALTH, nothing changed, when one is invalid. */
  sync(specs: CheckerSpec[]): Promise<SyncResult> {
    this.validator.plan(specs);
    this.specs = specs;
    const w = this.worker;
    if (!w) return Promise.reject(new XlvsError(ErrorCodes.HEALTH, 'the health thread is not running'));
    const seq = ++this.seq;
    return new Promise<SyncResult>((resolve, reject) => {
      const timer = setTimeout(() => { this.pending.delete(seq); reject(new XlvsError(ErrorCodes.HEALTH, `the health thread did not apply the checks within ${SYNC_WAIT_MS} ms`)); }, SYNC_WAIT_MS);
      this.pending.set(seq, { resolve, reject, timer });
      w.postMessage({ type: 'sync', seq, specs });
    });
  }

  /** The status of the checker for (service, real) as last reported, if one runs. */
  find(serviceKey: string, realKey: string): CheckerStatus | undefined {
    const id = this.byKey.get(`${serviceKey}|${realKey}`);
    return id ? this.byId.get(id) : undefined;
  }

  statuses(): CheckerStatus[] {
    return [...this.byId.values()];
  }

  threadHealth(): ThreadHealth {
    return { ...this.health };
  }

  async stop(): Promise<void> {
    this.stopping = true;
    const w = this.worker;
    if (!w) return;
    this.worker = null;
    this.health.running = false;
    await endWorker(w, STOP_WAIT_MS);
  }

  private mirror(s: CheckerStatus | undefined): void {
    if (!s) return;
    this.byId.set(s.id, s);
    this.byKey.set(`${s.serviceKey}|${s.realKey}`, s.id);
  }

  private onMessage(m: FromHealth): void {
    switch (m.type) {
      case 'synced': {
        const p = this.pending.get(m.seq);
        const keep = new Set(m.statuses.map((s) => s.id));
        for (const id of [...this.byId.keys()]) if (!keep.has(id)) this.forget(id);
        for (const s of m.statuses) this.mirror(s);
        if (p) { clearTimeout(p.timer); this.pending.delete(m.seq); p.resolve(m.result); }
        break;
      }
      case 'sync-failed': {
        const p = this.pending.get(m.seq);
        if (p) { clearTimeout(p.timer); this.pending.delete(m.seq); p.reject(new XlvsError(ErrorCodes.HEALTH, m.error)); }
        break;
      }
      case 'transition':
        this.mirror(m.status);
        this.emit('transition', m.event as HealthEvent);
        break;
      case 'check':
        this.mirror(m.status);
        this.emit('check', m.event as CheckEvent);
        break;
      case 'removed': this.forget(m.id); break;
      case 'status':
        this.health.lastStatusAt = m.at;
        this.health.loopDelayMaxMs = m.loopDelayMaxMs;
        this.health.loopDelayP99Ms = m.loopDelayP99Ms;
        break;
      default: break;
    }
  }

  private forget(id: string): void {
    const s = this.byId.get(id);
    this.byId.delete(id);
    if (s && this.byKey.get(`${s.serviceKey}|${s.realKey}`) === id) this.byKey.delete(`${s.serviceKey}|${s.realKey}`);
  }

  private onExit(w: Worker, code: number): void {
    if (this.worker !== w) return;
    this.worker = null;
    this.health.running = false;
    for (const [seq, p] of this.pending) { clearTimeout(p.timer); p.reject(new XlvsError(ErrorCodes.HEALTH, `the health thread exited (${code})`)); this.pending.delete(seq); }
    if (this.stopping) return;
    this.emit('crashed', new XlvsError(ErrorCodes.HEALTH, `the health thread exited unexpectedly (code ${code}); starting it again in ${RESTART_DELAY_MS} ms`));
    setTimeout(() => {
      if (this.stopping) return;
      this.health.restarts++;
      this.start().then(() => this.sync(this.specs)).catch((e: Error) => this.emit('crashed', e));
    }, RESTART_DELAY_MS);
  }
}
