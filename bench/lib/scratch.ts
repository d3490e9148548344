// A Dataplane on a scratch pin dir (/sys/fs/bpf/xlvs-bench-<pid>-<tag>), never attached to an
// interface: the benchmarks write its maps and read them back, and destroy it afterwards.
import * as fs from 'node:fs';
import { Dataplane } from '../../src/dataplane/dataplane';
import { ensureBpffs } from '../../src/loader';
import { LB } from '../../src/maps/lb';
import { Reconciler } from '../../src/reconciler/reconciler';
import { RealIds } from '../../src/reconciler/ids';
import { DataplanePortAdapter } from '../../src/director/dataplane-port';

/** The reals map's highest id (bpf/include/lb_shared.h LB_MAX_REALS, id 0 = none); the daemon uses the same. */
export const MAX_REAL_ID = LB.MAX_REALS - 1;

export function scratchPinDir(tag: string): string {
  return `/sys/fs/bpf/xlvs-bench-${process.pid}-${tag}`;
}

/** Creates the scratch data plane; `close()` destroys it and removes its pin dir. */
function openScratch(tag: string): { dp: Dataplane; close(): void } {
  ensureBpffs('/sys/fs/bpf');
  const pinDir = scratchPinDir(tag);
  fs.mkdirSync(pinDir, { recursive: true });
  const close = (dp: Dataplane | null) => {
    if (dp) dp.destroy();
    fs.rmSync(pinDir, { recursive: true, force: true });
  };
  let dp: Dataplane;
  try {
    dp = Dataplane.create({ pinDir, mac: '02:00:00:00:00:fe', tunSource4: '192.0.2.2' });
  } catch (e) {
    close(null);
    throw e;
  }
  return { dp, close: () => close(dp) };
}

export function withScratchDataplane<T>(tag: string, fn: (dp: Dataplane) => T): T {
  const s = openScratch(tag);
  try {
    return fn(s.dp);
  } finally {
    s.close();
  }
}

export async function withScratchDataplaneAsync<T>(tag: string, fn: (dp: Dataplane) => Promise<T>): Promise<T> {
  const s = openScratch(tag);
  try {
    return await fn(s.dp);
  } finally {
    s.close();
  }
}

/** The daemon's wiring: Reconciler over the DataplanePortAdapter, ids up to MAX_REAL_ID. */
export function reconcilerFor(dp: Dataplane): { reconciler: Reconciler; port: DataplanePortAdapter } {
  const port = new DataplanePortAdapter(dp);
  return { reconciler: new Reconciler(port, new RealIds(MAX_REAL_ID)), port };
}
