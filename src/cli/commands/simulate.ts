// `xlvs simulate`: one flow through the real lb program (BPF_PROG_TEST_RUN) with a topology's
// services, in a private scratch data plane — the running director is not touched.
import { Command } from 'commander';
import * as fs from 'node:fs';
import { loadTopologyFile } from '../../config/load';
import type { Topology } from '../../config/model';
import { Dataplane, MIN_TABLE_ENTRIES } from '../../dataplane/dataplane';
import { ensureBpffs, pinThreadToCpu, xdpCtx } from '../../loader';
import { Director } from '../../director/director';
import { interfaceMac } from '../../daemon/neigh';
import { buildFrame, describeFrame, parseHexFrame } from '../../sim/packet';
import { natSimWorld, ROUTER_MAC, INSIDE_MAC, NatSimWorld } from '../../sim/nat-world';
import { XlvsError, ErrorCodes } from '../../errors';

const XDP_VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];

/** A locally administered MAC standing in for a real whose MAC the topology does not give. */
export function standInMac(address: string): string {
  const bytes = address.includes(':')
    ? Buffer.from(address.replace(/[^0-9a-f]/gi, '').padStart(10, '0').slice(-10), 'hex')
    : Buffer.from([0, ...address.split('.').map(Number)]);
  return ['02', ...[...bytes].map((b) => b.toString(16).padStart(2, '0'))].join(':');
}

function parseHostPort(s: string, what: string): { address: string; port: number } {
  const m = /^\[([^\]]+)\]:(\d+)$/.exec(s) ?? /^([^:]+):(\d+)$/.exec(s);
  if (!m || Number(m[2]) > 65535) throw new XlvsError(ErrorCodes.USAGE, `${what} "${s}": expected ADDR:PORT ([v6]:PORT for IPv6)`);
  return { address: m[1], port: Number(m[2]) };
}

export interface SimResult {
  verdict: string;
  reason: string;
  real: string | null;
  /** The key of the service whose real got the packet (a grouped service's shows its ports). */
  service: string | null;
  output: string;
  outputHex: string;
  durationNs: number;
  /** NAT and full-NAT: the real's answer to what it was sent, as the director rewrites it back. */
  reply?: { verdict: string; reason: string; input: string; output: string };
}

export interface SimOptions {
  frame?: Buffer; client?: string; vip?: string; ack?: boolean; down?: string[];
  /** Addresses that are this director's own besides director.addresses: reals there are local. */
  local?: string[];
  /** As the VRRP Backup of every instance (the director does not hold the VIPs); default Master. */
  backup?: boolean;
}

