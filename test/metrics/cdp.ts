// A headless Chromium driven over the DevTools protocol on a pipe (--remote-debugging-pipe:
// commands on fd 3, replies and events on fd 4, each message JSON ended by a NUL byte). A pipe
// needs no TCP port, so the browser can live in a network namespace the test process cannot
// reach, and no WebSocket client is needed. Only what the status-page tests use; a page records
// its uncaught exceptions and console errors (Page.errors).
import * as fs from 'node:fs';
import { spawn, ChildProcess } from 'node:child_process';
import { Readable, Writable } from 'node:stream';

/** Chromium's own switches for a quiet, offline, throwaway headless run. */
export const CHROMIUM_FLAGS = [
  '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--no-default-browser-check',
  '--disable-background-networking', '--disable-component-update', '--disable-sync', '--disable-extensions',
  '--disable-default-apps', '--metrics-recording-only', '--mute-audio', '--disable-dev-shm-usage',
  '--remote-debugging-pipe',
];

/** The chromium binary on PATH, or null. */
export function findChromium(): string | null {
  for (const dir of (process.env.PATH ?? '/usr/bin').split(':')) {
    for (const name of ['chromium', 'chromium-browser']) {
      const p = `${dir}/${name}`;
      try { fs.accessSync(p, fs.constants.X_OK); return p; } catch { /* next */ }
    }
  }
  return null;
}

/** Options for node:test: skips with a printed reason when chromium is not on PATH, except in CI (there it must run; scripts/ensure-deps installs it). */
export function needsChromium(): { skip?: string } {
  if (findChromium() || process.env.CI === 'true') return {};
  const reason = 'needs chromium (apt-get install chromium, or run make test which does)';
  process.stdout.write(`# skip: ${reason}\n`);
  return { skip: reason };
}

interface Pending { resolve: (v: Record<string, unknown>) => void; reject: (e: Error) => void; method: string }

export class Browser {
  private seq = 0;
  private pending = new Map<number, Pending>();
  private readonly pages = new Map<string, Page>();
  private buf = Buffer.alloc(0);
  private stderr = '';
  private readonly out: Writable;

  private constructor(readonly proc: ChildProcess) {
    this.out = proc.stdio[3] as Writable;
    const inp = proc.stdio[4] as Readable;
    inp.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      let i;
      while ((i = this.buf.indexOf(0)) >= 0) {
        const msg = JSON.parse(this.buf.subarray(0, i).toString('utf8')) as {
          id?: number; result?: Record<string, unknown>; error?: { message: string }; method?: string; params?: Record<string, unknown>; sessionId?: string;
        };
        this.buf = this.buf.subarray(i + 1);
        if (msg.method && msg.sessionId) this.pages.get(msg.sessionId)?.onEvent(msg.method, msg.params ?? {});
        const p = msg.id !== undefined ? this.pending.get(msg.id) : undefined;
        if (!p) continue;
        this.pending.delete(msg.id!);
        if (msg.error) p.reject(new Error(`${p.method}: ${msg.error.message}`));
        else p.resolve(msg.result ?? {});
      }
    });
    proc.stderr?.on('data', (d) => { this.stderr = (this.stderr + String(d)).slice(-4000); });
    proc.once('exit', (code, sig) => {
      for (const p of this.pending.values()) p.reject(new Error(`chromium exited (${code ?? sig}) during ${p.method}: ${this.stderr.trim().split('\n').slice(-5).join(' | ')}`));
      this.pending.clear();
    });
  }

  /** Starts chromium as `argvPrefix… chromium FLAGS` (e.g. `ip netns exec NS`). */
  static launch(chromium: string, userDataDir: string, argvPrefix: string[] = [], windowSize = '1100,800'): Browser {
    const argv = [...argvPrefix, chromium, ...CHROMIUM_FLAGS, `--user-data-dir=${userDataDir}`, `--window-size=${windowSize}`, 'about:blank'];
    const proc = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe', 'pipe', 'pipe'] });
    return new Browser(proc);
  }

  /** Sends one DevTools command (to a page when `sessionId` is given). */
  send(method: string, params: Record<string, unknown> = {}, sessionId?: string, timeoutMs = 15_000): Promise<Record<string, unknown>> {
    const id = ++this.seq;
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => { this.pending.delete(id); reject(new Error(`${method}: no reply in ${timeoutMs} ms`)); }, timeoutMs);
      this.pending.set(id, {
        method,
        resolve: (v) => { clearTimeout(t); resolve(v); },
        reject: (e) => { clearTimeout(t); reject(e); },
      });
      this.out.write(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }) + '\0');
    });
  }

  /** Opens `url` in a new tab and attaches to it; returns the page's session, which records the page's errors from the start. */
  async open(url: string): Promise<Page> {
    const { targetId } = await this.send('Target.createTarget', { url: 'about:blank' }) as { targetId: string };
    const { sessionId } = await this.send('Target.attachToTarget', { targetId, flatten: true }) as { sessionId: string };
    const page = new Page(this, sessionId);
    this.pages.set(sessionId, page);
    await this.send('Runtime.enable', {}, sessionId);
    await this.send('Page.navigate', { url }, sessionId);
    return page;
  }

  /** Asks chromium to quit, then kills it by PID if it lingers. */
  async close(): Promise<void> {
    const p = this.proc;
    if (p.exitCode !== null || p.signalCode !== null) return;
    const gone = new Promise<void>((r) => p.once('exit', () => r()));
    this.send('Browser.close', {}, undefined, 3000).catch(() => undefined);
    const t = setTimeout(() => { try { process.kill(p.pid!, 'SIGKILL'); } catch { /* gone */ } }, 3000);
    await gone;
    clearTimeout(t);
  }
}

