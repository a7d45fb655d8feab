// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_ctl_args.c - castlectl's command line without any BPF: every bad input
 * gives the right exit status (2 usage, 1 failed) and a message saying what is
 * wrong; --help texts come from the tables; the output helpers (tables, JSON
 * escaping, humanised times) produce exactly what the docs promise.
 *
 * Commands that get past argument checking are pointed at a pin directory
 * that does not exist, so they stop at "not found" (exit 1): that message is
 * the proof that the arguments were accepted.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "ctl.h"
#include "out.h"

#define NOPIN "--pin-dir", "/nonexistent-castle-test"
#define ACCEPTED "not found: castle is not loaded"

struct run {
	int rc;
	char *out, *err;
};

static void run_argv(struct run *r, const char *const *args)
{
	char *argv[32];
	int argc = 0;
	size_t ol = 0, el = 0;

	argv[argc++] = "castlectl";
	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	FILE *o = open_memstream(&r->out, &ol), *e = open_memstream(&r->err, &el);
	assert_non_null(o);
	assert_non_null(e);
	r->rc = castle_ctl_main(argc, argv, o, e);
	fclose(o);
	fclose(e);
}

static void run_free(struct run *r)
{
	free(r->out);
	free(r->err);
}

struct arg_case {
	const char *args[10];
	int rc;
	const char *err;	/* substring of stderr; NULL: stderr empty */
	const char *out;	/* substring of stdout; NULL: not checked */
};

