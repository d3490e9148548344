// End to end on the lab's NAT site (config/lab.yaml as shipped: two NAT reals alone on the inner
// segment behind the directors, their default route the inner VRRP address), one lab for the
// file, in order:
//  1. NAT with port mapping: HTTP to VIP:8080 reaches both reals on port 80, the answers come
//     from VIP:8080, and a real sees the client's own address.
//  2. UDP through NAT and full-NAT: every datagram is answered, from the VIP and the service port.
//  3. Full-NAT: the real sees the director's pool address, not the client's; the client still
//     talks to VIP:8080.
//  4. A NAT real goes down: its health check takes it out and every request lands on the other;
//     back up, both serve again.
//  5. The Master fails with NAT connections open: the Backup takes the VIP and the inner gateway
//     address (one sync group) and the same connections keep echoing through it; its daemon is
//     then killed and restarted, and they keep echoing (pinned tables, adopted).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as path from 'node:path';
import { run, inNs } from '../../src/sys/exec';
import { EchoClient, waitFor, labForFile } from './lib/e2e-lab';

const P = 'e2n';
const VIP = '10.81.0.100';
const FVIP = '10.81.0.200';
const POOL = '10.83.0.4';

// Both NAT reals up on the Master before traffic is judged.
const { lab, G } = labForFile(P, ['curl', 'ss'], (l) => waitFor('NAT reals up on director 1', async () => {
  const s = await l.service(1, VIP, 8080);
  return s.reals.every((r) => r.state === 'up');
}, 15_000).then(() => undefined));

/** UDP datagrams from the client namespace, one per source and round. */
function udp(host: string, port: number, rounds: number): { source: string; from?: string; real?: string; echo?: string; error?: string }[] {
  const r = run(inNs(lab.client, [process.execPath, path.join(__dirname, 'lib', 'udp-client.js'), host, String(port), lab.L.clientAddresses.join(','), String(rounds), '2000']), { timeoutMs: 60_000 });
  return (JSON.parse(r.stdout.trim()) as { replies: { source: string; from?: string; real?: string; echo?: string; error?: string }[] }).replies;
}

/**
 * The peers of TCP connections to `port` in a namespace (what the real sees), without the
 * directors' own health checks (from their inner addresses).
 */
function peersOf(ns: string, port: number, states = ['established']): string[] {
  const out = run(inNs(ns, ['ss', '-tnH', ...states.flatMap((st) => ['state', st]), `( sport = :${port} )`])).stdout;
  const directors = lab.L.directors.map((d) => d.innerAddress);
  // The servers listen on :: (dual stack): an IPv4 peer shows as [::ffff:a.b.c.d]:port.
  return out.split('\n').filter(Boolean).map((l) => l.trim().split(/\s+/).pop()!.replace(/:\d+$/, '').replace(/^\[(?:::ffff:)?(.*)\]$/, '$1'))
    .filter((a) => !directors.includes(a));
}

test('NAT: VIP:8080 reaches both reals on port 80 and the answers come back from the VIP; the real sees the client', G, async () => {
  const before1 = await lab.service(1, VIP, 8080);
  const web = lab.shares(`http://${VIP}:8080/`, 20);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));
  assert.deepEqual([...web.keys()].sort(), ['nat1', 'nat2'], `answers per real: ${JSON.stringify([...web])}`);
  const after1 = await lab.service(1, VIP, 8080);
  for (const r of after1.reals) {
    const b = before1.reals.find((x) => x.address === r.address)!;
    assert.ok(r.counters.packets > b.counters.packets, `${r.address}:${r.port} counted no packets`);
  }
  // NAT keeps the client's address: the real's socket is connected to it.
  const echo = new EchoClient(lab);
  await echo.open(VIP, 6380, 6, 'echo connections through NAT');
  await echo.round('seen', 'echo through NAT');
  const peers = [...lab.L.natReals.flatMap((r) => peersOf(r.ns, 6379))];
  assert.equal(peers.length, 6, `connections on the reals: ${peers.join(', ')}`);
  for (const p of peers) assert.ok(lab.L.clientAddresses.includes(p), `a NAT real sees ${p}, not a client address`);
  await echo.close();
});

test('UDP through NAT and full-NAT: every datagram is answered from the VIP and the service port', G, async () => {
  for (const vip of [VIP, FVIP]) {
    const replies = udp(vip, 53, 4);
    assert.deepEqual(replies.filter((r) => r.error), [], `UDP to ${vip}:53`);
    for (const r of replies) assert.equal(r.from, `${vip}:53`, `answer to ${r.source} came from ${r.from}`);
    assert.ok(replies.every((r) => /^q \d+$/.test(r.echo!)), 'each answer carries its own datagram');
    assert.deepEqual([...new Set(replies.map((r) => r.real))].sort(), ['nat1', 'nat2'], `UDP to ${vip}: answers per real ${JSON.stringify(replies.map((r) => r.real))}`);
  }
});