export class Page {
  /** Uncaught exceptions and console.error/assert calls in the page, as text. */
  readonly errors: string[] = [];

  constructor(private readonly b: Browser, readonly sessionId: string) {}

  /** A DevTools event of this page's session (Runtime is enabled by Browser.open). */
  onEvent(method: string, params: Record<string, unknown>): void {
    if (method === 'Runtime.exceptionThrown') {
      const d = params.exceptionDetails as { text: string; exception?: { description?: string } };
      this.errors.push(`exception: ${d.exception?.description ?? d.text}`);
    } else if (method === 'Runtime.consoleAPICalled' && (params.type === 'error' || params.type === 'assert')) {
      const args = (params.args as { value?: unknown; description?: string }[]).map((a) => a.description ?? String(a.value));
      this.errors.push(`console.${String(params.type)}: ${args.join(' ')}`);
    }
  }

  /** Evaluates `expression` in the page and returns its value (JSON-serialisable). */
  async evaluate<T>(expression: string): Promise<T> {
    const r = await this.b.send('Runtime.evaluate', { expression, returnByValue: true }, this.sessionId) as {
      result: { value?: T }; exceptionDetails?: { text: string; exception?: { description?: string } };
    };
    if (r.exceptionDetails) throw new Error(`page: ${r.exceptionDetails.exception?.description ?? r.exceptionDetails.text}`);
    return r.result.value as T;
  }

  /** Polls `expression` until `ok(value)`; returns the last value, or throws with it after `ms`. */
  async waitFor<T>(what: string, expression: string, ok: (v: T) => boolean, ms: number): Promise<T> {
    const end = Date.now() + ms;
    let last: T | undefined;
    for (;;) {
      try { last = await this.evaluate<T>(expression); } catch (e) { last = String(e) as T; }
      if (last !== undefined && ok(last)) return last;
      if (Date.now() > end) throw new Error(`page: ${what} not seen in ${ms} ms; last: ${JSON.stringify(last)}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  /** A PNG of the viewport. */
  async screenshot(): Promise<Buffer> {
    const r = await this.b.send('Page.captureScreenshot', { format: 'png' }, this.sessionId) as { data: string };
    return Buffer.from(r.data, 'base64');
  }
}
