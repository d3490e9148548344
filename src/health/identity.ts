// A checker's identity: a stable hash of its normalised config (service, real, type, target,
// every parameter, timing). Same config → same id across reloads and restarts, so its state
// survives (the keepalived #106/#381 failure mode is a real coming back up on reload).
import { createHash } from 'node:crypto';
import { CheckerSpec } from './types';

/** JSON with object keys sorted, Buffers as hex, and null/undefined fields dropped, so two
 *  spellings of the same config (missing vs null option) hash the same. */
export function canonical(v: unknown): string {
  if (v === null || v === undefined) return 'null';
  if (Buffer.isBuffer(v)) return JSON.stringify(`hex:${v.toString('hex')}`);
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`;
  if (typeof v === 'object') {
    const o = v as Record<string, unknown>;
    const keys = Object.keys(o).filter((k) => o[k] !== null && o[k] !== undefined).sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonical(o[k])}`).join(',')}}`;
  }
  return JSON.stringify(v);
}

/** 16 hex digits of SHA-256 over the canonical config. */
export function checkerId(spec: CheckerSpec): string {
  return createHash('sha256').update(canonical({ serviceKey: spec.serviceKey, realKey: spec.realKey, check: spec.check, timing: spec.timing })).digest('hex').slice(0, 16);
}
