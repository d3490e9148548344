/* Every struct, map limit and code shared between the BPF programs and TypeScript: the single
 * definition (src/maps/lb.ts holds a codec per struct, checked against this file's BTF).
 *
 * Layout rules: explicit pad fields, no bitfields, sizes asserted. Addresses are 16 bytes; an
 * IPv4 address sits in the first 4 bytes (network order) with the other 12 zero and family
 * LB_AF_INET, so one key type serves both families without hidden padding.
 */
#ifndef XLVS_LB_SHARED_H
#define XLVS_LB_SHARED_H

#include <linux/types.h>

/* Map sizes. Ids index arrays, so id 0 is reserved as "none" in both spaces. */
#define LB_MAX_VIPS 1024		/* VIP ids 1..1023 */
/* lb_vips entries: one per port of every service, so a grouped service (a port list or range,
 * IPVS's fwmark service) is one key per port, all with the same vip_info. Not preallocated
 * (BPF_F_NO_PREALLOC): what is not used costs nothing. */
#define LB_VIP_KEYS 65536
#define LB_MAX_REALS 65536		/* real ids 1..65535: 256 VIPs x 100 reals and room to spare */
/* Default sizes of the flow tables; the daemon sizes each at load (topology director.conn_table,
 * director.persistence_table) with bpf_map__set_max_entries. LRU: the oldest go first when full. */
#define LB_CONN_ENTRIES 1048576	/* lb_conns: confirmed IPv4 flows (96 bytes of kernel memory each) */
#define LB_CONN6_ENTRIES 262144		/* lb_conns6: confirmed IPv6 flows */
#define LB_NEW_ENTRIES 131072		/* lb_new: unconfirmed flows, the only table a flood can churn */
#define LB_PERSIST_ENTRIES 262144
#define LB_MAGLEV_MAX 1048573		/* largest inner table (prime); default 65537, Maglev §3.4 */
#define LB_DECAP_VIPS 1024
#define LB_NAT_ENTRIES 262144		/* lb_nat_rev: NAT reverse entries, both families (sized at load) */
#define LB_TX_PORTS 64			/* lb_tx_ports, lb_ifaces: interfaces the lb program runs on */

/* lb_vip_filter: a pre-filter in front of lb_vips, so a packet to an address that is no VIP
 * costs one array load (inlined by the verifier) instead of hash lookups. Indexed by
 * lb_vip_slot() of the destination address; each slot holds the OR of the LB_VF_* bits of
 * every VIP whose address falls in it. A clear bit means "no such VIP"; a set bit only means
 * "look in lb_vips" (slots are shared). Written by the control plane before a VIP is added and
 * recomputed after one is removed.
 * Slot: the four 32-bit words of the 16-byte address (as the host loads them) XORed, then
 * Knuth's multiplicative hash (TAOCP vol. 3, 6.4: A = 2^32 / golden ratio = 0x9e3779b9), top
 * LB_VIP_FILTER_BITS bits. 1023 VIPs in 65536 slots: at most 1.6% of other addresses pass. */
#define LB_VIP_FILTER_BITS 16
#define LB_VIP_FILTER_SLOTS (1u << LB_VIP_FILTER_BITS)
#define LB_VIP_FILTER_MULT 0x9e3779b9u
#define LB_VF_TCP 0x01		/* a TCP VIP with a port */
#define LB_VF_TCP_ALL 0x02	/* a TCP VIP of port 0 (all ports) */
#define LB_VF_UDP 0x04		/* a UDP VIP with a port */
#define LB_VF_UDP_ALL 0x08	/* a UDP VIP of port 0 */
#define LB_VF_NO_ACCEPT 0x10	/* an address in lb_no_accept */
#define LB_VF_NAT_SRC 0x20	/* the address of a NAT real: its replies (the source's slot, read
				 * only while LB_VF_NAT_ON is set) */
#define LB_VF_SNAT 0x40		/* an address of a full-NAT source pool: replies to it */
#define LB_VF_NAT_ON 0x80	/* in every slot while some VIP is NAT or full-NAT: a packet's
				 * source slot may have LB_VF_NAT_SRC. The destination's slot, read
				 * anyway, carries it: traffic of directors without NAT pays nothing */

