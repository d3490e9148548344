/* NAT and full-NAT (LVS's masquerading, ipvsadm -m / keepalived lb_kind NAT; full-NAT as in
 * the IPVS FNAT patches): the director rewrites addresses and ports and sees both directions.
 *
 *   NAT       client:cport -> VIP:vport   becomes  client:cport -> real:rport
 *             real:rport -> client:cport  becomes  VIP:vport -> client:cport
 *   full-NAT  client:cport -> VIP:vport   becomes  pool:pport -> real:rport
 *             real:rport -> pool:pport    becomes  VIP:vport -> client:cport
 *
 * Forward packets are scheduled as for DR and TUN (lb_select: connection entries, persistence,
 * Maglev, lc/wlc); only the last step differs (nat_forward). A reply is found by lb_nat_rev,
 * keyed by the reply as it arrives and written with the forward flow's entry; it refreshes that
 * entry, so a flow lives while either side talks. The next hop (MACs, egress interface) comes
 * from bpf_fib_lookup, looked up before anything is rewritten, so whatever goes to the kernel
 * (no neighbour, no route) goes untouched. Out of the interface it came in: XDP_TX (one-armed);
 * out of another one the lb program is attached to: XDP_REDIRECT through lb_tx_ports (two-armed).
 *
 * Checksums are updated incrementally (RFC 1624 eqn. 3): the IPv4 header (addresses, TTL), TCP
 * and UDP (pseudo-header addresses and ports; a UDP checksum 0 over IPv4 means "none" and stays
 * 0, RFC 768), and for ICMP errors the quoted header, the quoted transport checksum and the ICMP
 * checksum (ICMPv6's covers the pseudo-header, RFC 4443 §2.3).
 *
 * Which packets are replies is decided without a lookup for traffic that is not NAT:
 * lb_vip_filter's LB_VF_SNAT bit in the slot of a pool address (the destination slot the early
 * filter reads anyway), and LB_VF_NAT_SRC in the slot of a NAT real's address, read (source
 * slot) only while the destination's slot has LB_VF_NAT_ON (set in every slot while a VIP is
 * NAT or full-NAT).
 */
#ifndef XLVS_NAT_H
#define XLVS_NAT_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_shared.h"
#include "csum.h"
#include "parsing.h"
#include "conntrack.h"
#include "maglev.h"
#include "encap.h"

#define LB_SNAT_TRIES 16	/* pool ports tried for a new full-NAT flow before refusing it */
#define AF_INET_ 2
#define AF_INET6_ 10

/* lb_nat_rev: reply -> the forward flow (nat_rev in lb_shared.h). An LRU with per-CPU lists
 * like the flow tables; an entry is also checked against the forward flow's own entry before
 * it is used, so one left over from an older flow is never followed. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, LB_NAT_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct nat_rev);
} lb_nat_rev SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct snat_pool);
} lb_snat SEC(".maps");

/* lb_tx_ports: ifindex -> ifindex of every interface the lb program runs on (the control plane
 * fills it when it attaches), the targets of XDP_REDIRECT. */
struct {
	__uint(type, BPF_MAP_TYPE_DEVMAP_HASH);
	__uint(max_entries, LB_TX_PORTS);
	__type(key, __u32);
	__type(value, __u32);
} lb_tx_ports SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_TX_PORTS);
	__type(key, __u32);
	__type(value, struct lb_iface);
} lb_ifaces SEC(".maps");

/* Was the frame sent to this director: to lb_config.mac, or to the MAC of the interface it came
 * in on (two-armed: the inside interface is the reals' gateway)? A frame for another MAC (a
 * bridge flooded it, or it is the other director's) is not translated. */
static __always_inline int nat_frame_ours(struct xdp_md *ctx, const struct ethhdr *eth,
					  const struct lb_config *cfg)
{
	__u32 ifindex = ctx->ingress_ifindex;
	struct lb_iface *i;

	if (mac_eq(eth->h_dest, cfg->mac))
		return 1;
	i = bpf_map_lookup_elem(&lb_ifaces, &ifindex);
	return i && mac_eq(eth->h_dest, i->mac);
}

/* ---- incremental checksums (RFC 1624) ------------------------------------------------------ */

/* Deltas are sums of ~m + m' (RFC 1624 eqn. 3) kept in 64 bits: over 32-bit words for
 * addresses (one's complement sums may be taken over any word width and folded, RFC 1071
 * §2(C)), 16-bit ones for ports. Summing IPv6 addresses by 16-bit words took clang past the
 * 512-byte stack in the ICMPv6 rewrite. */
