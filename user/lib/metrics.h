/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics.h - the Prometheus endpoint of castled (text format 0.0.4):
 * GET /metrics, GET /healthz. Counters are read from the maps and summed over
 * CPUs at scrape time; entry counts that would cost a walk of a million-entry
 * map come from a snapshot castled refreshes (after each apply, every tick).
 */
#ifndef CASTLE_METRICS_H
#define CASTLE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include "apply.h"
#include "maps.h"
#include "persist.h"

struct castle_metrics;

/* What castled knows that the maps do not say cheaply. */
struct castle_metrics_snapshot {
	struct castle_apply_stats apply;	/* the live policy generation */
	struct castle_manual_counts manual;	/* the manual/auto maps */
};

/* Bind addr_port ("127.0.0.1:9753", "[::1]:9753", "0.0.0.0:9753") and serve
 * from a thread of its own. -errno with a message on failure (e.g. the port
 * is taken). */
int castle_metrics_start(struct castle_metrics **out, const char *addr_port,
			 const struct castle_maps *m, char *err, size_t errlen);
/* /healthz answers 503 until castled says it is ready (policy live and
 * every interface attached), then 200 "ok". */
void castle_metrics_set_ready(struct castle_metrics *mx, bool ready);
void castle_metrics_update(struct castle_metrics *mx, const struct castle_metrics_snapshot *s);
void castle_metrics_stop(struct castle_metrics *mx);

/* The exposition text (malloc'ed, NUL terminated) for maps m and snapshot s;
 * what GET /metrics answers. NULL when out of memory. */
char *castle_metrics_render(const struct castle_maps *m, const struct castle_metrics_snapshot *s,
			    size_t *len);

#endif /* CASTLE_METRICS_H */
