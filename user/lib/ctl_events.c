// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_events.c - castlectl events (follow the sampled drop ring buffer) and
 * top (rank dropped sources: block entries by hits, plus a short sample of
 * drop events). The ring buffer has one consumer position shared by every
 * reader: two readers each see only part of the stream.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "ctl.h"
#include "ctl_maps.h"
#include "out.h"
#include "units.h"

static volatile sig_atomic_t ev_stop;

static void on_signal(int sig)
{
	(void)sig;
	ev_stop = 1;
}

static uint64_t now_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

struct top_acc;

struct ev_ctx {
	struct ctl *c;
	uint64_t seen, max;
	int64_t boot_to_real;		/* add to a CLOCK_BOOTTIME stamp for wall clock */
	uint64_t since_ns;		/* CLOCK_BOOTTIME: skip events older than this */
	struct top_acc *acc;		/* top: accumulate instead of printing */
	bool failed;
};

static void print_event(struct ev_ctx *x, const struct castle_event *e)
{
	struct ctl *c = x->c;
	char ifn[IF_NAMESIZE + 8], src[INET6_ADDRSTRLEN], cls[40], tbuf[32], port[8];
	uint64_t real = e->ts_ns + x->boot_to_real;
	const char *reason = e->reason < CASTLE_REASON_MAX ? castle_reason_names[e->reason] : "?";
	const char *stage = e->stage == CASTLE_STAGE_TC ? "tc" : "xdp";

	ctl_ifname(c, e->ifindex, ifn, sizeof(ifn));
	castle_addr_str(e->family, e->addr, src, sizeof(src));
	if (e->class_slot == CASTLE_NO_CLASS)
		snprintf(cls, sizeof(cls), "-");
	else
		ctl_class_name(c, e->class_slot, cls, sizeof(cls));
	if (c->json) {
		struct out_json j;

		out_json_init(&j, c->out);
		out_json_obj_begin(&j);
		/* whole milliseconds, on purpose */
		out_json_kdouble(&j, "time_unix", (double)(real / 1000000) / 1e3); // NOLINT(bugprone-integer-division)
		out_json_ku64(&j, "ifindex", e->ifindex);
		out_json_kstr(&j, "interface", ifn);
		out_json_kstr(&j, "stage", stage);
		out_json_kstr(&j, "reason", reason);
		out_json_kbool(&j, "dry_run", e->dry_run);
		out_json_kstr(&j, "source", src);
		out_json_ku64(&j, "family", e->family);
		out_json_kstr(&j, "proto", ctl_proto_name(e->proto, e->family));
		out_json_ku64(&j, "dport", e->dport);
		out_json_kstr(&j, "class", e->class_slot == CASTLE_NO_CLASS ? NULL : cls);
		out_json_ku64(&j, "len", e->len);
		out_json_obj_end(&j);
		out_json_end_doc(&j);
	} else {
		time_t s = (time_t)(real / 1000000000ull);
		struct tm tm;

		localtime_r(&s, &tm);
		strftime(tbuf, sizeof(tbuf), "%H:%M:%S", &tm);
		snprintf(port, sizeof(port), "%u", e->dport);
		fprintf(c->out, "%s.%03u  %-10s %-3s  %-11s %-15s  %-6s %5s  %-8s %5u%s\n", tbuf,
			(unsigned)(real / 1000000 % 1000), ifn, stage, reason, src,
			ctl_proto_name(e->proto, e->family), e->dport ? port : "-", cls, e->len,
			e->dry_run ? "  dry-run" : "");
	}
	fflush(c->out);
}

static void top_add(struct top_acc *acc, const struct castle_event *e);

static int on_event(void *ctx, void *data, size_t len)
{
	struct ev_ctx *x = ctx;
	struct castle_event e;

	if (len < sizeof(e))
		return 0; /* a record of another layout: skip, do not misread */
	memcpy(&e, data, sizeof(e));
	/* Events nobody consumed wait in the ring buffer; they happened before
	 * this command and would skew a sample (or satisfy --count with old
	 * news). Consume them silently. */
	if (e.ts_ns < x->since_ns)
		return 0;
	if (x->acc)
		top_add(x->acc, &e);
	else
		print_event(x, &e);
	x->seen++;
	/* Negative stops ring_buffer__poll after this record is consumed. */
	return x->max && x->seen >= x->max ? -ECANCELED : 0;
}

/* Read events until max are seen, timeout_ns passes (0: never) or a signal.
 * Returns 0, or -errno if the ring buffer cannot be read. */