/* Address families as stored in keys (not AF_*: these are our own stable values). */
#define LB_AF_INET 4
#define LB_AF_INET6 6

/* vip_info.method */
#define LB_METHOD_DR 1		/* rewrite MACs, same L2 (ipvsadm -g) */
#define LB_METHOD_TUN 2		/* IP-in-IP toward the real (ipvsadm -i) */
#define LB_METHOD_NAT 3		/* destination rewritten to real:port, replies back through us
				 * (ipvsadm -m, keepalived lb_kind NAT) */
#define LB_METHOD_FULLNAT 4	/* NAT plus the source rewritten to a pool address and port */

/* vip_info.hash_fields: what the Maglev slot is hashed from. */
#define LB_HASH_SRC_ADDR 0x01
#define LB_HASH_SRC_PORT 0x02
#define LB_HASH_DST_ADDR 0x04
#define LB_HASH_DST_PORT 0x08
#define LB_HASH_PROTO 0x10
#define LB_HASH_5TUPLE 0x1f	/* maglev (default) */
/* source-hash = SRC_ADDR (ipvsadm sh), dest-hash = DST_ADDR (dh),
 * maglev-source-port = SRC_ADDR|SRC_PORT (mh/sh with sh-port, mh-port) */

/* vip_info.on_down: what happens to flows of a real marked down. */
#define LB_ON_DOWN_EXPIRE 1	/* rescheduled on their next packet */
#define LB_ON_DOWN_KEEP 2	/* stay on the real */

/* real_info.state */
#define LB_REAL_NONE 0		/* slot unused */
#define LB_REAL_UP 1		/* in selection */
#define LB_REAL_DRAIN 2		/* out of new selection, flows continue */
#define LB_REAL_DOWN 3		/* out; flows follow the VIP's on_down */

/* vip_info.local_mode: a director that is also a real server of the VIP (its own address is
 * one of the reals, as in LVS setups where two machines each run keepalived and the service).
 * A local real's flows go to this machine's kernel (XDP_PASS, the VIP is on lo) instead of out.
 * The reals' own frames also break loops: a frame a peer director forwarded (its source MAC is
 * in lb_peers for this VIP) is always delivered here, never forwarded again. */
#define LB_LOCAL_NONE 0		/* no local real */
#define LB_LOCAL_ACTIVE 1	/* we hold the VIP (VRRP Master, or no VRRP instance covers it):
				 * schedule normally, picks of the local real are delivered here */
#define LB_LOCAL_BACKUP 2	/* we do not hold it (VRRP Backup/Fault/Init): every packet to the
				 * VIP that reaches us is delivered here, never forwarded (IPVS
				 * backup_only, sysctl net.ipv4.vs.backup_only) */

/* vip_key: {address, port, protocol}. port 0 = every port of the address. */
struct vip_key {
	__u8 addr[16];
	__be16 port;
	__u8 proto;		/* IPPROTO_TCP / IPPROTO_UDP */
	__u8 family;		/* LB_AF_INET / LB_AF_INET6 */
};
_Static_assert(sizeof(struct vip_key) == 20, "vip_key");

/* vip_info.sched: how a new flow's real is chosen among the Maglev table's candidates. */
#define LB_SCHED_HASH 0		/* the first candidate in selection (maglev, sh, dh) */
#define LB_SCHED_LC 1		/* the least connections of the first LB_LC_CANDIDATES (ipvsadm lc) */
#define LB_SCHED_WLC 2		/* the least connections per weight of them (ipvsadm wlc) */

/* vip_info.flags */
#define LB_VIP_F_GROUP 0x01	/* a grouped service: the same vip_info under every port of a
				 * port list or range (keepalived virtual_server fwmark) */