static __always_inline __u64 csum_delta32(const void *from, const void *to, int words)
{
	const __u32 *f = from, *t = to;
	__u64 d = 0;

#pragma unroll
	for (int i = 0; i < words; i++)
		d += (__u32)~f[i] + (__u64)t[i];
	return d;
}

static __always_inline __u64 csum_delta16(const __be16 *from, const __be16 *to)
{
	return (__u16)~*from + (__u64)*to;
}

/* A 64-bit sum folded to 16 bits, not complemented. */
static __always_inline __u32 csum_fold_raw(__u64 s)
{
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffffffff) + (s >> 32);
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u32)((s & 0xffff) + (s >> 16));
}

/* HC' = ~(~HC + sum(~m + m')), RFC 1624 eqn. 3. */
static __always_inline void csum_apply(__sum16 *c, __u64 d)
{
	*c = csum_fold32((__u32)(__u16)~*c + csum_fold_raw(d));
}

/* UDP: 0 means "no checksum" over IPv4 and stays so; a result of 0 is sent as all ones
 * (RFC 768; IPv6 UDP always has one, RFC 8200 §8.1). */
static __always_inline void csum_apply_udp(__sum16 *c, __u64 d, int v6)
{
	if (!v6 && !*c)
		return;
	csum_apply(c, d);
	if (!*c)
		*c = 0xffff;
}

static __always_inline void addr_copy(__u8 *dst, const __u8 *src, int v6)
{
	__u32 *d = (__u32 *)dst;
	const __u32 *s = (const __u32 *)src;

	d[0] = s[0];
	if (v6) {
		d[1] = s[1];
		d[2] = s[2];
		d[3] = s[3];
	}
}

static __always_inline int flow_eq(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]) | (x[3] ^ y[3]) | (x[4] ^ y[4]));
}

/* The entry of a forward flow, confirmed or not. */
static __always_inline struct conn_value *nat_conn(const struct flow_key *orig)
{
	struct conn_value *cv = conn_find(orig);

	return cv ? cv : new_find(orig);
}

/* ---- next hop ---------------------------------------------------------------------------- */

/* The next hop of a packet from `src` to `dst` as the kernel would route it (bpf-helpers(7),
 * bpf_fib_lookup): 0 and *fib filled, or the reason it goes to the kernel instead. The kernel
 * resolves a missing neighbour only for packets it routes itself; the reals' neighbours stay
 * resolved by the health checks the director sends them. A packet over the egress MTU is the
 * kernel's too (no_route), which answers "fragmentation needed" when it forwards. Forwarding
 * must be enabled on the ingress interface (net.ipv4.conf.*.forwarding, net.ipv6...). */
static __always_inline int nat_route(struct xdp_md *ctx, struct bpf_fib_lookup *fib, int v6,
				     const __u8 *src, const __u8 *dst, __u8 proto, __be16 sport,
				     __be16 dport, __u16 ip_len, __u8 tos)
{
	long rc;

	__builtin_memset(fib, 0, sizeof(*fib));
	fib->l4_protocol = proto;
	fib->sport = sport;
	fib->dport = dport;
	fib->tot_len = ip_len;
	fib->ifindex = ctx->ingress_ifindex;
	if (v6) {
		fib->family = AF_INET6_;
		__builtin_memcpy(fib->ipv6_src, src, 16);
		__builtin_memcpy(fib->ipv6_dst, dst, 16);
	} else {
		fib->family = AF_INET_;
		fib->tos = tos;
		fib->ipv4_src = *(const __be32 *)src;
		fib->ipv4_dst = *(const __be32 *)dst;
	}
	rc = bpf_fib_lookup(ctx, fib, sizeof(*fib), 0);
	if (rc == BPF_FIB_LKUP_RET_SUCCESS)
		return 0;
	if (rc == BPF_FIB_LKUP_RET_NO_NEIGH)
		return LB_PASS_NO_NEIGH;
	return LB_PASS_NO_ROUTE;
}

/* XDP_TX when the next hop is behind the interface the packet came in by, else a redirect to
 * the egress interface through lb_tx_ports. Decided (the redirect target set) before the packet
 * is rewritten, so an interface we do not run on leaves it untouched. */
static __always_inline int nat_egress(struct xdp_md *ctx, const struct bpf_fib_lookup *fib,
				      int tx, int redir)
{
	if (fib->ifindex == ctx->ingress_ifindex)
		return tx;
	if (bpf_redirect_map(&lb_tx_ports, fib->ifindex, 0) != XDP_REDIRECT)
		return LB_PASS_NO_TX_PORT;
	return redir;
}

static __always_inline void nat_set_macs(void *data, const struct bpf_fib_lookup *fib)
{
	__builtin_memcpy(data, fib->dmac, 6);
	__builtin_memcpy(data + 6, fib->smac, 6);
}

