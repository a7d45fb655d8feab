/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - every map of the data path. Both programs include this file and pin
 * their maps by name, so the XDP and TC objects (and castlectl, and a restarted
 * castled) share one set of maps under the pin directory.
 */
#ifndef CASTLE_BPF_MAPS_H
#define CASTLE_BPF_MAPS_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <castle/castle.h>

/* castled's user-space record (struct castle_daemon_rec), declared first:
 * libbpf creates and pins maps in this order, so pins that have `state`
 * but not `daemon` are an older build's, never a start of this one cut
 * short (which the record's restore flag tells apart). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct castle_daemon_rec);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} daemon SEC(".maps");

/* Per-generation maps are arrays of maps: slot `state.gen` is the live policy,
 * the other slot is where a reload builds the next one. The inner definitions
 * below are templates; castled creates the real inner maps. */
#define CASTLE_OUTER(NAME, INNER)                                                   \
	struct {                                                                    \
		__uint(type, BPF_MAP_TYPE_ARRAY_OF_MAPS);                           \
		__uint(max_entries, CASTLE_GENS);                                   \
		__type(key, __u32);                                                 \
		__uint(pinning, LIBBPF_PIN_BY_NAME);                                \
		__array(values, INNER);                                             \
	} NAME SEC(".maps")

/* Inner templates give sizes, not BTF types: clang emits only forward
 * declarations for types reached through two levels of pointers. One entry:
 * the kernel only compares type, key, value and flags of a hash or LPM inner
 * map with its template, and loading creates every template (a 2M-entry
 * hash template costs 32 MB of buckets while it lives); castled sizes the
 * real inner maps to the policy. */
struct castle_lpm4_allow_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm4));
	__uint(value_size, sizeof(struct castle_allow_val));
};

struct castle_lpm6_allow_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm6));
	__uint(value_size, sizeof(struct castle_allow_val));
};

struct castle_exact4_t {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(__u32));
	__uint(value_size, sizeof(struct castle_block_val));
};

struct castle_exact6_t {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_in6));
	__uint(value_size, sizeof(struct castle_block_val));
};

struct castle_net4_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm4));
	__uint(value_size, sizeof(struct castle_block_val));
};

struct castle_net6_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm6));
	__uint(value_size, sizeof(struct castle_block_val));
};

/* Block CIDRs in few prefix lengths: one hash per generation and family
 * (see castle_nhash_lens). */
struct castle_nhash4_t {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm4));
	__uint(value_size, sizeof(struct castle_block_val));
};

struct castle_nhash6_t {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm6));
	__uint(value_size, sizeof(struct castle_block_val));
};

struct castle_csrc4_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm4));
	__uint(value_size, sizeof(struct castle_csrc_val));
};

struct castle_csrc6_t {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_lpm6));
	__uint(value_size, sizeof(struct castle_csrc_val));
};

struct castle_sni_t {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__uint(key_size, sizeof(struct castle_sni_key));
	__uint(value_size, sizeof(__u32));
};

CASTLE_OUTER(pol_allow4, struct castle_lpm4_allow_t);
CASTLE_OUTER(pol_allow6, struct castle_lpm6_allow_t);
CASTLE_OUTER(pol_block4, struct castle_exact4_t);
CASTLE_OUTER(pol_block6, struct castle_exact6_t);
CASTLE_OUTER(pol_net4, struct castle_net4_t);
CASTLE_OUTER(pol_net6, struct castle_net6_t);
CASTLE_OUTER(pol_csrc4, struct castle_csrc4_t);
CASTLE_OUTER(pol_csrc6, struct castle_csrc6_t);
CASTLE_OUTER(pol_sni, struct castle_sni_t);
CASTLE_OUTER(pol_nhash4, struct castle_nhash4_t);
CASTLE_OUTER(pol_nhash6, struct castle_nhash6_t);