/* vip_info: per-VIP policy written by the control plane. */
struct vip_info {
	__u32 id;		/* 1..LB_MAX_VIPS-1: index of maglev_tables, vip_stats */
	__u32 sorry_real;	/* real id used when no real is in selection, 0 = none */
	__u32 persist_timeout_ms; /* 0 = no persistence (ipvsadm -p, in ms) */
	__u32 table_size;	/* Maglev table size (prime), informational */
	__u8 method;		/* LB_METHOD_* */
	__u8 hash_fields;	/* LB_HASH_* */
	__u8 on_down;		/* LB_ON_DOWN_* */
	__u8 persist_prefix;	/* client prefix length kept (ipvsadm -M), 0..32 / 0..128 */
	__u8 sched;		/* LB_SCHED_* */
	__u8 local_mode;	/* LB_LOCAL_*: how a local real (local_real) takes this VIP's flows */
	__u8 flags;		/* LB_VIP_F_* */
	__u8 pad1;
	__u32 tmo_tcp;		/* s: an ESTABLISHED connection's idle timeout (ipvsadm --set tcp) */
	__u32 tmo_tcp_fin;	/* s: FIN_WAIT (ipvsadm --set tcpfin) */
	__u32 tmo_udp;		/* s: a UDP flow's idle timeout (ipvsadm --set udp) */
	__u32 local_real;	/* real id of this director's own real (LB_RF_LOCAL), 0 = none */
};
_Static_assert(sizeof(struct vip_info) == 40, "vip_info");

/* vip_entry: lb_vip_ids[id], a copy of the VIP's lb_vips key and value by id, so a packet of
 * an established flow finds its VIP from the connection entry's vip_id with an array load
 * instead of a hash lookup. Written with lb_vips (before it when added, cleared after removal). */
struct vip_entry {
	struct vip_key key;	/* a grouped VIP: its lowest port */
	struct vip_info info;
	__be16 port_hi;		/* a grouped VIP: its highest port (key.port..port_hi spans the group) */
	__u16 pad;		/* one 64-byte cache line per entry (lb_vip_ids is page-aligned) */
};
_Static_assert(sizeof(struct vip_entry) == 64, "vip_entry");

/* real_info: indexed by real id. A real belongs to exactly one VIP (vip_id). */
struct real_info {
	__u8 addr[16];
	__u8 mac[6];		/* DR: destination MAC; TUN: outer destination MAC */
	__u8 nexthop_mac[6];	/* TUN only: if not zero, used instead of mac */
	__u8 family;		/* LB_AF_* of addr (TUN outer family) */
	__u8 state;		/* LB_REAL_* */
	__u16 flags;		/* LB_RF_* */
	__u32 vip_id;		/* owner; a flow whose VIP differs is rescheduled */
	__u32 weight;		/* wlc divides by it; the Maglev table is built from it */
	__u32 upper_threshold;	/* no new flows at >= this many connections; 0 = none (ipvsadm -x) */
	__u32 lower_threshold;	/* ... until below this many (ipvsadm -y; 3/4 of upper if unset) */
	__be16 port;		/* NAT, full-NAT: the real's port (VIP:80 -> real:8080); 0 = the
				 * VIP's own port. DR and TUN keep the VIP's port. */
	__u8 pad2[14];		/* one 64-byte cache line per entry (lb_reals is page-aligned) */
};
_Static_assert(sizeof(struct real_info) == 64, "real_info");

/* real_info.flags */
#define LB_RF_LOCAL 0x0001	/* this director's own address: delivered to its kernel (XDP_PASS),
				 * MACs untouched, instead of forwarded */

/* lb_peers: {source MAC, VIP id} of the other reals of a VIP that has a local real. Such a real
 * may be a peer director that forwarded the frame to us (it was the Master and picked us); a
 * frame from it to the VIP is delivered here, never sent on, so two directors that disagree
 * (split brain, different health views) cannot bounce a flow between them. Delivering a real's
 * own frame locally is always safe: it is one of the VIP's servers answering. */
#define LB_MAX_PEERS LB_MAX_REALS	/* a VIP's peers are its reals: never more than real ids */
struct peer_key {
	__u8 mac[6];
	__u16 vip_id;
};
_Static_assert(sizeof(struct peer_key) == 8, "peer_key");

/* flow_key: a connection (and the Maglev hash input). */
struct flow_key {
	__u8 src[16];
	__u8 dst[16];
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 family;
	__u16 pad;
};
_Static_assert(sizeof(struct flow_key) == 40, "flow_key");

