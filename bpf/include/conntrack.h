/* Flow tables and the connection state machine.
 *
 * lb_conns (IPv4, a compact 16-byte key) and lb_conns6 (IPv6) hold confirmed flows: a TCP flow
 * once the client's handshake ACK (or any second packet) arrived, a UDP flow from its second
 * packet. lb_new holds the rest: a SYN's entry, a UDP flow's first packet, a flow picked up
 * mid-stream (after a failover), and the persistence templates such flows would create. A flood
 * of SYNs or of one-packet flows from random sources therefore churns only lb_new: it cannot
 * evict a confirmed flow or a persistence template (lb_persist is written on confirmation).
 *
 * lb_new is an array of slots the program manages (below). The others are each an LRU hash
 * shared by all CPUs with per-CPU LRU lists (BPF_F_NO_COMMON_LRU): a
 * flow keeps its real when RSS moves it to another CPU and the control plane dumps one table,
 * while eviction takes no global lock. Measured with BPF_PROG_TEST_RUN, one CPU, 20000 flows,
 * kernel-reported ns per call (includes ~70 ns of test-run overhead), two runs each:
 *   LRU_HASH shared list     new flow 647/716  hit 497/531
 *   LRU_HASH NO_COMMON_LRU   new flow 592/558  hit 434/429
 *   LRU_PERCPU_HASH          new flow 622/564  hit 473/444
 * Noisy (2 shared cores) but NO_COMMON_LRU was never slower; a single-threaded test cannot
 * show the lock contention of the common list, which only favours it further. Each CPU's list
 * holds about max_entries / CPUs before evicting.
 *
 * Entries carry their state (IPVS's, input-only) and the second they expire; an expired entry
 * is not used (lb.bpf.c says what a packet on one does).
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
	__type(key, struct conn4_key);
	__type(value, struct conn_value);
} lb_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(map_flags, BPF_F_NO_COMMON_LRU);
	__uint(max_entries, LB_CONN6_ENTRIES);
	__type(key, struct flow_key);
	__type(value, struct conn_value);
} lb_conns6 SEC(".maps");

/* lb_new is not a hash map but an array of slots the program manages itself (struct new_slot,
 * lb_shared.h). Slots come in pairs: a flow sits in either slot of the pair new_slot_index() of
 * its key names; a new entry takes the slot that holds the flow, else a free or expired one, else
 * the older entry's (new_store); a slot is emptied by zeroing its key's family. A SYN flood is
 * exactly what this table takes, and with an LRU hash every SYN into a full table paid the LRU's
 * eviction (another entry's bucket lock and cold lines): 1.9 us of a new flow's 3.1 us here
 * (bench/dataplane.ts, --compare without the insert, same run). A slot is one cache line read
 * or written in place, its lookup inlined by the verifier.
 * What losing a slot costs: an unconfirmed flow whose slot another new flow took has no entry when
 * its second packet comes, which is then picked up as a new flow (lb_select): the same real under
 * maglev, sh and dh while the VIP's reals are unchanged, possibly another under lc/wlc, as after
 * an LRU eviction. Under a flood both lose the unconfirmed flows alike; confirmed flows and
 * persistence templates are in lb_conns/lb_conns6 and lb_persist, which a flood never writes.
 * Two CPUs writing one slot at the same moment can leave it torn (the key of one flow, the value
 * of the other); the value's VIP and real are checked like any entry's, so at worst a packet of
 * an unconfirmed flow goes to another real of its VIP. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);	/* page-aligned values: a slot is one cache line */
	__uint(max_entries, LB_NEW_ENTRIES);
	__type(key, __u32);
	__type(value, struct new_slot);
} lb_new SEC(".maps");

/* The kernel's struct bpf_map, for the one field read here (CO-RE: libbpf relocates the offset
 * against the running kernel's BTF): the table's size as the loader set it. */
struct bpf_map {
	__u32 max_entries;
} __attribute__((preserve_access_index));

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, LB_PERSIST_ENTRIES);
	__type(key, struct persist_key);
	__type(value, struct persist_value);
} lb_persist SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct real_load);
} lb_real_load SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, LB_MAX_REALS);
	__type(key, __u32);
	__type(value, struct real_load_fix);
} lb_real_load_fix SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct lb_flow_stats);
} lb_flow_stats SEC(".maps");