/* ---- rewriting a TCP or UDP packet -------------------------------------------------------- */

/* The IPv4 and IPv6 branches below repeat the TCP/UDP header checks on purpose: with one shared
 * helper clang merges the two bounds checks into one and the verifier loses the bound of the
 * header it then reads ("invalid access to packet" at load, tried 2026-12-07). */
/* Rewrites the packet at data + l2 (l2 a constant: 14, or 18 with an 802.1Q tag, kept) to leave
 * as the reverse of `rk` (from rk's destination and port to its source and port: rk is the key
 * its reply will have), decrements the TTL / hop limit, sets the MACs of the next hop. */
static __always_inline int nat_rewrite(struct xdp_md *ctx, int l2, const struct flow_key *rk,
				       const struct bpf_fib_lookup *fib)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 da, dp;
	__be16 *ports;
	__sum16 *l4c;

	if (data + l2 > end)
		return LB_DROP_INTERNAL;
	if (rk->family == LB_AF_INET) {
		struct iphdr *ip = data + l2;
		__u16 *ttlw, oldw;

		if ((void *)(ip + 1) > end)
			return LB_DROP_INTERNAL;
		ports = (void *)(ip + 1);
		if (rk->proto == IPPROTO_TCP) {
			struct tcphdr *t = (void *)(ip + 1);

			if ((void *)(t + 1) > end)
				return LB_DROP_INTERNAL;
			l4c = &t->check;
		} else {
			struct udphdr *u = (void *)(ip + 1);

			if ((void *)(u + 1) > end)
				return LB_DROP_INTERNAL;
			l4c = &u->check;
		}
		da = csum_delta32(&ip->saddr, rk->dst, 1) + csum_delta32(&ip->daddr, rk->src, 1);
		dp = csum_delta16(ports, &rk->dport) + csum_delta16(ports + 1, &rk->sport);
		ttlw = (__u16 *)&ip->ttl;	/* TTL and protocol: one word of the header sum */
		oldw = *ttlw;
		ip->ttl--;
		csum_apply(&ip->check, da + (__u16)~oldw + *ttlw);
		if (rk->proto == IPPROTO_TCP)
			csum_apply(l4c, da + dp);
		else
			csum_apply_udp(l4c, da + dp, 0);
		ip->saddr = *(const __be32 *)rk->dst;
		ip->daddr = *(const __be32 *)rk->src;
	} else {
		struct ipv6hdr *ip6 = data + l2;

		if ((void *)(ip6 + 1) > end)
			return LB_DROP_INTERNAL;
		ports = (void *)(ip6 + 1);
		if (rk->proto == IPPROTO_TCP) {
			struct tcphdr *t = (void *)(ip6 + 1);

			if ((void *)(t + 1) > end)
				return LB_DROP_INTERNAL;
			l4c = &t->check;
		} else {
			struct udphdr *u = (void *)(ip6 + 1);

			if ((void *)(u + 1) > end)
				return LB_DROP_INTERNAL;
			l4c = &u->check;
		}
		da = csum_delta32(&ip6->saddr, rk->dst, 4) + csum_delta32(&ip6->daddr, rk->src, 4);
		dp = csum_delta16(ports, &rk->dport) + csum_delta16(ports + 1, &rk->sport);
		ip6->hop_limit--;
		if (rk->proto == IPPROTO_TCP)
			csum_apply(l4c, da + dp);
		else
			csum_apply_udp(l4c, da + dp, 1);
		addr_copy((__u8 *)&ip6->saddr, rk->dst, 1);
		addr_copy((__u8 *)&ip6->daddr, rk->src, 1);
	}
	ports[0] = rk->dport;
	ports[1] = rk->sport;
	nat_set_macs(data, fib);
	return 0;
}

/* Route, pick the way out, rewrite: the verdict of a translated TCP/UDP packet, which leaves as
 * the reverse of `rk` (its reply's key: for a forward packet the lb_nat_rev key, for a reply
 * the forward flow's own key). */
static __attribute__((noinline)) int nat_send(struct xdp_md *ctx, const struct pkt *p,
					      const struct flow_key *rk, int tx, int redir)
{
	struct bpf_fib_lookup fib;
	int ret;

	ret = nat_route(ctx, &fib, rk->family == LB_AF_INET6, rk->dst, rk->src, rk->proto,
			rk->dport, rk->sport, p->ip_len, p->tos);
	if (ret)
		return ret;
	ret = nat_egress(ctx, &fib, tx, redir);
	if (ret != tx && ret != redir)
		return ret;
	if (p->l3_off == 18) {
		if (nat_rewrite(ctx, 18, rk, &fib))
			return LB_DROP_INTERNAL;
	} else if (nat_rewrite(ctx, 14, rk, &fib)) {
		return LB_DROP_INTERNAL;
	}
	return ret;
}