/* conn4_key: an IPv4 flow in lb_conns, 16 bytes so an entry costs 96 bytes of kernel memory
 * (the 40-byte flow_key costs 120: 48 of element header and 16 of bucket per entry besides). */
struct conn4_key {
	__be32 src;
	__be32 dst;
	__be16 sport;
	__be16 dport;
	__u8 proto;
	__u8 pad[3];
};
_Static_assert(sizeof(struct conn4_key) == 16, "conn4_key");

/* Connection states, IPVS's numbering (ip_vs_proto_tcp.c) for the TCP ones; a director in DR or
 * TUN mode sees only the client's side, so only NONE, ESTABLISHED, SYN_RECV, FIN_WAIT, TIME_WAIT
 * and CLOSE occur (IPVS's INPUT-ONLY table). ESTABLISHED counts as active, the rest inactive. */
#define LB_CS_NONE 0
#define LB_CS_ESTABLISHED 1
#define LB_CS_SYN_RECV 3
#define LB_CS_FIN_WAIT 4
#define LB_CS_TIME_WAIT 5
#define LB_CS_CLOSE 6
#define LB_CS_UDP 11		/* a UDP flow: one state */
#define LB_CS_TEMPLATE 12	/* lb_new only: a persistence template of an unconfirmed flow */

/* Fixed timeouts of the states ipvsadm --set does not reach (IPVS's defaults), in seconds. */
#define LB_TMO_NONE 2
#define LB_TMO_SYN_RECV 60
#define LB_TMO_TIME_WAIT 120
#define LB_TMO_CLOSE 10

/* conn_value: the real a flow was given, its state and when it expires. */
struct conn_value {
	__u32 real_id;
	__u16 vip_id;
	__u8 state;		/* LB_CS_* */
	__u8 nat_addr;		/* full-NAT: 1 + index of the flow's source in its VIP's snat pool;
				 * 0 = no source binding (yet) */
	__u32 expires;		/* CLOCK_MONOTONIC second after which the entry is not used */
	__be16 nat_port;	/* full-NAT: the flow's source port toward the real */
	__u16 pad2;
};
_Static_assert(sizeof(struct conn_value) == 16, "conn_value");

/* lb_new's slot (bpf/include/conntrack.h): an unconfirmed flow's key and entry in one 64-byte
 * cache line; key.family 0 = empty. src/conns/tables.ts reads the same layout. */
struct new_slot {
	struct flow_key key;
	struct conn_value val;
	__u64 pad;
};
_Static_assert(sizeof(struct new_slot) == 64, "new_slot");

/* murmur3's finaliser: every input bit moves every output bit. */
static inline __u32 lb_fmix32(__u32 h)
{
	h ^= h >> 16;
	h *= 0x85ebca6bu;
	h ^= h >> 13;
	h *= 0xc2b2ae35u;
	h ^= h >> 16;
	return h;
}

/* lb_new's slots come in pairs (a 2-way set): a flow may sit in either slot of its pair, so it
 * loses its slot only when two others of the same pair are newer. The first slot of the flow's
 * pair in a table of n slots (n / 2 pairs, the last slot of an odd n unused): the key's ten
 * 32-bit words mixed, then mapped onto [0, n / 2) by a multiply (any n, no division), times two.
 * The same in src/maps/lb.ts (newSlotIndex). */
static inline __u32 new_slot_index(const struct flow_key *k, __u32 n)
{
	const __u32 *w = (const __u32 *)k;
	__u32 h;

	h = lb_fmix32((w[0] ^ w[1] ^ w[2] ^ w[3]) * 0x9e3779b1u + w[8]);
	h = lb_fmix32(h ^ (w[4] ^ w[5] ^ w[6] ^ w[7]) ^ (w[9] * 0x27d4eb2fu));
	return 2 * (__u32)(((__u64)h * (n >> 1)) >> 32);
}

/* lb_conns's line (bpf/include/conntrack.h): two confirmed IPv4 flows, each its 16-byte key and
 * its entry, in one 64-byte cache line; key.proto 0 = a free entry. v.pad2 holds conn4_check() of
 * the entry, so an entry torn by two CPUs writing one line at once reads as absent.
 * src/conns/tables.ts reads the same layout. */
