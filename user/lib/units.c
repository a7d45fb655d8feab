// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* units.c - parsers and humanizers of units.h. */
#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "castle/castle.h"
#include "units.h"

struct unit {
	const char *name;
	uint64_t mult;
};

static const struct unit dur_units[] = {
	{ "ns", 1 },
	{ "us", 1000 },
	{ "ms", 1000000 },
	{ "s", CASTLE_NSEC_PER_SEC },
	{ "m", 60 * CASTLE_NSEC_PER_SEC },
	{ "h", 3600 * CASTLE_NSEC_PER_SEC },
	{ "d", 86400 * CASTLE_NSEC_PER_SEC },
};

#define DUR_HINT "expected e.g. 500ms, 30s, 10m, 1h30m, 2d"

int castle_parse_duration(const char *s, uint64_t *ns, char *err, size_t errlen)
{
	const char *p = s;
	uint64_t total = 0;

	if (!s || !*s) {
		snprintf(err, errlen, "empty duration (" DUR_HINT ")");
		return -1;
	}
	if (!strcmp(s, "0")) {
		*ns = 0;
		return 0;
	}
	if (*p == '-') {
		snprintf(err, errlen, "negative duration '%s'", s);
		return -1;
	}
	while (*p) {
		uint64_t n = 0, v;
		const struct unit *u = NULL;
		size_t best = 0;

		if (!isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "bad duration '%s' (" DUR_HINT ")", s);
			return -1;
		}
		while (isdigit((unsigned char)*p)) {
			if (__builtin_mul_overflow(n, 10, &n) ||
			    __builtin_add_overflow(n, (uint64_t)(*p - '0'), &n))
				goto too_long;
			p++;
		}
		if (*p == '.') {
			snprintf(err, errlen, "bad duration '%s': no fractions (write e.g. 1h30m, 1500ms)",
				 s);
			return -1;
		}
		/* longest unit name that matches: "ms" before "m" */
		for (size_t i = 0; i < sizeof(dur_units) / sizeof(dur_units[0]); i++) {
			size_t l = strlen(dur_units[i].name);

			if (l > best && !strncmp(p, dur_units[i].name, l) &&
			    !isalpha((unsigned char)p[l])) {
				u = &dur_units[i];
				best = l;
			}
		}
		if (!u) {
			if (!*p)
				snprintf(err, errlen, "duration '%s' has no unit (" DUR_HINT ")", s);
			else
				snprintf(err, errlen, "unknown unit in duration '%s' (" DUR_HINT ")", s);
			return -1;
		}
		p += best;
		if (__builtin_mul_overflow(n, u->mult, &v) ||
		    __builtin_add_overflow(total, v, &total))
			goto too_long;
	}
	*ns = total;
	return 0;

too_long:
	snprintf(err, errlen, "duration '%s' is too long", s);
	return -1;
}

/* A non-negative decimal "123" or "1.5": no sign, no exponent, no inf/nan,
 * which strtod would all accept. Returns the characters consumed, 0 if none. */
static size_t parse_decimal(const char *s, double *v)
{
	const char *p = s;
	double r = 0, scale = 1;

	while (isdigit((unsigned char)*p))
		r = r * 10 + (*p++ - '0');
	if (p == s)
		return 0;
	if (*p == '.' && isdigit((unsigned char)p[1])) {
		p++;
		while (isdigit((unsigned char)*p)) {
			scale /= 10;
			r += (*p++ - '0') * scale;
		}
	}
	*v = r;
	return (size_t)(p - s);
}

/* "/s", "/m", "/h" -> seconds per period; 0 if unknown */
static double per_seconds(const char *p)
{
	if (!strcmp(p, "/s"))
		return 1;
	if (!strcmp(p, "/m"))
		return 60;
	if (!strcmp(p, "/h"))
		return 3600;
	return 0;
}

