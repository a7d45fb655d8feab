// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_notes.c - comments (the notes map) and their entries, against real
 * maps loaded privately (as test_ctl_maps.c), notes map shrunk to 3 entries.
 * Proves: castlectl writes the entry, then the note, and takes the entry back
 * (removed when new, restored when replaced) when the note cannot be written;
 * castle_notes_gc removes orphan notes, also under an older enclosing entry,
 * and keeps the notes of present entries; a policy entry and a manual entry
 * of one prefix keep a comment each. Needs root (BPF).
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
#include "ctl.h"
#include "policy.h"

static char pin[128];
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;

static void shrink(struct castle_xdp_bpf *s)
{
	bpf_map__set_max_entries(s->maps.notes, 3);
}

static int setup(void **state)
{
	(void)state;
	ut_skel_open(pin, sizeof(pin), "notes", &skel, &maps, shrink);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_skel_close(pin, &skel, &maps);
	return 0;
}


static int ctl(const char *a0, ...)
{
	char *err = NULL;
	va_list ap;
	int rc;

	va_start(ap, a0);
	rc = ut_ctl(pin, NULL, NULL, &err, a0, ap);
	va_end(ap);
	if (rc)
		fprintf(stderr, "castlectl %s ...: rc %d: %s", a0, rc, err);
	free(err);
	return rc;
}

static void cidr(const char *s, struct castle_cidr *c)
{
	char err[128];

	assert_int_equal(castle_cidr_parse(s, c, err, sizeof(err)), 0);
}

static void clear_notes(void)
{
	struct castle_note_key k;

	while (bpf_map_get_next_key(maps.notes, NULL, &k) == 0)
		assert_int_equal(bpf_map_delete_elem(maps.notes, &k), 0);
}

static void test_note_failure_takes_entry_back(void **state)
{
	struct castle_cidr c, f;
	struct castle_block_val v0, v;
	struct castle_allow_val av;
	char note[64];

	(void)state;
	UT_NEED_ROOT();
	clear_notes();
	/* a replaced entry: its old value comes back */
	assert_int_equal(ctl("block", "add", "198.18.8.0/24", "--ttl", "1h", NULL), 0);
	cidr("198.18.8.0/24", &c);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v0), 0);
	static const char *const fill[] = { "198.18.1.1", "198.18.1.2", "198.18.1.3" };
	for (int i = 0; i < 3; i++) {
		cidr(fill[i], &f);
		assert_int_equal(castle_note_put(&maps, &f, CASTLE_NOTE_BLOCK, "x"), 0);
	}
	assert_int_equal(ctl("block", "add", "198.18.8.0/24", "--ttl", "2h", "--comment", "y", NULL),
			 1);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), 0);
	assert_true(v.expires_ns == v0.expires_ns && v.created_ns == v0.created_ns);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), -ENOENT);

	/* a new entry, inside an existing one: removed, the enclosing one stays */
	cidr("198.18.8.128/25", &c);
	assert_int_equal(ctl("block", "add", "198.18.8.128/25", "--comment", "z", NULL), 1);
	uint32_t n = 0, cap = 0;
	assert_int_equal(castle_map_usage(maps.man[CASTLE_MM_NET4], &n, &cap), 0);
	assert_int_equal(n, 1);
	cidr("198.18.8.0/24", &c);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), 0);
	assert_true(v.expires_ns == v0.expires_ns);

	/* allow: same */
	cidr("2001:db8:77::/48", &c);
	assert_int_equal(ctl("allow", "add", "2001:db8:77::/48", "--comment", "z", NULL), 1);
	assert_int_equal(castle_allow_lookup(&maps, &c, false, &av), -ENOENT);

	clear_notes();
	assert_int_equal(ctl("block", "del", "198.18.8.0/24", NULL), 0);
}

static void test_gc_orphans_only(void **state)
{
	struct castle_cidr keep, orphan, cover;
	char note[64];

	(void)state;
	UT_NEED_ROOT();
	clear_notes();
	/* an enclosing manual entry, older than the GC run */
	assert_int_equal(ctl("block", "add", "198.18.0.0/16", NULL), 0);
	assert_int_equal(ctl("block", "add", "198.18.30.0/24", "--comment", "kept", NULL), 0);
	cidr("198.18.0.0/16", &cover);
	cidr("198.18.30.0/24", &keep);
	cidr("198.18.20.0/24", &orphan);
	assert_int_equal(castle_note_put(&maps, &orphan, CASTLE_NOTE_BLOCK, "orphan"), 0);
	assert_int_equal(castle_notes_gc(&maps, NULL), 1);
	assert_int_equal(castle_note_get(&maps, &orphan, CASTLE_NOTE_BLOCK, note, sizeof(note)),
			 -ENOENT);
	assert_int_equal(castle_note_get(&maps, &keep, CASTLE_NOTE_BLOCK, note, sizeof(note)), 0);
	assert_string_equal(note, "kept");
	assert_int_equal(ctl("block", "del", "198.18.30.0/24", NULL), 0);
	assert_int_equal(ctl("block", "del", "198.18.0.0/16", NULL), 0);
	clear_notes();
}

/* The operator's comment and the policy's on one prefix: neither reads or
 * overwrites the other, a reload dropping the policy's comment leaves the
 * operator's, and deleting the manual entry leaves the policy's. */