struct conn4_entry {
	struct conn4_key k;
	struct conn_value v;
};
_Static_assert(sizeof(struct conn4_entry) == 32, "conn4_entry");

struct conn4_line {
	struct conn4_entry e[2];
};
_Static_assert(sizeof(struct conn4_line) == 64, "conn4_line");

/* A confirmed IPv4 flow may sit in either of two lines (two choices): the first line's index
 * and the second's in a table of n lines, from one hash of the key. The same in src/maps/lb.ts
 * (conn4Lines). */
static inline __u32 conn4_hash(const struct conn4_key *k)
{
	const __u32 *w = (const __u32 *)k;

	return lb_fmix32(lb_fmix32(w[0] * 0x9e3779b1u + w[2]) ^ w[1] ^ (w[3] * 0x27d4eb2fu));
}

static inline __u32 conn4_line1(__u32 h, __u32 n)
{
	return (__u32)(((__u64)h * n) >> 32);
}

static inline __u32 conn4_line2(__u32 h, __u32 n)
{
	return (__u32)(((__u64)lb_fmix32(h ^ 0x5bd1e995u) * n) >> 32);
}

/* What an entry's v.pad2 must hold: its key and its real and VIP folded to 16 bits. */
static inline __u16 conn4_check(const struct conn4_key *k, const struct conn_value *v)
{
	const __u32 *w = (const __u32 *)k;
	__u32 x = lb_fmix32(w[0] ^ w[1] ^ w[2] ^ w[3] ^ v->real_id ^ ((__u32)v->vip_id << 16));

	return (__u16)(x ^ (x >> 16)) | 1;	/* never 0: a zeroed entry never checks */
}

/* lb_real_load[real id]: the real's connections as the data plane counts them, with atomic adds
 * as entries are created, change state or are deleted. Entries that expire or are evicted
 * without another packet are not subtracted here: the connection census (src/conns) walks the
 * tables off the daemon's event loop and writes the difference into lb_real_load_fix, so
 * active + fix.active is the real's ActiveConn as of the last census plus what changed since. */
struct real_load {
	__s64 active;
	__s64 inactive;
	__u32 overloaded;	/* upper_threshold reached and not yet below lower_threshold */
	__u32 pad;
};
_Static_assert(sizeof(struct real_load) == 24, "real_load");

struct real_load_fix {
	__s64 active;
	__s64 inactive;
};
_Static_assert(sizeof(struct real_load_fix) == 16, "real_load_fix");

/* lb_flow_stats: what happened to new flows (per-CPU, one entry; field N is LB_FS_* N). */
struct lb_flow_stats {
	__u64 unconfirmed;	/* entries created in lb_new (a SYN, a UDP flow's first packet) */
	__u64 confirmed;	/* moved to lb_conns/lb_conns6 (handshake ACK, second packet) */
	__u64 reused;		/* a SYN on a closed or expired entry: scheduled afresh */
	__u64 expired;		/* a TCP non-SYN on an expired entry: to the kernel */
	__u64 displaced;	/* a live confirmed IPv4 flow that lost its entry to a new one (lb_conns
				 * full where the new one may go) */
};
_Static_assert(sizeof(struct lb_flow_stats) == 40, "lb_flow_stats");

/* persist_key: {VIP, client address & mask} (ipvsadm -p template). */
struct persist_key {
	__u8 client[16];	/* masked to vip_info.persist_prefix */
	__u32 vip_id;
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct persist_key) == 24, "persist_key");

struct persist_value {
	__u32 real_id;
	__u32 pad;
	__u64 last_used_ns;	/* expired when now - last_used > timeout */
};
_Static_assert(sizeof(struct persist_value) == 16, "persist_value");

