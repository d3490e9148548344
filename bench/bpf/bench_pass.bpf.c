// SPDX-License-Identifier: GPL-2.0
/* bench_pass: the benchmark's floor. Returns XDP_PASS without touching the frame, so one
 * BPF_PROG_TEST_RUN call of it measures the per-call overhead of the test-run machinery
 * (docs/lab-notes.md, "BPF_PROG_TEST_RUN"), which bench/dataplane.ts subtracts from every case.
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int bench_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
