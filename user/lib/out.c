// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * out.c - aligned tables and a streaming JSON writer for castlectl. See out.h.
 */
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "out.h"
#include "units.h"

/* ---- tables ------------------------------------------------------------- */

void out_table_init(struct out_table *t, const struct out_col *cols, int ncols)
{
	memset(t, 0, sizeof(*t));
	t->cols = cols;
	t->ncols = ncols > OUT_MAX_COLS ? OUT_MAX_COLS : ncols;
}

void out_table_row(struct out_table *t, const char *const *cells)
{
	if (t->rows == t->cap) {
		size_t cap = t->cap ? t->cap * 2 : 16;
		char **n = realloc(t->cells, cap * t->ncols * sizeof(*n));

		if (!n) {
			t->oom = true;
			return;
		}
		t->cells = n;
		t->cap = cap;
	}
	for (int c = 0; c < t->ncols; c++) {
		char *s = strdup(cells[c] ? cells[c] : "-");

		if (!s) {
			t->oom = true;
			s = NULL;
		}
		t->cells[t->rows * t->ncols + c] = s;
	}
	t->rows++;
}

/* Display width: UTF-8 continuation bytes take no column, so a comment with
 * accents does not push the columns after it out of line. */
static size_t width(const char *s)
{
	size_t w = 0;

	for (; s && *s; s++)
		if (((unsigned char)*s & 0xc0) != 0x80)
			w++;
	return w;
}

static void cell(FILE *f, const char *s, size_t w, enum out_align a, bool last)
{
	size_t n = width(s), pad = w > n ? w - n : 0;

	if (a == OUT_RIGHT)
		fprintf(f, "%*s", (int)pad, "");
	fputs(s ? s : "-", f);
	if (a == OUT_LEFT && !last)
		fprintf(f, "%*s", (int)pad, "");
}

void out_table_print(const struct out_table *t, FILE *f)
{
	size_t w[OUT_MAX_COLS];
	char *line = NULL;
	size_t len = 0;

	for (int c = 0; c < t->ncols; c++) {
		w[c] = width(t->cols[c].title);
		for (size_t r = 0; r < t->rows; r++) {
			size_t n = width(t->cells[r * t->ncols + c]);
			if (n > w[c])
				w[c] = n;
		}
	}
	for (size_t r = 0; r <= t->rows; r++) {
		/* Each line goes through a buffer so that an empty last column
		 * leaves no trailing blanks (diff- and grep-friendly). */
		FILE *m = open_memstream(&line, &len);

		if (!m)
			return;
		for (int c = 0; c < t->ncols; c++) {
			const char *s = r ? t->cells[(r - 1) * t->ncols + c] : t->cols[c].title;

			if (c)
				fputs("  ", m);
			cell(m, s, w[c], t->cols[c].align, c == t->ncols - 1);
		}
		fclose(m);
		while (len && line[len - 1] == ' ')
			line[--len] = 0;
		fprintf(f, "%s\n", line);
		free(line);
		line = NULL;
	}
	if (t->oom)
		fputs("(out of memory: some rows are missing)\n", f);
}

void out_table_free(struct out_table *t)
{
	for (size_t i = 0; i < t->rows * (size_t)t->ncols; i++)
		free(t->cells[i]);
	free(t->cells);
	memset(t, 0, sizeof(*t));
}

/* ---- JSON --------------------------------------------------------------- */

void out_json_init(struct out_json *j, FILE *f)
{
	memset(j, 0, sizeof(*j));
	j->f = f;
	j->first[0] = true;
}

/* Separator before a value or a key: a comma unless it is the first item of
 * its container, nothing right after a key. */
static void sep(struct out_json *j)
{
	if (j->after_key) {
		j->after_key = false;
		return;
	}
	if (!j->first[j->depth])
		fputc(',', j->f);
	j->first[j->depth] = false;
}

static void json_open(struct out_json *j, char c)
{
	sep(j);
	fputc(c, j->f);
	if (j->depth < OUT_JSON_DEPTH - 1)
		j->depth++;
	j->first[j->depth] = true;
}

static void json_close(struct out_json *j, char c)
{
	fputc(c, j->f);
	if (j->depth > 0)
		j->depth--;
}

void out_json_obj_begin(struct out_json *j) { json_open(j, '{'); }
void out_json_obj_end(struct out_json *j) { json_close(j, '}'); }
void out_json_arr_begin(struct out_json *j) { json_open(j, '['); }
void out_json_arr_end(struct out_json *j) { json_close(j, ']'); }

void out_json_key(struct out_json *j, const char *key)
{
	sep(j);
	out_json_escape(j->f, key);
	fputc(':', j->f);
	j->after_key = true;
}

