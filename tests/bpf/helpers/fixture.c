// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* fixture.c - see fixture.h. */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "fixture.h"
#include "loader.h"

static void die(const char *what, int err)
{
	fprintf(stderr, "fixture: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

void fx_cidr(const char *s, struct castle_cidr *c)
{
	char buf[80];
	const char *slash = strchr(s, '/');
	size_t n = slash ? (size_t)(slash - s) : strlen(s);

	memset(c, 0, sizeof(*c));
	snprintf(buf, sizeof(buf), "%.*s", (int)n, s);
	c->family = strchr(buf, ':') ? 6 : 4;
	if (inet_pton(c->family == 4 ? AF_INET : AF_INET6, buf, c->addr) != 1)
		die(s, EINVAL);
	c->plen = slash ? (unsigned)atoi(slash + 1) : (c->family == 4 ? 32 : 128);
}

uint32_t fx_man_entries;

uint64_t fx_percpu_sum(int fd, uint32_t key)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t v[ncpu > 0 ? ncpu : 1], sum = 0;

	if (ncpu < 1 || bpf_map_lookup_elem(fd, &key, v))
		die("per-CPU array lookup", errno);
	for (int i = 0; i < ncpu; i++)
		sum += v[i];
	return sum;
}

int fx_open(struct fx *f, uint32_t rl_entries)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .kconfig = castle_kconfig());
	struct bpf_map *m;
	int err;

	memset(f, 0, sizeof(*f));
	f->xdp = castle_xdp_bpf__open_opts(&o);
	if (!f->xdp)
		die("open castle_xdp", errno);
	/* Private maps: never touch a running castle's pinned ones. */
	bpf_object__for_each_map(m, f->xdp->obj)
		bpf_map__set_pin_path(m, NULL);
	bpf_map__set_max_entries(f->xdp->maps.rl_state, rl_entries ? rl_entries : 4096);
	if (fx_man_entries)
		bpf_object__for_each_map(m, f->xdp->obj)
			if (!strncmp(bpf_map__name(m), "man_", 4) &&
			    bpf_map__type(m) != BPF_MAP_TYPE_ARRAY &&
			    bpf_map__type(m) != BPF_MAP_TYPE_PERCPU_ARRAY)
				bpf_map__set_max_entries(m, fx_man_entries);
	err = castle_xdp_bpf__load(f->xdp);
	if (err)
		die("load castle_xdp", err);
	f->prog_fd = bpf_program__fd(f->xdp->progs.castle_xdp);
	err = castle_maps_from_object(f->xdp->obj, &f->maps);
	if (err)
		die("maps", err);
	return 0;
}

void fx_close(struct fx *f)
{
	if (f->building)
		castle_gen_abort(&f->gen);
	castle_maps_close(&f->maps); /* not owned: unmaps man_count */
	castle_xdp_bpf__destroy(f->xdp);
	memset(f, 0, sizeof(*f));
}

int fx_setup(void **state)
{
	static struct fx f;

	fx_open(&f, 0);
	*state = &f;
	return 0;
}

int fx_teardown(void **state)
{
	fx_close(*state);
	return 0;
}

struct pkt_spec fx_udp4(const char *src)
{
	return (struct pkt_spec){ .family = 4, .src = src, .proto = 17, .sport = 1000, .dport = 53 };
}

struct pkt_spec fx_udp6(const char *src)
{
	return (struct pkt_spec){ .family = 6, .src = src, .proto = 17, .sport = 1000, .dport = 53 };
}

void fx_begin(struct fx *f)
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

void fx_block(struct fx *f, const char *cidr, uint64_t ttl_ns)
{
	struct castle_block_val v = { .origin = CASTLE_ORIGIN_POLICY };
	struct castle_cidr c;
	int err;

	fx_cidr(cidr, &c);
	v.created_ns = castle_now_boot_ns();
	v.expires_ns = ttl_ns ? v.created_ns + ttl_ns : 0;
	err = castle_gen_add_block(&f->gen, &c, &v);
	if (err)
		die(cidr, err);
}

void fx_allow(struct fx *f, const char *cidr)
{
	struct castle_allow_val v = { .origin = CASTLE_ORIGIN_POLICY };
	struct castle_cidr c;
	int err;

	fx_cidr(cidr, &c);
	err = castle_gen_add_allow(&f->gen, &c, &v);
	if (err)
		die(cidr, err);
}