int castle_parse_rate(const char *s, double *pps, char *err, size_t errlen)
{
	double n, per, r;
	size_t used;

	if (!s || !*s) {
		snprintf(err, errlen, "empty rate (expected e.g. 200/s, 10/m, 5/h)");
		return -1;
	}
	if (*s == '-') {
		snprintf(err, errlen, "negative rate '%s'", s);
		return -1;
	}
	used = parse_decimal(s, &n);
	per = used ? per_seconds(s + used) : 0;
	if (!used || !per) {
		snprintf(err, errlen, "bad rate '%s' (expected N/s, N/m or N/h, e.g. 200/s)", s);
		return -1;
	}
	if (n == 0) {
		snprintf(err, errlen, "rate '%s' is zero (to drop everything, use block)", s);
		return -1;
	}
	r = n / per;
	if (r > CASTLE_RATE_MAX) {
		snprintf(err, errlen, "rate '%s' is too high (at most 1000000000/s)", s);
		return -1;
	}
	if (1e9 / r > 1e18) {
		snprintf(err, errlen, "rate '%s' is too low (one packet would cost over 31 years)", s);
		return -1;
	}
	*pps = r;
	return 0;
}

/* Byte unit at p ("", "B", "KiB", "MB", ...): multiplier, and the characters
 * it takes in *used. Returns 0 if p does not start with a known unit. */
static double byte_unit(const char *p, size_t *used, int *bits)
{
	static const char prefixes[] = "KMGT";
	const char *q = p, *pos;
	double mult = 1;

	*bits = 0;
	if (*q == ' ')
		q++;
	/* Case matters past kilo: m is milli (10mB/s is not 10MB/s), g, t
	 * are nothing. k and K are both kilo. */
	pos = *q ? strchr(prefixes, *q == 'k' ? 'K' : *q) : NULL;
	if (pos) {
		int exp = (int)(pos - prefixes) + 1;
		int base = q[1] == 'i' ? 1024 : 1000;

		q += base == 1024 ? 2 : 1;
		for (int i = 0; i < exp; i++)
			mult *= base;
	}
	if (*q == 'b') {
		*bits = 1;
		return 0;
	}
	if (*q != 'B')
		return pos || isalpha((unsigned char)*q) ? 0 : 1; /* a bare number is bytes */
	*used = (size_t)(q + 1 - p);
	return mult;
}

static int parse_bytes_prefix(const char *s, double *v, size_t *used, const char *what,
			      char *err, size_t errlen)
{
	double n, mult;
	size_t nu, uu = 0;
	int bits;

	if (!s || !*s) {
		snprintf(err, errlen, "empty %s", what);
		return -1;
	}
	if (*s == '-') {
		snprintf(err, errlen, "negative %s '%s'", what, s);
		return -1;
	}
	nu = parse_decimal(s, &n);
	if (!nu) {
		snprintf(err, errlen, "bad %s '%s' (expected e.g. 10MiB/s, 1GB/s, 500KiB/s)", what, s);
		return -1;
	}
	mult = byte_unit(s + nu, &uu, &bits);
	if (bits) {
		snprintf(err, errlen,
			 "'%s': lower-case b means bits; castle counts bytes (write B, e.g. 10MB)", s);
		return -1;
	}
	if (!mult) {
		snprintf(err, errlen, "unknown unit in %s '%s' (B, KB, MB, GB, TB, KiB, MiB, GiB, TiB)",
			 what, s);
		return -1;
	}
	*v = n * mult;
	*used = nu + uu;
	return 0;
}

int castle_parse_byte_rate(const char *s, double *bps, char *err, size_t errlen)
{
	double v, per;
	size_t used;

	if (parse_bytes_prefix(s, &v, &used, "byte rate", err, errlen))
		return -1;
	per = per_seconds(s + used);
	if (!per) {
		snprintf(err, errlen, "bad byte rate '%s' (expected e.g. 10MiB/s, 1GB/s, 500KiB/s)", s);
		return -1;
	}
	if (v == 0) {
		snprintf(err, errlen, "byte rate '%s' is zero", s);
		return -1;
	}
	v /= per;
	/* byte costs are ns/byte in 48.16 fixed point: both ends must fit */
	if (v > 1e9 * (1 << 16)) {
		snprintf(err, errlen, "byte rate '%s' is too high", s);
		return -1;
	}
	if (1e9 / v > 1e12) {
		snprintf(err, errlen, "byte rate '%s' is too low", s);
		return -1;
	}
	*bps = v;
	return 0;
}

