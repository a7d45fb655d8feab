// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * tc_ok.bpf.c - baseline: count the packet, return TC_ACT_OK. The floor for
 * castle's TC ingress program; attached as a tcx link (or cls_bpf).
 */
#include "counter.h"

#define TC_ACT_OK 0

char LICENSE[] SEC("license") = "Dual BSD/GPL";

SEC("tc")
int bench_tc_ok(struct __sk_buff *skb)
{
	bench_count(skb->len);
	return TC_ACT_OK;
}
