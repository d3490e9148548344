/* Frame rewrites that forward a packet: DR (MAC rewrite), TUN (push an outer IPv4/IPv6 header
 * toward the real) and the "too big" reply (ICMP / ICMPv6 built in place and sent back).
 *
 * Every function takes `l2`, the length of Ethernet plus the optional 802.1Q tag (14 or 18),
 * as a compile-time constant (callers branch once), so the verifier sees fixed offsets. A
 * VLAN tag on the incoming frame is kept on the frame we send.
 *
 * Too big: once encapsulated, a packet whose IP length + outer header exceeds the configured
 * MTU would be dropped by the link. As a router does (RFC 1191 §4, RFC 4443 §3.2; IPVS does the
 * same in ip_vs_xmit.c), we answer the client with ICMP "fragmentation needed" (IPv4 with DF)
 * or ICMPv6 "packet too big", carrying MTU − outer header, from the director's TUN source
 * address (the VIP if none is set), so its TCP lowers the MSS. The quote is the invoking IP
 * header plus 8 bytes (RFC 792; enough for the client to find its socket). IPv4 without DF
 * cannot be fragmented in XDP: dropped and counted (LB_DROP_TOO_BIG).
 */
#ifndef XLVS_ENCAP_H
#define XLVS_ENCAP_H

#include <linux/bpf.h>
#include <linux/if_ether.h>
#include <linux/in.h>
#include <linux/ip.h>
#include <linux/ipv6.h>
#include <linux/icmpv6.h>
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "lb_shared.h"
#include "csum.h"
#include "parsing.h"

#define OUTER_TTL 64		/* IPv4 default TTL, RFC 1700 / Linux ip_default_ttl */
#define IPPROTO_IPIP_ 4		/* IPv4 in IP, RFC 2003 */
#define IPPROTO_IPV6_ 41	/* IPv6 in IP, RFC 4213 §3.5 / RFC 2473 */
#define ICMP_QUOTE 8		/* bytes of payload after the quoted IP header, RFC 792 */
#define ICMP_TOS 0xc0		/* internetwork control, as Linux sends its ICMP */
#define ICMP_DEST_UNREACH_ 3	/* RFC 792 */
#define ICMP_FRAG_NEEDED_ 4	/* RFC 792, code "fragmentation needed and DF set" */

/* ICMP destination unreachable with the next-hop MTU (RFC 1191 §4). linux/icmp.h pulls in
 * libc headers that do not build for the BPF target, so the 8 bytes are spelled out. */
struct icmp_frag {
	__u8 type;
	__u8 code;
	__sum16 checksum;
	__be16 unused;
	__be16 mtu;
};

/* MACs are read and written as three 16-bit words: every MAC we touch sits at an even offset
 * (the frame's, and the map fields asserted below), so each copy is 3 loads and 3 stores
 * instead of 6 + 6 byte moves, and stays aligned even where the verifier enforces alignment
 * (packet data at NET_IP_ALIGN = 2). */
_Static_assert(__builtin_offsetof(struct real_info, mac) % 2 == 0, "real_info.mac");
_Static_assert(__builtin_offsetof(struct real_info, nexthop_mac) % 2 == 0, "real_info.nexthop_mac");
_Static_assert(__builtin_offsetof(struct lb_config, mac) % 2 == 0, "lb_config.mac");

struct mac_words {
	__u16 w[3];
};

static __always_inline struct mac_words mac_load(const __u8 *m)
{
	const __u16 *w = (const __u16 *)m;
	struct mac_words r = { { w[0], w[1], w[2] } };

	return r;
}

static __always_inline void mac_store(__u8 *dst, struct mac_words m)
{
	__u16 *w = (__u16 *)dst;

	w[0] = m.w[0];
	w[1] = m.w[1];
	w[2] = m.w[2];
}

static __always_inline int mac_is_zero(const __u8 *m)
{
	const __u16 *w = (const __u16 *)m;

	return !(w[0] | w[1] | w[2]);
}

