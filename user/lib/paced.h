/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * paced.h - castled's walks of every manual/auto entry (saving and reaping
 * each second, the hit-slot sweep every few seconds) cost ~0.2 s per million
 * entries here, and a flood can leave a million auto-bans: walked at their
 * periods, a quarter of a CPU that the packets need. A walk whose last run
 * took more than 1/CASTLE_WALK_DUTY of its period waits CASTLE_WALK_DUTY
 * times that run instead, so the walks take at most ~1/CASTLE_WALK_DUTY of
 * a CPU (a million auto-bans: saved and reaped every ~5 s, not every second).
 */
#ifndef CASTLE_PACED_H
#define CASTLE_PACED_H

#include <stdbool.h>
#include <stdint.h>

#define CASTLE_WALK_DUTY 20
/* How early a walk may start: castled's timer wakes a little after each
 * second, so a walk due "now" must not wait for the next wake-up. */
#define CASTLE_WALK_EARLY_NS 100000000ull

struct castle_paced {
	uint64_t period_ns;	/* the walk's period when it is cheap */
	uint64_t start_ns;	/* CLOCK_MONOTONIC, of the walk under way */
	uint64_t next_ns;	/* when the next may start (0: now) */
	uint64_t last_cost_ns;	/* how long the last one took */
};

/* Whether the walk is due at now_ns; if so it starts (castle_paced_done ends it). */
bool castle_paced_due(struct castle_paced *p, uint64_t now_ns);
/* The walk started by castle_paced_due ended at now_ns. */
void castle_paced_done(struct castle_paced *p, uint64_t now_ns);

#endif /* CASTLE_PACED_H */
