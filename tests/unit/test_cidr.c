// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* test_cidr.c - user/lib/cidr.c: parsing, printing, nesting and ordering. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "cidr.h"

static struct castle_cidr parse_ok(const char *s)
{
	struct castle_cidr c;
	char err[256] = "";

	if (castle_cidr_parse(s, &c, err, sizeof(err)))
		fail_msg("'%s' should parse: %s", s, err);
	return c;
}

/* s must fail with a message containing want */
static void parse_bad(const char *s, const char *want)
{
	struct castle_cidr c;
	char err[256] = "";

	memset(&c, 0x5a, sizeof(c));
	if (!castle_cidr_parse(s, &c, err, sizeof(err)))
		fail_msg("'%s' should fail", s ? s : "(null)");
	if (!strstr(err, want))
		fail_msg("'%s': message '%s' lacks '%s'", s ? s : "(null)", err, want);
	assert_int_equal(c.family, 0x5a5a5a5a);	/* untouched on failure */
}

static void cidr_parses_ipv4_prefix_and_host(void **state)
{
	struct castle_cidr c = parse_ok("198.18.0.0/15");
	const uint8_t a[4] = { 198, 18, 0, 0 };

	(void)state;
	assert_int_equal(c.family, 4);
	assert_int_equal(c.plen, 15);
	assert_memory_equal(c.addr, a, 4);
	c = parse_ok("198.18.77.7");
	assert_int_equal(c.plen, 32);
	assert_true(castle_cidr_is_host(&c));
	c = parse_ok("0.0.0.0/0");
	assert_int_equal(c.plen, 0);
	c = parse_ok("198.18.77.7/32");
	assert_int_equal(c.plen, 32);
}

static void cidr_parses_ipv6_prefix_and_host(void **state)
{
	struct castle_cidr c = parse_ok("2001:db8::/32");
	const uint8_t a[16] = { 0x20, 0x01, 0x0d, 0xb8 };

	(void)state;
	assert_int_equal(c.family, 6);
	assert_int_equal(c.plen, 32);
	assert_memory_equal(c.addr, a, 16);
	c = parse_ok("::/0");
	assert_int_equal(c.plen, 0);
	c = parse_ok("2001:db8:bad::1");
	assert_int_equal(c.plen, 128);
	assert_true(castle_cidr_is_host(&c));
	c = parse_ok("::fffe:0:0/95"); /* covers the mapped block: an ordinary prefix */
	assert_int_equal(c.plen, 95);
}

/* ::a.b.c.d (IPv4-compatible, deprecated) reads as the IPv4 address and is
 * not it: refused with both meanings spelled out; in hex it is an ordinary
 * IPv6 address, and castle prints ::/96 in hex so a listed entry pastes
 * back. castle_cidr_parse_existing still names one an older castle took. */
static void cidr_ipv4_compatible_is_refused(void **state)
{
	struct castle_cidr c;
	char buf[CASTLE_CIDR_STRLEN], err[256];

	(void)state;
	parse_bad("::192.0.2.1", "'::192.0.2.1' is an IPv4-compatible IPv6 address (deprecated, "
		  "RFC 4291), which IPv4 traffic does not carry: for IPv4 write 192.0.2.1, for "
		  "the IPv6 address ::c000:201");
	parse_bad("::198.18.0.0/112", "for IPv4 write 198.18.0.0/16, for the IPv6 prefix ::c612:0/112");
	parse_bad("::0.0.0.0/96", "for IPv4 write 0.0.0.0/0 (every IPv4 address), for the IPv6 "
		  "prefix ::/96");
	parse_bad("::198.18.0.1/112", "host bits set in '::198.18.0.1/112'");
	c = parse_ok("::c000:201");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::c000:201");
	c = parse_ok("::c612:0/112");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::c612:0/112");
	c = parse_ok("::1");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::1");
	c = parse_ok("::fffe:0:0/95");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::fffe:0:0/95");
	assert_int_equal(castle_cidr_parse_existing("::192.0.2.1", &c, err, sizeof(err)), 0);
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::c000:201");
}

/* IPv4-mapped addresses never arrive as sources: an entry of one would do
 * nothing, so it is refused with the IPv4 form it meant. */
