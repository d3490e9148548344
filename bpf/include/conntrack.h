/* Connection table (flow → real) and persistence table ({VIP, client & mask} → real, with
 * expiry), both LRU hashes so the oldest entries make room when full.
 *
 * Connection table: one hash shared by all CPUs with per-CPU LRU lists (BPF_F_NO_COMMON_LRU):
 * a flow keeps its real when RSS moves it to another CPU and the control plane dumps one table,
 * while eviction takes no global lock. Measured with BPF_PROG_TEST_RUN, one CPU, 20000 flows,
 * kernel-reported ns per call (includes ~70 ns of test-run overhead), two runs each:
 *   LRU_HASH shared list     new flow 647/716  hit 497/531
 *   LRU_HASH NO_COMMON_LRU   new flow 592/558  hit 434/429
 *   LRU_PERCPU_HASH          new flow 622/564  hit 473/444
 * Noisy (2 shared cores) but NO_COMMON_LRU was never slower; a single-threaded test cannot
 * show the lock contention of the common list, which only favours it further. Each CPU's list
 * holds about max_entries / CPUs before evicting.
 */
#ifndef XLVS_CONNTRACK_H
#define XLVS_CONNTRACK_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_shared.h"

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, LB_CONN_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct conn_value);
} lb_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_PERSIST_ENTRIES);
	__type(key, struct persist_key);
	__type(value, struct persist_value);
} lb_persist SEC(".maps");

/* Keep the first `prefix` bits of a 16-byte address (IPv4 uses the first 4 bytes). */
static __always_inline void mask_addr(__u8 *out, const __u8 *in, __u8 prefix, __u8 family)
{
	__u32 *o = (__u32 *)out;
	const __u32 *w = (const __u32 *)in;
	int words = family == LB_AF_INET6 ? 4 : 1;

	if (family == LB_AF_INET && prefix > 32)
		prefix = 32;
	if (prefix > 128)
		prefix = 128;
#pragma unroll
	for (int i = 0; i < 4; i++) {
		int bits = (int)prefix - 32 * i;
		__u32 m;

		if (i >= words || bits <= 0)
			m = 0;
		else if (bits >= 32)
			m = 0xffffffff;
		else
			m = bpf_htonl(~((1u << (32 - bits)) - 1));
		o[i] = w[i] & m;
	}
}

static __always_inline void persist_key_of(struct persist_key *k, const struct flow_key *f,
					   __u32 vip_id, __u8 prefix)
{
	__builtin_memset(k, 0, sizeof(*k));
	mask_addr(k->client, f->src, prefix, f->family);
	k->vip_id = vip_id;
	k->family = f->family;
}

#endif