int castle_parse_bytes(const char *s, uint64_t *bytes, char *err, size_t errlen)
{
	double v;
	size_t used;

	if (parse_bytes_prefix(s, &v, &used, "size", err, errlen))
		return -1;
	if (s[used]) {
		snprintf(err, errlen, "bad size '%s' (expected e.g. 65536, 64KiB, 1MB)", s);
		return -1;
	}
	if (v >= 18e18) {
		snprintf(err, errlen, "size '%s' is too large", s);
		return -1;
	}
	*bytes = (uint64_t)(v + 0.5);
	return 0;
}

static int parse_port(const char *s, const char *end, const char *all, uint16_t *out, char *err,
		      size_t errlen)
{
	unsigned long v = 0;

	if (s == end) {
		snprintf(err, errlen, "bad port '%s' (expected e.g. 443 or 9000-9100)", all);
		return -1;
	}
	for (const char *p = s; p < end; p++) {
		if (!isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "bad port '%s' (expected e.g. 443 or 9000-9100)", all);
			return -1;
		}
		if (v <= 65535)
			v = v * 10 + (unsigned long)(*p - '0');
	}
	if (v == 0 || v > 65535) {
		snprintf(err, errlen, "port %.*s out of range in '%s' (1-65535)", (int)(end - s), s,
			 all);
		return -1;
	}
	*out = (uint16_t)v;
	return 0;
}

int castle_parse_ports(const char *s, uint16_t *lo, uint16_t *hi, char *err, size_t errlen)
{
	const char *dash, *end;
	uint16_t a, b;

	if (!s || !*s) {
		snprintf(err, errlen, "empty port");
		return -1;
	}
	end = s + strlen(s);
	dash = strchr(s, '-');
	if (parse_port(s, dash ? dash : end, s, &a, err, errlen))
		return -1;
	b = a;
	if (dash && parse_port(dash + 1, end, s, &b, err, errlen))
		return -1;
	if (a > b) {
		snprintf(err, errlen, "reversed port range '%s' (did you mean %u-%u?)", s, b, a);
		return -1;
	}
	*lo = a;
	*hi = b;
	return 0;
}

/* v scaled by base until below it: "12.3K" style, one decimal under 100 */
static const char *human_scaled(uint64_t v, unsigned int base, const char *const *sfx,
				const char *sep, char *buf, size_t len)
{
	double d = (double)v;
	int i = 0;

	if (v < base) {
		snprintf(buf, len, "%llu%s%s", (unsigned long long)v, sep, sfx[0]);
		return buf;
	}
	while (sfx[i + 1] && d >= base * 0.9995) {	/* carry what would print "1000K" */
		d /= base;
		i++;
	}
	if (d < 99.95)
		snprintf(buf, len, "%.1f%s%s", d, sep, sfx[i]);
	else
		snprintf(buf, len, "%.0f%s%s", d, sep, sfx[i]);
	return buf;
}

const char *castle_human_count(uint64_t v, char *buf, size_t len)
{
	static const char *const sfx[] = { "", "K", "M", "G", "T", "P", "E", NULL };

	return human_scaled(v, 1000, sfx, "", buf, len);
}

