// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_cidrs.c - how the XDP gate holds a policy's CIDRs and what an
 * expired one does: in a hash per prefix length when they come in few
 * lengths, in the LPM tries otherwise (and always while a program of an older
 * build runs on the maps); an expired CIDR never hides a live enclosing one,
 * in either, nor in the manual trie; hits count in per-CPU slots while the
 * bank lasts (block CIDRs first, then allow CIDRs, then exact blocks). test_xdp_lists.c has the lists' order,
 * origins, TTLs, hit counters and counts.
 */
#include <errno.h>
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

#include "fixture.h"
#include "loader.h"
#include "ctl_maps.h"

#define MS 1000000ull

/* Nine more prefix lengths per family, far from every address the tests
 * send from: the policy's CIDRs then go in the tries, not the hashes. */
static void pad_lengths(struct fx *f)
{
	static const char *const pad[] = {
		"198.19.240.0/20", "198.19.240.0/21", "198.19.240.0/22", "198.19.240.0/23",
		"198.19.240.0/25", "198.19.240.0/26", "198.19.240.0/27", "198.19.240.0/29",
		"198.19.240.0/31", "2001:db8:ffff::/49", "2001:db8:ffff::/50",
		"2001:db8:ffff::/51", "2001:db8:ffff::/52", "2001:db8:ffff::/53",
		"2001:db8:ffff::/54", "2001:db8:ffff::/55", "2001:db8:ffff::/56",
		"2001:db8:ffff::/57",
	};

	for (size_t i = 0; i < sizeof(pad) / sizeof(pad[0]); i++)
		fx_block(f, pad[i], 0);
}

static uint32_t live_lists(struct fx *f)
{
	struct castle_policy pol;
	uint32_t gen;

	assert_int_equal(castle_gen_live(&f->maps, &gen, &pol), 0);
	return pol.lists;
}

/* An expired CIDR must not hide a live shorter one that holds it: the LPM trie
 * only answers the longest match, the prefix-length hash is asked longest
 * first. Both ways of holding the policy's CIDRs, and the manual trie. */
static void expired_cidr_does_not_unblock_enclosing(struct fx *f, bool trie)
{
	struct pkt_spec a = fx_udp4("198.18.5.5"), b = fx_udp4("198.18.99.1"), c = fx_udp6("2001:db8:5:5::1"),
			d = fx_udp6("2001:db8:6::1"), e = fx_udp4("198.19.1.1");

	fx_begin(f);
	fx_block(f, "198.18.0.0/16", 0);
	fx_block(f, "198.18.5.0/24", 200 * MS);
	fx_block(f, "198.18.5.4/30", 200 * MS);
	fx_block(f, "2001:db8::/32", 0);
	fx_block(f, "2001:db8:5::/48", 200 * MS);
	if (trie)
		pad_lengths(f);
	fx_allow(f, "198.19.100.0/24"); /* allow CIDRs take what is left: nothing */
	fx_block(f, "198.19.200.1/32", 0); /* and exact blocks after them */
	fx_commit(f);
	assert_int_equal(live_lists(f) & ((1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NET6) |
					  (1u << CASTLE_PM_NHASH4) | (1u << CASTLE_PM_NHASH6)),
			 trie ? (1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NET6)
			      : (1u << CASTLE_PM_NHASH4) | (1u << CASTLE_PM_NHASH6));
	fx_manual_block(f, "198.19.0.0/16", 0);
	fx_manual_block(f, "198.19.1.0/24", 200 * MS);
	fx_manual_block(f, "198.19.1.1/32", 200 * MS); /* exact map */

	usleep(300 * 1000);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &d), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &e), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 5);
	/* the hit goes to the live entry that dropped */
	struct castle_entry en;
	assert_true(fx_block_entry(f, "198.18.0.0/16", &en));
	assert_int_equal(en.hits, 2);
	assert_true(fx_block_entry(f, "2001:db8::/32", &en));
	assert_int_equal(en.hits, 2);
	assert_true(fx_block_entry(f, "198.19.0.0/16", &en));
	assert_int_equal(en.hits, 1);
}

