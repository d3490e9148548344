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

/* lb_conns: confirmed IPv4 flows in an array of 64-byte lines of two entries (struct conn4_line),
 * managed by the program like lb_new (below), with two choices: a flow sits in either entry of
 * either of its two lines (conn4_line1/conn4_line2 of conn4_hash()). A new entry takes the entry
 * that holds the flow, else a free or expired entry of the line with more of them (the first on
 * a tie), else one an entry of either line leaves by moving to its own other line (one cuckoo
 * step), else the entry of the four that expires first (the least recently active of them),
 * which leaves its real's count at once (counted: lb_flow_stats.displaced). The loader gives the
 * table one line per flow of director.conn_table.size, so at that many flows half the entries
 * are used: with two choices and one move, 5 of 32,768 flows met four full entries in a
 * simulation at exactly that load, 0 at a third of it (test/dataplane/conn-lines.test.ts runs
 * the program at both).
 * Why not the LRU hash it was: the lookup of an established packet is one inlined array load and
 * one cache line (two when the flow is in its second line) instead of a helper call, a hash
 * table's header, bucket and element lines: established DR 90 ns and TUN 114 ns less per call
 * in a paired run (bench/dataplane.ts), a SYN's miss two lines instead of a full table's chain.
 * Memory: 64 bytes per configured flow (96 with the 16-byte-key LRU hash). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(map_flags, BPF_F_MMAPABLE);	/* page-aligned values: a line is one cache line */
	__uint(max_entries, LB_CONN_ENTRIES);	/* lines: one per flow of the size */
	__type(key, __u32);
	__type(value, struct conn4_line);
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
#define LB_FS_DISPLACED 4
_Static_assert(__builtin_offsetof(struct lb_flow_stats, confirmed) == 8 * LB_FS_CONFIRMED, "LB_FS_CONFIRMED");
_Static_assert(__builtin_offsetof(struct lb_flow_stats, reused) == 8 * LB_FS_REUSED, "LB_FS_REUSED");
_Static_assert(__builtin_offsetof(struct lb_flow_stats, expired) == 8 * LB_FS_EXPIRED, "LB_FS_EXPIRED");
_Static_assert(__builtin_offsetof(struct lb_flow_stats, displaced) == 8 * LB_FS_DISPLACED, "LB_FS_DISPLACED");

