// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_apply_ttl.c - TTL entries of the policy across reloads (castle_apply),
 * against real maps loaded privately (as test_ctl_maps.c). Proves: a TTL
 * entry kept by a reload keeps its expiry only under the exact same prefix
 * (a new /25 inside an old /24 starts its own TTL; an LPM lookup in the old
 * trie answers the /24), and an expired TTL entry applied again starts a
 * fresh TTL instead of staying expired, in the prefix-length hash and in the
 * trie alike; a generation's maps are sized to its policy; and the per-CPU
 * hit slots of policy CIDRs are summed, carried and zeroed. Needs root
 * (BPF).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "pinned_skel.h"
#include "ctl_maps.h"
#include "apply.h"
#include "errors.h"
#include "policy.h"

static char pin[128];
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;

static int setup(void **state)
{
	(void)state;
	ut_skel_open(pin, sizeof(pin), "apply", &skel, &maps, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_skel_close(pin, &skel, &maps);
	return 0;
}


static void apply(const char *text, struct castle_apply_stats *st)
{
	ut_apply_policy(&maps, text, st);
}

static void pol_entry(const char *s, struct castle_block_val *v)
{
	struct castle_cidr c;
	char err[128];

	assert_int_equal(castle_cidr_parse(s, &c, err, sizeof(err)), 0);
	assert_int_equal(castle_block_lookup(&maps, &c, true, v), 0);
	assert_int_equal(v->origin, CASTLE_ORIGIN_POLICY);
}

static void test_kept_only_on_exact_prefix(void **state)
{
	struct castle_block_val net0, host0, net, sub, host;

	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.0/24, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	pol_entry("198.18.40.0/24", &net0);
	pol_entry("198.18.41.7", &host0);
	usleep(20000);
	/* the /24 line edited to a /25 inside it (a policy cannot hold both) */
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 2001:db8:40::/48, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	assert_int_equal(st.ttl_kept, 1);
	pol_entry("198.18.40.128/25", &sub);
	pol_entry("198.18.41.7", &host);
	assert_true(host.expires_ns == host0.expires_ns && host.created_ns == host0.created_ns);
	/* the /25 is new: its own, later start, not the /24's */
	if (sub.created_ns == net0.created_ns || sub.expires_ns <= net0.expires_ns)
		fail_msg("198.18.40.128/25 took over the expiry of 198.18.40.0/24");
	/* unchanged text: everything kept */
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 2001:db8:40::/48, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	assert_int_equal(st.ttl_kept, 3);
	pol_entry("198.18.40.128/25", &net);
	assert_true(net.expires_ns == sub.expires_ns && net.created_ns == sub.created_ns);
}

/* Seven IPv4 prefix lengths: the policy's CIDRs live in the trie, where a
 * lookup of the /25 would answer the old /24. */
#define TRIE_PAD "  - 198.19.0.0/20\n  - 198.19.16.0/21\n  - 198.19.24.0/22\n" \
		 "  - 198.19.28.0/23\n  - 198.19.32.0/26\n"

static void test_kept_only_on_exact_prefix_in_the_trie(void **state)
{
	struct castle_block_val net0, net, sub;
	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	apply("version: 1\nblock:\n  - { cidr: 198.18.40.0/24, ttl: 1h }\n"
	      "  - { cidr: 198.18.44.0/25, ttl: 1h }\n" TRIE_PAD, &st);
	assert_int_equal(st.entries[CASTLE_PM_NET4], 7);
	assert_int_equal(st.entries[CASTLE_PM_NHASH4], 0);
	pol_entry("198.18.40.0/24", &net0);
	usleep(20000);
	apply("version: 1\nblock:\n  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 198.18.44.0/25, ttl: 1h }\n" TRIE_PAD, &st);
	assert_int_equal(st.ttl_kept, 1); /* the /25 that was there */
	pol_entry("198.18.40.128/25", &sub);
	if (sub.created_ns == net0.created_ns || sub.expires_ns <= net0.expires_ns)
		fail_msg("198.18.40.128/25 took over the expiry of 198.18.40.0/24 (trie)");
	/* from the trie to the hash (two lengths now): kept all the same */
	apply("version: 1\nblock:\n  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 198.18.44.0/25, ttl: 1h }\n  - 198.19.0.0/20\n", &st);
	assert_int_equal(st.entries[CASTLE_PM_NHASH4], 3);
	assert_int_equal(st.ttl_kept, 2);
	pol_entry("198.18.40.128/25", &net);
	assert_true(net.expires_ns == sub.expires_ns && net.created_ns == sub.created_ns);
}

/* The live generation's maps hold what the policy needs, not the most a
 * policy may hold (a hash's buckets cost memory whether used or not); the
 * capacity reported is the most a policy may hold. */
static void test_generation_maps_sized_to_the_policy(void **state)
{
	struct castle_apply_stats st;
	uint32_t gen, id;

	(void)state;
	UT_NEED_ROOT();
	apply("version: 1\nblock:\n  - 198.18.45.1\n  - 198.18.46.0/24\n  - 2001:db8:45::1\n",
	      &st);
	assert_int_equal(castle_gen_live(&maps, &gen, NULL), 0);
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		struct bpf_map_info info = { 0 };
		__u32 len = sizeof(info);

		assert_int_equal(bpf_map_lookup_elem(maps.pol[i], &gen, &id), 0);
		int fd = bpf_map_get_fd_by_id(id);
		assert_true(fd >= 0);
		assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
		close(fd);
		if (i == CASTLE_PM_SNI || i == CASTLE_PM_CSRC4 || i == CASTLE_PM_CSRC6)
			continue; /* fixed sizes */
		if (info.max_entries > 1)
			fail_msg("%s: %u entries for a 3-line policy", castle_pol_map_names[i],
				 info.max_entries);
	}
	assert_int_equal(st.capacity[CASTLE_PM_BLOCK4], CASTLE_POL_EXACT_ENTRIES);
	assert_int_equal(st.capacity[CASTLE_PM_NHASH4], CASTLE_POL_NET_ENTRIES);
	assert_int_equal(st.capacity[CASTLE_PM_ALLOW6], CASTLE_POL_ALLOW_ENTRIES);
}

