// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* fixture_tc.c - see fixture_tc.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_tc.skel.h"
#include "fixture.h"
#include "fixture_tc.h"
#include "loader.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "fixture_tc: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

uint32_t ftc_test_linear;
uint32_t ftc_mark_window_s;

int ftc_open(struct ftc *f, uint32_t pending_entries, uint32_t conns_entries)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .kconfig = castle_kconfig());
	struct bpf_map *m;
	int err;

	memset(f, 0, sizeof(*f));
	f->tc = castle_tc_bpf__open_opts(&o);
	if (!f->tc)
		die("open castle_tc", errno);
	/* Private maps: never touch a running castle's pinned ones. */
	bpf_object__for_each_map(m, f->tc->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(f->tc->maps.tls_pending, pending_entries ? pending_entries : 1024);
	bpf_map__set_max_entries(f->tc->maps.tls_conns, conns_entries ? conns_entries : 1024);
	bpf_map__set_max_entries(f->tc->maps.rl_state, 1024);
	f->tc->rodata->castle_tc_test_linear = ftc_test_linear;
	if (ftc_mark_window_s)
		f->tc->rodata->tls_mark_window_s = ftc_mark_window_s;
	err = castle_tc_bpf__load(f->tc);
	if (err)
		die("load castle_tc", err);
	f->prog_fd = bpf_program__fd(f->tc->progs.castle_tc);
	err = castle_maps_from_object(f->tc->obj, &f->maps);
	if (err)
		die("maps", err);
	f->pending_fd = bpf_map__fd(f->tc->maps.tls_pending);
	f->conns_fd = bpf_map__fd(f->tc->maps.tls_conns);
	f->marks_fd = bpf_map__fd(f->tc->maps.tls_marks);
	f->results_fd = bpf_map__fd(f->tc->maps.tls_results);
	f->pressure_fd = bpf_map__fd(f->tc->maps.tls_pressure);
	return 0;
}

void ftc_close(struct ftc *f)
{
	if (f->building)
		castle_gen_abort(&f->gen);
	castle_maps_close(&f->maps); /* not owned: unmaps man_count */
	castle_tc_bpf__destroy(f->tc);
	memset(f, 0, sizeof(*f));
}

static void begin(struct ftc *f)
{
	struct castle_gen_sizes sz = { 1024, 1024, 1024 };
	char err[256];

	if (f->building)
		castle_gen_abort(&f->gen);
	memset(&f->pol, 0, sizeof(f->pol));
	if (castle_gen_begin(&sz, &f->gen, err, sizeof(err)))
		die(err, EINVAL);
	f->building = true;
}

void ftc_begin_no_tls(struct ftc *f)
{
	begin(f);
}

void ftc_begin(struct ftc *f, const char *ports, uint16_t min_version, uint32_t flags)
{
	char buf[128], *save = NULL;

	begin(f);
	f->pol.flags = CASTLE_F_TLS | flags;
	f->pol.tls.min_version = min_version;
	snprintf(buf, sizeof(buf), "%s", ports);
	for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save))
		f->pol.tls.ports[f->pol.tls.nports++] = atoi(t);
}

void ftc_sni(struct ftc *f, const char *name)
{
	int err = castle_gen_add_sni(&f->gen, name);

	if (err)
		die(name, err);
	f->pol.flags |= CASTLE_F_TLS_SNI;
}

void ftc_allow(struct ftc *f, const char *cidr)
{
	struct castle_allow_val v = { .origin = CASTLE_ORIGIN_POLICY };
	struct castle_cidr c;

	fx_cidr(cidr, &c);
	if (castle_gen_add_allow(&f->gen, &c, &v))
		die(cidr, EINVAL);
}

void ftc_commit(struct ftc *f)
{
	char err[256];
	static uint64_t serial;

	f->pol.serial = ++serial;
	if (castle_gen_commit(&f->maps, &f->gen, &f->pol, err, sizeof(err)))
		die(err, EINVAL);
	f->building = false;
}

int ftc_run(struct ftc *f, const void *frame, size_t len)
{
	struct __sk_buff ctx = { .ifindex = f->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = 1);

	if (f->ifindex) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	if (bpf_prog_test_run_opts(f->prog_fd, &o))
		die("test run", errno);
	return (int)o.retval;
}