int fx_class(struct fx *f, const char *src, uint8_t proto, const char *ports, double rate,
	     uint32_t burst)
{
	int slot = f->pol.nclasses++;
	struct castle_class *c = &f->pol.classes[slot];

	c->proto = proto;
	c->plen4 = 32;
	c->plen6 = 64;
	c->pkt_cost_ns = (uint64_t)(1e9 / rate + 0.5);
	c->pkt_tol_ns = (uint64_t)(burst - 1) * c->pkt_cost_ns;
	if (ports) {
		char buf[256], *save = NULL;
		snprintf(buf, sizeof(buf), "%s", ports);
		for (char *t = strtok_r(buf, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
			unsigned lo = 0, hi = 0;
			if (sscanf(t, "%u-%u", &lo, &hi) != 2)
				hi = lo;
			c->ports[c->nranges].lo = lo;
			c->ports[c->nranges].hi = hi;
			c->nranges++;
		}
	}
	if (!src) {
		f->pol.any_src_classes |= 1u << slot;
	} else {
		/* One CIDR per class and disjoint sources: nesting (and the OR of
		 * enclosing prefixes) is policy_compile's job, tested there. */
		struct castle_cidr cc;
		uint32_t bits = 1u << slot;
		fx_cidr(src, &cc);
		if (castle_gen_add_csrc(&f->gen, &cc, bits))
			die(src, EINVAL);
	}
	return slot;
}

void fx_class_bytes(struct fx *f, int slot, double bytes_per_sec, uint64_t byte_burst)
{
	struct castle_class *c = &f->pol.classes[slot];
	double ns_per_byte = 1e9 / bytes_per_sec;

	c->byte_cost_fp = (uint64_t)(ns_per_byte * (1 << CASTLE_BYTE_FP_SHIFT) + 0.5);
	c->byte_burst_ns = (uint64_t)((double)byte_burst * ns_per_byte + 0.5);
}

void fx_class_ban(struct fx *f, int slot, uint32_t after, uint64_t for_ns)
{
	f->pol.classes[slot].ban_after = after;
	f->pol.classes[slot].ban_for_ns = for_ns;
}

void fx_class_per(struct fx *f, int slot, uint8_t plen4, uint8_t plen6)
{
	f->pol.classes[slot].plen4 = plen4;
	f->pol.classes[slot].plen6 = plen6;
}

void fx_flags(struct fx *f, uint32_t flags)
{
	f->pol.flags = flags;
}

void fx_events_per_sec(struct fx *f, uint32_t per_sec)
{
	f->pol.events_per_sec = per_sec;
}

void fx_commit(struct fx *f)
{
	char err[256];
	static uint64_t serial;

	f->pol.serial = ++serial;
	if (castle_gen_commit(&f->maps, &f->gen, &f->pol, err, sizeof(err)))
		die(err, EINVAL);
	f->building = false;
}

void fx_manual_block(struct fx *f, const char *cidr, uint64_t ttl_ns)
{
	struct castle_cidr c;
	int err;

	fx_cidr(cidr, &c);
	err = castle_manual_block_put(&f->maps, &c, ttl_ns, CASTLE_ORIGIN_MANUAL);
	if (err)
		die(cidr, err);
}

void fx_manual_allow(struct fx *f, const char *cidr)
{
	struct castle_cidr c;
	int err;

	fx_cidr(cidr, &c);
	err = castle_manual_allow_put(&f->maps, &c);
	if (err)
		die(cidr, err);
}

int fx_run_repeat(struct fx *f, const void *frame, size_t len, uint32_t repeat)
{
	struct xdp_md ctx = { .data_end = len, .ingress_ifindex = f->ifindex };
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len, .repeat = repeat);
	int err;

	if (f->ifindex) {
		o.ctx_in = &ctx;
		o.ctx_size_in = sizeof(ctx);
	}
	err = bpf_prog_test_run_opts(f->prog_fd, &o);

	if (err)
		die("test run", errno);
	return o.retval;
}

int fx_run(struct fx *f, const void *frame, size_t len)
{
	return fx_run_repeat(f, frame, len, 1);
}

int fx_run_spec_repeat(struct fx *f, const struct pkt_spec *s, uint32_t repeat)
{
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build(s, buf, sizeof(buf));

	if (!n)
		die("pkt_build", EINVAL);
	return fx_run_repeat(f, buf, n, repeat);
}

int fx_run_spec(struct fx *f, const struct pkt_spec *s)
{
	return fx_run_spec_repeat(f, s, 1);
}

