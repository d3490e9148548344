// A bounded request loop from inside the lab's client namespace: one HTTP GET at a time to each
// URL in turn, from each source address in turn, a fresh connection per request, until a line
// arrives on stdin or `maxMs` passes. Prints one JSON summary line and exits:
//   {"sent":N,"ok":N,"failed":[{"at":ms,"url":…,"source":…,"error":…}],"reals":{"real1":N,…},"maxLatencyMs":N}
// Run: ip netns exec <ns> node load-client.js '{"urls":[…],"sources":[…],"timeoutMs":3000,"gapMs":20,"maxMs":60000}'
import * as http from 'node:http';

interface Opts { urls: string[]; sources: string[]; timeoutMs: number; gapMs: number; maxMs: number }
interface Failure { at: number; url: string; source: string; error: string }

const o = JSON.parse(process.argv[2]) as Opts;
const t0 = Date.now();
let stop = false;
process.stdin.on('data', () => { stop = true; });
process.stdin.on('end', () => { stop = true; });

function get(url: string, source: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { localAddress: source, agent: false, timeout: o.timeoutMs }, (rsp) => {
      let body = '';
      rsp.setEncoding('utf8');
      rsp.on('data', (d: string) => { body += d; });
      rsp.on('end', () => (rsp.statusCode === 200 ? resolve(body.trim()) : reject(new Error(`HTTP ${rsp.statusCode}`))));
      rsp.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`timed out after ${o.timeoutMs} ms`)));
    req.on('error', reject);
  });
}

async function main(): Promise<void> {
  const failed: Failure[] = [];
  const reals: Record<string, number> = {};
  let sent = 0;
  let ok = 0;
  let maxLatencyMs = 0;
  while (!stop && Date.now() - t0 < o.maxMs) {
    const url = o.urls[sent % o.urls.length];
    const source = o.sources[sent % o.sources.length];
    const start = Date.now();
    sent++;
    try {
      const body = await get(`${url}?n=${sent}`, source);
      if (!/^real\d$/.test(body)) throw new Error(`unexpected body ${JSON.stringify(body)}`);
      reals[body] = (reals[body] ?? 0) + 1;
      ok++;
    } catch (e) {
      failed.push({ at: start - t0, url, source, error: (e as Error).message });
    }
    maxLatencyMs = Math.max(maxLatencyMs, Date.now() - start);
    await new Promise((r) => setTimeout(r, o.gapMs));
  }
  process.stdout.write(JSON.stringify({ sent, ok, failed, reals, maxLatencyMs }) + '\n');
  process.exit(0);
}
void main();
