// `xlvs lab up|down|status`: the whole LVS site of config/lab.yaml on one machine, in network
// namespaces named `<prefix>-…` (never touching the root namespace's links):
//
//   <p>-client ─┐                         ┌─ <p>-real1 (eth0 LAN, eth1 TUN segment)
//   <p>-dir1 ───┤ br0 (in <p>-br) ────────┼─ <p>-real2 …
//   <p>-dir2 ───┤                         │
//   <p>-rtr ────┘ eth0 (LAN)  eth1 ── br1 ┘ (TUN segment, MTU 1600)
//   <p>-dir1/2 eth1 (director.inside_interface) ── br2 ── <p>-nat1, <p>-nat2 (NAT segment; their
//                                                  default route the inner VRRP address)
//
// Directors run `xlvs run -c <generated topology>`; reals run `xlvs realserver up` and the lab's
// HTTP/echo servers. Everything lab up creates is found again by name by `lab down`, so down works
// after an interrupted up, from another process, and when nothing is there.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { spawn } from 'node:child_process';
import { XlvsError, ErrorCodes } from '../errors';
import { repoRoot, bpfObject } from '../paths';
import { Netlab, nsExists } from './netns';
import { run, inNs } from '../sys/exec';
import { deriveLayout, labNamespacePattern, LabLayout, LAB } from './layout';
import { xlvsArgv } from './xlvs-cli';
import { liveXdp, LiveProg } from '../realserver/live';
import { loadTopology } from '../config/load';

export const DEFAULT_PREFIX = 'xl';
export function defaultLabConfig(): string { return path.join(repoRoot(), 'config', 'lab.yaml'); }

export interface LabProcess {
  role: string; ns: string; pid: number; argv: string[]; log: string;
  /** A string of the program's own command line: `down` kills a recorded PID only if it still has it. */
  marker: string;
}
export interface LabState {
  version: 1;
  prefix: string;
  config: string;
  createdAt: string;
  processes: LabProcess[];
  /** Bridge-side veth peers carrying xdp_pass, and the mode the kernel took. */
  peerXdp: { ns: string; dev: string; mode: 'native' | 'generic' }[];
  bpffs: string;
  directors: { started: boolean; note: string };
}

export type Log = (line: string) => void;
const quiet: Log = () => undefined;

function stateFile(prefix: string): string { return path.join(LAB.runDir, prefix, 'state.json'); }

function readLabState(prefix: string): LabState | null {
  try {
    return JSON.parse(fs.readFileSync(stateFile(prefix), 'utf8')) as LabState;
  } catch {
    return null;
  }
}
function writeLabState(s: LabState): void {
  fs.mkdirSync(path.dirname(stateFile(s.prefix)), { recursive: true });
  fs.writeFileSync(stateFile(s.prefix), JSON.stringify(s, null, 2) + '\n');
}

/** Does this build have the daemon (`xlvs run`)? */
function hasRunCommand(): boolean {
  // Required lazily: the CLI loads this module through commands/lab.ts.
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const { buildProgram } = require('../cli/main') as typeof import('../cli/main');
  return buildProgram().commands.some((c) => c.name() === 'run');
}

function alive(pid: number): boolean {
  try { process.kill(pid, 0); return true; } catch { return false; }
}

function sleep(ms: number): Promise<void> { return new Promise((r) => setTimeout(r, ms)); }

/** Starts a process in `ns`, detached from us, output to `log`; `ip netns exec` execs, so the PID is the program's. */
function startDetached(ns: string, argv: string[], log: string): number {
  const fd = fs.openSync(log, 'a');
  try {
    const full = inNs(ns, argv);
    const p = spawn(full[0], full.slice(1), { detached: true, stdio: ['ignore', fd, fd] });
    p.unref();
    if (!p.pid) throw new XlvsError(ErrorCodes.SYSTEM, `cannot start ${argv.join(' ')} in ${ns}`);
    return p.pid;
  } finally {
    fs.closeSync(fd);
  }
}

