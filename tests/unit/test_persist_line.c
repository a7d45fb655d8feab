// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_persist_line.c - one line of castled's state file (persist_line.c):
 * what castle_persist_sync writes, castle_persist_restore reads back, and
 * what it refuses; and the state directory castle_persist_init accepts (the
 * owner check runs as root only). No maps.
 */
#include <errno.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>

#include "persist.h"

static struct castle_persist_entry parse_ok(const char *line, int want)
{
	struct castle_persist_entry e;
	char why[200] = "";
	int ret = castle_persist_parse_line(line, strlen(line), &e, why, sizeof(why));

	if (ret != want)
		fail_msg("'%s': %d, expected %d (%s)", line, ret, want, why);
	return e;
}

static void parse_bad(const char *line, size_t len, const char *want)
{
	struct castle_persist_entry e;
	char why[200] = "";

	memset(&e, 0x5a, sizeof(e));
	if (castle_persist_parse_line(line, len, &e, why, sizeof(why)) != -EINVAL)
		fail_msg("'%s' should be refused", line);
	if (!strstr(why, want))
		fail_msg("'%s': message '%s' lacks '%s'", line, why, want);
	for (size_t i = 0; i < sizeof(e); i++)
		if (((unsigned char *)&e)[i] != 0x5a)
			fail_msg("'%s': entry written although refused", line);
}

static void cidr_is(const struct castle_persist_entry *e, const char *want)
{
	char buf[CASTLE_CIDR_STRLEN];

	assert_string_equal(castle_cidr_str(&e->cidr, buf, sizeof(buf)), want);
}

static void parses_the_lines_castled_writes(void **state)
{
	struct castle_persist_entry e;

	(void)state;
	e = parse_ok("block 198.18.77.7 1767225600 scanner from the night shift", CASTLE_PL_ENTRY);
	assert_false(e.allow);
	cidr_is(&e, "198.18.77.7");
	assert_int_equal(e.expires, 1767225600);
	assert_string_equal(e.comment, "scanner from the night shift");
	e = parse_ok("allow 2001:db8:10::/48 0", CASTLE_PL_ENTRY);
	assert_true(e.allow);
	cidr_is(&e, "2001:db8:10::/48");
	assert_int_equal(e.expires, 0);
	assert_string_equal(e.comment, "");
	e = parse_ok("block 198.18.0.0/15 0 a\\\\b\\nc", CASTLE_PL_ENTRY);
	assert_string_equal(e.comment, "a\\b\nc");
	/* Blanks a hand edit may leave: tabs, several spaces, a CR. */
	e = parse_ok("  block\t198.18.1.1   42\r", CASTLE_PL_ENTRY);
	cidr_is(&e, "198.18.1.1");
	assert_int_equal(e.expires, 42);
	assert_string_equal(e.comment, "");
	/* an IPv4-mapped entry an older castle wrote is kept (so it can be
	 * listed and deleted), though a new one is refused */
	e = parse_ok("block ::ffff:198.18.1.1 0", CASTLE_PL_ENTRY);
	cidr_is(&e, "::ffff:198.18.1.1");
	parse_ok("", CASTLE_PL_SKIP);
	parse_ok("   ", CASTLE_PL_SKIP);
	parse_ok("# castle manual entries", CASTLE_PL_SKIP);
	parse_ok("  # indented", CASTLE_PL_SKIP);
}

static void refuses_what_castlectl_could_not_have_written(void **state)
{
	(void)state;
	parse_bad("drop 198.18.1.1 0", 17, "unknown kind 'drop'");
	parse_bad("blocks 198.18.1.1 0", 19, "unknown kind");
	parse_bad("bloc 198.18.1.1 0", 17, "unknown kind");
	parse_bad("block 198.18.1.1", 16, "expected: kind cidr expires");
	parse_bad("block", 5, "expected: kind cidr expires");
	parse_bad("block 198.18.1.1/24 0", 21, "host bits set");
	parse_bad("block 198.18.1 0", 16, "198.18.1");
	parse_bad("block 198.18.1.1/33 0", 21, "198.18.1.1/33");
	parse_bad("block 198.18.1.1 -5", 19, "not unix seconds");
	parse_bad("block 198.18.1.1 +5", 19, "not unix seconds");
	parse_bad("block 198.18.1.1 5s", 19, "not unix seconds");
	parse_bad("block 198.18.1.1 9223372036854775807", 36, "not unix seconds");
	parse_bad("block 198.18.1.1 99999999999999999999", 37, "not unix seconds");
	parse_bad("allow 198.18.1.1 1767225600", 27, "an allow entry never expires");
	/* A NUL inside a field: the line is cut short, not read up to the NUL. */
	parse_bad("block 198.18\0.1.1 0", 19, "is not an address");
	parse_bad("block 198.18.1.1 1\0002", 20, "not unix seconds");
	/* The largest expiry accepted is one below LLONG_MAX. */
	struct castle_persist_entry e = parse_ok("block 198.18.1.1 9223372036854775806", CASTLE_PL_ENTRY);
	assert_true(e.expires == LLONG_MAX - 1);
}

