// SPDX-License-Identifier: GPL-2.0
/* lb: the director's XDP program. Parses the frame, finds the VIP, picks a real (connection
 * table, then persistence, then the VIP's weighted Maglev table, then the sorry real) and
 * forwards by DR or TUN with XDP_TX. Everything else goes to the kernel untouched, counted by
 * reason; malformed packets are dropped, never forwarded.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <bpf/bpf_helpers.h>
#include "lb_shared.h"
#include "parsing.h"
#include "csum.h"
#include "stats.h"
#include "maglev.h"
#include "conntrack.h"
#include "encap.h"

#define NS_PER_MS 1000000ULL

/* Persistence templates: CLOCK_MONOTONIC at tick resolution (bpf-helpers(7),
 * bpf_ktime_get_coarse_ns; 4 ms at HZ=250), plenty for timeouts in ms. bpf_ktime_get_ns reads
 * the TSC and cost 30 ns of the 106 ns net of an established DR packet here; the coarse clock
 * reads the timekeeper's last tick: 106 -> 77 ns (bench/dataplane.ts, same run). */
static __always_inline __u64 lb_now(void)
{
	return bpf_ktime_get_coarse_ns();
}

/* The second connection entries expire by: lb_config.now_s, CLOCK_MONOTONIC in whole seconds
 * as the daemon writes it every second. A second's resolution is what IPVS's timeouts need, and
 * the field shares the config's cache line, read for every packet anyway: with the clock in a map
 * of its own, an established DR packet cost 11-30 ns more (one more cold cache line per call,
 * bench/dataplane.ts). Zero (nobody writes it: simulate, most tests) falls back to the kernel's
 * coarse clock; tests of expiry write it to move time. */
static __always_inline __u32 flow_now(const struct lb_config *cfg)
{
	return cfg->now_s ? cfg->now_s : (__u32)(lb_now() / 1000000000ULL);
}

/* A timestamp is written only when it changed, so a busy flow dirties its entry once per
 * clock step, not once per packet. */
static __always_inline void touch(__u64 *stamp, __u64 now)
{
	if (*stamp != now)
		*stamp = now;
}

/* One entry per port of a service: a grouped service (LB_VIP_F_GROUP) has one per port of its
 * list and ranges, all the same vip_info, so every port finds the same id (one Maglev table,
 * one persistence template per client, as IPVS's fwmark services) with one lookup whatever the
 * number of ranges. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(max_entries, LB_VIP_KEYS);
	__type(key, struct vip_key);
	__type(value, struct vip_info);
} lb_vips SEC(".maps");

/* lb_reals and lb_vip_ids are BPF_F_MMAPABLE for where that puts their values: page-aligned, so
 * each 64-byte entry is one cache line (an array's values otherwise start 16 bytes into one). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct real_info);
} lb_reals SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_config);
} lb_cfg SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct vip_entry);
} lb_vip_ids SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_VIP_FILTER_SLOTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_vip_filter SEC(".maps");

/* lb_no_accept: the addresses of VRRP instances in no-accept mode (keepalived no_accept,
 * RFC 5798 §6.4.3 Accept_Mode False), keyed as a vip_key with port and protocol 0. A packet to
 * one that no VIP service takes is dropped instead of going to the kernel, which would accept
 * it since the address is on the interface; neighbour solicitations and advertisements still
 * pass (IPv4 ARP is not IP and always passes). Each address also sets LB_VF_NO_ACCEPT in its
 * lb_vip_filter slot, so other traffic pays nothing for this. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, struct vip_key);
	__type(value, __u32);
} lb_no_accept SEC(".maps");

/* lb_peers: the MACs of the other reals of each VIP that has a local real (struct peer_key in
 * lb_shared.h), written by the control plane with the VIP's reals. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(map_flags, BPF_F_NO_PREALLOC);	/* sized for every real; most directors hold none */
	__uint(max_entries, LB_MAX_PEERS);
	__type(key, struct peer_key);
	__type(value, __u32);
} lb_peers SEC(".maps");

/* The slot of the XOR of an address's 32-bit words (an IPv4 address is its only word). */
static __always_inline __u32 vip_slot_of(__u32 x)
{
	return (x * LB_VIP_FILTER_MULT) >> (32 - LB_VIP_FILTER_BITS);
}

static __always_inline __u32 lb_vip_slot(const __u8 *addr)
{
	const __u32 *w = (const __u32 *)addr;

	return vip_slot_of(w[0] ^ w[1] ^ w[2] ^ w[3]);
}

/* NAT and full-NAT: after the maps and helpers it reads (lb_cfg, lb_reals, lb_vip_ids,
 * lb_vip_filter, the flow tables). */
#include "nat.h"

/* The LB_VF_* bits of the packet's protocol: a VIP with a port, and a port-0 VIP. */
static __always_inline __u32 vf_exact(const struct pkt *p)
{
	return p->flow.proto == IPPROTO_TCP ? LB_VF_TCP : LB_VF_UDP;
}

static __always_inline __u32 vf_all(const struct pkt *p)
{
	return p->flow.proto == IPPROTO_TCP ? LB_VF_TCP_ALL : LB_VF_UDP_ALL;
}

/* Exact {addr, port, proto} first, then the address's port-0 (all ports) VIP; each lookup
 * only when the pre-filter bits (lb_vip_filter) say such a VIP may exist. Measured
 * (bench/dataplane.ts, 7 x 20000 calls, same run, net of XDP_PASS): non-VIP 37.4 -> 18.2 ns. */
static __always_inline struct vip_info *vip_find(const struct pkt *p, __u32 bits)
{
	struct vip_key k;
	struct vip_info *v;

	__builtin_memset(&k, 0, sizeof(k));
	__builtin_memcpy(k.addr, p->flow.dst, 16);
	k.port = p->flow.dport;
	k.proto = p->flow.proto;
	k.family = p->flow.family;
	if (bits & vf_exact(p)) {
		v = bpf_map_lookup_elem(&lb_vips, &k);
		if (v)
			return v;
	}
	if (!(bits & vf_all(p)))
		return NULL;
	k.port = 0;
	return bpf_map_lookup_elem(&lb_vips, &k);
}

