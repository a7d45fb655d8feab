// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_metrics_http.c - castled's HTTP endpoint: castle_metrics_route's
 * decisions, then a real libmicrohttpd daemon (castle_metrics_start on a free
 * 127.0.0.1 port) fed raw, malformed HTTP over a socket: garbage request
 * lines, NUL bytes, a huge header, POST bodies, pipelined requests, non-ASCII
 * paths. Each gets a 4xx (or the connection closed), never a 200 it should
 * not, and the daemon keeps answering. The maps behind the exposition are
 * absent (every fd -1): the families are rendered empty. No root needed.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>
#include <cmocka.h>

#include "metrics.h"

/* ---- the decision ------------------------------------------------------- */

static void route_body_is(const char *method, const char *url, bool has_body, bool ready,
			  unsigned int status, enum castle_metrics_body body)
{
	struct castle_metrics_reply r;

	castle_metrics_route(method, url, has_body, ready, &r);
	if (r.status != status || r.body != body)
		fail_msg("%s %s (body %d, ready %d): %u/%d, expected %u/%d",
			 method ? method : "(null)", url ? url : "(null)", has_body, ready, r.status,
			 (int)r.body, status, (int)body);
	assert_true(r.allow_header == (status == 405));
	assert_non_null(r.content_type);
	if (body == CASTLE_MB_METRICS) {
		assert_null(r.text);
		assert_string_equal(r.content_type, "text/plain; version=0.0.4; charset=utf-8");
	} else {
		assert_non_null(r.text);
		assert_string_equal(r.content_type, "text/plain");
	}
}

static void route_is(const char *method, const char *url, bool ready, unsigned int status,
		     enum castle_metrics_body body)
{
	route_body_is(method, url, false, ready, status, body);
}

/* The rate-limit tables are walked again at a scrape once the last walk is
 * CASTLE_METRICS_RL_WALK_RATIO times as old as it took: a 0.4 s walk (a
 * million sources) every 40 s; one under 10 ms (a few thousand sources, an
 * empty table) at every scrape. */
static void rl_walk_is_taken_by_its_own_cost(void **state)
{
	const uint64_t ms = 1000000;

	(void)state;
	assert_true(castle_metrics_rl_walk_due(0, 0));
	assert_true(castle_metrics_rl_walk_due(0, 9 * ms));
	assert_false(castle_metrics_rl_walk_due(0, 10 * ms));
	assert_false(castle_metrics_rl_walk_due(999 * ms, 10 * ms));
	assert_true(castle_metrics_rl_walk_due(1000 * ms, 10 * ms));
	assert_false(castle_metrics_rl_walk_due(39 * 1000 * ms, 400 * ms));
	assert_true(castle_metrics_rl_walk_due(40 * 1000 * ms, 400 * ms));
}