async function waitFor(what: string, ok: () => boolean, pid: number, log: string, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (ok()) return;
    if (!alive(pid)) break;
    await sleep(100);
  }
  if (ok()) return;
  const tail = fs.existsSync(log) ? fs.readFileSync(log, 'utf8').trim().split('\n').slice(-8) : [];
  throw new XlvsError(ErrorCodes.SYSTEM, `lab: ${what} ${alive(pid) ? `not ready after ${ms} ms` : 'exited'} (log ${log})`, { details: tail });
}

export interface LabUpOptions { prefix?: string; config?: string; directors?: 'auto' | 'yes' | 'no'; log?: Log }

/** Builds the lab; anything left by an earlier run with this prefix is removed first. All or nothing. */
export async function labUp(o: LabUpOptions = {}): Promise<{ layout: LabLayout; state: LabState }> {
  const prefix = o.prefix ?? DEFAULT_PREFIX;
  const config = path.resolve(o.config ?? defaultLabConfig());
  const log = o.log ?? quiet;
  let text: string;
  try { text = fs.readFileSync(config, 'utf8'); } catch (e) {
    throw new XlvsError(ErrorCodes.USAGE, `lab: cannot read ${config}: ${(e as Error).message}`);
  }
  loadTopology(text, config); // every schema problem at once, before anything is built
  const L = deriveLayout(text, prefix, config);
  for (const obj of ['xdp_pass', 'decap']) {
    if (!fs.existsSync(bpfObject(obj))) throw new XlvsError(ErrorCodes.USAGE, `lab: ${bpfObject(obj)} is missing: run make build`);
  }
  const wantDirectors = o.directors ?? 'auto';
  const canRun = hasRunCommand();
  if (wantDirectors === 'yes' && !canRun) throw new XlvsError(ErrorCodes.USAGE, 'lab: --directors asked for, but this build has no `xlvs run` command');

  if (readLabState(prefix) || L.namespaces.some(nsExists)) {
    log(`lab: removing what an earlier lab "${prefix}" left`);
    await labDown(prefix);
  }
  const state: LabState = {
    version: 1, prefix, config, createdAt: new Date().toISOString(), processes: [], peerXdp: [], bpffs: L.pinRoot,
    directors: { started: false, note: '' },
  };
  fs.mkdirSync(L.dir, { recursive: true });
  writeLabState(state);
  try {
    await build(L, state, log);
    if (wantDirectors === 'no' || !canRun) {
      state.directors.note = wantDirectors === 'no' ? 'not started (--no-directors)' : 'not started: this build has no `xlvs run` command yet';
      log(`lab: directors ${state.directors.note}`);
    } else {
      await startDirectors(L, state, log);
    }
    writeLabState(state);
  } catch (e) {
    log(`lab: up failed, cleaning up: ${(e as Error).message.split('\n')[0]}`);
    await labDown(prefix);
    throw e;
  }
  return { layout: L, state };
}

