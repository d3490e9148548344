// Failover time of xlvs's VRRP Backup when a keepalived Master crashes (SIGKILL, so no
// priority-0 advert): N kills at advert_int 1 s (VRRPv2) and 0.1 s (VRRPv3). Failover is
// measured from the kill to the transition line xlvs logs (same clock, ms resolution), and
// printed next to the protocol's bound, Master_Down_Interval (RFC 5798 §6.1), as a ratio.
// Runs only inside namespaces it creates. Usage: node dist/bench/vrrp-failover.js [kills]
import { VrrpLab, keepalivedConf, waitUntil, Speaker } from '../test/vrrp/lab';
import { masterDownMs } from '../src/vrrp/state';

export interface FailoverResult { advertMs: number; version: 2 | 3; kills: number; medianMs: number; maxMs: number; boundMs: number; ratio: number; samples: number[] }

const NET = '10.237.0';
const XLVS_PRIORITY = 99;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
}

async function series(L: VrrpLab, version: 2 | 3, advertMs: number, kills: number): Promise<FailoverResult> {
  const vrid = version === 2 ? 71 : 72;
  const vip = `${NET}.${vrid}`;
  const advert = version === 2 ? String(advertMs / 1000) : (advertMs / 1000).toFixed(1);
  const x = L.xlvs(L.a, `bx${vrid}`, { vrrp: [{ name: `VI_${vrid}`, interface: 'eth0', vrid, version, priority: XLVS_PRIORITY, advert_interval: `${advertMs}ms`, vips: [`${vip}/24`], garp: { master_delay: '0s', master_repeat: 1 } }] });
  const samples: number[] = [];
  try {
    const count = (re: RegExp) => x.log().split('\n').filter((l) => re.test(l)).length;
    await x.waitLog(/BACKUP -> MASTER/, 10_000); // alone on the LAN first
    for (let i = 0; i < kills; i++) {
      // keepalived as address owner is Master at once; xlvs steps down on its first advert.
      const name = `bk${vrid}-${i}`;
      const downs = count(/MASTER -> BACKUP/);
      const k: Speaker = L.keepalived(L.b, name, keepalivedConf([{ vrid, priority: 255, vip: `${vip}/24`, version, advert }]));
      await waitUntil(() => count(/MASTER -> BACKUP/) > downs, 10_000);
      const before = count(/BACKUP -> MASTER/);
      await new Promise((r) => setTimeout(r, 2 * advertMs));
      const t0 = Date.now();
      L.killKeepalived(name, k);
      await waitUntil(() => count(/BACKUP -> MASTER/) > before, 10_000, 5);
      const line = x.log().split('\n').filter((l) => /BACKUP -> MASTER/.test(l)).at(-1)!;
      samples.push(Date.parse(line.split(' ')[0]) - t0);
      await k.stop();
      L.lab.exec(L.b, ['ip', 'addr', 'del', `${vip}/24`, 'dev', 'eth0'], { allowFail: true });
    }
  } finally {
    await x.stop();
  }
  const boundMs = masterDownMs(XLVS_PRIORITY, advertMs);
  const med = median(samples);
  return { advertMs, version, kills, medianMs: med, maxMs: Math.max(...samples), boundMs, ratio: med / boundMs, samples };
}

export async function run(kills = 20): Promise<FailoverResult[]> {
  const L = new VrrpLab('vrbench', NET);
  const out: FailoverResult[] = [];
  try {
    for (const [version, advertMs] of [[3, 100], [2, 1000]] as const) {
      const r = await series(L, version, advertMs, kills);
      out.push(r);
      process.stdout.write(`vrrp failover v${version} advert ${advertMs} ms, ${kills} kills: median ${r.medianMs} ms, max ${r.maxMs} ms, ` +
        `bound (master-down interval) ${r.boundMs} ms, median/bound ${r.ratio.toFixed(3)}\n`);
    }
  } finally {
    await L.cleanup();
  }
  return out;
}

if (require.main === module) {
  run(Number(process.argv[2] ?? 20)).catch((e) => { console.error(e); process.exit(1); });
}
