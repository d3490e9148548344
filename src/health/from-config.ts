// From the topology's `check` block (docs/topology.md, durations already in ms) to a CheckerSpec.
// The config normaliser owns the real defaults; the ones here are the fallbacks for fields it
// leaves out, and they are keepalived.conf(5)'s, since that is what operators migrate from.
import { CheckSpec, CheckTiming, CheckerSpec, CheckType } from './types';

export interface CheckConfig {
  type: CheckType | 'none';
  intervalMs?: number;
  timeoutMs?: number;
  rise?: number;
  fall?: number;
  delayBeforeRetryMs?: number;
  warmupMs?: number;
  alpha?: boolean;
  /** connect_port */
  port?: number | null;
  connectIp?: string | null;
  bindto?: string | null;
  http?: { method?: string; path?: string; host?: string | null; status?: string; digest?: string | null; regex?: string | null; sni?: string | null; verify?: boolean };
  udp?: { payload?: string | null; payloadHex?: string | null };
  script?: { command: string[] };
}

export interface RealRef { key: string; address: string; port: number }

/** keepalived.conf(5) defaults: delay_loop 60 s, connect_timeout 5 s, retry 1 (→ fall 2),
 *  delay_before_retry 1 s, warmup 0, alpha off; keepalived has no rise (one success → up). */
export const FALLBACK_TIMING: CheckTiming = { intervalMs: 60_000, rise: 1, fall: 2, delayBeforeRetryMs: 1000, warmupMs: 0, alpha: false };
export const FALLBACK_TIMEOUT_MS = 5000;
/** keepalived HTTP_GET: status_code defaults to any 2xx. */
export const FALLBACK_STATUS = '200-299';

/** The checker for one real, or null for `type: none`. Validation happens in HealthManager.sync. */
export function checkerSpec(serviceKey: string, real: RealRef, c: CheckConfig): CheckerSpec | null {
  if (c.type === 'none') return null;
  const target = {
    address: real.address, port: real.port, timeoutMs: c.timeoutMs ?? FALLBACK_TIMEOUT_MS,
    connectIp: c.connectIp ?? null, connectPort: c.port ?? null, bindto: c.bindto ?? null,
  };
  let check: CheckSpec;
  switch (c.type) {
    case 'tcp': check = { type: 'tcp', ...target }; break;
    case 'http':
    case 'https': {
      const h = c.http ?? {};
      check = {
        type: c.type, ...target, method: h.method ?? 'GET', path: h.path ?? '/', host: h.host ?? null,
        status: h.status ?? FALLBACK_STATUS, digest: h.digest ?? null, regex: h.regex ?? null, sni: h.sni ?? null, verify: h.verify ?? false,
      };
      break;
    }
    case 'udp': {
      const u = c.udp ?? {};
      const payload = u.payloadHex ? Buffer.from(u.payloadHex, 'hex') : Buffer.from(u.payload ?? '', 'utf8');
      check = { type: 'udp', ...target, payload };
      break;
    }
    case 'script': check = { type: 'script', ...target, command: c.script?.command ?? [] }; break;
  }
  const timing: CheckTiming = {
    intervalMs: c.intervalMs ?? FALLBACK_TIMING.intervalMs,
    rise: c.rise ?? FALLBACK_TIMING.rise,
    fall: c.fall ?? FALLBACK_TIMING.fall,
    delayBeforeRetryMs: c.delayBeforeRetryMs ?? FALLBACK_TIMING.delayBeforeRetryMs,
    warmupMs: c.warmupMs ?? FALLBACK_TIMING.warmupMs,
    alpha: c.alpha ?? FALLBACK_TIMING.alpha,
  };
  return { serviceKey, realKey: real.key, check, timing };
}
