/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps_int.h - between maps.c and maps_walk.c (not for other callers).
 */
#ifndef CASTLE_MAPS_INT_H
#define CASTLE_MAPS_INT_H

#include "maps.h"

/* A value of a block or allow list map. */
union castle_list_val {
	struct castle_block_val b;
	struct castle_allow_val a;
};

/* Delete key k (an address, or a castle_lpm4/6 prefix) from manual map idx
 * and count it gone (the walk reaps expired entries with it). 0 or -errno. */
int castle_man_del(const struct castle_maps *m, int idx, const void *k);
/* Delete the expired manual/auto entry the walk saw (created_ns, expires_ns)
 * at key k of map idx, unless it was written again since: 1 deleted, 0 not. */
int castle_man_reap(const struct castle_maps *m, int idx, const void *k, uint64_t created_ns,
		    uint64_t expires_ns);

#endif /* CASTLE_MAPS_INT_H */
