// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_policy.c - user/lib/policy*.c: loading the policy files under
 * tests/unit/policies/, every class of error with its FILE:LINE:COL. The file
 * checks and large lists are in test_policy_files.c, compilation in
 * test_policy_compile.c.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy.h"

#define S 1000000000ull

/* tests/unit/policies/NAME, found next to this file (run from the repo root) */
static const char *pol_path(const char *name)
{
	static char buf[512];
	const char *slash = strrchr(__FILE__, '/');
	int dirlen = slash ? (int)(slash - __FILE__) : 1;

	snprintf(buf, sizeof(buf), "%.*s/policies/%s", dirlen, slash ? __FILE__ : ".", name);
	return buf;
}

static void dump(const struct castle_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		print_message("#   %s\n", e->v[i].msg);
}

/* A diagnostic that is exactly "PATH:LINE:COL: " + msg_start... (prefix). */
static void expect_diag(const struct castle_errors *e, const char *file, unsigned int line,
			unsigned int col, const char *msg_start)
{
	char want[1024];

	snprintf(want, sizeof(want), "%s:%u:%u: %s", pol_path(file), line, col, msg_start);
	for (size_t i = 0; i < e->n; i++)
		if (!strncmp(e->v[i].msg, want, strlen(want)))
			return;
	dump(e);
	fail_msg("no diagnostic starting with '%s'", want);
}

static int load(const char *name, struct castle_policy_conf *c, struct castle_errors *e)
{
	castle_errors_init(e);
	return castle_policy_load(pol_path(name), c, e);
}

static void load_ok(const char *name, struct castle_policy_conf *c)
{
	struct castle_errors e;

	if (load(name, c, &e)) {
		dump(&e);
		fail_msg("%s should load", name);
	}
	assert_int_equal(e.nerrors, 0);
	castle_errors_free(&e);
}

/* Loads a bad file, expects exactly nerr errors, returns the list. */
static void load_bad(const char *name, size_t nerr, struct castle_errors *e)
{
	struct castle_policy_conf c;

	assert_int_equal(load(name, &c, e), -1);
	if (e->nerrors != nerr) {
		dump(e);
		fail_msg("%s: %zu errors, expected %zu", name, e->nerrors, nerr);
	}
	/* on failure the conf is released and zeroed */
	assert_null(c.block);
	assert_null(c.path);
}

/* ---- good files ---------------------------------------------------------- */

static void policy_loads_contract_example(void **state)
{
	struct castle_policy_conf c;
	char buf[CASTLE_CIDR_STRLEN];

	(void)state;
	load_ok("full.yaml", &c);
	assert_int_equal(c.version, 1);
	assert_false(c.dry_run);
	assert_false(c.malformed_pass);
	assert_int_equal(c.nallow, 2);
	assert_string_equal(castle_cidr_str(&c.allow[0].cidr, buf, sizeof(buf)), "198.18.10.0/24");
	assert_string_equal(castle_cidr_str(&c.allow[1].cidr, buf, sizeof(buf)), "2001:db8:10::/48");
	assert_int_equal(c.nblock, 3);
	assert_string_equal(castle_cidr_str(&c.block[2].cidr, buf, sizeof(buf)), "198.18.77.7");
	assert_int_equal(c.block[2].ttl_ns, 3600 * S);
	assert_string_equal(c.block[2].comment, "scanner");
	assert_int_equal(c.block[2].line, 11);
	assert_int_equal(c.block[2].col, 13);
	assert_int_equal(c.block[0].ttl_ns, 0);
	assert_null(c.block[0].comment);

	assert_int_equal(c.nclasses, 1);
	assert_string_equal(c.classes[0].name, "api");
	assert_int_equal(c.classes[0].nsrc, 2);
	assert_int_equal(c.classes[0].proto, CASTLE_PROTO_TCP);
	assert_int_equal(c.classes[0].nports, 3);
	assert_int_equal(c.classes[0].ports[2].lo, 9000);
	assert_int_equal(c.classes[0].ports[2].hi, 9100);
	assert_true(c.classes[0].rate_pps == 200);
	assert_int_equal(c.classes[0].burst, 400);
	assert_true(c.classes[0].byte_rate == 10485760);
	assert_int_equal(c.classes[0].byte_burst, 0);
	assert_int_equal(c.classes[0].plen4, 32);
	assert_int_equal(c.classes[0].plen6, 64);
	assert_int_equal(c.classes[0].ban_after, 1000);
	assert_int_equal(c.classes[0].ban_for_ns, 600 * S);

	assert_true(c.tls.present);
	assert_int_equal(c.tls.nports, 2);
	assert_int_equal(c.tls.ports[1], 8443);
	assert_int_equal(c.tls.min_version, 0x0303);
	assert_true(c.tls.sni_present);
	assert_int_equal(c.tls.nsni, 2);
	assert_string_equal(c.tls.sni[1], "*.example.com");
	assert_true(c.tls.quic_allow);
	castle_policy_free(&c);
}

