// Real ids: one per (service, real), stable for as long as the real stays configured, so
// connection-table entries keep pointing at the same real across reloads and restarts.
import { XlvsError, ErrorCodes } from '../errors';

export class RealIds {
  private byKey = new Map<string, number>();
  private used = new Set<number>();
  /** Next candidate; ids are handed out round-robin so a freed id is not reused soon after
   *  (a stale connection-table entry must not land on a different real). */
  private next = 1;

  /** @param max highest usable id (the reals map's size − 1); 0 means "no real". */
  constructor(readonly max: number) {}

  static key(serviceKey: string, realKey: string): string {
    return `${serviceKey}|${realKey}`;
  }

  get(serviceKey: string, realKey: string): number | undefined {
    return this.byKey.get(RealIds.key(serviceKey, realKey));
  }

  /** Records an id found in the maps (adoption after a restart). */
  adopt(serviceKey: string, realKey: string, id: number): void {
    this.byKey.set(RealIds.key(serviceKey, realKey), id);
    this.used.add(id);
    if (id >= this.next) this.next = id + 1 > this.max ? 1 : id + 1;
  }

  ensure(serviceKey: string, realKey: string): number {
    const k = RealIds.key(serviceKey, realKey);
    const have = this.byKey.get(k);
    if (have !== undefined) return have;
    for (let i = 0; i < this.max; i++) {
      const id = this.next;
      this.next = this.next >= this.max ? 1 : this.next + 1;
      if (!this.used.has(id)) {
        this.used.add(id);
        this.byKey.set(k, id);
        return id;
      }
    }
    throw new XlvsError(ErrorCodes.APPLY, `no free real id: all ${this.max} are in use`);
  }

  release(serviceKey: string, realKey: string): void {
    const k = RealIds.key(serviceKey, realKey);
    const id = this.byKey.get(k);
    if (id === undefined) return;
    this.byKey.delete(k);
    this.used.delete(id);
  }

  snapshot(): Map<string, number> {
    return new Map(this.byKey);
  }

  restore(snap: Map<string, number>): void {
    this.byKey = new Map(snap);
    this.used = new Set(snap.values());
  }
}
