// UDP check (keepalived UDP_CHECK): send one datagram on a connected socket and require a reply
// within the timeout. An ICMP port unreachable comes back as ECONNREFUSED on a connected socket
// (udp(7), "ERRORS"), which is a definite "down" with its own reason.
import * as dgram from 'node:dgram';
import * as net from 'node:net';
import { CheckResult, UdpCheck } from './types';
import { probe, Verdict } from './probe';
import { connectHost, connectPort, hostPort } from './target';

export function udpCheck(spec: UdpCheck, signal: AbortSignal): Promise<CheckResult> {
  const host = connectHost(spec);
  const port = connectPort(spec);
  const payload = spec.payload && spec.payload.length ? spec.payload : Buffer.alloc(0);
  return probe(spec.timeoutMs, signal, (sig) => new Promise<Verdict>((resolve) => {
    const sock = dgram.createSocket({ type: net.isIPv6(host) ? 'udp6' : 'udp4' });
    let finished = false;
    const finish = (v: Verdict) => {
      if (finished) return;
      finished = true;
      sig.removeEventListener('abort', onAbort);
      try { sock.close(); } catch { /* already closed */ }
      resolve(v);
    };
    const onAbort = () => finish({ ok: false, reason: `no reply from ${hostPort(host, port)}` });
    sig.addEventListener('abort', onAbort, { once: true });
    sock.on('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'ECONNREFUSED') finish({ ok: false, reason: `port unreachable (ICMP) from ${hostPort(host, port)}` });
      else finish({ ok: false, reason: `${e.code ?? 'error'}: ${e.message}` });
    });
    sock.on('message', (msg) => finish({ ok: true, reason: `reply of ${msg.length} bytes` }));
    const go = () => sock.connect(port, host, () => sock.send(payload));
    if (spec.bindto) sock.bind({ address: spec.bindto, port: 0 }, go);
    else go();
  }));
}