static void policy_minimal_has_defaults(void **state)
{
	struct castle_policy_conf c;

	(void)state;
	load_ok("minimal.yaml", &c);
	assert_int_equal(c.nallow + c.nblock + c.nclasses, 0);
	assert_false(c.dry_run);
	assert_false(c.malformed_pass);
	assert_false(c.tls.present);
	assert_int_equal(c.events_per_sec, 0);
	castle_policy_free(&c);
}

static void policy_block_inside_allow_is_a_warning(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	assert_int_equal(load("warn_block_in_allow.yaml", &c, &e), 0);
	assert_int_equal(e.nerrors, 0);
	assert_int_equal(e.nwarnings, 1);	/* an allow inside a block is fine */
	expect_diag(&e, "warn_block_in_allow.yaml", 6, 5,
		    "warning: blocked 198.18.10.7 is inside allowed 198.18.10.0/24 (line 3)");
	assert_int_equal(c.nblock, 2);
	castle_errors_free(&e);
	castle_policy_free(&c);
}

static void policy_ban_with_short_prefix_is_a_warning(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	assert_int_equal(load("warn_ban_short_prefix.yaml", &c, &e), 0);
	assert_int_equal(e.nerrors, 0);
	assert_int_equal(e.nwarnings, 1);
	expect_diag(&e, "warn_ban_short_prefix.yaml", 6, 10, "warning: limits[0].ban with per ipv4 /8");
	castle_errors_free(&e);
	castle_policy_free(&c);
}

/* ---- bad files ----------------------------------------------------------- */

static void policy_version_missing_or_wrong(void **state)
{
	struct castle_errors e;
	char want[600];

	(void)state;
	load_bad("bad_version_missing.yaml", 1, &e);
	snprintf(want, sizeof(want), "%s:1:1: missing 'version: 1'",
		 pol_path("bad_version_missing.yaml"));
	assert_string_equal(e.v[0].msg, want);
	castle_errors_free(&e);

	load_bad("bad_version.yaml", 1, &e);
	snprintf(want, sizeof(want),
		 "%s:1:10: unsupported policy version '2' (this castle reads version 1)",
		 pol_path("bad_version.yaml"));
	assert_string_equal(e.v[0].msg, want);
	assert_int_equal(e.v[0].line, 1);
	assert_int_equal(e.v[0].col, 10);
	castle_errors_free(&e);
}

static void policy_yaml_syntax_error_has_position(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_yaml.yaml", 1, &e);
	expect_diag(&e, "bad_yaml.yaml", 5, 1, "YAML: did not find expected ',' or ']'");
	castle_errors_free(&e);
}

static void policy_empty_and_two_documents(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("empty.yaml", 1, &e);
	assert_non_null(strstr(e.v[0].msg, "empty.yaml: empty policy"));
	castle_errors_free(&e);
	load_bad("bad_two_docs.yaml", 1, &e);
	expect_diag(&e, "bad_two_docs.yaml", 3, 1, "a second YAML document");
	castle_errors_free(&e);
}

static void policy_unknown_and_duplicate_keys(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_keys.yaml", 6, &e);
	expect_diag(&e, "bad_keys.yaml", 2, 1, "unknown key 'moed' in the policy (expected version, mode,");
	expect_diag(&e, "bad_keys.yaml", 4, 1, "duplicate key 'mode' in the policy (first at line 3)");
	expect_diag(&e, "bad_keys.yaml", 5, 12, "malformed must be drop or pass, not 'maybe'");
	expect_diag(&e, "bad_keys.yaml", 7, 3, "unknown key 'port' in tls");
	expect_diag(&e, "bad_keys.yaml", 7, 3, "tls needs ports");
	expect_diag(&e, "bad_keys.yaml", 11, 14, "unknown key 'sauce' in limits[0].match");
	/* reported in file order */
	for (size_t i = 1; i < e.n; i++)
		assert_true(e.v[i - 1].line <= e.v[i].line);
	castle_errors_free(&e);
}

