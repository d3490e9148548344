// Runs inside the regex worker thread (regex-matcher.ts): tests one body against one pattern
// per message. Nothing else happens on this thread, so the matcher can terminate it when a
// pattern backtracks past the check's deadline without losing anything.
import { parentPort } from 'node:worker_threads';
import type { MatchReply, MatchRequest } from './regex-matcher';

/** Compiled patterns kept between checks; checks repeat the same few patterns every interval. */
const CACHE_LIMIT = 256;
const cache = new Map<string, RegExp>();

function compiled(pattern: string): RegExp {
  let re = cache.get(pattern);
  if (!re) {
    if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
    re = new RegExp(pattern);
    cache.set(pattern, re);
  }
  return re;
}

parentPort!.on('message', (m: MatchRequest) => {
  let reply: MatchReply;
  try {
    reply = { id: m.id, matched: compiled(m.pattern).test(m.text) };
  } catch (e) {
    reply = { id: m.id, error: e instanceof Error ? e.message : String(e) };
  }
  parentPort!.postMessage(reply);
});
