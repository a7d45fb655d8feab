// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_units.c - user/lib/units.c: durations, rates, sizes, ports, humanizers. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "units.h"

#define S CASTLE_NSEC_PER_SEC

static uint64_t dur_ok(const char *s)
{
	char err[256] = "";
	uint64_t v = 0;

	if (castle_parse_duration(s, &v, err, sizeof(err)))
		fail_msg("'%s' should parse: %s", s, err);
	return v;
}

static void dur_bad(const char *s, const char *want)
{
	char err[256] = "";
	uint64_t v = 42;

	if (!castle_parse_duration(s, &v, err, sizeof(err)))
		fail_msg("'%s' should fail", s ? s : "(null)");
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s ? s : "(null)", err, want);
	assert_int_equal(v, 42);
}

static void duration_parses_units_and_sums(void **state)
{
	(void)state;
	assert_int_equal(dur_ok("10m"), 600 * S);
	assert_int_equal(dur_ok("1h"), 3600 * S);
	assert_int_equal(dur_ok("30s"), 30 * S);
	assert_int_equal(dur_ok("2d"), 2 * 86400 * S);
	assert_int_equal(dur_ok("1h30m"), 5400 * S);
	assert_int_equal(dur_ok("500ms"), 500000000ull);
	assert_int_equal(dur_ok("250us"), 250000ull);
	assert_int_equal(dur_ok("7ns"), 7);
	assert_int_equal(dur_ok("1m30s500ms"), 90 * S + 500000000ull);
	assert_int_equal(dur_ok("0"), 0);
	assert_int_equal(dur_ok("0s"), 0);
}

static void duration_rejects_bad_input(void **state)
{
	(void)state;
	dur_bad("", "empty duration");
	dur_bad(NULL, "empty duration");
	dur_bad("10", "has no unit");
	dur_bad("10x", "unknown unit");
	dur_bad("10 m", "unknown unit");
	dur_bad("10mm", "unknown unit");
	dur_bad("-1s", "negative");
	dur_bad("h", "bad duration");
	dur_bad("1.5h", "no fractions");
	dur_bad("1h ", "bad duration");
	dur_bad("99999999999999999999s", "too long");
	dur_bad("300000d", "too long");
	dur_bad("10min", "unknown unit");
}

static double rate_ok(const char *s)
{
	char err[256] = "";
	double v = 0;

	if (castle_parse_rate(s, &v, err, sizeof(err)))
		fail_msg("'%s' should parse: %s", s, err);
	return v;
}

static void rate_bad(const char *s, const char *want)
{
	char err[256] = "";
	double v = 42;

	if (!castle_parse_rate(s, &v, err, sizeof(err)))
		fail_msg("'%s' should fail", s);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, want);
	assert_true(v == 42);
}

static void rate_parses_per_second_minute_hour(void **state)
{
	(void)state;
	assert_true(rate_ok("200/s") == 200);
	assert_true(rate_ok("10/m") == 10.0 / 60);
	assert_true(rate_ok("5/h") == 5.0 / 3600);
	assert_true(rate_ok("0.5/s") == 0.5);
	assert_true(rate_ok("1000000000/s") == 1e9);
}

static void rate_rejects_zero_negative_overflow(void **state)
{
	(void)state;
	rate_bad("0/s", "zero");
	rate_bad("0.0/m", "zero");
	rate_bad("-5/s", "negative");
	rate_bad("1000000001/s", "too high");
	rate_bad("99999999999999999999999999/s", "too high");
	rate_bad("0.0000000000000001/h", "too low");
	rate_bad("", "empty rate");
	rate_bad("200", "bad rate");
	rate_bad("200/x", "bad rate");
	rate_bad("200/sec", "bad rate");
	rate_bad("1e3/s", "bad rate");
	rate_bad("inf/s", "bad rate");
	rate_bad("/s", "bad rate");
}

static double brate_ok(const char *s)
{
	char err[256] = "";
	double v = 0;

	if (castle_parse_byte_rate(s, &v, err, sizeof(err)))
		fail_msg("'%s' should parse: %s", s, err);
	return v;
}

static void brate_bad(const char *s, const char *want)
{
	char err[256] = "";
	double v = 42;

	if (!castle_parse_byte_rate(s, &v, err, sizeof(err)))
		fail_msg("'%s' should fail", s);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, want);
}

static void byte_rate_parses_si_and_binary_units(void **state)
{
	(void)state;
	assert_true(brate_ok("10MiB/s") == 10485760);
	assert_true(brate_ok("1GB/s") == 1e9);
	assert_true(brate_ok("500KiB/s") == 512000);
	assert_true(brate_ok("1000B/s") == 1000);
	assert_true(brate_ok("1kB/s") == 1000);
	assert_true(brate_ok("60MB/m") == 1e6);
	assert_true(brate_ok("1 GiB/s") == 1073741824.0);
	assert_true(brate_ok("2TB/h") == 2e12 / 3600);
}