static void route_answers_get_and_head_of_two_paths(void **state)
{
	(void)state;
	route_is("GET", "/metrics", true, 200, CASTLE_MB_METRICS);
	route_is("HEAD", "/metrics", true, 200, CASTLE_MB_METRICS);
	route_is("GET", "/healthz", true, 200, CASTLE_MB_HEALTH);
	route_is("HEAD", "/healthz", true, 200, CASTLE_MB_HEALTH);
	route_is("GET", "/", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "/metrics/", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "/metricsx", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "//metrics", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "/METRICS", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "/healthz ", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", "http://127.0.0.1/metrics", true, 404, CASTLE_MB_NOT_FOUND);
	route_is("GET", NULL, true, 404, CASTLE_MB_NOT_FOUND);
}

static void route_refuses_other_methods_first(void **state)
{
	static const char *const methods[] = { "POST", "PUT", "DELETE", "OPTIONS", "TRACE",
					       "CONNECT", "PATCH", "get", "Get", "GET ", "GETS",
					       "HEADER", "", "\xff" };

	(void)state;
	for (size_t i = 0; i < sizeof(methods) / sizeof(methods[0]); i++) {
		/* 405 whatever the path and however ready: the method is wrong first. */
		route_is(methods[i], "/metrics", true, 405, CASTLE_MB_NOT_ALLOWED);
		route_is(methods[i], "/nope", false, 405, CASTLE_MB_NOT_ALLOWED);
	}
	route_is(NULL, "/metrics", true, 405, CASTLE_MB_NOT_ALLOWED);
}

static void route_refuses_a_body_on_get_and_head(void **state)
{
	(void)state;
	route_body_is("GET", "/metrics", true, true, 400, CASTLE_MB_BAD_REQUEST);
	route_body_is("HEAD", "/healthz", true, false, 400, CASTLE_MB_BAD_REQUEST);
	/* The method and the path are judged first. */
	route_body_is("POST", "/metrics", true, true, 405, CASTLE_MB_NOT_ALLOWED);
	route_body_is("GET", "/nope", true, true, 404, CASTLE_MB_NOT_FOUND);
}

static void body_announced_by_length_or_encoding(void **state)
{
	(void)state;
	assert_false(castle_metrics_announces_body(NULL, NULL));
	assert_false(castle_metrics_announces_body("0", NULL));
	assert_false(castle_metrics_announces_body("00", NULL));
	assert_true(castle_metrics_announces_body("1", NULL));
	assert_true(castle_metrics_announces_body("10", NULL));
	assert_true(castle_metrics_announces_body("", NULL));	  /* malformed: refused */
	assert_true(castle_metrics_announces_body("0x0", NULL)); /* not digits */
	assert_true(castle_metrics_announces_body(NULL, "chunked"));
	assert_true(castle_metrics_announces_body("0", "chunked"));
}

static void route_is_503_while_starting_for_known_paths_only(void **state)
{
	(void)state;
	route_is("GET", "/metrics", false, 503, CASTLE_MB_STARTING);
	route_is("HEAD", "/healthz", false, 503, CASTLE_MB_STARTING);
	route_is("GET", "/nope", false, 404, CASTLE_MB_NOT_FOUND);
}

/* ---- a real daemon, raw requests ---------------------------------------- */

struct live {
	struct castle_maps maps;
	struct castle_metrics_src src;
	struct castle_metrics *mx;
	int port;
};

static int free_port(void)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof(a);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	if (fd >= 0 && !bind(fd, (struct sockaddr *)&a, sizeof(a)) &&
	    !getsockname(fd, (struct sockaddr *)&a, &len))
		port = ntohs(a.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static int live_setup(void **state)
{
	struct live *l = calloc(1, sizeof(*l));
	char addr[64], err[256];

	if (!l)
		return -1;
	memset(&l->maps, 0xff, sizeof(l->maps)); /* every fd -1 */
	l->maps.man_count_mem = NULL;
	l->maps.man_slots_mem = NULL;
	l->maps.man_slots_len = 0;
	l->maps.man_words_cap = 0;
	l->maps.owned = false;
	l->src = (struct castle_metrics_src){ .maps = &l->maps, .tls_results = -1,
					      .tls_pressure = -1 };
	/* The port found free may be taken again before we bind it: retry. */
	for (int i = 0; i < 20 && !l->mx; i++) {
		l->port = free_port();
		snprintf(addr, sizeof(addr), "127.0.0.1:%d", l->port);
		if (l->port > 0 && castle_metrics_start(&l->mx, addr, &l->src, err, sizeof(err)))
			fprintf(stderr, "# %s\n", err);
	}
	if (!l->mx) {
		free(l);
		return -1;
	}
	*state = l;
	return 0;
}

static int live_teardown(void **state)
{
	struct live *l = *state;

	castle_metrics_stop(l->mx);
	free(l);
	return 0;
}

/* Send req (len bytes) on a new connection, read until the server closes or
 * 3 s pass; the reply, NUL terminated, in a malloc'ed string. */
static char *exchange(int port, const char *req, size_t len, size_t *got)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	size_t cap = 1 << 16, n = 0, off = 0;
	char *buf = malloc(cap + 1);
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_non_null(buf);
	assert_true(fd >= 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	/* The server may answer and close before it has read everything (a
	 * huge header, a refused body): stop sending then. */
	while (off < len) {
		ssize_t w = send(fd, req + off, len - off, MSG_NOSIGNAL);
		if (w <= 0)
			break;
		off += w;
	}
	for (;;) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		ssize_t r;

		if (poll(&p, 1, 3000) <= 0)
			break;
		r = recv(fd, buf + n, cap - n, 0);
		if (r <= 0)
			break;
		n += r;
		if (n == cap) {
			char *b = realloc(buf, 2 * cap + 1);
			assert_non_null(b);
			buf = b;
			cap *= 2;
		}
	}
	close(fd);
	buf[n] = 0;
	*got = n;
	return buf;
}

/* The status codes of every response in the reply, in order; their count. */
static int statuses(const char *reply, size_t n, int *codes, int max)
{
	int k = 0;

	for (const char *p = reply; p && p < reply + n && k < max;) {
		p = memmem(p, reply + n - p, "HTTP/1.", 7);
		if (!p)
			break;
		if (p + 12 <= reply + n && p[8] == ' ' && (p == reply || p[-1] == '\n'))
			codes[k++] = atoi(p + 9);
		p += 7;
	}
	return k;
}

static void healthz_answers(const struct live *l, int want)
{
	static const char req[] = "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	size_t n;
	char *r = exchange(l->port, req, sizeof(req) - 1, &n);
	int codes[4];

	if (statuses(r, n, codes, 4) != 1 || codes[0] != want)
		fail_msg("GET /healthz: expected one %d, got '%.200s'", want, r);
	free(r);
}

#define ANY_4XX 4	/* in want[]: any status 400..499 */
#define OK_OR_4XX 2	/* in want[]: 200 or any 4xx */

/* req must get exactly the status codes want[] (0 ends), or, where
 * allow_close, no response at all (the connection closed). */
static void expect(const struct live *l, const char *what, const char *req, size_t len,
		   const int *want, bool allow_close)
{
	int codes[8], k, nwant = 0;
	size_t n;
	char *r = exchange(l->port, req, len, &n);

	while (want[nwant])
		nwant++;
	k = statuses(r, n, codes, 8);
	if (!(k == 0 && allow_close)) {
		bool ok = k == nwant;
		for (int i = 0; ok && i < k; i++)
			ok = want[i] == ANY_4XX	    ? codes[i] >= 400 && codes[i] < 500
			     : want[i] == OK_OR_4XX ? codes[i] == 200 || (codes[i] >= 400 && codes[i] < 500)
						    : codes[i] == want[i];
		if (!ok)
			fail_msg("%s: got %d responses (first %d), expected %d (first %d): '%.300s'",
				 what, k, k ? codes[0] : 0, nwant, want[0], r);
	}
	free(r);
}

#define EXPECT(l, what, req, allow_close, ...)                                          \
	expect(l, what, req, sizeof(req) - 1, (const int[]){ __VA_ARGS__, 0 }, allow_close)

static void live_daemon_refuses_malformed_requests(void **state)
{
	struct live *l = *state;
	char *huge;
	size_t hlen = 256 * 1024;

	castle_metrics_set_ready(l->mx, false);
	healthz_answers(l, 503);
	castle_metrics_set_ready(l->mx, true);
	healthz_answers(l, 200);

	EXPECT(l, "garbage request line", "HELLO\r\n\r\n", true, 400);
	EXPECT(l, "binary garbage", "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n", true, 400);
	/* libmicrohttpd reads the path up to the NUL: "/heal", a 404. */
	EXPECT(l, "NUL in the request line", "GET /heal\0thz HTTP/1.1\r\nHost: x\r\n\r\n", true,
	       ANY_4XX);
	/* RFC 9110 5.5 lets a recipient refuse it or not; libmicrohttpd 0.9.75
	 * takes it (the header is never read), so /healthz may answer. */
	EXPECT(l, "NUL in a header",
	       "GET /healthz HTTP/1.1\r\nHost: x\r\nX-A: b\0c\r\nConnection: close\r\n\r\n", true,
	       OK_OR_4XX);
	/* Required by RFC 9112 3.2, refused only by a strict libmicrohttpd. */
	EXPECT(l, "no Host in HTTP/1.1", "GET /healthz HTTP/1.1\r\nConnection: close\r\n\r\n", true,
	       OK_OR_4XX);
	EXPECT(l, "unknown HTTP version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", true, 505);
	EXPECT(l, "header without a colon", "GET /healthz HTTP/1.1\r\nHost: x\r\nbogus\r\n\r\n", true,
	       400);
	EXPECT(l, "non-ASCII path", "GET /m\xc3\xa9trics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       false, 404);
	EXPECT(l, "lower-case method", "get /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       false, 405);
	EXPECT(l, "POST with a body",
	       "POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 11\r\nConnection: close\r\n\r\n"
	       "hello world", false, 405);
	EXPECT(l, "POST with a chunked body",
	       "POST /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n"
	       "Connection: close\r\n\r\n5\r\nhello\r\n0\r\n\r\n", false, 405);
	EXPECT(l, "PUT announcing a body it never sends",
	       "PUT /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100000000\r\n\r\n", false, 405);
	/* Successes keep the connection; a refusal is sent at once and closes it
	 * (whatever follows is discarded unread). */
	EXPECT(l, "pipelined: 200, 200, 200",
	       "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	       "HEAD /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       false, 200, 200, 200);
	EXPECT(l, "pipelined: 200, 404, then closed",
	       "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	       "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
	       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       false, 200, 404);
	EXPECT(l, "pipelined: 405 first, then closed",
	       "DELETE /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
	       "GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
	       false, 405);
	EXPECT(l, "GET with a body",
	       "GET /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", false, 400);
	EXPECT(l, "HEAD with a chunked body",
	       "HEAD /healthz HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
	       "5\r\nhello\r\n0\r\n\r\n", true, 400);
	EXPECT(l, "GET with Content-Length: 0",
	       "GET /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
	       false, 200);
	EXPECT(l, "query string on /healthz",
	       "GET /healthz?x=1&y HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", false, 200);
	EXPECT(l, "exposition", "GET /metrics HTTP/1.0\r\n\r\n", false, 200);

	/* A header far beyond libmicrohttpd's connection memory (32 KiB). */
	huge = malloc(hlen + 64);
	assert_non_null(huge);
	int n = snprintf(huge, hlen + 64, "GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ");
	memset(huge + n, 'a', hlen);
	memcpy(huge + n + hlen, "\r\n\r\n", 4);
	expect(l, "256 KiB header", huge, n + hlen + 4, (const int[]){ 431, 0 }, true);
	/* Many short headers adding up to the same. */
	size_t off = snprintf(huge, hlen + 64, "GET /healthz HTTP/1.1\r\nHost: x\r\n");
	while (off + 16 < hlen)
		off += snprintf(huge + off, hlen + 64 - off, "X-%06zu: y\r\n", off);
	off += snprintf(huge + off, hlen + 64 - off, "\r\n");
	expect(l, "thousands of headers", huge, off, (const int[]){ 431, 0 }, true);
	free(huge);

	/* Still up, still right. */
	healthz_answers(l, 200);
}

/* A connection from 127.0.0.2 to the endpoint, left idle. */
static int idle_conn_from(int port, const char *src)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct sockaddr_in b = { .sin_family = AF_INET };
	int fd = socket(AF_INET, SOCK_STREAM, 0);

	assert_true(fd >= 0);
	assert_int_equal(inet_pton(AF_INET, src, &b.sin_addr), 1);
	assert_int_equal(bind(fd, (struct sockaddr *)&b, sizeof(b)), 0);
	assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof(a)), 0);
	return fd;
}

