// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_lists.c - the allowlist and blocklist stages of the XDP gate and
 * their place in the order of checks: exact and CIDR entries of both
 * families, policy, manual and auto origins, allow beating block, TTL expiry
 * in the kernel, hit counters in the entry values, dry-run, the counts that
 * let the programs skip empty lists. test_xdp_cidrs.c has how a policy's
 * CIDRs are held (hash by prefix length or trie) and expired CIDRs.
 */
#include <errno.h>
#include <sched.h>
#include <stdlib.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "fixture.h"

#define MS 1000000ull

static void block_exact_and_cidr_v4(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.77.7"), b = fx_udp4("198.18.66.200"), c = fx_udp4("198.18.1.1");

	fx_begin(f);
	fx_block(f, "198.18.77.7", 0);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);

	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
	assert_int_equal(fx_total(f), 3);
}

static void block_exact_and_cidr_v6(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp6("2001:db8:bad::1"), b = fx_udp6("2001:db8:77::7"),
			c = fx_udp6("2001:db8:1::1"), d = fx_udp6("2001:db8:77::8");

	fx_begin(f);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_block(f, "2001:db8:77::7", 0);
	fx_commit(f);

	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &d), XDP_PASS); /* exact means exact */
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
}

static void manual_block_exact_and_cidr_both_families(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.9.9"), b = fx_udp4("198.18.10.77"), c = fx_udp6("2001:db8:9::9"),
			d = fx_udp6("2001:db8:10::77"), e = fx_udp4("198.18.11.1");

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.9.9", 0);
	fx_manual_block(f, "198.18.10.0/24", 0);
	fx_manual_block(f, "2001:db8:9::9", 0);
	fx_manual_block(f, "2001:db8:10::/48", 0);

	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &d), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &e), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 4);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

static void allow_beats_block(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.66.10"), b = fx_udp4("198.18.66.11"), c = fx_udp4("198.18.66.12");

	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_allow(f, "198.18.66.10");
	fx_commit(f);
	fx_manual_allow(f, "198.18.66.11");
	fx_manual_block(f, "198.18.66.11", 0);

	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 1);
}

static void allow_cidr_v6_policy_and_manual_beat_block_everything(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp6("2001:db8:10::1"), b = fx_udp6("2001:db8:11:1::1"),
			c = fx_udp6("2001:db8:12::1"), d = fx_udp4("198.18.10.5");

	fx_begin(f);
	fx_block(f, "::/0", 0);
	fx_block(f, "0.0.0.0/0", 0);
	fx_allow(f, "2001:db8:10::/48");
	fx_allow(f, "198.18.10.0/24");
	fx_commit(f);
	fx_manual_allow(f, "2001:db8:11::/48");

	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &d), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 3);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 1);
}

/* allow -> block -> limit: an allowed source is never limited, a blocked one
 * never reaches (nor is charged to) a class. */
static void order_allow_then_block_then_limit(void **state)
{
	struct fx *f = *state;
	struct pkt_spec al = fx_udp4("198.18.1.1"), bl = fx_udp4("198.18.2.2"), li = fx_udp4("198.18.3.3");

	fx_begin(f);
	fx_allow(f, "198.18.1.1");
	fx_block(f, "198.18.2.2", 0);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 2);
	fx_commit(f);

	fx_run_spec_repeat(f, &al, 10);
	fx_run_spec_repeat(f, &bl, 10);
	fx_run_spec_repeat(f, &li, 10);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 10);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 10);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 8);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 2);
	assert_int_equal(fx_class_count(f, c, CASTLE_DROP), 8);
	assert_int_equal(fx_tracked(f), 1);
}

