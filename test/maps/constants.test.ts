// The limits validation enforces (src/config/limits.ts) come from LB (src/maps/lb.ts), which
// must equal the #defines of bpf/include/lb_shared.h that size the maps.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { LB } from '../../src/maps/lb';
import { MAX_REALS, MAX_SERVICES, MAX_TABLE_SIZE, MAX_VIP_KEYS } from '../../src/config/limits';
import { MAX_TABLE_SIZE as SPEC_MAX_TABLE_SIZE } from '../../src/dataplane/spec';
import { isPrime } from '../../src/maglev/maglev';
import { repoRoot } from '../../src/paths';

function defines(): Map<string, number> {
  const text = fs.readFileSync(path.join(repoRoot(), 'bpf', 'include', 'lb_shared.h'), 'utf8');
  const out = new Map<string, number>();
  for (const m of text.matchAll(/^#define\s+(LB_\w+)\s+(0x[0-9a-fA-F]+|\d+)\b/gm)) out.set(m[1], Number(m[2]));
  return out;
}

test('LB.MAX_VIPS, MAX_REALS and MAGLEV_MAX equal lb_shared.h; validation limits derive from them', () => {
  const d = defines();
  assert.equal(LB.MAX_VIPS, d.get('LB_MAX_VIPS'));
  assert.equal(LB.MAX_REALS, d.get('LB_MAX_REALS'));
  assert.equal(LB.MAGLEV_MAX, d.get('LB_MAGLEV_MAX'));
  assert.equal(LB.CONN_ENTRIES, d.get('LB_CONN_ENTRIES'));
  assert.equal(LB.VIP_KEYS, d.get('LB_VIP_KEYS'));
  assert.equal(MAX_VIP_KEYS, LB.VIP_KEYS);
  assert.ok(isPrime(LB.MAGLEV_MAX), 'LB_MAGLEV_MAX is prime');
  assert.equal(MAX_SERVICES, LB.MAX_VIPS - 1);
  assert.equal(MAX_REALS, LB.MAX_REALS - 1);
  assert.equal(MAX_TABLE_SIZE, LB.MAGLEV_MAX);
  assert.equal(SPEC_MAX_TABLE_SIZE, LB.MAGLEV_MAX);
});

test('NAT constants equal lb_shared.h', () => {
  const d = defines();
  assert.equal(LB.METHOD_NAT, d.get('LB_METHOD_NAT'));
  assert.equal(LB.METHOD_FULLNAT, d.get('LB_METHOD_FULLNAT'));
  assert.equal(LB.SNAT_ADDRS, d.get('LB_SNAT_ADDRS'));
  assert.equal(LB.NAT_ENTRIES, d.get('LB_NAT_ENTRIES'));
  assert.equal(LB.TX_PORTS, d.get('LB_TX_PORTS'));
  const text = fs.readFileSync(path.join(repoRoot(), 'bpf', 'include', 'lb_shared.h'), 'utf8');
  const hex = (name: string) => Number(new RegExp(`^#define\\s+${name}\\s+(0x[0-9a-f]+)`, 'm').exec(text)?.[1]);
  assert.equal(LB.VF_NAT_SRC, hex('LB_VF_NAT_SRC'));
  assert.equal(LB.VF_SNAT, hex('LB_VF_SNAT'));
  assert.equal(LB.VF_NAT_ON, hex('LB_VF_NAT_ON'));
});

test('LB.VIP_F_GROUP equals lb_shared.h LB_VIP_F_GROUP', () => {
  assert.equal(LB.VIP_F_GROUP, defines().get('LB_VIP_F_GROUP'));
});
