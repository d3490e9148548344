// Client-side probes for the failover benchmarks, run inside the lab's client namespace.
//   probe HOST PORT INTERVAL_MS TIMEOUT_MS SRC…  — a new TCP connection with one HTTP request
//       every INTERVAL_MS; one JSON line per request {sent, done, ok} (Date.now() ms, the
//       same clock as the bench process). Runs until SIGTERM.
//   hold HOST PORT COUNT SRC…  — opens COUNT long-lived connections to an echo service and
//       checks each echoes; prints "ready N". Then on each stdin line "check" it sends on every
//       connection and prints {"ok":n,"failed":m,"ms":t} once all answered or 15 s passed;
//       "exit" closes them.
import * as net from 'node:net';
import * as readline from 'node:readline';

function probe(host: string, port: number, intervalMs: number, timeoutMs: number, sources: string[]): void {
  let i = 0;
  const once = () => {
    const sent = Date.now();
    const s = net.connect({ host, port, localAddress: sources[i++ % sources.length] });
    let done = false;
    let buf = '';
    const end = (ok: boolean) => {
      if (done) return;
      done = true;
      s.destroy();
      process.stdout.write(JSON.stringify({ sent, done: Date.now(), ok }) + '\n');
    };
    s.setTimeout(timeoutMs, () => end(false));
    s.on('connect', () => s.write(`GET / HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`));
    s.on('data', (c: Buffer) => { buf += c.toString('latin1'); if (/^HTTP\/1\.1 200/.test(buf) && buf.includes('\r\n\r\n')) end(true); });
    s.on('error', () => end(false));
    s.on('close', () => end(false));
  };
  const t = setInterval(once, intervalMs);
  process.on('SIGTERM', () => { clearInterval(t); setTimeout(() => process.exit(0), timeoutMs + 50); });
}

async function hold(host: string, port: number, count: number, sources: string[]): Promise<void> {
  const conns: { s: net.Socket; got: string; alive: boolean }[] = [];
  const echo = (c: { s: net.Socket; got: string; alive: boolean }, msg: string, ms: number): Promise<boolean> => new Promise((resolve) => {
    if (!c.alive) { resolve(false); return; }
    c.got = '';
    const t = setTimeout(() => { c.s.off('data', on); resolve(false); }, ms);
    const on = (d: Buffer) => {
      c.got += d.toString();
      if (c.got.includes(msg)) { clearTimeout(t); c.s.off('data', on); resolve(true); }
    };
    c.s.on('data', on);
    c.s.write(msg);
  });
  for (let i = 0; i < count; i++) {
    const s = net.connect({ host, port, localAddress: sources[i % sources.length] });
    const c = { s, got: '', alive: true };
    s.on('error', () => { c.alive = false; });
    s.on('close', () => { c.alive = false; });
    s.setKeepAlive(false);
    await new Promise<void>((resolve, reject) => { s.once('connect', resolve); s.once('error', reject); });
    conns.push(c);
  }
  const first = await Promise.all(conns.map((c, i) => echo(c, `hello ${i}\n`, 3000)));
  process.stdout.write(`ready ${first.filter(Boolean).length}\n`);
  const rl = readline.createInterface({ input: process.stdin });
  let round = 0;
  rl.on('line', async (line) => {
    if (line === 'exit') { for (const c of conns) c.s.destroy(); process.exit(0); }
    if (line !== 'check') return;
    round++;
    const t0 = Date.now();
    const res = await Promise.all(conns.map((c, i) => echo(c, `check ${round} ${i}\n`, 15_000)));
    process.stdout.write(JSON.stringify({ ok: res.filter(Boolean).length, failed: res.filter((x) => !x).length, ms: Date.now() - t0 }) + '\n');
  });
}

if (require.main === module) {
  const [mode, host, port, a, ...rest] = process.argv.slice(2);
  if (mode === 'probe') probe(host, Number(port), Number(a), Number(rest[0]), rest.slice(1));
  else if (mode === 'hold') void hold(host, Number(port), Number(a), rest).catch((e) => { console.error(e); process.exit(1); });
  else { console.error('usage: prober probe|hold …'); process.exit(2); }
}
