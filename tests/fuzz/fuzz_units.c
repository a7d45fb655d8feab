// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_units.c - the operator-facing unit parsers (durations, packet rates,
 * byte rates, byte sizes, port ranges) on arbitrary strings, and the
 * humanizers on what they return. The first input byte picks the parser.
 * Invariants: a failure leaves *out untouched and says why; a success is in
 * the documented range; humanized output is terminated in any buffer size.
 */
#include <math.h>
#include <stdint.h>

#include "units.h"
#include "fuzz_common.h"

static void human_ok(uint64_t v)
{
	char buf[64];

	for (size_t len = 1; len <= sizeof(buf); len += 7) {
		castle_human_count(v, buf, len);
		FUZZ_CHECK(memchr(buf, '\0', len), "human_count(%llu) in %zu", (unsigned long long)v, len);
		castle_human_bytes(v, buf, len);
		FUZZ_CHECK(memchr(buf, '\0', len), "human_bytes(%llu) in %zu", (unsigned long long)v, len);
		castle_human_duration(v, buf, len);
		FUZZ_CHECK(memchr(buf, '\0', len), "human_duration(%llu) in %zu",
			   (unsigned long long)v, len);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	char *s = fuzz_str(data + 1, size - 1, 128);
	char err[256] = "";
	int rc;

	switch (data[0] % 5) {
	case 0: {
		uint64_t ns = 0xdeadbeef;
		rc = castle_parse_duration(s, &ns, err, sizeof(err));
		if (rc)
			FUZZ_CHECK(ns == 0xdeadbeef, "duration '%s': written on failure", s);
		else
			human_ok(ns);
		break;
	}
	case 1: {
		double pps = -7;
		rc = castle_parse_rate(s, &pps, err, sizeof(err));
		if (rc)
			FUZZ_CHECK(pps == -7, "rate '%s': written on failure", s);
		else
			FUZZ_CHECK(isfinite(pps) && pps > 0 && pps <= CASTLE_RATE_MAX &&
					   1e9 / pps <= 1e18, /* cost fits: <= 1e18 ns */
				   "rate '%s' -> %g", s, pps);
		break;
	}
	case 2: {
		double bps = -7;
		rc = castle_parse_byte_rate(s, &bps, err, sizeof(err));
		if (rc)
			FUZZ_CHECK(bps == -7, "byte rate '%s': written on failure", s);
		else
			FUZZ_CHECK(isfinite(bps) && bps > 0, "byte rate '%s' -> %g", s, bps);
		break;
	}
	case 3: {
		uint64_t b = 0xdeadbeef;
		rc = castle_parse_bytes(s, &b, err, sizeof(err));
		if (rc)
			FUZZ_CHECK(b == 0xdeadbeef, "bytes '%s': written on failure", s);
		else
			human_ok(b);
		break;
	}
	default: {
		uint16_t lo = 7, hi = 7;
		rc = castle_parse_ports(s, &lo, &hi, err, sizeof(err));
		if (rc)
			FUZZ_CHECK(lo == 7 && hi == 7, "ports '%s': written on failure", s);
		else
			FUZZ_CHECK(lo >= 1 && lo <= hi, "ports '%s' -> %u-%u", s, lo, hi);
		break;
	}
	}
	if (rc)
		FUZZ_CHECK(rc == -1 && fuzz_msg_ok(err, sizeof(err)), "'%s': rc %d, message '%s'", s,
			   rc, err);
	free(s);
	return 0;
}
