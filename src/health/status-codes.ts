// HTTP status code sets as operators write them: "200-299" (keepalived's default when no
// status_code is given), "200", "200,301-302". Pure.
import { XlvsError, ErrorCodes } from '../errors';

export type StatusSet = Array<[number, number]>;

/** Parses a status set; `field` names the config path in the error. */
export function parseStatusSet(text: string, field = 'status'): StatusSet {
  const out: StatusSet = [];
  const parts = String(text).split(',').map((p) => p.trim());
  for (const part of parts) {
    const m = /^(\d{3})(?:-(\d{3}))?$/.exec(part);
    if (!m) throw new XlvsError(ErrorCodes.HEALTH, `${field}: "${part}" is not a status code or range (e.g. 200-299,301)`);
    const lo = Number(m[1]);
    const hi = m[2] ? Number(m[2]) : lo;
    // RFC 9110 §15: status codes are three digits, 100..599.
    if (lo < 100 || hi > 599 || lo > hi) {
      throw new XlvsError(ErrorCodes.HEALTH, `${field}: "${part}" must be within 100-599, low end first`);
    }
    out.push([lo, hi]);
  }
  return out;
}

export function statusMatches(set: StatusSet, code: number): boolean {
  return set.some(([lo, hi]) => code >= lo && code <= hi);
}
