// `xlvs list` lines of a grouped service: its ports where a service shows its port (ipvsadm's
// FWM line), its reals as they are keyed (no port of their own: `:0`).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatListing } from '../../src/cli/listing';
import type { ServiceStatus, StatusSnapshot } from '../../src/common/status';

const ZERO = { packets: 0n, bytes: 0n, newFlows: 0n };

function service(vip: string, port: number, ports: string | null): ServiceStatus {
  return {
    key: `${vip.includes(':') ? `[${vip}]` : vip}:${ports ?? port}/tcp`, id: 1, vip, port, ports, protocol: 'tcp', method: 'dr', scheduler: 'maglev',
    persistence: { timeoutMs: 600_000, netmask: '255.255.255.255' }, onDown: 'expire', sorryActive: false, counters: ZERO,
    reals: [{ key: '10.20.0.11:0', id: 1, address: '10.20.0.11', port: 0, weight: 1, effectiveWeight: 1, state: 'up', reason: 'ok', mac: null, activeConns: 3, inactiveConns: 1, counters: ZERO }],
  };
}

test('a grouped service is listed with its ports; a plain one with its port', () => {
  const snap = { director: 'd', interface: 'eth0', xdpMode: 'native', services: [service('10.20.0.50', 0, '80,443,10000-10100'), service('2001:db8::5', 0, '80,443'), service('10.20.0.51', 80, null)] } as unknown as StatusSnapshot;
  const plain = formatListing(snap, 'plain').split('\n');
  assert.ok(plain.includes('TCP  10.20.0.50:80,443,10000-10100 mh persistent 600'), plain.join('\n'));
  assert.ok(plain.includes('TCP  [2001:db8::5]:80,443 mh persistent 600'), plain.join('\n'));
  assert.ok(plain.includes('TCP  10.20.0.51:80 mh persistent 600'), plain.join('\n'));
  assert.ok(plain.some((l) => /^  -> 10\.20\.0\.11:0 +Route +1 +3 +1$/.test(l)), plain.join('\n'));
  const stats = formatListing(snap, 'stats');
  assert.match(stats, /^TCP  10\.20\.0\.50:80,443,10000-10100 +0 +0 +0 +0 +0$/m);
});