/* IPVS's INPUT-ONLY transitions (ip_vs_proto_tcp.c) over the states a DR/TUN director reaches. */
static __always_inline __u8 tcp_next(__u8 st, __u8 ev)
{
	switch (ev) {
	case LB_EV_RST:
		return st == LB_CS_SYN_RECV ? LB_CS_SYN_RECV : LB_CS_CLOSE;
	case LB_EV_SYN:
		return st == LB_CS_ESTABLISHED ? LB_CS_ESTABLISHED : LB_CS_SYN_RECV;
	case LB_EV_FIN:
		if (st == LB_CS_ESTABLISHED || st == LB_CS_FIN_WAIT)
			return LB_CS_FIN_WAIT;
		if (st == LB_CS_SYN_RECV || st == LB_CS_TIME_WAIT)
			return LB_CS_TIME_WAIT;
		return LB_CS_CLOSE;
	case LB_EV_ACK:
		if (st == LB_CS_SYN_RECV)
			return LB_CS_ESTABLISHED;
		return st == LB_CS_NONE ? LB_CS_CLOSE : st;
	}
	return st;
}

/* A connection the client is closing or closed: a SYN on it starts a new one, scheduled afresh
 * (IPVS conn_reuse_mode, which also reschedules on FIN_WAIT when the director sees no output). */
static __always_inline int cs_closing(__u8 st)
{
	return st == LB_CS_FIN_WAIT || st == LB_CS_TIME_WAIT || st == LB_CS_CLOSE;
}

static __always_inline __u32 cs_timeout(const struct vip_info *v, __u8 st)
{
	switch (st) {
	case LB_CS_ESTABLISHED:
		return v->tmo_tcp;
	case LB_CS_UDP:
		return v->tmo_udp;
	case LB_CS_FIN_WAIT:
		return v->tmo_tcp_fin;
	case LB_CS_SYN_RECV:
		return LB_TMO_SYN_RECV;
	case LB_CS_TIME_WAIT:
		return LB_TMO_TIME_WAIT;
	case LB_CS_CLOSE:
		return LB_TMO_CLOSE;
	}
	return LB_TMO_NONE;
}

static __always_inline int cs_expired(const struct conn_value *cv, __u32 now)
{
	return (__s32)(now - cv->expires) > 0;
}

/* Adds d to the real's active or inactive count, by the state an entry is in. */
static __always_inline void load_add(__u32 real_id, __u8 st, __s64 d)
{
	struct real_load *l = bpf_map_lookup_elem(&lb_real_load, &real_id);

	if (!l || st == LB_CS_TEMPLATE)
		return;
	if (st == LB_CS_ESTABLISHED)
		__sync_fetch_and_add(&l->active, d);
	else
		__sync_fetch_and_add(&l->inactive, d);
}

/* Moves an entry from one state to another in the counts (a no-op within a class). */
static __always_inline void load_move(__u32 real_id, __u8 from, __u8 to)
{
	if ((from == LB_CS_ESTABLISHED) == (to == LB_CS_ESTABLISHED))
		return;
	load_add(real_id, from, -1);
	load_add(real_id, to, 1);
}

/* The real's connections: IPVS's overhead (ip_vs_dest_conn_overhead: active x 256 + inactive)
 * in *overhead and active + inactive as the return value, both with the census's correction. */
static __always_inline __s64 real_conns(__u32 id, struct real_load *l, __u64 *overhead)
{
	struct real_load_fix *f = bpf_map_lookup_elem(&lb_real_load_fix, &id);
	__s64 a = l->active, i = l->inactive;

	if (f) {
		a += f->active;
		i += f->inactive;
	}
	if (a < 0)
		a = 0;
	if (i < 0)
		i = 0;
	*overhead = ((__u64)a << 8) + (__u64)i;
	return a + i;
}

/* IPVS's connection thresholds (ip_vs_bind_dest / ip_vs_unbind_dest): a real at or above its
 * upper threshold takes no new flow until it is below the lower one. */
static __always_inline int overloaded(__u32 id, const struct real_info *r, __u64 *overhead)
{
	struct real_load *l = bpf_map_lookup_elem(&lb_real_load, &id);
	__s64 total;

	*overhead = 0;
	if (!l)
		return 0;
	total = real_conns(id, l, overhead);
	if (!r->upper_threshold)
		return 0;
	if (total >= r->upper_threshold) {
		if (!l->overloaded)
			l->overloaded = 1;
		return 1;
	}
	if (l->overloaded) {
		if (total >= r->lower_threshold)
			return 1;
		l->overloaded = 0;
	}
	return 0;
}

/* Counts one event in lb_flow_stats: a field of it, by offset (LB_FS_*). */
#define LB_FS_UNCONFIRMED 0
#define LB_FS_CONFIRMED 1
#define LB_FS_REUSED 2
#define LB_FS_EXPIRED 3
_Static_assert(__builtin_offsetof(struct lb_flow_stats, confirmed) == 8 * LB_FS_CONFIRMED, "LB_FS_CONFIRMED");
_Static_assert(__builtin_offsetof(struct lb_flow_stats, reused) == 8 * LB_FS_REUSED, "LB_FS_REUSED");
_Static_assert(__builtin_offsetof(struct lb_flow_stats, expired) == 8 * LB_FS_EXPIRED, "LB_FS_EXPIRED");