static const struct arg_case cases[] = {
	/* shape of the command line: usage errors, exit 2 */
	{ { NULL }, 2, "missing verb", NULL },
	{ { "frobnicate" }, 2, "unknown verb 'frobnicate'", NULL },
	{ { "--bogus", "status" }, 2, "unknown option '--bogus'", NULL },
	{ { "--pin-dir" }, 2, "option '--pin-dir' needs a value", NULL },
	{ { "--pin-dir", "" , "status" }, 2, "empty directory name", NULL },
	{ { "--state-dir" }, 2, "option '--state-dir' needs a value", NULL },
	{ { "--state-dir=", "status" }, 2, "--state-dir: empty directory name", NULL },
	{ { "--pin-dirx", "/x", "status" }, 2, "unknown option '--pin-dirx'", NULL },
	{ { NOPIN, "--state-dir=/nonexistent-castle-state", "status" }, 1, ACCEPTED, NULL },
	{ { "block" }, 2, "block: missing subcommand; expected one of: add, del, list", NULL },
	{ { "block", "remove", "198.18.0.0/15" }, 2, "unknown subcommand 'remove'", NULL },
	{ { "allow" }, 2, "expected one of: add, del, list", NULL },
	{ { "limit" }, 2, "expected one of: list", NULL },
	{ { "block", "add" }, 2, "block add: missing CIDR", NULL },
	{ { "block", "del" }, 2, "block del: missing CIDR", NULL },
	{ { "allow", "add" }, 2, "allow add: missing CIDR", NULL },
	{ { "unload" }, 2, "unload: missing IFACE", NULL },
	{ { "block", "add", "198.18.0.1", "198.18.0.2" }, 2, "unexpected argument '198.18.0.2'", NULL },
	{ { "status", "extra" }, 2, "status: unexpected argument 'extra'", NULL },
	{ { "block", "add", "198.18.0.1", "--ttl" }, 2, "option '--ttl' needs a value", NULL },
	{ { "block", "add", "198.18.0.1", "--frob", "1" }, 2, "unknown option '--frob'", NULL },
	{ { "allow", "add", "198.18.0.1", "--ttl", "1m" }, 2, "unknown option '--ttl'", NULL },
	{ { "block", "add", "198.18.0.1", "-j" }, 2, "unknown option '-j'", NULL },
	{ { "top", "-n" }, 2, "option '-n' needs a value", NULL },
	{ { "events", "-x" }, 2, "unknown option '-x'", NULL },
	{ { "status", "--json=1" }, 2, "unknown option '--json=1'", NULL },
	/* values in the right place that do not parse: exit 1, parser's message */
	{ { "block", "add", "198.18.0.1/15" }, 1,
	  "host bits set in '198.18.0.1/15': did you mean 198.18.0.0/15 (the network) or "
	  "198.18.0.1 (the address alone)?", NULL },
	{ { "block", "add", "2001:db8::1/32" }, 1, "did you mean 2001:db8::/32 (the network)", NULL },
	{ { "block", "add", "::ffff:198.18.1.1/96" }, 1,
	  "did you mean 0.0.0.0/0 (every IPv4 address) or 198.18.1.1 (the address alone)?", NULL },
	{ { "block", "add", "198.18.1.1 " }, 1, "blank or line break in '198.18.1.1 '", NULL },
	{ { "block", "add", "198.18.0.0/33" }, 1, "bad prefix length /33", NULL },
	{ { "block", "add", "198.18.0.300" }, 1, "is not a valid IPv4 address", NULL },
	/* an IPv4-mapped address is refused for new entries, accepted for del
	 * (an older castle let such entries be added) */
	{ { "block", "add", "::ffff:198.18.1.1" }, 1, "did you mean 198.18.1.1?", NULL },
	{ { "allow", "add", "::ffff:198.18.1.0/120" }, 1, "did you mean 198.18.1.0/24?", NULL },
	{ { NOPIN, "block", "del", "::ffff:198.18.1.1" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "allow", "del", "::ffff:198.18.1.0/120" }, 1, ACCEPTED, NULL },
	{ { "block", "add", "scanner.example" }, 1, "unknown address family", NULL },
	{ { "block", "add", "" }, 1, "empty address", NULL },
	{ { "block", "del", "2001:db8::zz" }, 1, "block del: ", NULL },
	{ { "allow", "add", "10.0.0.0/" }, 1, "missing prefix length", NULL },
	{ { "block", "add", "198.18.0.0/15", "--ttl", "10" }, 1, "--ttl: duration '10' has no unit", NULL },
	{ { "block", "add", "198.18.0.0/15", "--ttl", "5x" }, 1, "unknown unit in duration '5x'", NULL },
	{ { "block", "add", "198.18.0.0/15", "--ttl", "-5m" }, 1, "negative duration", NULL },
	{ { "block", "add", "198.18.0.0/15", "--ttl", "999ms" }, 1,
	  "--ttl: a TTL under 1s ('999ms') would end before the entry could be listed", NULL },
	{ { NOPIN, "block", "add", "198.18.0.0/15", "--ttl", "1s" }, 1, ACCEPTED, NULL },
	{ { "block", "add", "198.18.0.0/15", "--ttl", "0" }, 1, "a TTL of 0 means nothing", NULL },
	{ { "block", "add", "198.18.0.0/15", "--comment",
	    "0123456789012345678901234567890123456789012345678901234567890123" }, 1,
	  "comment too long: 64 bytes (at most 63)", NULL },
	{ { "block", "add", "198.18.0.0/15", "--comment", "a\nb" }, 1,
	  "comment contains a control character (byte 2)", NULL },
	{ { "block", "add", "198.18.0.0/15", "--comment", "x\xe2\x80\xae" }, 1,
	  "comment contains a control character (U+202E at byte 2)", NULL },
	{ { "block", "add", "198.18.0.0/15", "--comment", "\xff" }, 1,
	  "comment is not valid UTF-8 (byte 1)", NULL },
	{ { "top", "-n", "0" }, 1, "-n: 0 is out of range (1..10000)", NULL },
	{ { "top", "-n", "ten" }, 1, "-n: 'ten' is not a number", NULL },
	{ { "top", "-n", "-3" }, 1, "'-3' is not a number", NULL },
	{ { "top", "--count=99999999999999999999" }, 1, "is not a number", NULL },
	{ { "top", "--interval", "soon" }, 1, "--interval: ", NULL },
	{ { "events", "--count", "0" }, 1, "out of range", NULL },
	{ { "events", "-t", "1" }, 1, "-t: duration '1' has no unit", NULL },
	{ { "reload", "--timeout", "x" }, 1, "--timeout: ", NULL },
	{ { "unload", "a/b" }, 1, "'a/b' is not an interface name", NULL },
	{ { "unload", "averyveryverylongname0" }, 1, "is not an interface name", NULL },
	/* accepted: stops at the missing pin directory, exit 1 */
	{ { NOPIN, "status" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "-j", "stats" }, 1, ACCEPTED, NULL },
	{ { "--pin-dir=/nonexistent-castle-test", "block", "list" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "block", "add", "198.18.0.0/15", "--ttl", "1h30m", "--comment", "x y" }, 1,
	  ACCEPTED, NULL },
	{ { NOPIN, "block", "add", "--ttl=10m", "2001:db8:bad::/48" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "block", "add", "--", "198.18.77.7" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "block", "del", "198.18.66.0/24" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "allow", "add", "2001:db8:10::/48", "--comment", "ünïcode" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "allow", "list", "-j" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "limit", "list" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "top", "-n5", "--interval", "0" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "events", "--count", "1", "--timeout", "2s" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "reload" }, 1, ACCEPTED, NULL },
	{ { NOPIN, "unload", "veth0" }, 1, ACCEPTED, NULL },
	/* help and version: exit 0, on stdout */
	{ { "--help" }, 0, NULL, "Exit status: 0 done, 1 failed" },
	{ { "-h" }, 0, NULL, "block add    block a source" },
	{ { "--version" }, 0, NULL, "castlectl " CASTLE_VERSION },
	{ { "block", "add", "--help" }, 0, NULL,
	  "Usage: castlectl [--pin-dir DIR] block add CIDR [--ttl DUR] [--comment TEXT]" },
	{ { "top", "-h" }, 0, NULL, "(default 10)" },
	/* a group's --help lists its subcommands */
	{ { "block", "--help" }, 0, NULL, "castlectl [--pin-dir DIR] [-j] block list" },
	{ { "allow", "-h" }, 0, NULL, "'castlectl allow SUBCOMMAND --help' for its options." },
	{ { "events", "--help" }, 0, NULL, "steal events from each other" },
	{ { "stats", "--help" }, 0, NULL, "-j, --json" },
	/* --help wins over a bad value given before it is parsed */
	{ { "unload", "--help" }, 0, NULL, "IFACE" },
};