static void policy_wrong_types(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_types.yaml", 5, &e);
	expect_diag(&e, "bad_types.yaml", 2, 7, "mode must be a value, not a list");
	expect_diag(&e, "bad_types.yaml", 3, 8, "allow must be a list, not a mapping");
	expect_diag(&e, "bad_types.yaml", 4, 9, "limits must be a list of classes");
	expect_diag(&e, "bad_types.yaml", 5, 6, "tls must be a mapping");
	expect_diag(&e, "bad_types.yaml", 6, 17, "events_per_sec 0 out of range");
	castle_errors_free(&e);
}

static void policy_bad_cidrs_all_reported(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_cidrs.yaml", 12, &e);
	expect_diag(&e, "bad_cidrs.yaml", 3, 5,
		    "host bits set in '198.18.0.1/15': did you mean 198.18.0.0/15 (the network) "
		    "or 198.18.0.1 (the address alone)?");
	expect_diag(&e, "bad_cidrs.yaml", 4, 5, "bad prefix length /33");
	expect_diag(&e, "bad_cidrs.yaml", 5, 5, "'hello': unknown address family");
	expect_diag(&e, "bad_cidrs.yaml", 6, 5, "trailing characters 'x'");
	expect_diag(&e, "bad_cidrs.yaml", 7, 5, "empty address");
	expect_diag(&e, "bad_cidrs.yaml", 8, 5, "host bits set in '2001:db8::1/32'");
	expect_diag(&e, "bad_cidrs.yaml", 10, 30, "ttl: bad duration 'forever'");
	expect_diag(&e, "bad_cidrs.yaml", 11, 5, "block entry needs a cidr");
	expect_diag(&e, "bad_cidrs.yaml", 12, 31, "ttl must be above 0");
	expect_diag(&e, "bad_cidrs.yaml", 12, 13, "block entry 10.1.0.0/16 is inside 10.0.0.0/8 (line 10)");
	expect_diag(&e, "bad_cidrs.yaml", 13, 5, "block entry must be a CIDR or a mapping");
	expect_diag(&e, "bad_cidrs.yaml", 14, 5, "'1.2.3' is not a valid IPv4 address");
	castle_errors_free(&e);
}

static void policy_duplicates_overlaps_and_conflicts(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_dups.yaml", 5, &e);
	expect_diag(&e, "bad_dups.yaml", 6, 5,
		    "block entry 198.18.66.0/24 is inside 198.18.0.0/16 (line 7)");
	expect_diag(&e, "bad_dups.yaml", 8, 5,
		    "duplicate block entry 198.18.66.0/24 (first at line 6)");
	expect_diag(&e, "bad_dups.yaml", 9, 5,
		    "198.18.10.0/24 is both allowed (line 3) and blocked");
	expect_diag(&e, "bad_dups.yaml", 10, 5, "warning: blocked 2001:db8:10::5 is inside allowed");
	expect_diag(&e, "bad_dups.yaml", 12, 5,
		    "duplicate block entry 2001:db8:bad::/48 (first at line 11)");
	assert_int_equal(e.nwarnings, 1);
	castle_errors_free(&e);
}