/* lb_config: the director's own identity (one entry, key 0). */
struct lb_config {
	__u8 mac[6];		/* source MAC of every frame we transmit */
	__u16 pad0;
	__be32 tun_src4;	/* outer IPv4 source for TUN, ICMP source; 0 = unset */
	__u8 tun_src6[16];	/* outer IPv6 source for TUN, ICMPv6 source; :: = unset */
	__u32 mtu;		/* L3 MTU toward reals; encapsulated packets above it are too big */
	__u32 hash_seed;	/* identical on every director so all pick the same real */
	__u32 now_s;		/* CLOCK_MONOTONIC in whole seconds, written by the daemon every
				 * second: the clock connection entries expire by; 0 = unset */
};
_Static_assert(sizeof(struct lb_config) == 40, "lb_config");

/* Traffic per VIP and per real (per-CPU arrays indexed by id; summed by the reader). */
struct lb_counters {
	__u64 packets;
	__u64 bytes;
	__u64 new_flows;	/* connection-table entries created (ipvsadm "Conns") */
};
_Static_assert(sizeof(struct lb_counters) == 24, "lb_counters");

/* Verdict reasons. Stable: never renumber, retire instead. Each code N counts in field N of
 * struct lb_reason_stats (asserted in stats.h). */
enum lb_reason {
	LB_R_UNUSED = 0,
	LB_TX_DR = 1,		/* forwarded, DR */
	LB_TX_TUN = 2,		/* forwarded, TUN */
	LB_PASS_NOT_IP = 3,	/* not IPv4/IPv6 (ARP, LLDP, …) */
	LB_PASS_NOT_VIP = 4,	/* IP but no VIP matches */
	LB_PASS_PROTO = 5,	/* neither TCP nor UDP (ICMP, …) */
	LB_DROP_MALFORMED = 6,	/* truncated or inconsistent headers */
	LB_PASS_FRAGMENT = 7,	/* IPv4 fragment or IPv6 fragment header */
	LB_PASS_IP_OPTIONS = 8,	/* IPv4 with options (IHL > 5) */
	LB_PASS_IPV6_EXT = 9,	/* IPv6 extension header */
	LB_PASS_TTL = 10,	/* TTL / hop limit <= 1 */
	LB_PASS_NO_REAL = 11,	/* VIP with no real in selection and no sorry real */
	LB_TX_TOO_BIG = 12,	/* ICMP frag-needed / ICMPv6 packet-too-big sent to the client */
	LB_DROP_TOO_BIG = 13,	/* too big, DF clear: cannot fragment in XDP */
	LB_DROP_CONFIG = 14,	/* director config missing (TUN source address) */
	LB_DROP_INTERNAL = 15,	/* a helper failed (adjust_head) */
	LB_PASS_NOT_OURS = 16,	/* to a VIP but not to our MAC: a bridge flooded it, or it is
				 * the other director's (only the VRRP Master forwards) */
	LB_DROP_NO_ACCEPT = 17,	/* to a VRRP address in no-accept mode, not to one of its
				 * services (keepalived no_accept; RFC 5798 §6.4.3) */
	LB_TX_ICMP = 18,	/* an ICMP error about one of our flows (fragmentation needed,
				 * packet too big, unreachable, time exceeded) sent on to the
				 * flow's real, DR or TUN (IPVS ip_vs_in_icmp) */
	LB_PASS_CONN_EXPIRED = 19,	/* a TCP packet other than a SYN on a connection whose entry
				 * expired: the kernel answers (a reset), as with IPVS */
	LB_PASS_LOCAL = 20,	/* delivered to this machine's own real (a local real picked, or
				 * a VIP we do not hold, or a frame a peer director forwarded) */
	LB_TX_NAT = 21,		/* NAT / full-NAT toward a real, out of the interface it came in
				 * (XDP_TX, one-armed) */
	LB_REDIR_NAT = 22,	/* ... out of another interface (XDP_REDIRECT, two-armed) */
	LB_TX_NAT_REPLY = 23,	/* a real's reply rewritten back to VIP:port -> client (XDP_TX) */
	LB_REDIR_NAT_REPLY = 24,	/* ... out of another interface (XDP_REDIRECT) */
	LB_REDIR_ICMP = 25,	/* an ICMP error translated for a NAT flow, XDP_REDIRECT (the
				 * XDP_TX ones count as tx_icmp) */
	LB_PASS_NAT_NO_ENTRY = 26,	/* from a NAT real or to a pool address, but of no live flow:
				 * the kernel has it untouched */
	LB_PASS_NO_NEIGH = 27,	/* bpf_fib_lookup: the next hop's neighbour is not resolved; the
				 * kernel gets the packet untranslated */
	LB_PASS_NO_ROUTE = 28,	/* bpf_fib_lookup found no usable route (or forwarding is off) */
	LB_PASS_NO_TX_PORT = 29,	/* the route leaves by an interface the lb program is not
				 * attached to (not in lb_tx_ports) */
	LB_DROP_SNAT_EXHAUSTED = 30,	/* full-NAT: no free pool port for this real */
	LB_REASON_MAX = 31,
};