/* ---- full-NAT source allocation ----------------------------------------------------------- */

/* Is the flow an lb_nat_rev entry points back to still live and bound to that reply key? */
static __always_inline int nat_rev_live(const struct nat_rev *e, const struct flow_key *rk,
					__u8 addr_ix, __u32 now)
{
	struct conn_value *cv = nat_conn(&e->orig);

	return cv && !cs_expired(cv, now) && cv->real_id == e->real_id &&
	       cv->nat_addr == addr_ix && cv->nat_port == rk->dport;
}

/* A free {pool address, port} for a new full-NAT flow toward the real in rk (its source half,
 * the real's address and port, filled in by the caller); on success rk is the flow's reply
 * key, its lb_nat_rev entry written. Candidates start from the flow's hash and go on port by
 * port (then address by address), LB_SNAT_TRIES of them; a candidate is taken by inserting its
 * reverse entry with BPF_NOEXIST, so two CPUs never take the same one; an entry that is there
 * but whose flow is gone (expired, rescheduled, bound elsewhere) is taken over. Returns
 * (1 + address index) << 16 | port (host order), 0 when every candidate is in use. A global
 * function: the verifier checks its loop once. */
__attribute__((noinline)) __u32 lb_snat_alloc(struct flow_key *rk, struct nat_rev *rv, __u32 hash,
					      __u32 now)
{
	struct snat_pool *pool;
	struct nat_rev *e;
	__u32 vip_id, range, count, c, ix, port;

	if (!rk || !rv)
		return 0;
	vip_id = rv->vip_id;
	pool = bpf_map_lookup_elem(&lb_snat, &vip_id);
	if (!pool || !pool->count || pool->port_hi < pool->port_lo)
		return 0;
	range = (__u32)pool->port_hi - pool->port_lo + 1;
	count = pool->count > LB_SNAT_ADDRS ? LB_SNAT_ADDRS : pool->count;
	for (int i = 0; i < LB_SNAT_TRIES; i++) {
		c = hash + i;
		port = pool->port_lo + c % range;
		ix = (c / range) % count;
		ix &= LB_SNAT_ADDRS - 1;
		__builtin_memcpy(rk->dst, pool->addr[ix], 16);
		rk->dport = bpf_htons(port);
		if (!bpf_map_update_elem(&lb_nat_rev, rk, rv, BPF_NOEXIST))
			return (ix + 1) << 16 | port;
		e = bpf_map_lookup_elem(&lb_nat_rev, rk);
		if (e && !nat_rev_live(e, rk, ix + 1, now) &&
		    !bpf_map_update_elem(&lb_nat_rev, rk, rv, BPF_EXIST))
			return (ix + 1) << 16 | port;
	}
	return 0;
}

/* ---- forward: client -> VIP becomes (pool ->) real --------------------------------------- */

/* The flow's reverse entry, for NAT and for a full-NAT flow already bound: rewritten when it is
 * missing (evicted) or names another flow. NAT: a reply key is the real's address and port and
 * the client's, which two VIPs sharing a real:port may both produce for one client port; the
 * later flow takes the key (as IPVS's connection lookup takes the first match). Full-NAT: the
 * binding is kept only while the key is ours or free; otherwise 1, and a new one is allocated. */
static __always_inline int nat_keep_rev(struct flow_key *rk, struct nat_rev *rv, int full)
{
	struct nat_rev *e = bpf_map_lookup_elem(&lb_nat_rev, rk);

	if (e && e->real_id == rv->real_id && flow_eq(&e->orig, &rv->orig))
		return 0;
	if (e && full)
		return 1;
	bpf_map_update_elem(&lb_nat_rev, rk, rv, full ? BPF_NOEXIST : BPF_ANY);
	return 0;
}

/* Sends a scheduled packet of a NAT or full-NAT VIP (vip_id, method `full` or not) to its real
 * (id). `cv` is the flow's entry when the caller has it (an established flow), else NULL and it
 * is looked up (lb_select just wrote it). Passing it: established NAT 49 ns, full-NAT 83 ns less per
 * packet (bench/dataplane.ts --compare, paired, 9 runs). A global
 * function, as are the other entry points below: the verifier checks each once, and their
 * stack is their own, not added to the lb program's. */
#define LB_NAT_FULL 0x10000	/* with a VIP id: the VIP is full-NAT */
#define LB_NAT_VIP 0xffff

/* The flow clock (lb.bpf.c's flow_now). */
static __always_inline __u32 nat_now(const struct lb_config *cfg)
{
	return cfg->now_s ? cfg->now_s : (__u32)(bpf_ktime_get_coarse_ns() / 1000000000ULL);
}