int ftc_run_spec(struct ftc *f, const struct pkt_spec *s)
{
	static uint8_t buf[PKT_MAX];
	size_t n = pkt_build(s, buf, sizeof(buf));

	if (!n)
		die("pkt_build", EINVAL);
	return ftc_run(f, buf, n);
}

uint64_t ftc_count(struct ftc *f, int verdict, int reason)
{
	return fx_stats_sum(&f->maps, f->maps.tc_stats, verdict, reason, false);
}

uint64_t ftc_total(struct ftc *f)
{
	uint64_t t = 0;

	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			t += ftc_count(f, v, r);
	return t;
}

static uint64_t percpu_sum(int fd, uint32_t idx)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t vals[ncpu > 0 ? ncpu : 1], t = 0;

	if (ncpu <= 0 || bpf_map_lookup_elem(fd, &idx, vals))
		return 0;
	for (int i = 0; i < ncpu; i++)
		t += vals[i];
	return t;
}

uint64_t ftc_result(struct ftc *f, int result)
{
	uint64_t t = 0;

	for (uint32_t s = 0; s < CASTLE_MAX_IFACES; s++)
		t += percpu_sum(f->results_fd, CASTLE_TLS_RESULTS_KEY(s, result));
	return t;
}

uint64_t ftc_result_if(struct ftc *f, uint32_t ifindex, int result)
{
	uint32_t s;

	if (castle_ifslot_of(&f->maps, ifindex, &s))
		return 0;
	return percpu_sum(f->results_fd, CASTLE_TLS_RESULTS_KEY(s, result));
}

uint64_t ftc_pressure(struct ftc *f, int idx)
{
	return percpu_sum(f->pressure_fd, idx);
}

/* ---- connections ---------------------------------------------------------- */

void ftc_conn_init(struct ftc_conn *c, int family, const char *src, uint16_t sport, uint16_t dport)
{
	memset(c, 0, sizeof(*c));
	c->family = family;
	c->src = src;
	c->dst = family == 4 ? "198.18.0.2" : "2001:db8::2";
	c->sport = sport;
	c->dport = dport;
	c->isn = 0x10000000u + sport * 7919u;
}

static struct pkt_spec seg(const struct ftc_conn *c, uint8_t flags, uint32_t seq, const void *data,
			   size_t len)
{
	return (struct pkt_spec){ .family = c->family, .src = c->src, .dst = c->dst,
				  .proto = c->proto ? c->proto : 6, .sport = c->sport,
				  .dport = c->dport, .tcp_flags = flags, .seq = seq,
				  .ack = 0x20000001u, .payload = data, .paylen = len };
}

int ftc_syn(struct ftc *f, struct ftc_conn *c)
{
	struct pkt_spec s = seg(c, 0x02, c->isn, NULL, 0);

	c->next = 0;
	return ftc_run_spec(f, &s);
}

int ftc_ack(struct ftc *f, struct ftc_conn *c)
{
	struct pkt_spec s = seg(c, 0x10, c->isn + 1 + c->next, NULL, 0);

	return ftc_run_spec(f, &s);
}

int ftc_send_at(struct ftc *f, struct ftc_conn *c, uint32_t off, const void *data, size_t len)
{
	struct pkt_spec s = seg(c, 0x18, c->isn + 1 + off, data, len);

	return ftc_run_spec(f, &s);
}

int ftc_send(struct ftc *f, struct ftc_conn *c, const void *data, size_t len)
{
	int r = ftc_send_at(f, c, c->next, data, len);

	c->next += len;
	return r;
}

int ftc_send_split(struct ftc *f, struct ftc_conn *c, const void *data, size_t len,
		   const size_t *sizes)
{
	const uint8_t *p = data;
	size_t done = 0;
	int r = FTC_PASS;

	for (int i = 0; done < len; i++) {
		size_t n = sizes[i] ? sizes[i] : len - done;
		if (n > len - done)
			n = len - done;
		r = ftc_send(f, c, p + done, n);
		done += n;
		if (r == FTC_DROP)
			break;
	}
	return r;
}