/* One named field per reason, in code order. */
struct lb_reason_stats {
	__u64 unused;
	__u64 tx_dr;
	__u64 tx_tun;
	__u64 not_ip;
	__u64 not_vip;
	__u64 proto;
	__u64 malformed;
	__u64 fragment;
	__u64 ip_options;
	__u64 ipv6_ext;
	__u64 ttl;
	__u64 no_real;
	__u64 tx_too_big;
	__u64 drop_too_big;
	__u64 config;
	__u64 internal;
	__u64 not_ours;
	__u64 no_accept;
	__u64 tx_icmp;
	__u64 conn_expired;
	__u64 local;		/* 20: LB_PASS_LOCAL */
	__u64 tx_nat;
	__u64 redir_nat;
	__u64 tx_nat_reply;
	__u64 redir_nat_reply;
	__u64 redir_icmp;
	__u64 nat_no_entry;
	__u64 no_neigh;
	__u64 no_route;
	__u64 no_tx_port;
	__u64 snat_exhausted;
};
_Static_assert(sizeof(struct lb_reason_stats) == 8 * LB_REASON_MAX, "lb_reason_stats");

/* nat_rev: lb_nat_rev's value, keyed by a reply as it arrives (a flow_key: the real's address
 * and port as source; the client's, or the full-NAT pool address and port, as destination).
 * Written with the forward flow's entry; `orig` is that flow as the client sent it (client ->
 * VIP), the key of its lb_conns / lb_conns6 / lb_new entry. */
struct nat_rev {
	struct flow_key orig;
	__u32 real_id;		/* the reply is the flow's only if its entry still names this real */
	__u32 vip_id;
};
_Static_assert(sizeof(struct nat_rev) == 48, "nat_rev");

/* snat_pool: lb_snat[vip id], a full-NAT VIP's source pool (per VIP: the pool's family is the
 * VIP's, and two VIPs may list the same addresses: a port is allocated per {real address and
 * port, pool address}, so sharing is safe). */
#define LB_SNAT_ADDRS 8
struct snat_pool {
	__u8 addr[LB_SNAT_ADDRS][16];
	__u16 port_lo;		/* host order, inclusive */
	__u16 port_hi;
	__u8 count;		/* addresses in use, 0 = no pool (every packet refused) */
	__u8 family;
	__u16 pad;
};
_Static_assert(sizeof(struct snat_pool) == 136, "snat_pool");

/* lb_ifaces[ifindex]: an interface the lb program runs on, and its MAC. A NAT reply comes in on
 * the inside interface, to that interface's MAC (the reals' gateway), not to lb_config.mac. */
struct lb_iface {
	__u8 mac[6];
	__u16 pad;
};
_Static_assert(sizeof(struct lb_iface) == 8, "lb_iface");

/* decap (real server): which inner destinations are ours. */
struct decap_key {
	__u8 addr[16];
	__u8 family;
	__u8 pad[3];
};
_Static_assert(sizeof(struct decap_key) == 20, "decap_key");

struct decap_stats {
	__u64 decap4;		/* outer IPv4 removed */
	__u64 decap6;		/* outer IPv6 removed */
	__u64 not_ours;		/* tunnelled, inner destination not in decap_vips */
	__u64 passed;		/* not a tunnel packet: untouched */
};
_Static_assert(sizeof(struct decap_stats) == 32, "decap_stats");

#endif