/* The VIP of an established flow by its connection entry's vip_id, without hashing: only
 * when the entry at that id is still the VIP vip_find() would return for this packet (same
 * address, protocol and port, or port 0 while no VIP with a port may share the address).
 * A grouped VIP keeps its lowest port in the key and its highest in port_hi: a port between
 * them is taken on trust, since the entry was made when vip_find() gave this id for this very
 * 5-tuple and a group never changes its ports under one id (other ports are another service
 * key, hence another id). Only an id freed and reused by a group of the same address and
 * protocol within a stale entry's timeout could mislead this, as for a single port.
 * NULL sends the packet to vip_find(). */
static __always_inline struct vip_info *vip_of_conn(const struct pkt *p,
						    const struct conn_value *cv, __u32 bits)
{
	__u32 id = cv->vip_id;
	struct vip_entry *e = bpf_map_lookup_elem(&lb_vip_ids, &id);
	const __u64 *a, *b;

	if (!e || e->info.id != id || !id)
		return NULL;
	if (e->key.proto != p->flow.proto || e->key.family != p->flow.family)
		return NULL;
	a = (const __u64 *)e->key.addr;
	b = (const __u64 *)p->flow.dst;
	if (a[0] != b[0] || a[1] != b[1])
		return NULL;
	if (e->key.port == p->flow.dport)
		return &e->info;
	if (e->info.flags & LB_VIP_F_GROUP) {
		__u16 port = bpf_ntohs(p->flow.dport);

		return port >= bpf_ntohs(e->key.port) && port <= bpf_ntohs(e->port_hi) ? &e->info : NULL;
	}
	if (e->key.port == 0 && !(bits & vf_exact(p)))
		return &e->info;
	return NULL;
}

static __always_inline struct real_info *real_of(__u32 id, __u32 vip_id)
{
	struct real_info *r;

	if (!id)
		return NULL;
	r = bpf_map_lookup_elem(&lb_reals, &id);
	if (!r || r->state == LB_REAL_NONE || r->vip_id != vip_id)
		return NULL;
	return r;
}

/* May an established flow stay on its real? A SYN on a real out of selection is a new
 * connection (client port reuse) and is scheduled again. */
static __always_inline int flow_stays(const struct real_info *r, const struct vip_info *v,
				      int syn)
{
	switch (r->state) {
	case LB_REAL_UP:
		return 1;
	case LB_REAL_DRAIN:
		return !syn;
	case LB_REAL_DOWN:
		return !syn && v->on_down == LB_ON_DOWN_KEEP;
	}
	return 0;
}

/* The common case of a director's traffic that is not ours, decided before the full parse:
 * a TCP or UDP packet whose destination address and protocol have no bit in lb_vip_filter.
 * Reads only the IP header's bounds, version, protocol and destination; everything else
 * (length, checksum, options, fragments, the L4 header) is checked only for packets that may
 * be ours, since the rest goes to the kernel, which checks it itself. A fragment or a
 * malformed packet to another address is therefore counted as not_vip; IPv6 with extension
 * headers and other protocols take the full parse and keep their own reasons.
 * Non-VIP net of XDP_PASS (bench/dataplane.ts --compare, same runs): 19.8 -> 10-12 ns.
 * Also tells whether the destination is an lb_no_accept address (*no_accept), looked up only
 * when its slot has LB_VF_NO_ACCEPT; an IPv6 neighbour solicitation or advertisement never
 * counts as one. Returns 1 for "not ours", 0 for "parse it"; *slot_bits is the destination's
 * lb_vip_filter entry once looked up, so the full path does not look it up again. */
static __always_inline int early_filter(const struct cursor *c, int ethertype, int *no_accept,
					__u32 **slot_bits, int *nat_hint)
{
	__u32 slot, src_slot, proto, *bits, want;
	struct vip_key k;

	if (ethertype == ETH_P_IP) {
		struct iphdr *ip = c->pos;

		if ((void *)(ip + 1) > c->end || ip->version != 4)
			return 0;
		proto = ip->protocol;
		slot = vip_slot_of(ip->daddr);
		src_slot = vip_slot_of(ip->saddr);
	} else if (ethertype == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = c->pos;

		if ((void *)(ip6 + 1) > c->end || ip6->version != 6)
			return 0;
		proto = ip6->nexthdr;
		slot = lb_vip_slot((const __u8 *)&ip6->daddr);
		src_slot = lb_vip_slot((const __u8 *)&ip6->saddr);
	} else {
		return 0;
	}
	bits = bpf_map_lookup_elem(&lb_vip_filter, &slot);
	if (!bits)
		return 0;
	*slot_bits = bits;
	if (*bits & LB_VF_NO_ACCEPT) {
		__builtin_memset(&k, 0, sizeof(k));
		if (ethertype == ETH_P_IP) {
			struct iphdr *ip = c->pos;

			__builtin_memcpy(k.addr, &ip->daddr, 4);
			k.family = LB_AF_INET;
		} else {
			struct ipv6hdr *ip6 = c->pos;
			__u8 *type = (void *)(ip6 + 1);

			__builtin_memcpy(k.addr, &ip6->daddr, 16);
			k.family = LB_AF_INET6;
			/* RFC 4861 §4.3, §4.4: the address must still resolve. */
			if (proto == IPPROTO_ICMPV6 && (void *)(type + 1) <= c->end &&
			    (*type == 135 || *type == 136))
				k.family = 0;
		}
		if (k.family && bpf_map_lookup_elem(&lb_no_accept, &k))
			*no_accept = 1;
	}
	if (proto == IPPROTO_TCP)
		want = LB_VF_TCP | LB_VF_TCP_ALL;
	else if (proto == IPPROTO_UDP)
		want = LB_VF_UDP | LB_VF_UDP_ALL;
	else
		return 0;
	/* A reply of a NAT real (nat.h): to a full-NAT pool address, or from a NAT real's address
	 * (its slot read only while some VIP is NAT: LB_VF_NAT_ON). Measured before this gate was
	 * a bit of the slot read anyway (it read lb_cfg): non-VIP +15 ns net (bench/dataplane.ts
	 * --compare, paired, 9 runs). */
	if ((*bits & LB_VF_SNAT) || ((*bits & LB_VF_NAT_ON) && nat_src_maybe(src_slot)))
		*nat_hint = 1;
	return !(*bits & (want | LB_VF_NO_ACCEPT)) && !*nat_hint;
}