int ftc_udp(struct ftc *f, struct ftc_conn *c, const void *data, size_t len)
{
	struct pkt_spec s = seg(c, 0, 0, data, len);

	s.proto = 17;
	return ftc_run_spec(f, &s);
}

void ftc_conn_key(const struct ftc_conn *c, struct castle_tls_key *k)
{
	memset(k, 0, sizeof(*k));
	inet_pton(c->family == 4 ? AF_INET : AF_INET6, c->src, k->saddr);
	inet_pton(c->family == 4 ? AF_INET : AF_INET6, c->dst, k->daddr);
	k->sport = c->sport;
	k->dport = c->dport;
	k->family = c->family;
}

int ftc_conn_state(struct ftc *f, const struct ftc_conn *c)
{
	struct castle_tls_key k;
	struct castle_tls_conn v;

	ftc_conn_key(c, &k);
	if (bpf_map_lookup_elem(f->conns_fd, &k, &v))
		return 0;
	return v.state;
}

bool ftc_conn_pending(struct ftc *f, const struct ftc_conn *c)
{
	struct castle_tls_key k;
	struct castle_tls_pend v;

	ftc_conn_key(c, &k);
	return bpf_map_lookup_elem(f->pending_fd, &k, &v) == 0;
}

/* ---- ClientHello ---------------------------------------------------------- */

struct wr {
	uint8_t *p;
	size_t n, cap;
	bool overflow;
};

static void put(struct wr *w, const void *d, size_t n)
{
	if (w->n + n > w->cap) {
		w->overflow = true;
		return;
	}
	if (d)
		memcpy(w->p + w->n, d, n);
	else
		memset(w->p + w->n, 0x5a, n);
	w->n += n;
}

static void put8(struct wr *w, unsigned v)
{
	uint8_t b = v;
	put(w, &b, 1);
}

static void put16(struct wr *w, unsigned v)
{
	uint8_t b[2] = { v >> 8, v & 0xff };
	put(w, b, 2);
}

static void set16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void ext_sni(struct wr *w, const char *name)
{
	size_t n = strlen(name);

	put16(w, 0);		/* server_name */
	put16(w, n + 5);
	put16(w, n + 3);	/* server_name_list */
	put8(w, 0);		/* host_name */
	put16(w, n);
	put(w, name, n);
}

size_t ftc_hello(const struct ftc_hello *h, uint8_t *buf, size_t cap)
{
	struct wr w = { buf, 0, cap, false };
	size_t ext_len_at;

	put8(&w, 22);
	put16(&w, h->rec_ver ? h->rec_ver : 0x0301);
	put16(&w, 0);		/* record length, set below */
	put8(&w, 1);		/* client_hello */
	put8(&w, 0);		/* 24-bit length, set below */
	put16(&w, 0);
	put16(&w, h->legacy_ver ? h->legacy_ver : 0x0303);
	put(&w, NULL, 32);	/* random */
	put8(&w, 32);
	put(&w, NULL, 32);	/* session id */
	put16(&w, 6);
	put16(&w, 0x1301);
	put16(&w, 0x1302);
	put16(&w, 0xc02f);
	put8(&w, 1);
	put8(&w, 0);		/* null compression */
	ext_len_at = w.n;
	put16(&w, 0);
	put16(&w, 0x0a0a);	/* GREASE, empty */
	put16(&w, 0);
	if (h->sni && !h->sni_last)
		ext_sni(&w, h->sni);
	if (h->versions) {
		put16(&w, 43);
		put16(&w, 1 + 2 * h->nversions);
		put8(&w, 2 * h->nversions);
		for (int i = 0; i < h->nversions; i++)
			put16(&w, h->versions[i]);
	}
	if (h->pad) {
		put16(&w, 51);	/* key_share: content is not inspected */
		put16(&w, h->pad);
		put(&w, NULL, h->pad);
	}
	if (h->sni && h->sni_last)
		ext_sni(&w, h->sni);
	if (w.overflow)
		return 0;
	set16(buf + 3, w.n - 5);
	buf[6] = (w.n - 9) >> 16;
	set16(buf + 7, (w.n - 9) & 0xffff);
	set16(buf + ext_len_at, w.n - ext_len_at - 2);
	return w.n;
}
