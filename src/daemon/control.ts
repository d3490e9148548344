// The daemon's control socket: a unix stream socket, root only (directory 0700, socket 0600),
// carrying one JSON request per line. The CLI is its only client.
//
// Replies, one JSON object per line:
//  - a plain reply: `{"ok":true,"result":…}` or `{"ok":false,"error":"…","code":"E_…"}`;
//  - a streamed reply (a handler returned a StreamReply, e.g. `conns`): any number of
//    `{"item":…}` lines, then one end line `{"ok":true,"end":true,"result":…}` (or an error line
//    if the stream failed midway). The next chunk of items is produced only after the previous
//    one was written out (socket drained), so a slow reader holds the daemon to one chunk.
// Requests on one connection are answered in order, one at a time; a client that ends its side
// still gets every reply, then the daemon ends the connection.
//
// A request line may hold at most MAX_REQUEST_BYTES bytes (newline excluded). A longer one is
// answered with E_CONTROL_TOO_LARGE and the connection is closed; the bytes after it are read and
// dropped, never buffered. Lines are split in linear time (src/daemon/lines.ts).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { LineSplitter } from './lines';

export interface ControlRequest { cmd: string; [k: string]: unknown }
export type ControlReply = { ok: true; result?: unknown; end?: true } | { ok: false; error: string; code?: string };

/** A reply of many lines: `lines` yields pre-serialised `{"item":…}\n` lines (UTF-8), `summary` the end line's result. */
export class StreamReply {
  constructor(readonly lines: AsyncIterable<string | Buffer>, readonly summary: () => unknown) {}
}

export type ControlHandler = (req: ControlRequest) => Promise<unknown> | unknown;

/** Longest request line accepted (64 KiB; the largest real request is a few hundred bytes). */
export const MAX_REQUEST_BYTES = 64 * 1024;
/** After an oversize request, how long the rest of the client's bytes are read and dropped before the connection is cut. */
const DISCARD_MS = 5000;

/** Default socket path for a director name. */
export function defaultSocketPath(name: string): string {
  return `/run/xlvs/${name}.sock`;
}

function line(reply: ControlReply): string {
  return JSON.stringify(reply, bigintReplacer) + '\n';
}

function errorReply(e: unknown): ControlReply {
  const err = e as XlvsError;
  return { ok: false, error: err?.message ?? String(e), code: err?.code ?? ErrorCodes.CONTROL };
}

/**
 * Serves `handler` on `socketPath`. A stale socket (no one listening) is replaced; anything
 * else at that path (a file, a directory, a symlink) is never removed: E_CONTROL instead.
 */