static void test_policy_and_manual_notes_apart(void **state)
{
	struct castle_block_entry pe = { .comment = "from the policy" };
	struct castle_policy_conf conf = { .block = &pe, .nblock = 1 };
	char note[64];

	(void)state;
	UT_NEED_ROOT();
	clear_notes();
	cidr("198.18.40.0/24", &pe.cidr);
	assert_int_equal(ctl("block", "add", "198.18.40.0/24", "--comment", "operator", NULL), 0);
	assert_int_equal(castle_note_put(&maps, &pe.cidr, castle_note_list(false, true),
					 pe.comment), 0);
	assert_int_equal(castle_notes_gc(&maps, &conf), 0);
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, false), note,
					 sizeof(note)), 0);
	assert_string_equal(note, "operator");
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, true), note,
					 sizeof(note)), 0);
	assert_string_equal(note, "from the policy");

	/* the policy's entry loses its comment: its note goes, even though a
	 * manual entry of the prefix exists; the operator's stays */
	assert_int_equal(castle_notes_gc(&maps, NULL), 1);
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, true), note,
					 sizeof(note)), -ENOENT);
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, false), note,
					 sizeof(note)), 0);
	assert_string_equal(note, "operator");

	/* castlectl del takes the operator's note, never the policy's */
	assert_int_equal(castle_note_put(&maps, &pe.cidr, castle_note_list(false, true),
					 pe.comment), 0);
	assert_int_equal(ctl("block", "del", "198.18.40.0/24", NULL), 0);
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, false), note,
					 sizeof(note)), -ENOENT);
	assert_int_equal(castle_note_get(&maps, &pe.cidr, castle_note_list(false, true), note,
					 sizeof(note)), 0);
	assert_string_equal(note, "from the policy");
	clear_notes();
}

/* Adding an entry again without --comment keeps its comment; adding one
 * that was not there for the operator (expired and not reaped yet, or gone
 * with its note not collected yet) does not inherit the old comment. */
static void test_readd_keeps_only_a_live_entrys_comment(void **state)
{
	struct castle_cidr c;
	char note[64];

	(void)state;
	UT_NEED_ROOT();
	clear_notes();
	cidr("198.18.50.1", &c);
	assert_int_equal(ctl("block", "add", "198.18.50.1", "--comment", "live", NULL), 0);
	assert_int_equal(ctl("block", "add", "198.18.50.1", "--ttl", "1h", NULL), 0);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), 0);
	assert_string_equal(note, "live");

	/* expired (a 1 ns TTL), still in the map */
	assert_int_equal(castle_manual_block_put(&maps, &c, 1, CASTLE_ORIGIN_MANUAL), 0);
	assert_int_equal(ctl("block", "add", "198.18.50.1", NULL), 0);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), -ENOENT);

	/* gone, its note left behind */
	assert_int_equal(ctl("block", "del", "198.18.50.1", NULL), 0);
	assert_int_equal(castle_note_put(&maps, &c, CASTLE_NOTE_BLOCK, "stale"), 0);
	assert_int_equal(ctl("block", "add", "198.18.50.1", NULL), 0);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), -ENOENT);
	cidr("2001:db8:50::/48", &c);
	assert_int_equal(castle_note_put(&maps, &c, CASTLE_NOTE_ALLOW, "stale"), 0);
	assert_int_equal(ctl("allow", "add", "2001:db8:50::/48", NULL), 0);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_ALLOW, note, sizeof(note)), -ENOENT);

	assert_int_equal(ctl("block", "del", "198.18.50.1", NULL), 0);
	assert_int_equal(ctl("allow", "del", "2001:db8:50::/48", NULL), 0);
	clear_notes();
}

/* A policy's comments that do not fit beside the notes of the last policy
 * (an older build's, under the origin word it left 0) go in once the GC has
 * dropped those: the first reload after an upgrade lost them before. The
 * notes map holds 3 here: 2 old notes, 2 comments. */
static void test_apply_writes_notes_again_after_the_gc(void **state)
{
	static const char yaml[] = "version: 1\nblock:\n"
				   "  - { cidr: 198.18.60.0/24, comment: one }\n"
				   "  - { cidr: 198.18.61.0/24, comment: two }\n";
	struct castle_policy_compiled comp;
	struct castle_apply_stats st = { 0 };
	struct castle_policy_conf conf;
	struct castle_errors e;
	struct castle_cidr c;
	char err[256], note[64];

	(void)state;
	UT_NEED_ROOT();
	clear_notes();
	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", yaml, sizeof(yaml) - 1, &conf, &e), 0);
	assert_int_equal(castle_policy_compile(&conf, &comp, err, sizeof(err)), 0);
	cidr("198.18.60.0/24", &c);
	assert_int_equal(castle_note_put(&maps, &c, CASTLE_NOTE_BLOCK, "one, as written before"), 0);
	cidr("198.18.61.0/24", &c);
	assert_int_equal(castle_note_put(&maps, &c, CASTLE_NOTE_BLOCK, "two, as written before"), 0);
	assert_int_equal(castle_apply(&maps, &conf, &comp, &st, err, sizeof(err)), 0);
	assert_int_equal(st.notes, 2);
	assert_int_equal(st.notes_lost, 0);
	assert_int_equal(castle_note_get(&maps, &c, castle_note_list(false, true), note,
					 sizeof(note)), 0);
	assert_string_equal(note, "two");
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)),
			 -ENOENT);
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
	castle_errors_free(&e);
	clear_notes();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_note_failure_takes_entry_back),
		cmocka_unit_test(test_gc_orphans_only),
		cmocka_unit_test(test_policy_and_manual_notes_apart),
		cmocka_unit_test(test_readd_keeps_only_a_live_entrys_comment),
		cmocka_unit_test(test_apply_writes_notes_again_after_the_gc),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
