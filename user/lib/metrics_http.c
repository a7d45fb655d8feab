// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics_http.c - see metrics.h: castled's HTTP endpoint (libmicrohttpd, a
 * thread of its own) around castle_metrics_render (metrics.c) and
 * castle_metrics_route (metrics_route.c).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>
#include <microhttpd.h>

#include "metrics.h"

struct castle_metrics {
	struct MHD_Daemon *d;
	int fd;
	const struct castle_metrics_src *src;	/* read only once ready */
	pthread_mutex_t lock;
	struct castle_metrics_snapshot snap;	/* under lock */
	bool ready;				/* under lock */
};

static enum MHD_Result reply(struct MHD_Connection *c, unsigned int code, const char *type,
			     char *body, size_t len, bool owned, bool allow)
{
	struct MHD_Response *r = MHD_create_response_from_buffer(
		len, body, owned ? MHD_RESPMEM_MUST_FREE : MHD_RESPMEM_PERSISTENT);
	enum MHD_Result ret;

	if (!r) {
		if (owned)
			free(body);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, type);
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
	ret = MHD_queue_response(c, code, r);
	MHD_destroy_response(r);
	return ret;
}

/* A request announces a body with a Content-Length other than 0 or with a
 * Transfer-Encoding (RFC 9112 6.1-6.3). */
static bool announces_body(struct MHD_Connection *c)
{
	return castle_metrics_announces_body(
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH),
		MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING));
}

/* What to answer is castle_metrics_route's decision; here it is only carried
 * out (and the exposition rendered). libmicrohttpd calls this first with the
 * headers only, then with each piece of body, then once more at the end. A
 * refusal is queued at once: libmicrohttpd then discards any body unread and
 * closes the connection. A success waits for the last call, so that the
 * request is complete and the connection can be kept alive (queued earlier, a
 * response always closes it). */
static enum MHD_Result handle(void *cls, struct MHD_Connection *c, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **con_cls)
{
	static char oom[] = "out of memory\n";
	static int headers_seen; /* *con_cls after the first call */
	struct castle_metrics *mx = cls;
	struct castle_metrics_snapshot snap;
	struct castle_metrics_reply r;
	bool first = *con_cls != &headers_seen, body;
	size_t len = 0;
	bool ready;
	char *text;

	(void)version;
	(void)upload;
	body = announces_body(c) || *upload_size;
	pthread_mutex_lock(&mx->lock);
	snap = mx->snap;
	ready = mx->ready;
	pthread_mutex_unlock(&mx->lock);
	castle_metrics_route(method, url, body, ready, &r);
	if (first && r.status == MHD_HTTP_OK) {
		*con_cls = &headers_seen;
		return MHD_YES;
	}
	*upload_size = 0;
	if (r.body != CASTLE_MB_METRICS)
		/* MHD_RESPMEM_PERSISTENT: MHD neither frees nor writes the text. */
		return reply(c, r.status, r.content_type, (char *)r.text, strlen(r.text), false,
			     r.allow_header);
	text = castle_metrics_render(mx->src, &snap, &len);
	if (!text)
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "text/plain", oom, sizeof(oom) - 1,
			     false, false);
	return reply(c, r.status, r.content_type, text, len, true, false);
}

int castle_metrics_addr(const char *spec, struct addrinfo **out, char *err, size_t errlen)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_NUMERICHOST | AI_NUMERICSERV | AI_PASSIVE };
	char host[128], *port;
	unsigned long n;
	char *end;
	int e;

	*out = NULL;
	if (strlen(spec) >= sizeof(host)) {
		snprintf(err, errlen, "metrics address %.40s...: too long", spec);
		return -EINVAL;
	}
	if (spec[0] == '[') {
		snprintf(host, sizeof(host), "%s", spec + 1);
		port = strstr(host, "]:");
		if (port) {
			*port = 0;
			port += 2;
		}
	} else {
		snprintf(host, sizeof(host), "%s", spec);
		port = strrchr(host, ':');
		if (port)
			*port++ = 0;
	}
	if (!port || !*port) {
		snprintf(err, errlen, "metrics address %s: expected ADDR:PORT", spec);
		return -EINVAL;
	}
	/* getaddrinfo takes any number (99999 wraps, 0 picks a random port):
	 * a port is 1..65535, in decimal. */
	errno = 0;
	n = strtoul(port, &end, 10);
	if (port[0] < '0' || port[0] > '9' || *end || errno || n < 1 || n > 65535) {
		snprintf(err, errlen, "metrics address %s: port '%s' is not a number in 1..65535",
			 spec, port);
		return -EINVAL;
	}
	e = getaddrinfo(host[0] ? host : NULL, port, &hints, out);
	if (e) {
		snprintf(err, errlen, "metrics address %s: %s", spec,
			 e == EAI_NONAME ? "not a numeric IPv4 address or [IPv6] address"
					 : gai_strerror(e));
		*out = NULL;
		return -EINVAL;
	}
	return 0;
}