static void policy_bad_limits(void **state)
{
	struct castle_errors e;
	const char *f = "bad_limits.yaml";

	(void)state;
	load_bad(f, 23, &e);
	expect_diag(&e, f, 3, 11, "class name 'API' must be 1-31 characters of a-z, 0-9 and _");
	expect_diag(&e, f, 4, 11, "bad rate 'fast'");
	expect_diag(&e, f, 6, 11, "rate '0/s' is zero");
	expect_diag(&e, f, 7, 11, "duplicate class name 'dup' (first at line 5)");
	expect_diag(&e, f, 8, 11, "negative rate '-5/s'");
	expect_diag(&e, f, 9, 12, "burst must be a whole number, not 'many'");
	expect_diag(&e, f, 13, 18, "limits[3].match.dst_ports: ICMP has no ports");
	expect_diag(&e, f, 13, 19, "port 0 out of range");
	expect_diag(&e, f, 13, 22, "port 70000 out of range");
	expect_diag(&e, f, 13, 29, "reversed port range '100-50'");
	expect_diag(&e, f, 13, 44, "limits[3].match.dst_ports: 400-500 overlaps 443 (line 13)");
	expect_diag(&e, f, 13, 55, "bad port 'a-b'");
	expect_diag(&e, f, 16, 50, "limits[4].match.dst_ports: more than 8 ports or port ranges");
	expect_diag(&e, f, 20, 17, "byte_burst needs a byte rate");
	expect_diag(&e, f, 21, 18, "per.ipv4 33 out of range (0-32)");
	expect_diag(&e, f, 21, 28, "per.ipv6 129 out of range (0-128)");
	expect_diag(&e, f, 22, 10, "limits[5].ban needs both after (drops) and for");
	expect_diag(&e, f, 24, 32, "duplicate limits[6].match.src entry 10.0.0.0/8");
	expect_diag(&e, f, 24, 44, "limits[6].match.src entry 10.5.0.0/16 is inside 10.0.0.0/8");
	expect_diag(&e, f, 24, 65, "limits[6].match.proto must be tcp, udp, icmp or any, not 'sctp'");
	expect_diag(&e, f, 25, 11, "bad rate '10/x'");
	expect_diag(&e, f, 26, 12, "bytes: '10Mb/s': lower-case b means bits");
	expect_diag(&e, f, 27, 5, "limits[7] needs a name");
	castle_errors_free(&e);
}

static void policy_too_many_classes_and_tls_ports(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_too_many.yaml", 2, &e);
	expect_diag(&e, "bad_too_many.yaml", 19, 5, "more than 16 limits classes");
	expect_diag(&e, "bad_too_many.yaml", 21, 107, "more than 16 tls ports");
	castle_errors_free(&e);
}

static void policy_bad_tls(void **state)
{
	struct castle_errors e;
	const char *f = "bad_tls.yaml";

	(void)state;
	load_bad(f, 13, &e);
	expect_diag(&e, f, 3, 16, "duplicate tls port 443");
	expect_diag(&e, f, 3, 21, "tls port 0 out of range");
	expect_diag(&e, f, 3, 24, "tls.ports takes single ports, not ranges");
	expect_diag(&e, f, 4, 16, "tls.min_version must be \"1.0\", \"1.1\", \"1.2\" or \"1.3\", not '1.4'");
	expect_diag(&e, f, 8, 9, "duplicate server name 'EXAMPLE.com' (first at line 7)");
	expect_diag(&e, f, 9, 9, "server name '*' may only use a wildcard as a whole first label");
	expect_diag(&e, f, 10, 9, "server name 'foo.*.com' may only use a wildcard");
	expect_diag(&e, f, 11, 9, "server name '-bad.com' is not a DNS name");
	expect_diag(&e, f, 12, 9, "server name 'under_score.com' is not a DNS name");
	expect_diag(&e, f, 13, 9, "server name 'a..b' has an empty label");
	expect_diag(&e, f, 14, 9, "server name 'bücher.de' is not ASCII");
	expect_diag(&e, f, 15, 9, "server name 'aaaa");
	expect_diag(&e, f, 16, 9, "tls.quic must be allow or drop, not 'maybe'");
	castle_errors_free(&e);
}

static void policy_version_must_be_the_integer_one(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;
	const char *ok = "version: \"1\"\n", *bad = "version: 1.0\n";

	(void)state;
	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", ok, strlen(ok), &c, &e), 0);
	castle_policy_free(&c);
	assert_int_equal(castle_policy_parse("mem", bad, strlen(bad), &c, &e), -1);
	assert_string_equal(e.v[0].msg,
			    "mem:1:10: unsupported policy version '1.0' (this castle reads version 1)");
	castle_errors_free(&e);
}

/* The comment castlectl would refuse is refused in a policy too (it would
 * otherwise be lost at apply, or print raw into a terminal). */
static void policy_bad_comments(void **state)
{
	struct castle_errors e;

	(void)state;
	load_bad("bad_comments.yaml", 3, &e);
	expect_diag(&e, "bad_comments.yaml", 3, 34, "comment too long: 64 bytes (at most 63)");
	expect_diag(&e, "bad_comments.yaml", 4, 34, "comment contains a control character (byte 2)");
	expect_diag(&e, "bad_comments.yaml", 7, 37, "comment contains a control character (byte 1)");
	castle_errors_free(&e);
}