/* True when the server closes fd within wait_ms (recv sees EOF or a reset). */
static bool closed_by_server(int fd, int wait_ms)
{
	struct pollfd p = { .fd = fd, .events = POLLIN };
	char c;

	if (poll(&p, 1, wait_ms) <= 0)
		return false;
	return recv(fd, &c, 1, 0) <= 0;
}

/* One address holding idle connections (a slow client, or one trickling a
 * header in) gets CASTLE_METRICS_PER_IP_CONNS of them; the next is closed at
 * once, and another address is still answered. */
static void live_daemon_limits_connections_per_address(void **state)
{
	struct live *l = *state;
	int fds[CASTLE_METRICS_PER_IP_CONNS], extra;

	castle_metrics_set_ready(l->mx, true);
	for (int i = 0; i < CASTLE_METRICS_PER_IP_CONNS; i++) {
		fds[i] = idle_conn_from(l->port, "127.0.0.2");
		/* half of them trickle a request line in */
		if (i % 2)
			assert_int_equal(send(fds[i], "GET /me", 7, MSG_NOSIGNAL), 7);
	}
	extra = idle_conn_from(l->port, "127.0.0.2");
	if (!closed_by_server(extra, 2000))
		fail_msg("connection %d from one address was kept open",
			 CASTLE_METRICS_PER_IP_CONNS + 1);
	close(extra);
	healthz_answers(l, 200); /* from 127.0.0.1 */
	/* the first ones stay (until the 10 s idle timeout) */
	for (int i = 0; i < CASTLE_METRICS_PER_IP_CONNS; i++)
		assert_false(closed_by_server(fds[i], 0));
	for (int i = 0; i < CASTLE_METRICS_PER_IP_CONNS; i++)
		close(fds[i]);
}

