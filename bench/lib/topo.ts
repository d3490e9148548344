// Synthetic topologies for the control-plane benchmarks: `vips` DR services on port 80, each
// with `reals` reals, loaded through the real config loader (schema + normalisation), so what
// is measured is what `xlvs run` would apply for a file of that size.
import { loadTopology } from '../../src/config/load';
import type { Topology } from '../../src/config/model';

export interface SyntheticOptions { vips: number; reals: number; tableSize?: number }

/** 10.100.0.0/16 for VIPs, 10.(128+hi).lo.x for reals: never routed, only written to maps. */
export function vipAddress(i: number): string {
  return `10.100.${(i >> 8) & 255}.${i & 255}`;
}

export function realAddress(vip: number, real: number): string {
  const n = vip * 256 + real;
  return `10.${128 + ((n >> 16) & 127)}.${(n >> 8) & 255}.${n & 255}`;
}

export function syntheticYaml(o: SyntheticOptions): string {
  const lines = [
    'director: { name: bench, interface: eth0, addresses: [10.0.0.2/8] }',
    'services:',
  ];
  for (let v = 0; v < o.vips; v++) {
    lines.push(`  - { vip: ${vipAddress(v)}, port: 80, protocol: tcp, method: dr, scheduler: maglev${o.tableSize ? `, table_size: ${o.tableSize}` : ''}, check: { type: none },`);
    lines.push('      reals: [');
    for (let r = 0; r < o.reals; r++) lines.push(`        { address: ${realAddress(v, r)}, weight: ${1 + (r % 3)} },`);
    lines.push('      ] }');
  }
  return lines.join('\n') + '\n';
}

export function syntheticTopology(o: SyntheticOptions): Topology {
  return loadTopology(syntheticYaml(o), `<bench ${o.vips}×${o.reals}>`);
}

/** Every real resolves to one fixed MAC (the benchmarks never send to it). */
export const benchMac = (): string => '02:00:00:00:be:01';
