// Commands that talk to a running daemon over its control socket: list, zero, real, reload, stop.
import { Command } from 'commander';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { defaultSocketPath, OverrideRequest, OverrideResult, ZeroRequest, ZeroResult } from '../../control/protocol';
import { controlRequest, controlStream } from '../../control/client';
import { CONN_HEADER, formatConnRow, ConnRow } from '../../conns/rows';
import type { StatusSnapshot } from '../../common/status';
import { computeRates, formatListing } from '../listing';
import { XlvsError, ErrorCodes } from '../../errors';

interface SocketOpts { socket?: string; name?: string }

/** The socket to use: --socket, else --name, else the only daemon socket in /run/xlvs. */
function resolveSocket(opts: SocketOpts): string {
  if (opts.socket) return opts.socket;
  if (opts.name) return defaultSocketPath(opts.name);
  const dir = '/run/xlvs';
  const socks = fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith('.sock')) : [];
  if (socks.length === 1) return path.join(dir, socks[0]);
  if (socks.length === 0) throw new XlvsError(ErrorCodes.CONTROL, 'no xlvs daemon found in /run/xlvs (start one with `xlvs run -c FILE`, or pass --socket)');
  throw new XlvsError(ErrorCodes.CONTROL, `several daemons in /run/xlvs (${socks.join(', ')}): pass --name or --socket`);
}

const COUNTER_FIELDS = new Set(['packets', 'bytes', 'newFlows']);

/** Counters cross the socket as decimal strings; turn them back into bigint. */
export function reviveSnapshot(raw: unknown): StatusSnapshot {
  const walk = (v: unknown, key?: string): unknown => {
    if (Array.isArray(v)) return v.map((x) => walk(x));
    if (v && typeof v === 'object') {
      const o: Record<string, unknown> = {};
      for (const [k, x] of Object.entries(v)) o[k] = walk(x, k);
      if (key === 'reasons') for (const k of Object.keys(o)) o[k] = BigInt(o[k] as string);
      return o;
    }
    if (key && COUNTER_FIELDS.has(key) && typeof v === 'string') return BigInt(v);
    return v;
  };
  return walk(raw) as StatusSnapshot;
}

function withSocket(cmd: Command): Command {
  return cmd.option('-s, --socket <path>', 'control socket of the daemon').option('--name <director>', 'director name (socket /run/xlvs/<name>.sock)');
}

interface ConnOpts { vip?: string; real?: string; client?: string; state?: string; limit?: string }

/** `xlvs list --conns`: rows are printed as they arrive (the daemon streams the table chunk by chunk). */
async function listConns(sock: string, o: ConnOpts, json: boolean): Promise<void> {
  let limit: number | undefined;
  if (o.limit !== undefined) {
    if (!/^\d+$/.test(o.limit) || Number(o.limit) < 1) throw new XlvsError(ErrorCodes.USAGE, `--limit: "${o.limit}" is not a positive integer`);
    limit = Number(o.limit);
  }
  if (!json) process.stdout.write(CONN_HEADER);
  const out: string[] = [];
  const flush = () => { if (out.length) { process.stdout.write(out.join('')); out.length = 0; } };
  await controlStream(sock, { cmd: 'conns', vip: o.vip, real: o.real, client: o.client, state: o.state, limit }, (item) => {
    out.push(json ? `${item as string}\n` : formatConnRow(item as ConnRow));
    if (out.length >= 4096) flush();
  }, 30_000, { rawItems: json });
  flush();
}

