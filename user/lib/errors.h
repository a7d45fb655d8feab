/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * errors.h - a list of diagnostics ("FILE:LINE:COL: message"), so a parser can
 * report every problem of an input at once instead of stopping at the first.
 */
#ifndef CASTLE_ERRORS_H
#define CASTLE_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum castle_severity {
	CASTLE_SEV_ERROR = 0,
	CASTLE_SEV_WARNING = 1,
};

struct castle_diag {
	enum castle_severity sev;
	unsigned int line;	/* 1-based; 0 = the whole file */
	unsigned int col;	/* 1-based */
	char *msg;		/* fully formatted: "FILE:LINE:COL: message" */
};

/* Only CASTLE_ERRORS_KEEP diagnostics are kept (a 1M-line file with one
 * mistake repeated must not produce a 1M-line report): errors before
 * warnings, then the earliest in the file, whatever order they were found
 * in; the counts below are always exact. Messages have their control
 * characters escaped (castle_text_escape). */
#define CASTLE_ERRORS_KEEP 1000

struct castle_errors {
	struct castle_diag *v;
	size_t n, cap;
	size_t worst;		/* once full: the kept one a better diagnostic replaces */
	bool worst_known;	/* worst is up to date */
	size_t nerrors;		/* errors seen (kept or not) */
	size_t nwarnings;	/* warnings seen (kept or not) */
};

void castle_errors_init(struct castle_errors *e);
void castle_errors_free(struct castle_errors *e);
void castle_errors_clear(struct castle_errors *e);

/* Adds "FILE:LINE:COL: msg" (warnings: "FILE:LINE:COL: warning: msg").
 * line == 0 gives "FILE: msg"; file == NULL gives just the message. */
void castle_errors_add(struct castle_errors *e, enum castle_severity sev, const char *file,
		       unsigned int line, unsigned int col, const char *fmt, ...)
	__attribute__((format(printf, 6, 7)));

/* Sort the kept diagnostics by line and column (stable), so a report reads in
 * file order even when some checks ran over sorted data. */
void castle_errors_sort(struct castle_errors *e);

/* Prints every kept diagnostic, one per line, then "... and N more" if some
 * were dropped. */
void castle_errors_print(const struct castle_errors *e, FILE *f);

#endif /* CASTLE_ERRORS_H */