const char *castle_human_bytes(uint64_t v, char *buf, size_t len)
{
	static const char *const sfx[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB", "EiB", NULL };

	return human_scaled(v, 1024, sfx, " ", buf, len);
}

const char *castle_human_duration(uint64_t ns, char *buf, size_t len)
{
	unsigned long long s = ns / CASTLE_NSEC_PER_SEC;

	if (ns == 0)
		snprintf(buf, len, "0s");
	else if (ns < 1000)
		snprintf(buf, len, "%lluns", (unsigned long long)ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%lluus", (unsigned long long)ns / 1000);
	else if (ns < CASTLE_NSEC_PER_SEC)
		snprintf(buf, len, "%llums", (unsigned long long)ns / 1000000);
	else if (s < 60)
		snprintf(buf, len, "%llus", s);
	else if (s < 3600 && s % 60)
		snprintf(buf, len, "%llum%llus", s / 60, s % 60);
	else if (s < 3600)
		snprintf(buf, len, "%llum", s / 60);
	else if (s < 86400 && s % 3600 / 60)
		snprintf(buf, len, "%lluh%llum", s / 3600, s % 3600 / 60);
	else if (s < 86400)
		snprintf(buf, len, "%lluh", s / 3600);
	else if (s % 86400 / 3600)
		snprintf(buf, len, "%llud%lluh", s / 86400, s % 86400 / 3600);
	else
		snprintf(buf, len, "%llud", s / 86400);
	return buf;
}

/* The code point of the UTF-8 sequence at s (at most n bytes) and its
 * length in *len; -1 for a malformed, overlong, surrogate or out-of-range
 * sequence. */
static long utf8_next(const unsigned char *s, size_t n, size_t *len)
{
	static const long least[] = { 0, 0, 0x80, 0x800, 0x10000 };
	size_t k = s[0] < 0x80 ? 1 : (s[0] & 0xe0) == 0xc0 ? 2 : (s[0] & 0xf0) == 0xe0 ? 3
		   : (s[0] & 0xf8) == 0xf0 ? 4 : 0;
	long cp;

	if (!k || k > n)
		return -1;
	cp = k == 1 ? s[0] : s[0] & (0x7f >> k);
	for (size_t i = 1; i < k; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return -1;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < least[k] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return -1;
	*len = k;
	return cp;
}

/* Code points that change how a terminal shows what follows them: C0 and
 * C1 controls, DEL, and the bidirectional marks, embeddings, overrides and
 * isolates (a comment could otherwise reorder or hide the columns of
 * `block list` after it). */
static bool comment_control(long cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp <= 0x9f) || cp == 0x061c || cp == 0x200e ||
	       cp == 0x200f || (cp >= 0x202a && cp <= 0x202e) || (cp >= 0x2066 && cp <= 0x2069);
}

int castle_comment_check(const char *s, char *err, size_t errlen)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), k;

	if (n >= CASTLE_NOTE_MAX) {
		snprintf(err, errlen, "comment too long: %zu bytes (at most %d)", n,
			 CASTLE_NOTE_MAX - 1);
		return -1;
	}
	for (size_t i = 0; i < n; i += k) {
		long cp = utf8_next(u + i, n - i, &k);

		if (cp < 0) {
			snprintf(err, errlen, "comment is not valid UTF-8 (byte %zu)", i + 1);
			return -1;
		}
		if (comment_control(cp)) {
			if (cp < 0x80)
				snprintf(err, errlen, "comment contains a control character (byte %zu)",
					 i + 1);
			else
				snprintf(err, errlen, "comment contains a control character (U+%04lX "
					 "at byte %zu)", (unsigned long)cp, i + 1);
			return -1;
		}
	}
	return 0;
}

static size_t text_escape(const char *s, char *out, size_t outlen, bool backslash);

size_t castle_text_escape(const char *s, char *out, size_t outlen)
{
	return text_escape(s, out, outlen, true);
}

size_t castle_comment_display(const char *s, char *out, size_t outlen)
{
	return text_escape(s, out, outlen, false);
}

static size_t text_escape(const char *s, char *out, size_t outlen, bool backslash)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t n = strlen(s), o = 0, k;

	if (!outlen)
		return 0;
	for (size_t i = 0; i < n; i += k) {
		long cp = utf8_next(u + i, n - i, &k);
		char esc[24];
		const char *put;
		size_t plen;

		if (cp < 0) {
			k = 1;
			snprintf(esc, sizeof(esc), "\\x%02x", u[i]);
			put = esc;
		} else if (cp == '\\' && backslash) {
			put = "\\\\"; /* so that a literal "\x1b" never reads as an escape */
		} else if (comment_control(cp)) {
			if (cp == '\n' || cp == '\t' || cp == '\r')
				snprintf(esc, sizeof(esc), "\\%c", cp == '\n' ? 'n' : cp == '\t' ? 't' : 'r');
			else if (cp < 0x80)
				snprintf(esc, sizeof(esc), "\\x%02lx", (unsigned long)cp);
			else
				snprintf(esc, sizeof(esc), "\\u%04lx", (unsigned long)cp);
			put = esc;
		} else {
			put = s + i;
		}
		plen = put == s + i ? k : strlen(put);
		if (o + plen >= outlen)
			break;
		memcpy(out + o, put, plen);
		o += plen;
	}
	out[o] = 0;
	return o;
}
