// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_class_slots.c - a rate-limit class keeps its counter and bucket slot
 * by name across reloads (castle_class_slots_assign), castle_apply writes
 * the slots with the generation and zeroes the counters of a new name's
 * slot, and castlectl names and counts classes by slot. The last cases run
 * against real maps loaded privately (as test_notes.c) and need root.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "pinned_skel.h"
#include "apply.h"
#include "ctl.h"
#include "ctl_maps.h"
#include "maps.h"
#include "policy.h"

static char pin[128];
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;
static bool have_maps;

static int setup(void **state)
{
	(void)state;
	if (geteuid() == 0) {
		ut_skel_open(pin, sizeof(pin), "slots", &skel, &maps, NULL);
		have_maps = true;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	if (have_maps)
		ut_skel_close(pin, &skel, &maps);
	return 0;
}

/* A policy struct with these class names, in this order. */
static struct castle_policy named(const char *const *names, unsigned int n)
{
	struct castle_policy p;

	memset(&p, 0, sizeof(p));
	p.nclasses = n;
	for (unsigned int i = 0; i < n; i++)
		snprintf(p.class_names[i], sizeof(p.class_names[i]), "%s", names[i]);
	return p;
}

static const uint8_t ident[CASTLE_MAX_CLASSES] = { 0, 1, 2, 3, 4, 5, 6, 7,
						    8, 9, 10, 11, 12, 13, 14, 15 };

/* Slots as a commit of policy `serial` with n classes in slot perm[i] left
 * them. */
static struct castle_class_slots mk(const uint8_t perm[CASTLE_MAX_CLASSES], uint64_t serial,
				    unsigned int n)
{
	struct castle_class_slots cs;

	memset(&cs, 0, sizeof(cs));
	cs.serial = serial;
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++) {
		cs.slot_xor[i] = (uint8_t)(i ^ perm[i]);
		if (i < n)
			cs.last_held[perm[i]] = serial;
	}
	return cs;
}

static void assert_permutation(const struct castle_class_slots *cs)
{
	unsigned int seen = 0;

	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		seen |= 1u << castle_class_slot(cs, i);
	assert_int_equal(seen, 0xffff);
}

#define SLOT(cs, i) castle_class_slot(&(cs), (i))

static void first_policy_counts_classes_in_order(void **state)
{
	static const char *const n[] = { "api", "login", "rest" };
	struct castle_policy next = named(n, 3);
	struct castle_class_slots out;

	(void)state;
	assert_int_equal(castle_class_slots_assign(NULL, NULL, &next, 1, &out), 0x7);
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		assert_int_equal(SLOT(out, i), i);
	assert_int_equal(out.serial, 1);
	assert_int_equal(out.last_held[2], 1);
	assert_int_equal(out.last_held[3], 0);
}

/* The case that moved every counter before: a class inserted ahead of the
 * others. */
static void inserted_class_moves_no_other(void **state)
{
	static const char *const a[] = { "api", "rest" }, *const b[] = { "login", "api", "rest" };
	struct castle_policy live = named(a, 2), next = named(b, 3);
	struct castle_class_slots live_cs = mk(ident, 1, 2), out, again_cs;
	uint8_t slot_of[CASTLE_MAX_CLASSES];

	(void)state;
	assert_int_equal(castle_class_slots_assign(&live, &live_cs, &next, 2, &out), 1u << 2);
	assert_int_equal(SLOT(out, 0), 2); /* login: new */
	assert_int_equal(SLOT(out, 1), 0); /* api */
	assert_int_equal(SLOT(out, 2), 1); /* rest */
	assert_permutation(&out);
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		slot_of[i] = (uint8_t)SLOT(out, i);
	assert_int_equal(castle_class_at(&next, slot_of, 0), 1);
	assert_int_equal(castle_class_at(&next, slot_of, 2), 0);
	assert_int_equal(castle_class_at(&next, slot_of, 3), -1);

	/* reversed, from the slots of the policy before */
	static const char *const c[] = { "rest", "api", "login" };
	struct castle_policy again = named(c, 3);

	assert_int_equal(castle_class_slots_assign(&next, &out, &again, 3, &again_cs), 0);
	assert_int_equal(SLOT(again_cs, 0), 1);
	assert_int_equal(SLOT(again_cs, 1), 0);
	assert_int_equal(SLOT(again_cs, 2), 2);
	assert_permutation(&again_cs);
}

