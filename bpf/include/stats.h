/* Per-CPU counters (per VIP, per real, per verdict reason) and lb_exit(), the one place where
 * an internal verdict becomes an XDP action and is counted.
 */
#ifndef XLVS_STATS_H
#define XLVS_STATS_H

#include <stddef.h>
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_shared.h"

/* Reason code N counts in the N-th u64 of lb_reason_stats: spot-check the mapping. */
_Static_assert(offsetof(struct lb_reason_stats, tx_dr) == 8 * LB_TX_DR, "reason tx_dr");
_Static_assert(offsetof(struct lb_reason_stats, not_vip) == 8 * LB_PASS_NOT_VIP, "reason not_vip");
_Static_assert(offsetof(struct lb_reason_stats, no_real) == 8 * LB_PASS_NO_REAL, "reason no_real");
_Static_assert(offsetof(struct lb_reason_stats, internal) == 8 * LB_DROP_INTERNAL, "reason internal");
_Static_assert(offsetof(struct lb_reason_stats, not_ours) == 8 * LB_PASS_NOT_OURS, "reason not_ours");
_Static_assert(offsetof(struct lb_reason_stats, no_accept) == 8 * LB_DROP_NO_ACCEPT, "reason no_accept");
_Static_assert(offsetof(struct lb_reason_stats, tx_icmp) == 8 * LB_TX_ICMP, "reason tx_icmp");
_Static_assert(offsetof(struct lb_reason_stats, conn_expired) == 8 * LB_PASS_CONN_EXPIRED, "reason conn_expired");
_Static_assert(offsetof(struct lb_reason_stats, local) == 8 * LB_PASS_LOCAL, "reason local");
_Static_assert(offsetof(struct lb_reason_stats, tx_nat) == 8 * LB_TX_NAT, "reason tx_nat");
_Static_assert(offsetof(struct lb_reason_stats, snat_exhausted) == 8 * LB_DROP_SNAT_EXHAUSTED, "reason snat_exhausted");

/* lb_vip_stats is written by the control plane only: the traffic of reals that left the VIP,
 * folded in when each left, so the VIP's counters (this plus its reals') never go down. The
 * program counts per real alone: one per-CPU cache line less per packet. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__type(value, struct lb_counters);
} lb_vip_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct lb_counters);
} lb_real_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_reason_stats);
} lb_reasons SEC(".maps");

static __always_inline void count_traffic(void *map, __u32 id, __u64 bytes, int new_flow)
{
	struct lb_counters *c = bpf_map_lookup_elem(map, &id);

	if (!c)
		return;
	c->packets++;
	c->bytes += bytes;
	if (new_flow)
		c->new_flows++;
}

/* The XDP action of an internal verdict (codes >= LB_REASON_MAX are internal errors). */
static __always_inline int lb_exit_action(__u32 r)
{
	switch (r) {
	case LB_TX_DR:
	case LB_TX_TUN:
	case LB_TX_TOO_BIG:
	case LB_TX_ICMP:
	case LB_TX_NAT:
	case LB_TX_NAT_REPLY:
		return XDP_TX;
	case LB_REDIR_NAT:
	case LB_REDIR_NAT_REPLY:
	case LB_REDIR_ICMP:
		return XDP_REDIRECT;	/* the target set by bpf_redirect_map (nat.h) */
	case LB_DROP_MALFORMED:
	case LB_DROP_TOO_BIG:
	case LB_DROP_CONFIG:
	case LB_DROP_INTERNAL:
	case LB_DROP_NO_ACCEPT:
	case LB_DROP_SNAT_EXHAUSTED:
		return XDP_DROP;
	default:
		return r < LB_REASON_MAX ? XDP_PASS : XDP_DROP;
	}
}

/* Maps an internal verdict to XDP_* and counts it by reason. */
static __always_inline int lb_exit(int reason)
{
	__u32 zero = 0;
	struct lb_reason_stats *s = bpf_map_lookup_elem(&lb_reasons, &zero);
	__u64 r = (__u32)reason;

	/* Opaque to clang: with the NAT reasons it dropped the bound check on paths where it
	 * could prove the reason in range, a proof the verifier does not share (global functions
	 * return any scalar). */
	asm volatile("" : "+r"(r));
	if (r >= LB_REASON_MAX)
		r = LB_DROP_INTERNAL;
	if (s)
		((__u64 *)s)[r]++;
	return lb_exit_action(r);
}

#endif