static void byte_rate_rejects_bad_input(void **state)
{
	(void)state;
	brate_bad("10Mb/s", "bits");
	brate_bad("0B/s", "zero");
	brate_bad("-1MB/s", "negative");
	brate_bad("10XB/s", "unknown unit");
	brate_bad("10MiB", "bad byte rate");
	brate_bad("10MiB/d", "bad byte rate");
	brate_bad("", "empty");
	brate_bad("MiB/s", "bad byte rate");
	brate_bad("1000000TB/s", "too high");
	/* case matters past kilo: m is milli, not mega */
	brate_bad("10mB/s", "unknown unit");
	brate_bad("10miB/s", "unknown unit");
	brate_bad("10gB/s", "unknown unit");
	brate_bad("10tB/s", "unknown unit");
}

static void bytes_parses_sizes(void **state)
{
	char err[256];
	uint64_t v;

	(void)state;
	assert_int_equal(castle_parse_bytes("65536", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(castle_parse_bytes("64KiB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(castle_parse_bytes("1MB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 1000000);
	assert_int_equal(castle_parse_bytes("2kB", &v, err, sizeof(err)), 0); /* SI kilo */
	assert_int_equal(v, 2000);
	assert_int_equal(castle_parse_bytes("2KB", &v, err, sizeof(err)), 0);
	assert_int_equal(v, 2000);
	assert_int_equal(castle_parse_bytes("1mB", &v, err, sizeof(err)), -1);
	assert_int_equal(castle_parse_bytes("1MB/s", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "bad size"));
	assert_int_equal(castle_parse_bytes("100000000TB", &v, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "too large"));
}

static void ports_parse_single_and_range(void **state)
{
	char err[256];
	uint16_t lo, hi;

	(void)state;
	assert_int_equal(castle_parse_ports("443", &lo, &hi, err, sizeof(err)), 0);
	assert_int_equal(lo, 443);
	assert_int_equal(hi, 443);
	assert_int_equal(castle_parse_ports("9000-9100", &lo, &hi, err, sizeof(err)), 0);
	assert_int_equal(lo, 9000);
	assert_int_equal(hi, 9100);
	assert_int_equal(castle_parse_ports("1-65535", &lo, &hi, err, sizeof(err)), 0);
	assert_int_equal(hi, 65535);
	assert_int_equal(castle_parse_ports("80-80", &lo, &hi, err, sizeof(err)), 0);
}

static void ports_bad(const char *s, const char *want)
{
	char err[256] = "";
	uint16_t lo = 7, hi = 7;

	if (!castle_parse_ports(s, &lo, &hi, err, sizeof(err)))
		fail_msg("'%s' should fail", s);
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s, err, want);
	assert_int_equal(lo, 7);
}

static void ports_reject_zero_big_reversed(void **state)
{
	(void)state;
	ports_bad("0", "out of range");
	ports_bad("65536", "out of range");
	ports_bad("99999999999999999999", "out of range");
	ports_bad("0-10", "out of range");
	ports_bad("9100-9000", "reversed port range '9100-9000' (did you mean 9000-9100?)");
	ports_bad("", "empty port");
	ports_bad("https", "bad port");
	ports_bad("1-", "bad port");
	ports_bad("-5", "bad port");
	ports_bad("1-2-3", "bad port");
	ports_bad(" 443", "bad port");
}

static void human_count_bytes_duration(void **state)
{
	char b[32];

	(void)state;
	assert_string_equal(castle_human_count(0, b, sizeof(b)), "0");
	assert_string_equal(castle_human_count(999, b, sizeof(b)), "999");
	assert_string_equal(castle_human_count(1000, b, sizeof(b)), "1.0K");
	assert_string_equal(castle_human_count(12345, b, sizeof(b)), "12.3K");
	assert_string_equal(castle_human_count(123456, b, sizeof(b)), "123K");
	assert_string_equal(castle_human_count(1234567, b, sizeof(b)), "1.2M");
	assert_string_equal(castle_human_count(999999, b, sizeof(b)), "1.0M");
	assert_string_equal(castle_human_count(UINT64_MAX, b, sizeof(b)), "18.4E");

	assert_string_equal(castle_human_bytes(512, b, sizeof(b)), "512 B");
	assert_string_equal(castle_human_bytes(1024, b, sizeof(b)), "1.0 KiB");
	assert_string_equal(castle_human_bytes(3650722201ull, b, sizeof(b)), "3.4 GiB");
	assert_string_equal(castle_human_bytes(500ull << 20, b, sizeof(b)), "500 MiB");

	assert_string_equal(castle_human_duration(0, b, sizeof(b)), "0s");
	assert_string_equal(castle_human_duration(598 * S, b, sizeof(b)), "9m58s");
	assert_string_equal(castle_human_duration(598 * S + S / 2, b, sizeof(b)), "9m58s");
	assert_string_equal(castle_human_duration(60 * S, b, sizeof(b)), "1m");
	assert_string_equal(castle_human_duration(5400 * S, b, sizeof(b)), "1h30m");
	assert_string_equal(castle_human_duration(7200 * S, b, sizeof(b)), "2h");
	assert_string_equal(castle_human_duration(2 * 86400 * S, b, sizeof(b)), "2d");
	assert_string_equal(castle_human_duration(90000 * S, b, sizeof(b)), "1d1h");
	assert_string_equal(castle_human_duration(42 * S, b, sizeof(b)), "42s");
	assert_string_equal(castle_human_duration(500000000, b, sizeof(b)), "500ms");
	assert_string_equal(castle_human_duration(12000, b, sizeof(b)), "12us");
	assert_string_equal(castle_human_duration(3, b, sizeof(b)), "3ns");
}

/* Comments are printed raw in castlectl's tables: valid UTF-8 only, without
 * C0/C1 controls, DEL or bidirectional controls; other non-ASCII is kept. */
static void comment_check_refuses_controls_and_bad_utf8(void **state)
{
	static const struct {
		const char *in, *want;
	} bad[] = {
		{ "a\nb", "comment contains a control character (byte 2)" },
		{ "x\x7f", "comment contains a control character (byte 2)" },
		{ "\xc2\x9b" "31m", "comment contains a control character (U+009B at byte 1)" },
		{ "ab\xe2\x80\xae" "cd", "comment contains a control character (U+202E at byte 3)" },
		{ "\xe2\x81\xa6", "(U+2066 at byte 1)" },
		{ "\xd8\x9c", "(U+061C at byte 1)" },
		{ "\xff\xfe", "comment is not valid UTF-8 (byte 1)" },
		{ "ok\xc3", "comment is not valid UTF-8 (byte 3)" },
		{ "\xc0\xaf", "comment is not valid UTF-8 (byte 1)" },	  /* overlong '/' */
		{ "\xed\xa0\x80", "comment is not valid UTF-8 (byte 1)" }, /* a surrogate */
		{ "\xf4\x90\x80\x80", "comment is not valid UTF-8 (byte 1)" }, /* past U+10FFFF */
		{ "a\xe2\x28\xa1", "comment is not valid UTF-8 (byte 2)" },
	};
	static const char *const good[] = { "", "scanner", "ünïcode", "日本語 ok", "emoji \xf0\x9f\x9b\xa1",
					    "tab-free, 63 bytes max: fine" };
	char err[128];

	(void)state;
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		if (castle_comment_check(bad[i].in, err, sizeof(err)) != -1)
			fail_msg("bad[%zu] accepted", i);
		if (!strstr(err, bad[i].want))
			fail_msg("bad[%zu]: '%s' lacks '%s'", i, err, bad[i].want);
	}
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
		if (castle_comment_check(good[i], err, sizeof(err)))
			fail_msg("good[%zu] refused: %s", i, err);
}

/* Quoted input: controls escaped, a backslash doubled (the text "\x1b"
 * must not read like an escaped ESC), other UTF-8 kept, cut whole. */
static void text_escape_is_unambiguous(void **state)
{
	static const struct {
		const char *in, *want;
	} cases[] = {
		{ "plain ünïcode", "plain ünïcode" },
		{ "a\nb\tc\rd", "a\\nb\\tc\\rd" },
		{ "\x1b[31m", "\\x1b[31m" },
		{ "literal \\x1b", "literal \\\\x1b" },
		{ "C:\\dir", "C:\\\\dir" },
		{ "\xe2\x80\xae", "\\u202e" },
		{ "bad\xff", "bad\\xff" },
	};
	char out[64], small[6];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t n = castle_text_escape(cases[i].in, out, sizeof(out));

		assert_string_equal(out, cases[i].want);
		assert_int_equal(n, strlen(cases[i].want));
	}
	/* a comment in a table: controls escaped, a backslash as typed */
	castle_comment_display("C:\\dir \x1b", out, sizeof(out));
	assert_string_equal(out, "C:\\dir \\x1b");
	/* an escape that does not fit is left out whole */
	castle_text_escape("ab\\\\", small, sizeof(small));
	assert_string_equal(small, "ab\\\\");
	castle_text_escape("abcd\\", small, sizeof(small));
	assert_string_equal(small, "abcd");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(duration_parses_units_and_sums),
		cmocka_unit_test(duration_rejects_bad_input),
		cmocka_unit_test(rate_parses_per_second_minute_hour),
		cmocka_unit_test(rate_rejects_zero_negative_overflow),
		cmocka_unit_test(byte_rate_parses_si_and_binary_units),
		cmocka_unit_test(byte_rate_rejects_bad_input),
		cmocka_unit_test(bytes_parses_sizes),
		cmocka_unit_test(ports_parse_single_and_range),
		cmocka_unit_test(ports_reject_zero_big_reversed),
		cmocka_unit_test(human_count_bytes_duration),
		cmocka_unit_test(comment_check_refuses_controls_and_bad_utf8),
		cmocka_unit_test(text_escape_is_unambiguous),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
