// Runs inside a test namespace (`ip netns exec NS node xdp-child.js ARGS-JSON`): attaches,
// queries and detaches XDP and tc programs on an interface there and prints what it saw as one
// JSON line. The parent test asserts on it and checks the interface with iproute2 afterwards.
import { execFileSync } from 'node:child_process';
import { testBpfObject } from '../../../src/paths';
import { BpfObject, setXdpWarningHandler, attachXdp, detachXdp, queryXdp, attachTcIngress, detachTcIngress, queryTcIngress, pinThreadToCpu } from '../../../src/loader';
import { isXlvsError } from '../../../src/errors';
import { fwdTestKey, fwdTestValue, sumCounters, FwdTestAction } from '../../maps/fwd-test-codecs';

interface Args {
  step: 'modes' | 'traffic' | 'leave-attached' | 'detach' | 'tc' | 'fallback';
  ifname: string;
  /** For 'traffic': namespace and address to send UDP from/to. */
  peerNs?: string;
  dst?: string;
}

function errCode(fn: () => unknown): string | null {
  try { fn(); return null; } catch (e) { return isXlvsError(e) ? `${e.code}${e.errno ? ':' + e.errno : ''}` : String(e); }
}

function main(a: Args): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (a.step === 'detach') {
    detachXdp(a.ifname);
    out.after = queryXdp(a.ifname);
    return out;
  }
  const obj = BpfObject.open(testBpfObject('fwd_test'));
  try {
    obj.load();
    const fwd = obj.program('xdp_fwd');
    const pass = obj.program('xdp_pass');
    out.ids = { fwd: fwd.id, pass: pass.id };
    if (a.step === 'modes') {
      out.q0 = queryXdp(a.ifname);
      out.native = attachXdp(a.ifname, fwd, { mode: 'native' });
      out.q1 = queryXdp(a.ifname);
      attachXdp(a.ifname, pass); // replaces in the same mode
      out.q2 = queryXdp(a.ifname);
      // The kernel keeps one mode at a time; asking for the other is refused and changes nothing.
      out.genericWhileNative = errCode(() => attachXdp(a.ifname, fwd, { mode: 'generic' }));
      out.q3 = queryXdp(a.ifname);
      detachXdp(a.ifname, 'native');
      out.q4 = queryXdp(a.ifname);
      out.generic = attachXdp(a.ifname, fwd, { mode: 'generic' });
      out.q5 = queryXdp(a.ifname);
      detachXdp(a.ifname, 'native'); // the wrong mode leaves the generic program (docs/lab-notes.md)
      out.q6 = queryXdp(a.ifname);
      detachXdp(a.ifname); // 'all'
      out.q7 = queryXdp(a.ifname);
      out.noIface = errCode(() => attachXdp('xlvs-absent0', fwd));
    } else if (a.step === 'traffic') {
      pinThreadToCpu(0);
      obj.map('fwd_table').update(fwdTestKey.encode({ daddr: a.dst!, dport: 9999, proto: 17 }), fwdTestValue.encode({ action: FwdTestAction.DROP, mac: '00:00:00:00:00:00' }));
      out.mode = attachXdp(a.ifname, fwd, { mode: 'native' }).mode;
      for (let i = 0; i < 3; i++) {
        execFileSync('ip', ['netns', 'exec', a.peerNs!, 'bash', '-c', `echo datagram-${i} > /dev/udp/${a.dst}/9999`]);
      }
      out.counters = Object.fromEntries(Object.entries(sumCounters(obj.map('fwd_counters').lookupPerCpu(Buffer.alloc(4))!)).map(([k, v]) => [k, Number(v)]));
      detachXdp(a.ifname);
      out.after = queryXdp(a.ifname);
    } else if (a.step === 'fallback') {
      // A bridge has no native XDP (docs/lab-notes.md): refused, unless generic fallback is allowed.
      const warnings: string[] = [];
      setXdpWarningHandler((m) => warnings.push(m));
      out.strict = errCode(() => attachXdp(a.ifname, pass));
      out.q0 = queryXdp(a.ifname);
      out.fallback = attachXdp(a.ifname, pass, { fallbackToGeneric: true });
      out.q1 = queryXdp(a.ifname);
      out.warnings = warnings;
      detachXdp(a.ifname);
      out.q2 = queryXdp(a.ifname);
    } else if (a.step === 'leave-attached') {
      attachXdp(a.ifname, fwd, { mode: 'native' });
      out.q = queryXdp(a.ifname);
      // exit without detaching: the attachment holds the program, not our fd
    } else if (a.step === 'tc') {
      const tc = obj.program('tc_pass');
      out.tcId = tc.id;
      attachTcIngress(a.ifname, tc);
      out.q1 = queryTcIngress(a.ifname);
      out.filters = execFileSync('tc', ['filter', 'show', 'dev', a.ifname, 'ingress'], { encoding: 'utf8' });
      detachTcIngress(a.ifname);
      out.q2 = queryTcIngress(a.ifname);
      out.qdiscs = execFileSync('tc', ['qdisc', 'show', 'dev', a.ifname], { encoding: 'utf8' });
    }
  } finally {
    obj.close();
  }
  return out;
}

try {
  process.stdout.write(JSON.stringify({ ok: main(JSON.parse(process.argv[2]) as Args) }) + '\n');
} catch (e) {
  process.stdout.write(JSON.stringify({ error: String((e as Error).stack ?? e) }) + '\n');
  process.exitCode = 1;
}