/* A class removed and another added in one reload: the new one does not
 * take the removed one's slot (its buckets and counts) while another is
 * free. */
static void new_name_avoids_a_removed_class_slot(void **state)
{
	static const char *const a[] = { "a", "b", "c" }, *const b[] = { "a", "d", "c" };
	static const uint8_t perm[CASTLE_MAX_CLASSES] = { 4, 0, 9, 1, 2, 3, 5, 6,
							  7, 8, 10, 11, 12, 13, 14, 15 };
	struct castle_policy live = named(a, 3), next = named(b, 3);
	struct castle_class_slots live_cs = mk(perm, 5, 3), out;

	(void)state;
	assert_int_equal(castle_class_slots_assign(&live, &live_cs, &next, 6, &out), 1u << 1);
	assert_int_equal(SLOT(out, 0), 4);
	assert_int_equal(SLOT(out, 1), 1); /* not 0: b's */
	assert_int_equal(SLOT(out, 2), 9);
	assert_permutation(&out);

	/* the live classes' slots are avoided even without their history */
	memset(live_cs.last_held, 0, sizeof(live_cs.last_held));
	assert_int_equal(castle_class_slots_assign(&live, &live_cs, &next, 6, &out), 1u << 1);
	assert_int_equal(SLOT(out, 1), 1);
}

/* ... nor in a later reload: {a, b}, then {a}, then {a, c}: c does not get
 * b's slot (b's buckets and auto-bans would be named c's) but one never
 * held; and once every slot has been held, the one held longest ago. */
static void new_name_takes_the_slot_held_longest_ago(void **state)
{
	static const char *const ab[] = { "a", "b" }, *const a[] = { "a" },
				*const ac[] = { "a", "c" };
	struct castle_policy p1 = named(ab, 2), p2 = named(a, 1), p3 = named(ac, 2);
	struct castle_class_slots s1, s2, s3;

	(void)state;
	castle_class_slots_assign(NULL, NULL, &p1, 1, &s1);
	assert_int_equal(castle_class_slots_assign(&p1, &s1, &p2, 2, &s2), 0);
	assert_int_equal(s2.last_held[1], 1);
	assert_int_equal(castle_class_slots_assign(&p2, &s2, &p3, 3, &s3), 1u << 2);
	assert_int_equal(SLOT(s3, 0), 0);
	assert_int_equal(SLOT(s3, 1), 2);

	/* every slot held once; slot 7 longest ago */
	struct castle_class_slots old = mk(ident, 40, 1);

	for (unsigned int s = 1; s < CASTLE_MAX_CLASSES; s++)
		old.last_held[s] = s == 7 ? 3 : 30 + s;
	assert_int_equal(castle_class_slots_assign(&p2, &old, &p3, 41, &s3), 1u << 7);
	assert_int_equal(SLOT(s3, 1), 7);
	assert_int_equal(s3.last_held[7], 41);
	assert_int_equal(s3.last_held[8], 38);
	assert_permutation(&s3);
}

/* Sixteen live classes, one renamed: the new name can only have the slot
 * the old one leaves; its counters start from zero (fresh). */
static void full_table_reuses_the_slot_left(void **state)
{
	char names[CASTLE_MAX_CLASSES][8];
	const char *a[CASTLE_MAX_CLASSES], *b[CASTLE_MAX_CLASSES];
	uint8_t perm[CASTLE_MAX_CLASSES];
	struct castle_class_slots out;

	(void)state;
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++) {
		snprintf(names[i], sizeof(names[i]), "c%u", i);
		a[i] = b[i] = names[i];
		perm[i] = (uint8_t)(CASTLE_MAX_CLASSES - 1 - i);
	}
	b[5] = "new";
	struct castle_policy live = named(a, CASTLE_MAX_CLASSES), next = named(b, CASTLE_MAX_CLASSES);
	struct castle_class_slots live_cs = mk(perm, 9, CASTLE_MAX_CLASSES);

	assert_int_equal(castle_class_slots_assign(&live, &live_cs, &next, 10, &out), 1u << 10);
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		assert_int_equal(SLOT(out, i), CASTLE_MAX_CLASSES - 1 - i);
}

