// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_gen_atomic.c - a policy switch is atomic for packets: while one thread
 * commits generations back and forth (castle_gen_commit, what castled's
 * reload does), another runs packets through the XDP program, and no packet
 * is judged by a mixture of the two policies.
 *
 * The two policies are built so that every mixture has a visible signature.
 * Sources 198.18.100.0/26; H1 = .0-.31, H2 = .32-.63.
 *   A (enforce): allow H1 (CIDR), block H2 (exact)
 *   B (dry-run): block H1 (exact), allow H2 (CIDR)
 * Legal (verdict, reason) per packet:
 *   H1: A -> pass/allowlist   B -> pass/blocklist (dry-run)
 *   H2: A -> drop/blocklist   B -> pass/allowlist
 * A's flags with B's lists drop H1; B's flags with A's lists pass H2 as
 * blocklist; A's allowlist with B's blocklist (or the reverse) leaves a half
 * neither allowed nor blocked: pass/ok; a missing inner map also gives ok.
 *
 * The control test switches the same policies non-atomically (in place, one
 * map at a time) and must see mixtures: proof that the checker can fail.
 */
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"

#define NSRC 64
#define COMMITS 40	/* each commit waits for RCU grace periods: ~0.25 s under load */

struct run {
	struct fx *f;
	uint8_t frames[NSRC][PKT_MAX];
	size_t len[NSRC];
	volatile int stop;
	uint64_t judged_a, judged_b, mixed, runs;
	char first_mix[160];
};

static void build_policy(struct fx *f, bool b)
{
	char cidr[32];

	fx_begin(f);
	fx_allow(f, b ? "198.18.100.32/27" : "198.18.100.0/27");
	for (int i = 0; i < NSRC / 2; i++) {
		snprintf(cidr, sizeof(cidr), "198.18.100.%d", b ? i : i + NSRC / 2);
		fx_block(f, cidr, 0);
	}
	if (b)
		fx_flags(f, CASTLE_F_DRY_RUN);
}

static void stats_sum(struct fx *f, struct castle_stats *out)
{
	uint32_t ifs[CASTLE_MAX_IFACES];
	int n = castle_stats_ifaces(&f->maps, f->maps.xdp_stats, ifs, CASTLE_MAX_IFACES);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		struct castle_stats st;
		if (castle_stats_read(&f->maps, f->maps.xdp_stats, ifs[i], &st))
			continue;
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			for (int r = 0; r < CASTLE_REASON_SLOTS; r++)
				out->c[v][r].packets += st.c[v][r].packets;
	}
}

/* The (verdict, reason) the last run added: the only counter that moved. */
static void judged(const struct castle_stats *a, const struct castle_stats *b, int *v, int *r)
{
	*v = *r = -1;
	for (int i = 0; i < CASTLE_VERDICT_MAX; i++)
		for (int j = 0; j < CASTLE_REASON_SLOTS; j++)
			if (b->c[i][j].packets != a->c[i][j].packets) {
				*v = i;
				*r = j;
			}
}

static void *runner(void *arg)
{
	struct run *r = arg;
	struct castle_stats before, after;
	unsigned int i = 0;

	stats_sum(r->f, &before);
	while (!r->stop) {
		int s = i++ % NSRC, v, reason, ret;
		bool h1 = s < NSRC / 2;

		ret = fx_run(r->f, r->frames[s], r->len[s]);
		stats_sum(r->f, &after);
		judged(&before, &after, &v, &reason);
		before = after;
		r->runs++;
		if ((ret == XDP_DROP) != (v == CASTLE_DROP))
			v = -2; /* verdict and counter disagree: also a mixture */
		if (h1 && v == CASTLE_PASS && reason == CASTLE_R_ALLOWLIST)
			r->judged_a++;
		else if (h1 && v == CASTLE_PASS && reason == CASTLE_R_BLOCKLIST)
			r->judged_b++;
		else if (!h1 && v == CASTLE_DROP && reason == CASTLE_R_BLOCKLIST)
			r->judged_a++;
		else if (!h1 && v == CASTLE_PASS && reason == CASTLE_R_ALLOWLIST)
			r->judged_b++;
		else if (!r->mixed++)
			snprintf(r->first_mix, sizeof(r->first_mix),
				 "source .%d (%s) judged verdict %d reason %d, retval %d", s,
				 h1 ? "H1" : "H2", v, reason, ret);
	}
	return NULL;
}

