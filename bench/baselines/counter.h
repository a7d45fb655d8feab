/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * counter.h - the receive counter every baseline program bumps, so the bench
 * driver reads how many frames reached the device under test.
 */
#ifndef CASTLE_BENCH_COUNTER_H
#define CASTLE_BENCH_COUNTER_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include "bench.h"

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct bench_counter);
} rx SEC(".maps");

/* Per-CPU slot: plain adds are exact and cost no atomic. */
static __always_inline void bench_count(__u64 len)
{
	__u32 zero = 0;
	struct bench_counter *c = bpf_map_lookup_elem(&rx, &zero);

	if (c) {
		c->packets++;
		c->bytes += len;
	}
}

#endif /* CASTLE_BENCH_COUNTER_H */
