// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_ctl_maps.c - castlectl's verbs against real maps, in process: the XDP
 * object is loaded with its maps pinned in a private directory (manual CIDR
 * map shrunk to 4 entries so "full" is reachable), a policy generation is
 * committed through maps.c, and castle_ctl_main() runs with --pin-dir there.
 * Proves: writes land in the man_* maps with their comment, a full map is
 * reported and leaves nothing behind (the comment is rolled back), policy
 * entries cannot be deleted, listings and JSON agree. Needs root (BPF).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "pinned_skel.h"
#include "ctl.h"
#include "ctl_maps.h"

static char pin[128];
/* castled's state dir as castlectl is told it (--state-dir): with no castled
 * running, castlectl saves its changes there (ctl_persist). */
static char statedir[] = "/tmp/castle-ut-state-XXXXXX";
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;

struct run {
	int rc;
	char *out, *err;
};

/* ctl("block", "add", ..., NULL) with --pin-dir and --state-dir prepended. */
static void ctl(struct run *r, const char *a0, ...)
{
	va_list ap;

	va_start(ap, a0);
	r->rc = ut_ctl(pin, statedir, &r->out, &r->err, a0, ap);
	va_end(ap);
}

static void done(struct run *r)
{
	free(r->out);
	free(r->err);
}

/* rc as expected and, when sub is given, stderr containing it. */
static void expect(const struct run *r, int rc, const char *sub, int line)
{
	if (r->rc != rc || (sub && !strstr(r->err, sub))) {
		fprintf(stderr, "line %d: rc %d (want %d)\nstderr: %s\nstdout: %s\n", line, r->rc, rc,
			r->err, r->out);
		fail();
	}
}

#define EXPECT(r, rc, sub) expect((r), (rc), (sub), __LINE__)

static void cidr(const char *s, struct castle_cidr *c)
{
	char err[128];

	assert_int_equal(castle_cidr_parse(s, c, err, sizeof(err)), 0);
}

static void shrink(struct castle_xdp_bpf *s)
{
	bpf_map__set_max_entries(s->maps.man_net4, 4);
}

static int setup(void **state)
{
	struct castle_gen g;
	struct castle_policy pol = { 0 };
	struct castle_block_val bv = { .origin = CASTLE_ORIGIN_POLICY };
	struct castle_cidr c;
	char err[256];

	(void)state;
	assert_non_null(mkdtemp(statedir));
	ut_skel_open(pin, sizeof(pin), "ctl", &skel, &maps, shrink);
	if (!skel)
		return 0;

	/* A policy: one block prefix, one allow, one class named "api". */
	struct castle_gen_sizes sz = { 64, 64, 64 };
	assert_int_equal(castle_gen_begin(&sz, &g, err, sizeof(err)), 0);
	cidr("198.18.66.0/24", &c);
	assert_int_equal(castle_gen_add_block(&g, &c, &bv), 0);
	struct castle_allow_val av = { .origin = CASTLE_ORIGIN_POLICY };
	cidr("198.18.10.0/24", &c);
	assert_int_equal(castle_gen_add_allow(&g, &c, &av), 0);
	pol.serial = 7;
	pol.nclasses = 1;
	pol.any_src_classes = 1;
	pol.classes[0] = (struct castle_class){ .pkt_cost_ns = 5000000, .pkt_tol_ns = 4 * 5000000,
						.proto = CASTLE_PROTO_UDP, .nranges = 1,
						.plen4 = 32, .plen6 = 64,
						.ports = { { 9000, 9100 } } };
	snprintf(pol.class_names[0], sizeof(pol.class_names[0]), "api");
	assert_int_equal(castle_gen_commit(&maps, &g, &pol, err, sizeof(err)), 0);
	return 0;
}

static int teardown(void **state)
{
	char path[128];

	(void)state;
	ut_skel_close(pin, &skel, &maps);
	snprintf(path, sizeof(path), "%s/manual.state", statedir);
	unlink(path);
	rmdir(statedir);
	return 0;
}