static void prepare(struct run *r, struct fx *f)
{
	char src[NSRC][32];

	memset(r, 0, sizeof(*r));
	r->f = f;
	for (int i = 0; i < NSRC; i++) {
		struct pkt_spec s = { .family = 4, .proto = 17, .sport = 1000, .dport = 53 };
		snprintf(src[i], sizeof(src[i]), "198.18.100.%d", i);
		s.src = src[i];
		r->len[i] = pkt_build(&s, r->frames[i], PKT_MAX);
		assert_true(r->len[i] > 0);
	}
}

static void commit_is_atomic_for_packets(void **state)
{
	struct fx *f = *state;
	static struct run r;
	pthread_t t;

	prepare(&r, f);
	build_policy(f, false);
	fx_commit(f);
	assert_int_equal(pthread_create(&t, NULL, runner, &r), 0);
	for (int i = 0; i < COMMITS; i++) {
		build_policy(f, (i & 1) == 0);
		fx_commit(f);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	printf("# %d commits, %llu packets: %llu judged by A, %llu by B, %llu mixed\n", COMMITS,
	       (unsigned long long)r.runs, (unsigned long long)r.judged_a,
	       (unsigned long long)r.judged_b, (unsigned long long)r.mixed);
	if (r.mixed)
		fail_msg("%llu packets judged by a mixture; first: %s", (unsigned long long)r.mixed,
			 r.first_mix);
	/* Both policies really were live while packets ran. */
	assert_true(r.judged_a > 0);
	assert_true(r.judged_b > 0);
}

/* Switch A -> B in place on the live slot, one piece at a time (what a naive
 * reload would do), with the pieces spread out so packets fall in between. */
static void naive_switch(struct fx *f, bool b)
{
	struct castle_policy pol = { 0 };
	struct castle_gen g = f->gen;
	uint32_t live;

	assert_int_equal(castle_gen_live(&f->maps, &live, NULL), 0);
	if (b)
		pol.flags = CASTLE_F_DRY_RUN;
	pol.lists = 0xffff; /* look at every list (castle_gen_commit would say which) */
	bpf_map_update_elem(f->maps.policy, &live, &pol, BPF_ANY);
	usleep(200);
	bpf_map_update_elem(f->maps.pol[CASTLE_PM_ALLOW4], &live, &g.inner[CASTLE_PM_ALLOW4], BPF_ANY);
	usleep(200);
	bpf_map_update_elem(f->maps.pol[CASTLE_PM_BLOCK4], &live, &g.inner[CASTLE_PM_BLOCK4], BPF_ANY);
	castle_gen_abort(&f->gen);
	f->building = false;
}

static void checker_detects_a_non_atomic_switch(void **state)
{
	struct fx *f = *state;
	static struct run r;
	pthread_t t;

	prepare(&r, f);
	build_policy(f, false);
	fx_commit(f);
	assert_int_equal(pthread_create(&t, NULL, runner, &r), 0);
	for (int i = 0; i < 400 && !r.mixed; i++) {
		build_policy(f, (i & 1) == 0);
		naive_switch(f, (i & 1) == 0);
	}
	r.stop = 1;
	pthread_join(t, NULL);
	printf("# control: %llu packets, %llu mixed (must be > 0): %s\n",
	       (unsigned long long)r.runs, (unsigned long long)r.mixed, r.first_mix);
	assert_true(r.mixed > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(commit_is_atomic_for_packets, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(checker_detects_a_non_atomic_switch, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
