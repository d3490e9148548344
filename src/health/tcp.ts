// TCP check (keepalived TCP_CHECK, haproxy `check` without option): up when a connection to
// the real (or connect_ip/connect_port) completes within the timeout. The connection is closed
// at once with a FIN, as keepalived does.
import * as net from 'node:net';
import { CheckResult, TcpCheck } from './types';
import { probe, Verdict } from './probe';
import { connectHost, connectPort, hostPort } from './target';

export function tcpCheck(spec: TcpCheck, signal: AbortSignal): Promise<CheckResult> {
  const host = connectHost(spec);
  const port = connectPort(spec);
  return probe(spec.timeoutMs, signal, (sig) => new Promise<Verdict>((resolve, reject) => {
    const sock = net.connect({ host, port, localAddress: spec.bindto || undefined });
    const close = () => sock.destroy();
    sig.addEventListener('abort', close, { once: true });
    sock.once('connect', () => {
      sig.removeEventListener('abort', close);
      sock.end();
      sock.destroy();
      resolve({ ok: true, reason: `connected to ${hostPort(host, port)}` });
    });
    sock.once('error', (e) => {
      sig.removeEventListener('abort', close);
      sock.destroy();
      reject(e);
    });
  }));
}
