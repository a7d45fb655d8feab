/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * out.h - castlectl's two output shapes: aligned tables for people (columns
 * sized to their widest cell, like `ip` and `nft`) and a tiny streaming JSON
 * writer for scripts (commas and escaping handled here, so a verb cannot emit
 * a document jq refuses).
 */
#ifndef CASTLE_OUT_H
#define CASTLE_OUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* ---- tables ------------------------------------------------------------- */

#define OUT_MAX_COLS 12

enum out_align { OUT_LEFT = 0, OUT_RIGHT = 1 };

struct out_col {
	const char *title;
	enum out_align align;
};

struct out_table {
	const struct out_col *cols;
	int ncols;
	char **cells;		/* rows * ncols strings, row-major */
	size_t rows, cap;
	bool oom;		/* a cell could not be stored: print says so */
};

void out_table_init(struct out_table *t, const struct out_col *cols, int ncols);
/* Add one row: exactly ncols strings (NULL prints as "-"). */
void out_table_row(struct out_table *t, const char *const *cells);
/* Header and rows, columns separated by two spaces, no trailing blanks. */
void out_table_print(const struct out_table *t, FILE *f);
void out_table_free(struct out_table *t);

/* ---- JSON --------------------------------------------------------------- */

#define OUT_JSON_DEPTH 16

struct out_json {
	FILE *f;
	int depth;
	bool first[OUT_JSON_DEPTH];	/* nothing written yet at this level */
	bool after_key;			/* a key was written, its value is next */
};

void out_json_init(struct out_json *j, FILE *f);
void out_json_obj_begin(struct out_json *j);
void out_json_obj_end(struct out_json *j);
void out_json_arr_begin(struct out_json *j);
void out_json_arr_end(struct out_json *j);
void out_json_key(struct out_json *j, const char *key);
void out_json_str(struct out_json *j, const char *s);	/* NULL writes null */
void out_json_u64(struct out_json *j, uint64_t v);
void out_json_i64(struct out_json *j, int64_t v);
void out_json_double(struct out_json *j, double v);	/* NaN/inf write null */
void out_json_bool(struct out_json *j, bool v);
void out_json_null(struct out_json *j);
/* Ends a top-level document with a newline (one document per line). */
void out_json_end_doc(struct out_json *j);

/* Key-value shorthands. */
void out_json_kstr(struct out_json *j, const char *k, const char *v);
void out_json_ku64(struct out_json *j, const char *k, uint64_t v);
void out_json_kdouble(struct out_json *j, const char *k, double v);
void out_json_kbool(struct out_json *j, const char *k, bool v);

/* Write s as a JSON string literal (quotes included). Control characters are
 * escaped; bytes that are not valid UTF-8 become U+FFFD, so the output always
 * parses whatever an operator typed into a comment. */
void out_json_escape(FILE *f, const char *s);

/* ---- small formatters --------------------------------------------------- */

/* "3s ago", "1h2m ago", "never" (ns == 0): how long since a CLOCK_BOOTTIME
 * timestamp, given the current CLOCK_BOOTTIME. */
const char *out_ago(uint64_t then_ns, uint64_t now_ns, char *buf, size_t len);
/* Time left until a CLOCK_BOOTTIME expiry: "9m58s", "forever" (0), "expired". */
const char *out_ttl(uint64_t expires_ns, uint64_t now_ns, char *buf, size_t len);
/* "2024-05-01 12:34:56" (local time) for a wall-clock second; "-" for 0. */
const char *out_wall(uint64_t unix_s, char *buf, size_t len);

/* The exit status of a program whose output went to stdout: ret, or (when
 * ret is 0) 1 when stdout could not be written (a full disk, /dev/full),
 * said on stderr as "PROG: cannot write the output...". A script must not
 * take a cut output for the whole. */
int out_stdout_status(const char *prog, int ret);

#endif /* CASTLE_OUT_H */
