// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_cidr.c - castle_cidr_parse on arbitrary strings. On success the prefix
 * is canonical (family 4/6, plen in range, no host bits), castle_cidr_str
 * prints it back to a string that parses to the same prefix (also into short
 * buffers, which must be truncated and terminated, never overrun), and
 * contains/cmp agree with themselves. On failure the message is a string and
 * the output is untouched.
 */
#include <stdint.h>

#include "cidr.h"
#include "fuzz_common.h"

static int same(const struct castle_cidr *a, const struct castle_cidr *b)
{
	return a->family == b->family && a->plen == b->plen && !memcmp(a->addr, b->addr, 16);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = fuzz_str(data, size, 256);
	struct castle_cidr c, back, masked, untouched;
	char err[256] = "", buf[CASTLE_CIDR_STRLEN], err2[256];

	memset(&c, 0xa5, sizeof(c));
	untouched = c;
	if (castle_cidr_parse(s, &c, err, sizeof(err))) {
		FUZZ_CHECK(fuzz_msg_ok(err, sizeof(err)), "no message for '%s'", s);
		FUZZ_CHECK(!memcmp(&c, &untouched, sizeof(c)), "output written on failure: '%s'", s);
		free(s);
		return 0;
	}
	FUZZ_CHECK(c.family == 4 || c.family == 6, "family %d from '%s'", c.family, s);
	FUZZ_CHECK(c.plen <= (c.family == 4 ? 32u : 128u), "plen %u from '%s'", c.plen, s);
	masked = c;
	castle_cidr_mask(&masked);
	FUZZ_CHECK(same(&masked, &c), "host bits set in the result of '%s'", s);
	if (c.family == 4)
		for (int i = 4; i < 16; i++)
			FUZZ_CHECK(!c.addr[i], "IPv4 '%s' has bytes past the fourth", s);

	/* Round trip through the printer. */
	const char *p = castle_cidr_str(&c, buf, sizeof(buf));
	FUZZ_CHECK(p && memchr(buf, '\0', sizeof(buf)), "unterminated string for '%s'", s);
	FUZZ_CHECK(!castle_cidr_parse(buf, &back, err2, sizeof(err2)), "'%s' printed as '%s' "
		   "does not parse: %s", s, buf, err2);
	FUZZ_CHECK(same(&back, &c), "'%s' -> '%s' -> a different prefix", s, buf);
	FUZZ_CHECK(castle_cidr_is_host(&c) == !strchr(buf, '/'), "'%s' printed as '%s'", s, buf);

	/* Short buffers: truncated and terminated, never overrun (ASan). */
	for (size_t len = 1; len < 8; len++) {
		char *small = malloc(len);
		if (!small)
			abort();
		castle_cidr_str(&c, small, len);
		FUZZ_CHECK(memchr(small, '\0', len), "castle_cidr_str overran %zu bytes", len);
		free(small);
	}

	FUZZ_CHECK(castle_cidr_contains(&c, &c), "'%s' does not contain itself", s);
	FUZZ_CHECK(castle_cidr_cmp(&c, &back) == 0, "'%s' differs from itself", s);
	if (c.plen > 0) {
		struct castle_cidr wider = c;
		wider.plen--;
		castle_cidr_mask(&wider);
		FUZZ_CHECK(castle_cidr_contains(&wider, &c) && !castle_cidr_contains(&c, &wider),
			   "nesting of '%s' and its parent", s);
		FUZZ_CHECK(castle_cidr_cmp(&wider, &c) < 0, "parent of '%s' sorts after it", s);
	}
	free(s);
	return 0;
}