test('full-NAT: the real sees the director\'s pool address, the client talks to VIP:8080', G, async () => {
  const web = lab.shares(`http://${FVIP}:8080/`, 12);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));
  assert.deepEqual([...web.keys()].sort(), ['nat1', 'nat2']);
  // A connection held open shows whom each side talks to: the client the VIP, the real the pool.
  const held = new EchoClient(lab);
  await held.open(FVIP, 8080, 4, 'connections held open through full-NAT');
  try {
    const client = run(inNs(lab.client, ['ss', '-tnH', 'state', 'established', 'dst', FVIP])).stdout;
    assert.equal(client.split('\n').filter((l) => l.includes(`${FVIP}:8080`)).length, 4, `the client's sockets: ${client}`);
    const seen = lab.L.natReals.flatMap((r) => peersOf(r.ns, 80));
    assert.equal(seen.length, 4, `connections on the reals: ${seen.join(', ')}`);
    assert.deepEqual([...new Set(seen)], [POOL], 'a full-NAT real sees only the pool address');
  } finally {
    await held.close();
  }
});

test('a NAT real goes down: its check takes it out, every request goes to the other; back, both serve', G, async () => {
  process.kill(lab.pidOf('servers nat2'), 'SIGTERM');
  await waitFor('nat2 down on director 1', async () => (await lab.service(1, VIP, 8080)).reals.find((r) => r.address === '10.83.0.52')!.state === 'down', 10_000);
  const web = lab.shares(`http://${VIP}:8080/`, 12);
  assert.deepEqual([...web], [['nat1', 12]]);
  await lab.startServers('nat2');
  await waitFor('nat2 up again', async () => (await lab.service(1, VIP, 8080)).reals.find((r) => r.address === '10.83.0.52')!.state === 'up', 10_000);
  const again = lab.shares(`http://${VIP}:8080/`, 20);
  assert.deepEqual([...again.keys()].sort(), ['nat1', 'nat2'], JSON.stringify([...again]));
});

test('the Master fails with NAT connections open: the Backup takes both addresses and they keep echoing', G, async () => {
  const d2 = lab.dir(2);
  const echo = new EchoClient(lab);
  const flows = await echo.open(VIP, 6380, 10, 'NAT connections before the failover');
  await echo.round('before', 'echo before the failover');
  const conns1 = await lab.connections(1);
  const realOf1 = new Map(flows.map((f) => [f, conns1.get(f)]));
  assert.ok([...realOf1.values()].every(Boolean), `the Master has every connection: ${JSON.stringify([...realOf1])}`);
  lab.failDirector(1);
  const ms = await lab.waitHolds(d2.name, 20_000);
  process.stdout.write(`# ${d2.name} holds the VIPs ${ms} ms after director 1 failed\n`);
  // The inner gateway moved with the VIP (sync group): the reals' replies reach the new Master.
  await waitFor(`${d2.name} to hold the inner gateway ${lab.L.inner!.gateway}`, () => run(inNs(d2.ns, ['ip', '-br', 'addr', 'show', 'dev', lab.L.inner!.interface])).stdout.includes(`${lab.L.inner!.gateway}/`), 10_000);
  await echo.round('after', 'the same NAT connections after the failover', 15_000);
  const conns2 = await lab.connections(2);
  for (const f of flows) assert.equal(conns2.get(f), realOf1.get(f), `${f}: real on ${d2.name} vs director 1`);
  const web = lab.shares(`http://${VIP}:8080/`, 10);
  assert.equal(web.get('failed'), undefined, JSON.stringify([...web]));

  // The new Master's daemon is killed and started again: the XDP program and its pinned tables
  // (the connections, the NAT reverse entries) carried the flows meanwhile; the new daemon adopts them.
  const prog = lab.xdpProgId(2);
  process.kill(lab.pidOf(`xlvs run ${d2.name}`), 'SIGKILL');
  await echo.round('orphan', 'NAT connections while no daemon runs', 8000);
  await lab.startDaemon(2, lab.topologyFile(2));
  await echo.round('adopted', 'the same NAT connections under the restarted daemon', 8000);
  assert.equal(lab.xdpProgId(2), prog, 'the restarted daemon adopted the attached program');
  const conns3 = await lab.connections(2);
  for (const f of flows) assert.equal(conns3.get(f), realOf1.get(f), `${f}: real after the restart`);
  await echo.close();
});