static void test_expired_ttl_starts_afresh(void **state)
{
	static const char pol[] = "version: 1\nblock:\n"
				  "  - { cidr: 198.18.42.0/24, ttl: 1s }\n"
				  "  - { cidr: 198.18.43.9, ttl: 1s }\n";
	struct castle_block_val net, host;
	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	apply(pol, &st);
	usleep(1200000);
	apply(pol, &st);
	assert_int_equal(st.ttl_kept, 0);
	pol_entry("198.18.42.0/24", &net);
	pol_entry("198.18.43.9", &host);
	uint64_t now = castle_now_boot_ns();
	if (net.expires_ns <= now || host.expires_ns <= now)
		fail_msg("an expired TTL entry stayed expired across a reload");
}

/* The longest TTL that parses saturates instead of wrapping to "already
 * expired" (an exact entry and a CIDR). */
static void test_huge_ttl_saturates(void **state)
{
	static const char pol[] = "version: 1\nblock:\n"
				  "  - { cidr: 198.18.44.0/24, ttl: 213503d }\n"
				  "  - { cidr: 198.18.45.9, ttl: 213503d }\n";
	struct castle_block_val net, host;
	struct castle_apply_stats st;
	const uint64_t century = 100ull * 365 * 86400 * 1000000000ull;

	(void)state;
	UT_NEED_ROOT();
	apply(pol, &st);
	pol_entry("198.18.44.0/24", &net);
	pol_entry("198.18.45.9", &host);
	uint64_t now = castle_now_boot_ns();
	if (net.expires_ns < now + century || host.expires_ns < now + century)
		fail_msg("a 213503d TTL expires at %llu/%llu, now %llu: wrapped",
			 (unsigned long long)net.expires_ns, (unsigned long long)host.expires_ns,
			 (unsigned long long)now);
}

static int hits_of_cb(const struct castle_entry *e, void *arg)
{
	struct castle_entry *want = arg;

	if (e->cidr.family == want->cidr.family && e->cidr.plen == want->cidr.plen &&
	    !memcmp(e->cidr.addr, want->cidr.addr, 16))
		*want = *e;
	return 0;
}

