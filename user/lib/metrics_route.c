// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics_route.c - what castled's HTTP endpoint answers, decided from the
 * method, the path and whether castled is ready (metrics.h). No libmicrohttpd
 * here: the HTTP callback in metrics.c only carries the decision out, so the
 * decision can be fuzzed and unit-tested on its own.
 */
#include <string.h>

#include "metrics.h"

void castle_metrics_route(const char *method, const char *url, bool has_body, bool ready,
			  struct castle_metrics_reply *out)
{
	static const struct castle_metrics_reply replies[] = {
		[CASTLE_MB_HEALTH] = { 200, CASTLE_MB_HEALTH, "text/plain", "ok\n", false },
		[CASTLE_MB_METRICS] = { 200, CASTLE_MB_METRICS, CASTLE_METRICS_CONTENT_TYPE, NULL,
					false },
		[CASTLE_MB_NOT_FOUND] = { 404, CASTLE_MB_NOT_FOUND, "text/plain", "not found\n",
					  false },
		[CASTLE_MB_NOT_ALLOWED] = { 405, CASTLE_MB_NOT_ALLOWED, "text/plain",
					    "method not allowed\n", true },
		[CASTLE_MB_BAD_REQUEST] = { 400, CASTLE_MB_BAD_REQUEST, "text/plain",
					    "a GET or HEAD request carries no body\n", false },
		[CASTLE_MB_STARTING] = { 503, CASTLE_MB_STARTING, "text/plain", "starting\n",
					 false },
	};
	enum castle_metrics_body b;
	bool health = url && !strcmp(url, "/healthz"), metrics = url && !strcmp(url, "/metrics");

	/* Methods are case-sensitive (RFC 9110 9.1); HEAD is GET without the body,
	 * which libmicrohttpd leaves out by itself. */
	if (!method || (strcmp(method, "GET") && strcmp(method, "HEAD")))
		b = CASTLE_MB_NOT_ALLOWED;
	else if (!health && !metrics)
		b = CASTLE_MB_NOT_FOUND;
	else if (has_body)
		b = CASTLE_MB_BAD_REQUEST;
	/* Before ready the maps may not even be open: nothing to report. */
	else if (!ready)
		b = CASTLE_MB_STARTING;
	else
		b = health ? CASTLE_MB_HEALTH : CASTLE_MB_METRICS;
	*out = replies[b];
}

bool castle_metrics_announces_body(const char *content_length, const char *transfer_encoding)
{
	if (transfer_encoding)
		return true;
	if (!content_length)
		return false;
	if (!*content_length)
		return true;
	for (const char *p = content_length; *p; p++)
		if (*p != '0')
			return true;
	return false;
}
