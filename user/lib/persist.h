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
 * to the end of the line (backslash escapes \\ and \n, and a blank that starts
 * the comment). Fields are separated by blanks; blank lines and lines starting
 * with '#' are ignored. Written atomically (temporary file, fsync, rename), mode
 * 0600 in a 0700 directory.
 */
#ifndef CASTLE_PERSIST_H
#define CASTLE_PERSIST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "maps.h"

#define CASTLE_STATE_FILE "manual.state"
/* How long a save waits for another writer's lock on the state dir before
 * it writes without. */
#define CASTLE_PERSIST_LOCK_WAIT_MS 5000

struct castle_persist {
	char path[4096];
	char dir[4096];
	int64_t boot_to_unix_ns;	/* CLOCK_BOOTTIME -> wall clock, measured at
					 * init and again at each save (a stepped
					 * clock moves it) */
	uint64_t last_hash;		/* of the content last written (or read) */
	bool have_hash;
	bool hold;			/* walk, but write nothing (castled: lines
					 * of the file it could not restore and
					 * could not keep a copy of) */
};

/* What the last walk of the manual maps saw (for the metrics). */
struct castle_manual_counts {
	uint32_t block[CASTLE_ORIGIN_MAX][2];	/* [origin][family 4 = 0, 6 = 1] */
	uint32_t allow[2];
	uint32_t map_entries[CASTLE_MM_MAX];
};

/* One entry of the file, as read or about to be written. */
struct castle_persist_entry {
	bool allow;			/* an allow entry; else a manual block */
	struct castle_cidr cidr;	/* canonical: no host bits */
	long long expires;		/* unix seconds, 0 = never; always 0 for allow */
	char comment[CASTLE_NOTE_MAX];	/* "" = none; no NUL inside */
};

/* Longest line castle_persist_format_line writes (a comment escaped in full). */
#define CASTLE_PERSIST_LINE_MAX (24 + CASTLE_CIDR_STRLEN + 2 * CASTLE_NOTE_MAX)

enum {
	CASTLE_PL_SKIP = 0,		/* a blank or '#' line */
	CASTLE_PL_ENTRY = 1,		/* an entry in *e */
	CASTLE_PL_ENTRY_NO_COMMENT = 2,	/* an entry whose comment was refused (why says why) */
};

/* Parse one line of len bytes (without its newline; may hold any byte).
 * Returns a CASTLE_PL_* or -EINVAL with why set; *e is written only for an
 * entry. An entry's CIDR, expiry and comment are what castlectl could have
 * written: a valid prefix without host bits, an expiry in [0, LLONG_MAX) and
 * 0 for allow, a comment shorter than CASTLE_NOTE_MAX. The expiry is not
 * compared with the clock here. */
int castle_persist_parse_line(const char *line, size_t len, struct castle_persist_entry *e,
			      char *why, size_t whylen);

/* e as one line, newline included, NUL terminated; its length, or -ENOSPC
 * when len is too short (CASTLE_PERSIST_LINE_MAX + 1 always suffices).
 * castle_persist_parse_line gives e back from it. */
int castle_persist_format_line(const struct castle_persist_entry *e, char *buf, size_t len);

/* Called for each entry read; a negative return counts the line as bad, with
 * why set. */
typedef int (*castle_persist_entry_cb)(const struct castle_persist_entry *e, void *arg, char *why,
				       size_t whylen);

/* Read a whole state file from f (name for messages) and call cb for every
 * entry. Returns the number of bad lines (the first one reported in err as
 * "name:LINE: why"; an entry whose comment was refused is still passed to cb
 * without it, and counts as bad), or -EIO with err set. */
int castle_persist_read(FILE *f, const char *name, castle_persist_entry_cb cb, void *arg,
			char *err, size_t errlen);

/* Create the state directory (0700) if needed. */
int castle_persist_init(struct castle_persist *p, const char *state_dir, char *err, size_t errlen);

/* Walk the manual maps (deleting expired entries when reap is set), count
 * them into counts (may be NULL), and rewrite the file if its content would
 * change. Returns 1 written, 0 unchanged, -errno with err set. The walk and
 * the write hold the state dir's lock (flock), waited for up to
 * CASTLE_PERSIST_LOCK_WAIT_MS, then gone on without. With sweep
 * (may be NULL), begun by castle_man_sweep_begin, every entry the walk sees
 * goes to castle_man_sweep_see, and sweep->complete says whether it saw
 * them all: castled's hit-slot sweep rides on this walk. */
int castle_persist_sync(struct castle_persist *p, const struct castle_maps *m, bool reap,
			struct castle_manual_counts *counts, struct castle_man_sweep *sweep,
			char *err, size_t errlen);

/* Put every unexpired entry of the file back into the manual maps, with the
 * rest of its TTL (castle_persist_read). *restored counts the entries; a
 * malformed line is skipped, an entry whose comment is refused is restored
 * without it, and either is reported in err (first one) with a positive
 * return of the count of bad lines. A missing file is not an error. A key
 * that has a manual entry in the maps already keeps it, and its comment:
 * castlectl wrote it since the file was (into pins a castled start left
 * before its restore, or into fresh ones while castled starts). */
int castle_persist_restore(struct castle_persist *p, const struct castle_maps *m, int *restored,
			   char *err, size_t errlen);

/* Copy the file as it is to FILE.unrestored-UNIXTIME (atomically, 0600;
 * never over an earlier copy), named in kept: castled calls it after a
 * restore that skipped lines, before its first save writes the file from
 * the maps. 0 or -errno with err set. */
int castle_persist_keep_unrestored(const struct castle_persist *p, char *kept, size_t keptlen,
				   char *err, size_t errlen);

#endif /* CASTLE_PERSIST_H */