static __always_inline void flow_stat(int which)
{
	__u32 zero = 0;
	struct lb_flow_stats *s = bpf_map_lookup_elem(&lb_flow_stats, &zero);

	if (s && which >= 0 && which <= LB_FS_DISPLACED)
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

/* Keeps the stores around it in the order written (a compiler barrier). Another CPU may still
 * see a line mid-write (arm64 reorders stores); an entry it reads torn fails conn4_check(). */
#define lb_barrier() asm volatile("" ::: "memory")

static __always_inline int conn4_holds(const struct conn4_entry *e, const struct conn4_key *k)
{
	const __u64 *x = (const __u64 *)&e->k, *y = (const __u64 *)k;

	return x[0] == y[0] && x[1] == y[1] && e->v.pad2 == conn4_check(k, &e->v);
}

static __always_inline struct conn4_line *conn4_line_at(__u32 i)
{
	return bpf_map_lookup_elem(&lb_conns, &i);
}

/* A confirmed IPv4 flow's entry: its first line, then its second. A function of its own (a
 * static subprogram, verified with its callers' types): inlined, its lines' pointers took stack
 * in every NAT function that looks a flow up, past the verifier's 512 bytes for a call chain. */
static __attribute__((noinline)) struct conn_value *conn4_find(const struct conn4_key *k)
{
	__u32 n = ((struct bpf_map *)&lb_conns)->max_entries, h = conn4_hash(k);
	struct conn4_line *l = conn4_line_at(conn4_line1(h, n));

	if (l) {
		if (conn4_holds(&l->e[0], k))
			return &l->e[0].v;
		if (conn4_holds(&l->e[1], k))
			return &l->e[1].v;
	}
	l = conn4_line_at(conn4_line2(h, n));
	if (l) {
		if (conn4_holds(&l->e[0], k))
			return &l->e[0].v;
		if (conn4_holds(&l->e[1], k))
			return &l->e[1].v;
	}
	return NULL;
}

static __always_inline int conn4_free(const struct conn4_entry *e, __u32 now)
{
	return !e->k.proto || cs_expired(&e->v, now);
}

/* Writes an entry in place. The key's protocol is written last, after a barrier, and cleared
 * first: a reader that sees the key complete sees the check written with it. */
static __always_inline void conn4_write(struct conn4_entry *e, const struct conn4_key *k,
					const struct conn_value *v)
{
	e->k.proto = 0;
	lb_barrier();
	e->v = *v;
	e->v.pad2 = conn4_check(k, v);
	e->k.src = k->src;
	e->k.dst = k->dst;
	e->k.sport = k->sport;
	e->k.dport = k->dport;
	lb_barrier();
	e->k.proto = k->proto;
}

/* One cuckoo step: an entry of line `li` whose other line has a free entry moves there (written
 * there before its old place is reused, so a reader always finds it). Returns the entry freed,
 * NULL when neither can move. */
static __always_inline struct conn4_entry *conn4_move_out(struct conn4_line *l, __u32 li, __u32 n,
							  __u32 now)
{
#pragma unroll
	for (int j = 0; j < 2; j++) {
		struct conn4_entry *e = &l->e[j];
		__u32 h = conn4_hash(&e->k), o = conn4_line1(h, n);
		struct conn4_line *ol;

		if (o == li)
			o = conn4_line2(h, n);
		if (o == li)
			continue;
		ol = conn4_line_at(o);
		if (!ol)
			continue;
		if (conn4_free(&ol->e[0], now)) {
			conn4_write(&ol->e[0], &e->k, &e->v);
			return e;
		}
		if (conn4_free(&ol->e[1], now)) {
			conn4_write(&ol->e[1], &e->k, &e->v);
			return e;
		}
	}
	return NULL;
}

/* Writes a confirmed IPv4 flow's entry (lb_conns's comment says where). */
static __attribute__((noinline)) void conn4_store(const struct conn4_key *k,
						   const struct conn_value *cv, __u32 now)
{
	__u32 n = ((struct bpf_map *)&lb_conns)->max_entries, h = conn4_hash(k);
	__u32 ia = conn4_line1(h, n), ib = conn4_line2(h, n);
	struct conn4_line *a = conn4_line_at(ia), *b = conn4_line_at(ib);
	struct conn4_entry *e;
	int fa, fb;

	if (!a || !b)
		return;
	/* The four entries are looked at here rather than through conn4_find(): the program failed
	 * to verify when this wrote through that function's result (tried). */
	if (conn4_holds(&a->e[0], k))
		e = &a->e[0];
	else if (conn4_holds(&a->e[1], k))
		e = &a->e[1];
	else if (conn4_holds(&b->e[0], k))
		e = &b->e[0];
	else if (conn4_holds(&b->e[1], k))
		e = &b->e[1];
	else if ((fa = conn4_free(&a->e[0], now) + conn4_free(&a->e[1], now)) >=
		 (fb = conn4_free(&b->e[0], now) + conn4_free(&b->e[1], now)) && fa)
		e = conn4_free(&a->e[0], now) ? &a->e[0] : &a->e[1];	/* the emptier line, */
	else if (fb)
		e = conn4_free(&b->e[0], now) ? &b->e[0] : &b->e[1];	/* the first on a tie */
	else if (!(e = conn4_move_out(a, ia, n, now)) && !(e = conn4_move_out(b, ib, n, now))) {
		e = (__s32)(a->e[0].v.expires - a->e[1].v.expires) <= 0 ? &a->e[0] : &a->e[1];
		if ((__s32)(b->e[0].v.expires - e->v.expires) < 0)
			e = &b->e[0];
		if ((__s32)(b->e[1].v.expires - e->v.expires) < 0)
			e = &b->e[1];
		load_add(e->v.real_id, e->v.state, -1);	/* displaced while live */
		flow_stat(LB_FS_DISPLACED);
	}
	conn4_write(e, k, cv);
}

static __always_inline void conn4_delete(const struct conn4_key *k)
{
	struct conn_value *v = conn4_find(k);

	if (v)
		((struct conn4_entry *)((void *)v - __builtin_offsetof(struct conn4_entry, v)))->k.proto = 0;
}

/* A confirmed flow's entry, from the table of its family. */
static __always_inline struct conn_value *conn_find(const struct flow_key *f)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6)
		return bpf_map_lookup_elem(&lb_conns6, f);
	conn4_key_of(&k, f);
	return conn4_find(&k);
}

static __always_inline void conn_store(const struct flow_key *f, const struct conn_value *cv,
				       __u32 now)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6) {
		bpf_map_update_elem(&lb_conns6, f, cv, BPF_ANY);
		return;
	}
	conn4_key_of(&k, f);
	conn4_store(&k, cv, now);
}

static __always_inline void conn_delete(const struct flow_key *f)
{
	struct conn4_key k;

	if (f->family == LB_AF_INET6) {
		bpf_map_delete_elem(&lb_conns6, f);
		return;
	}
	conn4_key_of(&k, f);
	conn4_delete(&k);
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
