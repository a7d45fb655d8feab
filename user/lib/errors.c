// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* errors.c - the diagnostics list of errors.h. */
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "errors.h"

void castle_errors_init(struct castle_errors *e)
{
	memset(e, 0, sizeof(*e));
}

void castle_errors_clear(struct castle_errors *e)
{
	for (size_t i = 0; i < e->n; i++)
		free(e->v[i].msg);
	e->n = 0;
	e->nerrors = 0;
	e->nwarnings = 0;
}

void castle_errors_free(struct castle_errors *e)
{
	castle_errors_clear(e);
	free(e->v);
	memset(e, 0, sizeof(*e));
}

void castle_errors_add(struct castle_errors *e, enum castle_severity sev, const char *file,
		       unsigned int line, unsigned int col, const char *fmt, ...)
{
	char body[1024], where[512] = "";
	struct castle_diag *d;
	va_list ap;
	size_t len;

	if (sev == CASTLE_SEV_WARNING)
		e->nwarnings++;
	else
		e->nerrors++;
	if (e->n >= CASTLE_ERRORS_KEEP)
		return;
	if (e->n == e->cap) {
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

	if (file && line)
		snprintf(where, sizeof(where), "%s:%u:%u: ", file, line, col);
	else if (file)
		snprintf(where, sizeof(where), "%s: ", file);

	len = strlen(where) + strlen(body) + sizeof("warning: ");
	d = &e->v[e->n];
	d->msg = malloc(len);
	if (!d->msg)
		return;
	snprintf(d->msg, len, "%s%s%s", where, sev == CASTLE_SEV_WARNING ? "warning: " : "", body);
	d->sev = sev;
	d->line = line;
	d->col = col;
	e->n++;
}

static bool diag_before(const struct castle_diag *a, const struct castle_diag *b)
{
	return a->line < b->line || (a->line == b->line && a->col < b->col);
}

void castle_errors_sort(struct castle_errors *e)
{
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