/* Class sources: one map per family, shared by the classes (a prefix two
 * classes name is one entry). Going past it is an error at the class that
 * went past, with its position; exactly full is fine. */
static void policy_class_sources_over_the_map(void **state)
{
	size_t cap = 256 * 1024, len;
	char *buf = malloc(cap);
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	assert_non_null(buf);
	for (int extra = 0; extra <= 1; extra++) {
		/* any: every source, as the contract's example writes it (no map
		 * entries); a: 10.x.y.0/24 for 0..2999; b: 2000..4095+extra (1000
		 * shared) */
		len = (size_t)snprintf(buf, cap, "version: 1\nlimits:\n  - name: any\n    match: { src: "
				       "[0.0.0.0/0, \"::/0\"], proto: tcp }\n    rate: 5/s\n"
				       "  - name: a\n    match:\n      src:\n");
		for (int i = 0; i < 3000; i++)
			len += (size_t)snprintf(buf + len, cap - len, "        - 10.%d.%d.0/24\n", i >> 8, i & 255);
		len += (size_t)snprintf(buf + len, cap - len,
					"    rate: 5/s\n  - name: b\n    match:\n      src:\n");
		for (int i = 2000; i < 4096 + extra; i++)
			len += (size_t)snprintf(buf + len, cap - len, "        - 10.%d.%d.0/24\n", i >> 8, i & 255);
		len += (size_t)snprintf(buf + len, cap - len, "    rate: 5/s\n");
		assert_true(len < cap);
		castle_errors_init(&e);
		if (!extra) {
			if (castle_policy_parse("mem", buf, len, &c, &e)) {
				dump(&e);
				fail_msg("4096 distinct class sources should fit");
			}
			castle_policy_free(&c);
		} else {
			assert_int_equal(castle_policy_parse("mem", buf, len, &c, &e), -1);
			assert_int_equal(e.nerrors, 1);
			/* class b begins on line 3 + 3 + 2 + 3000 + 1 */
			assert_string_equal(e.v[0].msg,
					    "mem:3010:5: limits class 'b': match.src brings the classes' "
					    "sources to 4097 IPv4 and 0 IPv6 prefixes, more than the 4096 "
					    "per family the map holds");
		}
		castle_errors_free(&e);
	}
	free(buf);
}

/* ---- hostile input --------------------------------------------------------- */

/* Parse buf as policy "mem"; -1 expected; the diagnostics in *e. */
static void parse_bad(const char *buf, size_t len, struct castle_errors *e)
{
	struct castle_policy_conf c;

	castle_errors_init(e);
	assert_int_equal(castle_policy_parse("mem", buf, len, &c, e), -1);
}

/* A diagnostic equal to want, or fail with the list. */
static void has_diag(const struct castle_errors *e, const char *want)
{
	for (size_t i = 0; i < e->n; i++)
		if (!strcmp(e->v[i].msg, want))
			return;
	dump(e);
	fail_msg("no diagnostic '%s'", want);
}

/* buf (a string) fails to parse, with the diagnostic want among others. */
static void refused_with(const char *buf, const char *want)
{
	struct castle_errors e;

	parse_bad(buf, strlen(buf), &e);
	has_diag(&e, want);
	castle_errors_free(&e);
}

/* "[[[[...]]]]" 100,000 deep is refused at its 33rd level, at once (libyaml
 * alone took 26 s over 80,000 levels: a reload would stall castled). */
static void policy_deep_nesting_refused_at_once(void **state)
{
	const size_t deep = 100000;
	const char head[] = "version: 1\nallow: ";
	size_t len = sizeof(head) - 1 + 2 * deep + 1;
	char *buf = malloc(len + 1);
	struct castle_errors e;
	struct timespec t0, t1;

	(void)state;
	assert_non_null(buf);
	memcpy(buf, head, sizeof(head) - 1);
	memset(buf + sizeof(head) - 1, '[', deep);
	memset(buf + sizeof(head) - 1 + deep, ']', deep);
	buf[len - 1] = '\n';
	buf[len] = 0;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	parse_bad(buf, len, &e);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(e.nerrors, 1);
	/* the root mapping is level 1, so the 32nd '[' is level 33 */
	has_diag(&e, "mem:2:39: nested deeper than 32 levels (a policy needs a handful)");
	assert_true(t1.tv_sec - t0.tv_sec < 2);
	castle_errors_free(&e);
	free(buf);

	/* 31 levels of lists pass the depth check: the schema refuses them */
	static const char ok_depth[] = "version: 1\nallow: [[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]\n";
	parse_bad(ok_depth, sizeof(ok_depth) - 1, &e);
	for (size_t i = 0; i < e.n; i++)
		assert_null(strstr(e.v[i].msg, "nested deeper"));
	castle_errors_free(&e);
}

