// wrk (Debian package `wrk`, installed by `scripts/ensure-deps bench`) as the lab benchmarks' HTTP
// load client, run inside the client namespace. A C client on epoll does far less work per
// request than the Node generator in loadgen.ts, so on a small machine it leaves the CPU to what
// is measured (the director) instead of being the bottleneck itself.
//
// Two modes:
//  - keep-alive: `connections` persistent HTTP/1.1 connections, one GET after another;
//  - close: every request carries `Connection: close`; the server closes after the response and
//    wrk opens a new TCP connection for the next request (wrk.c response_complete →
//    http_should_keep_alive → reconnect_socket). The caller checks that this really was one
//    connection per request (the reals' and the director's own counters).
//
// Figures come from a Lua `done()` hook (wrk's own summary, microseconds, no per-request Lua: a
// script without request()/response() leaves wrk's fast path alone). Latency in wrk runs from the
// request's write to the response's end: in close mode it does NOT include the TCP handshake
// (wrk starts the clock once the socket is writable, after connect).
//
// The client's CPU is read from the wrapping shell's reaped-children time (/proc/$$/stat fields
// 16-17 after wrk exited), so what the client itself costs is known too.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { execFileSync } from 'node:child_process';
import { runCollect } from './collect';
import { inNs } from '../../src/sys/exec';

export interface WrkOptions {
  url: string;
  connections: number;
  threads: number;
  seconds: number;
  /** One TCP connection per request (`Connection: close`). */
  close: boolean;
  /** Socket/response timeout, s (wrk -T). */
  timeoutS?: number;
  /** Where to write the Lua summary script (the lab's run directory: removed with the lab). */
  scriptDir: string;
  /** argv prefix around the whole client command (e.g. a profiler that runs exactly as long). */
  wrap?: string[];
}

export interface WrkResult {
  /** Completed responses (any status). */
  requests: number;
  seconds: number;
  rps: number;
  bytes: number;
  errors: { connect: number; read: number; write: number; status: number; timeout: number };
  errorCount: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  maxMs: number;
  meanMs: number;
  /** wrk's own CPU seconds (user + system) for the run. */
  clientCpuS: number;
}

const MARK = '@@xlvs-wrk@@';

const DONE_LUA = `-- xlvs bench: wrk's summary as one JSON line (no per-request Lua)
done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('${MARK}{"requests":%d,"durationUs":%d,"bytes":%d,"connect":%d,"read":%d,"write":%d,"status":%d,"timeout":%d,"p50Us":%d,"p90Us":%d,"p99Us":%d,"maxUs":%d,"meanUs":%.1f}\\n',
    summary.requests, summary.duration, summary.bytes, e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max, latency.mean))
end
`;

function doneScript(dir: string): string {
  const f = path.join(dir, 'wrk-done.lua');
  if (!fs.existsSync(f)) fs.writeFileSync(f, DONE_LUA);
  return f;
}

/** The wrk binary, or a clear error: the e2e bench has no fallback client. */
export function wrkVersion(): string {
  try {
    // `wrk -v` prints the version and the usage, and exits 1.
    return execFileSync('wrk', ['-v'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).split('\n')[0];
  } catch (e) {
    const out = String((e as { stdout?: string }).stdout ?? '');
    if (/^wrk /.test(out)) return out.split('\n')[0].replace(/\s+Copyright.*/, '');
    throw new Error('e2e: wrk is not installed (Debian package "wrk"): run `scripts/ensure-deps bench` as root, or `make bench`');
  }
}

/** Runs wrk in namespace `ns` and returns its summary. Rejects on a non-zero exit or no summary. */
export function runWrk(ns: string, o: WrkOptions): Promise<WrkResult> {
  const args = ['-t', String(o.threads), '-c', String(o.connections), '-d', `${o.seconds}s`, '-T', `${o.timeoutS ?? 3}s`, '-s', doneScript(o.scriptDir)];
  if (o.close) args.push('-H', 'Connection: close');
  args.push(o.url);
  // sh waits for wrk, then prints its own /proc stat: fields 16/17 (cutime/cstime) are wrk's CPU.
  const sh = ['sh', '-c', '"$@"; s=$?; echo "@@stat@@ $(cat /proc/$$/stat)"; exit $s', 'sh', 'wrk', ...args];
  const argv = [...(o.wrap ?? []), ...inNs(ns, sh)];
  return runCollect(argv).then(({ code, out, err }) => {
    const line = out.split('\n').find((l) => l.startsWith(MARK));
    const stat = out.split('\n').find((l) => l.startsWith('@@stat@@ '));
    if (code !== 0 || !line) {
      throw new Error(`wrk ${args.join(' ')} exited ${code}: ${(err.trim() || out.trim()).slice(0, 500)}`);
    }
    const j = JSON.parse(line.slice(MARK.length)) as Record<string, number>;
    let clientCpuS = NaN;
    if (stat) {
      const s = stat.slice('@@stat@@ '.length);
      const f = s.slice(s.lastIndexOf(')') + 2).split(' ').map(Number); // f[0] is field 3
      clientCpuS = (f[13] + f[14]) / 100; // cutime + cstime, USER_HZ
    }
    const seconds = j.durationUs / 1e6;
    const errors = { connect: j.connect, read: j.read, write: j.write, status: j.status, timeout: j.timeout };
    return {
      requests: j.requests, seconds, rps: j.requests / seconds, bytes: j.bytes, errors,
      errorCount: errors.connect + errors.read + errors.write + errors.status + errors.timeout,
      p50Ms: j.p50Us / 1000, p90Ms: j.p90Us / 1000, p99Ms: j.p99Us / 1000, maxMs: j.maxUs / 1000, meanMs: j.meanUs / 1000,
      clientCpuS,
    };
  });
}