/* Length of the valid UTF-8 sequence at s, or 0 if it is not one (overlong
 * forms, surrogates and code points past U+10FFFF are not valid). */
static int utf8_len(const unsigned char *s)
{
	unsigned int cp;
	int n;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, cp = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, cp = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, cp = s[0] & 0x07;
	else
		return 0;
	for (int i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && cp < 0x800) || (n == 4 && (cp < 0x10000 || cp > 0x10ffff)) ||
	    (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return n;
}

void out_json_escape(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	fputc('"', f);
	while (*s) {
		int n = utf8_len(s);

		if (n == 0) {
			fputs("\\ufffd", f);
			s++;
			continue;
		}
		if (n > 1) {
			fwrite(s, 1, n, f);
			s += n;
			continue;
		}
		switch (*s) {
		case '"': fputs("\\\"", f); break;
		case '\\': fputs("\\\\", f); break;
		case '\n': fputs("\\n", f); break;
		case '\r': fputs("\\r", f); break;
		case '\t': fputs("\\t", f); break;
		case '\b': fputs("\\b", f); break;
		case '\f': fputs("\\f", f); break;
		default:
			if (*s < 0x20 || *s == 0x7f)
				fprintf(f, "\\u%04x", *s);
			else
				fputc(*s, f);
		}
		s++;
	}
	fputc('"', f);
}

void out_json_str(struct out_json *j, const char *s)
{
	sep(j);
	if (s)
		out_json_escape(j->f, s);
	else
		fputs("null", j->f);
}

void out_json_u64(struct out_json *j, uint64_t v)
{
	sep(j);
	fprintf(j->f, "%llu", (unsigned long long)v);
}

void out_json_i64(struct out_json *j, int64_t v)
{
	sep(j);
	fprintf(j->f, "%lld", (long long)v);
}

void out_json_double(struct out_json *j, double v)
{
	sep(j);
	if (isnan(v) || isinf(v))
		fputs("null", j->f);
	else
		fprintf(j->f, "%.17g", v);
}

void out_json_bool(struct out_json *j, bool v)
{
	sep(j);
	fputs(v ? "true" : "false", j->f);
}

void out_json_null(struct out_json *j)
{
	sep(j);
	fputs("null", j->f);
}

void out_json_end_doc(struct out_json *j)
{
	fputc('\n', j->f);
	j->depth = 0;
	j->first[0] = true;
	j->after_key = false;
}

void out_json_kstr(struct out_json *j, const char *k, const char *v)
{
	out_json_key(j, k);
	out_json_str(j, v);
}

void out_json_ku64(struct out_json *j, const char *k, uint64_t v)
{
	out_json_key(j, k);
	out_json_u64(j, v);
}

void out_json_kdouble(struct out_json *j, const char *k, double v)
{
	out_json_key(j, k);
	out_json_double(j, v);
}

void out_json_kbool(struct out_json *j, const char *k, bool v)
{
	out_json_key(j, k);
	out_json_bool(j, v);
}

/* ---- small formatters --------------------------------------------------- */

const char *out_ago(uint64_t then_ns, uint64_t now_ns, char *buf, size_t len)
{
	char d[32];

	if (!then_ns) {
		snprintf(buf, len, "never");
		return buf;
	}
	/* Whole seconds only: "3s ago", never "412ms ago" for a live entry. */
	uint64_t ago = now_ns > then_ns ? now_ns - then_ns : 0;
	if (ago < CASTLE_NSEC_PER_SEC)
		snprintf(buf, len, "now");
	else
		snprintf(buf, len, "%s ago", castle_human_duration(ago, d, sizeof(d)));
	return buf;
}

const char *out_ttl(uint64_t expires_ns, uint64_t now_ns, char *buf, size_t len)
{
	if (!expires_ns)
		snprintf(buf, len, "forever");
	else if (expires_ns <= now_ns)
		snprintf(buf, len, "expired");
	else if (expires_ns - now_ns < CASTLE_NSEC_PER_SEC)
		snprintf(buf, len, "<1s");
	else
		castle_human_duration(expires_ns - now_ns, buf, len);
	return buf;
}

const char *out_wall(uint64_t unix_s, char *buf, size_t len)
{
	time_t t = (time_t)unix_s;
	struct tm tm;

	if (!unix_s || !localtime_r(&t, &tm) || !strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm))
		snprintf(buf, len, "-");
	return buf;
}

int out_stdout_status(const char *prog, int ret)
{
	errno = 0;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "%s: cannot write the output%s%s\n", prog, errno ? ": " : "",
			errno ? strerror(errno) : "");
		return ret ? ret : 1;
	}
	return ret;
}
