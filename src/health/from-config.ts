// From the normalised topology (src/config/model.ts) to checker specs: one per real whose
// resolved check is not `none`. The normaliser has already applied defaults and per-real
// overrides; this only changes shape.
import type { RealModel, ServiceModel, CheckModel } from '../config/model';
import { CheckSpec, CheckerSpec } from './types';

/** The checker for one real of a service, or null for `type: none`. Validated by HealthManager.sync. */
export function checkerSpec(serviceKey: string, real: Pick<RealModel, 'key' | 'address' | 'port' | 'check'>): CheckerSpec | null {
  const c: CheckModel = real.check;
  if (c.type === 'none') return null;
  const target = {
    address: real.address, port: real.port, timeoutMs: c.timeoutMs,
    // The model always resolves these; keep the override only when it differs, so a config that
    // spells out the real's own address/port is the same checker as one that leaves them out.
    connectIp: c.connectIp && c.connectIp !== real.address ? c.connectIp : null,
    connectPort: c.port && c.port !== real.port ? c.port : null,
    bindto: c.bindto,
  };
  let check: CheckSpec;
  switch (c.type) {
    case 'tcp': check = { type: 'tcp', ...target }; break;
    case 'http':
    case 'https': {
      const h = c.http;
      check = {
        type: c.type, ...target, method: h?.method ?? 'GET', path: h?.path ?? '/', host: h?.host ?? null,
        status: h?.status ?? '200-299', digest: h?.digest ?? null, regex: h?.regex ?? null, sni: h?.sni ?? null, verify: h?.verify ?? false,
      };
      break;
    }
    case 'udp': check = { type: 'udp', ...target, payload: Buffer.from(c.udp?.payloadHex ?? '', 'hex') }; break;
    case 'script':
      check = { type: 'script', ...target, command: c.script?.command ?? [] };
      if (c.script?.dynamic) check.dynamic = true;
      break;
  }
  return {
    serviceKey, realKey: real.key, check,
    timing: { intervalMs: c.intervalMs, rise: c.rise, fall: c.fall, delayBeforeRetryMs: c.delayBeforeRetryMs, warmupMs: c.warmupMs, alpha: c.alpha },
  };
}

/** Every checker of the given services, for `HealthManager.sync` on start and reload. */
export function checkerSpecs(services: Array<Pick<ServiceModel, 'key' | 'reals'>>): CheckerSpec[] {
  const out: CheckerSpec[] = [];
  for (const s of services) for (const r of s.reals) { const c = checkerSpec(s.key, r); if (c) out.push(c); }
  return out;
}
