// The lab's real-server processes: an HTTP server that names itself (`GET /` → "real1\n" with an
// `X-Real: real1` header), a TCP echo service (the port of keepalived's Redis example, 6379) and a
// UDP service that answers each datagram with the real's name, a space and the datagram.
// Runnable as a script inside a real's namespace:
//   node servers.js --name real1 [--http 80] [--echo 6379] [--udp 5353] [--bind ::]
// It prints one line `ready <name> http=<port> echo=<port> udp=<port>` once all listen, and exits 0 on
// SIGTERM/SIGINT. Bound to the wildcard address, so it answers on the real's own address and on
// every VIP held on lo.
import * as http from 'node:http';
import * as net from 'node:net';
import * as dgram from 'node:dgram';

export interface ServerOptions { name: string; http?: number; echo?: number; udp?: number; bind?: string }

export interface RunningServers { close(): Promise<void>; httpPort?: number; echoPort?: number; udpPort?: number }

/** Starts the servers; resolves once they listen. Ports 0 pick a free port (tests). */
export async function startServers(o: ServerOptions): Promise<RunningServers> {
  const bind = o.bind ?? '::';
  const closers: (() => Promise<void>)[] = [];
  const res: RunningServers = { close: async () => { await Promise.all(closers.map((c) => c())); } };
  if (o.http !== undefined) {
    const body = `${o.name}\n`;
    const srv = http.createServer((req, rsp) => {
      req.resume();
      rsp.writeHead(200, { 'content-type': 'text/plain', 'content-length': Buffer.byteLength(body), 'x-real': o.name });
      rsp.end(req.method === 'HEAD' ? undefined : body);
    });
    srv.keepAliveTimeout = 1000;
    res.httpPort = await listen(srv, o.http, bind);
    closers.push(() => closeServer(srv));
  }
  if (o.echo !== undefined) {
    const sockets = new Set<net.Socket>();
    const srv = net.createServer((s) => {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => s.destroy());
      s.pipe(s);
    });
    res.echoPort = await listen(srv, o.echo, bind);
    closers.push(() => { for (const s of sockets) s.destroy(); return closeServer(srv); });
  }
  if (o.udp !== undefined) {
    const sock = dgram.createSocket({ type: 'udp6', ipv6Only: false });
    sock.on('message', (msg, from) => sock.send(Buffer.concat([Buffer.from(`${o.name} `), msg]), from.port, from.address));
    res.udpPort = await new Promise<number>((resolve, reject) => {
      sock.once('error', reject);
      sock.bind(o.udp, bind, () => { sock.off('error', reject); resolve(sock.address().port); });
    });
    closers.push(() => new Promise((resolve) => sock.close(() => resolve())));
  }
  return res;
}

function listen(srv: net.Server, port: number, host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    srv.once('error', reject);
    // ipv6Only false: '::' also accepts IPv4 (mapped), so one socket serves both families.
    srv.listen({ port, host, ipv6Only: false }, () => {
      srv.off('error', reject);
      resolve((srv.address() as net.AddressInfo).port);
    });
  });
}

function closeServer(srv: net.Server): Promise<void> {
  return new Promise((resolve) => {
    if ('closeAllConnections' in srv) (srv as http.Server).closeAllConnections();
    srv.close(() => resolve());
  });
}

/** Parses the script's argv; throws with the offending flag named. */
function parseServerArgs(argv: string[]): ServerOptions {
  const o: ServerOptions = { name: '' };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    const port = (): number => {
      const n = Number(v);
      if (!Number.isInteger(n) || n < 0 || n > 65535) throw new Error(`${a} "${v}": must be a port 0..65535`);
      i++;
      return n;
    };
    if (a === '--name') { if (!v || !/^[A-Za-z0-9._-]{1,32}$/.test(v)) throw new Error(`--name "${v}": 1-32 of [A-Za-z0-9._-]`); o.name = v; i++; }
    else if (a === '--http') o.http = port();
    else if (a === '--echo') o.echo = port();
    else if (a === '--udp') o.udp = port();
    else if (a === '--bind') { if (!v || net.isIP(v) === 0) throw new Error(`--bind "${v}": not an IP address`); o.bind = v; i++; }
    else throw new Error(`unknown argument "${a}"`);
  }
  if (!o.name) throw new Error('--name is required');
  if (o.http === undefined && o.echo === undefined && o.udp === undefined) throw new Error('give --http PORT, --echo PORT and/or --udp PORT');
  return o;
}

if (require.main === module) {
  let opts: ServerOptions;
  try {
    opts = parseServerArgs(process.argv.slice(2));
  } catch (e) {
    process.stderr.write(`servers: ${(e as Error).message}\n`);
    process.exit(2);
  }
  startServers(opts).then((s) => {
    process.stdout.write(`ready ${opts.name} http=${s.httpPort ?? '-'} echo=${s.echoPort ?? '-'} udp=${s.udpPort ?? '-'}\n`);
    const stop = (): void => { void s.close().then(() => process.exit(0)); setTimeout(() => process.exit(0), 1000).unref(); };
    process.on('SIGTERM', stop);
    process.on('SIGINT', stop);
  }, (e: Error) => {
    process.stderr.write(`servers: ${e.message}\n`);
    process.exit(1);
  });
}