/* Probes of the VIP's Maglev table for a new flow. A health check takes a real out of
 * selection with one lb_reals write (state down or drain) at once, and the control plane
 * rebuilds the table after: until the new table is swapped in, a slot of that real sends the
 * flow on to the next probe (the hash stirred again). Each probe finds a real in selection
 * with the share of slots that are, so with k of N reals out a flow falls through all probes
 * with (k/N)^LB_PICK_PROBES: 2e-10 with half of them out, 1e-4 with three quarters; those few
 * go to the sorry real, like an empty table's. Slots of reals in selection answer at the first
 * probe: this loop costs nothing while no real is out. */
#define LB_PICK_PROBES 32

/* lc and wlc (IPVS's least-connection schedulers, ip_vs_lc.c / ip_vs_wlc.c) look at the first
 * LB_LC_CANDIDATES reals in selection along the flow's Maglev probe sequence and take the one
 * with the least overhead (active x 256 + inactive), per weight for wlc. Candidates come in
 * proportion to weight; ties go to the earlier candidate, so two directors with equal counts
 * choose alike, and a real holding many connections gets a new flow only when every candidate
 * is that real. */
#define LB_LC_CANDIDATES 4

/* The real a new flow of VIP vip_id gets, 0 when none is in selection. maglev, sh, dh: the first
 * candidate of the probe sequence in selection and not over its upper threshold; lc, wlc: the
 * least loaded of the first LB_LC_CANDIDATES such candidates. A global function: the verifier
 * checks it once, not once per caller and path. */
__attribute__((noinline)) __u32 lb_pick(__u32 vip_id, __u32 hash, __u32 sched)
{
	__u64 overhead, best_overhead = 0;
	__u32 m, id, w, best = 0, best_w = 1;
	struct real_info *r;
	void *table;
	int n = 0;

	table = maglev_table(vip_id, &m);
	if (!table || !m)
		return 0;
	for (int i = 0; i < LB_PICK_PROBES; i++) {
		id = maglev_slot(table, m, hash);
		if (!id)
			return best;	/* an empty table (no real in selection at build) */
		r = real_of(id, vip_id);
		if (r && r->state == LB_REAL_UP) {
			if (sched == LB_SCHED_HASH) {
				if (!r->upper_threshold || !overloaded(id, r, &overhead))
					return id;
			} else if (!overloaded(id, r, &overhead)) {
				w = sched == LB_SCHED_WLC ? r->weight : 1;
				if (w && (!best || overhead * best_w < best_overhead * w)) {
					best = id;
					best_overhead = overhead;
					best_w = w;
				}
				if (++n >= LB_LC_CANDIDATES)
					return best;
			}
		}
		hash = maglev_rehash(hash);
	}
	return best;
}

/* lb_select()'s flags: what it needs of the packet besides its flow. */
#define LB_SF_SYN 0x100		/* a SYN without ACK (a new connection) */
#define LB_SF_LOOKED 0x200	/* the caller looked the flow up in lb_conns/lb_conns6: none */
#define LB_SF_LOCAL 0x400	/* local delivery only (local_here()): the flow's real is the VIP's
				 * local real, whatever an entry or the table says */
#define LB_SF_EV 0xff		/* the TCP event (LB_EV_*) */
/* lb_select()'s result: a real id, with LB_SEL_NEW when the flow is new; 0 when the VIP has no
 * real to offer; negative (-LB_PASS_CONN_EXPIRED) when the packet is not to be forwarded. */
#define LB_SEL_NEW 0x10000
#define LB_SEL_ID 0xffff

/* May an entry's real keep a flow of this packet? Under LB_SF_LOCAL only the local real may:
 * an entry made while we were Master and picked a peer is moved to the local real. */
static __always_inline int real_keeps(const struct real_info *r, const struct vip_info *v, int syn,
				      __u32 flags)
{
	return r && flow_stays(r, v, syn) && (!(flags & LB_SF_LOCAL) || (r->flags & LB_RF_LOCAL));
}

/* The state a flow's first packet gives its entry: a SYN opens one (SYN_RECV); any other TCP
 * segment is a connection picked up mid-stream, after a failover or an eviction, and is taken as
 * ESTABLISHED before its own event applies; UDP has one state. */
static __always_inline __u8 first_state(__u8 proto, __u32 flags)
{
	if (proto != IPPROTO_TCP)
		return LB_CS_UDP;
	return tcp_next(flags & LB_SF_SYN ? LB_CS_NONE : LB_CS_ESTABLISHED, flags & LB_SF_EV);
}

/* Applies a packet to an entry it stays with: state, counts, expiry. The common packets (an ACK
 * of an ESTABLISHED connection, any UDP packet) leave the state as it is and take two compares.
 * (Measured with bench/dataplane.ts --compare, paired: within the +-20-70 ns two identical
 * objects differ by on this host; the short path is kept for being the obvious one.) */
static __always_inline void conn_step(struct conn_value *cv, __u8 proto, __u8 ev,
				      const struct vip_info *v, __u32 now)
{
	__u8 st = cv->state, next;
	__u32 exp;

	if (__builtin_expect(st == LB_CS_ESTABLISHED && ev == LB_EV_ACK, 1)) {
		exp = now + v->tmo_tcp;
	} else if (st == LB_CS_UDP) {
		exp = now + v->tmo_udp;
	} else {
		next = proto == IPPROTO_TCP ? tcp_next(st, ev) : st;
		if (next != st) {
			load_move(cv->real_id, st, next);
			cv->state = next;
		}
		exp = now + cs_timeout(v, next);
	}
	if (cv->expires != exp)
		cv->expires = exp;
}

