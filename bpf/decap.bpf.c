// SPDX-License-Identifier: GPL-2.0
/* decap: the real server's XDP program for xlvs TUN. A frame carrying IPv4-in-IPv4 (protocol
 * 4), IPv6-in-IPv4 (41), IPv4-in-IPv6 (next header 4) or IPv6-in-IPv6 (41) whose inner
 * destination is one of our VIPs (decap_vips) loses its outer header and goes to the stack
 * as the inner packet (ethertype fixed). Everything else passes untouched. Outer IPv4 with
 * options or fragmented, and outer IPv6 with extension headers, are left to the kernel.
 */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_shared.h"
#include "parsing.h"
#include "encap.h"

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, LB_DECAP_VIPS);
	__type(key, struct decap_key);
	__type(value, __u32);
} decap_vips SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct decap_stats);
} decap_stats SEC(".maps");

enum decap_verdict { D_PASSED, D_NOT_OURS, D_DECAP4, D_DECAP6 };

/* Is the inner packet at `inner` (protocol `ipproto`) addressed to one of our VIPs? */
static __always_inline int inner_is_ours(void *inner, void *end, __u8 ipproto)
{
	struct decap_key k;

	__builtin_memset(&k, 0, sizeof(k));
	if (ipproto == IPPROTO_IPIP_) {
		struct iphdr *ip = inner;

		if ((void *)(ip + 1) > end || ip->version != 4)
			return 0;
		__builtin_memcpy(k.addr, &ip->daddr, 4);
		k.family = LB_AF_INET;
	} else {
		struct ipv6hdr *ip6 = inner;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return 0;
		__builtin_memcpy(k.addr, &ip6->daddr, 16);
		k.family = LB_AF_INET6;
	}
	return bpf_map_lookup_elem(&decap_vips, &k) != NULL;
}

/* Remove `olen` bytes of outer header after the L2 header (l2 bytes, a constant). */
static __always_inline int strip(struct xdp_md *ctx, int l2, int olen, __u8 ipproto)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;

	if (data + l2 + olen > end)
		return -1;
	if (l2 == 18)
		__builtin_memmove(data + olen, data, 18);
	else
		__builtin_memmove(data + olen, data, 14);
	if (bpf_xdp_adjust_head(ctx, olen))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + l2 > end)
		return -1;
	set_l3_proto(data, l2, ipproto == IPPROTO_IPIP_ ? ETH_P_IP : ETH_P_IPV6);
	return 0;
}

static __always_inline int decap_process(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct cursor c = { .pos = data, .end = end };
	struct ethhdr *eth;
	int proto, l2, olen;
	__u8 ipproto;

	proto = parse_eth(&c, &eth);
	if (proto < 0)
		return D_PASSED;
	l2 = c.pos - data;
	if (proto == ETH_P_IP) {
		struct iphdr *ip = c.pos;

		if ((void *)(ip + 1) > end || ip->version != 4 || ip->ihl != 5)
			return D_PASSED;
		if (bpf_ntohs(ip->frag_off) & (IP_MF | IP_OFFSET))
			return D_PASSED;
		ipproto = ip->protocol;
		olen = sizeof(*ip);
	} else if (proto == ETH_P_IPV6) {
		struct ipv6hdr *ip6 = c.pos;

		if ((void *)(ip6 + 1) > end || ip6->version != 6)
			return D_PASSED;
		ipproto = ip6->nexthdr;
		olen = sizeof(*ip6);
	} else {
		return D_PASSED;
	}
	if (ipproto != IPPROTO_IPIP_ && ipproto != IPPROTO_IPV6_)
		return D_PASSED;
	if (!inner_is_ours(c.pos + olen, end, ipproto))
		return D_NOT_OURS;
	if (l2 == 18) {
		if (olen == 20 ? strip(ctx, 18, 20, ipproto) : strip(ctx, 18, 40, ipproto))
			return D_PASSED;
	} else {
		if (olen == 20 ? strip(ctx, 14, 20, ipproto) : strip(ctx, 14, 40, ipproto))
			return D_PASSED;
	}
	return olen == 20 ? D_DECAP4 : D_DECAP6;
}

SEC("xdp")
int xdp_decap(struct xdp_md *ctx)
{
	__u32 zero = 0;
	struct decap_stats *s = bpf_map_lookup_elem(&decap_stats, &zero);
	int v = decap_process(ctx);

	if (s) {
		if (v == D_DECAP4)
			s->decap4++;
		else if (v == D_DECAP6)
			s->decap6++;
		else if (v == D_NOT_OURS)
			s->not_ours++;
		else
			s->passed++;
	}
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