/* Unnamed classes (a policy written around castle_apply) match no name. */
static void empty_names_match_nothing(void **state)
{
	static const char *const a[] = { "", "x" }, *const b[] = { "", "x" };
	struct castle_policy live = named(a, 2), next = named(b, 2);
	struct castle_class_slots live_cs = mk(ident, 1, 2), out;

	(void)state;
	assert_int_equal(castle_class_slots_assign(&live, &live_cs, &next, 2, &out), 1u << 2);
	assert_int_equal(SLOT(out, 0), 2);
	assert_int_equal(SLOT(out, 1), 1);
}

/* ---- against real maps ------------------------------------------------- */

static void apply_yaml(const char *yaml)
{
	struct castle_policy_compiled comp;
	struct castle_apply_stats st = { 0 };
	struct castle_policy_conf conf;
	struct castle_errors e;
	char err[256];

	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", yaml, strlen(yaml), &conf, &e), 0);
	assert_int_equal(castle_policy_compile(&conf, &comp, err, sizeof(err)), 0);
	assert_int_equal(castle_apply(&maps, &conf, &comp, &st, err, sizeof(err)), 0);
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
	castle_errors_free(&e);
}

/* Put n passed packets in a slot's counter on interface slot 3, as the
 * program would (one CPU's share). */
static void count_in_slot(uint32_t slot, uint64_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct castle_class_stats *v = calloc((size_t)ncpu, sizeof(*v));
	uint32_t key = CASTLE_CLASS_STATS_KEY(3, slot);

	assert_non_null(v);
	assert_int_equal(bpf_map_lookup_elem(maps.class_stats, &key, v), 0);
	v[0].c[CASTLE_PASS].packets += n;
	assert_int_equal(bpf_map_update_elem(maps.class_stats, &key, v, BPF_ANY), 0);
	free(v);
}

static uint64_t passed_in_slot(uint32_t slot)
{
	struct castle_class_stats cs = { 0 };

	assert_int_equal(castle_class_stats_sum(maps.class_stats, slot, &cs), 0);
	return cs.c[CASTLE_PASS].packets;
}

static void live_slots(struct castle_policy *pol, uint8_t slot_of[CASTLE_MAX_CLASSES])
{
	uint32_t gen;

	assert_int_equal(castle_gen_live(&maps, &gen, pol), 0);
	castle_class_slots_of(&maps, gen, pol, slot_of);
}

static char *ctl_out(const char *a0, ...)
{
	char *out = NULL, *err = NULL;
	va_list ap;

	va_start(ap, a0);
	int rc = ut_ctl(pin, NULL, &out, &err, a0, ap);
	va_end(ap);
	if (rc)
		fprintf(stderr, "castlectl %s: rc %d: %s", a0, rc, err);
	assert_int_equal(rc, 0);
	free(err);
	return out;
}