static void a_refused_comment_keeps_its_entry(void **state)
{
	struct castle_persist_entry e;
	char line[200], why[200] = "";

	(void)state;
	/* 63 bytes fit (CASTLE_NOTE_MAX - 1), 64 do not. */
	snprintf(line, sizeof(line), "block 198.18.1.1 0 %.*s", CASTLE_NOTE_MAX - 1,
		 "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx");
	e = parse_ok(line, CASTLE_PL_ENTRY);
	assert_int_equal(strlen(e.comment), CASTLE_NOTE_MAX - 1);
	strcat(line, "y");
	assert_int_equal(castle_persist_parse_line(line, strlen(line), &e, why, sizeof(why)),
			 CASTLE_PL_ENTRY_NO_COMMENT);
	assert_non_null(strstr(why, "comment longer than 63 bytes"));
	cidr_is(&e, "198.18.1.1");
	assert_string_equal(e.comment, "");
	/* Escapes count once: 63 escaped backslashes are 63 bytes. */
	strcpy(line, "block 198.18.1.1 0 ");
	for (int i = 0; i < CASTLE_NOTE_MAX - 1; i++)
		strcat(line, "\\\\");
	e = parse_ok(line, CASTLE_PL_ENTRY);
	assert_int_equal(strlen(e.comment), CASTLE_NOTE_MAX - 1);
	assert_int_equal(castle_persist_parse_line("block 198.18.1.1 0 a\0b", 22, &e, why,
						   sizeof(why)), CASTLE_PL_ENTRY_NO_COMMENT);
	assert_non_null(strstr(why, "NUL"));
}

static void written_lines_read_back_the_same(void **state)
{
	static const char *const comments[] = { "", "plain", "  leading blanks", "\ttab first",
						"back\\slash", "new\nline", "trailing\\",
						"\\n literally", " ", "\r" };
	struct castle_persist_entry e = { 0 }, back;
	char line[CASTLE_PERSIST_LINE_MAX + 1], why[200] = "";
	char err[160];
	int n;

	(void)state;
	assert_int_equal(castle_cidr_parse("2001:db8:bad::/48", &e.cidr, err, sizeof(err)), 0);
	e.expires = 18446744074ll;
	for (size_t i = 0; i < sizeof(comments) / sizeof(comments[0]); i++) {
		snprintf(e.comment, sizeof(e.comment), "%s", comments[i]);
		n = castle_persist_format_line(&e, line, sizeof(line));
		assert_true(n > 0 && line[n - 1] == '\n');
		assert_null(memchr(line, '\n', n - 1));
		assert_int_equal(castle_persist_parse_line(line, n - 1, &back, why, sizeof(why)),
				 CASTLE_PL_ENTRY);
		if (strcmp(back.comment, e.comment))
			fail_msg("comment '%s' written as '%s' reads back as '%s'", e.comment, line,
				 back.comment);
		assert_int_equal(back.expires, e.expires);
		assert_memory_equal(&back.cidr, &e.cidr, sizeof(e.cidr));
	}
	snprintf(e.comment, sizeof(e.comment), "  x");
	castle_persist_format_line(&e, line, sizeof(line));
	assert_string_equal(line, "block 2001:db8:bad::/48 18446744074 \\  x\n");
}

static void format_refuses_a_short_buffer(void **state)
{
	struct castle_persist_entry e = { .allow = true };
	char line[64], err[160];

	(void)state;
	assert_int_equal(castle_cidr_parse("198.18.10.0/24", &e.cidr, err, sizeof(err)), 0);
	/* "allow 198.18.10.0/24 0\n" is 23 bytes, 24 with the NUL. */
	memset(line, 'Z', sizeof(line));
	assert_int_equal(castle_persist_format_line(&e, line, 23), -ENOSPC);
	assert_int_equal(line[23], 'Z');
	assert_int_equal(castle_persist_format_line(&e, line, 24), 23);
	assert_string_equal(line, "allow 198.18.10.0/24 0\n");
	strcpy(e.comment, "c");
	assert_int_equal(castle_persist_format_line(&e, line, 25), -ENOSPC);
	assert_int_equal(castle_persist_format_line(&e, line, 26), 25);
	assert_string_equal(line, "allow 198.18.10.0/24 0 c\n");
}

struct got {
	int n;
	char cidrs[8][CASTLE_CIDR_STRLEN];
	int fail_at;	/* entry index the callback refuses, -1 none */
};

static int cb(const struct castle_persist_entry *e, void *arg, char *why, size_t whylen)
{
	struct got *g = arg;

	if (g->n == g->fail_at) {
		snprintf(why, whylen, "map full");
		g->n++;
		return -ENOSPC;
	}
	castle_cidr_str(&e->cidr, g->cidrs[g->n++ % 8], CASTLE_CIDR_STRLEN);
	return 0;
}