static void block_hits_counted_in_entry_values(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.77.7"), b = fx_udp4("198.18.66.1"), c = fx_udp6("2001:db8:bad::1"),
			d = fx_udp4("198.18.9.9");
	struct castle_entry e;

	fx_begin(f);
	fx_block(f, "198.18.77.7", 0);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_commit(f);
	fx_manual_block(f, "198.18.9.9", 0);

	uint64_t t0 = castle_now_boot_ns();
	fx_run_spec_repeat(f, &a, 3);
	fx_run_spec_repeat(f, &b, 5);
	fx_run_spec_repeat(f, &c, 7);
	fx_run_spec_repeat(f, &d, 2);
	uint64_t t1 = castle_now_boot_ns();

	assert_true(fx_block_entry(f, "198.18.77.7", &e));
	assert_int_equal(e.hits, 3);
	assert_int_equal(e.origin, CASTLE_ORIGIN_POLICY);
	/* last_hit is to a tick (jiffies, <= 10 ms), either way */
	assert_true(e.last_hit_ns + 10 * MS >= t0 && e.last_hit_ns <= t1 + 10 * MS);
	assert_true(fx_block_entry(f, "198.18.66.0/24", &e));
	assert_int_equal(e.hits, 5);
	assert_true(fx_block_entry(f, "2001:db8:bad::/48", &e));
	assert_int_equal(e.hits, 7);
	assert_true(fx_block_entry(f, "198.18.9.9", &e));
	assert_int_equal(e.hits, 2);
	assert_int_equal(e.origin, CASTLE_ORIGIN_MANUAL);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 17);
}

static void allow_hits_counted_in_entry_values(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.10.1"), b = fx_udp6("2001:db8:11::1");
	struct castle_entry e;

	fx_begin(f);
	fx_allow(f, "198.18.10.0/24");
	fx_commit(f);
	fx_manual_allow(f, "2001:db8:11::/48");

	fx_run_spec_repeat(f, &a, 4);
	fx_run_spec_repeat(f, &b, 6);
	assert_true(fx_allow_entry(f, "198.18.10.0/24", &e));
	assert_int_equal(e.hits, 4);
	assert_true(fx_allow_entry(f, "2001:db8:11::/48", &e));
	assert_int_equal(e.hits, 6);
	assert_int_equal(e.origin, CASTLE_ORIGIN_MANUAL);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 10);
}

static int count_entry(const struct castle_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return 0;
}

static void manual_ttl_expires_in_kernel(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.5");

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.5.5", 300 * MS);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	usleep(500 * 1000); /* the TTL, and the boot clock's lag (castle_boot_tick_ns) */
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 1);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
	/* The data path leaves the expired entry (deleting it would race with a
	 * re-add); the reaping walk castled runs every second removes it. */
	assert_true(fx_manual_has(f, "198.18.5.5"));
	assert_int_equal(castle_block_foreach(&f->maps, true, count_entry, NULL), 0);
	assert_false(fx_manual_has(f, "198.18.5.5"));
}

/* struct castle_boot_clock of bpf/maps.h (the program's per-CPU cache of
 * castle_boot_tick_ns's offset; BPF-side only, so not in castle.h). */
struct boot_clock {
	uint64_t tick_to_boot;
	uint64_t at_tick;
};

/* The tests below pin themselves to one CPU (the offset is per CPU); their
 * teardown gives back the mask they started with. */
static cpu_set_t saved_mask;

static int pinned_setup(void **state)
{
	cpu_set_t one;

	if (sched_getaffinity(0, sizeof(saved_mask), &saved_mask))
		return -1;
	CPU_ZERO(&one);
	CPU_SET(sched_getcpu(), &one);
	if (sched_setaffinity(0, sizeof(one), &one))
		return -1;
	return fx_setup(state);
}

static int pinned_teardown(void **state)
{
	int ret = fx_teardown(state);

	return sched_setaffinity(0, sizeof(saved_mask), &saved_mask) ? -1 : ret;
}

/* This CPU's castle_boot_clock (bpf/maps.h) after the program ran here. */
static struct boot_clock this_cpu_clock(struct fx *f)
{
	int ncpu = libbpf_num_possible_cpus(), cpu = sched_getcpu();
	struct boot_clock *bc = calloc((size_t)ncpu, sizeof(*bc)), mine;
	uint32_t zero = 0;

