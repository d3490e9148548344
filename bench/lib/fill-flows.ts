// Fills the flow tables with distinct TCP flows by running each flow's packets through an lb
// program with BPF_PROG_TEST_RUN: the program itself schedules each flow and writes its entry,
// exactly as for traffic from the NIC. For tests and benchmarks, and for a storm against a
// running daemon (open its pinned program, PINDIR/xdp_lb, with BpfProgram.openPinned).
//
// A flow is confirmed only by its second packet (bpf/include/conntrack.h), so by default each
// flow is a SYN then the handshake's ACK: an ESTABLISHED entry in lb_conns (IPv4) or lb_conns6
// (IPv6). `stage: 'syn'` sends the SYN only: a SYN_RECV entry in lb_new, as a SYN flood leaves.
//
// Flow n comes from srcBase + floor(n / 64512) (carried into the higher bytes of the address)
// and source port 1024 + n mod 64512, to vip:vipPort. Two frames are rewritten in place between
// calls (source address, port, IPv4 checksum): no allocation per flow.
//
// lb_conns6 keeps one LRU list per CPU (BPF_F_NO_COMMON_LRU) holding about max_entries / CPUs
// entries before it evicts (lb_conns and lb_new are arrays shared by every CPU), and
// BPF_PROG_TEST_RUN runs on the calling thread's CPU. So the flows are split evenly over `cpus`
// (default: every CPU this thread may use) and the thread is pinned to one CPU for each share;
// its affinity is restored afterwards.
import { BpfProgram, pinThreadToCpu, setThreadCpus, threadCpus } from '../../src/loader';
import { eth, internetChecksum } from '../../test/lib/packet';
import * as net from 'node:net';

export interface FillOptions {
  /** An lb program (Dataplane.program, or BpfProgram.openPinned(`${pinDir}/xdp_lb`)). */
  prog: BpfProgram;
  /** The director's MAC: frames to another MAC are answered not_ours (XDP_PASS). */
  dirMac: string;
  /** A configured VIP (IPv4 or IPv6) with a TCP service on vipPort and at least one real up. */
  vip: string;
  vipPort: number;
  /** Distinct flows to send. */
  count: number;
  /** First client address, of the VIP's family; default 100.64.0.0 / 2001:db8:64::. Flows use srcBase .. srcBase + count/64512. */
  srcBase?: string;
  /** 'established' (default): SYN then ACK, a confirmed ESTABLISHED entry; 'syn': the SYN only, an unconfirmed SYN_RECV entry in lb_new. */
  stage?: 'established' | 'syn';
  /** CPUs to spread the fill over, one share each (default: all this thread may run on). */
  cpus?: number[];
  /** Source MAC of the frames (default 02:00:00:00:00:01). */
  srcMac?: string;
}

export interface FillResult {
  flows: number;
  seconds: number;
  /** Share of flows per CPU, in `cpus` order. */
  perCpu: Array<{ cpu: number; flows: number }>;
}

const XDP_TX = 3;
const VERDICTS = ['XDP_ABORTED', 'XDP_DROP', 'XDP_PASS', 'XDP_TX', 'XDP_REDIRECT'];
const PORTS = 64512;
const ETH = 14;

function bad(msg: string): Error {
  return new Error(`fillFlows: ${msg}`);
}

/** Sends `count` distinct flows; throws (naming the flow and verdict) unless every packet is forwarded. */
export function fillFlows(o: FillOptions): FillResult {
  if (!o || !(o.prog instanceof BpfProgram)) throw bad('prog: a BpfProgram is required');
  const v6 = net.isIPv6(o.vip);
  if (!v6 && !net.isIPv4(o.vip)) throw bad(`vip "${o.vip}": an IPv4 or IPv6 address is required`);
  if (!Number.isInteger(o.vipPort) || o.vipPort < 1 || o.vipPort > 65535) throw bad(`vipPort ${o.vipPort}: 1..65535`);
  if (!Number.isInteger(o.count) || o.count < 0) throw bad(`count ${o.count}: a non-negative integer`);
  const stage = o.stage ?? 'established';
  if (stage !== 'established' && stage !== 'syn') throw bad(`stage "${String(stage)}": established or syn`);
  const srcBase = o.srcBase ?? (v6 ? '2001:db8:64::' : '100.64.0.0');
  if (v6 ? !net.isIPv6(srcBase) : !net.isIPv4(srcBase)) throw bad(`srcBase "${srcBase}": an ${v6 ? 'IPv6' : 'IPv4'} address is required, as the VIP`);
  const hosts = Math.ceil(o.count / PORTS);

  const build = (flags: string): Buffer => {
    const e = eth({ src: o.srcMac ?? '02:00:00:00:00:01', dst: o.dirMac });
    return (v6 ? e.ipv6({ src: srcBase, dst: o.vip }) : e.ipv4({ src: srcBase, dst: o.vip, ttl: 64, df: true }))
      .tcp({ sport: 1024, dport: o.vipPort, flags, seq: 1, ack: flags === 'A' ? 1 : 0 })
      .build();
  };
  const frames = stage === 'syn' ? [build('S')] : [build('S'), build('A')];
  // The source address's last 32 bits carry the host number (IPv4: the whole address).
  const srcAt = ETH + (v6 ? 8 + 12 : 12);
  const portAt = ETH + (v6 ? 40 : 20);
  const base = frames[0].readUInt32BE(srcAt);
  if (base + hosts > 0xffffffff) throw bad(`srcBase ${srcBase} + ${hosts} addresses runs past the end of its last 32 bits`);
  const set = (frame: Buffer, n: number): Buffer => {
    frame.writeUInt32BE((base + Math.floor(n / PORTS)) >>> 0, srcAt);
    frame.writeUInt16BE(1024 + (n % PORTS), portAt);
    if (!v6) {
      frame.writeUInt16BE(0, ETH + 10);
      frame.writeUInt16BE(internetChecksum(frame.subarray(ETH, ETH + 20)), ETH + 10);
    }
    return frame;
  };
  const frame = frames[0];

  const before = threadCpus();
  const cpus = o.cpus ?? before;
  if (!Array.isArray(cpus) || cpus.length === 0) throw bad('cpus: at least one CPU');
  const per = Math.ceil(o.count / cpus.length);
  const perCpu: FillResult['perCpu'] = [];
  const t0 = process.hrtime.bigint();
  try {
    cpus.forEach((cpu, k) => {
      const from = k * per;
      const to = Math.min(o.count, from + per);
      pinThreadToCpu(cpu);
      for (let n = from; n < to; n++) {
        for (const f of frames) {
          const r = o.prog.testRun(set(f, n), { dataOutSize: frame.length + 64 });
          if (r.retval !== XDP_TX) {
            throw bad(`flow ${n} (host ${base + Math.floor(n / PORTS)} of ${srcBase}, port ${1024 + (n % PORTS)} → ${o.vip}:${o.vipPort}, ${f === frames[0] ? 'SYN' : 'ACK'}) got ${VERDICTS[r.retval] ?? r.retval}, ` +
              'not XDP_TX: is dirMac the director\'s MAC, and vip:vipPort a TCP service with a real up?');
          }
        }
      }
      perCpu.push({ cpu, flows: Math.max(0, to - from) });
    });
  } finally {
    setThreadCpus(before);
  }
  return { flows: o.count, seconds: Number(process.hrtime.bigint() - t0) / 1e9, perCpu };
}
