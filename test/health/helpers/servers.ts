// Real servers for the health tests, started inside the server namespace. Prints "ready" once
// every listener is up. Config (JSON in argv[2]):
//   { tcp?: port, http?: port, https?: { port, key, cert }, udpEcho?: port, udpSilent?: port }
// HTTP(S) routes: /ok → 200 "hello world\n"; /err → 500; /slow → 200 after 1500 ms;
// /redirect → 302 to /ok; /backtrack → 200 40 × "a" and "!" (for `(a+)+$`); /echo → 200 "host=<Host> sni=<servername> from=<client address>".
import * as net from 'node:net';
import * as http from 'node:http';
import * as https from 'node:https';
import * as dgram from 'node:dgram';
import * as fs from 'node:fs';
import * as tls from 'node:tls';

interface Cfg { tcp?: number; http?: number; https?: { port: number; key: string; cert: string }; udpEcho?: number; udpSilent?: number }
const cfg = JSON.parse(process.argv[2]) as Cfg;

function handler(req: http.IncomingMessage, res: http.ServerResponse): void {
  const sock = req.socket as tls.TLSSocket;
  switch (req.url) {
    case '/ok': res.writeHead(200, { 'content-type': 'text/plain' }).end('hello world\n'); break;
    case '/err': res.writeHead(500).end('broken\n'); break;
    case '/slow': setTimeout(() => res.writeHead(200).end('late\n'), 1500); break;
    case '/redirect': res.writeHead(302, { location: '/ok' }).end(); break;
    case '/backtrack': res.writeHead(200).end('a'.repeat(40) + '!'); break;
    case '/echo': {
      const sni = (sock as unknown as { servername?: string | false }).servername || '-';
      res.writeHead(200).end(`host=${req.headers.host} sni=${sni} from=${sock.remoteAddress}\n`);
      break;
    }
    default: res.writeHead(404).end();
  }
}

async function main(): Promise<void> {
  const ready: Promise<void>[] = [];
  const listen = (srv: net.Server, port: number) => ready.push(new Promise((r) => srv.listen(port, '0.0.0.0', () => r())));
  if (cfg.tcp) listen(net.createServer((s) => s.end()), cfg.tcp);
  if (cfg.http) listen(http.createServer(handler), cfg.http);
  if (cfg.https) listen(https.createServer({ key: fs.readFileSync(cfg.https.key), cert: fs.readFileSync(cfg.https.cert) }, handler), cfg.https.port);
  const udp = (port: number, echo: boolean) => ready.push(new Promise((r) => {
    const s = dgram.createSocket('udp4');
    if (echo) s.on('message', (m, from) => s.send(m, from.port, from.address));
    s.bind(port, '0.0.0.0', () => r());
  }));
  if (cfg.udpEcho) udp(cfg.udpEcho, true);
  if (cfg.udpSilent) udp(cfg.udpSilent, false);
  await Promise.all(ready);
  process.stdout.write('ready\n');
}

main().catch((e) => { process.stderr.write(String(e) + '\n'); process.exit(2); });