static void test_arg_cases(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct arg_case *c = &cases[i];
		struct run r;

		run_argv(&r, c->args);
		if (r.rc != c->rc || (c->err && !strstr(r.err, c->err)) || (!c->err && *r.err) ||
		    (c->out && !strstr(r.out, c->out))) {
			fprintf(stderr, "case %zu (%s %s %s): rc %d (want %d)\nstderr: %s\nstdout: %.300s\n",
				i, c->args[0] ? c->args[0] : "", c->args[0] && c->args[1] ? c->args[1] : "",
				c->args[0] && c->args[1] && c->args[2] ? c->args[2] : "", r.rc, c->rc,
				r.err, r.out);
			run_free(&r);
			fail();
		}
		/* A usage error always shows the usage line, a failure never does. */
		if (c->rc == 2)
			assert_non_null(strstr(r.err, "Usage: castlectl"));
		if (c->rc == 1)
			assert_null(strstr(r.err, "Usage:"));
		if (c->rc)
			assert_int_equal(strncmp(r.err, "castlectl: ", 11), 0);
		run_free(&r);
	}
}

/* Every verb of the table has a --help that names all its options, and the
 * main help lists every verb: help and parsing come from one table. */
static void test_help_matches_table(void **state)
{
	struct run main_help;
	const char *h[] = { "--help", NULL };

	(void)state;
	run_argv(&main_help, h);
	for (const struct ctl_verb *v = ctl_verbs; v->name; v++) {
		char w1[32], w2[32] = "";
		struct run r;

		assert_non_null(strstr(main_help.out, v->name));
		if (sscanf(v->name, "%31s %31s", w1, w2) < 1)
			fail();
		const char *args[] = { w1, w2[0] ? w2 : "--help", w2[0] ? "--help" : NULL, NULL };
		run_argv(&r, args);
		assert_int_equal(r.rc, 0);
		for (const struct ctl_opt *o = v->opts; o->help; o++) {
			char want[64];
			if (o->name)
				snprintf(want, sizeof(want), "--%s", o->name);
			else
				snprintf(want, sizeof(want), "%s", o->metavar);
			if (!strstr(r.out, want)) {
				fprintf(stderr, "%s --help lacks %s\n", v->name, want);
				fail();
			}
		}
		assert_true(!v->reads == !strstr(r.out, "--json"));
		run_free(&r);
	}
	run_free(&main_help);
}

