// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * paced.c - how often castled walks the manual maps (see paced.h).
 */
#include "paced.h"

bool castle_paced_due(struct castle_paced *p, uint64_t now_ns)
{
	if (now_ns + CASTLE_WALK_EARLY_NS < p->next_ns)
		return false;
	p->start_ns = now_ns;
	return true;
}

void castle_paced_done(struct castle_paced *p, uint64_t cost_ns)
{
	uint64_t wait = p->period_ns;

	p->last_cost_ns = cost_ns;
	if (cost_ns > wait / CASTLE_WALK_DUTY) {
		wait = cost_ns > CASTLE_WALK_MAX_WAIT_NS / CASTLE_WALK_DUTY
			       ? CASTLE_WALK_MAX_WAIT_NS
			       : cost_ns * CASTLE_WALK_DUTY;
		if (wait < p->period_ns)
			wait = p->period_ns;
	}
	p->next_ns = p->start_ns + wait;
}
