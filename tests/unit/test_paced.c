// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_paced.c - user/lib/paced.c: castled's walk of the manual maps keeps
 * its period while cheap and backs off to CASTLE_WALK_DUTY times its CPU cost
 * when a flood has made it long, never further than CASTLE_WALK_MAX_WAIT_NS. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "paced.h"

#define MS 1000000ull
#define S (1000 * MS)

/* Run one walk that starts at `at` and uses `cost` of CPU. */
static void walk(struct castle_paced *p, uint64_t at, uint64_t cost)
{
	assert_true(castle_paced_due(p, at));
	castle_paced_done(p, cost);
}

static void first_walk_is_due_at_once(void **state)
{
	struct castle_paced p = { .period_ns = S };

	(void)state;
	assert_true(castle_paced_due(&p, 5 * S));
}

static void a_cheap_walk_keeps_its_period(void **state)
{
	struct castle_paced p = { .period_ns = S };

	(void)state;
	walk(&p, 10 * S, 3 * MS);
	assert_int_equal(p.last_cost_ns, 3 * MS);
	assert_int_equal(p.next_ns, 11 * S);
	/* the timer wakes a little late or early around the second */
	assert_false(castle_paced_due(&p, 10 * S + 800 * MS));
	assert_true(castle_paced_due(&p, 10 * S + 950 * MS));
	/* a walk of exactly 1/DUTY of the period still keeps it */
	walk(&p, 20 * S, S / CASTLE_WALK_DUTY);
	assert_int_equal(p.next_ns, 21 * S);
}

static void a_long_walk_backs_off_to_duty_times_its_cost(void **state)
{
	struct castle_paced p = { .period_ns = S };

	(void)state;
	/* a million auto-bans: ~0.23 s a walk */
	walk(&p, 100 * S, 230 * MS);
	assert_int_equal(p.next_ns, 100 * S + CASTLE_WALK_DUTY * 230 * MS);
	for (uint64_t t = 101 * S; t < 104 * S + 500 * MS; t += S)
		assert_false(castle_paced_due(&p, t));
	assert_true(castle_paced_due(&p, 104 * S + 600 * MS));
	/* the flood's bans expired: the next cheap walk restores the period */
	castle_paced_done(&p, 1 * MS);
	assert_int_equal(p.next_ns, 105 * S + 600 * MS);
}

static void the_wait_is_capped(void **state)
{
	struct castle_paced p = { .period_ns = S };

	(void)state;
	/* 10 s of CPU (a stalled, swapping castled): 30 s, not 200 s */
	walk(&p, 50 * S, 10 * S);
	assert_int_equal(p.next_ns, 50 * S + CASTLE_WALK_MAX_WAIT_NS);
	/* just under the cap's own cost: DUTY times it */
	walk(&p, 100 * S, CASTLE_WALK_MAX_WAIT_NS / CASTLE_WALK_DUTY - 1);
	assert_int_equal(p.next_ns, 100 * S + CASTLE_WALK_MAX_WAIT_NS - CASTLE_WALK_DUTY);
	/* no overflow however absurd the cost */
	walk(&p, 200 * S, UINT64_MAX);
	assert_int_equal(p.next_ns, 200 * S + CASTLE_WALK_MAX_WAIT_NS);
}

static void a_longer_period_backs_off_the_same_way(void **state)
{
	struct castle_paced p = { .period_ns = 5 * S };

	(void)state;
	walk(&p, 0, 200 * MS); /* 4 % of 5 s: within the duty */
	assert_int_equal(p.next_ns, 5 * S);
	walk(&p, 5 * S, 400 * MS); /* 8 %: 20 x 0.4 s */
	assert_int_equal(p.next_ns, 13 * S);
}

static void a_period_longer_than_the_cap_is_kept(void **state)
{
	struct castle_paced p = { .period_ns = 60 * S };

	(void)state;
	walk(&p, 0, 20 * S);
	assert_int_equal(p.next_ns, 60 * S);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_walk_is_due_at_once),
		cmocka_unit_test(a_cheap_walk_keeps_its_period),
		cmocka_unit_test(a_long_walk_backs_off_to_duty_times_its_cost),
		cmocka_unit_test(the_wait_is_capped),
		cmocka_unit_test(a_longer_period_backs_off_the_same_way),
		cmocka_unit_test(a_period_longer_than_the_cap_is_kept),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