static void live_exposition_has_type_and_families(void **state)
{
	static const char req[] = "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char head[] = "HEAD /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	static const char post[] = "POST /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
	struct live *l = *state;
	size_t n;
	char *r;

	castle_metrics_set_ready(l->mx, true);
	r = exchange(l->port, req, sizeof(req) - 1, &n);
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_non_null(strstr(r, "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"));
	assert_non_null(strstr(r, "# TYPE castle_packets_total counter\n"));
	assert_non_null(strstr(r, "# TYPE castle_build_info gauge\n"));
	free(r);
	/* HEAD: the same headers, no body. */
	r = exchange(l->port, head, sizeof(head) - 1, &n);
	assert_non_null(strstr(r, "HTTP/1.1 200"));
	assert_null(strstr(r, "# TYPE"));
	free(r);
	r = exchange(l->port, post, sizeof(post) - 1, &n);
	assert_non_null(strstr(r, "HTTP/1.1 405"));
	assert_non_null(strstr(r, "\r\nAllow: GET, HEAD\r\n"));
	free(r);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(rl_walk_is_taken_by_its_own_cost),
		cmocka_unit_test(route_answers_get_and_head_of_two_paths),
		cmocka_unit_test(route_refuses_other_methods_first),
		cmocka_unit_test(route_refuses_a_body_on_get_and_head),
		cmocka_unit_test(route_is_503_while_starting_for_known_paths_only),
		cmocka_unit_test(body_announced_by_length_or_encoding),
		cmocka_unit_test_setup_teardown(live_daemon_refuses_malformed_requests, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(live_daemon_limits_connections_per_address, live_setup,
						live_teardown),
		cmocka_unit_test_setup_teardown(live_exposition_has_type_and_families, live_setup,
						live_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
