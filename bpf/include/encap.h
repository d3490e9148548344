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

/* Headers are built as numbers in network order ("numerals", as the RFCs draw them) and
 * stored as the widest words that fit, each through one byte swap (bpf_cpu_to_be64 /
 * bpf_htonl): an Ethernet header is one 64-bit, one 32-bit and one 16-bit store, an IPv4
 * header two 64-bit stores and one 32-bit. Nothing written is read back. The words
 * land at offsets the packet's alignment does not guarantee; the verifier allows that on
 * targets with efficient unaligned access (x86-64, arm64: what xlvs is built for), where it
 * costs nothing. */

/* A MAC as a 48-bit number: two bytes, then four. */
static __always_inline __u64 mac48_load(const __u8 *m)
{
	return (__u64)bpf_ntohs(*(const __u16 *)m) << 32 | bpf_ntohl(*(const __u32 *)(m + 2));
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

/* Set the ethertype of the frame (the VLAN's inner type when tagged): the last two bytes of
 * the L2 header, one 16-bit store (struct ethhdr is packed, so its field is written bytewise). */
static __always_inline void set_l3_proto(void *data, int l2, __u16 proto)
{
	*(__be16 *)(data + l2 - 2) = bpf_htons(proto);
}

/* The two MACs of the frame at data: destination `dst` (mac48_load), our MAC as source. */
static __always_inline void eth_set_macs(void *data, __u64 dst, const struct lb_config *cfg)
{
	__u64 src = mac48_load(cfg->mac);

	*(__be64 *)data = bpf_cpu_to_be64(dst << 16 | src >> 32);
	*(__be32 *)(data + 8) = bpf_htonl((__u32)src);
}

/* DR: the frame goes unchanged to the real's MAC, from ours. */
static __always_inline int dr_rewrite(struct xdp_md *ctx, const struct real_info *r,
				      const struct lb_config *cfg)
{
	void *data = (void *)(long)ctx->data;

	if (data + sizeof(struct ethhdr) > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_set_macs(data, mac48_load(r->mac), cfg);
	return LB_TX_DR;
}

/* Write a whole L2 header at data, `room` bytes in front of the frame's own: destination
 * `dst` (mac48_load), our MAC as source, the frame's VLAN tag (l2 == 18) kept, ethertype
 * `proto`. Only the tag is read from the old header, before anything is written (the header
 * that follows the new L2 header may cover it); nothing is moved only to be overwritten.
 * The caller has checked data + room + l2 against the end. */
static __always_inline void eth_push(void *data, int l2, int room, __u64 dst,
				     const struct lb_config *cfg, __u16 proto)
{
	if (l2 == 18) {
		__u32 tag = *(const __u32 *)(data + room + 12);	/* TPID, TCI: copied as is */

		*(__u32 *)(data + 12) = tag;
	}
	eth_set_macs(data, dst, cfg);
	set_l3_proto(data, l2, proto);
}

/* TUN's outer destination MAC: the next hop's if set, else the real's. */
static __always_inline __u64 tun_dst_mac(const struct real_info *r)
{
	__u64 nh = mac48_load(r->nexthop_mac);

	return nh ? nh : mac48_load(r->mac);
}

/* A 20-byte IPv4 header (no options, id 0, TTL 64) with its checksum (RFC 1071), summed over
 * the words as built, never read back from the packet. */
static __always_inline void ipv4_hdr_write(struct iphdr *ip, __u8 tos, __u16 tot_len, int df,
					   __u8 proto, __be32 saddr, __be32 daddr)
{
	/* version 4, IHL 5, TOS, total length | id 0, flags and fragment offset 0 */
	__u64 w01 = (__u64)(0x4500 | tos) << 48 | (__u64)tot_len << 32 | (df ? IP_DF : 0);
	/* TTL, protocol, checksum (0 while summing) */
	__u32 w2 = (__u32)OUTER_TTL << 24 | (__u32)proto << 16;
	__u32 sa = bpf_ntohl(saddr), da = bpf_ntohl(daddr);
	__u16 check = csum_fold64((w01 >> 32) + (__u32)w01 + w2 + sa + da);
	__be64 *q = (__be64 *)ip;

	q[0] = bpf_cpu_to_be64(w01);
	q[1] = bpf_cpu_to_be64((__u64)(w2 | check) << 32 | sa);
	ip->daddr = daddr;
}

/* A 40-byte IPv6 header: traffic class `tc`, flow label 0, hop limit 64. The addresses are
 * copied as 32-bit words: one may be on the stack (the parsed flow, for too-big replies),
 * where the verifier always enforces alignment, and 4 bytes is what struct flow_key's
 * addresses are sure to have. */
static __always_inline void ipv6_hdr_write(struct ipv6hdr *ip6, __u8 tc, __u16 payload_len,
					   __u8 nexthdr, const __u8 *saddr, const __u8 *daddr)
{
	const __u32 *s = (const __u32 *)saddr, *d = (const __u32 *)daddr;
	__u32 *a = (__u32 *)&ip6->saddr;

	/* version 6, traffic class, flow label | payload length, next header, hop limit */
	*(__be64 *)ip6 = bpf_cpu_to_be64((__u64)(0x60000000 | (__u32)tc << 20) << 32 |
					 (__u32)payload_len << 16 | (__u32)nexthdr << 8 | OUTER_TTL);
	a[0] = s[0];
	a[1] = s[1];
	a[2] = s[2];
	a[3] = s[3];
	a[4] = d[0];
	a[5] = d[1];
	a[6] = d[2];
	a[7] = d[3];
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

/* TUN toward an IPv6 real: outer IPv6, next header 4 (inner IPv4) or 41 (inner IPv6). Traffic
 * class copied from the inner packet; flow label 0 (RFC 2473 §6.5 leaves it to the entry
 * point; RFC 6438 ECMP entropy from the flow hash would go here if a path needs it). */
static __always_inline int tun_push6(struct xdp_md *ctx, int l2, const struct pkt *p,
				     const struct real_info *r, const struct lb_config *cfg)
{
	const int room = sizeof(struct ipv6hdr);
	void *data;

	if (bpf_xdp_adjust_head(ctx, -room))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	if (data + l2 + room > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_push(data, l2, room, tun_dst_mac(r), cfg, ETH_P_IPV6);
	ipv6_hdr_write(data + l2, p->tos, p->ip_len,
		       p->flow.family == LB_AF_INET ? IPPROTO_IPIP_ : IPPROTO_IPV6_,
		       cfg->tun_src6, r->addr);
	return LB_TX_TUN;
}

/* Cut the frame to l2 + `keep` bytes, then grow the head by `room` bytes: the first `keep`
 * bytes of the IP packet end up at l2 + room, with the old L2 header in front of them (the
 * caller writes the new one at data with eth_push). Reads the client's MAC (the frame's
 * source) into `client` first. */
static __always_inline int icmp_reshape(struct xdp_md *ctx, int l2, int keep, int room,
					__u64 *client)
{
	void *data = (void *)(long)ctx->data;
	void *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	int len;

	if ((void *)(eth + 1) > end)
		return -1;
	*client = mac48_load(eth->h_source);
	len = end - data;
	if (len < l2 + keep)
		return -1;
	if (bpf_xdp_adjust_tail(ctx, l2 + keep - len))
		return -1;
	return bpf_xdp_adjust_head(ctx, -room) ? -1 : 0;
}

/* ICMP type 3 code 4 to an IPv4 client, RFC 792 + RFC 1191 §4 (next-hop MTU). */
static __always_inline int too_big4(struct xdp_md *ctx, int l2, const struct pkt *p,
				    const struct lb_config *cfg, __u16 mtu)
{
	const int quote = sizeof(struct iphdr) + ICMP_QUOTE;
	const int room = sizeof(struct iphdr) + sizeof(struct icmp_frag);
	struct icmp_frag *icmp;
	struct iphdr *ip;
	__u64 client;
	void *data;

	if (icmp_reshape(ctx, l2, quote, room, &client))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	ip = data + l2;
	icmp = (void *)(ip + 1);
	if ((void *)(icmp + 1) + quote > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_push(data, l2, room, client, cfg, ETH_P_IP);
	ipv4_hdr_write(ip, ICMP_TOS, room + quote, 0, IPPROTO_ICMP,
		       cfg->tun_src4 ? cfg->tun_src4 : *(const __be32 *)p->flow.dst,
		       *(const __be32 *)p->flow.src);
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
	struct icmp6hdr *icmp;
	struct ipv6hdr *ip6;
	__u64 client;
	__u32 sum;
	void *data;

	if (icmp_reshape(ctx, l2, quote, room, &client))
		return LB_DROP_INTERNAL;
	data = (void *)(long)ctx->data;
	ip6 = data + l2;
	icmp = (void *)(ip6 + 1);
	if ((void *)(icmp + 1) + quote > (void *)(long)ctx->data_end)
		return LB_DROP_INTERNAL;
	eth_push(data, l2, room, client, cfg, ETH_P_IPV6);
	ipv6_hdr_write(ip6, 0, sizeof(*icmp) + quote, IPPROTO_ICMPV6,
		       addr6_is_zero(cfg->tun_src6) ? p->flow.dst : cfg->tun_src6, p->flow.src);
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
