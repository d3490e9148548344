// The daemon's side of the control socket (protocol.ts): serves a handler, one request at a time
// per connection, streaming StreamReply results with backpressure.
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import { XlvsError, ErrorCodes } from '../errors';
import { LineSplitter } from './lines';
import { ControlHandler, ControlReply, ControlRequest, MAX_REQUEST_BYTES, StreamReply, replyLine } from './protocol';

/** After an oversize request, how long the rest of the client's bytes are read and dropped before the connection is cut. */
const DISCARD_MS = 5000;

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
      if (!(reply instanceof StreamReply)) return write(replyLine(reply));
      try {
        for await (const chunk of reply.lines) {
          if (gone) break; // leaving the loop cancels the stream
          await write(chunk);
          if (gone) break;
        }
        await write(replyLine({ ok: true, end: true, result: reply.summary() }));
      } catch (e) {
        await write(replyLine(errorReply(e)));
      }
    }

    sock.on('data', (chunk: Buffer) => {
      const { lines, overflow } = split.push(chunk);
      for (const l of lines) queue = queue.then(() => serve(l));
      if (overflow && !refused) {
        refused = true;
        queue = queue.then(() => {
          if (gone) return;
          sock.end(replyLine({
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