__attribute__((noinline)) int lb_nat_forward(struct xdp_md *ctx, struct pkt *p, __u32 vip,
					     __u32 id, struct conn_value *cv)
{
	__u32 b, ix, zero = 0, vip_id = vip & LB_NAT_VIP, now;
	int full = !!(vip & LB_NAT_FULL);
	struct snat_pool *pool;
	struct lb_config *cfg;
	struct real_info *r;
	struct flow_key rk;	/* the reply's key: real -> client (full-NAT: -> pool) */
	struct nat_rev rv;

	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!ctx || !p || !cfg)
		return LB_DROP_INTERNAL;
	now = nat_now(cfg);
	r = bpf_map_lookup_elem(&lb_reals, &id);
	if (!r)
		return LB_DROP_INTERNAL;
	if (r->family != p->flow.family)
		return LB_DROP_CONFIG;
	if (!cv)
		cv = nat_conn(&p->flow);
	if (!cv)
		return LB_DROP_INTERNAL;
	__builtin_memset(&rk, 0, sizeof(rk));
	__builtin_memcpy(rk.src, r->addr, 16);
	__builtin_memcpy(rk.dst, p->flow.src, 16);
	rk.sport = r->port ? r->port : p->flow.dport;
	rk.dport = p->flow.sport;
	rk.proto = p->flow.proto;
	rk.family = p->flow.family;
	__builtin_memset(&rv, 0, sizeof(rv));
	rv.orig = p->flow;
	rv.real_id = id;
	rv.vip_id = vip_id;
	if (!full) {
		nat_keep_rev(&rk, &rv, 0);
		return nat_send(ctx, p, &rk, LB_TX_NAT, LB_REDIR_NAT);
	}
	pool = bpf_map_lookup_elem(&lb_snat, &vip_id);
	if (!pool)
		return LB_DROP_INTERNAL;
	ix = cv->nat_addr;
	if (ix >= 1 && ix <= LB_SNAT_ADDRS && ix <= pool->count) {
		__builtin_memcpy(rk.dst, pool->addr[(ix - 1) & (LB_SNAT_ADDRS - 1)], 16);
		rk.dport = cv->nat_port;
		if (!nat_keep_rev(&rk, &rv, 1))
			return nat_send(ctx, p, &rk, LB_TX_NAT, LB_REDIR_NAT);
	}
	/* Not bound yet, or the binding was lost (its key taken by another flow): a new one. */
	b = lb_snat_alloc(&rk, &rv, flow_hash(&p->flow, LB_HASH_5TUPLE, cfg->hash_seed), now);
	if (!b)
		return LB_DROP_SNAT_EXHAUSTED;
	cv->nat_addr = b >> 16;
	cv->nat_port = bpf_htons((__u16)b);
	return nat_send(ctx, p, &rk, LB_TX_NAT, LB_REDIR_NAT);
}

/* ---- replies: real -> client (or pool) becomes VIP -> client ------------------------------ */

/* May this packet be a reply of a NAT real? Its source's slot has LB_VF_NAT_SRC; the caller
 * asks only while the destination's slot has LB_VF_NAT_ON, and checks it for LB_VF_SNAT. */
static __always_inline int nat_src_maybe(__u32 src_slot)
{
	__u32 *bits;

	bits = bpf_map_lookup_elem(&lb_vip_filter, &src_slot);
	return bits && (*bits & LB_VF_NAT_SRC);
}

/* A reply refreshes its flow's entry: the flow lives while either side talks. The real's RST
 * closes it and its FIN starts the close (IPVS's tables for both directions, ip_vs_proto_tcp.c,
 * where an output FIN moves ESTABLISHED to FIN_WAIT). */
static __always_inline void nat_reply_step(struct conn_value *cv, const struct pkt *p,
					   const struct vip_info *v, __u32 now)
{
	__u8 st = cv->state, next = st;
	__u32 exp;

	if (p->flow.proto == IPPROTO_TCP && st != LB_CS_UDP) {
		if (p->tcp_ev == LB_EV_RST)
			next = LB_CS_CLOSE;
		else if (p->tcp_ev == LB_EV_FIN && st == LB_CS_ESTABLISHED)
			next = LB_CS_FIN_WAIT;
	}
	if (next != st) {
		load_move(cv->real_id, st, next);
		cv->state = next;
	}
	exp = now + cs_timeout(v, next);
	if (cv->expires != exp)
		cv->expires = exp;
}

/* The live forward flow of a reply key, with its entry and VIP; NULL when there is none. */
static __always_inline struct nat_rev *nat_reply_flow(const struct flow_key *rk, __u32 now,
						      struct conn_value **cvp,
						      struct vip_entry **vep)
{
	struct nat_rev *rv = bpf_map_lookup_elem(&lb_nat_rev, rk);
	struct conn_value *cv;
	struct vip_entry *ve;
	__u32 vip_id;