	assert_non_null(bc);
	assert_true(cpu >= 0 && cpu < ncpu);
	assert_int_equal(bpf_map_lookup_elem(bpf_map__fd(f->xdp->maps.boot_clock), &zero, bc), 0);
	mine = bc[cpu];
	free(bc);
	return mine;
}

/* Write this CPU's castle_boot_clock. */
static void set_this_cpu_clock(struct fx *f, struct boot_clock c)
{
	int ncpu = libbpf_num_possible_cpus(), cpu = sched_getcpu(), fd;
	struct boot_clock *bc = calloc((size_t)ncpu, sizeof(*bc));
	uint32_t zero = 0;

	assert_non_null(bc);
	fd = bpf_map__fd(f->xdp->maps.boot_clock);
	assert_int_equal(bpf_map_lookup_elem(fd, &zero, bc), 0);
	bc[cpu] = c;
	assert_int_equal(bpf_map_update_elem(fd, &zero, bc, BPF_ANY), 0);
	free(bc);
}

/* A TTL is checked against the boot clock to a tick: each CPU keeps the
 * offset from its tick clock and measures it again once a second has gone
 * by. What a resume leaves (the boot clock went on while the tick clock
 * stood still: the offset is short by the sleep) keeps an expired entry
 * dropping for at most that second. */
static void ttl_clock_is_measured_again_within_a_second(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.7");
	struct boot_clock c;

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.5.7", 200 * MS);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP); /* this CPU measures */
	c = this_cpu_clock(f);
	uint64_t at = c.at_tick, off = c.tick_to_boot;
	assert_true(at != 0);

	usleep(300 * 1000); /* expired */
	/* A resume after a minute (half the time since boot on a machine up
	 * less than two: a sleep longer than the boot clock would take it
	 * below zero, to a wrapped clock far past every expiry). */
	uint64_t boot = castle_now_boot_ns(), slept = 60000 * MS;

	if (slept > boot / 2)
		slept = boot / 2;
	assert_true(slept > 1000 * MS);
	c.tick_to_boot = off - slept;
	set_this_cpu_clock(f, c);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP); /* the stale offset, within its second */
	usleep(800 * 1000);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS); /* measured again */
	c = this_cpu_clock(f);
	assert_true(c.at_tick > at);
	/* the same offset as before, to the tick clock's lag (a minute off if
	 * it had not been measured again) */
	assert_true(c.tick_to_boot - off + 500 * MS < 1000 * MS);
}

/* The boot clock to a tick is kept behind the precise one, by 8 ticks: at
 * the instant it was measured it read at least 4 ms (8 ticks at HZ=2000)
 * less than the boot clock did by the end of the run. And polled every
 * millisecond, an entry with a TTL drops until its expiry has passed on the
 * precise clock, then stops within the clock's lag (9 ticks). */
static void ttl_never_ends_early(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.8");
	struct castle_entry e;
	struct boot_clock c;
	uint64_t first_pass = 0;

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.5.8", 3600ull * 1000 * MS);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	uint64_t after = castle_now_boot_ns();
	c = this_cpu_clock(f);
	assert_true(c.at_tick + c.tick_to_boot + 4 * MS <= after);

	for (int round = 0; round < 5; round++) {
		fx_manual_block(f, "198.18.5.8", (50 + 7 * round) * MS);
		assert_true(fx_block_entry(f, "198.18.5.8", &e));
		for (int i = 0; i < 1000 && !first_pass; i++) {
			int v = fx_run_spec(f, &a);
			/* after the run: a clock read later than the verdict, so
			 * one still before the expiry proves the pass early */
			uint64_t t = castle_now_boot_ns();

			if (v == XDP_PASS)
				first_pass = t;
			else
				usleep(1000);
		}
		assert_true(first_pass != 0);
		if (first_pass < e.expires_ns)
			fail_msg("round %d: passed %llu us before the expiry", round,
				 (unsigned long long)(e.expires_ns - first_pass) / 1000);
		assert_true(first_pass - e.expires_ns < 200 * MS);
		first_pass = 0;
	}
}