static void apply_keeps_counts_with_the_name(void **state)
{
	static const char two[] =
		"version: 1\nlimits:\n"
		"  - { name: api, match: { proto: tcp, dst_ports: [443] }, rate: 100/s, burst: 10 }\n"
		"  - { name: rest, rate: 1000/s, burst: 100 }\n";
	static const char three[] =
		"version: 1\nlimits:\n"
		"  - { name: login, match: { proto: tcp, dst_ports: [8443] }, rate: 5/s, burst: 5 }\n"
		"  - { name: api, match: { proto: tcp, dst_ports: [443] }, rate: 100/s, burst: 10 }\n"
		"  - { name: rest, rate: 1000/s, burst: 100 }\n";
	struct castle_policy pol;
	uint8_t slot_of[CASTLE_MAX_CLASSES];

	(void)state;
	if (!have_maps)
		skip();
	apply_yaml(two);
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], 0);
	assert_int_equal(slot_of[1], 1);
	count_in_slot(0, 7);	/* api */
	count_in_slot(1, 11);	/* rest */
	count_in_slot(2, 99);	/* a class of long ago */

	apply_yaml(three);
	live_slots(&pol, slot_of);
	assert_string_equal(pol.class_names[0], "login");
	assert_int_equal(slot_of[0], 2);
	assert_int_equal(slot_of[1], 0);
	assert_int_equal(slot_of[2], 1);
	assert_int_equal(passed_in_slot(0), 7);
	assert_int_equal(passed_in_slot(1), 11);
	assert_int_equal(passed_in_slot(2), 0); /* login starts from zero */

	/* castlectl: in the policy's order, each with its own count and slot */
	char *out = ctl_out("limit", "list", "-j", NULL);
	const char *l = strstr(out, "\"login\""), *a = strstr(out, "\"api\""),
		   *r = strstr(out, "\"rest\"");
	assert_non_null(l);
	assert_non_null(a);
	assert_non_null(r);
	assert_true(l < a && a < r);
	assert_non_null(strstr(out, "\"slot\":2,\"name\":\"login\""));
	assert_non_null(strstr(out, "\"slot\":0,\"name\":\"api\""));
	assert_non_null(strstr(a, "\"passed\":7,"));
	assert_non_null(strstr(r, "\"passed\":11,"));
	free(out);

	/* and again across the same policy: nothing moves */
	apply_yaml(three);
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], 2);
	assert_int_equal(slot_of[1], 0);
	assert_int_equal(passed_in_slot(0), 7);
}

/* A policy an older castled wrote (its class_slots entry is of another
 * serial, or never written) is read with class i in slot i, as its
 * programs counted. */
static void older_castleds_policy_reads_in_order(void **state)
{
	struct castle_policy pol;
	struct castle_class_slots cs;
	uint8_t slot_of[CASTLE_MAX_CLASSES];
	uint32_t gen;

	(void)state;
	if (!have_maps)
		skip();
	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: b, rate: 5/s, burst: 5 }\n"
		   "  - { name: a, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	uint8_t sb = slot_of[0], sa = slot_of[1];

	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: a, rate: 5/s, burst: 5 }\n"
		   "  - { name: b, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], sa);
	assert_int_equal(slot_of[1], sb);
	assert_true(sa != 0); /* else the check below could not tell */
	/* as an older castled would leave it: the policy rewritten, the slots not */
	assert_int_equal(castle_gen_live(&maps, &gen, &pol), 0);
	assert_int_equal(bpf_map_lookup_elem(maps.class_slots, &gen, &cs), 0);
	pol.serial++;
	assert_int_equal(bpf_map_update_elem(maps.policy, &gen, &pol, BPF_ANY), 0);
	castle_class_slots_of(&maps, gen, &pol, slot_of);
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		assert_int_equal(slot_of[i], i);
	/* and the next apply starts from that order */
	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: b, rate: 5/s, burst: 5 }\n"
		   "  - { name: a, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], 1);
	assert_int_equal(slot_of[1], 0);
}

/* castled starting over an older build's running program and policy: the
 * first apply keeps classes in their positions (that program counts them
 * so) even when the file reorders them, and records which slots were held,
 * so a class added later does not get a slot a removed one left. */
static void upgrade_keeps_positions_then_names(void **state)
{
	struct castle_policy pol;
	uint8_t slot_of[CASTLE_MAX_CLASSES];
	uint32_t gen;

	(void)state;
	if (!have_maps)
		skip();
	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: x, rate: 5/s, burst: 5 }\n"
		   "  - { name: y, rate: 5/s, burst: 5 }\n"
		   "  - { name: z, rate: 5/s, burst: 5 }\n");
	/* as an older castled leaves it: slots not written for its policy */
	assert_int_equal(castle_gen_live(&maps, &gen, &pol), 0);
	pol.serial++;
	assert_int_equal(bpf_map_update_elem(maps.policy, &gen, &pol, BPF_ANY), 0);
	count_in_slot(0, 3); /* x's, by position */
	uint64_t before = passed_in_slot(0);

	maps.trie_only = true; /* the older program still runs */
	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: z, rate: 5/s, burst: 5 }\n"
		   "  - { name: y, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], 0);
	assert_int_equal(slot_of[1], 1);
	assert_int_equal(passed_in_slot(0), before); /* z counts on there, as the older program does */
	maps.trie_only = false;

	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: z, rate: 5/s, burst: 5 }\n"
		   "  - { name: y, rate: 5/s, burst: 5 }\n"
		   "  - { name: w, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	assert_int_equal(slot_of[0], 0);
	assert_int_equal(slot_of[1], 1);
	assert_int_not_equal(slot_of[2], 2); /* z's old slot, held once */
}