	if (!rv)
		return NULL;
	cv = nat_conn(&rv->orig);
	if (!cv || cv->real_id != rv->real_id || cv->vip_id != rv->vip_id || cs_expired(cv, now))
		return NULL;
	vip_id = rv->vip_id;
	ve = bpf_map_lookup_elem(&lb_vip_ids, &vip_id);
	if (!ve || ve->info.id != vip_id)
		return NULL;
	/* Full-NAT: the flow must still be bound to the address and port the reply came to. */
	if (ve->info.method == LB_METHOD_FULLNAT && cv->nat_port != rk->dport)
		return NULL;
	*cvp = cv;
	*vep = ve;
	return rv;
}

/* A TCP or UDP packet that may be a reply (nat_src_maybe or LB_VF_SNAT): rewritten back to
 * VIP:vport -> client:cport and sent on. 0 when it is no reply and may be for a VIP
 * (`vip_maybe`: its destination slot has VIP bits); LB_PASS_NAT_NO_ENTRY when it is neither. */
__attribute__((noinline)) int lb_nat_reply(struct xdp_md *ctx, struct pkt *p, __u32 vip_maybe)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	struct conn_value *cv;
	struct lb_config *cfg;
	struct vip_entry *ve;
	struct nat_rev *rv;
	__u32 now, zero = 0;

	if (!p || (void *)(eth + 1) > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!cfg)
		return LB_DROP_INTERNAL;
	now = nat_now(cfg);
	rv = nat_reply_flow(&p->flow, now, &cv, &ve);
	if (!rv)
		return vip_maybe ? 0 : LB_PASS_NAT_NO_ENTRY;
	if (!nat_frame_ours(ctx, eth, cfg))
		return LB_PASS_NOT_OURS;
	if (p->ttl <= 1)
		return LB_PASS_TTL;
	nat_reply_step(cv, p, &ve->info, now);
	/* Leaves as the reverse of the forward flow: VIP:vport -> client:cport. */
	return nat_send(ctx, p, &rv->orig, LB_TX_NAT_REPLY, LB_REDIR_NAT_REPLY);
}

/* ---- ICMP errors about NAT flows ---------------------------------------------------------- */

/* What an ICMP error becomes: the outer addresses, and the quoted packet's addresses and ports
 * (the quote is the packet the error is about, as it was sent). */
struct nat_icmp_xlat {
	__u8 osrc[16], odst[16];	/* outer */
	__u8 qsrc[16], qdst[16];	/* quoted */
	__be16 qsport, qdport;
};

/* Rewrites an ICMP (ICMPv6) error at data + l2 per x, TTL / hop limit decremented, MACs of the
 * next hop. Quoted: a 20-byte IPv4 header (its checksum updated) or a 40-byte IPv6 header, then
 * the transport header's first 8 bytes at least; the quoted TCP or UDP checksum is updated when
 * the quote holds it. The ICMP checksum takes every change of the bytes it covers: the quote,
 * and for ICMPv6 the outer addresses of its pseudo-header. */
