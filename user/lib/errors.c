// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* errors.c - the diagnostics list of errors.h. */
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"
#include "units.h"

void castle_errors_init(struct castle_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void castle_errors_clear(struct castle_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].msg);
	e->n = 0;
	e->worst_known = false;
	e->nerrors = 0;
	e->nwarnings = 0;
}

void castle_errors_free(struct castle_errors *e)
{
	castle_errors_clear(e);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

static bool diag_before(const struct castle_diag *a, const struct castle_diag *b);

/* Whether a ranks worse than b for keeping: a warning below an error, then
 * the later in the file. */
static bool diag_worse(const struct castle_diag *a, const struct castle_diag *b)
{
	return a->sev > b->sev || (a->sev == b->sev && diag_before(b, a));
}

/* The kept diagnostic a new one at (line, col) of severity sev replaces once
 * CASTLE_ERRORS_KEEP are kept, or -1 to drop the new one: errors before
 * warnings, then the earliest in the file. The worst kept one is remembered
 * (e->worst) and found again only after a replacement, so diagnostics that
 * come in file order, the usual case, are dropped at once. */
static long errors_victim(struct castle_errors *e, enum castle_severity sev, unsigned int line,
			  unsigned int col)
{
	const struct castle_diag nd = { .sev = sev, .line = line, .col = col };

	if (!e->n)
		return -1;
	if (!e->worst_known) {
		e->worst = 0;
		for (size_t i = 1; i < e->n; i++)
			if (diag_worse(&e->v[i], &e->v[e->worst]))
				e->worst = i;
		e->worst_known = true;
	}
	if (!diag_worse(&e->v[e->worst], &nd))
		return -1;
	e->worst_known = false; /* it is being replaced */
	return (long)e->worst;
}

void castle_errors_add(struct castle_errors *e, enum castle_severity sev, const char *file,
		       unsigned int line, unsigned int col, const char *fmt, ...)
{
	char body[1024], ebody[4 * sizeof(body)], *where = NULL;
	struct castle_diag *d;
	va_list ap;
	size_t len;
	long slot = -1;
	int w;

	if (sev == CASTLE_SEV_WARNING)
		e->nwarnings++;
	else
		e->nerrors++;
	if (e->n >= CASTLE_ERRORS_KEEP) {
		slot = errors_victim(e, sev, line, col);
		if (slot < 0)
			return;
	} else if (e->n == e->cap) {
		size_t cap = e->cap ? e->cap * 2 : 16;
		struct castle_diag *v = realloc(e->v, cap * sizeof(*v));

		if (!v)
			return;	/* out of memory: the counts still say it failed */
		e->v = v;
		e->cap = cap;
	}

	va_start(ap, fmt);
	vsnprintf(body, sizeof(body), fmt, ap);
	va_end(ap);
	/* Messages quote the input (keys, values, file names): its control
	 * characters are escaped, so a diagnostic stays one line of plain text
	 * (no forged log lines, no terminal escapes). */
	castle_text_escape(body, ebody, sizeof(ebody));

	if (file) {
		size_t flen = strlen(file);
		char *efile = malloc(4 * flen + 1);

		if (!efile)
			return;
		castle_text_escape(file, efile, 4 * flen + 1);
		w = line ? asprintf(&where, "%s:%u:%u: ", efile, line, col)
			 : asprintf(&where, "%s: ", efile);
		free(efile);
		if (w < 0)
			return;
	}

	len = (where ? strlen(where) : 0) + strlen(ebody) + sizeof("warning: ");
	char *msg = malloc(len);
	if (!msg) {
		free(where);
		return;
	}
	snprintf(msg, len, "%s%s%s", where ? where : "", sev == CASTLE_SEV_WARNING ? "warning: " : "",
		 ebody);
	free(where);
	if (slot >= 0) {
		d = &e->v[slot];
		free(d->msg);
	} else {
		d = &e->v[e->n++];
	}
	d->msg = msg;
	d->sev = sev;
	d->line = line;
	d->col = col;
}

static bool diag_before(const struct castle_diag *a, const struct castle_diag *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

void castle_errors_sort(struct castle_errors *e)
{
	e->worst_known = false; /* its index moves */
	/* insertion sort: stable, and at most CASTLE_ERRORS_KEEP entries */
	for (size_t i = 1; i < e->n; i++) {
		struct castle_diag d = e->v[i];
		size_t j = i;

		for (; j > 0 && diag_before(&d, &e->v[j - 1]); j--)
			e->v[j] = e->v[j - 1];
		e->v[j] = d;
	}
}

void castle_errors_print(const struct castle_errors *e, FILE *f)
{
	size_t total = e->nerrors + e->nwarnings;

	for (size_t i = 0; i < e->n; i++)
		fprintf(f, "%s\n", e->v[i].msg);
	if (total > e->n)
		fprintf(f, "... and %zu more\n", total - e->n);
}