/* The fast path of a confirmed flow: its entry is live, of this VIP, and its real may keep the
 * packet (flow_stays; a SYN on a connection the client was closing is a new one). The packet is
 * applied to the entry and its real returned; NULL sends the packet to lb_select(). */
static __always_inline struct real_info *conn_stays(struct conn_value *cv, const struct pkt *p,
						    const struct vip_info *v, __u32 now, int local)
{
	struct real_info *r;

	if (cv->vip_id != v->id || cs_expired(cv, now) || (p->syn && cs_closing(cv->state)))
		return NULL;
	r = real_of(cv->real_id, v->id);
	if (!r || !flow_stays(r, v, p->syn) || (local && !(r->flags & LB_RF_LOCAL)))
		return NULL;
	conn_step(cv, p->flow.proto, p->tcp_ev, v, now);
	return r;
}

/* The persistence template a new flow of this client follows, if any: the confirmed one in
 * lb_persist, else one an unconfirmed flow of the client left in lb_new. */
static __always_inline __u32 template_real(const struct persist_key *pk, const struct vip_info *v,
					   __u64 pnow, __u32 now, struct persist_value **pvp)
{
	__u64 timeout = (__u64)v->persist_timeout_ms * NS_PER_MS;
	struct persist_value *pv;
	struct conn_value *tv;
	struct flow_key tk;

	pv = bpf_map_lookup_elem(&lb_persist, pk);
	if (pv && (__s64)(pnow - pv->last_used_ns) <= (__s64)timeout) {
		*pvp = pv;
		return pv->real_id;
	}
	template_key_of(&tk, pk);
	tv = new_find(&tk);
	if (tv && tv->vip_id == v->id && !cs_expired(tv, now))
		return tv->real_id;
	return 0;
}

/* Everything but the fast path of a confirmed flow (conn_stays), in one global function the
 * verifier checks once.
 *
 * An expired entry is not used: a SYN or a UDP packet on it is scheduled afresh; a TCP segment
 * other than a SYN goes to the kernel, which resets it, as IPVS does once a connection has
 * expired (it schedules only SYNs). A SYN on a connection the client was closing (FIN_WAIT,
 * TIME_WAIT, CLOSE) is a new connection on a reused port, scheduled afresh; so is a flow whose
 * real may not keep it. Otherwise the flow is looked for in lb_new: a second packet confirms it
 * (the entry moves to lb_conns, a persistence template to lb_persist); else it is new and
 * scheduled: its entry, and the template it would create, go to lb_new. */
__attribute__((noinline)) int lb_select(struct flow_key *f, struct vip_info *v, __u32 hash_seed,
					__u32 flags, __u32 now)
{
	__u32 id = 0, tid = 0;
	struct persist_value *pv = NULL, npv = {};
	struct conn_value ncv = {}, *cv = NULL, *nv;
	int syn = !!(flags & LB_SF_SYN);
	__u8 ev = flags & LB_SF_EV;
	struct persist_key pk;
	struct flow_key tk;
	struct real_info *r;
	__u64 pnow = 0;
	__u8 st;

	if (!f || !v)
		return 0;
	/* Local delivery follows no persistence template: the real is the local one. */
	if (v->persist_timeout_ms && !(flags & LB_SF_LOCAL)) {
		pnow = lb_now();
		persist_key_of(&pk, f, v->id, v->persist_prefix);
	}

	if (!(flags & LB_SF_LOOKED))
		cv = conn_find(f);
	if (cv) {
		if (cv->vip_id == v->id && !cs_expired(cv, now)) {
			if (syn && cs_closing(cv->state)) {
				flow_stat(LB_FS_REUSED);
			} else {
				r = real_of(cv->real_id, v->id);
				if (real_keeps(r, v, syn, flags)) {
					conn_step(cv, f->proto, ev, v, now);	/* a SYN on a live flow */
					return cv->real_id;
				}
			}
			load_add(cv->real_id, cv->state, -1);
		} else if (cv->vip_id == v->id && f->proto == IPPROTO_TCP && !syn) {
			flow_stat(LB_FS_EXPIRED);
			return -LB_PASS_CONN_EXPIRED;
		}
		/* An expired entry is already out of the counts (the census). */
		conn_delete(f);
	}

	nv = new_find(f);
	if (nv) {
		r = nv->vip_id == v->id && !cs_expired(nv, now) ? real_of(nv->real_id, v->id) : NULL;
		if (real_keeps(r, v, syn, flags)) {
			id = nv->real_id;
			if (syn) {
				conn_step(nv, f->proto, ev, v, now);	/* a retransmitted SYN */
				return id;
			}
			/* Confirmed: to the flow table, and its persistence template to lb_persist. */
			ncv = *nv;
			conn_step(&ncv, f->proto, ev, v, now);
			conn_store(f, &ncv, now);
			new_delete(f);
			flow_stat(LB_FS_CONFIRMED);
			if (pnow) {
				pv = bpf_map_lookup_elem(&lb_persist, &pk);
				if (pv && pv->real_id == id) {
					touch(&pv->last_used_ns, pnow);
				} else {
					npv.real_id = id;
					npv.last_used_ns = pnow;
					bpf_map_update_elem(&lb_persist, &pk, &npv, BPF_ANY);
					template_key_of(&tk, &pk);
					new_delete(&tk);	/* now confirmed */
				}
			}
			return id;
		}
		if (nv->vip_id == v->id && !cs_expired(nv, now))
			load_add(nv->real_id, nv->state, -1);
		new_delete(f);
	}

	/* A new flow. Persistence: a client (& mask) keeps its real while the template lives. Like
	 * IPVS with expire_quiescent_template=0, a draining real keeps its persistent clients. */
	if (pnow) {
		tid = template_real(&pk, v, pnow, now, &pv);
		r = real_of(tid, v->id);
		if (r && (r->state == LB_REAL_UP || r->state == LB_REAL_DRAIN)) {
			id = tid;
			if (pv)
				touch(&pv->last_used_ns, pnow);
		}
	}
	if (!id)
		id = flags & LB_SF_LOCAL ? v->local_real :
		     lb_pick(v->id, flow_hash(f, v->hash_fields, hash_seed), v->sched);
	if (!id) {
		id = v->sorry_real;
		r = real_of(id, v->id);
		if (!r || r->state == LB_REAL_DOWN)
			return 0;
	}
	if (!real_of(id, v->id))
		return 0;
	st = first_state(f->proto, flags);
	ncv.real_id = id;
	ncv.vip_id = v->id;
	ncv.state = st;
	ncv.expires = now + cs_timeout(v, st);
	new_store(f, &ncv, now);
	load_add(id, st, 1);
	flow_stat(LB_FS_UNCONFIRMED);
	if (pnow && id != tid) {
		template_key_of(&tk, &pk);
		ncv.state = LB_CS_TEMPLATE;
		/* Lives as long as the handshake may take, or the persistence timeout if shorter. */
		ncv.expires = now + (v->persist_timeout_ms < LB_TMO_SYN_RECV * 1000 ?
				     (v->persist_timeout_ms + 999) / 1000 : LB_TMO_SYN_RECV);
		new_store(&tk, &ncv, now);
	}
	return (id & LB_SEL_ID) | LB_SEL_NEW;
}

