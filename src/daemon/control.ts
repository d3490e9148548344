// The daemon's control socket: a unix stream socket, root only (directory 0700, socket 0600),
// carrying one JSON request and one JSON reply per line. The CLI is its only client.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';

export interface ControlRequest { cmd: string; [k: string]: unknown }
export type ControlReply = { ok: true; result?: unknown } | { ok: false; error: string; code?: string };
export type ControlHandler = (req: ControlRequest) => Promise<unknown> | unknown;

/** Default socket path for a director name. */
export function defaultSocketPath(name: string): string {
  return `/run/xlvs/${name}.sock`;
}

/**
 * Serves `handler` on `socketPath`. A stale socket (no one listening) is replaced; anything
 * else at that path (a file, a directory, a symlink) is never removed: E_CONTROL instead.
 */
export async function serveControl(socketPath: string, handler: ControlHandler): Promise<net.Server> {
  fs.mkdirSync(path.dirname(socketPath), { recursive: true, mode: 0o700 });
  const st = lstatOrNull(socketPath);
  if (st) {
    if (!st.isSocket()) {
      throw new XlvsError(ErrorCodes.CONTROL, `control socket ${socketPath}: a ${fileKind(st)} is already there; it is not a stale socket, so it is left alone (choose another control.socket)`);
    }
    if (await isListening(socketPath)) {
      throw new XlvsError(ErrorCodes.CONTROL, `control socket ${socketPath} is in use: is another xlvs daemon running for this director?`);
    }
    fs.unlinkSync(socketPath);
  }
  const server = net.createServer((sock) => {
    let buf = '';
    sock.setEncoding('utf8');
    sock.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        void answer(line).then((reply) => sock.write(JSON.stringify(reply, bigintReplacer) + '\n'));
      }
    });
    sock.on('error', () => { /* client went away */ });
  });
  async function answer(line: string): Promise<ControlReply> {
    let req: ControlRequest;
    try {
      req = JSON.parse(line) as ControlRequest;
      if (typeof req.cmd !== 'string') throw new Error('missing "cmd"');
    } catch (e) {
      return { ok: false, error: `bad request: ${(e as Error).message}`, code: ErrorCodes.CONTROL };
    }
    try {
      return { ok: true, result: await handler(req) };
    } catch (e) {
      const err = e as XlvsError;
      return { ok: false, error: err.message, code: err.code };
    }
  }
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(socketPath, () => { server.off('error', reject); resolve(); });
  });
  fs.chmodSync(socketPath, 0o600);
  return server;
}

function lstatOrNull(p: string): fs.Stats | null {
  try {
    return fs.lstatSync(p);
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw new XlvsError(ErrorCodes.CONTROL, `control socket ${p}: cannot inspect it: ${(e as Error).message}`);
  }
}

function fileKind(st: fs.Stats): string {
  if (st.isFile()) return 'regular file';
  if (st.isDirectory()) return 'directory';
  if (st.isSymbolicLink()) return 'symbolic link';
  if (st.isFIFO()) return 'FIFO';
  if (st.isBlockDevice() || st.isCharacterDevice()) return 'device';
  return 'non-socket file';
}

function isListening(socketPath: string): Promise<boolean> {
  return new Promise((resolve) => {
    const c = net.createConnection(socketPath);
    c.once('connect', () => { c.destroy(); resolve(true); });
    c.once('error', () => resolve(false));
  });
}

/** Sends one request to the daemon and returns its result; daemon-side errors are rethrown. */
export function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 10_000): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    let buf = '';
    const timer = setTimeout(() => {
      c.destroy();
      reject(new XlvsError(ErrorCodes.CONTROL, `no answer from ${socketPath} within ${timeoutMs} ms`));
    }, timeoutMs);
    c.setEncoding('utf8');
    c.once('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (chunk: string) => {
      buf += chunk;
      const nl = buf.indexOf('\n');
      if (nl < 0) return;
      clearTimeout(timer);
      c.end();
      let reply: ControlReply;
      try {
        reply = JSON.parse(buf.slice(0, nl)) as ControlReply;
      } catch {
        reject(new XlvsError(ErrorCodes.CONTROL, `unreadable answer from ${socketPath}`));
        return;
      }
      if (reply.ok) resolve(reply.result);
      else reject(new XlvsError((reply.code as XlvsError['code']) ?? ErrorCodes.CONTROL, reply.error));
    });
    c.once('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no daemon is running there' : e.message;
      reject(new XlvsError(ErrorCodes.CONTROL, `cannot reach the xlvs daemon at ${socketPath}: ${why}`));
    });
  });
}

/** JSON.stringify replacer that writes bigints (counters) as decimal strings. */
export function bigintReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
