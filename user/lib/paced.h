/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * paced.h - castled's walk of every manual/auto entry (saving, reaping and
 * the hit-slot sweep, each second) costs ~0.2 s of CPU per million entries
 * here, and a flood can leave a million auto-bans: walked every second, a
 * quarter of a CPU that the packets need. A walk whose last run used more
 * than 1/CASTLE_WALK_DUTY of its period in CPU time waits CASTLE_WALK_DUTY
 * times that instead (at most CASTLE_WALK_MAX_WAIT_NS), so the walks take at
 * most ~1/CASTLE_WALK_DUTY of a CPU (a million auto-bans: every ~4-5 s, not
 * every second). CPU time, not wall-clock time: a walk that waited (an fsync
 * of the state file, castled preempted by the flood's softirqs) cost no CPU.
 */
#ifndef CASTLE_PACED_H
#define CASTLE_PACED_H

#include <stdbool.h>
#include <stdint.h>

#define CASTLE_WALK_DUTY 20
/* However long a walk took, the next is at most this far away. */
#define CASTLE_WALK_MAX_WAIT_NS (30 * 1000000000ull)
/* How early a walk may start: castled's timer wakes a little after each
 * second, so a walk due "now" must not wait for the next wake-up. */
#define CASTLE_WALK_EARLY_NS 100000000ull

struct castle_paced {
	uint64_t period_ns;	/* the walk's period when it is cheap */
	uint64_t start_ns;	/* CLOCK_MONOTONIC, of the walk under way */
	uint64_t next_ns;	/* when the next may start (0: now) */
	uint64_t last_cost_ns;	/* CPU time the last one used */
};

/* Whether the walk is due at now_ns (CLOCK_MONOTONIC); if so it starts
 * (castle_paced_done ends it). */
bool castle_paced_due(struct castle_paced *p, uint64_t now_ns);
/* The walk started by castle_paced_due ended, having used cost_ns of CPU. */
void castle_paced_done(struct castle_paced *p, uint64_t cost_ns);

#endif /* CASTLE_PACED_H */