/* TUN: encapsulate toward the real, or answer "too big" when the result would exceed MTU. */
static __always_inline int tun_forward(struct xdp_md *ctx, const struct pkt *p,
				       const struct real_info *r, const struct lb_config *cfg)
{
	int v6 = r->family == LB_AF_INET6;
	__u32 overhead = v6 ? sizeof(struct ipv6hdr) : sizeof(struct iphdr);
	__u32 mtu;

	if (v6 ? addr6_is_zero(cfg->tun_src6) : !cfg->tun_src4)
		return LB_DROP_CONFIG;
	if (p->ip_len + overhead > cfg->mtu) {
		if (!p->df)
			return LB_DROP_TOO_BIG;
		mtu = cfg->mtu > overhead ? cfg->mtu - overhead : 0;
		if (p->flow.family == LB_AF_INET)
			return p->l3_off == 18 ? too_big4(ctx, 18, p, cfg, mtu)
					       : too_big4(ctx, 14, p, cfg, mtu);
		return p->l3_off == 18 ? too_big6(ctx, 18, p, cfg, mtu)
				       : too_big6(ctx, 14, p, cfg, mtu);
	}
	if (v6)
		return p->l3_off == 18 ? tun_push6(ctx, 18, p, r, cfg)
				       : tun_push6(ctx, 14, p, r, cfg);
	return p->l3_off == 18 ? tun_push4(ctx, 18, p, r, cfg)
			       : tun_push4(ctx, 14, p, r, cfg);
}

/* lb_vip_filter bits of the flow's destination; NULL when no VIP of its protocol can be there. */
static __always_inline __u32 *vip_bits(const struct pkt *p)
{
	__u32 slot = lb_vip_slot(p->flow.dst);
	__u32 *bits = bpf_map_lookup_elem(&lb_vip_filter, &slot);

	return bits && (*bits & (vf_exact(p) | vf_all(p))) ? bits : NULL;
}

/* The director config when the frame was sent to this director; NULL and *reason otherwise.
 * Only frames sent to us are forwarded: a bridge floods frames for a MAC it has not learned (or
 * for a director whose link went down), and the other director of the pair must not forward
 * them too. Whoever VRRP makes Master owns the VIP's ARP entry, so it gets the traffic. */
static __always_inline struct lb_config *config_if_ours(const struct ethhdr *eth, int *reason)
{
	__u32 zero = 0;
	struct lb_config *cfg = bpf_map_lookup_elem(&lb_cfg, &zero);

	if (!cfg) {
		*reason = LB_DROP_INTERNAL;
		return NULL;
	}
	if (!mac_eq(eth->h_dest, cfg->mac)) {
		*reason = LB_PASS_NOT_OURS;
		return NULL;
	}
	return cfg;
}

/* Sends the packet to the real by the VIP's method; a local real's packet goes to this
 * machine's kernel as it came (the VIP is on lo, src/daemon/local-host.ts). */
static __always_inline int forward(struct xdp_md *ctx, const struct pkt *p, const struct vip_info *v,
				   const struct real_info *r, const struct lb_config *cfg)
{
	if (r->flags & LB_RF_LOCAL)
		return LB_PASS_LOCAL;
	if (v->method == LB_METHOD_TUN)
		return tun_forward(ctx, p, r, cfg);
	return dr_rewrite(ctx, r, cfg);
}

/* Must this VIP's packet be delivered here and never forwarded? Only a VIP with a local real
 * asks (local_real is in the vip_info line already read; other VIPs pay that compare only;
 * bench/dataplane.ts --compare against an object without it: established DR and TUN within
 * 5 ns, inside the run-to-run noise of this host): when we do not
 * hold the VIP (LB_LOCAL_BACKUP, IPVS backup_only), or when the frame comes from a peer
 * director that is a real of the VIP (lb_peers): a flow it forwarded to us must not go back. */
static __always_inline int local_here(const struct vip_info *v, const struct ethhdr *eth)
{
	struct peer_key k;

	if (!v->local_real)
		return 0;
	if (v->local_mode == LB_LOCAL_BACKUP)
		return 1;
	__builtin_memcpy(k.mac, eth->h_source, 6);
	k.vip_id = v->id;
	return bpf_map_lookup_elem(&lb_peers, &k) != NULL;
}

/* ICMP errors that matter to a flow's real: RFC 792 destination unreachable (fragmentation
 * needed is how path MTU discovery works) and time exceeded; RFC 4443 destination
 * unreachable, packet too big and time exceeded. */
