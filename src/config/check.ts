// Health-check settings: keepalived aliases folded, defaults filled, one real's check resolved.
import type { CheckModel, CheckType, HttpCheckModel } from './model';
import { canonicalIp, familyName, parseIp } from '../common/address';
import { parseDuration } from './duration';
import { describeMs, MAX_TIMER_MS } from './limits';
import { argvAt } from './argv';
import { badHttpText } from './http-text';
import type { PathSeg, Problems } from './problems';

export type RawCheck = Record<string, unknown>;

// keepalived.conf(5), "Real server checker" section: delay_loop defaults to 60 s,
// connect_timeout to 5 s, retry to 1 (MISC_CHECK: 0), delay_before_retry to 1 s (3 s for
// HTTP_GET/SSL_GET); a real comes up after one success. fall = retry + 1 (keepalived marks a
// real down after the first failure plus `retry` failed retries).
const DEFAULT_INTERVAL_MS = 60_000;
const DEFAULT_TIMEOUT_MS = 5_000;
const DEFAULT_STATUS = '200-299'; // keepalived HTTP_GET without status_code: any 2xx

/** A check's own fields with aliases folded and durations in ms; types not yet resolved against a real. */
export interface PartialCheck {
  type?: CheckType;
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  delayBeforeRetryMs?: number;
  /** Failures were counted in keepalived's words (retry / nb_get_retry): its retry delays apply. */
  keepalivedRetry?: boolean;
  warmupMs?: number;
  alpha?: boolean;
  port?: number;
  connectIp?: string | null;
  bindto?: string | null;
  http?: Partial<HttpCheckModel>;
  udp?: { payloadHex: string };
  script?: { command: string[]; dynamic?: boolean };
}

/** `canonical` or its keepalived `alias`; both set is a problem. */
export function aliased(raw: Record<string, unknown>, path: readonly PathSeg[], canonical: string, alias: string, p: Problems): unknown {
  if (raw[canonical] !== undefined && raw[alias] !== undefined) {
    p.add([...path, alias], `both ${canonical} and its keepalived alias ${alias} are set; keep one`, { key: true });
  }
  return raw[canonical] !== undefined ? raw[canonical] : raw[alias];
}

/**
 * Duration field → ms, or a problem. `undefined` when absent. Every duration is capped: by
 * default at the longest delay a Node timer holds (above it a timer fires every 1 ms), or at
 * `max` with `why` naming the limit.
 */
export function durationAt(v: unknown, path: readonly PathSeg[], p: Problems, max = MAX_TIMER_MS, why = 'the longest delay a timer can hold'): number | undefined {
  if (v === undefined || v === null) return undefined;
  const d = parseDuration(v);
  if ('error' in d) {
    p.add(path, d.error);
    return undefined;
  }
  if (d.ms > max) {
    p.add(path, `${typeof v === 'string' ? v.trim() : String(v)} is above ${describeMs(max)}, ${why}`);
    return undefined;
  }
  return d.ms;
}

/** Status set "200-299,301": each part a code or range within 100..599 (RFC 9110 §15). */
function checkStatus(v: unknown): string | { error: string } {
  const text = String(v).replace(/\s+/g, '');
  const parts = text.split(',');
  for (const part of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) return { error: `"${part}" is not a status code or range (e.g. 200-299,301)` };
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    if (lo < 100 || hi > 599 || lo > hi) return { error: `"${part}" must be within 100-599, low end first` };
  }
  return text;
}

