/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * metrics.h - the Prometheus endpoint of castled (text format 0.0.4):
 * GET /metrics, GET /healthz. Counters are read from the maps and summed over
 * CPUs at scrape time; entry counts that would cost a walk of a million-entry
 * map come from a snapshot castled refreshes (after each apply, every tick),
 * the rate-limit tables' from a walk that is not taken at every scrape
 * (CASTLE_METRICS_RL_WALK_RATIO).
 */
#ifndef CASTLE_METRICS_H
#define CASTLE_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "apply.h"
#include "maps.h"
#include "persist.h"

struct castle_metrics;

/* What castled knows that the maps do not say cheaply. */
struct castle_metrics_snapshot {
	struct castle_apply_stats apply;	/* the live policy generation */
	struct castle_manual_counts manual;	/* the manual/auto maps */
};

/* Where the numbers come from. The TLS maps belong to the TC object and may
 * be missing (-1): their families are then empty. */
struct castle_metrics_src {
	const struct castle_maps *maps;
	int tls_results;	/* PERCPU_ARRAY of __u64 by CASTLE_TLS_RESULTS_KEY (tls.h) */
	int tls_pressure;	/* PERCPU_ARRAY of __u64 by enum castle_tls_pressure */
};

struct addrinfo;

/* Parse "ADDR:PORT" or "[V6]:PORT" (an empty ADDR means every address): a
 * numeric address and a port in 1..65535. 0 with *out to freeaddrinfo(), or
 * -EINVAL with a message. castled checks --metrics with it at start. */
int castle_metrics_addr(const char *spec, struct addrinfo **out, char *err, size_t errlen);

/* Connections the endpoint keeps open at once: in all, and from one client
 * address (a scraper needs one or two; past either limit a new connection
 * is closed at once). */
#define CASTLE_METRICS_CONNS 128
#define CASTLE_METRICS_PER_IP_CONNS 16

/* Bind addr_port ("127.0.0.1:9753", "[::1]:9753", "0.0.0.0:9753") and serve
 * from a thread of its own. -errno with a message on failure (e.g. the port
 * is taken). Called first thing, so a taken port fails castled before it
 * touches the kernel: every request is answered 503 until
 * castle_metrics_set_ready(), and src (kept, not copied) is read only after. */
int castle_metrics_start(struct castle_metrics **out, const char *addr_port,
			 const struct castle_metrics_src *src, char *err, size_t errlen);
/* Ready: the policy is live and every interface attached; /healthz answers
 * 200 "ok" from then on. */
void castle_metrics_set_ready(struct castle_metrics *mx, bool ready);
void castle_metrics_update(struct castle_metrics *mx, const struct castle_metrics_snapshot *s);
void castle_metrics_stop(struct castle_metrics *mx);

/* The tracked-source counts (castle_tracked_sources, castle_map_entries of
 * rl_state and rl_steady) come from a walk of both rate-limit tables, taken
 * again at a scrape once the last one is at least this many times as old as
 * it took, or when it took less than CASTLE_METRICS_RL_WALK_CHEAP_NS
 * (metrics.c, rl_counts). */
#define CASTLE_METRICS_RL_WALK_RATIO 100
#define CASTLE_METRICS_RL_WALK_CHEAP_NS 10000000ull
bool castle_metrics_rl_walk_due(uint64_t age_ns, uint64_t last_walk_ns);

/* ---- the HTTP endpoint's decisions (no libmicrohttpd: fuzzed and unit-tested) ---- */

#define CASTLE_METRICS_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

enum castle_metrics_body {
	CASTLE_MB_HEALTH,	/* 200 "ok" */
	CASTLE_MB_METRICS,	/* 200, the exposition (castle_metrics_render) */
	CASTLE_MB_NOT_FOUND,	/* 404: a path other than /metrics and /healthz */
	CASTLE_MB_NOT_ALLOWED,	/* 405: a method other than GET and HEAD */
	CASTLE_MB_BAD_REQUEST,	/* 400: a GET or HEAD that carries a body */
	CASTLE_MB_STARTING,	/* 503: not ready yet */
};

struct castle_metrics_reply {
	unsigned int status;		/* 200, 400, 404, 405 or 503 */
	enum castle_metrics_body body;
	const char *content_type;
	const char *text;		/* the fixed body; NULL for CASTLE_MB_METRICS */
	bool allow_header;		/* send "Allow: GET, HEAD" (the 405) */
};

/* The answer to METHOD URL (the path as libmicrohttpd hands it over: decoded,
 * without the query string), given whether the request carries a body and
 * whether castled is ready. A wrong method is 405 before a wrong path is 404,
 * before a body is 400 (nothing castled serves takes one), before the 503 of
 * a daemon that is still starting. NULL method or url count as wrong. */
void castle_metrics_route(const char *method, const char *url, bool has_body, bool ready,
			  struct castle_metrics_reply *out);

/* Whether a request announces a body, from its Content-Length and
 * Transfer-Encoding header values (NULL when absent): any Transfer-Encoding,
 * or a Content-Length other than digits that are all zero ("0", "00"). A
 * malformed length counts as a body (the request is refused). */
bool castle_metrics_announces_body(const char *content_length, const char *transfer_encoding);

/* The exposition text (malloc'ed, NUL terminated) for maps m and snapshot s;
 * what GET /metrics answers. NULL when out of memory. */
char *castle_metrics_render(const struct castle_metrics_src *src,
			    const struct castle_metrics_snapshot *s, size_t *len);

#endif /* CASTLE_METRICS_H */
