// SPDX-License-Identifier: GPL-2.0
/* A small XDP forwarder used only by the loader tests: a hash lookup by destination, a per-CPU
 * counter array, a load-time constant, and a map-in-map read. */
#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/in.h>
#include <linux/tcp.h>
#include <linux/udp.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "include/fwd_test.h"

/* Verdict for a packet whose destination is not in fwd_table; set with setConst before load. */
const volatile __u32 miss_verdict = XDP_PASS;

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1024);
	__type(key, struct fwd_test_key);
	__type(value, struct fwd_test_value);
} fwd_table SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct fwd_test_counters);
} fwd_counters SEC(".maps");

/* Template of the inner maps of fwd_outer: one u32 "stamp" in slot 0. */
struct fwd_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 4);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, 1);
	__type(key, __u32);
	__array(values, struct fwd_inner);
} fwd_outer SEC(".maps");

static __always_inline struct fwd_test_counters *counters(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&fwd_counters, &zero);
}

SEC("xdp")
int xdp_fwd(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct fwd_test_key key = {};
	struct fwd_test_counters *cnt;
	struct fwd_test_value *val;
	struct iphdr *ip;

	cnt = counters();
	if (cnt) {
		cnt->packets++;
		cnt->bytes += end - data;
	}
	if ((void *)(eth + 1) > end || eth->h_proto != bpf_htons(ETH_P_IP))
		return XDP_PASS;
	ip = (void *)(eth + 1);
	if ((void *)(ip + 1) > end || ip->ihl != 5)
		return XDP_PASS;
	key.daddr = ip->daddr;
	key.proto = ip->protocol;
	if (ip->protocol == IPPROTO_TCP) {
		struct tcphdr *tcp = (void *)(ip + 1);

		if ((void *)(tcp + 1) > end)
			return XDP_PASS;
		key.dport = tcp->dest;
	} else if (ip->protocol == IPPROTO_UDP) {
		struct udphdr *udp = (void *)(ip + 1);

		if ((void *)(udp + 1) > end)
			return XDP_PASS;
		key.dport = udp->dest;
	} else {
		return XDP_PASS;
	}

	val = bpf_map_lookup_elem(&fwd_table, &key);
	if (!val) {
		if (cnt)
			cnt->misses++;
		return miss_verdict;
	}
	if (cnt)
		cnt->hits++;
	switch (val->action) {
	case FWD_TEST_DROP:
		return XDP_DROP;
	case FWD_TEST_TX:
		__builtin_memcpy(eth->h_source, eth->h_dest, ETH_ALEN);
		__builtin_memcpy(eth->h_dest, val->mac, ETH_ALEN);
		return XDP_TX;
	default:
		return XDP_PASS;
	}
}

/* Writes the stamp of the inner map in fwd_outer[0] (slot 0) into bytes 6..9 of the packet
 * (network order) and returns XDP_TX; XDP_ABORTED when no inner map is set. */
SEC("xdp")
int xdp_inner(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	__u32 zero = 0;
	__be32 *dst = data + 6;
	__u32 *stamp;
	void *inner;

	if ((void *)(dst + 1) > end)
		return XDP_PASS;
	inner = bpf_map_lookup_elem(&fwd_outer, &zero);
	if (!inner)
		return XDP_ABORTED;
	stamp = bpf_map_lookup_elem(inner, &zero);
	if (!stamp)
		return XDP_ABORTED;
	*dst = bpf_htonl(*stamp);
	return XDP_TX;
}

/* Pass-only program: for the peer of a native-mode veth (docs/lab-notes.md) and attach tests. */
SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

/* tc ingress program that lets everything through (TC_ACT_OK), for attachTcIngress tests. */
SEC("tc")
int tc_pass(struct __sk_buff *skb)
{
	return 0;
}

char LICENSE[] SEC("license") = "GPL";
