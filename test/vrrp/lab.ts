// A two-router VRRP lab for the interop tests: namespaces A and B, each with eth0 on a bridge
// in a third namespace, plus helpers to run xlvs's standalone VRRP runner and Debian's
// keepalived inside them. Everything is removed by `cleanup()`.
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ChildProcess } from 'node:child_process';
import { Netlab } from '../../src/lab/netns';

export const STANDALONE = path.join(__dirname, '..', '..', 'src', 'cli', 'vrrp-standalone.js');

export interface Speaker {
  proc: ChildProcess;
  log: () => string;
  /** Resolves when the output matches `re` (checked on what was already printed, too). */
  waitLog: (re: RegExp, ms: number) => Promise<void>;
  stop: (sig?: NodeJS.Signals) => Promise<void>;
}

export class VrrpLab {
  readonly lab: Netlab;
  readonly a: string;
  readonly b: string;
  readonly br: string;
  readonly dir: string;
  constructor(prefix: string, readonly net: string) {
    this.lab = new Netlab(prefix);
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), `xlvs-${prefix}-`));
    this.br = this.lab.addNs('br');
    this.lab.addBridge(this.br, 'br0');
    this.a = this.lab.addNs('a');
    this.b = this.lab.addNs('b');
    this.lab.addVeth(this.a, 'eth0', this.br, `${prefix}a`.slice(0, 15), { bMaster: 'br0' });
    this.lab.addVeth(this.b, 'eth0', this.br, `${prefix}b`.slice(0, 15), { bMaster: 'br0' });
    this.lab.addAddr(this.a, 'eth0', `${net}.1/24`);
    this.lab.addAddr(this.b, 'eth0', `${net}.2/24`);
    this.lab.addAddr(this.br, 'br0', `${net}.254/24`);
  }

  addr(ns: string): string { return ns === this.a ? `${this.net}.1` : `${this.net}.2`; }
  peer(ns: string): string { return ns === this.a ? `${this.net}.2` : `${this.net}.1`; }

  /** Whether `vip` is on eth0 of `ns`. */
  hasVip(ns: string, vip: string): boolean {
    const out = this.lab.exec(ns, ['ip', '-4', '-o', 'addr', 'show', 'dev', 'eth0']).stdout;
    return out.split('\n').some((l) => l.includes(` ${vip}/`));
  }

  file(name: string, text: string): string {
    const p = path.join(this.dir, name);
    fs.writeFileSync(p, text);
    return p;
  }

  speakerOf(proc: ChildProcess): Speaker {
    let out = '';
    proc.stdout?.on('data', (d) => { out += d; });
    proc.stderr?.on('data', (d) => { out += d; });
    const waitLog = (re: RegExp, ms: number) => new Promise<void>((resolve, reject) => {
      const t0 = Date.now();
      const tick = () => {
        if (re.test(out)) return resolve();
        if (proc.exitCode !== null) return reject(new Error(`process exited (${proc.exitCode}) before ${re}:\n${out}`));
        if (Date.now() - t0 > ms) return reject(new Error(`timeout waiting for ${re}:\n${out}`));
        setTimeout(tick, 20);
      };
      tick();
    });
    const stop = (sig: NodeJS.Signals = 'SIGTERM') => new Promise<void>((resolve) => {
      if (proc.exitCode !== null || proc.signalCode !== null) return resolve();
      proc.once('exit', () => resolve());
      try { process.kill(proc.pid!, sig); } catch { resolve(); }
    });
    return { proc, log: () => out, waitLog, stop };
  }

  /** xlvs's runner in `ns` with the given topology fragment (JSON). */
  xlvs(ns: string, name: string, doc: unknown): Speaker {
    const f = this.file(`${name}.json`, JSON.stringify(doc, null, 2));
    // `ip netns exec` → node directly, so SIGTERM to the child PID reaches our runner (exec).
    return this.speakerOf(this.lab.spawn(ns, [process.execPath, STANDALONE, '-c', f]));
  }

  /** keepalived in `ns` (VRRP only, foreground, console log, own pid files); config checked first. */
  keepalived(ns: string, name: string, conf: string): Speaker {
    const f = this.file(`${name}.conf`, conf);
    const check = this.lab.exec(ns, ['keepalived', '-t', '-f', f], { allowFail: true });
    if (check.status !== 0) throw new Error(`keepalived -t rejected ${f}: ${check.stdout}${check.stderr}`);
    return this.speakerOf(this.lab.spawn(ns, ['keepalived', '-n', '-l', '-D', '-P', '-f', f,
      '-p', path.join(this.dir, `${name}.pid`), '-r', path.join(this.dir, `${name}.vrrp.pid`)]));
  }

  /** A tcpdump in the bridge namespace writing `file` (pcap); resolves once it listens. */
  async tcpdump(file: string, filter: string[]): Promise<Speaker> {
    const sp = this.speakerOf(this.lab.spawn(this.br, ['tcpdump', '-i', 'br0', '--immediate-mode', '-U', '-n', '-w', file, ...filter]));
    await sp.waitLog(/listening on/, 5000);
    return sp;
  }

  /** SIGKILL keepalived's VRRP child (from its pid file) and then the parent: a hard crash. */
  killKeepalived(name: string, sp: Speaker): void {
    const pid = this.childPid(name);
    if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    try { process.kill(sp.proc.pid!, 'SIGKILL'); } catch { /* gone */ }
  }

  private childPid(name: string): number | null {
    try { return Number(fs.readFileSync(path.join(this.dir, `${name}.vrrp.pid`), 'utf8').trim()) || null; } catch { return null; }
  }

  async cleanup(): Promise<void> {
    await this.lab.cleanup();
    // keepalived children whose parent was SIGKILLed would outlive the namespace: end them too.
    for (const f of fs.existsSync(this.dir) ? fs.readdirSync(this.dir) : []) {
      const m = /^(.*)\.vrrp\.pid$/.exec(f);
      const pid = m ? this.childPid(m[1]) : null;
      if (pid) try { process.kill(pid, 'SIGKILL'); } catch { /* gone */ }
    }
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export async function waitUntil(fn: () => boolean, ms: number, step = 20): Promise<number> {
  const t0 = Date.now();
  for (;;) {
    if (fn()) return Date.now() - t0;
    if (Date.now() - t0 > ms) throw new Error(`condition not met within ${ms} ms`);
    await new Promise((r) => setTimeout(r, step));
  }
}

export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** keepalived.conf for one instance (keepalived.conf(5) keywords). */
export function keepalivedConf(o: {
  name?: string; vrid: number; priority: number; vip: string; advert?: string; version?: 2 | 3;
  pass?: string; state?: 'MASTER' | 'BACKUP'; nopreempt?: boolean; preemptDelay?: number;
  unicastSrc?: string; unicastPeers?: string[]; extra?: string;
}[]): string {
  const inst = o.map((i) => `vrrp_instance ${i.name ?? `VI_${i.vrid}`} {
  state ${i.state ?? 'BACKUP'}
  interface eth0
  virtual_router_id ${i.vrid}
  priority ${i.priority}
  advert_int ${i.advert ?? '1'}
  version ${i.version ?? 2}
${i.pass ? `  authentication {\n    auth_type PASS\n    auth_pass ${i.pass}\n  }\n` : ''}${i.nopreempt ? '  nopreempt\n' : ''}${i.preemptDelay !== undefined ? `  preempt_delay ${i.preemptDelay}\n` : ''}${i.unicastSrc ? `  unicast_src_ip ${i.unicastSrc}\n  unicast_peer {\n${i.unicastPeers!.map((p) => `    ${p}\n`).join('')}  }\n` : ''}  virtual_ipaddress {
    ${i.vip}
  }
${i.extra ?? ''}}
`).join('\n');
  return `global_defs {\n  router_id ka\n  vrrp_garp_master_delay 1\n}\n${inst}`;
}