static int read_events(struct ev_ctx *x, uint64_t timeout_ns)
{
	struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
	uint64_t t0 = now_ns(CLOCK_MONOTONIC);
	/* saturated: -t 213503d parses, and must not wrap to "already over" */
	uint64_t deadline = !timeout_ns ? 0 : timeout_ns > UINT64_MAX - t0 ? UINT64_MAX : t0 + timeout_ns;
	struct ring_buffer *rb;
	int ret = 0;

	x->since_ns = now_ns(CLOCK_BOOTTIME);
	x->boot_to_real = (int64_t)(now_ns(CLOCK_REALTIME) - x->since_ns);
	rb = ring_buffer__new(x->c->maps.events, on_event, x, NULL);
	if (!rb)
		return -errno;
	/* No SA_RESTART: the signal must interrupt epoll_wait. */
	ev_stop = 0;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	while (!ev_stop && !(x->max && x->seen >= x->max)) {
		int ms = 100;

		if (deadline) {
			uint64_t now = now_ns(CLOCK_MONOTONIC);
			if (now >= deadline)
				break;
			if (deadline - now < 100000000ull)
				ms = (int)((deadline - now) / 1000000) + 1;
		}
		ret = ring_buffer__poll(rb, ms);
		if (ret == -EINTR || ret == -ECANCELED) {
			ret = 0;
			continue;
		}
		if (ret < 0)
			break;
		ret = 0;
	}
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	ring_buffer__free(rb);
	return ret;
}

int ctl_events(struct ctl *c, const struct ctl_args *a)
{
	struct ev_ctx x = { .c = c, .max = a->count };
	int ret;

	if (ctl_open(c))
		return CTL_FAIL;
	if (!c->json) {
		fprintf(c->out, "%-12s  %-10s %-3s  %-11s %-15s  %-6s %5s  %-8s %5s\n", "TIME", "IFACE",
			"STG", "REASON", "SOURCE", "PROTO", "DPORT", "CLASS", "LEN");
		fflush(c->out);
	}
	ret = read_events(&x, a->timeout_ns);
	if (ret) {
		ctl_errf(c, "read %s/%s: %s", c->pin_dir, CASTLE_MAP_EVENTS, strerror(-ret));
		return CTL_FAIL;
	}
	if (a->count && x.seen < a->count && !ev_stop) {
		ctl_errf(c, "timeout: %llu of %llu events", (unsigned long long)x.seen,
			 (unsigned long long)a->count);
		return CTL_FAIL;
	}
	return CTL_OK;
}

/* ---- top ---------------------------------------------------------------- */

struct top_src {
	uint8_t family, reason, class_slot;
	uint8_t addr[16];
	uint64_t events;
	int64_t in_row;			/* -1: not a rate-limited source */
	bool prefix;			/* from rl_state only: addr masked to plen */
	uint8_t plen;
};

struct top_acc {
	struct top_src *v;
	size_t n, cap;
};

#define TOP_MAX_SOURCES 65536

static struct top_src *top_find(struct top_acc *acc, int family, const uint8_t *addr, int reason,
				int slot)
{
	for (size_t i = 0; i < acc->n; i++) {
		struct top_src *s = &acc->v[i];
		if (s->family == family && s->reason == reason && s->class_slot == slot &&
		    !memcmp(s->addr, addr, 16))
			return s;
	}
	if (acc->n == acc->cap) {
		size_t cap = acc->cap ? acc->cap * 2 : 64;
		struct top_src *v;
		if (cap > TOP_MAX_SOURCES || !(v = realloc(acc->v, cap * sizeof(*v))))
			return NULL;
		acc->v = v;
		acc->cap = cap;
	}
	struct top_src *s = &acc->v[acc->n++];
	memset(s, 0, sizeof(*s));
	s->family = family;
	s->reason = reason;
	s->class_slot = slot;
	s->in_row = -1;
	memcpy(s->addr, addr, 16);
	return s;
}

static void top_add(struct top_acc *acc, const struct castle_event *e)
{
	uint8_t addr[16] = { 0 };
	struct top_src *s;

	memcpy(addr, e->addr, e->family == 4 ? 4 : 16);
	s = top_find(acc, e->family, addr, e->reason, e->class_slot);
	if (s)
		s->events++;
}

static void mask(uint8_t *a, unsigned int plen, unsigned int bits)
{
	for (unsigned int i = 0; i < bits / 8; i++) {
		unsigned int from = i * 8;
		if (from >= plen)
			a[i] = 0;
		else if (from + 8 > plen)
			a[i] &= (uint8_t)(0xff << (8 - (plen - from)));
	}
}

struct rl_join {
	struct top_acc *acc;
	const struct castle_policy *pol;
	uint8_t slot_of[CASTLE_MAX_CLASSES];
};

/* Rate-limited sources: attach the bucket's drops-in-a-row to the sampled
 * rows of the same (class, aggregated source), and add the sources that are
 * being dropped now but were not sampled. */
