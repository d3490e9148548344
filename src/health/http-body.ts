// The body part of an HTTP check: read at most MAX_BODY_BYTES, then the MD5 digest (keepalived
// `digest`, as `genhash` prints it) and the regular expression (keepalived `regex`). The digest
// is linear in the capped body; the regex runs in the worker of regex-matcher.ts, so neither can
// hold the daemon's thread longer than hashing one capped body.
import { createHash } from 'node:crypto';
import type { Readable } from 'node:stream';
import type { HttpCheck } from './types';
import type { ProbeContext, Verdict } from './probe';
import { MatchAborted, RegexMatcher } from './regex-matcher';

/**
 * At most this many body bytes are read. A longer body is cut here: the regex sees the first
 * MAX_BODY_BYTES, and a digest check fails (keepalived hashes the whole body; a health URL that
 * large is a misconfiguration, and an endless body must not be read until the timeout).
 */
export const MAX_BODY_BYTES = 1 << 20;

export interface Body { bytes: Buffer; truncated: boolean }

/** Reads `res` up to `max` bytes; when more arrive it stops reading and destroys the stream. */
export function readBody(res: Readable, max = MAX_BODY_BYTES): Promise<Body> {
  return new Promise<Body>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let done = false;
    const finish = (truncated: boolean) => {
      if (done) return;
      done = true;
      resolve({ bytes: Buffer.concat(chunks, size), truncated });
    };
    res.on('data', (c: Buffer) => {
      if (done) return;
      if (size + c.length > max) {
        chunks.push(c.subarray(0, max - size));
        size = max;
        finish(true);
        res.destroy();
        return;
      }
      chunks.push(c);
      size += c.length;
    });
    res.once('end', () => finish(false));
    res.once('error', (e) => { if (!done) { done = true; reject(e); } });
  });
}

/** The verdict on a body already read (status already accepted as `code`). */
export async function judgeBody(
  spec: Pick<HttpCheck, 'digest' | 'regex' | 'timeoutMs'>, code: number, body: Body,
  matcher: RegexMatcher, signal: AbortSignal, ctx: ProbeContext,
): Promise<Verdict> {
  if (spec.digest) {
    const want = spec.digest.toLowerCase();
    if (body.truncated) return { ok: false, reason: `HTTP ${code} body longer than ${MAX_BODY_BYTES} bytes: its digest cannot be checked` };
    const got = createHash('md5').update(body.bytes).digest('hex');
    if (got !== want) return { ok: false, reason: `HTTP ${code} body digest ${got} != ${want}` };
  }
  if (spec.regex) {
    ctx.timeoutReason = `regex timed out after ${spec.timeoutMs}ms waiting for the regex worker (another check's match was running)`;
    let matched: boolean;
    try {
      matched = await matcher.match(spec.regex, body.bytes.toString('utf8'), signal, () => {
        ctx.timeoutReason = `regex timed out after ${spec.timeoutMs}ms`;
      });
    } catch (e) {
      if (e instanceof MatchAborted) return { ok: false, reason: ctx.timeoutReason };
      throw e;
    }
    if (!matched) return { ok: false, reason: `HTTP ${code} body does not match /${spec.regex}/` };
  }
  return { ok: true, reason: `HTTP ${code} body ok${body.truncated ? ` (first ${MAX_BODY_BYTES} bytes)` : ''}` };
}
