// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_persist.c - reading castled's state file (castle_persist_read and
 * castle_persist_parse_line, what castle_persist_restore runs after a
 * reboot) on arbitrary bytes. Invariants: every entry handed out is one
 * castlectl could have made (a canonical prefix of family 4 or 6, an expiry in
 * [0, LLONG_MAX) and 0 for allow, a comment shorter than CASTLE_NOTE_MAX with
 * no NUL); bad lines are counted and the first one is named in the message;
 * each entry written back by castle_persist_format_line parses to the same
 * entry, and the file rebuilt from every entry reads back whole, with no bad
 * line and the same entries in the same order.
 */
#include <errno.h>
#include <limits.h>
#include <stdint.h>

#include "persist.h"
#include "fuzz_common.h"

#define MAX_ENTRIES 2048

struct seen {
	struct castle_persist_entry v[MAX_ENTRIES];
	int n;
};

static int same(const struct castle_persist_entry *a, const struct castle_persist_entry *b)
{
	return a->allow == b->allow && a->cidr.family == b->cidr.family &&
	       a->cidr.plen == b->cidr.plen && !memcmp(a->cidr.addr, b->cidr.addr, 16) &&
	       a->expires == b->expires && !strcmp(a->comment, b->comment);
}

static void check_entry(const struct castle_persist_entry *e)
{
	struct castle_cidr masked = e->cidr;
	struct castle_persist_entry back;
	char line[CASTLE_PERSIST_LINE_MAX + 1], why[200];
	int n, ret;

	FUZZ_CHECK(e->cidr.family == 4 || e->cidr.family == 6, "family %d", e->cidr.family);
	FUZZ_CHECK(e->cidr.plen <= (e->cidr.family == 4 ? 32u : 128u), "plen %u", e->cidr.plen);
	castle_cidr_mask(&masked);
	FUZZ_CHECK(!memcmp(masked.addr, e->cidr.addr, 16), "host bits set");
	FUZZ_CHECK(e->expires >= 0 && e->expires < LLONG_MAX, "expiry %lld", e->expires);
	FUZZ_CHECK(!e->allow || !e->expires, "allow entry expiring at %lld", e->expires);
	FUZZ_CHECK(memchr(e->comment, '\0', sizeof(e->comment)), "comment not terminated");

	n = castle_persist_format_line(e, line, sizeof(line));
	FUZZ_CHECK(n > 0 && (size_t)n == strlen(line) && line[n - 1] == '\n',
		   "format_line returned %d", n);
	FUZZ_CHECK(!memchr(line, '\n', n - 1), "a newline inside the line '%s'", line);
	ret = castle_persist_parse_line(line, n - 1, &back, why, sizeof(why));
	FUZZ_CHECK(ret == CASTLE_PL_ENTRY, "'%s' does not parse back (%d): %s", line, ret,
		   ret < 0 ? why : "");
	FUZZ_CHECK(same(e, &back), "'%s' parses back to another entry", line);
	/* Too short a buffer: refused, never overrun (ASan). */
	FUZZ_CHECK(castle_persist_format_line(e, line, (size_t)n) == -ENOSPC,
		   "format_line into %d bytes", n);
}

static int collect(const struct castle_persist_entry *e, void *arg, char *why, size_t whylen)
{
	struct seen *s = arg;

	check_entry(e);
	if (s->n >= MAX_ENTRIES) {
		snprintf(why, whylen, "too many");
		return -ENOSPC;
	}
	s->v[s->n++] = *e;
	return 0;
}

static int read_all(const char *data, size_t size, struct seen *s, char *err, size_t errlen)
{
	FILE *f = fmemopen((void *)data, size, "r");
	int ret;

	if (!f)
		abort();
	s->n = 0;
	err[0] = '\0';
	ret = castle_persist_read(f, "state", collect, s, err, errlen);
	fclose(f);
	return ret;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct seen first, again;
	char err[300], err2[300], line[CASTLE_PERSIST_LINE_MAX + 1];
	char *file = NULL;
	size_t flen = 0;
	int bad, ret;

	if (!size || size > 65536)
		return 0;
	bad = read_all((const char *)data, size, &first, err, sizeof(err));
	FUZZ_CHECK(bad >= 0, "read error %d", bad);
	FUZZ_CHECK(!bad || (fuzz_msg_ok(err, sizeof(err)) && !strncmp(err, "state:", 6)),
		   "%d bad lines, message '%s'", bad, err);
	FUZZ_CHECK(bad || !err[0], "no bad line, yet message '%s'", err);

	/* The file castled would write for these entries reads back the same. */
	FILE *out = open_memstream(&file, &flen);
	if (!out)
		abort();
	fputs("# rebuilt\n", out);
	for (int i = 0; i < first.n; i++) {
		ret = castle_persist_format_line(&first.v[i], line, sizeof(line));
		FUZZ_CHECK(ret > 0, "format_line: %d", ret);
		fputs(line, out);
	}
	fclose(out);
	ret = read_all(file, flen, &again, err2, sizeof(err2));
	FUZZ_CHECK(ret == 0, "the rebuilt file has %d bad lines: %s", ret, err2);
	FUZZ_CHECK(again.n == first.n, "%d entries read back from %d", again.n, first.n);
	for (int i = 0; i < first.n; i++)
		FUZZ_CHECK(same(&first.v[i], &again.v[i]), "entry %d differs after a rewrite", i);
	free(file);
	return 0;
}
