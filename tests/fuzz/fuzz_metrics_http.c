// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_metrics_http.c - castle_metrics_route, the decision castled's HTTP
 * endpoint takes for each request, on arbitrary methods and paths. Input:
 * the first byte's bit 0 says whether castled is ready, bit 1 whether the
 * request carries a body; the rest is METHOD,
 * then a NUL or newline, then the path (to the next NUL). Invariants: the
 * status is 200, 400, 404, 405 or 503; 200 only for a GET/HEAD without a body
 * of exactly /metrics or /healthz once ready; the reply agrees with an independent model of the
 * rules in metrics.h, carries a content type, a fixed body for everything but
 * the exposition, and "Allow" exactly on the 405. The path's bytes also go
 * to castle_metrics_announces_body as a Content-Length value.
 */
#include <stdint.h>

#include "metrics.h"
#include "fuzz_common.h"

static unsigned int model(const char *method, const char *url, bool body, bool ready)
{
	bool get = !strcmp(method, "GET") || !strcmp(method, "HEAD");
	bool known = !strcmp(url, "/metrics") || !strcmp(url, "/healthz");

	return !get ? 405 : !known ? 404 : body ? 400 : !ready ? 503 : 200;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct castle_metrics_reply r;
	char *buf, *method, *url, *cut;
	bool ready, body;

	if (size < 1 || size > 8192)
		return 0;
	ready = data[0] & 1;
	body = data[0] & 2;
	buf = fuzz_str(data + 1, size - 1, size - 1);
	method = buf;
	cut = strchr(buf, '\n');
	if (cut) {
		*cut = '\0';
		url = cut + 1;
	} else {
		/* A NUL split (or nothing): the path is what follows the first NUL. */
		size_t mlen = strlen(buf);
		url = mlen < size - 1 ? buf + mlen + 1 : buf + mlen;
	}

	memset(&r, 0xa5, sizeof(r));
	castle_metrics_route(method, url, body, ready, &r);
	FUZZ_CHECK(r.status == 200 || r.status == 400 || r.status == 404 || r.status == 405 ||
			   r.status == 503,
		   "status %u for '%s' '%s'", r.status, method, url);
	FUZZ_CHECK(r.status == model(method, url, body, ready), "status %u for '%s' '%s' (body %d, "
		   "ready %d), expected %u", r.status, method, url, body, ready,
		   model(method, url, body, ready));
	FUZZ_CHECK(r.status != 200 || ((!strcmp(method, "GET") || !strcmp(method, "HEAD")) &&
				       (!strcmp(url, "/metrics") || !strcmp(url, "/healthz")) &&
				       ready && !body),
		   "200 for '%s' '%s'", method, url);
	FUZZ_CHECK(r.content_type && r.content_type[0], "no content type for '%s' '%s'", method, url);
	FUZZ_CHECK((r.body == CASTLE_MB_METRICS) == (r.status == 200 && !strcmp(url, "/metrics")),
		   "body kind %d for '%s' '%s'", (int)r.body, method, url);
	FUZZ_CHECK(r.body == CASTLE_MB_METRICS ? r.text == NULL && !strcmp(r.content_type,
			   CASTLE_METRICS_CONTENT_TYPE) : r.text && r.text[0] && strchr(r.text, '\n'),
		   "body text for '%s' '%s'", method, url);
	FUZZ_CHECK(r.allow_header == (r.status == 405), "Allow header on a %u", r.status);

	/* The header check, on the same bytes as header values: a body unless
	 * absent or all zero digits; any Transfer-Encoding is a body. */
	bool zeros = url[0] != '\0';
	for (const char *p = url; *p; p++)
		zeros = zeros && *p == '0';
	FUZZ_CHECK(castle_metrics_announces_body(url, NULL) == !zeros,
		   "Content-Length '%s': body %d", url, castle_metrics_announces_body(url, NULL));
	FUZZ_CHECK(castle_metrics_announces_body(url, method), "Transfer-Encoding not a body");
	FUZZ_CHECK(!castle_metrics_announces_body(NULL, NULL), "no headers, a body");

	/* NULL method or path (libmicrohttpd never passes one): never a 200. */
	castle_metrics_route(NULL, url, body, ready, &r);
	FUZZ_CHECK(r.status == 405, "NULL method: %u", r.status);
	castle_metrics_route(method, NULL, body, ready, &r);
	FUZZ_CHECK(r.status == 405 || r.status == 404, "NULL path: %u", r.status);
	free(buf);
	return 0;
}
