// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_flood.c - a spoofed-source flood that overflows the rate-limit LRU
 * must not reset the buckets of steady sources: they are promoted to the
 * steady tier (rl_steady), which nothing evicts. A source still in the LRU is
 * evicted by the same flood (the control case that shows the flood really
 * overflows the table), and a full steady tier is counted, not fatal.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <string.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "castle_xdp.skel.h"

#define LRU_SIZE 1024
#define FLOOD 5000
#define RATE 10.0
#define BURST 10

static int setup(void **state)
{
	static struct fx f;

	fx_open(&f, LRU_SIZE);
	fx_begin(&f);
	fx_class(&f, NULL, 17, NULL, RATE, BURST);
	fx_commit(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	return 0;
}

/* CLOCK_MONOTONIC, the clock castle's tick clock follows */
static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static double now_s(void)
{
	return now_ns() / 1e9;
}

static uint64_t rl_event(struct fx *f, uint32_t ev)
{
	return fx_percpu_sum(f->maps.rl_events, ev);
}

static struct pkt_spec udp_from(const char *src)
{
	return (struct pkt_spec){ .family = 4, .src = src, .proto = 17, .sport = 1, .dport = 53 };
}

/* Packets of n sent at once from src that were admitted. */
static int burst_from(struct fx *f, const char *src, int n)
{
	struct pkt_spec s = udp_from(src);
	int passed = 0;

	for (int i = 0; i < n; i++)
		passed += fx_run_spec(f, &s) == XDP_PASS;
	return passed;
}

/* A source that sends under its rate for just over a second (9 packets). */
static void be_steady(struct fx *f, const char *src)
{
	struct pkt_spec s = udp_from(src);

	for (int i = 0; i < 9; i++) {
		assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
		usleep(140 * 1000);
	}
}

/* FLOOD distinct sources from 10.0.0.0/8 (not our test sources), one packet each. */
static double flood(struct fx *f)
{
	uint8_t buf[PKT_MAX];
	struct pkt_spec s = udp_from("10.0.0.1");
	size_t n = pkt_build(&s, buf, sizeof(buf));
	double t0 = now_s();

	for (uint32_t i = 0; i < FLOOD; i++) {
		uint32_t a = htonl(0x0a000000u | (i + 2));
		memcpy(buf + 14 + 12, &a, 4); /* IPv4 source; the checksum is not checked */
		fx_run(f, buf, n);
	}
	return now_s() - t0;
}

static void steady_source_keeps_its_bucket_through_a_flood(void **state)
{
	struct fx *f = *state;

	be_steady(f, "198.18.1.1");
	/* the 9th packet came after >= 1 s and >= 8 packets: promoted */
	assert_int_equal(rl_event(f, CASTLE_RLE_PROMOTE), 1);

	/* drain: the bucket holds BURST, the rest is dropped */
	int first = burst_from(f, "198.18.1.1", 3 * BURST);
	assert_in_range(first, BURST, BURST + 1);

	uint64_t ins0 = rl_event(f, CASTLE_RLE_INSERT);
	double took = flood(f);
	assert_true(rl_event(f, CASTLE_RLE_INSERT) - ins0 >= FLOOD);
	assert_true(took < 0.8); /* else the refill below says nothing */
	assert_true(fx_tracked(f) <= LRU_SIZE + 1);

	/* The bucket survived: only what refilled during the flood passes, not
	 * a fresh burst. */
	int after = burst_from(f, "198.18.1.1", BURST);
	int refilled = (int)(took * RATE) + 1;
	assert_true(after <= refilled);
	assert_true(after < BURST);
}

static void lru_source_is_evicted_by_the_same_flood(void **state)
{
	struct fx *f = *state;

	/* Control: a source that has not yet proven steady is in the LRU; the
	 * flood evicts it and it comes back with a full bucket. This is the
	 * behaviour the steady tier exists to prevent for steady sources. */
	int first = burst_from(f, "198.18.2.2", 3 * BURST);
	assert_in_range(first, BURST, BURST + 1);
	assert_int_equal(rl_event(f, CASTLE_RLE_PROMOTE), 0);
	double took = flood(f);
	assert_true(took < 0.8);
	int after = burst_from(f, "198.18.2.2", BURST);
	assert_int_equal(after, BURST);
}

static void full_steady_tier_is_counted_and_limits_still_apply(void **state)
{
	struct fx *f = *state;
	struct castle_rl_val v = { .last_ns = 1 };
	struct castle_rl_key k = { .class_slot = 15, .family = 4 };
	uint32_t cap = CASTLE_RL_STEADY_ENTRIES, i;

	/* Fill the steady tier with entries of an unused class. */
	for (i = 0; i < cap; i++) {
		memcpy(k.addr, &i, 4);
		if (bpf_map_update_elem(f->maps.rl_steady, &k, &v, BPF_NOEXIST))
			break;
	}
	assert_int_equal(i, cap);

	be_steady(f, "198.18.3.3");
	assert_int_equal(rl_event(f, CASTLE_RLE_PROMOTE), 0);
	assert_true(rl_event(f, CASTLE_RLE_STEADY_FULL) >= 1);
	/* The refused source keeps its count (no write per packet while it
	 * waits; it used to count 8 packets again) and its window starts at
	 * the refusal. */
	struct castle_rl_key ka = { .class_slot = 0, .family = 4, .addr = { 198, 18, 3, 3 } };
	struct castle_rl_val va;

	assert_int_equal(bpf_map_lookup_elem(f->maps.rl_state, &ka, &va), 0);
	assert_int_equal(va.pkts, CASTLE_RL_PROMOTE_PKTS);
	uint64_t mono = now_ns();
	/* the refusal was the last packet, 140 ms ago; the window before it
	 * began over a second ago */
	assert_true(va.first_ns > mono - 500000000ull);
	/* still limited from the LRU */
	int first = burst_from(f, "198.18.3.3", 3 * BURST);
	assert_in_range(first, BURST - 1, BURST + 1);
	/* a refused promotion is tried again a second later, not every 8
	 * packets: those 3 * BURST packets came within the second */
	assert_int_equal(rl_event(f, CASTLE_RLE_STEADY_FULL), 1);

	/* The refusal told every CPU: for a second, a source due for
	 * promotion waits without an insert, even when room appeared. */
	volatile __u64 *until = &f->xdp->bss->castle_steady_full_until;
	struct pkt_spec b = udp_from("198.18.3.4");

	/* a second past the refusal, on the tick clock (within its slack) */
	assert_true(*until >= va.first_ns + CASTLE_RL_PROMOTE_NS);
	assert_true(*until <= mono + CASTLE_RL_PROMOTE_NS + 100000000ull);
	i = 0;
	memcpy(k.addr, &i, 4);
	assert_int_equal(bpf_map_delete_elem(f->maps.rl_steady, &k), 0); /* room for one */
	*until = UINT64_MAX / 2; /* as if refused a moment ago */
	be_steady(f, "198.18.3.4");
	assert_int_equal(rl_event(f, CASTLE_RLE_PROMOTE), 0);
	assert_int_equal(rl_event(f, CASTLE_RLE_STEADY_FULL), 1); /* no insert tried */
	/* past that second, the next packet of a due source uses the room */
	*until = 0;
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(rl_event(f, CASTLE_RLE_PROMOTE), 1);
	assert_int_equal(rl_event(f, CASTLE_RLE_STEADY_FULL), 1);

	/* castled's sweep frees idle entries (last_ns = 1: idle for ages),
	 * not the one just promoted */
	assert_int_equal(castle_rl_reap_steady(&f->maps, CASTLE_RL_STEADY_IDLE_NS), (int)cap - 1);
}

/* last_ns is what castled's sweep reads, and is stored only when it moved by
 * CASTLE_RL_SEEN_STEP_NS: packets in between leave the entry unwritten. */
static void last_seen_is_stored_in_steps(void **state)
{
	struct fx *f = *state;
	struct castle_rl_key k = { .class_slot = 0, .family = 4, .addr = { 198, 18, 5, 5 } };
	struct pkt_spec s = udp_from("198.18.5.5");
	struct castle_rl_val v, w;

	assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
	assert_int_equal(bpf_map_lookup_elem(f->maps.rl_state, &k, &v), 0);
	assert_true(v.last_ns > 0);
	v.last_ns -= CASTLE_RL_SEEN_STEP_NS - 1000000000ull; /* 7 s ago */
	assert_int_equal(bpf_map_update_elem(f->maps.rl_state, &k, &v, BPF_EXIST), 0);
	assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
	assert_int_equal(bpf_map_lookup_elem(f->maps.rl_state, &k, &w), 0);
	assert_true(w.last_ns == v.last_ns); /* within the step: not stored */
	v = w;
	v.last_ns -= 2000000000ull; /* 9 s ago */
	assert_int_equal(bpf_map_update_elem(f->maps.rl_state, &k, &v, BPF_EXIST), 0);
	assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
	assert_int_equal(bpf_map_lookup_elem(f->maps.rl_state, &k, &w), 0);
	assert_true(w.last_ns >= v.last_ns + CASTLE_RL_SEEN_STEP_NS); /* stored: now */
}

/* A source lives in one tier. Found in both (another CPU promoted it first),
 * the rl_state copy goes at its next promotion check and the steady entry is
 * charged: rl_state is looked at first, so a copy left there would be used
 * from then on. */
static void copy_left_in_lru_after_a_racing_promotion_goes(void **state)
{
	struct fx *f = *state;
	struct castle_rl_key k = { .class_slot = 0, .family = 4, .addr = { 198, 18, 4, 4 } };
	struct castle_rl_val lru = { .pkts = 100, .first_ns = 1, .last_ns = 1 };
	struct castle_rl_val steady = { 0 }, got;
	struct pkt_spec s = udp_from("198.18.4.4");

	/* steady: a bucket empty for an hour (TAT far in the future) */
	steady.tat = steady.byte_tat = UINT64_MAX / 2;
	assert_int_equal(bpf_map_update_elem(f->maps.rl_steady, &k, &steady, BPF_NOEXIST), 0);
	assert_int_equal(bpf_map_update_elem(f->maps.rl_state, &k, &lru, BPF_NOEXIST), 0);
	assert_int_equal(fx_run_spec(f, &s), XDP_DROP); /* the steady bucket, not the full LRU one */
	assert_int_not_equal(bpf_map_lookup_elem(f->maps.rl_state, &k, &got), 0);
	assert_int_equal(bpf_map_lookup_elem(f->maps.rl_steady, &k, &got), 0);
	assert_int_equal(fx_run_spec(f, &s), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(steady_source_keeps_its_bucket_through_a_flood, setup,
						teardown),
		cmocka_unit_test_setup_teardown(lru_source_is_evicted_by_the_same_flood, setup,
						teardown),
		cmocka_unit_test_setup_teardown(full_steady_tier_is_counted_and_limits_still_apply,
						setup, teardown),
		cmocka_unit_test_setup_teardown(copy_left_in_lru_after_a_racing_promotion_goes,
						setup, teardown),
		cmocka_unit_test_setup_teardown(last_seen_is_stored_in_steps, setup, teardown),
	};

	return cmocka_run_group_tests_name("xdp_flood", tests, NULL, NULL);
}