/* Text quoted from the file is escaped: one diagnostic stays one line, with
 * no terminal escapes (a value could otherwise forge a "policy ok" line). */
static void policy_quoted_input_is_escaped(void **state)
{
	static const char val[] = "version: 1\nmode: \"x\\ncastled: policy ok\\e[31m\\u202e\"\n";
	static const char key[] = "version: 1\n\"evil\\nkey\\e]0;t\\a\": 1\n";
	struct castle_errors e;

	(void)state;
	refused_with(val, "mem:2:7: mode must be enforce or dry-run, not 'x\\ncastled: policy "
		     "ok\\x1b[31m\\u202e'");
	/* a backslash in the text itself is doubled: '\x1b' as typed is not ESC */
	refused_with("version: 1\nmode: 'ok\\x1b'\n",
		     "mem:2:7: mode must be enforce or dry-run, not 'ok\\\\x1b'");
	parse_bad(key, sizeof(key) - 1, &e);
	assert_int_equal(e.n, 1);
	assert_null(strchr(e.v[0].msg, '\n'));
	assert_null(strchr(e.v[0].msg, '\x1b'));
	assert_non_null(strstr(e.v[0].msg, "unknown key 'evil\\nkey\\x1b]0;t\\x07'"));
	castle_errors_free(&e);
}

/* A key with a NUL in it is not the key before the NUL. */
static void policy_key_with_nul_is_refused(void **state)
{
	(void)state;
	refused_with("version: 1\n\"mode\\0junk\": dry-run\n",
		     "mem:2:1: a key of the policy contains a NUL byte");
}

/* A duplicate key names the line of the first key, not of its value. */
static void policy_duplicate_key_names_the_first_key_line(void **state)
{
	(void)state;
	refused_with("version: 1\nallow:\n  - 198.18.0.1\nblock: []\nallow:\n  - 198.18.0.2\n",
		     "mem:5:1: duplicate key 'allow' in the policy (first at line 2)");
}

/* An empty section says so. */
static void policy_empty_section(void **state)
{
	(void)state;
	refused_with("version: 1\ntls:\n", "mem:2:5: tls is empty: it must be a mapping (key: value)");
}

/* An encoding error is reported where it is, not at 1:1. */
static void policy_encoding_error_has_position(void **state)
{
	static const char latin1[] = "version: 1\nmode: enforce\nblock:\n  - cidr: 198.18.0.1\n"
				     "    comment: \"caf\xe9\"\n";
	static const char ctl[] = "version: 1\nmode: enf\x01orce\n";
	struct castle_errors e;

	(void)state;
	parse_bad(latin1, sizeof(latin1) - 1, &e);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].msg, "mem:5:19: YAML: invalid trailing UTF-8 octet"));
	castle_errors_free(&e);
	parse_bad(ctl, sizeof(ctl) - 1, &e);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].msg, "mem:2:10: YAML: control characters are not allowed"));
	castle_errors_free(&e);
	/* lines end as YAML says they may (as libyaml counts them for every
	 * other diagnostic): CR alone, CR LF, NEL, LS, PS */
	static const struct {
		const char *text, *want;
	} breaks[] = {
		{ "version: 1\rmode: enforce\r\rblock: [\"caf\xe9\"]\r", "mem:4:14: YAML: invalid" },
		{ "version: 1\r\nmode: enforce\r\nblock: [\"caf\xe9\"]\r\n", "mem:3:14: YAML: invalid" },
		{ "# a\xc2\x85# b\xe2\x80\xa8# c\xe2\x80\xa9version: 1\nmode: enf\x01", "mem:5:10: YAML: control" },
		{ "version: 1\rmode: x\r", "mem:2:7: mode must be" },
	};
	for (size_t i = 0; i < sizeof(breaks) / sizeof(breaks[0]); i++) {
		parse_bad(breaks[i].text, strlen(breaks[i].text), &e);
		assert_true(e.n >= 1);
		if (!strstr(e.v[0].msg, breaks[i].want))
			fail_msg("breaks[%zu]: '%s' lacks '%s'", i, e.v[0].msg, breaks[i].want);
		castle_errors_free(&e);
	}
}