/* Listen on spec (see castle_metrics_addr). */
static int listen_on(const char *spec, int *fd_out, int *family, char *err, size_t errlen)
{
	struct addrinfo *ai = NULL;
	int fd, one = 1, e;

	e = castle_metrics_addr(spec, &ai, err, errlen);
	if (e)
		return e;
	fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		e = errno;
		goto fail;
	}
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (bind(fd, ai->ai_addr, ai->ai_addrlen) || listen(fd, 64)) {
		e = errno;
		close(fd);
		goto fail;
	}
	*family = ai->ai_family;
	*fd_out = fd;
	freeaddrinfo(ai);
	return 0;
fail:
	snprintf(err, errlen, "metrics: listen on %s: %s%s", spec, strerror(e),
		 e == EADDRINUSE ? " (another castled, or another program, has this port; "
				   "choose one with --metrics ADDR:PORT)" : "");
	freeaddrinfo(ai);
	return -e;
}

int castle_metrics_start(struct castle_metrics **out, const char *addr_port,
			 const struct castle_metrics_src *src, char *err, size_t errlen)
{
	struct castle_metrics *mx = calloc(1, sizeof(*mx));
	unsigned int flags = MHD_USE_INTERNAL_POLLING_THREAD;
	int family = AF_INET, ret;

	*out = NULL;
	if (!mx) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	ret = listen_on(addr_port, &mx->fd, &family, err, errlen);
	if (ret) {
		free(mx);
		return ret;
	}
	if (family == AF_INET6)
		flags |= MHD_USE_IPv6;
	mx->src = src;
	pthread_mutex_init(&mx->lock, NULL);
	/* Idle connections close after 10 s; one client address holds at most
	 * CASTLE_METRICS_PER_IP_CONNS of them (the next is closed at accept)
	 * and all together at most CASTLE_METRICS_CONNS (past that, new ones
	 * wait in the listen backlog), so one address that opens hundreds and
	 * trickles bytes into them cannot keep another's scrapes and /healthz
	 * out. */
	mx->d = MHD_start_daemon(flags, 0, NULL, NULL, handle, mx, MHD_OPTION_LISTEN_SOCKET, mx->fd,
				 MHD_OPTION_CONNECTION_TIMEOUT, (unsigned int)10,
				 MHD_OPTION_CONNECTION_LIMIT, (unsigned int)CASTLE_METRICS_CONNS,
				 MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned int)CASTLE_METRICS_PER_IP_CONNS,
				 MHD_OPTION_END);
	if (!mx->d) {
		snprintf(err, errlen, "metrics: start HTTP server on %s failed", addr_port);
		close(mx->fd);
		pthread_mutex_destroy(&mx->lock);
		free(mx);
		return -EIO;
	}
	*out = mx;
	return 0;
}

void castle_metrics_set_ready(struct castle_metrics *mx, bool ready)
{
	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	mx->ready = ready;
	pthread_mutex_unlock(&mx->lock);
}

void castle_metrics_update(struct castle_metrics *mx, const struct castle_metrics_snapshot *s)
{
	if (!mx)
		return;
	pthread_mutex_lock(&mx->lock);
	mx->snap = *s;
	pthread_mutex_unlock(&mx->lock);
}

void castle_metrics_stop(struct castle_metrics *mx)
{
	if (!mx)
		return;
	MHD_stop_daemon(mx->d);
	close(mx->fd); /* MHD does not close a socket it was given */
	pthread_mutex_destroy(&mx->lock);
	free(mx);
}
