// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * persist_line.c - one line of the state file (persist.h), read and written
 * without the maps: what castle_persist_restore reads is exactly what
 * castle_persist_sync writes, and the parser can be fuzzed on its own.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "persist.h"

/* Separators between fields: blanks (a file edited by hand may use tabs, or
 * end its lines with CR). */
static bool sep(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* The next field of [*p, end): its start and length; *p moves past it and
 * the blanks after it. */
static size_t field(const char **p, const char *end, const char **start)
{
	const char *s = *p;

	*start = s;
	while (s < end && !sep(*s))
		s++;
	size_t n = s - *start;

	while (s < end && sep(*s))
		s++;
	*p = s;
	return n;
}

/* The comment as castlectl --comment would have taken it: unescaped (\\ and
 * \n, and a backslash before any other byte stands for that byte), shorter
 * than CASTLE_NOTE_MAX, no NUL. */
static int comment(const char *s, size_t n, char *out, char *why, size_t whylen)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (c == '\\' && i + 1 < n) {
			c = s[++i];
			if (c == 'n')
				c = '\n';
		}
		if (!c) {
			snprintf(why, whylen, "comment contains a NUL byte; entry restored without it");
			return -EINVAL;
		}
		if (o + 1 >= CASTLE_NOTE_MAX) {
			snprintf(why, whylen, "comment longer than %d bytes; entry restored without it",
				 CASTLE_NOTE_MAX - 1);
			return -EINVAL;
		}
		out[o++] = c;
	}
	out[o] = 0;
	return 0;
}

int castle_persist_parse_line(const char *line, size_t len, struct castle_persist_entry *e,
			      char *why, size_t whylen)
{
	const char *p = line, *end = line + len, *kind, *cs, *xs;
	size_t kn, cn, xn;
	char cidr[CASTLE_CIDR_STRLEN], cerr[160];
	struct castle_persist_entry v;
	long long expires = 0;

	memset(&v, 0, sizeof(v));
	while (p < end && sep(*p))
		p++;
	if (p == end || *p == '#')
		return CASTLE_PL_SKIP;
	kn = field(&p, end, &kind);
	cn = field(&p, end, &cs);
	xn = field(&p, end, &xs);
	if (!cn || !xn) {
		snprintf(why, whylen, "expected: kind cidr expires [comment]");
		return -EINVAL;
	}
	if (kn == 5 && !memcmp(kind, "allow", 5))
		v.allow = true;
	else if (kn != 5 || memcmp(kind, "block", 5)) {
		snprintf(why, whylen, "unknown kind '%.*s' (expected block or allow)",
			 (int)(kn < 16 ? kn : 16), kind);
		return -EINVAL;
	}
	if (cn >= sizeof(cidr) || memchr(cs, 0, cn)) {
		snprintf(why, whylen, "'%.*s...' is not an address or prefix", 16, cs);
		return -EINVAL;
	}
	memcpy(cidr, cs, cn);
	cidr[cn] = 0;
	if (castle_cidr_parse_existing(cidr, &v.cidr, cerr, sizeof(cerr))) {
		snprintf(why, whylen, "%s", cerr);
		return -EINVAL;
	}
	/* Digits only, below LLONG_MAX (no sign, no overflow). */
	for (size_t i = 0; i < xn; i++) {
		if (!isdigit((unsigned char)xs[i]) ||
		    expires > (LLONG_MAX - 1 - (xs[i] - '0')) / 10) {
			snprintf(why, whylen, "expiry '%.*s' is not unix seconds (0 = never)",
				 (int)(xn < 24 ? xn : 24), xs);
			return -EINVAL;
		}
		expires = expires * 10 + (xs[i] - '0');
	}
	/* castlectl allow add takes no --ttl: an expiring allow cannot be
	 * restored as such, and a permanent one would widen what was allowed. */
	if (v.allow && expires) {
		snprintf(why, whylen, "an allow entry never expires (expiry must be 0)");
		return -EINVAL;
	}
	v.expires = expires;
	*e = v;
	if (comment(p, end - p, e->comment, why, whylen)) {
		e->comment[0] = 0;
		return CASTLE_PL_ENTRY_NO_COMMENT;
	}
	return CASTLE_PL_ENTRY;
}

int castle_persist_format_line(const struct castle_persist_entry *e, char *buf, size_t len)
{
	char cidr[CASTLE_CIDR_STRLEN];
	size_t n;
	int w;

	w = snprintf(buf, len, "%s %s %lld", e->allow ? "allow" : "block",
		     castle_cidr_str(&e->cidr, cidr, sizeof(cidr)), e->expires);
	if (w < 0 || (size_t)w + 2 > len) /* and room for the newline and the NUL */
		return -ENOSPC;
	n = w;
	for (size_t i = 0; i < sizeof(e->comment) && e->comment[i]; i++) {
		char c = e->comment[i];
		/* Escaped: a backslash, a newline, and a blank that starts the
		 * comment (the reader skips blanks before it). */
		bool esc = c == '\\' || c == '\n' || (!i && sep(c));
		size_t need = (i ? 0 : 1) + (esc ? 2 : 1);

		if (n + need + 2 > len)
			return -ENOSPC;
		if (!i)
			buf[n++] = ' ';
		if (esc)
			buf[n++] = '\\';
		buf[n++] = c == '\n' ? 'n' : c;
	}
	buf[n++] = '\n';
	buf[n] = 0;
	return (int)n;
}

int castle_persist_read(FILE *f, const char *name, castle_persist_entry_cb cb, void *arg,
			char *err, size_t errlen)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	int lineno = 0, bad = 0, ret;

	while ((n = getline(&line, &cap, f)) >= 0) {
		struct castle_persist_entry e;
		char why[200];

		lineno++;
		if (n && line[n - 1] == '\n')
			n--;
		ret = castle_persist_parse_line(line, n, &e, why, sizeof(why));
		if (ret == CASTLE_PL_SKIP)
			continue;
		/* A refused comment still restores its entry, reported as a bad line. */
		if (ret < 0 || ret == CASTLE_PL_ENTRY_NO_COMMENT) {
			if (!bad++)
				snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
			if (ret < 0)
				continue;
		}
		ret = cb(&e, arg, why, sizeof(why));
		if (ret < 0 && !bad++)
			snprintf(err, errlen, "%s:%d: %s", name, lineno, why);
	}
	ret = ferror(f) ? -EIO : 0;
	free(line);
	if (ret)
		snprintf(err, errlen, "%s: read error", name);
	return ret ? ret : bad;
}