/* Past CASTLE_ERRORS_KEEP, errors are kept before warnings: a bad rate is
 * not hidden behind 1200 "block inside allow" warnings found before it. */
static void policy_errors_kept_before_warnings(void **state)
{
	size_t cap = 64 * 1300, off = 0;
	char *buf = malloc(cap);
	struct castle_errors e;

	(void)state;
	assert_non_null(buf);
	off += (size_t)snprintf(buf + off, cap - off, "version: 1\nlimits:\n  - name: a\n"
			"    rate: fast\nallow:\n  - 10.0.0.0/8\nblock:\n");
	for (int i = 0; i < 1200; i++)
		off += (size_t)snprintf(buf + off, cap - off, "  - 10.0.%d.%d\n", i / 250, i % 250 + 1);
	parse_bad(buf, off, &e);
	assert_int_equal(e.nerrors, 1);
	assert_int_equal(e.nwarnings, 1200);
	assert_int_equal(e.n, CASTLE_ERRORS_KEEP);
	has_diag(&e, "mem:4:11: bad rate 'fast' (expected N/s, N/m or N/h, e.g. 200/s)");
	castle_errors_free(&e);
	free(buf);
}

/* The earliest are kept, whatever order they were found in; a long file
 * name keeps its FILE:LINE:COL prefix; control characters in it are escaped. */
static void errors_keep_the_earliest_and_whole_prefixes(void **state)
{
	struct castle_errors e;
	char name[700];

	(void)state;
	castle_errors_init(&e);
	for (unsigned int l = 2000; l > 0; l--)
		castle_errors_add(&e, CASTLE_SEV_ERROR, "f", l, 1, "e%u", l);
	assert_int_equal(e.nerrors, 2000);
	assert_int_equal(e.n, CASTLE_ERRORS_KEEP);
	castle_errors_sort(&e);
	assert_string_equal(e.v[0].msg, "f:1:1: e1");
	assert_string_equal(e.v[CASTLE_ERRORS_KEEP - 1].msg, "f:1000:1: e1000");
	castle_errors_free(&e);

	memset(name, 'd', sizeof(name) - 1);
	name[sizeof(name) - 1] = 0;
	name[3] = '\n';
	castle_errors_init(&e);
	castle_errors_add(&e, CASTLE_SEV_ERROR, name, 3, 4, "unsupported policy version '2'");
	assert_non_null(strstr(e.v[0].msg, ":3:4: unsupported policy version '2'"));
	assert_int_equal(strncmp(e.v[0].msg, "ddd\\nddd", 8), 0);
	castle_errors_free(&e);
}

/* A byte bucket smaller than a full-size frame would drop every such frame
 * for good: an explicit byte_burst below 1518 B, or a byte rate whose default
 * burst (one second of it) is below that, is refused. */
static void policy_byte_burst_below_a_frame(void **state)
{
	static const char small_rate[] = "version: 1\nlimits:\n  - name: a\n    rate: 10/s\n"
					 "    bytes: 1KB/s\n";
	static const char small_burst[] = "version: 1\nlimits:\n  - name: a\n    rate: 10/s\n"
					  "    bytes: 10MiB/s\n    byte_burst: 1517B\n";
	static const char ok[] = "version: 1\nlimits:\n  - name: a\n    rate: 10/s\n"
				 "    bytes: 100B/s\n    byte_burst: 1518B\n  - name: b\n"
				 "    rate: 10/s\n    bytes: 1518B/s\n";
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	refused_with(small_rate, "mem:5:12: bytes: 1KB/s holds less than one full-size frame (1518B "
		     "with a VLAN tag) in its default byte_burst of one second: a bigger frame would "
		     "never pass; set byte_burst: 1518B or more");
	refused_with(small_burst, "mem:6:17: byte_burst 1517B is less than one full-size frame "
		     "(1518B with a VLAN tag): a bigger frame would never pass; set 1518B or more");
	castle_errors_init(&e);
	if (castle_policy_parse("mem", ok, sizeof(ok) - 1, &c, &e)) {
		dump(&e);
		fail_msg("1518 B bursts should pass");
	}
	castle_policy_free(&c);
	castle_errors_free(&e);
}

