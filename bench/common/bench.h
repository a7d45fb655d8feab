/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * bench.h - what the benchmark's BPF programs and their loaders share: the
 * receive counter of the baselines and the generator's configuration. Defined
 * once here, included by both sides.
 */
#ifndef CASTLE_BENCH_H
#define CASTLE_BENCH_H

#ifndef __bpf__
#include <linux/types.h>
#endif

/* Value of the baselines' `rx` map (PERCPU_ARRAY, one slot). */
struct bench_counter {
	__u64 packets;
	__u64 bytes;
};

#define BENCH_MAP_RX "rx"

/* The generator's frame layout and address pool, set in .rodata before load.
 * The template frame carries the checksums for pool index 0; the program
 * patches them incrementally for the address it writes, so it never depends
 * on what an earlier run left in a recycled frame. */
struct gen_conf {
	__u32 ifindex;		/* redirect target (the gen-side veth) */
	__u32 sources;		/* pool size, >= 1 */
	__u32 family;		/* 4 or 6 */
	__u32 saddr_off;	/* v4: the address; v6: its low 64 bits */
	__u32 ip_csum_off;	/* IPv4 header checksum; 0 for IPv6 */
	__u32 l4_csum_off;	/* UDP or TCP checksum */
	__u64 base;		/* host order: v4 address, v6 low 64 bits */
	__u16 ip_csum;		/* template checksums, as stored in the frame */
	__u16 l4_csum;
	__u8 udp;		/* an L4 checksum of 0 goes out as 0xffff */
	__u8 _pad[3];
};

/* Value of the generator's `gen_state` map (PERCPU_ARRAY, one slot). */
struct gen_cpu {
	__u64 next;		/* next pool index this CPU sends */
	__u64 sent;		/* frames this CPU redirected */
	__u64 lo, hi;		/* its share of the pool: [lo, hi) */
};

#endif /* CASTLE_BENCH_H */
