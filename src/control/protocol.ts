// The control socket's protocol: a unix stream socket, root only (directory 0700, socket 0600),
// carrying one JSON request per line. The daemon serves it (server.ts); the CLI, the lab and the
// tests are its clients (client.ts).
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
import { bigintReplacer } from '../common/json';

export interface ControlRequest { cmd: string; [k: string]: unknown }
/**
 * `{"cmd":"zero"}` or `{"cmd":"zero","service":"10.0.0.1:80/tcp"}` (`xlvs zero`, ipvsadm -Z):
 * from now on the counters `status` reports for the service and its reals (for every service
 * without `service`) count from zero. The BPF maps and /metrics are untouched
 * (src/daemon/zero.ts). Answered with a ZeroResult; an unknown service is E_USAGE, nothing zeroed.
 */
export interface ZeroRequest extends ControlRequest { cmd: 'zero'; service?: string }
export interface ZeroResult {
  /** Service keys zeroed. */
  zeroed: string[];
  /** When (ms since the epoch). */
  at: number;
}

/**
 * `{"cmd":"real","op":"drain"|"undrain"|"weight"|"clear","service":"10.0.0.1:80/tcp","real":"10.0.0.5[:80]","weight":N}`
 * (`xlvs real …`, ipvsadm -e -w N): the operator's overlay on the topology (src/daemon/overrides.ts),
 * applied through the Director. `clear` without `real` clears the service's overrides, without
 * `service` every override. An unknown service or real is E_USAGE naming it; nothing changes.
 */
export interface OverrideRequest extends ControlRequest { cmd: 'real'; op: 'drain' | 'undrain' | 'weight' | 'clear'; service?: string; real?: string; weight?: number }
/** One override in force: service and real keys, since when (ms since the epoch). */
export interface OverrideEntry { service: string; real: string; weight?: number; drained?: boolean; at: number }
export interface OverrideResult {
  /** One line per real changed (`10.0.0.1:80/tcp 10.0.0.5:80: drained by operator`). */
  changed: string[];
  /** Every override in force afterwards. */
  overrides: OverrideEntry[];
}

export type ControlReply = { ok: true; result?: unknown; end?: true } | { ok: false; error: string; code?: string };

/** A reply of many lines: `lines` yields pre-serialised `{"item":…}\n` lines (UTF-8), `summary` the end line's result. */
export class StreamReply {
  constructor(readonly lines: AsyncIterable<string | Buffer>, readonly summary: () => unknown) {}
}

export type ControlHandler = (req: ControlRequest) => Promise<unknown> | unknown;

/** Longest request line accepted (64 KiB; the largest real request is a few hundred bytes). */
export const MAX_REQUEST_BYTES = 64 * 1024;

/** Default socket path for a director name. */
export function defaultSocketPath(name: string): string {
  return `/run/xlvs/${name}.sock`;
}

/** One reply line: JSON (bigints as decimal strings) and a newline. */
export function replyLine(reply: ControlReply): string {
  return JSON.stringify(reply, bigintReplacer) + '\n';
}

/** How an item line of a streamed reply starts: `{"item":…}`. */
export const ITEM_PREFIX = '{"item":';
