// HTTP and HTTPS checks (keepalived HTTP_GET / SSL_GET): one request on a fresh connection,
// redirects not followed, the status must be in the accepted set, and the body may have to
// match an MD5 digest (as `genhash` prints it: MD5 of the body, headers excluded) or a regular
// expression (http-body.ts: the body is capped, the regex runs off the main thread). TLS sends
// SNI and verifies the certificate only when asked.
import * as http from 'node:http';
import * as https from 'node:https';
import * as net from 'node:net';
import { CheckResult, HttpCheck } from './types';
import { probe, Verdict } from './probe';
import { connectHost, connectPort, hostPort } from './target';
import { parseStatusSet, statusMatches, StatusSet } from './status-codes';
import { readBody, judgeBody } from './http-body';
import { RegexMatcher, sharedRegexMatcher } from './regex-matcher';

const statusCache = new Map<string, StatusSet>();
function statusSet(text: string): StatusSet {
  let s = statusCache.get(text);
  if (!s) { s = parseStatusSet(text); statusCache.set(text, s); }
  return s;
}

export function httpCheck(spec: HttpCheck, signal: AbortSignal, matcher: RegexMatcher = sharedRegexMatcher()): Promise<CheckResult> {
  const host = connectHost(spec);
  const port = connectPort(spec);
  const tls = spec.type === 'https';
  const hostHeader = spec.host || hostPort(host, port);
  const wantBody = !!(spec.digest || spec.regex);
  const accepted = statusSet(spec.status || '200-299');

  return probe(spec.timeoutMs, signal, (sig, ctx) => new Promise<Verdict>((resolve, reject) => {
    const base: http.RequestOptions = {
      host, port, method: spec.method || 'GET', path: spec.path || '/',
      headers: { Host: hostHeader, 'User-Agent': 'xlvs-health', Connection: 'close' },
      localAddress: spec.bindto || undefined,
      agent: false,
      signal: sig,
    };
    let req: http.ClientRequest;
    if (tls) {
      const sniName = spec.sni || (spec.host && net.isIP(spec.host) === 0 ? spec.host.replace(/:\d+$/, '') : undefined);
      const opts: https.RequestOptions = { ...base, rejectUnauthorized: !!spec.verify };
      if (sniName) opts.servername = sniName;
      req = https.request(opts);
    } else {
      req = http.request(base);
    }
    req.once('error', reject);
    req.once('response', (res) => {
      const code = res.statusCode ?? 0;
      if (!statusMatches(accepted, code)) {
        res.destroy();
        resolve({ ok: false, reason: `HTTP ${code} not in ${spec.status || '200-299'}` });
        return;
      }
      if (!wantBody) {
        res.destroy();
        resolve({ ok: true, reason: `HTTP ${code}` });
        return;
      }
      readBody(res).then((body) => judgeBody(spec, code, body, matcher, sig, ctx)).then(resolve, reject);
    });
    req.end();
  }));
}