/* The hits `castlectl block list` shows for a policy entry. */
static uint64_t listed_hits(const char *cidr)
{
	struct castle_entry e = { 0 };
	char err[128];

	assert_int_equal(castle_cidr_parse(cidr, &e.cidr, err, sizeof(err)), 0);
	e.hits = UINT64_MAX;
	assert_int_equal(castle_block_foreach(&maps, false, hits_of_cb, &e), 0);
	if (e.hits == UINT64_MAX)
		fail_msg("%s is not listed", cidr);
	return e.hits;
}

static void put_slot(uint32_t slot, uint64_t per_cpu)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v = calloc((size_t)ncpu, sizeof(*v));

	assert_non_null(v);
	for (int c = 0; c < ncpu; c++)
		v[c] = per_cpu;
	assert_int_equal(bpf_map_update_elem(maps.block_hits, &slot, v, BPF_ANY), 0);
	free(v);
}

/* Policy CIDRs count in per-CPU slots of the generation's bank: the listing
 * sums them; a TTL CIDR kept by a reload carries its count into the entry
 * of the next generation, whose slots (the other bank) start from zero
 * whatever an older generation left in them; other entries start afresh. */
static void test_hit_slots_across_reloads(void **state)
{
	static const char pol[] = "version: 1\nblock:\n"
				  "  - { cidr: 198.18.44.0/24, ttl: 1h }\n"
				  "  - 198.18.45.0/24\n"
				  "  - { cidr: 198.18.46.7, ttl: 1h }\n";
	uint32_t bank = castle_hit_bank_of(&maps), ncpu = libbpf_num_possible_cpus();
	struct castle_block_val a0, b0, a1, b1, h0, h1;
	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	assert_true(bank >= 2);
	apply(pol, &st);
	pol_entry("198.18.44.0/24", &a0);
	pol_entry("198.18.45.0/24", &b0);
	pol_entry("198.18.46.7", &h0);
	assert_true((a0.class_slot & CASTLE_HIT_SLOT) && (b0.class_slot & CASTLE_HIT_SLOT));
	assert_true(h0.class_slot & CASTLE_HIT_SLOT); /* the exact one: after the CIDRs */
	uint32_t sa = a0.class_slot & ~CASTLE_HIT_SLOT, sb = b0.class_slot & ~CASTLE_HIT_SLOT;
	uint32_t sh = h0.class_slot & ~CASTLE_HIT_SLOT;
	uint32_t other = sa < bank ? bank : 0; /* the next generation's bank */
	assert_true(sa != sb && sa / bank == sb / bank);
	assert_int_equal(sh % bank, 2);
	put_slot(sa, 3);
	put_slot(sb, 5);
	put_slot(sh, 7);
	assert_int_equal(listed_hits("198.18.44.0/24"), 3 * ncpu);
	assert_int_equal(listed_hits("198.18.45.0/24"), 5 * ncpu);
	/* what a generation before left in the next bank */
	put_slot(other, 1000);
	put_slot(other + 1, 1000);
	put_slot(other + 2, 1000);

	apply(pol, &st);
	assert_int_equal(st.ttl_kept, 2);
	pol_entry("198.18.44.0/24", &a1);
	pol_entry("198.18.46.7", &h1);
	assert_int_equal(h1.hits, 7 * ncpu); /* an exact TTL entry carries its slot too */
	assert_int_equal(listed_hits("198.18.46.7/32"), 7 * ncpu);
	pol_entry("198.18.45.0/24", &b1);
	assert_true((a1.class_slot & CASTLE_HIT_SLOT) && (b1.class_slot & CASTLE_HIT_SLOT));
	assert_int_equal((a1.class_slot & ~CASTLE_HIT_SLOT) / bank, other / bank);
	assert_int_equal(a1.hits, 3 * ncpu); /* carried over */
	assert_int_equal(listed_hits("198.18.44.0/24"), 3 * ncpu);
	assert_int_equal(listed_hits("198.18.45.0/24"), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_only_on_exact_prefix),
		cmocka_unit_test(test_kept_only_on_exact_prefix_in_the_trie),
		cmocka_unit_test(test_generation_maps_sized_to_the_policy),
		cmocka_unit_test(test_expired_ttl_starts_afresh),
		cmocka_unit_test(test_huge_ttl_saturates),
		cmocka_unit_test(test_hit_slots_across_reloads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
