// `xlvs lab demo` (make demo): brings the lab up, sends requests through the VIPs and shows each
// real's share, stops one real (the health check takes it out), kills the Master director (the
// Backup takes the VIPs), prints a timeline and tears everything down.
import { run, inNs } from '../sys/exec';
import { labUp, labDown, labStatus, formatLabStatus, DEFAULT_PREFIX, LabState } from './site';
import { LabLayout, LAB } from './layout';
import { xlvsArgv } from './xlvs-cli';
import { controlRequest } from '../control/client';

type Log = (l: string) => void;

interface Shot { ok: boolean; real: string }

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** One HTTP request from the client namespace with source `src`: which real answered. */
function shoot(L: LabLayout, url: string, src: string, timeoutS = 1): Shot {
  const r = run(inNs(L.ns.client, ['curl', '-s', '-m', String(timeoutS), '--interface', src, url]), { allowFail: true, timeoutMs: (timeoutS + 4) * 1000 });
  const body = r.stdout.trim();
  const named = /^(real|nat)\d$/.test(body);
  return { ok: r.status === 0 && named, real: named ? body : '' };
}

function shares(L: LabLayout, url: string, n: number, timeoutS = 1): Map<string, number> {
  const m = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const s = shoot(L, `${url}?i=${i}`, L.clientAddresses[i % L.clientAddresses.length], timeoutS);
    const k = s.ok ? s.real : 'failed';
    m.set(k, (m.get(k) ?? 0) + 1);
  }
  return m;
}

function printShares(log: Log, what: string, m: Map<string, number>, n: number): void {
  log(`  ${what}:`);
  for (const [k, v] of [...m.entries()].sort()) log(`    ${k.padEnd(8)} ${String(v).padStart(4)}  ${'#'.repeat(Math.round((40 * v) / n))}`);
}

/** Health state of one real as the daemon reports it (`status` over the control socket). */
async function realState(socket: string, vip: string, port: number, address: string): Promise<string> {
  try {
    const snap = await controlRequest(socket, { cmd: 'status' }, 2000) as { services?: { vip: string; port: number; reals: { address: string; state: string }[] }[] };
    const svc = snap.services?.find((x) => x.vip === vip && x.port === port);
    return svc?.reals.find((r) => r.address === address)?.state ?? '';
  } catch {
    return '';
  }
}

function master(L: LabLayout, prefix: string): string | null {
  const m = labStatus(prefix).directors.filter((d) => d.holdsVips.length > 0);
  return m.length === 1 ? m[0].name : null;
}