static __always_inline int icmp_is_error(int l4, __u8 type)
{
	if (l4 == IPPROTO_ICMP)
		return type == 3 || type == 11;
	return type == 1 || type == 2 || type == 3;
}

/* An ICMP error to a VIP address about one of our flows goes to the flow's real, as IPVS does
 * (ip_vs_in_icmp): with DR and TUN the reals answer clients directly with the VIP as source,
 * so a router on that path that needs a smaller MTU sends "fragmentation needed" or "packet
 * too big" to the VIP, which is the director. Given to the director's kernel, the real never
 * learns the path MTU and large replies vanish. The quoted packet is VIP:port -> client:port;
 * its flow, reversed, is the connection entry's key; without an entry (evicted, or another
 * director's flow after a failover) the VIP's Maglev table names the real a new flow would
 * get. Only TCP and UDP quotes with a 20-byte IPv4 or a bare IPv6 header are followed; the
 * rest, and every other ICMP message, goes to the kernel (proto). The ICMP packet is sent on
 * unchanged except for the MACs (DR) or inside an outer header (TUN). */
static __always_inline int icmp_error(struct xdp_md *ctx, struct cursor *c, struct ethhdr *eth,
				      struct pkt *p, int l4)
{
	struct lb_config *cfg;
	struct conn_value *cv;
	struct real_info *r;
	struct vip_info *v;
	struct pkt q;
	__u32 *bits;
	__u8 *icmp = c->pos, type;
	__u16 *ports;
	int ret;

	if ((void *)(icmp + 8) > c->end || p->l4_len < 8)
		return LB_PASS_PROTO;
	type = icmp[0];
	if (!icmp_is_error(l4, type))
		return LB_PASS_PROTO;
	__builtin_memset(&q, 0, sizeof(q));
	q.flow.family = p->flow.family;
	if (l4 == IPPROTO_ICMP) {
		struct iphdr *in = (void *)(icmp + 8);

		if ((void *)(in + 1) > c->end || in->version != 4 || in->ihl != 5)
			return LB_PASS_PROTO;
		q.flow.proto = in->protocol;
		__builtin_memcpy(q.flow.src, &in->daddr, 4);
		__builtin_memcpy(q.flow.dst, &in->saddr, 4);
		ports = (void *)(in + 1);
	} else {
		struct ipv6hdr *in6 = (void *)(icmp + 8);

		if ((void *)(in6 + 1) > c->end || in6->version != 6)
			return LB_PASS_PROTO;
		q.flow.proto = in6->nexthdr;
		__builtin_memcpy(q.flow.src, &in6->daddr, 16);
		__builtin_memcpy(q.flow.dst, &in6->saddr, 16);
		ports = (void *)(in6 + 1);
	}
	if ((q.flow.proto != IPPROTO_TCP && q.flow.proto != IPPROTO_UDP) ||
	    (void *)(ports + 2) > c->end)
		return LB_PASS_PROTO;
	/* The quote's source is the VIP: it must be the address the error was sent to. */
	if (((__u64 *)q.flow.dst)[0] != ((__u64 *)p->flow.dst)[0] ||
	    ((__u64 *)q.flow.dst)[1] != ((__u64 *)p->flow.dst)[1])
		return LB_PASS_PROTO;
	q.flow.sport = ports[1];
	q.flow.dport = ports[0];
	/* About a NAT flow's packet toward its real (nat.h): q.flow is that flow's reply key. */
	ret = lb_nat_icmp_in(ctx, p, &q.flow);
	if (ret)
		return ret;
	bits = vip_bits(&q);
	if (!bits)
		return LB_PASS_PROTO;
	cfg = config_if_ours(eth, &ret);
	if (!cfg)
		return ret;
	v = vip_find(&q, *bits);
	if (!v)
		return LB_PASS_PROTO;
	if (local_here(v, eth))
		return LB_PASS_LOCAL;	/* about a flow of our own real */
	if (p->ttl <= 1)
		return LB_PASS_TTL;
	if (v->method == LB_METHOD_NAT || v->method == LB_METHOD_FULLNAT)
		return lb_nat_icmp_out(ctx, p, &q.flow, v->id |
				       (v->method == LB_METHOD_FULLNAT ? LB_NAT_FULL : 0));
	cv = conn_find(&q.flow);
	if (!cv)
		cv = new_find(&q.flow);
	r = cv && cv->vip_id == v->id ? real_of(cv->real_id, v->id) : NULL;
	if (!r)
		r = real_of(lb_pick(v->id, flow_hash(&q.flow, v->hash_fields, cfg->hash_seed), v->sched),
			    v->id);
	if (!r)
		return LB_PASS_PROTO;
	ret = forward(ctx, p, v, r, cfg);
	return ret == LB_TX_DR || ret == LB_TX_TUN ? LB_TX_ICMP : ret;
}