static void cidr_ipv4_mapped_is_refused(void **state)
{
	(void)state;
	parse_bad("::ffff:198.18.0.1", "'::ffff:198.18.0.1' is an IPv4-mapped IPv6 address, which "
		  "IPv4 traffic does not carry: did you mean 198.18.0.1?");
	parse_bad("::ffff:198.18.0.0/112", "did you mean 198.18.0.0/16?");
	parse_bad("::ffff:0:0/96", "did you mean 0.0.0.0/0 (every IPv4 address)?");
	/* host bits in the IPv4 part: the address is offered beside the
	 * network, which is said in words (never a bare 0.0.0.0/0 to paste) */
	parse_bad("::ffff:1.2.3.4/96", "with host bits set: did you mean 0.0.0.0/0 (every IPv4 "
		  "address) or 1.2.3.4 (the address alone)?");
	parse_bad("::ffff:1.2.3.4/100", "did you mean 0.0.0.0/4 (the network) or 1.2.3.4 (the "
		  "address alone)?");
	parse_bad("::ffff:198.18.1.1/120", "did you mean 198.18.1.0/24 (the network) or "
		  "198.18.1.1 (the address alone)?");
}

static void cidr_host_bits_set_suggests_network(void **state)
{
	char err[256];
	struct castle_cidr c;

	(void)state;
	assert_int_equal(castle_cidr_parse("198.18.0.1/15", &c, err, sizeof(err)), -1);
	assert_string_equal(err, "host bits set in '198.18.0.1/15': did you mean 198.18.0.0/15 "
			    "(the network) or 198.18.0.1 (the address alone)?");
	parse_bad("2001:db8::1/32", "did you mean 2001:db8::/32 (the network) or 2001:db8::1 "
		  "(the address alone)?");
	parse_bad("10.1.2.3/0", "did you mean 0.0.0.0/0 (every IPv4 address) or 10.1.2.3 (the "
		  "address alone)?");
	parse_bad("2001:db8::1/0", "did you mean ::/0 (every IPv6 address) or 2001:db8::1 (the "
		  "address alone)?");
	parse_bad("10.1.2.129/25", "did you mean 10.1.2.128/25 (the network) or 10.1.2.129");
}

/* Blanks and line breaks (a pasted line) and a prefix length with leading
 * zeros are named, not reported as an unknown family. */
static void cidr_blanks_and_leading_zeros(void **state)
{
	(void)state;
	parse_bad(" 198.18.0.1", "blank or line break in ' 198.18.0.1'");
	parse_bad("198.18.0.1\n", "blank or line break in");
	parse_bad("198.18.0.0/16\r", "blank or line break in");
	parse_bad("2001:db8:: /32", "blank or line break in");
	parse_bad("198.18.0.0/016", "bad prefix length '/016' in '198.18.0.0/016': no leading zeros");
	parse_bad("2001:db8::/032", "no leading zeros");
	struct castle_cidr c = parse_ok("0.0.0.0/0");
	assert_int_equal(c.plen, 0);
}

static void cidr_bad_prefix_length(void **state)
{
	(void)state;
	parse_bad("198.18.0.0/33", "bad prefix length /33");
	parse_bad("198.18.0.0/33", "0-32");
	parse_bad("2001:db8::/129", "0-128");
	parse_bad("198.18.0.0/", "missing prefix length");
	parse_bad("198.18.0.0/abc", "bad prefix length");
	parse_bad("198.18.0.0/-1", "bad prefix length");
	parse_bad("198.18.0.0/99999999999999999999", "bad prefix length");
	parse_bad("/24", "missing address");
}

static void cidr_unknown_family(void **state)
{
	(void)state;
	parse_bad("hello", "unknown address family");
	parse_bad("12345", "unknown address family");
	parse_bad("example.com/24", "unknown address family");
}

static void cidr_invalid_address(void **state)
{
	(void)state;
	parse_bad("1.2.3", "not a valid IPv4 address");
	parse_bad("256.1.1.1", "not a valid IPv4 address");
	parse_bad("1.2.3.4.5", "not a valid IPv4 address");
	parse_bad("2001:db8:::1", "not a valid IPv6 address");
	parse_bad("fe80::1%veth9", "not a valid IPv6 address");
	parse_bad("1111:2222:3333:4444:5555:6666:7777:8888:9999:aaaa", "too long");
}

static void cidr_trailing_garbage(void **state)
{
	(void)state;
	parse_bad("198.18.4.0/24x", "trailing characters 'x'");
	parse_bad("198.18.4.0/24 ", "blank or line break in '198.18.4.0/24 '");
	parse_bad("198.18.4.0 ", "blank or line break in");
	parse_bad(" 198.18.4.0", "blank or line break in");
	parse_bad("198.18.4.0/24/8", "trailing characters");
	parse_bad("198.18.4.1:443", "'198.18.4.1:443' looks like an address with a port: give the "
		  "address alone");
}