static __always_inline int nat_icmp_rewrite(struct xdp_md *ctx, int l2, int v6,
					    const struct nat_icmp_xlat *x,
					    const struct bpf_fib_lookup *fib, __u32 icmp_len)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u64 dq, dp, dicmp, dout;
	__be16 *ports;
	__sum16 *ic;
	__u8 qproto;

	if (data + l2 > end)
		return LB_DROP_INTERNAL;
	if (!v6) {
		struct iphdr *ip = data + l2, *in;
		__u16 *ttlw, oldw;
		__sum16 oldqc;

		if ((void *)(ip + 1) + 8 + sizeof(*in) + 8 > end)
			return LB_DROP_INTERNAL;
		ic = (void *)(ip + 1) + 2;
		in = (void *)(ip + 1) + 8;
		ports = (void *)(in + 1);
		qproto = in->protocol;
		dout = csum_delta32(&ip->saddr, x->osrc, 1) + csum_delta32(&ip->daddr, x->odst, 1);
		dq = csum_delta32(&in->saddr, x->qsrc, 1) + csum_delta32(&in->daddr, x->qdst, 1);
		dp = csum_delta16(ports, &x->qsport) + csum_delta16(ports + 1, &x->qdport);
		ttlw = (__u16 *)&ip->ttl;
		oldw = *ttlw;
		ip->ttl--;
		csum_apply(&ip->check, dout + (__u16)~oldw + *ttlw);
		ip->saddr = *(const __be32 *)x->osrc;
		ip->daddr = *(const __be32 *)x->odst;
		/* The quoted IPv4 header's checksum: its addresses. */
		oldqc = in->check;
		csum_apply(&in->check, dq);
		dicmp = dq + dp + (__u16)~oldqc + in->check;
		in->saddr = *(const __be32 *)x->qsrc;
		in->daddr = *(const __be32 *)x->qdst;
	} else {
		struct ipv6hdr *ip6 = data + l2, *in6;

		if ((void *)(ip6 + 1) + 8 + sizeof(*in6) + 8 > end)
			return LB_DROP_INTERNAL;
		ic = (void *)(ip6 + 1) + 2;
		in6 = (void *)(ip6 + 1) + 8;
		ports = (void *)(in6 + 1);
		qproto = in6->nexthdr;
		dout = csum_delta32(&ip6->saddr, x->osrc, 4) + csum_delta32(&ip6->daddr, x->odst, 4);
		dq = csum_delta32(&in6->saddr, x->qsrc, 4) + csum_delta32(&in6->daddr, x->qdst, 4);
		dp = csum_delta16(ports, &x->qsport) + csum_delta16(ports + 1, &x->qdport);
		ip6->hop_limit--;
		dicmp = dout + dq + dp;	/* ICMPv6 sums the pseudo-header, RFC 4443 §2.3 */
		addr_copy((__u8 *)&ip6->saddr, x->osrc, 1);
		addr_copy((__u8 *)&ip6->daddr, x->odst, 1);
		addr_copy((__u8 *)&in6->saddr, x->qsrc, 1);
		addr_copy((__u8 *)&in6->daddr, x->qdst, 1);
	}
	/* The quoted transport checksum, when quoted: it covers the quote's pseudo-header and
	 * ports; its change is a change of the ICMP message too. */
	if (qproto == IPPROTO_UDP) {
		__sum16 *qc = (void *)ports + 6, old;

		if ((void *)(qc + 1) <= end && icmp_len >= (v6 ? 8 + 40 + 8 : 8 + 20 + 8)) {
			old = *qc;
			csum_apply_udp(qc, dq + dp, v6);
			dicmp += (__u16)~old + *qc;
		}
	} else {
		__sum16 *qc = (void *)ports + 16, old;

		if ((void *)(qc + 1) <= end && icmp_len >= (v6 ? 8 + 40 + 18 : 8 + 20 + 18)) {
			old = *qc;
			csum_apply(qc, dq + dp);
			dicmp += (__u16)~old + *qc;
		}
	}
	ports[0] = x->qsport;
	ports[1] = x->qdport;
	csum_apply(ic, dicmp);
	nat_set_macs(data, fib);
	return 0;
}

/* One function per family and L2 length (constants for the verifier's packet offsets), each
 * with its own stack frame: the four copies inlined into one took clang past 512 bytes. */
#define NAT_ICMP_RW(name, l2, v6)							\
static __attribute__((noinline)) int name(struct xdp_md *ctx, const struct nat_icmp_xlat *x,	\
					  const struct bpf_fib_lookup *fib, __u32 len)	\
{											\
	return nat_icmp_rewrite(ctx, l2, v6, x, fib, len);				\
}
NAT_ICMP_RW(nat_icmp_rw4_14, 14, 0)
NAT_ICMP_RW(nat_icmp_rw4_18, 18, 0)
NAT_ICMP_RW(nat_icmp_rw6_14, 14, 1)
NAT_ICMP_RW(nat_icmp_rw6_18, 18, 1)

static __attribute__((noinline)) int nat_icmp_send(struct xdp_md *ctx, const struct pkt *p, int v6,
					 const struct nat_icmp_xlat *x)
{
	struct bpf_fib_lookup fib;
	__u32 l2;
	int ret;

	/* Routed as the error's own packet: outer addresses, ICMP. */
	ret = nat_route(ctx, &fib, v6, x->osrc, x->odst, v6 ? IPPROTO_ICMPV6 : IPPROTO_ICMP, 0, 0,
			p->ip_len, p->tos);
	if (ret)
		return ret;
	ret = nat_egress(ctx, &fib, LB_TX_ICMP, LB_REDIR_ICMP);
	if (ret != LB_TX_ICMP && ret != LB_REDIR_ICMP)
		return ret;
	l2 = p->l3_off;
	if (v6 ? (l2 == 18 ? nat_icmp_rw6_18(ctx, x, &fib, p->l4_len)
			   : nat_icmp_rw6_14(ctx, x, &fib, p->l4_len))
	       : (l2 == 18 ? nat_icmp_rw4_18(ctx, x, &fib, p->l4_len)
			   : nat_icmp_rw4_14(ctx, x, &fib, p->l4_len)))
		return LB_DROP_INTERNAL;
	return ret;
}