static __always_inline int lb_process(struct xdp_md *ctx, int *no_accept)
{
	void *data = (void *)(long)ctx->data;
	struct cursor c = { .pos = data, .end = (void *)(long)ctx->data_end };
	struct lb_config *cfg;
	struct vip_info *v = NULL;
	struct conn_value *cv, *fast = NULL;
	struct real_info *r;
	struct ethhdr *eth;
	struct iphdr *ip;
	struct ipv6hdr *ip6;
	struct pkt p;
	__u32 *bits = NULL, id, now;
	int proto, l4, ret, sel, local, new_flow = 0, nat_hint = 0;

	proto = parse_eth(&c, &eth);
	if (proto < 0)
		return -proto;
	if (early_filter(&c, proto, no_accept, &bits, &nat_hint))
		return LB_PASS_NOT_VIP;
	__builtin_memset(&p, 0, sizeof(p));
	p.l3_off = c.pos - data;
	if (proto == ETH_P_IP)
		l4 = parse_ipv4(&c, &ip, &p);
	else if (proto == ETH_P_IPV6)
		l4 = parse_ipv6(&c, &ip6, &p);
	else
		return LB_PASS_NOT_IP;
	if (l4 < 0)
		return -l4;
	if (l4 == IPPROTO_TCP)
		ret = parse_tcp(&c, &p);
	else if (l4 == IPPROTO_UDP)
		ret = parse_udp(&c, &p);
	else if (l4 == IPPROTO_ICMP || l4 == IPPROTO_ICMPV6)
		return icmp_error(ctx, &c, eth, &p, l4);
	else
		return LB_PASS_PROTO;
	if (ret < 0)
		return -ret;
	p.flow.proto = l4;

	/* Pre-filter: no VIP of this protocol can live at this address (the entry early_filter()
	 * read for the same destination). */
	if (!bits)
		bits = vip_bits(&p);
	else if (!(*bits & (vf_exact(&p) | vf_all(&p))))
		bits = NULL;
	/* A reply of a NAT flow (nat.h), else on to the VIPs. */
	if (nat_hint) {
		ret = lb_nat_reply(ctx, &p, !!bits);
		if (ret)
			return ret;
	}
	if (!bits)
		return LB_PASS_NOT_VIP;
	cfg = config_if_ours(eth, &ret);
	if (!cfg)
		return ret;
	/* Connection first: an established flow finds its VIP by id (vip_of_conn), so it costs
	 * one hash lookup, not two. Established DR, kernel loop of 10000 runs per call (hot
	 * caches): 59 -> 47 ns per run; one run per call (bench/dataplane.ts): 81.8 -> 79.8 net,
	 * inside the +-10 ns that two identical objects differ by there.
	 * A SYN (new connection) is looked up only after vip_find(), by lb_select(): with the
	 * connection lookup first, 150000 SYNs averaged 876 ns per call against 697 (3 runs each,
	 * interleaved); in this order 748. */
	cv = NULL;
	if (!p.syn) {
		cv = conn_find(&p.flow);
		if (cv)
			v = vip_of_conn(&p, cv, *bits);
	}
	if (!v)
		v = vip_find(&p, *bits);
	if (!v)
		return LB_PASS_NOT_VIP;
	/* Not forwarded with a TTL that would expire on the next hop: the kernel answers. */
	if (p.ttl <= 1)
		return LB_PASS_TTL;
	now = flow_now(cfg);
	local = local_here(v, eth);
	r = cv ? conn_stays(cv, &p, v, now, local) : NULL;
	if (r) {
		fast = cv;	/* NAT: its entry, so lb_nat_forward need not look it up */
		id = cv->real_id;
	} else {
		sel = lb_select(&p.flow, v, cfg->hash_seed,
				p.tcp_ev | (p.syn ? LB_SF_SYN : 0) | (!p.syn && !cv ? LB_SF_LOOKED : 0) |
				(local ? LB_SF_LOCAL : 0), now);
		if (sel < 0)
			return LB_PASS_CONN_EXPIRED;	/* its only verdict */
		id = sel & LB_SEL_ID;
		new_flow = !!(sel & LB_SEL_NEW);
		r = real_of(id, v->id);
		if (!r)
			return LB_PASS_NO_REAL;
	}

	/* Local delivery never forwards, whatever real the entry names (lb_select gives the local
	 * one under LB_SF_LOCAL; this holds even if the control plane left local_real stale); a
	 * local real of a NAT service gets the packet as it came, too. */
	if (local || (r->flags & LB_RF_LOCAL))
		ret = LB_PASS_LOCAL;
	else if (v->method == LB_METHOD_NAT || v->method == LB_METHOD_FULLNAT)
		ret = lb_nat_forward(ctx, &p, v->id | (v->method == LB_METHOD_FULLNAT ? LB_NAT_FULL : 0), id,
				     fast);
	else
		ret = forward(ctx, &p, v, r, cfg);
	/* Per real only: a VIP's traffic is the sum of its reals' (src/dataplane/stats.ts), which
	 * saves a per-CPU cache line per packet (lb_vip_stats holds what reals that left carried). */
	if (ret == LB_TX_DR || ret == LB_TX_TUN || ret == LB_TX_NAT || ret == LB_REDIR_NAT || ret == LB_PASS_LOCAL)
		count_traffic(&lb_real_stats, id, p.ip_len, new_flow);
	return ret;
}

/* The fast path: a packet of a confirmed IPv4 flow in its steady state, the packet a director
 * forwards most (a TCP segment with ACK and none of SYN, FIN, RST of an ESTABLISHED connection,
 * or a UDP datagram of a live flow), to a DR or TUN VIP of one port, from a frame without a VLAN
 * tag. It does what lb_process() does for that packet (the same checks, the same entry update,
 * the same counters) in one compact block of code read straight through: the frame checked as
 * parse_eth/parse_ipv4/parse_tcp/parse_udp check it, the filter slot as early_filter() reads it,
 * the director's MAC (config_if_ours), the entry (conn_find), its VIP by id (vip_of_conn, exact
 * port), not local (local_here), conn_stays() and conn_step() for the two steady states, then
 * dr_rewrite() or tun_push4(). Anything else, or any check that fails, returns -1 before a write
 * and the packet takes lb_process() from the start.
 * Why (bench/dataplane.ts, one packet per call, so each call starts with cold caches and branch
 * predictors; 11 runs, paired with the program without it in the same runs): established DR
 * 536 -> 371 ns per call, TUN 556 -> 440. The lookups are the same; the general path's code,
 * spread over the whole program and its branches, cost the difference. A SYN leaves after the
 * filter and its flags; a packet to no VIP is counted not_vip here, as early_filter() would. */
_Static_assert(LB_VF_TCP << 1 == LB_VF_TCP_ALL && LB_VF_UDP << 1 == LB_VF_UDP_ALL, "lb_fast4: want << 1");