/* An IP literal is not a server name: SNI never carries one (RFC 6066). */
static void policy_sni_ip_literal_refused(void **state)
{
	static const char buf[] = "version: 1\ntls:\n  ports: [443]\n  sni:\n    allow: [\"192.0.2.1\", "
				  "\"host.example.com\", \"a.b.123\", \"x1.example\", \"123abc.example\"]\n";
	struct castle_errors e;

	(void)state;
	parse_bad(buf, sizeof(buf) - 1, &e);
	has_diag(&e, "mem:5:13: server name '192.0.2.1' ends in an all-digit label (an IP address? SNI never carries one, RFC 6066)");
	has_diag(&e, "mem:5:46: server name 'a.b.123' ends in an all-digit label (an IP address? SNI never carries one, RFC 6066)");
	assert_int_equal(e.nerrors, 2);
	castle_errors_free(&e);
}

/* An empty allow list, written [] or left without a value (every name
 * commented out): accepted, with a warning saying what it does. */
static void policy_empty_sni_list_is_a_warning(void **state)
{
	static const char *const bufs[] = {
		"version: 1\ntls:\n  ports: [443]\n  sni:\n    allow: []\n",
		"version: 1\ntls:\n  ports: [443]\n  sni:\n    allow:\n    #  - example.com\n",
	};
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	for (int i = 0; i < 2; i++) {
		castle_errors_init(&e);
		if (castle_policy_parse("mem", bufs[i], strlen(bufs[i]), &c, &e)) {
			dump(&e);
			fail_msg("case %d should load", i);
		}
		assert_true(c.tls.sni_present);
		assert_int_equal(c.tls.nsni, 0);
		assert_int_equal(e.nwarnings, 1);
		if (!strstr(e.v[0].msg, "mem:5:") ||
		    !strstr(e.v[0].msg, ": warning: tls.sni.allow is empty: every client that sends a "
					"server name is refused (sni_denied); remove tls.sni to allow "
					"any name")) {
			dump(&e);
			fail_msg("case %d: no empty-list warning", i);
		}
		castle_policy_free(&c);
		castle_errors_free(&e);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_loads_contract_example),
		cmocka_unit_test(policy_minimal_has_defaults),
		cmocka_unit_test(policy_block_inside_allow_is_a_warning),
		cmocka_unit_test(policy_ban_with_short_prefix_is_a_warning),
		cmocka_unit_test(policy_version_missing_or_wrong),
		cmocka_unit_test(policy_yaml_syntax_error_has_position),
		cmocka_unit_test(policy_empty_and_two_documents),
		cmocka_unit_test(policy_unknown_and_duplicate_keys),
		cmocka_unit_test(policy_wrong_types),
		cmocka_unit_test(policy_bad_cidrs_all_reported),
		cmocka_unit_test(policy_duplicates_overlaps_and_conflicts),
		cmocka_unit_test(policy_bad_limits),
		cmocka_unit_test(policy_too_many_classes_and_tls_ports),
		cmocka_unit_test(policy_bad_tls),
		cmocka_unit_test(policy_version_must_be_the_integer_one),
		cmocka_unit_test(policy_bad_comments),
		cmocka_unit_test(policy_class_sources_over_the_map),
		cmocka_unit_test(policy_deep_nesting_refused_at_once),
		cmocka_unit_test(policy_quoted_input_is_escaped),
		cmocka_unit_test(policy_key_with_nul_is_refused),
		cmocka_unit_test(policy_duplicate_key_names_the_first_key_line),
		cmocka_unit_test(policy_empty_section),
		cmocka_unit_test(policy_encoding_error_has_position),
		cmocka_unit_test(policy_errors_kept_before_warnings),
		cmocka_unit_test(errors_keep_the_earliest_and_whole_prefixes),
		cmocka_unit_test(policy_byte_burst_below_a_frame),
		cmocka_unit_test(policy_sni_ip_literal_refused),
		cmocka_unit_test(policy_empty_sni_list_is_a_warning),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
