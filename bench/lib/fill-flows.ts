// Fills a connection table with distinct TCP flows by running one SYN per flow through an lb
// program with BPF_PROG_TEST_RUN: the program itself schedules each flow and writes its
// lb_conns entry, exactly as for traffic from the NIC. For tests and benchmarks, and for a storm
// against a running daemon (open its pinned program, PINDIR/xdp_lb, with BpfProgram.openPinned).
//
// Flow n comes from srcBase + floor(n / 64512) (IPv4, carried into the higher octets) and source
// port 1024 + n mod 64512, to vip:vipPort. One frame is rewritten in place between calls (source
// address, port, IPv4 checksum): no allocation per flow.
//
// lb_conns keeps one LRU list per CPU (BPF_F_NO_COMMON_LRU, bpf/include/conntrack.h) holding
// about max_entries / CPUs entries before it evicts, and BPF_PROG_TEST_RUN runs on the calling
// thread's CPU. So the flows are split evenly over `cpus` (default: every CPU this thread may
// use) and the thread is pinned to one CPU for each share; its affinity is restored afterwards.
import { BpfProgram, pinThreadToCpu, setThreadCpus, threadCpus } from '../../src/loader';
import { eth, internetChecksum } from '../../test/lib/packet';
import * as net from 'node:net';

export interface FillOptions {
  /** An lb program (Dataplane.program, or BpfProgram.openPinned(`${pinDir}/xdp_lb`)). */
  prog: BpfProgram;
  /** The director's MAC: frames to another MAC are answered not_ours (XDP_PASS). */
  dirMac: string;
  /** A configured IPv4 VIP with a TCP service on vipPort and at least one real up. */
  vip: string;
  vipPort: number;
  /** Distinct flows to send. */
  count: number;
  /** First client address (IPv4); default 100.64.0.0. Flows use srcBase .. srcBase + count/64512. */
  srcBase?: string;
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

/** Sends `count` SYNs of distinct flows; throws (naming the flow and verdict) unless every one is forwarded. */
export function fillFlows(o: FillOptions): FillResult {
  if (!o || !(o.prog instanceof BpfProgram)) throw bad('prog: a BpfProgram is required');
  if (!net.isIPv4(o.vip)) throw bad(`vip "${o.vip}": an IPv4 address is required`);
  if (!Number.isInteger(o.vipPort) || o.vipPort < 1 || o.vipPort > 65535) throw bad(`vipPort ${o.vipPort}: 1..65535`);
  if (!Number.isInteger(o.count) || o.count < 0) throw bad(`count ${o.count}: a non-negative integer`);
  const srcBase = o.srcBase ?? '100.64.0.0';
  if (!net.isIPv4(srcBase)) throw bad(`srcBase "${srcBase}": an IPv4 address is required`);
  const base = srcBase.split('.').reduce((a, x) => a * 256 + Number(x), 0);
  const hosts = Math.ceil(o.count / PORTS);
  if (base + hosts > 0xffffffff) throw bad(`srcBase ${srcBase} + ${hosts} addresses runs past 255.255.255.255`);

  const frame = eth({ src: o.srcMac ?? '02:00:00:00:00:01', dst: o.dirMac })
    .ipv4({ src: srcBase, dst: o.vip, ttl: 64, df: true })
    .tcp({ sport: 1024, dport: o.vipPort, flags: 'S', seq: 1 })
    .build();
  const set = (n: number): Buffer => {
    frame.writeUInt32BE((base + Math.floor(n / PORTS)) >>> 0, ETH + 12);
    frame.writeUInt16BE(1024 + (n % PORTS), ETH + 20);
    frame.writeUInt16BE(0, ETH + 10);
    frame.writeUInt16BE(internetChecksum(frame.subarray(ETH, ETH + 20)), ETH + 10);
    return frame;
  };

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
        const r = o.prog.testRun(set(n), { dataOutSize: frame.length + 64 });
        if (r.retval !== XDP_TX) {
          throw bad(`flow ${n} (${frame.subarray(ETH + 12, ETH + 16).join('.')}:${1024 + (n % PORTS)} → ${o.vip}:${o.vipPort}) got ${VERDICTS[r.retval] ?? r.retval}, ` +
            'not XDP_TX: is dirMac the director\'s MAC, and vip:vipPort a TCP service with a real up?');
        }
      }
      perCpu.push({ cpu, flows: Math.max(0, to - from) });
    });
  } finally {
    setThreadCpus(before);
  }
  return { flows: o.count, seconds: Number(process.hrtime.bigint() - t0) / 1e9, perCpu };
}