static __always_inline void flow_stat(int which)
{
	__u32 zero = 0;
	struct lb_flow_stats *s = bpf_map_lookup_elem(&lb_flow_stats, &zero);

	if (s && which >= 0 && which <= LB_FS_EXPIRED)
		((__u64 *)s)[which]++;
}

static __always_inline void conn4_key_of(struct conn4_key *k, const struct flow_key *f)
{
	__builtin_memset(k, 0, sizeof(*k));
	k->src = *(const __be32 *)f->src;
	k->dst = *(const __be32 *)f->dst;
	k->sport = f->sport;
	k->dport = f->dport;
	k->proto = f->proto;
}

/* A confirmed flow's entry, from the table of its family. */
static __always_inline struct conn_value *conn_find(const struct flow_key *f)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6)
		return bpf_map_lookup_elem(&lb_conns6, f);
	conn4_key_of(&k, f);
	return bpf_map_lookup_elem(&lb_conns, &k);
}

static __always_inline void conn_store(const struct flow_key *f, const struct conn_value *cv)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6) {
		bpf_map_update_elem(&lb_conns6, f, cv, BPF_ANY);
		return;
	}
	conn4_key_of(&k, f);
	bpf_map_update_elem(&lb_conns, &k, cv, BPF_ANY);
}

static __always_inline void conn_delete(const struct flow_key *f)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6) {
		bpf_map_delete_elem(&lb_conns6, f);
		return;
	}
	conn4_key_of(&k, f);
	bpf_map_delete_elem(&lb_conns, &k);
}

/* The lb_new key of an unconfirmed flow's persistence template: the masked client as source,
 * protocol 0 (no flow has it) and the VIP id in the port fields. */
static __always_inline void template_key_of(struct flow_key *k, const struct persist_key *pk)
{
	__builtin_memset(k, 0, sizeof(*k));
	__builtin_memcpy(k->src, pk->client, 16);
	k->sport = (__u16)pk->vip_id;
	k->dport = (__u16)(pk->vip_id >> 16);
	k->family = pk->family;
}

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

static __always_inline int flow_key_eq(const struct flow_key *a, const struct flow_key *b)
{
	const __u64 *x = (const __u64 *)a, *y = (const __u64 *)b;

	return x[0] == y[0] && x[1] == y[1] && x[2] == y[2] && x[3] == y[3] && x[4] == y[4];
}

/* The first slot of the flow's pair (new_slot_index() in lb_shared.h); the second is the next. */
static __always_inline __u32 new_index(const struct flow_key *k)
{
	return new_slot_index(k, ((struct bpf_map *)&lb_new)->max_entries);
}

static __always_inline int slot_holds(const struct new_slot *s, const struct flow_key *f)
{
	return s && s->key.family && flow_key_eq(&s->key, f);
}

/* An unconfirmed flow's (or template's) entry in lb_new, NULL when neither slot of its pair
 * holds it. (One index variable for both lookups: the NAT paths have no stack to spare.) */
static __always_inline struct conn_value *new_find(const struct flow_key *f)
{
	__u32 i = new_index(f);
	struct new_slot *s = bpf_map_lookup_elem(&lb_new, &i);

	if (slot_holds(s, f))
		return &s->val;
	i++;
	s = bpf_map_lookup_elem(&lb_new, &i);
	return slot_holds(s, f) ? &s->val : NULL;
}

/* Writes the flow's entry into its pair: the slot that holds it, else a free or expired one, else
 * the one that expires first (the older entry). A live entry of another flow that loses its slot
 * leaves its real's count at once (an LRU eviction left that to the census). */
static __always_inline void new_store(const struct flow_key *f, const struct conn_value *cv,
				      __u32 now)
{
	__u32 i = new_index(f);
	struct new_slot *a = bpf_map_lookup_elem(&lb_new, &i), *b, *s;

	i++;
	b = bpf_map_lookup_elem(&lb_new, &i);
	if (!a || !b)
		return;
	if (slot_holds(a, f))
		s = a;
	else if (slot_holds(b, f))
		s = b;
	else if (!a->key.family || cs_expired(&a->val, now))
		s = a;
	else if (!b->key.family || cs_expired(&b->val, now))
		s = b;
	else
		s = (__s32)(a->val.expires - b->val.expires) <= 0 ? a : b;
	if (s->key.family && !flow_key_eq(&s->key, f) && !cs_expired(&s->val, now))
		load_add(s->val.real_id, s->val.state, -1);
	s->key = *f;
	s->val = *cv;
}

/* Empties the slot that holds the flow, if one does. */
static __always_inline void new_delete(const struct flow_key *f)
{
	struct conn_value *v = new_find(f);

	if (v)
		((struct new_slot *)((void *)v - __builtin_offsetof(struct new_slot, val)))->key.family = 0;
}

#endif