/* Defaults in the table parse, and typed values land in the right field. */
static void test_values(void **state)
{
	struct ctl_args a = { 0 };
	char err[256];
	const struct ctl_opt ttl = { "ttl", 0, CTL_T_DURATION, "DUR", offsetof(struct ctl_args, ttl_ns),
				     NULL, 0, 0, "x" };
	const struct ctl_opt cidr = { NULL, 0, CTL_T_CIDR, "CIDR", offsetof(struct ctl_args, cidr),
				      NULL, 0, 0, "x" };

	(void)state;
	assert_int_equal(ctl_parse_value(&ttl, "1h30m", &a, err, sizeof(err)), 0);
	assert_true(a.ttl_ns == 5400ull * 1000000000ull);
	assert_int_equal(ctl_parse_value(&cidr, "2001:db8:bad::/48", &a, err, sizeof(err)), 0);
	assert_int_equal(a.cidr.family, 6);
	assert_int_equal(a.cidr.plen, 48);
	assert_string_equal(a.cidr_str, "2001:db8:bad::/48");
	for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
		for (const struct ctl_opt *o = v->opts; o->help; o++)
			if (o->def)
				assert_int_equal(ctl_parse_value(o, o->def, &a, err, sizeof(err)), 0);
}

/* ---- output helpers ------------------------------------------------------ */

static char *escaped(const char *s)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	out_json_escape(f, s);
	fclose(f);
	return buf;
}

static void test_json_escape(void **state)
{
	static const struct { const char *in, *want; } t[] = {
		{ "plain", "\"plain\"" },
		{ "", "\"\"" },
		{ "say \"hi\"", "\"say \\\"hi\\\"\"" },
		{ "back\\slash", "\"back\\\\slash\"" },
		{ "a\nb\tc\rd", "\"a\\nb\\tc\\rd\"" },
		{ "\x01\x1f\x7f", "\"\\u0001\\u001f\\u007f\"" },
		{ "\b\f", "\"\\b\\f\"" },
		{ "caf\xc3\xa9", "\"caf\xc3\xa9\"" },			/* valid UTF-8 kept */
		{ "\xf0\x9f\x8f\xb0", "\"\xf0\x9f\x8f\xb0\"" },		/* 4-byte kept */
		{ "bad\xff", "\"bad\\ufffd\"" },			/* invalid byte */
		{ "\xc0\xaf", "\"\\ufffd\\ufffd\"" },			/* overlong '/' */
		{ "\xed\xa0\x80", "\"\\ufffd\\ufffd\\ufffd\"" },	/* surrogate */
		{ "\xe2\x82", "\"\\ufffd\\ufffd\"" },			/* truncated */
		{ "</script>", "\"</script>\"" },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		char *got = escaped(t[i].in);
		if (strcmp(got, t[i].want))
			fprintf(stderr, "escape case %zu: got %s want %s\n", i, got, t[i].want);
		assert_string_equal(got, t[i].want);
		free(got);
	}
}