static void expired_cidr_does_not_unblock_enclosing_cidr(void **state)
{
	expired_cidr_does_not_unblock_enclosing(*state, false);
}

static void expired_cidr_does_not_unblock_enclosing_cidr_trie(void **state)
{
	expired_cidr_does_not_unblock_enclosing(*state, true);
}

/*
 * The policy's CIDRs of a family in at most CASTLE_NHASH_MAX4/6 prefix
 * lengths go in one hash: the source masked to each length, longest first.
 * Lengths that cut a byte or a 32-bit word, /0, nested prefixes (the longest
 * match takes the hit), misses next to each prefix.
 */
static void cidrs_in_few_lengths_looked_up_by_length(void **state)
{
	struct fx *f = *state;
	static const struct { const char *src; int verdict; const char *entry; } cases[] = {
		{ "198.18.66.200", XDP_DROP, "198.18.66.0/24" },
		{ "198.18.66.7", XDP_DROP, "198.18.66.0/29" },	  /* inside the /24 too */
		{ "198.18.67.1", XDP_PASS, NULL },
		{ "198.18.128.1", XDP_DROP, "198.18.128.0/17" },
		{ "198.18.127.255", XDP_PASS, NULL },
		{ "198.19.7.9", XDP_DROP, "198.19.7.8/31" },
		{ "198.19.7.10", XDP_PASS, NULL },
		{ "2001:db8:8000::1", XDP_DROP, "2001:db8:8000::/33" },
		{ "2001:db8:7fff::1", XDP_PASS, NULL },
		{ "2001:db8:1:2:3:4:5:ff", XDP_DROP, "2001:db8:1:2:3:4:5:0/120" },
		{ "2001:db8:1:2:3:4:6:0", XDP_PASS, NULL },
		{ "2001:db8:9:9::1", XDP_DROP, "2001:db8:9::/48" },
		{ "2001:db8:a::1", XDP_PASS, NULL },
	};
	struct castle_entry en;
	int drops = 0;

	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "198.18.66.0/29", 0);
	fx_block(f, "198.18.128.0/17", 0);
	fx_block(f, "198.19.7.8/31", 0);
	fx_block(f, "2001:db8:8000::/33", 0);
	fx_block(f, "2001:db8:1:2:3:4:5:0/120", 0);
	fx_block(f, "2001:db8:9::/48", 0);
	fx_commit(f);
	assert_int_equal(live_lists(f), (1u << CASTLE_PM_NHASH4) | (1u << CASTLE_PM_NHASH6));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct pkt_spec p = strchr(cases[i].src, ':') ? fx_udp6(cases[i].src) : fx_udp4(cases[i].src);

		assert_int_equal(fx_run_spec(f, &p), cases[i].verdict);
		drops += cases[i].verdict == XDP_DROP;
	}
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (!cases[i].entry)
			continue;
		assert_true(fx_block_entry(f, cases[i].entry, &en));
		assert_int_equal(en.hits, 1);
	}
	assert_true(fx_block_entry(f, "198.18.66.0/29", &en));
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), drops);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), sizeof(cases) / sizeof(cases[0]) - drops);

	/* a /0 is a length like any other */
	fx_begin(f);
	fx_block(f, "0.0.0.0/0", 0);
	fx_commit(f);
	struct pkt_spec any = fx_udp4("198.18.1.1"), v6 = fx_udp6("2001:db8::1");
	assert_int_equal(fx_run_spec(f, &any), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &v6), XDP_PASS);
}

/* Up to CASTLE_NHASH_MAX4/6 lengths in the hash, one more and the family's
 * CIDRs stay in the trie (the other family's may still go in its hash);
 * the verdicts are the same either way. */
