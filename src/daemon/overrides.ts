// `xlvs real drain|undrain|weight|clear` (ipvsadm -e -w N during an incident): the operator's
// overlay on the topology, per (service key, real key) a weight override and/or a drained flag.
// The daemon holds it, hands it to the Director (setOverrides) and applies the services touched;
// nothing here writes a map.
//
// It lives in a small JSON file beside the control socket (`<socket dir>/<director>.overrides.json`),
// written atomically (write + fsync + rename) on every change and read at start, so a restarted
// daemon (crash, upgrade, `xlvs stop` and `xlvs run`) keeps draining what the operator drained.
// `xlvs real clear` removes overrides; a reload keeps them unless `--clear-overrides`. An override
// whose service or real the topology no longer has is dropped and logged (at start and on reload).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Topology } from '../config/model';
import type { RealOverride } from '../director/desired-from-model';
import { parseServiceKey, serviceKey } from '../dataplane/addr';
import { canonicalIp } from '../common/address';
import type { OverrideEntry, OverrideRequest, OverrideResult } from '../control/protocol';
import { XlvsError, ErrorCodes } from '../errors';

/** The highest weight a real may have (config/topology.schema.json). */
const MAX_WEIGHT = 65535;
const FILE_VERSION = 1;

/** Where the overlay of director `name` is kept: beside its control socket. */
export function overridesFile(topo: Topology): string {
  return path.join(path.dirname(topo.control.socket), `${topo.director.name}.overrides.json`);
}

interface Stored { weight?: number; drained?: boolean; at: number }

function usage(msg: string): XlvsError {
  return new XlvsError(ErrorCodes.USAGE, msg);
}

/** `service` as the topology keys it, or E_USAGE. */
function canonicalService(op: string, service: unknown): string {
  if (typeof service !== 'string') throw usage(`real ${op}: the service must be a service key (address:port/tcp|udp)`);
  try {
    const k = parseServiceKey(service);
    return serviceKey(k.address, k.ports ?? k.port, k.protocol);
  } catch {
    throw usage(`real ${op}: "${service}" is not a service key (address:port/tcp|udp, IPv6 in brackets)`);
  }
}

/** `ADDR`, `ADDR:PORT`, `[V6]` or `[V6]:PORT` as an address and optional port, or E_USAGE. */
function parseReal(op: string, real: unknown): { address: string; port?: number } {
  if (typeof real !== 'string') throw usage(`real ${op}: the real must be ADDR[:PORT]`);
  let addr = real;
  let port: string | undefined;
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(real);
  if (v6) { addr = v6[1]; port = v6[2]; } else if (real.split(':').length === 2) [addr, port] = real.split(':');
  const a = canonicalIp(addr);
  if (!a || (port !== undefined && (!/^\d+$/.test(port) || Number(port) < 1 || Number(port) > 65535))) {
    throw usage(`real ${op}: "${real}" is not ADDR[:PORT] (IPv6 in brackets with a port)`);
  }
  return { address: a, port: port === undefined ? undefined : Number(port) };
}

export class RealOverrides {
  /** By service key, then real key. */
  private readonly byService = new Map<string, Map<string, Stored>>();

  constructor(readonly file: string, private readonly log: (line: string) => void = () => {}) {}

  /** The overlay in `file` (none when it does not exist; an unreadable one is logged and left for the operator). */
  static load(file: string, log: (line: string) => void): RealOverrides {
    const o = new RealOverrides(file, log);
    let text: string;
    try {
      text = fs.readFileSync(file, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code !== 'ENOENT') log(`cannot read ${file}: ${(e as Error).message}; starting without overrides`);
      return o;
    }
    try {
      const j = JSON.parse(text) as { version?: number; overrides?: OverrideEntry[] };
      if (j.version !== FILE_VERSION || !Array.isArray(j.overrides)) throw new Error(`not an xlvs overrides file (version ${FILE_VERSION})`);
      for (const e of j.overrides) {
        const s: Stored = { at: typeof e.at === 'number' ? e.at : Date.now() };
        if (Number.isInteger(e.weight) && e.weight! >= 0 && e.weight! <= MAX_WEIGHT) s.weight = e.weight;
        if (e.drained === true) s.drained = true;
        if (typeof e.service === 'string' && typeof e.real === 'string' && (s.weight !== undefined || s.drained)) o.put(e.service, e.real, s);
      }
    } catch (e) {
      log(`${file}: ${(e as Error).message}; starting without overrides (the file is left as it is)`);
      o.byService.clear();
    }
    return o;
  }

  /** What the Director takes (setOverrides): a copy, so it changes only when handed over again. */
  map(): ReadonlyMap<string, ReadonlyMap<string, RealOverride>> {
    return new Map([...this.byService].map(([s, reals]) => [s, new Map([...reals].map(([r, o]) => [r, { weight: o.weight, drained: o.drained }]))]));
  }

  /** The override of one real, if any. */
  of(service: string, real: string): OverrideEntry | undefined {
    const s = this.byService.get(service)?.get(real);
    return s ? { service, real, ...s } : undefined;
  }