static int rl_join(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	struct rl_join *j = arg;
	bool matched = false;

	int ci = castle_class_at(j->pol, j->slot_of, k->class_slot);

	if (ci < 0)
		return 0; /* a bucket of a class this policy no longer has */
	const struct castle_class *cl = &j->pol->classes[ci];
	unsigned int plen = k->family == 4 ? cl->plen4 : cl->plen6;
	unsigned int bits = k->family == 4 ? 32 : 128;

	for (size_t i = 0; i < j->acc->n; i++) {
		struct top_src *s = &j->acc->v[i];
		uint8_t a[16];

		if (s->reason != CASTLE_R_RATELIMIT || s->class_slot != k->class_slot ||
		    s->family != k->family)
			continue;
		memcpy(a, s->addr, 16);
		mask(a, plen, bits);
		if (!memcmp(a, k->addr, bits / 8)) {
			s->in_row = v->drops_in_row;
			matched = true;
		}
	}
	if (!matched && v->drops_in_row) {
		uint8_t a[16] = { 0 };
		memcpy(a, k->addr, bits / 8);
		struct top_src *s = top_find(j->acc, k->family, a, CASTLE_R_RATELIMIT, k->class_slot);
		if (s) {
			s->in_row = v->drops_in_row;
			s->prefix = plen < bits;
			s->plen = plen;
		}
	}
	return 0;
}

static int src_cmp(const void *a, const void *b)
{
	const struct top_src *x = a, *y = b;

	if (x->events != y->events)
		return x->events < y->events ? 1 : -1;
	return x->in_row < y->in_row ? 1 : x->in_row > y->in_row ? -1 : 0;
}

struct blocked {
	struct castle_entry *v;
	size_t n, cap;
};