static void test_json_writer(void **state)
{
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);
	struct out_json j;

	(void)state;
	out_json_init(&j, f);
	out_json_obj_begin(&j);
	out_json_kstr(&j, "a", "x");
	out_json_key(&j, "list");
	out_json_arr_begin(&j);
	out_json_u64(&j, 1);
	out_json_obj_begin(&j);
	out_json_kbool(&j, "t", true);
	out_json_key(&j, "n");
	out_json_null(&j);
	out_json_obj_end(&j);
	out_json_arr_begin(&j);
	out_json_arr_end(&j);
	out_json_i64(&j, -2);
	out_json_arr_end(&j);
	out_json_kdouble(&j, "d", 0.5);
	out_json_kdouble(&j, "nan", 0.0 / 0.0);
	out_json_kstr(&j, "s", NULL);
	out_json_ku64(&j, "big", UINT64_MAX);
	out_json_obj_end(&j);
	out_json_end_doc(&j);
	out_json_obj_begin(&j);
	out_json_obj_end(&j);
	out_json_end_doc(&j);
	fclose(f);
	assert_string_equal(buf, "{\"a\":\"x\",\"list\":[1,{\"t\":true,\"n\":null},[],-2],\"d\":0.5,"
				 "\"nan\":null,\"s\":null,\"big\":18446744073709551615}\n{}\n");
	free(buf);
}

static void test_table(void **state)
{
	static const struct out_col cols[] = {
		{ "CIDR", OUT_LEFT }, { "HITS", OUT_RIGHT }, { "COMMENT", OUT_LEFT },
	};
	struct out_table t;
	char *buf = NULL;
	size_t len = 0;
	FILE *f = open_memstream(&buf, &len);

	(void)state;
	out_table_init(&t, cols, 3);
	const char *r1[] = { "198.18.77.7", "1.2M", "scanner" };
	const char *r2[] = { "2001:db8:bad::/48", "0", "" };
	const char *r3[] = { "198.18.0.1", NULL, "caf\xc3\xa9" };
	out_table_row(&t, r1);
	out_table_row(&t, r2);
	out_table_row(&t, r3);
	out_table_print(&t, f);
	out_table_free(&t);
	fclose(f);
	/* right-aligned numbers, no trailing blanks, UTF-8 counted as one column */
	assert_string_equal(buf, "CIDR               HITS  COMMENT\n"
				 "198.18.77.7        1.2M  scanner\n"
				 "2001:db8:bad::/48     0\n"
				 "198.18.0.1            -  caf\xc3\xa9\n");
	free(buf);
}

static void test_times(void **state)
{
	const uint64_t S = 1000000000ull, now = 1000 * S;
	char b[32];

	(void)state;
	assert_string_equal(out_ago(0, now, b, sizeof(b)), "never");
	assert_string_equal(out_ago(now - S / 2, now, b, sizeof(b)), "now");
	assert_string_equal(out_ago(now - 3 * S, now, b, sizeof(b)), "3s ago");
	assert_string_equal(out_ago(now - 598 * S, now, b, sizeof(b)), "9m58s ago");
	assert_string_equal(out_ago(now + S, now, b, sizeof(b)), "now");
	assert_string_equal(out_ttl(0, now, b, sizeof(b)), "forever");
	assert_string_equal(out_ttl(now - 1, now, b, sizeof(b)), "expired");
	assert_string_equal(out_ttl(now + S / 10, now, b, sizeof(b)), "<1s");
	assert_string_equal(out_ttl(now + 598 * S + S / 2, now, b, sizeof(b)), "9m58s");
	assert_string_equal(out_ttl(now + 5400 * S, now, b, sizeof(b)), "1h30m");
	assert_string_equal(out_wall(0, b, sizeof(b)), "-");
	assert_int_equal(strlen(out_wall(1700000000, b, sizeof(b))), 19);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_arg_cases),
		cmocka_unit_test(test_help_matches_table),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_json_escape),
		cmocka_unit_test(test_json_writer),
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_times),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
