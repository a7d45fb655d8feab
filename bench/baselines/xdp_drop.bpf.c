// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_drop.bpf.c - baseline: count the frame, return XDP_DROP. The floor any
 * XDP program that drops a packet is measured against.
 */
#include "counter.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("xdp")
int bench_xdp_drop(struct xdp_md *ctx)
{
	bench_count(ctx->data_end - ctx->data);
	return XDP_DROP;
}
