// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_lru_drop.bpf.c - baseline: the least a per-source limiter can do. Look
 * the IPv6 source up in an LRU hash of 1M entries; a source seen before is
 * dropped, a new one inserted and passed, the frame counted. No clock, no
 * bucket: the floor for castle's rate limiter over the same sources.
 */
#include "counter.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct in6_key {
	__u8 a[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, 1u << 20);
	__type(key, struct in6_key);
	__type(value, __u64);
} lru6 SEC(".maps");

SEC("xdp")
int bench_xdp_lru_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	struct in6_key k;
	__u64 one = 1;

	bench_count(end - data);
	if ((void *)(ip6 + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	__builtin_memcpy(k.a, &ip6->saddr, 16);
	if (bpf_map_lookup_elem(&lru6, &k))
		return XDP_DROP;
	bpf_map_update_elem(&lru6, &k, &one, BPF_NOEXIST);
	return XDP_PASS;
}

