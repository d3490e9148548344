// SPDX-License-Identifier: GPL-2.0
/* Deliberately unverifiable: reads packet byte 100 without a bounds check, so the verifier
 * rejects it ("invalid access to packet"). Used by the loader's E_BPF_LOAD test. */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_oob(struct xdp_md *ctx)
{
	unsigned char *data = (void *)(long)ctx->data;

	return data[100] == 1 ? XDP_DROP : XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