export function register(program: Command): void {
  withSocket(program.command('list').alias('ls'))
    .description('list services and reals like `ipvsadm -L`')
    .option('-n, --numeric', 'numeric output (always numeric; accepted for ipvsadm habits)')
    .option('--stats', 'counters: Conns, InPkts, OutPkts, InBytes, OutBytes')
    .option('--rate', 'rates over --interval: CPS, InPPS, OutPPS, InBPS, OutBPS')
    .option('--conns', 'the connection table, streamed (like ipvsadm -Lnc): pro, expire, state, source, virtual, destination, confirmed')
    .option('--vip <addr[:port]>', 'with --conns: only flows to this VIP (and port)')
    .option('--real <addr>', 'with --conns: only flows to this real')
    .option('--client <addr[/prefix]>', 'with --conns: only flows from this client address or prefix')
    .option('--state <name[,name]>', 'with --conns: only connections in these states (ESTABLISHED, SYN_RECV, FIN_WAIT, TIME_WAIT, CLOSE, NONE, UDP)')
    .option('--limit <n>', 'with --conns: at most this many entries')
    .option('--interval <ms>', 'sampling interval for --rate', '1000')
    .option('--json', 'machine-readable output')
    .action(async (o: SocketOpts & ConnOpts & { stats?: boolean; rate?: boolean; conns?: boolean; interval: string; json?: boolean }) => {
      const sock = resolveSocket(o);
      if (o.conns) {
        await listConns(sock, o, !!o.json);
        return;
      }
      if (o.vip || o.real || o.client || o.state || o.limit) throw new XlvsError(ErrorCodes.USAGE, '--vip, --real, --client, --state and --limit filter the connection table: use them with --conns');
      const snap = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
      if (o.rate) {
        const ms = Number(o.interval);
        await new Promise((r) => setTimeout(r, ms));
        const snap2 = reviveSnapshot(await controlRequest(sock, { cmd: 'status' }));
        const rates = computeRates(snap, snap2, ms);
        if (o.json) { process.stdout.write(JSON.stringify(Object.fromEntries(rates), null, 2) + '\n'); return; }
        process.stdout.write(formatListing(snap2, 'rate', rates));
        return;
      }
      if (o.json) { process.stdout.write(JSON.stringify(snap, (_k, v) => (typeof v === 'bigint' ? Number(v) : v), 2) + '\n'); return; }
      process.stdout.write(formatListing(snap, o.stats ? 'stats' : 'plain'));
    });

  withSocket(program.command('zero'))
    .description('zero the counters `xlvs list --stats` shows, of one service and its reals or of all (like `ipvsadm -Z`); /metrics keeps its totals')
    .argument('[service]', 'service key, e.g. 10.0.0.1:80/tcp or [2001:db8::1]:53/udp (default: every service)')
    .action(async (service: string | undefined, o: SocketOpts) => {
      const req: ZeroRequest = service === undefined ? { cmd: 'zero' } : { cmd: 'zero', service };
      const res = (await controlRequest(resolveSocket(o), req)) as ZeroResult;
      process.stdout.write(res.zeroed.length ? res.zeroed.map((s) => `  zeroed ${s}\n`).join('') : '  no services\n');
    });

  const real = program.command('real')
    .description('runtime overrides of one real, without editing the topology (like `ipvsadm -e`): drain, undrain, weight, clear; kept across daemon restarts and reloads');
  const overrideCmd = async (o: SocketOpts, req: OverrideRequest) => {
    const res = (await controlRequest(resolveSocket(o), req, 30_000)) as OverrideResult;
    process.stdout.write(res.changed.length ? res.changed.map((c) => `  ${c}\n`).join('') : '  no overrides\n');
  };
  withSocket(real.command('drain'))
    .description('no new flows to the real, established ones continue (like `ipvsadm -e -w 0`)')
    .argument('<service>', 'service key, e.g. 10.0.0.1:80/tcp')
    .argument('<real>', 'the real, ADDR or ADDR:PORT ([V6]:PORT)')
    .action((service: string, r: string, o: SocketOpts) => overrideCmd(o, { cmd: 'real', op: 'drain', service, real: r }));
  withSocket(real.command('undrain'))
    .description('the real takes new flows again (its weight override, if any, stays)')
    .argument('<service>', 'service key, e.g. 10.0.0.1:80/tcp')
    .argument('<real>', 'the real, ADDR or ADDR:PORT ([V6]:PORT)')
    .action((service: string, r: string, o: SocketOpts) => overrideCmd(o, { cmd: 'real', op: 'undrain', service, real: r }));
  withSocket(real.command('weight'))
    .description('use this weight instead of the topology\'s (like `ipvsadm -e -w W`; 0 quiesces the real)')
    .argument('<service>', 'service key, e.g. 10.0.0.1:80/tcp')
    .argument('<real>', 'the real, ADDR or ADDR:PORT ([V6]:PORT)')
    .argument('<weight>', 'integer 0..65535')
    .action((service: string, r: string, w: string, o: SocketOpts) => {
      if (!/^\d+$/.test(w)) throw new XlvsError(ErrorCodes.USAGE, `real weight: "${w}" is not a weight (an integer 0..65535)`);
      return overrideCmd(o, { cmd: 'real', op: 'weight', service, real: r, weight: Number(w) });
    });
  withSocket(real.command('clear'))
    .description('remove the operator overrides: of one real, of a service\'s reals, or all')
    .argument('[service]', 'service key (default: every service)')
    .argument('[real]', 'the real, ADDR or ADDR:PORT (default: every real of the service)')
    .action((service: string | undefined, r: string | undefined, o: SocketOpts) => overrideCmd(o, { cmd: 'real', op: 'clear', service, real: r }));

  withSocket(program.command('reload'))
    .description('re-read the topology file and apply only the difference (same as SIGHUP); `xlvs real` overrides stay unless --clear-overrides')
    .option('--clear-overrides', 'also remove every `xlvs real` override (drain, weight)')
    .action(async (o: SocketOpts & { clearOverrides?: boolean }) => {
      const res = (await controlRequest(resolveSocket(o), o.clearOverrides ? { cmd: 'reload', clearOverrides: true } : { cmd: 'reload' }, 30_000)) as { summary: string[] };
      process.stdout.write(res.summary.length ? res.summary.map((s) => `  ${s}\n`).join('') : '  nothing changed\n');
    });

  withSocket(program.command('stop'))
    .description('stop the daemon: VRRP hands the VIPs over (priority 0), XDP is detached and the pins removed (unlike SIGTERM, which keeps them unless director.on_sigterm is remove); --keep-forwarding keeps them for the next daemon')
    .option('--keep-forwarding', 'leave the programs attached and pinned; a new daemon adopts them')
    .action(async (o: SocketOpts & { keepForwarding?: boolean }) => {
      await controlRequest(resolveSocket(o), { cmd: 'stop', keepForwarding: !!o.keepForwarding }, 30_000);
      process.stdout.write(o.keepForwarding ? 'stopped; forwarding continues from the pinned programs\n' : 'stopped; XDP detached and pins removed\n');
    });
}