export function simulate(topo: Topology, opts: SimOptions): SimResult {
  const dirMac = interfaceMac(topo.director.interface) ?? '02:00:00:00:00:01';
  let frame = opts.frame;
  let vipAddr: string | null = null;
  if (!frame) {
    const c = parseHostPort(opts.client ?? '', '--client');
    const vm = /^(.*)\/(tcp|udp)$/.exec(opts.vip ?? '');
    if (!vm) throw new XlvsError(ErrorCodes.USAGE, `--vip "${opts.vip}": expected ADDR:PORT/tcp or ADDR:PORT/udp`);
    const v = parseHostPort(vm[1], '--vip');
    vipAddr = v.address;
    frame = buildFrame({ client: c.address, clientPort: c.port, vip: v.address, vipPort: v.port, protocol: vm[2] as 'tcp' | 'udp', syn: !opts.ack }, ROUTER_MAC, dirMac);
  }
  ensureBpffs('/sys/fs/bpf');
  const pinDir = `/sys/fs/bpf/xlvs-sim-${process.pid}`;
  // One packet needs no big flow tables: the smallest the data plane takes.
  const small = MIN_TABLE_ENTRIES;
  const dp = Dataplane.create({
    pinDir, mac: dirMac, tunSource4: topo.director.tunSource4 ?? undefined, tunSource6: topo.director.tunSource6 ?? undefined,
    tables: { conns: small, conns6: small, unconfirmed: small, persist: small, nat: small },
  });
  // Every real's MAC: the topology's, or a stand-in.
  const macs = new Map<string, string>();
  for (const s of topo.services) for (const r of s.reals) macs.set(r.address, r.mac ?? standInMac(r.address));
  const macOf = (a: string): string => macs.get(a) ?? standInMac(a);
  // NAT's next hops come from the kernel's routes: a scratch namespace holds the ones it needs.
  let world: NatSimWorld | null = null;
  try {
    if (topo.services.some((s) => s.method === 'nat' || s.method === 'fullnat')) {
      world = natSimWorld(topo, dirMac, macOf);
      dp.addTxPort('out0', dirMac);
      if (topo.director.insideInterface) dp.addTxPort('in0', INSIDE_MAC);
    }
    const runFrame = (f: Buffer, from: 'out' | 'in') => dp.program.testRun(f, world ? { ctxIn: xdpCtx(f.length, world.ifindex[from]) } : {});
    pinThreadToCpu(0);
    const down = new Set(opts.down ?? []);
    // The daemon's wiring, with the reals given as --down failed and stand-in MACs.
    const downKeys = new Set(topo.services.flatMap((s) => s.reals.filter((r) => down.has(r.address)).map((r) => `${s.key}|${r.key}`)));
    const director = new Director(dp, topo, {
      health: (s, r) => (downKeys.has(`${s}|${r}`) ? { state: 'down', reason: 'given as --down' } : undefined),
      notifyRunner: async (argv) => ({ argv, code: 0, signal: null }),
    });
    for (const [a, m] of macs) director.setMac(a, m);
    director.setHostAddresses(opts.local ?? []);
    for (const i of topo.vrrp) director.setVrrpState(i.name, opts.backup ? 'BACKUP' : 'MASTER');
    director.refreshVerdicts();
    director.apply();

    const counters = () => dp.stats.counters();
    const c0 = counters();
    const res = runFrame(frame, 'out');
    const c1 = counters();
    const before = c0.reasons as Record<string, bigint>;
    const after = c1.reasons as Record<string, bigint>;
    const reason = Object.keys(after).find((k) => after[k] !== before[k]) ?? 'none';
    const out = describeFrame(res.data);
    let real: string | null = null;
    let service: string | null = null;
    if (reason === 'local') {
      // Delivered to this director's own real: the one whose counters moved.
      const moved = c1.reals.find((r) => r.packets !== (c0.reals.find((x) => x.id === r.id)?.packets ?? 0n));
      const d = moved ? director.desiredService(moved.vipKey) : undefined;
      real = d?.reals.find((r) => r.local)?.key ?? null;
      service = d ? d.vip.key : null;
    } else if ((reason === 'tx_nat' || reason === 'redir_nat') && out.flow) {
      // Rewritten to the real's address and port (full-NAT: from a pool address and port).
      const f = out.flow;
      for (const s of topo.services) for (const r of s.reals) {
        if ((s.method === 'nat' || s.method === 'fullnat') && r.address === f.dst && (r.port === f.dport || r.port === 0) && (real === null || s.vip === vipAddr)) {
          real = r.key;
          service = s.key;
        }
      }
    } else if (res.retval === 3) {
      // A real of several services: the one of the flow's VIP address and port.
      const dport = out.flow?.dport;
      const cands = topo.services.flatMap((s) => s.reals.filter((r) => out.outerDst === r.address || (!out.outerDst && macs.get(r.address) === out.dstMac && s.method === 'dr')).map((r) => ({ s, r })));
      const best = cands.find((c) => c.s.vip === vipAddr && (c.s.port === 0 || c.s.port === dport)) ?? cands.find((c) => c.s.vip === vipAddr) ?? cands[0];
      if (best) {
        real = best.r.key;
        service = best.s.key;
      }
    }
    const result: SimResult = { verdict: XDP_VERDICTS[res.retval] ?? String(res.retval), reason, real, service, output: out.text, outputHex: res.data.toString('hex'), durationNs: res.duration };
    if (world && (reason === 'tx_nat' || reason === 'redir_nat') && out.flow) {
      // The real answers the packet it got: from real:port back to where it came from.
      const f = out.flow;
      const back = buildFrame({ client: f.dst, clientPort: f.dport, vip: f.src, vipPort: f.sport, protocol: f.protocol, syn: false }, macOf(f.dst), world.insideMac);
      const r0 = counters().reasons as Record<string, bigint>;
      const rr = runFrame(back, 'in');
      const r1 = counters().reasons as Record<string, bigint>;
      result.reply = {
        verdict: XDP_VERDICTS[rr.retval] ?? String(rr.retval),
        reason: Object.keys(r1).find((k) => r1[k] !== r0[k]) ?? 'none',
        input: describeFrame(back).text,
        output: describeFrame(rr.data).text,
      };
    }
    return result;
  } finally {
    if (world) world.close();
    dp.destroy();
    try { fs.rmdirSync(pinDir); } catch { /* already gone */ }
  }
}

export function register(program: Command): void {
  program.command('simulate')
    .description('run one flow through the real XDP program with a topology and print the verdict and chosen real')
    .requiredOption('-c, --config <file>', 'topology YAML')
    .option('--client <addr:port>', 'client address and port, e.g. 198.51.100.7:40000')
    .option('--vip <addr:port/proto>', 'VIP, e.g. 10.0.0.10:80/tcp')
    .option('--ack', 'a packet of an established flow (ACK) instead of a SYN')
    .option('--down <addr...>', 'treat these reals as down')
    .option('--local <addr...>', 'treat these addresses as this director\'s own (reals there are local, besides director.addresses)')
    .option('--backup', 'as the VRRP Backup of every instance (not holding the VIPs); default Master')
    .option('--hex <frame>', 'a raw Ethernet frame in hex instead of --client/--vip')
    .option('--json', 'machine-readable output')
    .action((o: { config: string; client?: string; vip?: string; ack?: boolean; down?: string[]; local?: string[]; backup?: boolean; hex?: string; json?: boolean }) => {
      if (o.hex === undefined && (!o.client || !o.vip)) throw new XlvsError(ErrorCodes.USAGE, 'give --client and --vip, or --hex');
      // Bad hex is a usage error naming the offset (never silently cut), checked before the topology.
      const frame = o.hex !== undefined ? parseHexFrame(o.hex) : undefined;
      const topo = loadTopologyFile(o.config);
      const r = simulate(topo, { frame, client: o.client, vip: o.vip, ack: o.ack, down: o.down, local: o.local, backup: o.backup });
      if (o.json) {
        process.stdout.write(JSON.stringify(r, null, 2) + '\n');
        return;
      }
      const where = r.reason === 'local' ? '  (delivered to this director: its own real)' : '';
      process.stdout.write(`verdict: ${r.verdict} (${r.reason})\nservice: ${r.service ?? '-'}\nreal:    ${r.real ?? '-'}${where}\noutput:  ${r.output}\n`);
      if (r.reply) process.stdout.write(`reply:   ${r.reply.input}\n  back:  ${r.reply.verdict} (${r.reply.reason}) ${r.reply.output}\n`);
    });
}