/* An ICMP error from outside, to the VIP, about a NAT flow: the quoted packet is our
 * translated reply VIP:vport -> client:cport (full-NAT: the same), `orig` (the quote reversed)
 * the flow's key. It goes to the real as the real would have got it had it sent its reply
 * itself: outer destination the real, quote real:rport -> client:cport (full-NAT: -> pool:pport,
 * and the outer source the pool address, the only one the real can route back to). PMTU
 * discovery on the real depends on it (IPVS ip_vs_in_icmp / ip_vs_nat_icmp). */
__attribute__((noinline)) int lb_nat_icmp_out(struct xdp_md *ctx, struct pkt *p,
					      struct flow_key *orig, __u32 vip)
{
	__u32 id, ix, zero = 0, vip_id = vip & LB_NAT_VIP, now;
	int v6, full = !!(vip & LB_NAT_FULL);
	struct nat_icmp_xlat x;
	struct conn_value *cv;
	struct lb_config *cfg;
	struct real_info *r;
	struct snat_pool *pool;

	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!ctx || !p || !orig || !cfg)
		return LB_DROP_INTERNAL;
	now = nat_now(cfg);
	v6 = p->flow.family == LB_AF_INET6;
	cv = nat_conn(orig);
	if (!cv || cv->vip_id != vip_id || cs_expired(cv, now))
		return LB_PASS_PROTO;
	id = cv->real_id;
	r = bpf_map_lookup_elem(&lb_reals, &id);
	if (!r || r->vip_id != vip_id || r->family != p->flow.family)
		return LB_PASS_PROTO;
	__builtin_memset(&x, 0, sizeof(x));
	__builtin_memcpy(x.osrc, p->flow.src, 16);
	__builtin_memcpy(x.odst, r->addr, 16);
	__builtin_memcpy(x.qsrc, r->addr, 16);
	x.qsport = r->port ? r->port : orig->dport;
	__builtin_memcpy(x.qdst, orig->src, 16);
	x.qdport = orig->sport;
	if (full) {
		pool = bpf_map_lookup_elem(&lb_snat, &vip_id);
		ix = cv->nat_addr;
		if (!pool || ix < 1 || ix > LB_SNAT_ADDRS || ix > pool->count)
			return LB_PASS_PROTO;
		__builtin_memcpy(x.qdst, pool->addr[(ix - 1) & (LB_SNAT_ADDRS - 1)], 16);
		x.qdport = cv->nat_port;
		__builtin_memcpy(x.osrc, x.qdst, 16);
	}
	return nat_icmp_send(ctx, p, v6, &x);
}

/* An ICMP error from inside about a NAT flow's forward packet: quoted (client or pool):port ->
 * real:rport, `rk` (the quote reversed) its reply key. It goes to the client from the VIP, the
 * quote as the client sent it: client:cport -> VIP:vport (IPVS ip_vs_out_icmp, which also puts
 * the VIP as the outer source). 0 when the quote is of no NAT flow. */
__attribute__((noinline)) int lb_nat_icmp_in(struct xdp_md *ctx, struct pkt *p, struct flow_key *rk)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;
	__u32 zero = 0, now, slot, *bits;
	struct lb_config *cfg;
	struct nat_icmp_xlat x;
	struct conn_value *cv;
	struct vip_entry *ve;
	struct nat_rev *rv;
	int v6;

	if (!p || !rk || (void *)(eth + 1) > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	v6 = p->flow.family == LB_AF_INET6;
	/* Only while some VIP is NAT (the destination's slot: LB_VF_NAT_ON). */
	slot = lb_vip_slot(p->flow.dst);
	bits = bpf_map_lookup_elem(&lb_vip_filter, &slot);
	if (!bits || !(*bits & LB_VF_NAT_ON))
		return 0;
	cfg = bpf_map_lookup_elem(&lb_cfg, &zero);
	if (!cfg)
		return 0;
	now = nat_now(cfg);
	rv = nat_reply_flow(rk, now, &cv, &ve);
	if (!rv)
		return 0;
	if (!nat_frame_ours(ctx, eth, cfg))
		return LB_PASS_NOT_OURS;
	if (p->ttl <= 1)
		return LB_PASS_TTL;
	__builtin_memcpy(x.osrc, rv->orig.dst, 16);
	__builtin_memcpy(x.odst, rv->orig.src, 16);
	__builtin_memcpy(x.qsrc, rv->orig.src, 16);
	__builtin_memcpy(x.qdst, rv->orig.dst, 16);
	x.qsport = rv->orig.sport;
	x.qdport = rv->orig.dport;
	return nat_icmp_send(ctx, p, v6, &x);
}

#endif
