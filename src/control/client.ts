// The client side of the control socket (protocol.ts): one request, its reply (or its stream
// of items). The CLI, the lab and the tests use it.
import * as net from 'node:net';
import { XlvsError, ErrorCodes } from '../errors';
import { LineSplitter } from './lines';
import { ControlReply, ControlRequest, ITEM_PREFIX } from './protocol';

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