static void policy_ttl_expires_in_kernel(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.5"), b = fx_udp6("2001:db8:5::1"), c = fx_udp4("198.18.6.6");

	fx_begin(f);
	fx_block(f, "198.18.5.5", 300 * MS);
	fx_block(f, "2001:db8:5::/48", 300 * MS);
	fx_block(f, "198.18.6.6", 0);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	usleep(500 * 1000); /* the TTL, and the boot clock's lag */
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 3);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
}

/* The policy's exact list is looked up first, in the program's body; an
 * expired entry there must leave the source to the other lists, as if it
 * were absent: the policy's CIDRs and the manual entries still drop it. */
static void expired_policy_exact_entry_leaves_the_other_lists(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.5"), b = fx_udp4("198.18.7.7"),
			c = fx_udp6("2001:db8:5::5"), d = fx_udp6("2001:db8:7::7");

	fx_begin(f);
	fx_block(f, "198.18.5.5", 300 * MS);
	fx_block(f, "198.18.5.0/24", 0);
	fx_block(f, "198.18.7.7", 300 * MS);
	fx_block(f, "2001:db8:5::5", 300 * MS);
	fx_block(f, "2001:db8:5::/48", 0);
	fx_block(f, "2001:db8:7::7", 300 * MS);
	fx_commit(f);
	fx_manual_block(f, "198.18.7.7", 0);
	fx_manual_block(f, "2001:db8:7::7", 0);
	usleep(500 * 1000); /* the TTL, and the boot clock's lag */
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP); /* the /24 */
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP); /* the manual entry */
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &d), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 4);
	assert_int_equal(fx_total(f), 4);
}

static void dry_run_blocklist_passes_counted_with_reason(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.66.1"), b = fx_udp6("2001:db8:bad::1");

	fx_begin(f);
	fx_flags(f, CASTLE_F_DRY_RUN);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 0);
	assert_int_equal(fx_total(f), 2);
}

/* A reload replaces policy entries and keeps manual ones. */
static void reload_replaces_policy_keeps_manual(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.66.1"), b = fx_udp4("198.18.9.9");

	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);
	fx_manual_block(f, "198.18.9.9", 0);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	fx_begin(f);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

/* The programs skip a list they know to be empty. A policy generation says
 * which of its maps hold entries (lists, set at commit). */
