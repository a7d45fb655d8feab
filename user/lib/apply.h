/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * apply.h - a loaded, compiled policy into a new generation of the maps, and
 * the switch to it in one step (castle_gen_commit). Either the whole policy
 * becomes live or nothing changes.
 */
#ifndef CASTLE_APPLY_H
#define CASTLE_APPLY_H

#include <stddef.h>
#include <stdint.h>
#include "maps.h"
#include "policy.h"

/* What the applied generation holds, per map (for the log and the metrics). */
struct castle_apply_stats {
	uint64_t serial;		/* the policy serial now live */
	uint32_t gen;			/* its generation slot */
	uint32_t entries[CASTLE_PM_MAX];	/* by enum castle_pol_map */
	uint32_t capacity[CASTLE_PM_MAX];
	uint32_t ttl_kept;		/* TTL entries that kept their remaining time */
	uint32_t notes;			/* comments written to the notes map */
	uint32_t notes_lost;		/* comments the notes map had no room for */
	uint32_t hit_slots;		/* entries counting hits per CPU (CIDRs
					 * first, then exact blocks) */
	int hit_err;			/* -errno: why none does (see castle_gen) */
	int rl_dropped;			/* buckets of removed classes deleted, or
					 * -errno when the walk failed */
	double seconds;			/* build + commit time */
};

/* Build the generation of conf/comp and make it live. TTL entries that the
 * live generation already holds with the same ttl keep their expiry (a reload
 * does not restart them). Comments go to the notes map; notes of entries that
 * are neither in this policy nor manual are removed. Returns 0, or -errno with
 * err set and the live policy untouched. */
int castle_apply(struct castle_maps *m, const struct castle_policy_conf *conf,
		 const struct castle_policy_compiled *comp, struct castle_apply_stats *st,
		 char *err, size_t errlen);

/* Remove notes that belong to no policy entry with a comment (conf, may be
 * NULL) and no manual/auto entry. Returns how many went. */
int castle_notes_gc(const struct castle_maps *m, const struct castle_policy_conf *conf);

#endif /* CASTLE_APPLY_H */
