// A small HTTP load generator for the lab benchmarks, run inside the client namespace
// (`ip netns exec <client> node loadgen.js '<json>'`). Two modes:
//  - "conn": every request on a new TCP connection (Connection: close) — connection setup rate;
//  - "keepalive": short requests on `concurrency` persistent connections — request rate.
// Sources rotate over the client's addresses so flows spread over the reals. Bounded by a
// request count and a duration, whichever comes first. Prints one JSON line (LoadResult).
import * as net from 'node:net';

export interface LoadOptions {
  host: string;
  port: number;
  sources: string[];
  mode: 'conn' | 'keepalive';
  concurrency: number;
  count: number;
  maxSeconds: number;
  /** Per-request timeout; a request that takes longer counts as an error. */
  timeoutMs?: number;
}

export interface LoadResult {
  ok: number;
  errors: number;
  errorKinds: Record<string, number>;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
  /** Which real answered (x-real header), to prove the traffic was balanced. */
  byReal: Record<string, number>;
  /** This process's CPU seconds (user + system) during the run. */
  cpuSeconds: number;
}

function pct(sorted: Float64Array, p: number): number {
  if (!sorted.length) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))];
}

/** Reads one HTTP/1.1 response (headers + content-length body) from `buf`; null until complete. */
function takeResponse(buf: Buffer): { len: number; status: number; real: string } | null {
  const end = buf.indexOf('\r\n\r\n');
  if (end < 0) return null;
  const head = buf.subarray(0, end).toString('latin1');
  const status = Number(/^HTTP\/1\.[01] (\d{3})/.exec(head)?.[1] ?? 0);
  const cl = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? 0);
  if (buf.length < end + 4 + cl) return null;
  return { len: end + 4 + cl, status, real: /\r\nx-real:\s*(\S+)/i.exec(head)?.[1] ?? '?' };
}

export function generate(o: LoadOptions): Promise<LoadResult> {
  const timeoutMs = o.timeoutMs ?? 3000;
  const lat = new Float64Array(o.count);
  let started = 0;
  let ok = 0;
  let errors = 0;
  const errorKinds: Record<string, number> = {};
  const byReal: Record<string, number> = {};
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const deadline = Date.now() + o.maxSeconds * 1000;
  const fail = (kind: string) => { errors++; errorKinds[kind] = (errorKinds[kind] ?? 0) + 1; };
  const more = () => started < o.count && Date.now() < deadline;
  const req = (keep: boolean) => Buffer.from(`GET / HTTP/1.1\r\nHost: ${o.host}\r\nUser-Agent: xlvs-bench\r\n${keep ? '' : 'Connection: close\r\n'}\r\n`);
  const reqClose = req(false);
  const reqKeep = req(true);

  /** conn mode: one connection per request. */
  const oneConn = (worker: number): Promise<void> => new Promise((resolve) => {
    const i = started++;
    const src = o.sources[i % o.sources.length];
    const s0 = process.hrtime.bigint();
    let buf: Buffer = Buffer.alloc(0);
    let done = false;
    const finish = (err: string | null, real?: string) => {
      if (done) return;
      done = true;
      s.destroy();
      if (err) fail(err);
      else {
        lat[ok++] = Number(process.hrtime.bigint() - s0) / 1e6;
        byReal[real!] = (byReal[real!] ?? 0) + 1;
      }
      resolve();
    };
    const s = net.connect({ host: o.host, port: o.port, localAddress: src });
    s.setTimeout(timeoutMs, () => finish('timeout'));
    s.on('connect', () => s.write(reqClose));
    s.on('data', (c: Buffer) => {
      buf = Buffer.concat([buf, c]);
      const r = takeResponse(buf);
      if (r) finish(r.status === 200 ? null : `http ${r.status}`, r.real);
    });
    s.on('error', (e: NodeJS.ErrnoException) => finish(e.code ?? 'error'));
    s.on('close', () => finish('closed early'));
    void worker;
  });

  const connWorker = async (w: number) => { while (more()) await oneConn(w); };

  /** keepalive mode: one persistent connection per worker, reopened after an error. */
  const keepWorker = (w: number): Promise<void> => new Promise((resolve) => {
    let s: net.Socket;
    let buf: Buffer = Buffer.alloc(0);
    let s0 = 0n;
    let inflight = false;
    let timer: NodeJS.Timeout | null = null;
    const send = () => {
      if (!more()) { s.destroy(); resolve(); return; }
      started++;
      inflight = true;
      s0 = process.hrtime.bigint();
      timer = setTimeout(() => { fail('timeout'); reopen(); }, timeoutMs);
      s.write(reqKeep);
    };
    const reopen = () => {
      if (timer) clearTimeout(timer);
      inflight = false;
      if (s) s.destroy();
      buf = Buffer.alloc(0);
      if (!more()) { resolve(); return; }
      s = net.connect({ host: o.host, port: o.port, localAddress: o.sources[w % o.sources.length] });
      s.setNoDelay(true);
      s.on('connect', send);
      s.on('data', (c: Buffer) => {
        buf = buf.length ? Buffer.concat([buf, c]) : c;
        const r = takeResponse(buf);
        if (!r || !inflight) return;
        buf = buf.subarray(r.len);
        inflight = false;
        if (timer) clearTimeout(timer);
        if (r.status !== 200) fail(`http ${r.status}`);
        else {
          lat[ok++] = Number(process.hrtime.bigint() - s0) / 1e6;
          byReal[r.real] = (byReal[r.real] ?? 0) + 1;
        }
        send();
      });
      const onErr = (kind: string) => () => { if (inflight) fail(kind); reopen(); };
      s.on('error', (e: NodeJS.ErrnoException) => onErr(e.code ?? 'error')());
      s.on('end', onErr('closed by peer'));
    };
    reopen();
  });

  const workers = Array.from({ length: o.concurrency }, (_, w) => (o.mode === 'conn' ? connWorker(w) : keepWorker(w)));
  return Promise.all(workers).then(() => {
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const sorted = lat.slice(0, ok).sort();
    const cpu = process.cpuUsage(cpu0);
    return {
      ok, errors, errorKinds, seconds, rps: ok / seconds, p50Ms: pct(sorted, 50), p99Ms: pct(sorted, 99), maxMs: sorted.length ? sorted[sorted.length - 1] : NaN,
      byReal, cpuSeconds: (cpu.user + cpu.system) / 1e6,
    };
  });
}

if (require.main === module) {
  const o = JSON.parse(process.argv[2] ?? '') as LoadOptions;
  generate(o).then((r) => { process.stdout.write(JSON.stringify(r) + '\n'); process.exit(0); }, (e) => { console.error(e); process.exit(1); });
}
