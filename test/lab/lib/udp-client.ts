// UDP requests from inside the lab's client namespace (the test runs in the root namespace and
// cannot open sockets in another one itself): one datagram per (source, round) to host:port, each
// answered by the lab's UDP service with "<real> <datagram>". Prints one JSON line:
//   {"replies":[{"source":"10.81.0.10","from":"10.81.0.100:53","real":"nat1","echo":"q 0"}|{"source":…,"error":"…"}]}
// Run: ip netns exec <ns> node udp-client.js HOST PORT SOURCES(comma-separated) ROUNDS TIMEOUT_MS
import * as dgram from 'node:dgram';

interface Reply { source: string; from?: string; real?: string; echo?: string; error?: string }

function ask(host: string, port: number, source: string, text: string, timeoutMs: number): Promise<Reply> {
  return new Promise((resolve) => {
    const sock = dgram.createSocket('udp4');
    const t = setTimeout(() => { sock.close(); resolve({ source, error: `no answer within ${timeoutMs} ms` }); }, timeoutMs);
    sock.on('message', (msg, rinfo) => {
      clearTimeout(t);
      const s = msg.toString();
      const sp = s.indexOf(' ');
      sock.close();
      resolve({ source, from: `${rinfo.address}:${rinfo.port}`, real: s.slice(0, sp), echo: s.slice(sp + 1) });
    });
    sock.on('error', (e) => { clearTimeout(t); sock.close(); resolve({ source, error: e.message }); });
    sock.bind({ address: source, port: 0 }, () => sock.send(text, port, host));
  });
}

async function main(): Promise<void> {
  const [host, portS, sourcesS, roundsS, timeoutS] = process.argv.slice(2);
  const replies: Reply[] = [];
  const sources = sourcesS.split(',');
  for (let r = 0; r < Number(roundsS); r++) {
    for (const [i, src] of sources.entries()) replies.push(await ask(host, Number(portS), src, `q ${r * sources.length + i}`, Number(timeoutS)));
  }
  process.stdout.write(JSON.stringify({ replies }) + '\n');
}

void main();