static void cidr_empty(void **state)
{
	(void)state;
	parse_bad("", "empty address");
	parse_bad(NULL, "empty address");
}

static void cidr_prints_network_and_bare_host(void **state)
{
	char buf[CASTLE_CIDR_STRLEN];
	struct castle_cidr c = parse_ok("198.18.0.0/15");

	(void)state;
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "198.18.0.0/15");
	c = parse_ok("198.18.77.7/32");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "198.18.77.7");
	c = parse_ok("2001:0db8:0bad:0000::/48");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "2001:db8:bad::/48");
	c = parse_ok("::/0");
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "::/0");
}

static void cidr_contains_nests_by_prefix(void **state)
{
	struct castle_cidr all4 = parse_ok("0.0.0.0/0"), n16 = parse_ok("198.18.0.0/16"),
			   n24 = parse_ok("198.18.66.0/24"), other = parse_ok("198.19.0.0/16"),
			   host = parse_ok("198.18.66.7"), all6 = parse_ok("::/0"),
			   v6 = parse_ok("2001:db8::/32"), odd = parse_ok("198.18.0.0/15");

	(void)state;
	assert_true(castle_cidr_contains(&all4, &n16));
	assert_true(castle_cidr_contains(&n16, &n24));
	assert_true(castle_cidr_contains(&n24, &host));
	assert_true(castle_cidr_contains(&n24, &n24));
	assert_false(castle_cidr_contains(&n24, &n16));
	assert_false(castle_cidr_contains(&n16, &other));
	assert_true(castle_cidr_contains(&odd, &other));	/* /15 holds 198.19/16 */
	assert_false(castle_cidr_contains(&all4, &v6));		/* never across families */
	assert_false(castle_cidr_contains(&all6, &n16));
	assert_true(castle_cidr_contains(&all6, &v6));
}

static void cidr_order_puts_container_before_contents(void **state)
{
	struct castle_cidr v[5] = { parse_ok("198.18.66.0/24"), parse_ok("2001:db8::/32"),
				    parse_ok("198.18.0.0/16"), parse_ok("10.0.0.0/8"),
				    parse_ok("198.18.66.7") };
	char buf[CASTLE_CIDR_STRLEN];

	(void)state;
	qsort(v, 5, sizeof(v[0]), castle_cidr_qsort_cmp);
	assert_string_equal(castle_cidr_str(&v[0], buf, sizeof(buf)), "10.0.0.0/8");
	assert_string_equal(castle_cidr_str(&v[1], buf, sizeof(buf)), "198.18.0.0/16");
	assert_string_equal(castle_cidr_str(&v[2], buf, sizeof(buf)), "198.18.66.0/24");
	assert_string_equal(castle_cidr_str(&v[3], buf, sizeof(buf)), "198.18.66.7");
	assert_string_equal(castle_cidr_str(&v[4], buf, sizeof(buf)), "2001:db8::/32");
	assert_int_equal(castle_cidr_cmp(&v[1], &v[1]), 0);
}

static void cidr_mask_clears_host_bits(void **state)
{
	struct castle_cidr c = parse_ok("198.18.66.7");
	char buf[CASTLE_CIDR_STRLEN];

	(void)state;
	c.plen = 20;
	castle_cidr_mask(&c);
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "198.18.64.0/20");
	c = parse_ok("2001:db8:bad:1::1");
	c.plen = 36;	/* 0bad: the top nibble is 0 */
	castle_cidr_mask(&c);
	assert_string_equal(castle_cidr_str(&c, buf, sizeof(buf)), "2001:db8::/36");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(cidr_parses_ipv4_prefix_and_host),
		cmocka_unit_test(cidr_parses_ipv6_prefix_and_host),
		cmocka_unit_test(cidr_host_bits_set_suggests_network),
		cmocka_unit_test(cidr_blanks_and_leading_zeros),
		cmocka_unit_test(cidr_ipv4_mapped_is_refused),
		cmocka_unit_test(cidr_ipv4_compatible_is_refused),
		cmocka_unit_test(cidr_bad_prefix_length),
		cmocka_unit_test(cidr_unknown_family),
		cmocka_unit_test(cidr_invalid_address),
		cmocka_unit_test(cidr_trailing_garbage),
		cmocka_unit_test(cidr_empty),
		cmocka_unit_test(cidr_prints_network_and_bare_host),
		cmocka_unit_test(cidr_contains_nests_by_prefix),
		cmocka_unit_test(cidr_order_puts_container_before_contents),
		cmocka_unit_test(cidr_mask_clears_host_bits),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
