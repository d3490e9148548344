// The frame rewrites of bpf/include/encap.h alone (issue 13), with BPF_PROG_TEST_RUN repeat:
// the per-call overhead of the test run (~70 ns, noisy) leaves the figure, so differences of a
// few ns show, which bench/dataplane.ts cannot resolve (identical copies of the lb object differ
// by 20-35 ns there). bench/bpf/bench_encap.bpf.c undoes its encapsulation so every iteration
// does the same work; see it for what each program does.
//
// Rows: tun4 − floor = building the TUN outer headers (tun_push4 without its adjust_head);
// floor − null = two bpf_xdp_adjust_head calls and a bounds check; dr − null = dr_rewrite.
// Every round measures every program of every variant, the order rotated from round to round;
// "paired" is the median over rounds of (variant − first variant) in the same round.
//
// Run: node dist/bench/encap.js [--include DIR[,DIR…]] [--rounds N] [--calls N] [--repeat N]
//   (root; make build first). Each --include DIR is one more variant: bench_encap compiled with
//   DIR searched before bpf/include, e.g. the headers of another commit:
//     mkdir -p /tmp/old && git show main:bpf/include/encap.h > /tmp/old/encap.h
//     git show main:bpf/include/csum.h > /tmp/old/csum.h && node dist/bench/encap.js --include /tmp/old
//   The first variant is always the working tree's headers. A variant whose TUN frame differs
//   from the first's is reported (not an error: a change may mean to differ).
import * as path from 'node:path';
import { BpfObject, BpfProgram, pinThreadToCpu } from '../src/loader';
import { eth } from '../test/lib/packet';
import { benchObject } from './dataplane';
import { median } from './lib/stats';

const XDP_TX = 3;
const PROGS = ['encap_null', 'encap_floor', 'encap_tun4', 'encap_dr'] as const;

export interface EncapOptions { includes?: string[]; rounds?: number; calls?: number; repeat?: number }

export function run(opts: EncapOptions = {}): void {
  const rounds = opts.rounds ?? 21;
  const calls = opts.calls ?? 20;
  const repeat = opts.repeat ?? 2000;
  pinThreadToCpu(0);
  // The frame bench_encap's globals describe: 14 + 58 bytes, untagged IPv4 TCP.
  const frame = Buffer.from(eth({ src: '02:00:00:00:00:01', dst: '02:00:00:00:00:fe' })
    .ipv4({ src: '100.64.0.0', dst: '10.0.0.20', ttl: 64, df: true })
    .tcp({ sport: 1024, dport: 80, flags: 'A', seq: 1, ack: 1 }).payload(Buffer.alloc(18)).build());
  const variants = [{ name: 'working tree', obj: BpfObject.open(benchObject('bench_encap')) },
    ...(opts.includes ?? []).map((dir, k) => ({ name: dir, obj: BpfObject.open(benchObject('bench_encap', [dir], `bench_encap-variant${k}`)) }))];
  try {
    for (const v of variants) v.obj.load();
    const progs = variants.map((v) => PROGS.map((n) => v.obj.program(n)));
    const once = variants.map((v) => v.obj.program('encap_tun4_once').testRun(frame).data);
    once.forEach((d, k) => { if (k && !d.equals(once[0])) console.log(`note: ${variants[k].name}: the TUN frame differs from the working tree's`); });
    const flat: Array<{ v: number; p: number; prog: BpfProgram }> = [];
    progs.forEach((ps, v) => ps.forEach((prog, p) => flat.push({ v, p, prog })));
    const samples = flat.map(() => [] as number[]);
    for (let r = 0; r < rounds; r++) {
      for (let j = 0; j < flat.length; j++) {
        const i = (j + r) % flat.length;
        let sum = 0;
        for (let c = 0; c < calls; c++) {
          const t = flat[i].prog.testRun(frame, { repeat });
          if (t.retval !== XDP_TX) throw new Error(`bench encap: ${flat[i].prog.name} returned ${t.retval}`);
          sum += t.duration;
        }
        samples[i].push(sum / calls);
      }
    }
    const s = (v: number, p: number) => samples[v * PROGS.length + p];
    const diff = (a: number[], b: number[]) => a.map((x, k) => x - b[k]);
    console.log(`encap.h alone, BPF_PROG_TEST_RUN repeat=${repeat}, kernel ns per run (median); ${rounds} rounds × ${calls} calls, rotated, one CPU`);
    console.log(`${'headers'.padEnd(28)}  null  floor   tun4     dr  tun4−floor  floor−null  dr−null  paired tun4  paired dr`);
    variants.forEach((v, k) => {
      const f = (x: number, w = 6) => x.toFixed(1).padStart(w);
      const paired = k ? `${f(median(diff(s(k, 2), s(0, 2))), 11)}  ${f(median(diff(s(k, 3), s(0, 3))), 9)}` : '';
      console.log(`${v.name.slice(-28).padEnd(28)}${f(median(s(k, 0)))} ${f(median(s(k, 1)))} ${f(median(s(k, 2)))} ${f(median(s(k, 3)))}`
        + `  ${f(median(diff(s(k, 2), s(k, 1))), 10)}  ${f(median(diff(s(k, 1), s(k, 0))), 10)}  ${f(median(diff(s(k, 3), s(k, 0))), 7)}  ${paired}`);
    });
    console.log('differences are medians over rounds of per-round differences; paired: variant − working tree, same program');
  } finally {
    for (const v of variants) v.obj.close();
  }
}

if (require.main === module) {
  const argv = process.argv.slice(2);
  const opt = (flag: string) => { const k = argv.indexOf(flag); return k >= 0 ? argv[k + 1] : undefined; };
  const num = (flag: string) => (opt(flag) === undefined ? undefined : Number(opt(flag)));
  run({ includes: opt('--include')?.split(','), rounds: num('--rounds'), calls: num('--calls'), repeat: num('--repeat') });
}
