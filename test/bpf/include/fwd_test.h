/* Structs shared by test/bpf/fwd_test.bpf.c and its TypeScript codecs (test/maps/fwd-test-codecs.ts). */
#ifndef XLVS_TEST_FWD_TEST_H
#define XLVS_TEST_FWD_TEST_H

#include <linux/types.h>

/* Key of fwd_table: the destination of a packet. Zero the padding. */
struct fwd_test_key {
	__be32 daddr;
	__be16 dport;
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	__u8 pad;
};
_Static_assert(sizeof(struct fwd_test_key) == 8, "fwd_test_key is 8 bytes");

/* What to do with a packet whose destination is in fwd_table. */
enum fwd_test_action {
	FWD_TEST_PASS = 0,	/* XDP_PASS */
	FWD_TEST_DROP = 1,	/* XDP_DROP */
	FWD_TEST_TX = 2,	/* rewrite MACs, XDP_TX */
};

struct fwd_test_value {
	__u32 action;		/* enum fwd_test_action */
	__u8 mac[6];		/* new destination MAC for FWD_TEST_TX */
	__u8 pad[2];
};
_Static_assert(sizeof(struct fwd_test_value) == 12, "fwd_test_value is 12 bytes");

/* Named counters in a per-CPU array (one slot). */
struct fwd_test_counters {
	__u64 packets;
	__u64 bytes;
	__u64 hits;
	__u64 misses;
};
_Static_assert(sizeof(struct fwd_test_counters) == 32, "fwd_test_counters is 32 bytes");

#endif