static __always_inline int lb_fast4(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct iphdr *ip = data + sizeof(*eth);
	struct tcphdr *t = (void *)(ip + 1);
	struct udphdr *u = (void *)(ip + 1);
	struct lb_counters *c;
	struct lb_reason_stats *rs;
	struct lb_config *cfg;
	struct conn_value *cv;
	struct vip_entry *e;
	struct real_info *r;
	struct conn4_key k;
	__u32 zero = 0, slot, b, *bits, id, vid, tot, l4, now, exp, tmo, want;
	__u8 proto, st;
	int ret, nat;

	if ((void *)(ip + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP) || *(__u8 *)ip != 0x45)
		return -1;
	proto = ip->protocol;
	if (proto != IPPROTO_TCP && proto != IPPROTO_UDP)
		return -1;
	/* early_filter()'s verdict for the packet most traffic to a director is: not ours. */
	slot = vip_slot_of(ip->daddr);
	bits = bpf_map_lookup_elem(&lb_vip_filter, &slot);
	if (!bits)
		return -1;
	b = *bits;
	nat = (b & LB_VF_SNAT) || ((b & LB_VF_NAT_ON) && nat_src_maybe(vip_slot_of(ip->saddr)));
	want = proto == IPPROTO_TCP ? LB_VF_TCP : LB_VF_UDP;
	if (!(b & (want | (want << 1) | LB_VF_NO_ACCEPT)) && !nat) {
		ret = LB_PASS_NOT_VIP;
		goto count;
	}
	if (!(b & want) || (b & LB_VF_NO_ACCEPT) || nat)
		return -1;

	/* 54 bytes: Ethernet, an IPv4 header without options, a TCP header or more than UDP's.
	 * TCP: ACK set; SYN, FIN, RST clear (PSH, URG, ECE, CWR may be anything), tested first so
	 * that a SYN leaves at once. */
	if ((void *)(t + 1) > end || (proto == IPPROTO_TCP && (((__u8 *)t)[13] & 0x17) != 0x10))
		return -1;
	tot = bpf_ntohs(ip->tot_len);
	if (tot < sizeof(*ip) + sizeof(*t) || (void *)ip + tot > end || ip->ttl <= 1 ||
	    (ip->frag_off & bpf_htons(IP_MF | IP_OFFSET)) || ipv4_hdr_csum(ip) != 0)
		return -1;
	l4 = tot - sizeof(*ip);
	if (proto == IPPROTO_TCP) {
		if (t->doff < 5 || t->doff * 4 > l4)
			return -1;
		st = LB_CS_ESTABLISHED;
	} else {
		if (bpf_ntohs(u->len) < sizeof(*u) || bpf_ntohs(u->len) > l4)
			return -1;
		st = LB_CS_UDP;
	}
	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!cfg || !mac_eq(eth->h_dest, cfg->mac))
		return -1;

	__builtin_memset(&k, 0, sizeof(k));
	k.src = ip->saddr;
	k.dst = ip->daddr;
	k.sport = t->source;	/* the same two bytes in a UDP header */
	k.dport = t->dest;
	k.proto = proto;
	cv = conn4_find(&k);
	if (!cv)
		return -1;
	now = flow_now(cfg);
	vid = cv->vip_id;
	id = cv->real_id;
	if (cv->state != st || cs_expired(cv, now) || !vid || !id)
		return -1;
	e = bpf_map_lookup_elem(&lb_vip_ids, &vid);
	if (!e || e->info.id != vid || e->key.family != LB_AF_INET || e->key.proto != proto ||
	    e->key.port != k.dport || *(const __be32 *)e->key.addr != k.dst || e->info.local_real)
		return -1;
	r = bpf_map_lookup_elem(&lb_reals, &id);
	if (!r || r->state != LB_REAL_UP || r->vip_id != vid || (r->flags & LB_RF_LOCAL))
		return -1;
	if (e->info.method == LB_METHOD_DR) {
		ret = LB_TX_DR;
	} else if (e->info.method == LB_METHOD_TUN && r->family == LB_AF_INET && cfg->tun_src4 &&
		   tot + sizeof(struct iphdr) <= cfg->mtu) {
		ret = LB_TX_TUN;
	} else {
		return -1;
	}

	/* From here on the packet is ours: conn_step() of a steady state, forward, count. */
	tmo = st == LB_CS_UDP ? e->info.tmo_udp : e->info.tmo_tcp;
	exp = now + tmo;
	if (cv->expires != exp)
		cv->expires = exp;
	if (ret == LB_TX_DR) {
		eth_set_macs(data, mac48_load(r->mac), cfg);
	} else {
		struct pkt p;

		p.tos = ip->tos;
		p.ip_len = tot;
		p.df = !!(ip->frag_off & bpf_htons(IP_DF));
		p.flow.family = LB_AF_INET;
		ret = tun_push4(ctx, sizeof(*eth), &p, r, cfg);
	}
	c = ret != LB_DROP_INTERNAL ? bpf_map_lookup_elem(&lb_real_stats, &id) : NULL;
	if (c) {
		c->packets++;
		c->bytes += tot;
	}
count:
	rs = bpf_map_lookup_elem(&lb_reasons, &zero);
	if (rs)
		((__u64 *)rs)[ret]++;
	return lb_exit_action(ret);
}

/* What lb_process() leaves to the kernel, except frames for another MAC (the kernel drops
 * those itself), what it forwards or drops, and what it delivers to a local real (a service's
 * flow, which no_accept does not refuse). */
static __always_inline int to_kernel(int reason)
{
	return lb_exit_action(reason) == XDP_PASS && reason != LB_PASS_NOT_OURS &&
	       reason != LB_PASS_NOT_IP && reason != LB_PASS_LOCAL;
}

SEC("xdp")
int xdp_lb(struct xdp_md *ctx)
{
	int no_accept = 0, reason = lb_fast4(ctx);

	if (reason >= 0)
		return reason;
	reason = lb_process(ctx, &no_accept);

	if (no_accept && to_kernel(reason))
		reason = LB_DROP_NO_ACCEPT;
	return lb_exit(reason);
}

char LICENSE[] SEC("license") = "GPL";