/* The state file has a line starting with start and ending with end. */
static bool state_file_has(const char *start, const char *end)
{
	char path[128], line[512];
	bool found = false;
	FILE *f;

	snprintf(path, sizeof(path), "%s/manual.state", statedir);
	f = fopen(path, "r");
	if (!f)
		return false;
	while (!found && fgets(line, sizeof(line), f)) {
		size_t n = strcspn(line, "\n");

		line[n] = 0;
		found = !strncmp(line, start, strlen(start)) && n >= strlen(end) &&
			!strcmp(line + n - strlen(end), end);
	}
	fclose(f);
	return found;
}

static void unrestored_pins(void);

static void test_block_add_list_del(void **state)
{
	struct run r;
	struct castle_cidr c;
	struct castle_block_val v;
	char note[64];

	(void)state;
	UT_NEED_ROOT();
	ctl(&r, "block", "add", "198.18.5.0/24", "--ttl", "10m", "--comment", "flood \"A\"", NULL);
	EXPECT(&r, 0, NULL);
	assert_string_equal(r.err, "");
	done(&r);
	cidr("198.18.5.0/24", &c);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), 0);
	assert_int_equal(v.origin, CASTLE_ORIGIN_MANUAL);
	assert_true(v.expires_ns > castle_now_boot_ns() + 590ull * 1000000000ull);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), 0);
	assert_string_equal(note, "flood \"A\"");
	/* no castled: saved to the state file at once, with its comment */
	assert_true(state_file_has("block 198.18.5.0/24 ", "flood \"A\""));

	ctl(&r, "block", "list", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "198.18.5.0/24   manual"));
	assert_non_null(strstr(r.out, "flood \"A\""));
	assert_non_null(strstr(r.out, "198.18.66.0/24  policy  forever"));
	done(&r);

	ctl(&r, "-j", "block", "list", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "{\"cidr\":\"198.18.5.0/24\",\"family\":4,\"origin\":\"manual\""));
	assert_non_null(strstr(r.out, "\"comment\":\"flood \\\"A\\\"\"}"));
	done(&r);

	/* a policy entry cannot be deleted; an absent one is an error */
	ctl(&r, "block", "del", "198.18.66.0/24", NULL);
	EXPECT(&r, 1, "castlectl: 198.18.66.0/24 comes from the policy file; edit the policy");
	done(&r);
	ctl(&r, "block", "del", "198.18.99.0/24", NULL);
	EXPECT(&r, 1, "198.18.99.0/24 is not in the blocklist");
	done(&r);

	ctl(&r, "block", "del", "198.18.5.0/24", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), -ENOENT);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), -ENOENT);
	assert_false(state_file_has("block 198.18.5.0/24 ", "")); /* the unblock saved too */

	unrestored_pins();
}

/* Pins a castled start left before it restored the file (cleared flag):
 * castlectl restores the file first (a manual entry already there is
 * kept), then makes its change, then saves the whole; a delete of an entry
 * of the file stays deleted. */
static void clear_restored(void)
{
	struct castle_daemon_rec rec = { 0 };
	uint32_t zero = 0;

	assert_int_equal(bpf_map_update_elem(maps.daemon, &zero, &rec, BPF_ANY), 0);
}

