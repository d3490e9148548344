// Long-lived TCP connections held open from inside the lab's client namespace, driven over
// stdin/stdout with one JSON object per line (the test runs in the root namespace and cannot open
// sockets in another one itself):
//   {"op":"open","host":VIP,"port":6379,"sources":[…],"n":12,"timeoutMs":5000}
//      → {"op":"open","results":[{"i":0,"source":"10.81.0.10","localPort":40001,"ok":true}|{…,"ok":false,"error":"…"}]}
//   {"op":"round","tag":"after","timeoutMs":10000}
//      → {"op":"round","results":[{"i":0,"key":"10.81.0.10:40001","ok":true}|{"i":0,…,"ok":false,"error":"…"}]}
//        (writes "<tag> <i>\n" on each connection and waits for exactly that line back; `key` is the
//        connection's source:localPort, as `open` gave it)
//   {"op":"close"} → {"op":"close"} and exit 0.
// Run: ip netns exec <ns> node echo-client.js
import * as net from 'node:net';
import * as readline from 'node:readline';

interface Conn { i: number; source: string; localPort?: number; sock: net.Socket; buf: string; waiter: ((line: string) => void) | null; error: string | null }

const conns: Conn[] = [];

function reply(o: unknown): void { process.stdout.write(JSON.stringify(o) + '\n'); }

function open(host: string, port: number, source: string, i: number, timeoutMs: number): Promise<{ i: number; source: string; localPort?: number; ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const sock = net.connect({ host, port, localAddress: source });
    const c: Conn = { i, source, sock, buf: '', waiter: null, error: null };
    const t = setTimeout(() => { sock.destroy(); resolve({ i, source, ok: false, error: `connect timed out after ${timeoutMs} ms` }); }, timeoutMs);
    sock.setNoDelay(true);
    sock.setEncoding('utf8');
    sock.on('data', (d: string) => {
      c.buf += d;
      let nl: number;
      while ((nl = c.buf.indexOf('\n')) >= 0) {
        const line = c.buf.slice(0, nl);
        c.buf = c.buf.slice(nl + 1);
        const w = c.waiter;
        c.waiter = null;
        w?.(line);
      }
    });
    sock.on('error', (e) => { c.error = e.message; });
    sock.on('close', () => { c.error = c.error ?? 'closed by peer'; const w = c.waiter; c.waiter = null; w?.('\u0000closed'); });
    sock.once('connect', () => {
      clearTimeout(t);
      c.localPort = sock.localPort;
      conns.push(c);
      resolve({ i, source, localPort: sock.localPort, ok: true });
    });
  });
}

function exchange(c: Conn, line: string, timeoutMs: number): Promise<{ i: number; key: string; ok: boolean; error?: string }> {
  return new Promise((resolve) => {
    const key = `${c.source}:${c.localPort}`;
    if (c.error) { resolve({ i: c.i, key, ok: false, error: c.error }); return; }
    const t = setTimeout(() => { c.waiter = null; resolve({ i: c.i, key, ok: false, error: `no echo within ${timeoutMs} ms` }); }, timeoutMs);
    c.waiter = (got) => {
      clearTimeout(t);
      if (got === line) resolve({ i: c.i, key, ok: true });
      else resolve({ i: c.i, key, ok: false, error: got === '\u0000closed' ? (c.error ?? 'closed') : `echoed ${JSON.stringify(got)}` });
    };
    c.sock.write(line + '\n');
  });
}

const rl = readline.createInterface({ input: process.stdin });
rl.on('line', (l) => {
  void (async () => {
    const m = JSON.parse(l) as { op: string; host?: string; port?: number; sources?: string[]; n?: number; tag?: string; timeoutMs?: number };
    if (m.op === 'open') {
      const sources = m.sources ?? [];
      const jobs = Array.from({ length: m.n ?? 1 }, (_, i) => open(m.host!, m.port!, sources[i % sources.length], i, m.timeoutMs ?? 5000));
      reply({ op: 'open', results: await Promise.all(jobs) });
    } else if (m.op === 'round') {
      reply({ op: 'round', results: await Promise.all(conns.map((c) => exchange(c, `${m.tag} ${c.i}`, m.timeoutMs ?? 10_000))) });
    } else if (m.op === 'close') {
      for (const c of conns) c.sock.destroy();
      reply({ op: 'close' });
      process.exit(0);
    }
  })();
});
rl.on('close', () => process.exit(0));
