// Cheaper HTTP reals for the end-to-end bench. The lab's reals run one Node process each
// (src/lab/servers.ts: HTTP :80 that names itself + TCP echo :6379); under a fast client that Node
// HTTP server costs more CPU per request than the director does, on the same 2 cores. Here each
// real's HTTP :80 is served by haproxy instead (`http-request return`, no backend): the body is the
// real's name and an `X-Real: <name>` header, like the Node server. The echo service stays on the
// lab's own script (`servers.js --echo`), so the lab's TCP health checks keep passing.
//
// Only the e2e bench does this, after `xlvs lab up`, with processes it starts itself and stops by
// PID; `xlvs lab` and its tests are unchanged. Each real's haproxy has a stats socket: the bench
// reads per-real request and connection counts from the reals themselves (which reals answered,
// and how many TCP connections it took).
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import type { ChildProcess } from 'node:child_process';
import { LAB } from '../../src/lab/layout';
import { Lab, startIn, stop, waitFor } from './lab';

export interface RealServer { name: string; ns: string; http: ChildProcess; echo: ChildProcess; statsSocket: string }
export interface RealCounts { requests: number; connections: number }

function realConfig(name: string, statsSocket: string): string {
  return [
    `# xlvs bench: real ${name}, HTTP :${LAB.httpPort} answered by haproxy itself (no backend)`,
    'global',
    '  maxconn 8000',
    `  stats socket ${statsSocket} mode 600 level user`,
    'defaults',
    '  mode http',
    '  timeout client 10s',
    '  timeout http-request 10s',
    '  timeout http-keep-alive 10s',
    'frontend web',
    // Wildcard: the real's own address and the VIPs it holds on lo (DR) or receives decapsulated (TUN).
    `  bind :${LAB.httpPort}`,
    `  http-request return status 200 content-type text/plain string "${name}" hdr x-real ${name}`,
    '',
  ].join('\n');
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

/**
 * Replaces each lab real's Node server with haproxy (HTTP) + the lab script (echo only). The
 * lab's own server processes are stopped by their recorded PID. Resolves once every real answers
 * HTTP on its own address from the client namespace.
 */
export async function startHaproxyReals(lab: Lab, log: (l: string) => void): Promise<RealServer[]> {
  const L = lab.L;
  const servers = path.join(__dirname, '..', '..', 'src', 'lab', 'servers.js');
  const out: RealServer[] = [];
  try {
    // The NAT reals (alone behind the directors) too: their UDP service stays on the lab script.
    for (const r of [...L.reals.map((x) => ({ short: x.short, ns: x.ns, nat: false })), ...L.natReals.map((x) => ({ short: x.short, ns: x.ns, nat: true }))]) {
      const p = lab.state.processes.find((x) => x.role === `servers ${r.short}`);
      if (p && alive(p.pid) && fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8').includes(p.marker)) {
        process.kill(p.pid, 'SIGTERM');
        await waitFor(() => !alive(p.pid), 5000, `the lab's servers of ${r.short} to exit`, 20);
      }
      const statsSocket = path.join(L.dir, `${r.short}-haproxy.sock`);
      const cfg = path.join(L.dir, `${r.short}-haproxy.cfg`);
      fs.writeFileSync(cfg, realConfig(r.short, statsSocket));
      const http = startIn(r.ns, ['haproxy', '-db', '-f', cfg], path.join(L.dir, `${r.short}-haproxy.log`));
      const echo = startIn(r.ns, [process.execPath, servers, '--name', r.short, '--echo', String(LAB.echoPort), ...(r.nat ? ['--udp', String(LAB.udpPort)] : [])], path.join(L.dir, `${r.short}-echo.log`));
      out.push({ name: r.short, ns: r.ns, http, echo, statsSocket });
    }
    for (const s of out) {
      await waitFor(async () => fs.existsSync(s.statsSocket) && (await realCounts(s).then(() => true, () => false)), 10_000, `haproxy on ${s.name}`);
    }
    log(`e2e: reals serve HTTP with haproxy (${out.map((s) => `${s.name} pid ${s.http.pid}`).join(', ')})`);
    return out;
  } catch (e) {
    await stopReals(out);
    throw e;
  }
}

export async function stopReals(rs: RealServer[]): Promise<void> {
  await Promise.all(rs.flatMap((r) => [stop(r.http), stop(r.echo)]));
}

/** One command on a haproxy stats socket (a path: reachable from any network namespace). */
export function statsCommand(socket: string, cmd: string, timeoutMs = 2000): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: socket });
    let buf = '';
    const t = setTimeout(() => { s.destroy(); reject(new Error(`haproxy stats ${socket}: timeout`)); }, timeoutMs);
    s.on('connect', () => s.write(cmd + '\n'));
    s.on('data', (c: Buffer) => { buf += c.toString(); });
    s.on('error', (e) => { clearTimeout(t); reject(e); });
    s.on('close', () => { clearTimeout(t); resolve(buf); });
  });
}

/** A frontend's cumulative HTTP requests (req_tot) and accepted connections (conn_tot) from `show stat`. */
export async function frontendCounts(socket: string, frontend: string): Promise<RealCounts> {
  const csv = (await statsCommand(socket, 'show stat')).trim().split('\n');
  const head = csv[0].replace(/^# /, '').split(',');
  const row = csv.slice(1).map((l) => l.split(',')).find((f) => f[0] === frontend && f[1] === 'FRONTEND');
  if (!row) throw new Error(`haproxy stats ${socket}: no frontend ${frontend}`);
  const get = (k: string) => Number(row[head.indexOf(k)] || 0);
  return { requests: get('req_tot'), connections: get('conn_tot') };
}

export function realCounts(r: RealServer): Promise<RealCounts> {
  return frontendCounts(r.statsSocket, 'web');
}

export async function allRealCounts(rs: RealServer[]): Promise<Record<string, RealCounts>> {
  const out: Record<string, RealCounts> = {};
  for (const r of rs) out[r.name] = await realCounts(r);
  return out;
}
