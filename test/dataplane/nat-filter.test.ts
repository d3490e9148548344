// The pre-filter bits NAT adds to lb_vip_filter (bpf/include/lb_shared.h): LB_VF_NAT_ON in every
// slot while some VIP is NAT or full-NAT (and in none otherwise: a director without NAT reads no
// source slot), LB_VF_NAT_SRC in the slot of each NAT real's address, LB_VF_SNAT in the slot of
// each full-NAT pool address; each comes out when its VIP or real goes, other bits of a shared
// slot staying. Read back from the pinned map.
import { describe, test, before, after } from 'node:test';
import * as assert from 'node:assert/strict';
import * as path from 'node:path';
import { BpfMap } from '../../src/loader';
import { vipFilterSlot, LB } from '../../src/maps/lb';
import { parseAddr } from '../../src/dataplane/addr';
import { harness } from './fixtures/harness';

const h = harness('natfilter');
const slotOf = (a: string) => vipFilterSlot(parseAddr(a, 'address').bytes);

function slots(): Uint32Array {
  const m = BpfMap.openPinned(path.join(h.dp().pinDir, 'lb_vip_filter'));
  try {
    const out = new Uint32Array(LB.VIP_FILTER_SLOTS);
    for (const [k, v] of m.lookupBatch()) out[k.readUInt32LE(0)] = v.readUInt32LE(0);
    return out;
  } finally {
    m.close();
  }
}

describe('lb_vip_filter: NAT bits', h.ctx.testOptions ?? {}, () => {
  before(() => h.ctx.before!());
  after(() => h.ctx.after!());

  test('NAT_ON everywhere only while a NAT VIP exists; NAT_SRC on its reals, SNAT on pool addresses', () => {
    const dp = h.dp();
    dp.vips.upsert({ address: '10.0.0.1', port: 80, protocol: 'tcp', method: 'dr' });
    assert.equal(slots().filter((b) => (b & LB.VF_NAT_ON) !== 0).length, 0, 'no NAT VIP: no slot has NAT_ON');

    dp.vips.upsert({ address: '10.0.0.2', port: 80, protocol: 'tcp', method: 'nat' });
    dp.reals.set('10.0.0.2:80/tcp', [{ id: 1, address: '10.1.0.1', mac: '00:00:00:00:00:00', port: 8080, weight: 1, state: 'up' }]);
    dp.vips.upsert({ address: '10.0.0.3', port: 80, protocol: 'tcp', method: 'fullnat', snatPool: { addresses: ['10.1.0.100'] } });
    dp.reals.set('10.0.0.3:80/tcp', [{ id: 2, address: '10.1.0.2', mac: '00:00:00:00:00:00', weight: 1, state: 'up' }]);
    let s = slots();
    assert.equal(s.filter((b) => (b & LB.VF_NAT_ON) !== 0).length, LB.VIP_FILTER_SLOTS, 'every slot has NAT_ON');
    assert.ok(s[slotOf('10.1.0.1')] & LB.VF_NAT_SRC, 'a NAT real\'s slot has NAT_SRC');
    assert.equal(s[slotOf('10.1.0.2')] & LB.VF_NAT_SRC, 0, 'a full-NAT real\'s replies go to the pool: no NAT_SRC');
    assert.ok(s[slotOf('10.1.0.100')] & LB.VF_SNAT, 'the pool address\'s slot has SNAT');
    assert.ok(s[slotOf('10.0.0.1')] & LB.VF_TCP, 'the DR VIP keeps its bit');

    // The NAT real leaves: its bit goes; the full-NAT VIP goes: the pool's bit goes.
    dp.reals.set('10.0.0.2:80/tcp', []);
    dp.vips.remove('10.0.0.3:80/tcp');
    s = slots();
    assert.equal(s[slotOf('10.1.0.1')] & LB.VF_NAT_SRC, 0);
    assert.equal(s[slotOf('10.1.0.100')] & LB.VF_SNAT, 0);
    assert.equal(s.filter((b) => (b & LB.VF_NAT_ON) !== 0).length, LB.VIP_FILTER_SLOTS, 'a NAT VIP is left');

    dp.vips.remove('10.0.0.2:80/tcp');
    s = slots();
    assert.equal(s.filter((b) => (b & LB.VF_NAT_ON) !== 0).length, 0, 'the last NAT VIP gone: NAT_ON gone');
    assert.ok(s[slotOf('10.0.0.1')] & LB.VF_TCP, 'the DR VIP still has its bit');
  });
});