static void unrestored_pins(void)
{
	char path[300], note[64];
	struct castle_cidr c77, c78;
	struct castle_block_val v;
	struct run r;
	FILE *f;

	snprintf(path, sizeof(path), "%s/manual.state", statedir);
	assert_non_null(f = fopen(path, "w"));
	fputs("block 198.18.77.0/24 0 from the file\nblock 198.18.78.0/24 0 kept\n", f);
	fclose(f);
	cidr("198.18.77.0/24", &c77);
	cidr("198.18.78.0/24", &c78);
	clear_restored();
	ctl(&r, "block", "add", "198.18.79.0/24", NULL);
	EXPECT(&r, 0, "restored 2 entries of");
	done(&r);
	assert_true(state_file_has("block 198.18.77.0/24 ", "from the file"));
	assert_true(state_file_has("block 198.18.78.0/24 ", "kept"));
	assert_true(state_file_has("block 198.18.79.0/24 ", ""));
	assert_false(castle_daemon_unrestored(maps.daemon));

	/* a manual entry already in the maps is the newer word; an entry of
	 * the file the maps lack (78) is restored, then deleted for good */
	clear_restored();
	assert_int_equal(castle_note_put(&maps, &c77, CASTLE_NOTE_BLOCK, "written since"), 0);
	assert_int_equal(castle_manual_block_del(&maps, &c78), 0);
	ctl(&r, "block", "del", "198.18.78.0/24", NULL);
	EXPECT(&r, 0, "restored 1 entry of"); /* 78 only: 77 and 79 are there */
	done(&r);
	assert_int_equal(castle_note_get(&maps, &c77, CASTLE_NOTE_BLOCK, note, sizeof(note)), 0);
	assert_string_equal(note, "written since");
	assert_int_equal(castle_block_lookup(&maps, &c78, false, &v), -ENOENT);
	assert_false(state_file_has("block 198.18.78.0/24 ", ""));
	assert_true(state_file_has("block 198.18.77.0/24 ", "written since"));
	ctl(&r, "block", "del", "198.18.77.0/24", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "block", "del", "198.18.79.0/24", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
}

static void test_full_map_rolls_back(void **state)
{
	static const char *const fill[] = { "198.18.1.0/24", "198.18.2.0/24", "198.18.3.0/24",
					    "198.18.4.0/24" };
	struct castle_cidr c;
	struct castle_block_val v;
	char note[64];
	struct run r;

	(void)state;
	UT_NEED_ROOT();
	for (int i = 0; i < 4; i++) {
		ctl(&r, "block", "add", fill[i], NULL);
		EXPECT(&r, 0, NULL);
		done(&r);
	}
	ctl(&r, "block", "add", "198.18.200.0/24", "--comment", "must not stay", NULL);
	EXPECT(&r, 1, "castlectl: blocklist full: 4 entries (capacity 4); 198.18.200.0/24 not added");
	done(&r);
	cidr("198.18.200.0/24", &c);
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), -ENOENT);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), -ENOENT);

	/* replacing an existing entry needs no room, and its old comment comes
	 * back if the write fails: here it succeeds and takes the new one */
	ctl(&r, "block", "add", fill[0], "--comment", "renewed", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	cidr(fill[0], &c);
	assert_int_equal(castle_note_get(&maps, &c, CASTLE_NOTE_BLOCK, note, sizeof(note)), 0);
	assert_string_equal(note, "renewed");
	/* host entries go to the exact map, which still has room */
	ctl(&r, "block", "add", "198.18.200.1", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	for (int i = 0; i < 4; i++) {
		ctl(&r, "block", "del", fill[i], NULL);
		EXPECT(&r, 0, NULL);
		done(&r);
	}
	ctl(&r, "block", "del", "198.18.200.1", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
}

static void test_allow_and_warning(void **state)
{
	struct run r;

	(void)state;
	UT_NEED_ROOT();
	ctl(&r, "allow", "add", "2001:db8:10::/48", "--comment", "office", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "allow", "list", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "2001:db8:10::/48  manual"));
	assert_non_null(strstr(r.out, "198.18.10.0/24    policy"));
	done(&r);
	ctl(&r, "allow", "del", "198.18.10.0/24", NULL);
	EXPECT(&r, 1, "198.18.10.0/24 comes from the policy file; edit the policy");
	done(&r);
	/* blocking an allowlisted source works but says it does nothing */
	ctl(&r, "block", "add", "198.18.10.0/24", NULL);
	EXPECT(&r, 0, "allow beats block");
	done(&r);
	ctl(&r, "block", "del", "198.18.10.0/24", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "allow", "del", "2001:db8:10::/48", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "allow", "del", "2001:db8:10::/48", NULL);
	EXPECT(&r, 1, "2001:db8:10::/48 is not in the allowlist");
	done(&r);
}

static void test_reading_verbs(void **state)
{
	struct run r;

	(void)state;
	UT_NEED_ROOT();
	ctl(&r, "-j", "status", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "\"daemon\":{\"running\":false,\"pid\":null}"));
	assert_non_null(strstr(r.out, "\"serial\":7"));
	done(&r);
	ctl(&r, "limit", "list", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "api    udp    9000-9100  200/s      5"));
	done(&r);
	ctl(&r, "limit", "list", "-j", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "\"name\":\"api\",\"proto\":\"udp\",\"ports\":[[9000,9100]],"
				      "\"rate_pps\":200,\"burst\":5"));
	done(&r);
	ctl(&r, "stats", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "IFACE  STAGE  VERDICT  REASON  PACKETS  BYTES"));
	done(&r);
	ctl(&r, "top", "--interval", "100ms", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "sampled over 100ms"));
	done(&r);
	ctl(&r, "events", "--timeout", "200ms", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "events", "--count", "1", "--timeout", "200ms", NULL);
	EXPECT(&r, 1, "timeout: 0 of 1 events");
	done(&r);
}