/** Folds and checks a check mapping as written at `path`. */
export function parseCheck(raw: RawCheck, path: readonly PathSeg[], p: Problems): PartialCheck {
  const c: PartialCheck = {};
  if (raw.type !== undefined) c.type = raw.type as CheckType;
  c.intervalMs = durationAt(aliased(raw, path, 'interval', 'delay_loop', p), [...path, raw.interval !== undefined ? 'interval' : 'delay_loop'], p);
  c.timeoutMs = durationAt(aliased(raw, path, 'timeout', 'connect_timeout', p), [...path, raw.timeout !== undefined ? 'timeout' : 'connect_timeout'], p);
  if (c.intervalMs === 0) p.add([...path, 'interval'], 'must be more than 0');
  if (c.timeoutMs === 0) p.add([...path, 'timeout'], 'must be more than 0');
  if (raw.rise !== undefined) c.rise = raw.rise as number;
  const fallAlias = raw.retry !== undefined ? 'retry' : 'nb_get_retry';
  if (raw.retry !== undefined && raw.nb_get_retry !== undefined) p.add([...path, 'nb_get_retry'], 'both retry and nb_get_retry are set; keep one', { key: true });
  const retry = aliased(raw, path, 'fall', fallAlias, p);
  if (retry !== undefined) c.fall = raw.fall !== undefined ? (raw.fall as number) : (retry as number) + 1;
  if (raw.fall === undefined && retry !== undefined) c.keepalivedRetry = true;
  c.delayBeforeRetryMs = durationAt(raw.delay_before_retry, [...path, 'delay_before_retry'], p);
  c.warmupMs = durationAt(raw.warmup, [...path, 'warmup'], p);
  if (raw.alpha !== undefined) c.alpha = raw.alpha as boolean;
  const port = aliased(raw, path, 'port', 'connect_port', p);
  if (port !== undefined) c.port = port as number;
  for (const f of ['connect_ip', 'bindto'] as const) {
    const v = raw[f];
    if (v === undefined || v === null) continue;
    const ip = canonicalIp(v as string);
    if (!ip) p.add([...path, f], `${JSON.stringify(v)} is not an IPv4 or IPv6 address`);
    else if (f === 'connect_ip') c.connectIp = ip;
    else c.bindto = ip;
  }
  const type = c.type;
  if (raw.http !== undefined) {
    const h = raw.http as Record<string, unknown>;
    const hp = [...path, 'http'];
    if (type !== undefined && type !== 'http' && type !== 'https') p.add(hp, `http settings need type http or https (type is ${type})`, { key: true });
    const http: Partial<HttpCheckModel> = {};
    if (h.method !== undefined) http.method = h.method as string;
    if (h.path !== undefined) http.path = h.path as string;
    const host = aliased(h, hp, 'host', 'virtualhost', p);
    if (host !== undefined) http.host = host as string | null;
    for (const [f, kind] of [['path', 'path'], ['host', 'header'], ['virtualhost', 'header'], ['sni', 'header']] as const) {
      const bad = typeof h[f] === 'string' ? badHttpText(h[f] as string, kind) : null;
      if (bad) p.add([...hp, f], bad);
    }
    if (h.status !== undefined) {
      const s = checkStatus(h.status);
      if (typeof s === 'string') http.status = s;
      else p.add([...hp, 'status'], s.error);
    }
    if (h.digest !== undefined) http.digest = h.digest === null ? null : String(h.digest).toLowerCase();
    if (h.regex !== undefined && h.regex !== null) {
      try {
        new RegExp(h.regex as string);
        http.regex = h.regex as string;
      } catch (e) {
        p.add([...hp, 'regex'], `not a valid regular expression: ${(e as Error).message}`);
      }
    }
    if (h.sni !== undefined) http.sni = typeof h.sni === 'string' ? h.sni : null;
    if (typeof h.sni === 'string' || h.sni === true) {
      if (type === 'http') p.add([...hp, 'sni'], 'SNI needs type https');
    }
    if (h.verify !== undefined) http.verify = h.verify as boolean;
    c.http = http;
  }
  if (raw.udp !== undefined) {
    const u = raw.udp as Record<string, unknown>;
    const up = [...path, 'udp'];
    if (type !== undefined && type !== 'udp') p.add(up, `udp settings need type udp (type is ${type})`, { key: true });
    if (u.payload != null && u.payload_hex != null) p.add([...up, 'payload_hex'], 'both payload and payload_hex are set; keep one', { key: true });
    const hex = u.payload_hex != null ? String(u.payload_hex).toLowerCase() : u.payload != null ? Buffer.from(String(u.payload), 'utf8').toString('hex') : '';
    c.udp = { payloadHex: hex };
  }
  if (raw.script !== undefined) {
    if (type !== undefined && type !== 'script') p.add([...path, 'script'], `script settings need type script (type is ${type})`, { key: true });
    const sc = raw.script as { command: string[]; dynamic?: boolean };
    c.script = { command: argvAt(sc.command, [...path, 'script', 'command'], p)! };
    if (sc.dynamic !== undefined) c.script.dynamic = sc.dynamic;
  }
  if (type === 'script' && raw.script === undefined) p.add([...path, 'script'], 'type script needs script.command', { at: path });
  return c;
}