static void cidrs_in_many_lengths_stay_in_the_trie(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.66.200"), b = fx_udp4("198.19.240.1"), c = fx_udp4("198.18.67.1"),
			d = fx_udp6("2001:db8:9:9::1"), e = fx_udp6("2001:db8:a::1"),
			g = fx_udp6("2001:db8:ffff::1");
	struct castle_entry en;
	char s[64];
	int last = 0;

	for (int more = 0; more < 2; more++) {
		fx_begin(f);
		fx_block(f, "198.18.66.0/24", 0);
		/* /20, /21, ... nested in 198.19.240.0/20, skipping /24 */
		for (int i = 0; i < CASTLE_NHASH_MAX4 - 1 + more; i++) {
			last = i < 4 ? 20 + i : 21 + i;
			snprintf(s, sizeof(s), "198.19.240.0/%d", last);
			fx_block(f, s, 0);
		}
		fx_block(f, "2001:db8:9::/48", 0);
		for (int i = 0; i < CASTLE_NHASH_MAX6 - 1 + more; i++) {
			snprintf(s, sizeof(s), "2001:db8:ffff::/%d", 49 + i);
			fx_block(f, s, 0);
		}
		fx_commit(f);
		assert_int_equal(live_lists(f), more ? (1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NET6)
						     : (1u << CASTLE_PM_NHASH4) | (1u << CASTLE_PM_NHASH6));
		assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
		assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
		assert_int_equal(fx_run_spec(f, &c), XDP_PASS);
		assert_int_equal(fx_run_spec(f, &d), XDP_DROP);
		assert_int_equal(fx_run_spec(f, &e), XDP_PASS);
		assert_int_equal(fx_run_spec(f, &g), XDP_DROP);
		/* the hit goes to the longest of the nested prefixes */
		snprintf(s, sizeof(s), "198.19.240.0/%d", last);
		assert_true(fx_block_entry(f, s, &en));
		assert_int_equal(en.hits, 1);
	}
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 8);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 4);

	/* one family over, the other not */
	fx_begin(f);
	for (int i = 0; i <= CASTLE_NHASH_MAX4; i++) {
		snprintf(s, sizeof(s), "198.19.240.0/%d", 20 + i);
		fx_block(f, s, 0);
	}
	fx_block(f, "2001:db8:9::/48", 0);
	fx_commit(f);
	assert_int_equal(live_lists(f), (1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NHASH6));
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &d), XDP_DROP);
}

static void expired_cidr_alone_passes(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.5"), b = fx_udp6("2001:db8:5::1");

	fx_begin(f);
	fx_block(f, "198.18.5.0/24", 200 * MS);
	fx_commit(f);
	fx_manual_block(f, "198.18.5.4/30", 200 * MS);
	fx_manual_block(f, "2001:db8:5::/48", 200 * MS);
	fx_manual_block(f, "2001:db8::/33", 200 * MS);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	usleep(400 * 1000); /* the TTL, and the boot clock's lag (castle_boot_tick_ns) */
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
}


/* An upgrade: while a program of an older build runs on the maps (found by
 * castle_loader_older_program: it uses our state map, its tag is none of
 * ours), castled commits with trie_only and the CIDRs go where that program
 * looks, the tries; this build's program reads them there as well. */
static void older_program_keeps_cidrs_in_the_tries(void **state)
{
	struct fx *f = *state;
	struct castle_loader l = { .xdp = f->xdp, .maps = f->maps };
	struct pkt_spec a = fx_udp4("198.18.66.1"), b = fx_udp6("2001:db8:bad::1");
	struct bpf_insn older[] = {
		/* r1 = &state (ld_imm64 of a map fd): the program holds the map */
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = f->maps.state },
		{ 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	assert_int_equal(castle_loader_older_program(&l), 0);
	int fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "castle_old", "GPL", older, 4, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	assert_int_equal(castle_loader_older_program(&l), info.id);

	f->maps.trie_only = true;
	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_commit(f);
	assert_int_equal(live_lists(f), (1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NET6));
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);

	close(fd);
	/* the kernel frees a program after an RCU grace period */
	for (int i = 0; i < 100 && castle_loader_older_program(&l); i++)
		usleep(10 * 1000);
	assert_int_equal(castle_loader_older_program(&l), 0);
	f->maps.trie_only = false;
	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);
	assert_int_equal(live_lists(f), 1u << CASTLE_PM_NHASH4);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
}

/* The policy's CIDRs count hits in per-CPU slots while the bank lasts (see
 * CASTLE_HIT_SLOT); the ones past it count by the locked add on the entry.
 * Either way a listing shows every hit, in the hash and in the trie. */