/* A bucket of slot `slot` for an IPv4 source, in rl_state or rl_steady. */
static void put_bucket(int fd, uint32_t slot, uint8_t last)
{
	struct castle_rl_key k = { .class_slot = slot, .family = 4,
				   .addr = { 198, 18, 3, last } };
	struct castle_rl_val v = { 0 };

	assert_int_equal(bpf_map_update_elem(fd, &k, &v, BPF_ANY), 0);
}

static int count_slot(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	uint32_t *n = arg;

	(void)v;
	if (k->class_slot < CASTLE_MAX_CLASSES)
		n[k->class_slot]++;
	return 0;
}

/* A reload that removes a class deletes its buckets (both tiers); the
 * buckets of the classes it keeps stay. */
static void removed_class_buckets_are_dropped(void **state)
{
	struct castle_policy pol;
	uint8_t slot_of[CASTLE_MAX_CLASSES];
	uint32_t n[CASTLE_MAX_CLASSES] = { 0 };

	(void)state;
	if (!have_maps)
		skip();
	apply_yaml("version: 1\nlimits:\n"
		   "  - { name: keep, rate: 5/s, burst: 5 }\n"
		   "  - { name: gone, rate: 5/s, burst: 5 }\n");
	live_slots(&pol, slot_of);
	uint8_t keep = slot_of[0], gone = slot_of[1];

	put_bucket(maps.rl_state, keep, 1);
	put_bucket(maps.rl_state, gone, 2);
	put_bucket(maps.rl_state, gone, 3);
	put_bucket(maps.rl_steady, gone, 4);
	put_bucket(maps.rl_steady, keep, 5);

	struct castle_policy_compiled comp;
	struct castle_apply_stats st = { 0 };
	struct castle_policy_conf conf;
	struct castle_errors e;
	char err[256];
	static const char one[] = "version: 1\nlimits:\n  - { name: keep, rate: 5/s, burst: 5 }\n";

	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", one, sizeof(one) - 1, &conf, &e), 0);
	assert_int_equal(castle_policy_compile(&conf, &comp, err, sizeof(err)), 0);
	assert_int_equal(castle_apply(&maps, &conf, &comp, &st, err, sizeof(err)), 0);
	assert_int_equal(st.rl_dropped, 3);
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
	castle_errors_free(&e);
	assert_int_equal(castle_rl_foreach(&maps, count_slot, n), 0);
	assert_int_equal(n[keep], 2);
	assert_int_equal(n[gone], 0);

	/* a reload that removes nothing drops nothing */
	apply_yaml(one);
	memset(n, 0, sizeof(n));
	assert_int_equal(castle_rl_foreach(&maps, count_slot, n), 0);
	assert_int_equal(n[keep], 2);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(first_policy_counts_classes_in_order),
		cmocka_unit_test(inserted_class_moves_no_other),
		cmocka_unit_test(new_name_avoids_a_removed_class_slot),
		cmocka_unit_test(new_name_takes_the_slot_held_longest_ago),
		cmocka_unit_test(full_table_reuses_the_slot_left),
		cmocka_unit_test(empty_names_match_nothing),
		cmocka_unit_test(apply_keeps_counts_with_the_name),
		cmocka_unit_test(older_castleds_policy_reads_in_order),
		cmocka_unit_test(upgrade_keeps_positions_then_names),
		cmocka_unit_test(removed_class_buckets_are_dropped),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