/* The prefix lengths of pol_nhash4/6, per generation. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CASTLE_GENS);
	__type(key, __u32);
	__type(value, struct castle_nhash_lens);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} pol_nlens SEC(".maps");

/* Each generation's class -> counter/bucket slot map: see
 * castle_class_slots. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CASTLE_GENS);
	__type(key, __u32);
	__type(value, struct castle_class_slots);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} class_slots SEC(".maps");

/* Per-CPU hit counters of the policy's entries, two banks (one per
 * generation); see CASTLE_HIT_SLOT. Sized by castled. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 2 * CASTLE_HIT_BANK_DEFAULT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} block_hits SEC(".maps");

/* Per-CPU hit counters of manual and auto entries, claimed in man_slots (see
 * CASTLE_HIT_MAN). Sized by castled; man_slots holds one bit per slot after
 * its header word. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_MAN_SLOTS_DEFAULT);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_hits SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1 + CASTLE_MAN_SLOTS_DEFAULT / 64);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_slots SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct castle_state);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} state SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CASTLE_GENS);
	__type(key, __u32);
	__type(value, struct castle_policy);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} policy SEC(".maps");

/* Manual (castlectl) and auto (auto-ban) entries: outside the generations, so
 * a reload never touches them. */
struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CASTLE_MAN_ALLOW_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_lpm4);
	__type(value, struct castle_allow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_allow4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CASTLE_MAN_ALLOW_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_lpm6);
	__type(value, struct castle_allow_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_allow6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CASTLE_MAN_EXACT_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, __u32);
	__type(value, struct castle_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_block4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CASTLE_MAN_EXACT_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_in6);
	__type(value, struct castle_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_block6 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CASTLE_MAN_NET_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_lpm4);
	__type(value, struct castle_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_net4 SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LPM_TRIE);
	__uint(max_entries, CASTLE_MAN_NET_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_lpm6);
	__type(value, struct castle_block_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_net6 SEC(".maps");

/* Each CPU's offset from castle_tick_ns to CLOCK_BOOTTIME (castle_boot_tick_ns
 * in common.h). A cache the program fills itself: not pinned, each load has
 * its own. */
struct castle_boot_clock {
	__u64 tick_to_boot;
	__u64 at_tick;		/* castle_tick_ns when measured, 0 = never */
};

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct castle_boot_clock);
} boot_clock SEC(".maps");

/* Entries each man_* map may hold (struct castle_man_count): zero skips it. */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, 1);
	__uint(map_flags, BPF_F_MMAPABLE);
	__type(key, __u32);
	__type(value, struct castle_man_count);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} man_count SEC(".maps");

/* Per-source token buckets. LRU: a flood of new sources evicts the least
 * recently seen ones, never refuses an insert. Sized by castled. */
struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CASTLE_RL_ENTRIES_DEFAULT);
	__type(key, struct castle_rl_key);
	__type(value, struct castle_rl_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_state SEC(".maps");

/* Steady sources: see castle.h. Not LRU: a flood cannot evict them. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CASTLE_RL_STEADY_ENTRIES);
	__type(key, struct castle_rl_key);
	__type(value, struct castle_rl_val);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_steady SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_RLE_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} rl_events SEC(".maps");

/* ifindex -> counter slot of xdp_stats/tc_stats (see castle.h). */
struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CASTLE_IFSLOT_ENTRIES);
	__type(key, __u32);
	__type(value, __u32);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifslot SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct castle_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} xdp_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct castle_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tc_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_CLASS_STATS_ENTRIES);
	__type(key, __u32);
	__type(value, struct castle_class_stats);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} class_stats SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_RINGBUF);
	__uint(max_entries, CASTLE_EVENTS_BYTES);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} events SEC(".maps");

/* User-space-only maps: declared here so that both objects create and pin
 * them with the rest, and castlectl finds them without castled. */
struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CASTLE_MAX_IFACES);
	__type(key, __u32);
	__type(value, struct castle_iface);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} ifaces SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_HASH);
	__uint(max_entries, CASTLE_NOTES_ENTRIES);
	__uint(map_flags, BPF_F_NO_PREALLOC);
	__type(key, struct castle_note_key);
	__type(value, struct castle_note);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} notes SEC(".maps");

#endif /* CASTLE_BPF_MAPS_H */
