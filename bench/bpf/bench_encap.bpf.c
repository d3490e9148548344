// SPDX-License-Identifier: GPL-2.0
/* bench_encap: the frame rewrites of bpf/include/encap.h alone, for bench/encap.ts.
 *
 * BPF_PROG_TEST_RUN with repeat re-runs a program on the buffer it already rewrote
 * (docs/lab-notes.md), so an encapsulating program would see its own output. Here each TUN
 * program undoes its bpf_xdp_adjust_head(-20) at the end: with an untagged frame tun_push4
 * reads nothing of the old frame, so every iteration does the same work, and the kernel's
 * loop takes the per-call overhead (~70 ns, ±10 % on the shared machine) out of the figure.
 * encap_floor does the same two adjust_head calls and the bounds check without building
 * anything: tun4 − floor is the cost of building the headers. encap_dr rewrites the MACs
 * (idempotent), encap_null only fills the packet state: dr − null is dr_rewrite's cost.
 *
 * The real, the config and the packet fields are read from global data (volatile), so the
 * compiler cannot fold them: the same loads as from lb's maps and parsed state.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>
#include "lb_shared.h"
#include "parsing.h"
#include "encap.h"

#define ROOM4 20

volatile struct lb_config bench_cfg = {
	.mac = { 0x02, 0, 0, 0, 0, 0xfe }, .tun_src4 = 0x0101000a /* 10.0.1.1 */, .mtu = 1500,
};
volatile struct real_info bench_real = {
	.addr = { 10, 2, 2, 1 }, .mac = { 0x02, 0, 0, 0, 0x20, 0x01 }, .family = LB_AF_INET,
};
volatile __u32 bench_ip_len = 58;	/* the IP length of bench/encap.ts's frame */
volatile __u8 bench_tos, bench_df = 1, bench_family = LB_AF_INET;

static __always_inline void fill(struct pkt *p)
{
	__builtin_memset(p, 0, sizeof(*p));
	p->l3_off = 14;
	p->ip_len = bench_ip_len;
	p->tos = bench_tos;
	p->df = bench_df;
	p->flow.family = bench_family;
}

#define REAL ((const struct real_info *)&bench_real)
#define CFG ((const struct lb_config *)&bench_cfg)

SEC("xdp")
int encap_null(struct xdp_md *ctx)
{
	struct pkt p;

	fill(&p);
	return p.ip_len ? XDP_TX : XDP_ABORTED;
}

SEC("xdp")
int encap_floor(struct xdp_md *ctx)
{
	struct pkt p;
	void *data;

	fill(&p);
	if (bpf_xdp_adjust_head(ctx, -ROOM4))
		return XDP_ABORTED;
	data = (void *)(long)ctx->data;
	if (data + 14 + ROOM4 > (void *)(long)ctx->data_end)
		return XDP_ABORTED;
	if (bpf_xdp_adjust_head(ctx, ROOM4))
		return XDP_ABORTED;
	return p.ip_len ? XDP_TX : XDP_ABORTED;
}

/* TUN to an IPv4 real, undone: repeat-safe. */
SEC("xdp")
int encap_tun4(struct xdp_md *ctx)
{
	struct pkt p;

	fill(&p);
	if (tun_push4(ctx, 14, &p, REAL, CFG) != LB_TX_TUN)
		return XDP_ABORTED;
	if (bpf_xdp_adjust_head(ctx, ROOM4))
		return XDP_ABORTED;
	return XDP_TX;
}

/* TUN to an IPv4 real, kept: one call shows the frame tun_push4 builds. */
SEC("xdp")
int encap_tun4_once(struct xdp_md *ctx)
{
	struct pkt p;

	fill(&p);
	return tun_push4(ctx, 14, &p, REAL, CFG) == LB_TX_TUN ? XDP_TX : XDP_ABORTED;
}

SEC("xdp")
int encap_dr(struct xdp_md *ctx)
{
	struct pkt p;

	fill(&p);
	if (dr_rewrite(ctx, REAL, CFG) != LB_TX_DR)
		return XDP_ABORTED;
	return p.ip_len ? XDP_TX : XDP_ABORTED;
}

char LICENSE[] SEC("license") = "GPL";
