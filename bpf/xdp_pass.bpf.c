/* xdp_pass: returns XDP_PASS for every frame. The lab attaches it to the bridge-side peer of each
 * veth whose other end runs native XDP: on a veth, frames an XDP program sends with XDP_TX are
 * dropped unless the peer end has an XDP program too (docs/lab-notes.md, "XDP on veth"; the kernel's
 * veth_xdp_xmit needs the peer's XDP rings, which exist only while a program is attached).
 */
#include <linux/bpf.h>
#include <bpf/bpf_helpers.h>

SEC("xdp")
int xdp_pass(struct xdp_md *ctx)
{
	return XDP_PASS;
}

char LICENSE[] SEC("license") = "GPL";