export async function labDemo(o: { prefix?: string; config?: string; keep?: boolean; log?: Log } = {}): Promise<void> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const log = o.log ?? ((l: string) => process.stdout.write(l + '\n'));
  const t0 = Date.now();
  const timeline: string[] = [];
  const mark = (what: string): void => { const line = `${((Date.now() - t0) / 1000).toFixed(1).padStart(6)} s  ${what}`; timeline.push(line); log(line); };
  let L: LabLayout;
  let state: LabState;
  try {
    ({ layout: L, state } = await labUp({ prefix, config: o.config, directors: 'yes', log }));
    mark('lab up');
    log(formatLabStatus(labStatus(prefix)));
    let m: string | null = null;
    for (let i = 0; i < 100 && !(m = master(L, prefix)); i++) await sleep(200);
    if (!m) throw new Error('no director became VRRP Master within 20 s');
    mark(`${m} is VRRP Master (holds ${L.vips.join(', ')})`);

    const dr = `http://${L.vips[0]}:${LAB.httpPort}/`;
    const n = 60;
    printShares(log, `${n} requests to ${dr} (DR) from ${L.clientAddresses.length} client addresses`, shares(L, dr, n), n);
    if (L.vips[1]) {
      const tun = `http://${L.vips[1]}:${LAB.httpPort}/`;
      printShares(log, `${n / 2} requests to ${tun} (TUN)`, shares(L, tun, n / 2), n / 2);
    }
    if (L.inner) {
      // NAT beside DR and TUN: the reals sit behind the directors on ${L.inner.cidr} and answer
      // through the inner VRRP address; port 8080 on the VIPs maps to their port 80.
      const nat = `http://${L.vips[0]}:8080/`;
      printShares(log, `${n / 2} requests to ${nat} (NAT to the reals' port ${LAB.httpPort}, behind the directors)`, shares(L, nat, n / 2), n / 2);
      if (L.vips[1]) {
        const fnat = `http://${L.vips[1]}:8080/`;
        printShares(log, `${n / 2} requests to ${fnat} (full-NAT: the reals see the director's pool address)`, shares(L, fnat, n / 2), n / 2);
      }
    }
    const dir = L.directors.find((d) => d.name === m)!;
    const listing = run(xlvsArgv(['list', '-n', '--stats', '--socket', dir.socket]), { allowFail: true });
    log(`  xlvs list -n --stats on ${m} (XDP counters):`);
    for (const l of (listing.stdout || listing.stderr).trimEnd().split('\n')) log(`    ${l}`);

    // A real stops: the health check (fall 2 × 1 s) takes it out; its share moves to the others.
    const victim = L.reals[1];
    const proc = state.processes.find((p) => p.role === `servers ${victim.short}`)!;
    process.kill(proc.pid, 'SIGTERM');
    mark(`stopped the servers on ${victim.short}`);
    let failures = 0;
    let sent = 0;
    let st = '';
    for (const end = Date.now() + 20_000; Date.now() < end;) {
      const s = shoot(L, `${dr}?stop=${sent}`, L.clientAddresses[sent % L.clientAddresses.length]);
      sent++;
      if (!s.ok) failures++;
      st = await realState(dir.socket, L.vips[0], LAB.httpPort, victim.lanAddress);
      if (st === 'down') break;
    }
    mark(`health check: ${victim.short} is ${st || 'unknown'} (${failures} of ${sent} requests failed before that)`);
    printShares(log, `${n} requests to ${dr} without ${victim.short}`, shares(L, dr, n), n);

    // The Master's machine fails: daemon killed without a goodbye and its link gone. The Backup
    // takes over after 3 missed adverts + skew (RFC 3768 §6.4.2 Master_Down_Interval).
    const mproc = state.processes.find((p) => p.role === `xlvs run ${m}`)!;
    process.kill(mproc.pid, 'SIGKILL');
    run(inNs(dir.ns, ['ip', 'link', 'set', L.interface, 'down']));
    if (L.inner) run(inNs(dir.ns, ['ip', 'link', 'set', L.inner.interface, 'down']));
    mark(`${m} fails (daemon SIGKILLed, ${L.interface}${L.inner ? ` and ${L.inner.interface}` : ''} down)`);
    const other = L.directors.find((d) => d.name !== m)!;
    let lost = 0;
    let tried = 0;
    let tookOver = false;
    for (const end = Date.now() + 20_000; Date.now() < end;) {
      const s = shoot(L, `${dr}?fo=${tried}`, L.clientAddresses[tried % L.clientAddresses.length]);
      tried++;
      if (!s.ok) lost++;
      if (!tookOver && labStatus(prefix).directors.find((d) => d.name === other.name)?.holdsVips.length) {
        tookOver = true;
        mark(`${other.name} is Master (holds the VIPs)`);
      }
      if (tookOver && s.ok) { mark(`requests answered (${lost} of ${tried} failed while ${other.name} took over)`); break; }
    }
    if (!tookOver) mark(`${other.name} did not take over within 20 s`);
    printShares(log, `${n} requests to ${dr} through ${other.name}`, shares(L, dr, n), n);
    if (L.inner) {
      const nat = `http://${L.vips[0]}:8080/`;
      // The new Master has never sent to the clients on the LAN: its first NAT reply to each goes
      // to the kernel untranslated while it resolves the client's MAC (no_neigh), and the real
      // retransmits a second later (TCP's initial RTO). Behind a router, as clients usually are,
      // the router's MAC is known and nothing is lost. Hence a timeout above one second here.
      printShares(log, `${n / 2} requests to ${nat} (NAT) through ${other.name}, which took the inner gateway too`, shares(L, nat, n / 2, 3), n / 2);
    }
    log('timeline:');
    for (const l of timeline) log(`  ${l}`);
  } finally {
    if (!o.keep) {
      await labDown(prefix);
      log(`lab "${prefix}" removed`);
    } else {
      log(`lab "${prefix}" kept: xlvs lab down --prefix ${prefix} removes it`);
    }
  }
}