uint64_t fx_stats_sum(const struct castle_maps *m, int stats_fd, int verdict, int reason,
		     bool bytes)
{
	uint32_t ifs[CASTLE_MAX_IFACES];
	int n = castle_stats_ifaces(m, stats_fd, ifs, CASTLE_MAX_IFACES);
	uint64_t total = 0;

	for (int i = 0; i < n; i++) {
		struct castle_stats st;
		int err = castle_stats_read(m, stats_fd, ifs[i], &st);

		/* A counter that cannot be read is not a zero. */
		if (err)
			die("read the counters of an interface", err);
		total += bytes ? st.c[verdict][reason].bytes : st.c[verdict][reason].packets;
	}
	return total;
}

static uint64_t sum(struct fx *f, int verdict, int reason, bool bytes)
{
	return fx_stats_sum(&f->maps, f->maps.xdp_stats, verdict, reason, bytes);
}

uint64_t fx_count(struct fx *f, int verdict, int reason)
{
	return sum(f, verdict, reason, false);
}

uint64_t fx_bytes(struct fx *f, int verdict, int reason)
{
	return sum(f, verdict, reason, true);
}

uint64_t fx_total(struct fx *f)
{
	uint64_t t = 0;

	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			t += fx_count(f, v, r);
	return t;
}

uint64_t fx_class_count(struct fx *f, uint32_t slot, int verdict)
{
	struct castle_class_stats cs;

	int err = castle_class_stats_sum(f->maps.class_stats, slot, &cs);

	if (err)
		die("sum the class counters", err);
	return cs.c[verdict].packets;
}

uint64_t fx_class_bytes_count(struct fx *f, uint32_t slot, int verdict)
{
	struct castle_class_stats cs;

	int err = castle_class_stats_sum(f->maps.class_stats, slot, &cs);

	if (err)
		die("sum the class counters", err);
	return cs.c[verdict].bytes;
}

uint64_t fx_class_count_if(struct fx *f, uint32_t ifindex, uint32_t slot, int verdict)
{
	struct castle_class_stats cs;
	uint32_t ifs;

	int err = castle_ifslot_of(&f->maps, ifindex, &ifs);

	if (err)
		die("counter slot of the interface", err);
	err = castle_class_stats_read(f->maps.class_stats, ifs, slot, &cs);
	if (err)
		die("read the class counters of the interface", err);
	return cs.c[verdict].packets;
}

struct find_arg {
	struct castle_cidr want;
	struct castle_entry *out;
	bool found;
};

static int find_cb(const struct castle_entry *e, void *arg)
{
	struct find_arg *a = arg;
	size_t n = a->want.family == 4 ? 4 : 16;

	if (e->cidr.family != a->want.family || e->cidr.plen != a->want.plen ||
	    memcmp(e->cidr.addr, a->want.addr, n))
		return 0;
	*a->out = *e;
	a->found = true;
	return 1;
}

bool fx_block_entry(struct fx *f, const char *cidr, struct castle_entry *out)
{
	struct find_arg a = { .out = out };

	fx_cidr(cidr, &a.want);
	castle_block_foreach(&f->maps, false, find_cb, &a);
	return a.found;
}

bool fx_allow_entry(struct fx *f, const char *cidr, struct castle_entry *out)
{
	struct find_arg a = { .out = out };

	fx_cidr(cidr, &a.want);
	castle_allow_foreach(&f->maps, find_cb, &a);
	return a.found;
}

bool fx_manual_has(struct fx *f, const char *cidr)
{
	struct castle_block_val v;
	struct castle_lpm6 k = { 0 };
	struct castle_cidr c;
	int fd = -1;

	fx_cidr(cidr, &c);
	fd = castle_block_map_fd(&f->maps, &c, false, 0);
	if (castle_cidr_is_host(&c))
		return bpf_map_lookup_elem(fd, c.addr, &v) == 0;
	k.prefixlen = c.plen;
	memcpy(k.addr, c.addr, 16);
	return bpf_map_lookup_elem(fd, &k, &v) == 0;
}

uint32_t fx_tracked(struct fx *f)
{
	struct castle_rl_key k, next;
	uint32_t n = 0;
	void *prev = NULL;

	while (bpf_map_get_next_key(f->maps.rl_state, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	prev = NULL;
	while (bpf_map_get_next_key(f->maps.rl_steady, prev, &next) == 0) {
		k = next;
		prev = &k;
		n++;
	}
	return n;
}