static void policy_lists_say_which_maps_hold_entries(void **state)
{
	struct fx *f = *state;
	struct castle_policy pol;
	uint32_t gen;

	fx_begin(f);
	fx_block(f, "198.18.77.7", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_commit(f);
	assert_int_equal(castle_gen_live(&f->maps, &gen, &pol), 0);
	assert_int_equal(pol.lists, (1u << CASTLE_PM_BLOCK4) | (1u << CASTLE_PM_NHASH6));

	fx_begin(f);
	fx_allow(f, "198.18.1.0/24");
	fx_class(f, "2001:db8::/32", CASTLE_PROTO_UDP, "53", 10, 10);
	fx_commit(f);
	assert_int_equal(castle_gen_live(&f->maps, &gen, &pol), 0);
	assert_int_equal(pol.lists, (1u << CASTLE_PM_ALLOW4) | (1u << CASTLE_PM_CSRC6));

	fx_begin(f);
	fx_commit(f);
	assert_int_equal(castle_gen_live(&f->maps, &gen, &pol), 0);
	assert_int_equal(pol.lists, 0);
}

/* ... and man_count how many entries each manual/auto map may hold: one more
 * per new entry, none for an overwrite, one less per delete, never below 0. */
static void manual_count_follows_writes(void **state)
{
	struct fx *f = *state;
	struct castle_cidr c;

	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
	fx_manual_block(f, "198.18.9.9", 0);
	fx_manual_block(f, "198.18.9.9", 0);
	fx_manual_block(f, "198.18.9.10", 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 2);
	fx_manual_block(f, "198.18.9.0/24", 0);
	fx_manual_allow(f, "2001:db8:1::/48");
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_NET4), 1);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_ALLOW6), 1);
	fx_cidr("198.18.9.9", &c);
	assert_int_equal(castle_manual_block_del(&f->maps, &c), 0);
	assert_int_equal(castle_manual_block_del(&f->maps, &c), -ENOENT);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);

	/* put_prev / undo, castlectl's all-or-nothing path */
	struct castle_block_val old;
	bool had;
	fx_cidr("198.18.9.11", &c);
	assert_int_equal(castle_manual_block_put_prev(&f->maps, &c, 0, CASTLE_ORIGIN_MANUAL, &had,
						      &old), 0);
	assert_false(had);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 2);
	assert_int_equal(castle_manual_block_undo(&f->maps, &c, had, &old), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
	fx_cidr("198.18.9.10", &c);
	assert_int_equal(castle_manual_block_put_prev(&f->maps, &c, 0, CASTLE_ORIGIN_MANUAL, &had,
						      &old), 0);
	assert_true(had);
	assert_int_equal(castle_manual_block_undo(&f->maps, &c, had, &old), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
	assert_true(fx_manual_has(f, "198.18.9.10"));
}

/* An entry written around maps.c (bpftool) is not counted, so the gate does
 * not look at its map until castled heals the count (castle_man_count_heal,
 * at load and every second); a delete that brings a count to zero looks at
 * the map itself, so uncounted entries left behind stay enforced. */
static void uncounted_manual_entries_enforced_once_healed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.9.1"), b = fx_udp4("198.18.9.2");
	struct castle_block_val v = { .origin = CASTLE_ORIGIN_MANUAL };
	uint8_t a1[4] = { 198, 18, 9, 1 }, a2[4] = { 198, 18, 9, 2 };
	struct castle_cidr c;

	fx_begin(f);
	fx_commit(f);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], a1, &v, BPF_ANY), 0);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], a2, &v, BPF_ANY), 0);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(castle_man_count_heal(&f->maps), 1 << CASTLE_MM_BLOCK4);
	assert_int_equal(castle_man_count_heal(&f->maps), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);

	/* the count (1) goes to 0 with .2 still there: set back to 1 */
	fx_cidr("198.18.9.1", &c);
	assert_int_equal(castle_manual_block_del(&f->maps, &c), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	/* ... and to 0 for good once the map is empty */
	fx_cidr("198.18.9.2", &c);
	assert_int_equal(castle_manual_block_del(&f->maps, &c), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 3);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 3);
}

/* castled's sweep deletes expired manual/auto entries: counted too. */
static void reaped_entries_leave_the_count(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.9.1");

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.9.1", 50 * MS);
	fx_manual_block(f, "198.18.9.0/24", 50 * MS);
	fx_manual_block(f, "198.18.10.0/24", 0);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	usleep(100 * 1000);
	assert_int_equal(castle_manual_foreach(&f->maps, true, count_entry, NULL), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_NET4), 1);
	assert_false(fx_manual_has(f, "198.18.9.1"));
	assert_true(fx_manual_has(f, "198.18.10.0/24"));
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(block_exact_and_cidr_v4, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(block_exact_and_cidr_v6, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(manual_block_exact_and_cidr_both_families, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(allow_beats_block, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(allow_cidr_v6_policy_and_manual_beat_block_everything, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(order_allow_then_block_then_limit, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(block_hits_counted_in_entry_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(allow_hits_counted_in_entry_values, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(manual_ttl_expires_in_kernel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(policy_ttl_expires_in_kernel, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(ttl_clock_is_measured_again_within_a_second,
						pinned_setup, pinned_teardown),
		cmocka_unit_test_setup_teardown(ttl_never_ends_early, pinned_setup, pinned_teardown),
		cmocka_unit_test_setup_teardown(expired_policy_exact_entry_leaves_the_other_lists, fx_setup,
						fx_teardown),
		cmocka_unit_test_setup_teardown(dry_run_blocklist_passes_counted_with_reason, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(reload_replaces_policy_keeps_manual, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(policy_lists_say_which_maps_hold_entries, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(manual_count_follows_writes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(uncounted_manual_entries_enforced_once_healed, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(reaped_entries_leave_the_count, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("xdp_lists", tests, NULL, NULL);
}
