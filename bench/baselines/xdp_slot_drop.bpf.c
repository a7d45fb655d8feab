// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_slot_drop.bpf.c - baseline: a per-source table that is not a kernel
 * hash map. The IPv6 source is hashed to one set of a page-aligned array
 * (512K sets of four 64-byte slots, key + a stamp: 2M slots, 128 MB, as much
 * memory as xdp_lru_drop's 1M entries); a source found in its set is
 * dropped, a new one replaces a slot chosen by the clock and is passed. One
 * set of adjacent lines in one page per packet, where a hash map reads a
 * bucket and then an element elsewhere: the floor of such a design, beside
 * xdp_lru_drop's. No seed, no bucket, no LRU order within the set.
 *
 * The set index comes from murmur3's finalizer over both halves of the
 * address, so that the generator's pool (addresses that differ in their last
 * bytes) lands on sets at random, as a real flood's would and as the kernel's
 * seeded jhash spreads xdp_lru_drop's. A cheaper multiply that kept
 * neighbouring addresses in neighbouring pages read ~1.3 x faster than this
 * (seventh round, docs/BENCHMARKS.md): locality a flood does not offer.
 */
#include "counter.h"
#include <bpf/bpf_endian.h>

#define ETH_P_IPV6 0x86DD
#define SETS (1u << 19)

char LICENSE[] SEC("license") = "Dual BSD/GPL";

struct way {
	__u64 k[2];
	__u64 stamp;
	__u64 pad[5];
};

struct set {
	struct way w[4];
};

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, SETS);
	__uint(map_flags, BPF_F_MMAPABLE);	/* values start on a page */
	__type(key, __u32);
	__type(value, struct set);
} sets SEC(".maps");

SEC("xdp")
int bench_xdp_slot_drop(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data, *end = (void *)(long)ctx->data_end;
	struct ethhdr *eth = data;
	struct ipv6hdr *ip6 = (void *)(eth + 1);
	__u64 k0, k1, h, now;
	struct set *s;
	__u32 i;

	bench_count(end - data);
	if ((void *)(ip6 + 1) > end || eth->h_proto != bpf_htons(ETH_P_IPV6))
		return XDP_PASS;
	__builtin_memcpy(&k0, &ip6->saddr, 8);
	__builtin_memcpy(&k1, (__u8 *)&ip6->saddr + 8, 8);
	h = k0 * 0x9e3779b97f4a7c15ull;
	h = (h ^ (h >> 32) ^ k1) * 0xbf58476d1ce4e5b9ull;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	h *= 0xc4ceb9fe1a85ec53ull;
	h ^= h >> 33;
	i = (__u32)h & (SETS - 1);
	s = bpf_map_lookup_elem(&sets, &i);
	if (!s)
		return XDP_PASS;
	now = bpf_jiffies64();
	if (s->w[0].k[0] == k0 && s->w[0].k[1] == k1) {
		s->w[0].stamp = now;
		return XDP_DROP;
	}
	if (s->w[1].k[0] == k0 && s->w[1].k[1] == k1) {
		s->w[1].stamp = now;
		return XDP_DROP;
	}
	if (s->w[2].k[0] == k0 && s->w[2].k[1] == k1) {
		s->w[2].stamp = now;
		return XDP_DROP;
	}
	if (s->w[3].k[0] == k0 && s->w[3].k[1] == k1) {
		s->w[3].stamp = now;
		return XDP_DROP;
	}
	i = (__u32)now & 3;
	s->w[i & 3].k[0] = k0;
	s->w[i & 3].k[1] = k1;
	s->w[i & 3].stamp = now;
	return XDP_PASS;
}
