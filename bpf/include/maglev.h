/* Maglev lookup side: the flow hash and the per-VIP table of real ids (outer array of maps
 * indexed by VIP id; each inner array is built whole by the control plane and swapped in).
 *
 * Inner table layout: element 0 holds the table size M (a prime, Maglev §3.4), elements
 * 1..M hold real ids (0 = none). Keeping M inside the table makes a swap that also changes the
 * size atomic: a packet sees either the old table with its size or the new one with its own.
 */
#ifndef XLVS_MAGLEV_H
#define XLVS_MAGLEV_H

#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_shared.h"

struct maglev_inner {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 65537 + 1);	/* template only: BPF_F_INNER_MAP lets sizes differ */
	/* BPF_F_MMAPABLE: the control plane fills a new table with one memcpy through mmap
	 * instead of a batch update (16 ms per 65538 slots); every inner map must carry the
	 * template's flags. */
	__uint(map_flags, BPF_F_INNER_MAP | BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u32);
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);
	__uint(max_entries, LB_MAX_VIPS);
	__type(key, __u32);
	__array(values, struct maglev_inner);
} lb_maglev SEC(".maps");

/* MurmurHash3 x86_32 (Austin Appleby, public domain) over 32-bit words. */
#define MM3_C1 0xcc9e2d51
#define MM3_C2 0x1b873593

static __always_inline __u32 rotl32(__u32 x, int r)
{
	return (x << r) | (x >> (32 - r));
}

static __always_inline __u32 mm3_mix(__u32 h, __u32 k)
{
	k *= MM3_C1;
	k = rotl32(k, 15);
	k *= MM3_C2;
	h ^= k;
	h = rotl32(h, 13);
	return h * 5 + 0xe6546b64;
}

static __always_inline __u32 mm3_final(__u32 h, __u32 len)
{
	h ^= len;
	h ^= h >> 16;
	h *= 0x85ebca6b;
	h ^= h >> 13;
	h *= 0xc2b2ae35;
	h ^= h >> 16;
	return h;
}

static __always_inline __u32 mm3_addr(__u32 h, const __u8 *a, __u8 family, __u32 *n)
{
	const __u32 *w = (const __u32 *)a;

	h = mm3_mix(h, w[0]);
	*n += 4;
	if (family == LB_AF_INET6) {
		h = mm3_mix(h, w[1]);
		h = mm3_mix(h, w[2]);
		h = mm3_mix(h, w[3]);
		*n += 12;
	}
	return h;
}

/* Hash of the fields selected by `fields` (LB_HASH_*). */
static __always_inline __u32 flow_hash(const struct flow_key *f, __u8 fields, __u32 seed)
{
	__u32 h = seed, n = 0;

	if (fields & LB_HASH_SRC_ADDR)
		h = mm3_addr(h, f->src, f->family, &n);
	if (fields & LB_HASH_DST_ADDR)
		h = mm3_addr(h, f->dst, f->family, &n);
	if (fields & (LB_HASH_SRC_PORT | LB_HASH_DST_PORT | LB_HASH_PROTO)) {
		__u32 ports = 0;

		if (fields & LB_HASH_SRC_PORT)
			ports |= (__u32)f->sport << 16;
		if (fields & LB_HASH_DST_PORT)
			ports |= f->dport;
		h = mm3_mix(h, ports);
		h = mm3_mix(h, fields & LB_HASH_PROTO ? f->proto : 0);
		n += 8;
	}
	return mm3_final(h, n);
}

/* The VIP's table (NULL when it has none) and its size M (0 when empty). */
static __always_inline void *maglev_table(__u32 vip_id, __u32 *m)
{
	void *table = bpf_map_lookup_elem(&lb_maglev, &vip_id);
	__u32 key = 0, *size;

	*m = 0;
	if (!table)
		return NULL;
	size = bpf_map_lookup_elem(table, &key);
	if (size)
		*m = *size;
	return table;
}

/* The real id in slot `hash mod M` of a table; 0 when none. */
static __always_inline __u32 maglev_slot(void *table, __u32 m, __u32 hash)
{
	__u32 key = 1 + hash % m, *real;

	real = bpf_map_lookup_elem(table, &key);
	return real ? *real : 0;
}

/* The next probe's hash when a slot's real is out of selection: the hash stirred again with
 * MurmurHash3's finaliser, so every director probes the same slots in the same order. */
static __always_inline __u32 maglev_rehash(__u32 hash)
{
	return mm3_final(hash ^ 0x9e3779b9, 4);
}

#endif
