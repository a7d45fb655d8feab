/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * persist.h - manual block/allow entries (castlectl's) and their comments,
 * saved in STATE_DIR/manual.state so they survive a reboot, not only a daemon
 * restart. One line per entry:
 *
 *     block 198.18.77.7 1767225600 scanner from the night shift
 *     allow 2001:db8:10::/48 0
 *
 * kind, CIDR, wall-clock expiry in unix seconds (0 = never), then the comment
 * to the end of the line (backslash escapes \\ and \n). Lines starting with
 * '#' are comments. Written atomically (temporary file, fsync, rename), mode
 * 0600 in a 0700 directory.
 */
#ifndef CASTLE_PERSIST_H
#define CASTLE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "maps.h"

#define CASTLE_STATE_FILE "manual.state"

struct castle_persist {
	char path[4096];
	char dir[4096];
	int64_t boot_to_unix_ns;	/* CLOCK_BOOTTIME -> wall clock, fixed at init */
	uint64_t last_hash;		/* of the content last written (or read) */
	bool have_hash;
};

/* What the last walk of the manual maps saw (for the metrics). */
struct castle_manual_counts {
	uint32_t block[CASTLE_ORIGIN_MAX][2];	/* [origin][family 4 = 0, 6 = 1] */
	uint32_t allow[2];
	uint32_t map_entries[CASTLE_MM_MAX];
};

/* Create the state directory (0700) if needed. */
int castle_persist_init(struct castle_persist *p, const char *state_dir, char *err, size_t errlen);

/* Walk the manual maps (deleting expired entries when reap is set), count
 * them into counts (may be NULL), and rewrite the file if its content would
 * change. Returns 1 written, 0 unchanged, -errno with err set. */
int castle_persist_sync(struct castle_persist *p, const struct castle_maps *m, bool reap,
			struct castle_manual_counts *counts, char *err, size_t errlen);

/* Put every unexpired entry of the file back into the manual maps, with the
 * rest of its TTL. *restored counts the entries; a malformed line is skipped
 * and reported in err (first one) with a positive return of the count of bad
 * lines. A missing file is not an error. */
int castle_persist_restore(struct castle_persist *p, const struct castle_maps *m, int *restored,
			   char *err, size_t errlen);

#endif /* CASTLE_PERSIST_H */