static void test_daemon_verbs(void **state)
{
	struct run r;
	char want[256];

	(void)state;
	UT_NEED_ROOT();
	snprintf(want, sizeof(want), "castled is not running (no daemon pid in %s/state)", pin);
	ctl(&r, "reload", NULL);
	EXPECT(&r, 1, want);
	done(&r);
	ctl(&r, "unload", "nosuchif0", NULL);
	EXPECT(&r, 1, "castle is not attached to nosuchif0");
	done(&r);
}

/* castlectl counts what it writes in man_count (so the gate looks at the
 * map), and still works on pins of a build that had no man_count. */
static void test_man_count(void **state)
{
	struct castle_maps pm;
	struct run r;
	char path[256], err[256];
	uint64_t before;

	(void)state;
	UT_NEED_ROOT();
	before = castle_man_count_get(&maps, CASTLE_MM_BLOCK6);
	ctl(&r, "block", "add", "2001:db8:44::4", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	assert_int_equal(castle_man_count_get(&maps, CASTLE_MM_BLOCK6), before + 1);
	ctl(&r, "block", "del", "2001:db8:44::4", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	assert_int_equal(castle_man_count_get(&maps, CASTLE_MM_BLOCK6), before);

	snprintf(path, sizeof(path), "%s/%s", pin, CASTLE_MAP_MAN_COUNT);
	assert_int_equal(unlink(path), 0);
	assert_int_equal(castle_maps_open_pinned(pin, &pm, err, sizeof(err)), 0);
	assert_null(pm.man_count_mem);
	assert_true(castle_man_count_get(&pm, CASTLE_MM_BLOCK4) == UINT64_MAX); /* "look" */
	castle_maps_close(&pm);
	ctl(&r, "block", "add", "198.18.44.4", NULL);
	EXPECT(&r, 0, NULL);
	done(&r);
	ctl(&r, "block", "list", NULL);
	EXPECT(&r, 0, NULL);
	assert_non_null(strstr(r.out, "198.18.44.4"));
	done(&r);
	ctl(&r, "unload", "nosuchif0", NULL);
	EXPECT(&r, 1, "castle is not attached to nosuchif0");
	done(&r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_block_add_list_del),
		cmocka_unit_test(test_full_map_rolls_back),
		cmocka_unit_test(test_allow_and_warning),
		cmocka_unit_test(test_reading_verbs),
		cmocka_unit_test(test_daemon_verbs),
		cmocka_unit_test(test_man_count), /* last: removes the man_count pin */
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
