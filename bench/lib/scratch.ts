// A Dataplane on a scratch pin dir (/sys/fs/bpf/xlvs-bench-<pid>-<tag>), never attached to an
// interface: the benchmarks write its maps and read them back, and destroy it afterwards.
import * as fs from 'node:fs';
import { Dataplane } from '../../src/dataplane/dataplane';
import { ensureBpffs } from '../../src/loader';
import { Director } from '../../src/director/director';
import type { Topology } from '../../src/config/model';
import { benchMac } from './topo';

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

/** The daemon's wiring: a Director over `dp` for `topo`, every real at the bench MAC. */
export function directorFor(dp: Dataplane, topo: Topology): Director {
  const director = new Director(dp, topo);
  for (const svc of topo.services) {
    for (const r of svc.reals) director.setMac(r.address, benchMac());
    if (svc.sorryServer) director.setMac(svc.sorryServer.address, benchMac());
  }
  return director;
}