static int collect_hit(const struct castle_entry *e, void *arg)
{
	struct blocked *b = arg;

	if (!e->hits)
		return 0;
	if (b->n == b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 64;
		struct castle_entry *v = realloc(b->v, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		b->v = v;
		b->cap = cap;
	}
	b->v[b->n++] = *e;
	return 0;
}

static int hits_cmp(const void *a, const void *b)
{
	const struct castle_entry *x = a, *y = b;

	return x->hits < y->hits ? 1 : x->hits > y->hits ? -1 : 0;
}

static void print_top(struct ctl *c, const struct ctl_args *a, const struct blocked *b,
		      const struct top_acc *acc, uint32_t eps);

int ctl_top(struct ctl *c, const struct ctl_args *a)
{
	struct blocked b = { 0 };
	struct top_acc acc = { 0 };
	struct castle_policy pol = { 0 };
	uint32_t gen = 0;
	int ret;

	if (ctl_open(c))
		return CTL_FAIL;
	struct rl_join j = { &acc, &pol, { 0 } };

	castle_gen_live(&c->maps, &gen, &pol);
	/* with the policy: the interval below may see reloads */
	castle_class_slots_of(&c->maps, gen, &pol, j.slot_of);
	ret = castle_block_foreach(&c->maps, false, collect_hit, &b);
	if (ret) {
		ctl_errf(c, "read the blocklist: %s%s", strerror(-ret),
			 ret == -EPERM ? " (" CTL_BY_ID_NEEDS ")" : "");
		free(b.v);
		return CTL_FAIL;
	}
	if (b.n)
		qsort(b.v, b.n, sizeof(*b.v), hits_cmp);
	if (a->interval_ns) {
		struct ev_ctx x = { .c = c, .acc = &acc };

		ret = read_events(&x, a->interval_ns);
		if (ret)
			ctl_errf(c, "warning: read %s: %s (no sample)", CASTLE_MAP_EVENTS, strerror(-ret));
		castle_rl_foreach(&c->maps, rl_join, &j);
		if (acc.n)
			qsort(acc.v, acc.n, sizeof(*acc.v), src_cmp);
	}
	print_top(c, a, &b, &acc, pol.events_per_sec ? pol.events_per_sec
						     : CASTLE_EVENTS_PER_SEC_DEFAULT);
	free(b.v);
	free(acc.v);
	return CTL_OK;
}

static const char *src_label(const struct top_src *s, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	castle_addr_str(s->family, s->addr, a, sizeof(a));
	if (s->prefix)
		snprintf(buf, len, "%s/%u", a, s->plen);
	else
		snprintf(buf, len, "%s", a);
	return buf;
}

static void print_top(struct ctl *c, const struct ctl_args *a, const struct blocked *b,
		      const struct top_acc *acc, uint32_t eps)
{
	size_t nb = b->n < a->n ? b->n : a->n, ns = acc->n < a->n ? acc->n : a->n;
	char cs[CASTLE_CIDR_STRLEN], cls[40], num[32], row[32], src[64];

	if (c->json) {
		struct out_json j;

		out_json_init(&j, c->out);
		out_json_obj_begin(&j);
		out_json_kdouble(&j, "interval_s", (double)a->interval_ns / 1e9);
		out_json_ku64(&j, "events_per_sec", eps);
		out_json_key(&j, "blocked");
		out_json_arr_begin(&j);
		for (size_t i = 0; i < nb; i++) {
			const struct castle_entry *e = &b->v[i];
			bool aut = e->origin == CASTLE_ORIGIN_AUTO;

			out_json_obj_begin(&j);
			out_json_kstr(&j, "cidr", castle_cidr_str(&e->cidr, cs, sizeof(cs)));
			out_json_kstr(&j, "origin", e->origin < CASTLE_ORIGIN_MAX
							    ? castle_origin_names[e->origin] : "unknown");
			out_json_kstr(&j, "reason", aut ? "autoban" : "blocklist");
			out_json_kstr(&j, "class", aut ? ctl_class_name(c, e->class_slot, cls,
									sizeof(cls)) : NULL);
			out_json_ku64(&j, "hits", e->hits);
			out_json_obj_end(&j);
		}
		out_json_arr_end(&j);
		out_json_key(&j, "sampled");
		out_json_arr_begin(&j);
		for (size_t i = 0; i < ns; i++) {
			const struct top_src *s = &acc->v[i];

			out_json_obj_begin(&j);
			out_json_kstr(&j, "source", src_label(s, src, sizeof(src)));
			out_json_kstr(&j, "reason", s->reason < CASTLE_REASON_MAX
							    ? castle_reason_names[s->reason] : "?");
			out_json_kstr(&j, "class", s->class_slot == CASTLE_NO_CLASS ? NULL
				      : ctl_class_name(c, s->class_slot, cls, sizeof(cls)));
			out_json_ku64(&j, "events", s->events);
			out_json_key(&j, "drops_in_row");
			if (s->in_row >= 0)
				out_json_u64(&j, (uint64_t)s->in_row);
			else
				out_json_null(&j);
			out_json_obj_end(&j);
		}
		out_json_arr_end(&j);
		out_json_obj_end(&j);
		out_json_end_doc(&j);
		return;
	}

	static const struct out_col bcols[] = {
		{ "CIDR", OUT_LEFT }, { "ORIGIN", OUT_LEFT }, { "REASON", OUT_LEFT },
		{ "CLASS", OUT_LEFT }, { "DROPPED", OUT_RIGHT },
	};
	static const struct out_col scols[] = {
		{ "SOURCE", OUT_LEFT }, { "REASON", OUT_LEFT }, { "CLASS", OUT_LEFT },
		{ "EVENTS", OUT_RIGHT }, { "IN A ROW", OUT_RIGHT },
	};
	struct out_table t;

	fprintf(c->out, "Block entries by packets dropped since added:\n");
	out_table_init(&t, bcols, 5);
	for (size_t i = 0; i < nb; i++) {
		const struct castle_entry *e = &b->v[i];
		bool aut = e->origin == CASTLE_ORIGIN_AUTO;
		const char *cells[] = {
			castle_cidr_str(&e->cidr, cs, sizeof(cs)),
			e->origin < CASTLE_ORIGIN_MAX ? castle_origin_names[e->origin] : "unknown",
			aut ? "autoban" : "blocklist",
			aut ? ctl_class_name(c, e->class_slot, cls, sizeof(cls)) : "-",
			castle_human_count(e->hits, num, sizeof(num)),
		};
		out_table_row(&t, cells);
	}
	out_table_print(&t, c->out);
	out_table_free(&t);
	if (!a->interval_ns)
		return;
	char d[32];
	fprintf(c->out, "\nSources in drop events sampled over %s (at most %u events/s: samples, "
		"not totals):\n", castle_human_duration(a->interval_ns, d, sizeof(d)), eps);
	out_table_init(&t, scols, 5);
	for (size_t i = 0; i < ns; i++) {
		const struct top_src *s = &acc->v[i];
		const char *cells[] = {
			src_label(s, src, sizeof(src)),
			s->reason < CASTLE_REASON_MAX ? castle_reason_names[s->reason] : "?",
			s->class_slot == CASTLE_NO_CLASS ? "-"
				: ctl_class_name(c, s->class_slot, cls, sizeof(cls)),
			castle_human_count(s->events, num, sizeof(num)),
			s->in_row >= 0 ? castle_human_count((uint64_t)s->in_row, row, sizeof(row)) : "-",
		};
		out_table_row(&t, cells);
	}
	out_table_print(&t, c->out);
	out_table_free(&t);
}
