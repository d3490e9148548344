// A scratch data plane for the connection-table tests: three VIPs, reals 1–3 on the first, 4 on
// the second and 5 on the IPv6 one, pinned under a directory unique to the test file and process;
// flows are filled with real packets through the lb program (bench/lib/fill-flows.ts).
import { SMALL_TEST_TABLES } from '../lib/fixtures';
import * as fs from 'node:fs';
import { Dataplane, FlowTableSizes } from '../../src/dataplane/dataplane';
import { ensureBpffs } from '../../src/loader';

export const DIR_MAC = '02:00:00:00:00:01';
export const VIP1 = '10.0.0.60';
export const VIP2 = '10.0.0.61';
export const VIP6 = '2001:db8::60';
export const KEY1 = `${VIP1}:80/tcp`;
export const KEY2 = `${VIP2}:443/tcp`;
export const KEY6 = `[${VIP6}]:80/tcp`;
export const realAddr = (id: number) => (id === 5 ? '2001:db8:3::5' : `10.3.0.${id}`);

export function scratch(name: string, tables?: FlowTableSizes): { dp: Dataplane; pinDir: string; destroy(): void } {
  ensureBpffs('/sys/fs/bpf');
  const pinDir = `/sys/fs/bpf/xlvs-test-conns-${name}-${process.pid}`;
  const dp = Dataplane.create({ pinDir, mac: DIR_MAC, tunSource4: '198.51.100.1', mtu: 1500, tables: tables ?? SMALL_TEST_TABLES });
  try {
    dp.vips.upsert({ address: VIP1, port: 80, protocol: 'tcp', method: 'dr' });
    dp.vips.upsert({ address: VIP2, port: 443, protocol: 'tcp', method: 'dr' });
    dp.vips.upsert({ address: VIP6, port: 80, protocol: 'tcp', method: 'dr' });
    const real = (id: number) => ({ id, address: realAddr(id), mac: `02:00:00:00:01:0${id}`, weight: 1, state: 'up' as const });
    dp.reals.set(KEY1, [real(1), real(2), real(3)]);
    dp.reals.set(KEY2, [real(4)]);
    dp.reals.set(KEY6, [real(5)]);
  } catch (e) {
    dp.destroy();
    throw e;
  }
  return {
    dp, pinDir,
    destroy() {
      try { dp.destroy(); } finally { fs.rmSync(pinDir, { recursive: true, force: true }); }
    },
  };
}