/**
 * A real's check: its own check over the service's (field by field when the type is the
 * same; the real's alone when it names another type), defaults filled, resolved against the
 * real's address and port. Problems that depend on the real are reported at `at`.
 */
export function resolveCheck(service: PartialCheck | null, own: PartialCheck | null, real: { address: string; port: number }): CheckModel {
  let c: PartialCheck;
  if (own && service && (own.type === undefined || own.type === service.type)) {
    c = { ...service, ...stripUndefined(own) };
    if (service.http || own.http) c.http = { ...service.http, ...stripUndefined(own.http ?? {}) };
  } else {
    c = own ?? service ?? { type: 'none' };
  }
  const type: CheckType = c.type ?? (c.http ? 'http' : c.udp ? 'udp' : c.script ? 'script' : 'tcp');
  const isHttp = type === 'http' || type === 'https';
  return {
    type,
    intervalMs: c.intervalMs ?? DEFAULT_INTERVAL_MS,
    timeoutMs: c.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    rise: c.rise ?? 1,
    fall: c.fall ?? (type === 'script' ? 1 : 2),
    // Unset: a failed check is tried again at the interval, so a real is down after
    // fall x interval (haproxy inter); with keepalived's retry words, keepalived's own
    // delay_before_retry defaults (HTTP_GET/SSL_GET 3 s, the others 1 s).
    delayBeforeRetryMs: c.delayBeforeRetryMs ?? (c.keepalivedRetry ? (isHttp ? 3000 : 1000) : c.intervalMs ?? DEFAULT_INTERVAL_MS),
    warmupMs: c.warmupMs ?? 0,
    alpha: c.alpha ?? false,
    port: c.port ?? real.port,
    connectIp: c.connectIp ?? real.address,
    bindto: c.bindto ?? null,
    http: isHttp
      ? {
          method: c.http?.method ?? 'GET',
          path: c.http?.path ?? '/',
          host: c.http?.host ?? null,
          status: c.http?.status ?? DEFAULT_STATUS,
          digest: c.http?.digest ?? null,
          regex: c.http?.regex ?? null,
          sni: c.http?.sni ?? null,
          verify: c.http?.verify ?? false,
        }
      : null,
    udp: type === 'udp' ? { payloadHex: c.udp?.payloadHex ?? '' } : null,
    script: type === 'script' && c.script ? { command: c.script.command, dynamic: c.script.dynamic ?? false } : null,
  };
}

function stripUndefined<T extends object>(o: T): Partial<T> {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Partial<T>;
}

/** The family check of connect_ip/bindto against the real. */
export function checkFamilies(c: CheckModel, realFamily: 4 | 6, path: readonly PathSeg[], p: Problems): void {
  for (const [f, v] of [['connect_ip', c.connectIp], ['bindto', c.bindto]] as const) {
    if (!v) continue;
    const ip = parseIp(v);
    if (ip && ip.family !== realFamily) p.add([...path, f], `${v} is ${familyName(ip.family)} but the real is ${familyName(realFamily)}`);
  }
}