  list(): OverrideEntry[] {
    const out: OverrideEntry[] = [];
    for (const [service, reals] of this.byService) for (const [real, s] of reals) out.push({ service, real, ...s });
    return out;
  }

  private put(service: string, real: string, s: Stored): void {
    let m = this.byService.get(service);
    if (!m) this.byService.set(service, (m = new Map()));
    m.set(real, s);
  }

  private remove(service: string, real: string): boolean {
    const m = this.byService.get(service);
    const had = !!m?.delete(real);
    if (m && !m.size) this.byService.delete(service);
    return had;
  }

  /**
   * One control request against the topology in force. Unknown services and reals are E_USAGE
   * naming them, and nothing changes. Returns what changed and the services to apply; the file
   * is written before the caller applies.
   */
  handle(req: OverrideRequest, topo: Topology, now = Date.now()): { result: OverrideResult; services: Set<string> } {
    const op = req.op;
    if (!['drain', 'undrain', 'weight', 'clear'].includes(op)) throw usage(`real: unknown operation "${String(op)}" (drain, undrain, weight, clear)`);
    if (op === 'clear' && req.service === undefined) {
      const services = new Set(this.byService.keys());
      const changed = this.list().map((e) => `${e.service} ${e.real}: override cleared`);
      this.byService.clear();
      this.save();
      return { result: { changed, overrides: [] }, services };
    }
    const key = canonicalService(op, req.service);
    const svc = topo.services.find((s) => s.key === key);
    if (!svc) throw usage(`real ${op}: no service ${key} (configured: ${topo.services.map((s) => s.key).join(', ') || 'none'}); nothing changed`);
    if (op === 'clear' && req.real === undefined) {
      const changed = [...(this.byService.get(key)?.keys() ?? [])].map((r) => `${key} ${r}: override cleared`);
      this.byService.delete(key);
      this.save();
      return { result: { changed, overrides: this.list() }, services: new Set([key]) };
    }
    const want = parseReal(op, req.real);
    // An address is one real of a service (config/check), so the port only narrows the match.
    const matches = svc.reals.filter((r) => r.address === want.address && (want.port === undefined || r.port === want.port));
    const realsText = svc.reals.map((r) => r.key).join(', ') || 'none';
    if (!matches.length) throw usage(`real ${op}: service ${key} has no real ${String(req.real)} (its reals: ${realsText}); nothing changed`);
    const real = matches[0].key;
    const cur = this.byService.get(key)?.get(real);
    const next: Stored = { ...(cur ?? {}), at: now };
    let what: string;
    switch (op) {
      case 'drain': next.drained = true; what = 'drained by operator'; break;
      case 'undrain': delete next.drained; what = 'undrained'; break;
      case 'weight': {
        const w = req.weight;
        if (typeof w !== 'number' || !Number.isInteger(w) || w < 0 || w > MAX_WEIGHT) throw usage(`real weight: "${String(w)}" is not a weight (an integer 0..${MAX_WEIGHT}); nothing changed`);
        next.weight = w;
        what = `weight ${w} by operator (topology ${matches[0].weight})`;
        break;
      }
      default: delete next.drained; delete next.weight; what = 'override cleared';
    }
    if (next.drained || next.weight !== undefined) this.put(key, real, next);
    else this.remove(key, real);
    this.save();
    return { result: { changed: [`${key} ${real}: ${what}`], overrides: this.list() }, services: new Set([key]) };
  }

  /** Drops (and returns, as log lines) the overrides whose service or real `topo` does not have. */
  retain(topo: Topology): string[] {
    const dropped: string[] = [];
    for (const e of this.list()) {
      const svc = topo.services.find((s) => s.key === e.service);
      if (svc?.reals.some((r) => r.key === e.real)) continue;
      this.remove(e.service, e.real);
      dropped.push(`${e.service} ${e.real}: override dropped, the ${svc ? 'real' : 'service'} is no longer configured`);
    }
    if (dropped.length) this.save();
    return dropped;
  }

  /** Removes every override (`xlvs reload --clear-overrides`); returns how many there were. */
  clearAll(): number {
    const n = this.list().length;
    this.byService.clear();
    if (n) this.save();
    return n;
  }

  /** Writes the file atomically (a reader sees the old or the new overlay, never half of one); none left when empty. */
  save(): void {
    const entries = this.list();
    try {
      if (!entries.length) {
        fs.rmSync(this.file, { force: true });
        return;
      }
      fs.mkdirSync(path.dirname(this.file), { recursive: true, mode: 0o700 });
      const tmp = `${this.file}.${process.pid}.tmp`;
      const fd = fs.openSync(tmp, 'w', 0o600);
      try {
        fs.writeSync(fd, JSON.stringify({ version: FILE_VERSION, overrides: entries }, null, 2) + '\n');
        fs.fsyncSync(fd);
      } finally {
        fs.closeSync(fd);
      }
      fs.renameSync(tmp, this.file);
    } catch (e) {
      // In force anyway; only a restart would forget it.
      this.log(`warning: cannot write ${this.file}: ${(e as Error).message}; the overrides are in force but a restart would forget them`);
    }
  }
}
