// The topology the daemon fault and load tests run: one director on the namespace's eth0
// (generic XDP), one VRRPv3 instance at 100 ms adverts holding the VIP, one DR service on port 80
// with reals of fixed MACs, pins and the control socket under the test's own /run directory.
export interface TestTopology {
  name: string;
  /** First three octets of the lab network, e.g. '10.80.0'. */
  net: string;
  vrid: number;
  /** The test's directory under /run: pins in BASE/bpffs, control socket BASE/ctl.sock. */
  base: string;
  /** Last octets of the reals (.50, .51, …). */
  reals: number[];
  metricsPort?: number;
  /** More VRRP instances and services, as YAML list items. */
  extraVrrp?: string;
  extraServices?: string;
}

export function testTopology(o: TestTopology): string {
  const vip = `${o.net}.100`;
  const reals = o.reals.map((r) => `      - { address: ${o.net}.${r}, mac: "02:00:00:00:00:${r.toString(16).padStart(2, '0')}" }`).join('\n');
  return `director:
  name: ${o.name}
  interface: eth0
  xdp_mode: generic
  addresses: [${o.net}.1/24]
  pin_root: ${o.base}/bpffs
vrrp:
  - { name: VI_1, vrid: ${o.vrid}, priority: 150, version: 3, advert_interval: 100ms, vips: [${vip}/24] }
${o.extraVrrp ?? ''}services:
  - vip: ${vip}
    port: 80
    method: dr
    reals:
${reals}
${o.extraServices ?? ''}metrics: ${o.metricsPort ? `{ listen: 127.0.0.1:${o.metricsPort} }` : '{ enabled: false }'}
control: { socket: ${o.base}/ctl.sock }
`;
}
