/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ctl_maps.h - map accessors castlectl needs beyond maps.h: comments (the
 * `notes` map), single-entry lookups, a map's fill level, and a batched walk of
 * the rate-limit LRU. Same style as maps.c (-errno returns); candidates to
 * move into maps.c once castled wants them too.
 */
#ifndef CASTLE_CTL_MAPS_H
#define CASTLE_CTL_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <castle/castle.h>

#include "cidr.h"
#include "maps.h"

/* `list` arguments below: which list, or'd with CASTLE_NOTE_POLICY for the
 * note of the policy's entry (the manual entry's otherwise). */
enum { CASTLE_NOTE_BLOCK = 0, CASTLE_NOTE_ALLOW = 1, CASTLE_NOTE_POLICY = 0x10 };

/* The `list` argument of an entry's note. */
static inline uint32_t castle_note_list(bool allow, bool policy)
{
	return (allow ? CASTLE_NOTE_ALLOW : CASTLE_NOTE_BLOCK) | (policy ? CASTLE_NOTE_POLICY : 0);
}

void castle_note_key_of(const struct castle_cidr *c, uint32_t list, struct castle_note_key *k);
/* 0 and the text (NUL terminated) or -ENOENT. */
int castle_note_get(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list,
		    char *text, size_t len);
int castle_note_put(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list,
		    const char *text);
int castle_note_del(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list);

/* One entry of the live policy generation (policy = true) or of the manual
 * maps: 0 and its value, or -ENOENT. */
int castle_block_lookup(const struct castle_maps *m, const struct castle_cidr *c, bool policy,
			struct castle_block_val *v);
int castle_allow_lookup(const struct castle_maps *m, const struct castle_cidr *c, bool policy,
			struct castle_allow_val *v);
/* The manual map an entry of c goes to (not owned). */
int castle_manual_block_fd(const struct castle_maps *m, const struct castle_cidr *c);
int castle_manual_allow_fd(const struct castle_maps *m, const struct castle_cidr *c);

/* Entries in a map (walked, so O(n)) and its capacity. */
int castle_map_usage(int fd, uint32_t *entries, uint32_t *capacity);

/* Every rl_state and rl_steady entry, in batches (an LRU of a million entries is read in a
 * few hundred syscalls, not two million). cb returning non-zero stops. */
typedef int (*castle_rl_cb)(const struct castle_rl_key *k, const struct castle_rl_val *v,
			    void *arg);
int castle_rl_foreach(const struct castle_maps *m, castle_rl_cb cb, void *arg);
/* The same over one tier: rl_state (steady false) or rl_steady. */
int castle_rl_foreach_tier(const struct castle_maps *m, bool steady, castle_rl_cb cb, void *arg);
/* Delete the buckets (both tiers) of the class slots in `slots` (bit per
 * slot): castle_apply's, for the slots a reload freed, so a class given one
 * later starts without a removed class's buckets. Walked in batches, as
 * above (a flood's evictions do not restart it). Returns how many went, or
 * -errno. */
int castle_rl_drop_slots(const struct castle_maps *m, uint16_t slots);

#endif /* CASTLE_CTL_MAPS_H */