export async function serveControl(socketPath: string, handler: ControlHandler, opts: { maxRequestBytes?: number } = {}): Promise<net.Server> {
  const maxRequest = opts.maxRequestBytes ?? MAX_REQUEST_BYTES;
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
  // allowHalfOpen: a client may end its side after its requests (`nc -U`, `socat`) and still
  // read every reply; we end ours once the replies queued before its end are written.
  const server = net.createServer({ allowHalfOpen: true }, (sock) => {
    const split = new LineSplitter(maxRequest);
    let queue: Promise<void> = Promise.resolve();
    let gone = false;
    let refused = false;
    sock.on('close', () => { gone = true; });
    sock.on('end', () => { queue = queue.then(() => { if (!gone && !refused) sock.end(); }); });
    sock.on('error', () => { gone = true; /* client went away */ });

    const drained = (): Promise<void> => new Promise((resolve) => {
      if (gone) return resolve();
      const done = () => { sock.off('drain', done); sock.off('close', done); resolve(); };
      sock.on('drain', done);
      sock.on('close', done);
    });
    const write = async (text: string | Buffer): Promise<void> => {
      if (gone) return;
      if (!sock.write(text)) await drained();
    };

    async function serve(text: string): Promise<void> {
      if (gone) return;
      const reply = await answer(text);
      if (!(reply instanceof StreamReply)) return write(line(reply));
      try {
        for await (const chunk of reply.lines) {
          if (gone) break; // leaving the loop cancels the stream
          await write(chunk);
          if (gone) break;
        }
        await write(line({ ok: true, end: true, result: reply.summary() }));
      } catch (e) {
        await write(line(errorReply(e)));
      }
    }

    sock.on('data', (chunk: Buffer) => {
      const { lines, overflow } = split.push(chunk);
      for (const l of lines) queue = queue.then(() => serve(l));
      if (overflow && !refused) {
        refused = true;
        queue = queue.then(() => {
          if (gone) return;
          sock.end(line({
            ok: false, code: ErrorCodes.CONTROL_TOO_LARGE,
            error: `request too large: more than ${maxRequest} bytes without a newline (a request is one JSON line of at most ${maxRequest} bytes); closing the connection`,
          }));
          setTimeout(() => sock.destroy(), DISCARD_MS).unref();
        });
      }
    });
  });

  async function answer(text: string): Promise<ControlReply | StreamReply> {
    let req: ControlRequest;
    try {
      req = JSON.parse(text) as ControlRequest;
      if (!req || typeof req !== 'object' || typeof req.cmd !== 'string') throw new Error('missing "cmd"');
    } catch (e) {
      return { ok: false, error: `bad request: ${(e as Error).message}`, code: ErrorCodes.CONTROL };
    }
    try {
      const result = await handler(req);
      return result instanceof StreamReply ? result : { ok: true, result };
    } catch (e) {
      return errorReply(e);
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

const ITEM_PREFIX = '{"item":';

/**
 * Sends one request and returns the result of its reply; daemon-side errors are rethrown. For a
 * streamed reply, `onItem` gets every item in order and the promise resolves with the end line's
 * result; with `rawItems` it gets each item's JSON text instead, unparsed. `timeoutMs` bounds the
 * wait for each piece of the answer (not the whole of a long stream).
 */
export function controlStream(socketPath: string, req: ControlRequest, onItem: (item: unknown) => void, timeoutMs = 10_000, opts: { rawItems?: boolean } = {}): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const c = net.createConnection(socketPath);
    const split = new LineSplitter();
    let settled = false;
    const settle = (f: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      c.destroy();
      f();
    };
    let timer = setTimeout(function expire() {
      settle(() => reject(new XlvsError(ErrorCodes.CONTROL, `no answer from ${socketPath} within ${timeoutMs} ms`)));
    }, timeoutMs);
    c.once('connect', () => c.write(JSON.stringify(req) + '\n'));
    c.on('data', (chunk: Buffer) => {
      clearTimeout(timer);
      timer = setTimeout(() => settle(() => reject(new XlvsError(ErrorCodes.CONTROL, `no answer from ${socketPath} within ${timeoutMs} ms`))), timeoutMs);
      for (const l of split.push(chunk).lines) {
        if (settled) return;
        if (opts.rawItems && l.startsWith(ITEM_PREFIX) && l.endsWith('}')) {
          // The item's JSON text as the daemon wrote it, unparsed (`xlvs list --conns --json`).
          try { onItem(l.slice(ITEM_PREFIX.length, -1)); } catch (e) { settle(() => reject(e)); return; }
          continue;
        }
        let msg: { item?: unknown } & Partial<ControlReply>;
        try {
          msg = JSON.parse(l) as typeof msg;
        } catch {
          settle(() => reject(new XlvsError(ErrorCodes.CONTROL, `unreadable answer from ${socketPath}`)));
          return;
        }
        if ('item' in msg) {
          try { onItem(msg.item); } catch (e) { settle(() => reject(e)); return; }
          continue;
        }
        const reply = msg as ControlReply;
        if (reply.ok) settle(() => resolve(reply.result));
        else settle(() => reject(new XlvsError((reply.code as XlvsError['code']) ?? ErrorCodes.CONTROL, reply.error)));
      }
    });
    c.once('end', () => settle(() => reject(new XlvsError(ErrorCodes.CONTROL, `${socketPath} closed the connection before answering`))));
    c.once('error', (e: NodeJS.ErrnoException) => {
      const why = e.code === 'ENOENT' || e.code === 'ECONNREFUSED' ? 'no daemon is running there' : e.message;
      settle(() => reject(new XlvsError(ErrorCodes.CONTROL, `cannot reach the xlvs daemon at ${socketPath}: ${why}`)));
    });
  });
}

/** Sends one request to the daemon and returns its result; daemon-side errors are rethrown. */
export function controlRequest(socketPath: string, req: ControlRequest, timeoutMs = 10_000): Promise<unknown> {
  return controlStream(socketPath, req, () => { /* a plain reply has no items */ }, timeoutMs);
}

/** JSON.stringify replacer that writes bigints (counters) as decimal strings. */
export function bigintReplacer(_k: string, v: unknown): unknown {
  return typeof v === 'bigint' ? v.toString() : v;
}
