// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_hash_drop.bpf.c - baseline: the least a source blocklist can do. Look
 * the IPv4 or IPv6 source up in a hash (filled by `castle-dut attach
 * xdp-hash-drop --fill ADDR --fill-count N`), drop on a hit, pass otherwise,
 * count the frame. No VLANs, no counters per entry, no policy: the floor for
 * castle's blocklist of the same size.
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