static void read_counts_bad_lines_and_names_the_first(void **state)
{
	static const char text[] = "# header\n"
				   "block 198.18.1.1 0\n"
				   "block 198.18.1.1/24 0\n"		/* line 3: host bits */
				   "allow 198.18.2.0/24 0\n"
				   "bogus\n"
				   "block 198.18.3.3 0 xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\n"
				   "block 198.18.4.4 0";			/* no final newline */
	struct got g = { .fail_at = -1 };
	char err[300] = "";
	FILE *f = fmemopen((void *)text, sizeof(text) - 1, "r");

	(void)state;
	assert_non_null(f);
	assert_int_equal(castle_persist_read(f, "st", cb, &g, err, sizeof(err)), 3);
	fclose(f);
	assert_int_equal(g.n, 4);
	assert_string_equal(g.cidrs[0], "198.18.1.1");
	assert_string_equal(g.cidrs[1], "198.18.2.0/24");
	assert_string_equal(g.cidrs[2], "198.18.3.3");	/* restored without its comment */
	assert_string_equal(g.cidrs[3], "198.18.4.4");
	assert_non_null(strstr(err, "st:3: host bits set"));

	/* A callback's failure is a bad line too, named with its line number. */
	g = (struct got){ .fail_at = 1 };
	err[0] = 0;
	f = fmemopen((void *)text, sizeof(text) - 1, "r");
	assert_int_equal(castle_persist_read(f, "st", cb, &g, err, sizeof(err)), 4);
	fclose(f);
	g = (struct got){ .fail_at = 0 };
	f = fmemopen((void *)text, sizeof(text) - 1, "r");
	castle_persist_read(f, "st", cb, &g, err, sizeof(err));
	fclose(f);
	assert_string_equal(err, "st:2: map full");
}

static unsigned mode_of(const char *path)
{
	struct stat sb;

	assert_int_equal(stat(path, &sb), 0);
	return sb.st_mode & 07777;
}

/* A directory castle made, or one holding only its files, is made 0700; a
 * directory shared with other files keeps its mode (a mistyped
 * --state-dir /var/lib once made /var/lib 0700); one that others may write
 * in (or that another user owns) is refused: they could write the entries
 * castle restores. */
static void state_dir_modes(void **state)
{
	char base[] = "/tmp/castle-utest-state-XXXXXX", dir[96], other[128], err[300];
	struct castle_persist p;

	(void)state;
	assert_non_null(mkdtemp(base));
	snprintf(dir, sizeof(dir), "%s/new", base);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(mode_of(dir), 0700);

	/* castle's files only: tightened again */
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(other, sizeof(other), "%s/%s.unrestored-1", dir, CASTLE_STATE_FILE);
	FILE *f = fopen(other, "w");
	assert_non_null(f);
	fclose(f);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(mode_of(dir), 0700);

	/* shared with another file: left as it is */
	assert_int_equal(chmod(dir, 0755), 0);
	snprintf(other, sizeof(other), "%s/somebody-elses", dir);
	assert_non_null(f = fopen(other, "w"));
	fclose(f);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(mode_of(dir), 0755);

	/* writable by others, or by the group: refused, mode untouched */
	assert_int_equal(chmod(dir, 01777), 0);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by others (mode 1777)"));
	assert_int_equal(mode_of(dir), 01777);
	assert_int_equal(chmod(dir, 0770), 0);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "is writable by its group (mode 0770)"));

	/* another user's */
	if (geteuid() == 0) {
		assert_int_equal(chmod(dir, 0700), 0);
		assert_int_equal(chown(dir, 65534, 65534), 0);
		assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), -EPERM);
		assert_non_null(strstr(err, "belongs to uid 65534"));
		assert_int_equal(chown(dir, 0, 0), 0);
	}

	/* inside a directory others may write in (not sticky, as /tmp is, in
	 * which the base lies): they could rename the state dir away and put
	 * theirs in its place; through a symbolic link as well */
	assert_int_equal(chmod(dir, 0700), 0);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(chmod(base, 0777), 0);
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "which its group or others may write in"));
	char link[96];
	snprintf(link, sizeof(link), "/tmp/castle-utest-link-%d", (int)getpid());
	assert_int_equal(symlink(dir, link), 0);
	assert_int_equal(castle_persist_init(&p, link, err, sizeof(err)), -EPERM);
	assert_non_null(strstr(err, "which its group or others may write in"));
	assert_int_equal(chmod(base, 01777), 0);
	assert_int_equal(castle_persist_init(&p, link, err, sizeof(err)), 0);
	unlink(link);
	assert_int_equal(chmod(base, 0700), 0);
	unlink(other);
	snprintf(other, sizeof(other), "%s/%s.unrestored-1", dir, CASTLE_STATE_FILE);
	unlink(other);
	rmdir(dir);
	rmdir(base);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(parses_the_lines_castled_writes),
		cmocka_unit_test(refuses_what_castlectl_could_not_have_written),
		cmocka_unit_test(a_refused_comment_keeps_its_entry),
		cmocka_unit_test(written_lines_read_back_the_same),
		cmocka_unit_test(format_refuses_a_short_buffer),
		cmocka_unit_test(read_counts_bad_lines_and_names_the_first),
		cmocka_unit_test(state_dir_modes),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
