// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_hash_drop.bpf.c - baselines: the least a table of sources can cost.
 *
 * bench_xdp_hash_drop: the least a source blocklist can do. Look the IPv4 or
 * IPv6 source up in a hash (filled by `castle-dut attach xdp-hash-drop --fill
 * ADDR --fill-count N`), drop on a hit, pass otherwise, count the frame. No
 * VLANs, no counters per entry, no policy: the floor for castle's blocklist of
 * the same size.
 *
 * bench_xdp_lru_drop: the least a per-source limiter can do. Look the IPv6
 * source up in an LRU hash of 1M entries; a source seen before is dropped, a
 * new one inserted and passed. No clock, no bucket: the floor for castle's
 * rate limiter over the same sources.
 */
#include "counter.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* Sized for the largest bench pool (16M sources would not fit; 2M do). */
#define HASH_ENTRIES (1u << 21)

struct in6_key {
	__u8 a[16];
};

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HASH_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, __u32);
} hash4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, HASH_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct in6_key);
	__type(value, __u32);
} hash6 SEC(".maps");

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

SEC("xdp")
int bench_xdp_hash_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	void *hit = NULL;

	bench_count(end - data);
	if ((void *)(eth + 1) > end)
		return XDP_PASS;
	if (eth->h_proto == bpf_htons(ETH_P_IPV6)) {
		struct ipv6hdr *ip6 = (void *)(eth + 1);
		struct in6_key k;

		if ((void *)(ip6 + 1) > end)
			return XDP_PASS;
		__builtin_memcpy(k.a, &ip6->saddr, 16);
		hit = bpf_map_lookup_elem(&hash6, &k);
	} else if (eth->h_proto == bpf_htons(ETH_P_IP)) {
		struct iphdr *ip = (void *)(eth + 1);
		__u32 k;

		if ((void *)(ip + 1) > end)
			return XDP_PASS;
		k = ip->saddr;
		hit = bpf_map_lookup_elem(&hash4, &k);
	}
	return hit ? XDP_DROP : XDP_PASS;
}