static __always_inline int mac_eq(const __u8 *a, const __u8 *b)
{
	const __u16 *x = (const __u16 *)a, *y = (const __u16 *)b;

	return !((x[0] ^ y[0]) | (x[1] ^ y[1]) | (x[2] ^ y[2]));
}

static __always_inline int addr6_is_zero(const __u8 *a)
{
	const __u32 *w = (const __u32 *)a;

	return !(w[0] | w[1] | w[2] | w[3]);
}

/* Set the ethertype of the frame (the VLAN's inner type when tagged). */
static __always_inline void set_l3_proto(void *data, int l2, __u16 proto)
{
	if (l2 == 18)
		((struct vlan_hdr *)(data + 14))->proto = bpf_htons(proto);
	else
		((struct ethhdr *)data)->h_proto = bpf_htons(proto);
}

/* DR: the frame goes unchanged to the real's MAC, from ours. */
static __always_inline int dr_rewrite(struct xdp_md *ctx, const struct real_info *r,
				      const struct lb_config *cfg)
{
	void *data = (void *)(long)ctx->data;
	struct ethhdr *eth = data;

	if ((void *)(eth + 1) > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	__builtin_memcpy(eth->h_dest, r->mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->mac, ETH_ALEN);
	return LB_TX_DR;
}

/* Grow the head by `room` bytes and move the L2 header (l2 bytes) to the new front. */
static __always_inline int push_room(struct xdp_md *ctx, int l2, int room)
{
	void *data, *end;

	if (bpf_xdp_adjust_head(ctx, -room))
		return -1;
	data = (void *)(long)ctx->data;
	end = (void *)(long)ctx->data_end;
	if (data + room + l2 > end)
		return -1;
	if (l2 == 18)
		__builtin_memmove(data, data + room, 18);
	else
		__builtin_memmove(data, data + room, 14);
	return 0;
}

/* Write a whole L2 header at data, `room` bytes in front of the frame's own: destination
 * `dst`, our MAC as source, the frame's VLAN tag (l2 == 18) kept, ethertype `proto`. Only the
 * tag is read from the old header, before anything is written (the new header after it may
 * cover it); the rest is written outright instead of moved and then overwritten. The caller
 * has checked data + room + l2 against the end. */
static __always_inline void eth_push(void *data, int l2, int room, struct mac_words dst,
				     const struct lb_config *cfg, __u16 proto)
{
	struct ethhdr *eth = data;

	if (l2 == 18) {
		const __u16 *old = data + room + 12;	/* TPID, TCI */
		__u16 tpid = old[0], tci = old[1];
		__u16 *tag = data + 12;

		tag[0] = tpid;
		tag[1] = tci;
	}
	mac_store(eth->h_dest, dst);
	mac_store(eth->h_source, mac_load(cfg->mac));
	set_l3_proto(data, l2, proto);
}

/* TUN's outer destination MAC: the next hop's if set, else the real's. */
static __always_inline struct mac_words tun_dst_mac(const struct real_info *r)
{
	struct mac_words nh = mac_load(r->nexthop_mac);

	if (nh.w[0] | nh.w[1] | nh.w[2])
		return nh;
	return mac_load(r->mac);
}

/* A 20-byte IPv4 header (no options, id 0, TTL 64) with its checksum, built in registers and
 * written as five 32-bit words: the checksum (RFC 1071) is summed over the words as they
 * are stored, never read back from the packet. Words are in network order (bpf_htonl folds
 * on constants, one byte swap otherwise). `ip` is 4-byte aligned relative to l2. */
static __always_inline void ipv4_hdr_write(struct iphdr *ip, __u8 tos, __u16 tot_len, int df,
					   __u8 proto, __be32 saddr, __be32 daddr)
{
	__be32 *w = (__be32 *)ip;
	__be32 w0 = bpf_htonl(0x45000000 | (__u32)tos << 16 | tot_len);
	__be32 w1 = df ? bpf_htonl(IP_DF) : 0;		/* id 0, DF or nothing */
	__be32 w2 = bpf_htonl((__u32)OUTER_TTL << 24 | (__u32)proto << 16);	/* checksum 0 */

	w[0] = w0;
	w[1] = w1;
	w[2] = w2;
	w[3] = saddr;
	w[4] = daddr;
	ip->check = csum_fold64((__u64)w0 + w1 + w2 + saddr + daddr);
}

/* TUN toward an IPv4 real: outer IPv4, protocol 4 (inner IPv4) or 41 (inner IPv6). */
static __always_inline int tun_push4(struct xdp_md *ctx, int l2, const struct pkt *p,
				     const struct real_info *r, const struct lb_config *cfg)
{
	const int room = sizeof(struct iphdr);
	void *data;

	if (bpf_xdp_adjust_head(ctx, -room))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	if (data + l2 + room > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_push(data, l2, room, tun_dst_mac(r), cfg, ETH_P_IP);
	/* Outer DF copies the inner one (inner IPv6 never fragments on the way: DF). */
	ipv4_hdr_write(data + l2, p->tos, p->ip_len + room, p->df,
		       p->flow.family == LB_AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_,
		       cfg->tun_src4, *(const __be32 *)r->addr);
	return LB_TX_TUN;
}

/* TUN toward an IPv6 real: outer IPv6, next header 4 (inner IPv4) or 41 (inner IPv6). */
static __always_inline int tun_push6(struct xdp_md *ctx, int l2, const struct pkt *p,
				     const struct real_info *r, const struct lb_config *cfg)
{
	const int room = sizeof(struct ipv6hdr);
	struct ipv6hdr *o;
	__be32 *w;
	void *data;

	if (bpf_xdp_adjust_head(ctx, -room))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	if (data + l2 + room > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_push(data, l2, room, tun_dst_mac(r), cfg, ETH_P_IPV6);
	o = data + l2;
	w = (__be32 *)o;
	/* Version 6, traffic class copied from the inner packet, flow label 0 (RFC 2473 §6.5
	 * leaves it to the entry point; RFC 6438 ECMP entropy from the flow hash would go here
	 * if a path needs it); then payload length, next header, hop limit. */
	w[0] = bpf_htonl(0x60000000 | (__u32)p->tos << 20);
	w[1] = bpf_htonl((__u32)p->ip_len << 16 |
			 (p->flow.family == LB_AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_) << 8 |
			 OUTER_TTL);
	__builtin_memcpy(&o->saddr, cfg->tun_src6, 16);
	__builtin_memcpy(&o->daddr, r->addr, 16);
	return LB_TX_TUN;
}

/* Cut the frame to l2 + `keep` bytes, then make `room` bytes of headroom after the L2
 * header. The first `keep` bytes of the IP packet end up at l2 + room. Saves the client's
 * MAC (the frame's source) in `client_mac` first. */
static __always_inline int icmp_reshape(struct xdp_md *ctx, int l2, int keep, int room,
					__u8 *client_mac)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int len;

	if ((void *)(eth + 1) > end)
		return -1;
	__builtin_memcpy(client_mac, eth->h_source, ETH_ALEN);
	len = end - data;
	if (len < l2 + keep)
		return -1;
	if (bpf_xdp_adjust_tail(ctx, l2 + keep - len))
		return -1;
	return push_room(ctx, l2, room);
}

static __always_inline void icmp_eth(void *data, int l2, const __u8 *client_mac,
				     const struct lb_config *cfg, __u16 proto)
{
	struct ethhdr *eth = data;

	__builtin_memcpy(eth->h_dest, client_mac, ETH_ALEN);
	__builtin_memcpy(eth->h_source, cfg->mac, ETH_ALEN);
	set_l3_proto(data, l2, proto);
}

/* ICMP type 3 code 4 to an IPv4 client, RFC 792 + RFC 1191 §4 (next-hop MTU). */
static __always_inline int too_big4(struct xdp_md *ctx, int l2, const struct pkt *p,
				    const struct lb_config *cfg, __u16 mtu)
{
	const int quote = sizeof(struct iphdr) + ICMP_QUOTE;
	const int room = sizeof(struct iphdr) + sizeof(struct icmp_frag);
	__u8 client_mac[ETH_ALEN];
	struct icmp_frag *icmp;
	struct iphdr *ip;
	void *data;

	if (icmp_reshape(ctx, l2, quote, room, client_mac))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	ip = data + l2;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) + quote > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	icmp_eth(data, l2, client_mac, cfg, ETH_P_IP);
	ip->version = 4;
	ip->ihl = 5;
	ip->tos = ICMP_TOS;
	ip->tot_len = bpf_htons(room + quote);
	ip->id = 0;
	ip->frag_off = 0;
	ip->ttl = OUTER_TTL;
	ip->protocol = IPPROTO_ICMP;
	if (cfg->tun_src4)
		ip->saddr = cfg->tun_src4;
	else
		__builtin_memcpy(&ip->saddr, p->flow.dst, 4);
	__builtin_memcpy(&ip->daddr, p->flow.src, 4);
	ipv4_set_csum(ip);
	icmp->type = ICMP_DEST_UNREACH_;
	icmp->code = ICMP_FRAG_NEEDED_;
	icmp->unused = 0;
	icmp->mtu = bpf_htons(mtu);
	icmp->checksum = 0;
	icmp->checksum = csum_fold32(csum_words(icmp, (sizeof(*icmp) + quote) / 2));
	return LB_TX_TOO_BIG;
}

/* ICMPv6 Packet Too Big to an IPv6 client, RFC 4443 §3.2. */
static __always_inline int too_big6(struct xdp_md *ctx, int l2, const struct pkt *p,
				    const struct lb_config *cfg, __u32 mtu)
{
	const int quote = sizeof(struct ipv6hdr) + ICMP_QUOTE;
	const int room = sizeof(struct ipv6hdr) + sizeof(struct icmp6hdr);
	__u8 client_mac[ETH_ALEN];
	struct icmp6hdr *icmp;
	struct ipv6hdr *ip6;
	__u32 sum;
	void *data;

	if (icmp_reshape(ctx, l2, quote, room, client_mac))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	ip6 = data + l2;
	icmp = (void *)(ip6 + 1);
	if ((void *)(icmp + 1) + quote > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	icmp_eth(data, l2, client_mac, cfg, ETH_P_IPV6);
	ip6->version = 6;
	ip6->priority = 0;
	ip6->flow_lbl[0] = 0;
	ip6->flow_lbl[1] = 0;
	ip6->flow_lbl[2] = 0;
	ip6->payload_len = bpf_htons(sizeof(*icmp) + quote);
	ip6->nexthdr = IPPROTO_ICMPV6;
	ip6->hop_limit = OUTER_TTL;
	if (!addr6_is_zero(cfg->tun_src6))
		__builtin_memcpy(&ip6->saddr, cfg->tun_src6, 16);
	else
		__builtin_memcpy(&ip6->saddr, p->flow.dst, 16);
	__builtin_memcpy(&ip6->daddr, p->flow.src, 16);
	icmp->icmp6_type = ICMPV6_PKT_TOOBIG;
	icmp->icmp6_code = 0;
	icmp->icmp6_mtu = bpf_htonl(mtu);
	icmp->icmp6_cksum = 0;
	/* Pseudo-header (RFC 8200 §8.1): addresses, upper-layer length, next header. */
	sum = csum_words(&ip6->saddr, 16);
	sum += bpf_htons(sizeof(*icmp) + quote);
	sum += bpf_htons(IPPROTO_ICMPV6);
	sum += csum_words(icmp, (sizeof(*icmp) + quote) / 2);
	icmp->icmp6_cksum = csum_fold32(sum);
	return LB_TX_TOO_BIG;
}

#endif