async function build(L: LabLayout, state: LabState, log: Log): Promise<void> {
  const n = new Netlab(L.prefix); // creation helpers only; labDown removes by name
  // bpffs for the directors' pins, in the root mount namespace: `ip netns exec` gives each
  // command a fresh /sys/fs/bpf (docs/lab-notes.md), but sees mounts made here.
  fs.mkdirSync(L.pinRoot, { recursive: true });
  run(['mount', '-t', 'bpf', 'bpf', L.pinRoot]);
  fs.mkdirSync(path.join(L.pinRoot, 'xlvs'), { recursive: true });
  log(`lab: bpffs at ${L.pinRoot}`);
  const short = (ns: string): string => ns.slice(L.prefix.length + 1);
  for (const ns of L.namespaces) n.addNs(short(ns));
  const br = L.ns.bridge;
  n.addBridge(br, 'br0');
  if (L.tunCidr) n.addBridge(br, 'br1');
  if (L.inner) n.addBridge(br, 'br2');
  const plen = L.lanPrefixLen;
  const dev = L.interface;

  n.addVeth(L.ns.client, 'eth0', br, 'c0', { bMaster: 'br0' });
  L.clientAddresses.forEach((a) => n.addAddr(L.ns.client, 'eth0', `${a}/${plen}`));
  // docs/lab-notes.md: a veth sender leaves TCP checksums partial and native XDP loses that state.
  n.exec(L.ns.client, ['ethtool', '-K', 'eth0', 'tx', 'off']);

  for (const d of L.directors) {
    const peer = `d${d.short.slice(3)}`;
    n.addVeth(d.ns, dev, br, peer, { bMaster: 'br0', mtu: L.tunCidr ? LAB.tunMtu : undefined });
    n.addAddr(d.ns, dev, `${d.address}/${plen}`);
    if (L.tunCidr) n.exec(d.ns, ['ip', 'route', 'add', L.tunCidr, 'via', L.routerLan, 'dev', dev]);
    // docs/lab-notes.md: native XDP_TX on a veth needs an XDP program on the peer end.
    state.peerXdp.push({ ns: br, dev: peer, mode: attachPass(br, peer) });
    if (L.inner) {
      // NAT's second arm: frames XDP redirects into it need the same on its peer.
      const ipeer = `n${d.short.slice(3)}`;
      n.addVeth(d.ns, L.inner.interface, br, ipeer, { bMaster: 'br2' });
      n.addAddr(d.ns, L.inner.interface, `${d.innerAddress}/${L.inner.prefixLen}`);
      state.peerXdp.push({ ns: br, dev: ipeer, mode: attachPass(br, ipeer) });
      // What XDP leaves to the kernel after a NAT rewrite (a next hop whose MAC is not known
      // yet) is forwarded by it, as an LVS-NAT director's kernel forwards.
      n.exec(d.ns, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    }
  }
  if (L.tunCidr) {
    n.addVeth(L.ns.router, 'eth0', br, 'rt0', { bMaster: 'br0', mtu: LAB.tunMtu });
    n.addVeth(L.ns.router, 'eth1', br, 'rt1', { bMaster: 'br1', mtu: LAB.tunMtu });
    n.addAddr(L.ns.router, 'eth0', `${L.routerLan}/${plen}`);
    n.addAddr(L.ns.router, 'eth1', `${L.routerTun}/${L.tunCidr.split('/')[1]}`);
    n.exec(L.ns.router, ['sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
  }
  const servers = path.join(__dirname, 'servers.js');
  for (const [i, r] of L.reals.entries()) {
    n.addVeth(r.ns, 'eth0', br, `r${i + 1}`, { bMaster: 'br0' });
    n.addAddr(r.ns, 'eth0', `${r.lanAddress}/${plen}`);
    if (r.tunAddress && L.tunCidr) {
      n.addVeth(r.ns, 'eth1', br, `t${i + 1}`, { bMaster: 'br1', mtu: LAB.tunMtu });
      n.addAddr(r.ns, 'eth1', `${r.tunAddress}/${L.tunCidr.split('/')[1]}`);
    }
    const vips = [...new Set([...r.drVips, ...r.tunVips])];
    if (vips.length) {
      const args = ['realserver', 'up', ...vips.flatMap((v) => ['--vip', v])];
      if (r.tunVips.length && r.tunAddress) args.push('--tun', '--dev', 'eth1');
      else args.push('--dev', 'eth0');
      const res = run(inNs(r.ns, xlvsArgv(args)), { allowFail: true });
      if (res.status !== 0) throw new XlvsError(ErrorCodes.SYSTEM, `lab: ${r.short}: xlvs ${args.join(' ')} failed: ${res.stderr.trim()}`);
    }
    const logf = path.join(L.dir, `${r.short}.log`);
    const argv = [process.execPath, servers, '--name', r.short, '--http', String(LAB.httpPort), '--echo', String(LAB.echoPort)];
    const pid = startDetached(r.ns, argv, logf);
    state.processes.push({ role: `servers ${r.short}`, ns: r.ns, pid, argv, log: logf, marker: servers });
    writeLabState(state);
  }
  for (const [i, r] of L.natReals.entries()) {
    n.addVeth(r.ns, 'eth0', br, `nr${i + 1}`, { bMaster: 'br2' });
    n.addAddr(r.ns, 'eth0', `${r.address}/${L.inner!.prefixLen}`);
    // Replies go back through the director holding the inner VRRP address (LVS-NAT).
    n.exec(r.ns, ['ip', 'route', 'add', 'default', 'via', L.inner!.gateway, 'dev', 'eth0']);
    // docs/lab-notes.md: a veth sender leaves TCP checksums partial; XDP rewrites them.
    n.exec(r.ns, ['ethtool', '-K', 'eth0', 'tx', 'off']);
    const logf = path.join(L.dir, `${r.short}.log`);
    const argv = [process.execPath, servers, '--name', r.short, '--http', String(LAB.httpPort), '--echo', String(LAB.echoPort), '--udp', String(LAB.udpPort)];
    const pid = startDetached(r.ns, argv, logf);
    state.processes.push({ role: `servers ${r.short}`, ns: r.ns, pid, argv, log: logf, marker: servers });
    writeLabState(state);
  }
  for (const p of state.processes) {
    await waitFor(`${p.role}`, () => fs.readFileSync(p.log, 'utf8').includes('ready '), p.pid, p.log, 10_000);
  }
  log(`lab: ${L.namespaces.length} namespaces, ${L.reals.length} reals serving HTTP :${LAB.httpPort} and echo :${LAB.echoPort}` +
    (L.natReals.length ? `, ${L.natReals.length} NAT reals behind the directors (also UDP :${LAB.udpPort})` : ''));
}

/** xdp_pass on a bridge-side veth peer: native, generic only if native is refused. */
function attachPass(ns: string, dev: string): 'native' | 'generic' {
  const obj = bpfObject('xdp_pass');
  if (run(inNs(ns, ['ip', 'link', 'set', 'dev', dev, 'xdpdrv', 'obj', obj, 'sec', 'xdp']), { allowFail: true }).status === 0) return 'native';
  run(inNs(ns, ['ip', 'link', 'set', 'dev', dev, 'xdpgeneric', 'obj', obj, 'sec', 'xdp']));
  return 'generic';
}

async function startDirectors(L: LabLayout, state: LabState, log: Log): Promise<void> {
  for (const d of L.directors) {
    const topo = path.join(L.dir, `${d.short}.yaml`);
    fs.writeFileSync(topo, d.topologyYaml);
    // Warm the neighbour table so the data plane finds every real's MAC at once.
    for (const a of [...L.reals.map((r) => r.lanAddress), ...L.natReals.map((r) => r.address)]) {
      run(inNs(d.ns, ['curl', '-s', '-o', '/dev/null', '-m', '1', `http://${a}:${LAB.httpPort}/`]), { allowFail: true });
    }
    const logf = path.join(L.dir, `${d.short}.log`);
    // `ip netns exec` mounts a fresh bpffs on /sys/fs/bpf (docs/lab-notes.md); put the lab's persistent one
    // there instead, so the daemon pins under the default /sys/fs/bpf/xlvs and a restarted daemon
    // finds them. Paths are positional parameters, never interpolated into the script.
    const argv = ['sh', '-c', 'mount --bind "$0" /sys/fs/bpf && exec "$@"', L.pinRoot, ...xlvsArgv(['run', '-c', topo])];
    const pid = startDetached(d.ns, argv, logf);
    state.processes.push({ role: `xlvs run ${d.name}`, ns: d.ns, pid, argv, log: logf, marker: topo });
    writeLabState(state);
  }
  for (const [i, d] of L.directors.entries()) {
    const p = state.processes[state.processes.length - L.directors.length + i];
    await waitFor(`xlvs run ${d.name}`, () => fs.existsSync(d.socket), p.pid, p.log, 20_000);
  }
  state.directors = { started: true, note: `xlvs run in ${L.directors.map((d) => d.ns).join(', ')}` };
  log(`lab: directors running (${L.directors.map((d) => d.name).join(', ')}); VRRP decides the Master`);
}

/** Removes lab `prefix`: processes (by PID), namespaces, the bpffs mount, files. Safe when nothing is up. */
export async function labDown(prefix: string = DEFAULT_PREFIX, log: Log = quiet): Promise<string[]> {
  if (!/^[a-z0-9][a-z0-9-]{0,7}$/.test(prefix)) throw new XlvsError(ErrorCodes.USAGE, `lab prefix "${prefix}" must be 1-8 of [a-z0-9-]`);
  const removed: string[] = [];
  const state = readLabState(prefix);
  const pattern = labNamespacePattern(prefix);
  const namespaces = run(['ip', 'netns', 'list'], { allowFail: true }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => pattern.test(n));
  // Processes: those we recorded (if still the same program) and anything else living in our namespaces.
  const pids = new Set<number>();
  for (const p of state?.processes ?? []) {
    let cmdline = '';
    try { cmdline = fs.readFileSync(`/proc/${p.pid}/cmdline`, 'utf8'); } catch { continue; }
    if (p.marker && cmdline.includes(p.marker)) pids.add(p.pid);
  }
  for (const ns of namespaces) {
    for (const l of run(['ip', 'netns', 'pids', ns], { allowFail: true }).stdout.split('\n')) if (/^\d+$/.test(l.trim())) pids.add(Number(l.trim()));
  }
  pids.delete(process.pid);
  for (const pid of pids) { try { process.kill(pid, 'SIGTERM'); } catch { /* gone */ } }
  const end = Date.now() + 3000;
  while ([...pids].some(alive) && Date.now() < end) await sleep(50);
  for (const pid of pids) if (alive(pid)) { try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ } }
  if (pids.size) removed.push(`${pids.size} process(es)`);
  for (const ns of namespaces) {
    run(['ip', 'netns', 'del', ns], { allowFail: true });
    fs.rmSync(`/run/xlvs/realserver-${ns}.json`, { force: true });
    removed.push(`netns ${ns}`);
  }
  const dir = path.join(LAB.runDir, prefix);
  const mnt = path.join(dir, 'bpffs');
  for (let i = 0; i < 4 && isMountPoint(mnt); i++) run(['umount', mnt], { allowFail: true });
  if (isMountPoint(mnt)) throw new XlvsError(ErrorCodes.SYSTEM, `lab: cannot unmount ${mnt}`);
  for (const d of [1, 2]) fs.rmSync(`/run/xlvs/${prefix}-dir${d}.sock`, { force: true });
  if (fs.existsSync(dir)) { fs.rmSync(dir, { recursive: true, force: true }); removed.push(dir); }
  for (const r of removed) log(`lab: removed ${r}`);
  return removed;
}

function isMountPoint(p: string): boolean {
  const abs = path.resolve(p);
  return fs.readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === abs);
}

export interface LabStatus {
  prefix: string;
  up: boolean;
  namespaces: { ns: string; present: boolean }[];
  processes: (LabProcess & { alive: boolean })[];
  xdp: (LiveProg & { ns: string; role: string })[];
  directors: { name: string; ns: string; socket: boolean; holdsVips: string[] }[];
  directorsNote: string;
  problems: string[];
}

/** What is up now, from the state file checked against the kernel. */
export function labStatus(prefix: string = DEFAULT_PREFIX): LabStatus {
  const state = readLabState(prefix);
  const res: LabStatus = { prefix, up: !!state, namespaces: [], processes: [], xdp: [], directors: [], directorsNote: state?.directors.note ?? '', problems: [] };
  if (!state) {
    const left = run(['ip', 'netns', 'list'], { allowFail: true }).stdout.split('\n').map((l) => l.split(' ')[0]).filter((n) => labNamespacePattern(prefix).test(n));
    res.namespaces = left.map((ns) => ({ ns, present: true }));
    if (left.length) res.problems.push(`namespaces without a lab state: run xlvs lab down --prefix ${prefix}`);
    return res;
  }
  const L = deriveLayout(fs.readFileSync(state.config, 'utf8'), prefix, state.config);
  res.namespaces = L.namespaces.map((ns) => ({ ns, present: nsExists(ns) }));
  for (const n of res.namespaces) if (!n.present) res.problems.push(`namespace ${n.ns} is missing`);
  res.processes = state.processes.map((p) => ({ ...p, alive: alive(p.pid) }));
  for (const p of res.processes) if (!p.alive) res.problems.push(`${p.role} (pid ${p.pid}) is not running; log ${p.log}`);
  const inns = (ns: string, dev: string, role: string): void => {
    if (!nsExists(ns)) return;
    for (const x of liveXdp(dev, ns)) res.xdp.push({ ...x, ns, role });
  };
  for (const d of L.directors) inns(d.ns, L.interface, `director ${d.name}`);
  if (L.inner) for (const d of L.directors) inns(d.ns, L.inner.interface, `director ${d.name} (inside)`);
  for (const p of state.peerXdp) inns(p.ns, p.dev, 'veth peer (xdp_pass)');
  for (const r of L.reals) if (r.tunAddress) inns(r.ns, 'eth1', `decap ${r.short}`);
  for (const d of L.directors) {
    const held = nsExists(d.ns) ? vipsHeld(d.ns, L.interface, L.vips) : [];
    res.directors.push({ name: d.name, ns: d.ns, socket: fs.existsSync(d.socket), holdsVips: held });
  }
  return res;
}


function vipsHeld(ns: string, dev: string, vips: string[]): string[] {
  const r = run(inNs(ns, ['ip', '-j', 'addr', 'show', 'dev', dev]), { allowFail: true });
  if (r.status !== 0) return [];
  const j = JSON.parse(r.stdout || '[]') as { addr_info?: { local: string }[] }[];
  const have = new Set((j[0]?.addr_info ?? []).map((a) => a.local));
  return vips.filter((v) => have.has(v));
}

export function formatLabStatus(s: LabStatus): string {
  const out: string[] = [];
  if (!s.up) {
    out.push(`lab "${s.prefix}": down`);
    for (const p of s.problems) out.push(`  problem: ${p}`);
    return out.join('\n') + '\n';
  }
  out.push(`lab "${s.prefix}": up${s.problems.length ? ` with ${s.problems.length} problem(s)` : ''}`);
  out.push('  namespaces:');
  for (const n of s.namespaces) out.push(`    ${n.ns.padEnd(16)} ${n.present ? 'present' : 'MISSING'}`);
  out.push('  processes:');
  for (const p of s.processes) out.push(`    ${p.role.padEnd(24)} ${p.ns.padEnd(14)} pid ${String(p.pid).padEnd(8)} ${p.alive ? 'running' : 'DEAD'}`);
  out.push('  XDP (native is the default; generic only where native is refused):');
  if (s.xdp.length === 0) out.push('    (none)');
  for (const x of s.xdp) out.push(`    ${x.role.padEnd(24)} ${x.ns}/${x.dev}`.padEnd(48) + ` ${x.attach.padEnd(12)} ${x.name} (id ${x.progId})`);
  out.push(`  directors: ${s.directorsNote}`);
  for (const d of s.directors) out.push(`    ${d.name.padEnd(16)} control socket ${d.socket ? 'present' : 'absent'}; VIPs held: ${d.holdsVips.join(', ') || 'none'}${d.holdsVips.length ? '  (VRRP Master)' : ''}`);
  for (const p of s.problems) out.push(`  problem: ${p}`);
  return out.join('\n') + '\n';
}