static void cidrs_past_the_hit_bank(struct fx *f, bool trie)
{
	uint32_t bank = castle_hit_bank_of(&f->maps);
	char first[32], last[32], err[128];
	struct castle_block_val v;
	struct castle_entry en;
	struct castle_cidr c;

	assert_true(bank >= 2 && bank < 32768);
	fx_begin(f);
	for (uint32_t i = 0; i <= bank; i++) { /* bank + 1 /31s from 198.18.0.0 */
		char s[32];

		snprintf(s, sizeof(s), "198.18.%u.%u/31", (2 * i) >> 8, (2 * i) & 255);
		fx_block(f, s, 0);
	}
	if (trie)
		pad_lengths(f);
	fx_allow(f, "198.19.100.0/24"); /* allow CIDRs take what is left: nothing */
	fx_block(f, "198.19.200.1/32", 0); /* and exact blocks after them */
	fx_commit(f);
	assert_int_equal(live_lists(f) & ((1u << CASTLE_PM_NET4) | (1u << CASTLE_PM_NHASH4)),
			 1u << (trie ? CASTLE_PM_NET4 : CASTLE_PM_NHASH4));
	snprintf(first, sizeof(first), "198.18.0.1");
	snprintf(last, sizeof(last), "198.18.%u.%u", (2 * bank) >> 8, (2 * bank) & 255);
	for (int i = 0; i < 3; i++) {
		struct pkt_spec a = fx_udp4(first), b = fx_udp4(last);

		assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
		assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	}
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 6);
	assert_true(fx_block_entry(f, "198.18.0.0/31", &en));
	assert_int_equal(en.hits, 3);
	assert_int_equal(castle_cidr_parse("198.18.0.0/31", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_block_lookup(&f->maps, &c, true, &v), 0);
	assert_true(v.class_slot & CASTLE_HIT_SLOT);
	assert_int_equal(v.hits, 0);

	snprintf(last, sizeof(last), "198.18.%u.%u/31", (2 * bank) >> 8, (2 * bank) & 255);
	assert_true(fx_block_entry(f, last, &en));
	assert_int_equal(en.hits, 3);
	assert_int_equal(castle_cidr_parse(last, &c, err, sizeof(err)), 0);
	assert_int_equal(castle_block_lookup(&f->maps, &c, true, &v), 0);
	assert_false(v.class_slot & CASTLE_HIT_SLOT);
	assert_int_equal(v.hits, 3);

	struct pkt_spec al = fx_udp4("198.19.100.1");
	struct castle_allow_val av;

	assert_int_equal(fx_run_spec(f, &al), XDP_PASS);
	assert_int_equal(castle_cidr_parse("198.19.100.0/24", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_allow_lookup(&f->maps, &c, true, &av), 0);
	assert_int_equal(av.hit_slot, 0);
	assert_int_equal(av.hits, 1);
	assert_true(fx_allow_entry(f, "198.19.100.0/24", &en));
	assert_int_equal(en.hits, 1);

	struct pkt_spec ex = fx_udp4("198.19.200.1");

	assert_int_equal(fx_run_spec(f, &ex), XDP_DROP);
	assert_int_equal(castle_cidr_parse("198.19.200.1/32", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_block_lookup(&f->maps, &c, true, &v), 0);
	assert_false(v.class_slot & CASTLE_HIT_SLOT);
	assert_int_equal(v.hits, 1);
}

static void cidrs_past_the_hit_bank_hash(void **state)
{
	cidrs_past_the_hit_bank(*state, false);
}

static void cidrs_past_the_hit_bank_trie(void **state)
{
	cidrs_past_the_hit_bank(*state, true);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(expired_cidr_does_not_unblock_enclosing_cidr, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(expired_cidr_does_not_unblock_enclosing_cidr_trie, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cidrs_in_few_lengths_looked_up_by_length, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cidrs_in_many_lengths_stay_in_the_trie, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(older_program_keeps_cidrs_in_the_tries, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(expired_cidr_alone_passes, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cidrs_past_the_hit_bank_hash, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(cidrs_past_the_hit_bank_trie, fx_setup, fx_teardown),
	};

	return cmocka_run_group_tests_name("xdp_cidrs", tests, NULL, NULL);
}
