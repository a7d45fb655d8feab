// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_cost.c - castle-cost, ns/packet of every path of castle's two
 * programs, measured with BPF_PROG_TEST_RUN (repeat) beside a trivial
 * baseline, interleaved A B A B.
 *
 *   castle-cost xdp [--obj PATH] [--repeat N] [--runs K] [--exact N] [--nets N]
 *                   [--cidr-lengths K] [--no-allow] [--only PATH,...] [--no-check]
 *   castle-cost tc  [--repeat N] [--runs K] [--only PATH,...]
 *
 * It builds the state a path needs with the BPF tests' fixtures
 * (tests/bpf/helpers: the same user/lib/maps.c code castled uses, private
 * unpinned maps, nothing attached anywhere): an XDP policy with an
 * allowlist, --exact IPv6 /128 blocks (default 1M) and --nets IPv6 /96
 * CIDRs (default 100k) plus IPv4 exact and CIDR blocks, and rate-limit
 * classes; a TC policy with TLS on 443 and a verified connection. Every path
 * is checked: the program's return value, and for XDP that the packet was
 * counted with the expected verdict and reason, so a row cannot silently
 * measure another path.
 *
 * Output: one JSON object per line, {"prog", "path", "ns" (median), "ns_min"
 * (the fastest run), "base", "base_ns", "base_ns_min", "ratio" (median of
 * per-run ratios), "samples", ...}.
 * --obj loads another build of castle_xdp.bpf.o (a variant with a stage cut
 * out, for profiling); the default is the object the skeleton embeds.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "fixture_tc.h"
#include "loader.h"
#include "xdp_drop.skel.h"
#include "xdp_pass.skel.h"
#include "tc_ok.skel.h"

#define MAX_RUNS 101

struct opts {
	const char *obj, *only;
	int no_check, no_allow;
	unsigned long repeat, runs, exact, nets, lengths;
};

/* --only: a comma-separated list of path names (NULL: every path). */
static int chosen(const struct opts *o, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = o->only; p; p = strchr(p, ',') ? strchr(p, ',') + 1 : NULL)
		if (!strncmp(p, name, n) && (p[n] == ',' || !p[n]))
			return 1;
	return !o->only;
}

static void die(const char *what, int err)
{
	fprintf(stderr, "castle-cost: %s: %s\n", what, strerror(err < 0 ? -err : err));
	exit(1);
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	return level == LIBBPF_DEBUG ? 0 : vfprintf(stderr, fmt, ap);
}

/* One test run; returns ns/packet, the return value in *ret. */
static double test_run(int fd, const void *frame, size_t len, unsigned long repeat, int *ret)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = frame, .data_size_in = len,
		    .repeat = repeat);

	if (bpf_prog_test_run_opts(fd, &o))
		die("test run", errno);
	*ret = (int)o.retval;
	return o.duration;
}

static int cmp_d(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	double s[MAX_RUNS];

	memcpy(s, v, n * sizeof(*v));
	qsort(s, n, sizeof(*s), cmp_d);
	return n % 2 ? s[n / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
}

static double least(const double *v, int n)
{
	double m = v[0];

	for (int i = 1; i < n; i++)
		m = v[i] < m ? v[i] : m;
	return m;
}

/* The median, and the fastest run: a host that slows down in bursts, or
 * whose runs fall in two modes, only ever adds time to a run, so the
 * fastest is the steadiest figure there (bench/report.py shows both). */
static void report(const char *prog, const char *path, const char *base, double *a, double *b,
		   int n, int ret, const char *extra)
{
	double r[MAX_RUNS];

	for (int i = 0; i < n; i++)
		r[i] = b[i] > 0 ? a[i] / b[i] : 0;
	printf("{\"prog\": \"%s\", \"path\": \"%s\", \"ns\": %.1f, \"ns_min\": %.1f, "
	       "\"base\": \"%s\", \"base_ns\": %.1f, \"base_ns_min\": %.1f, \"ratio\": %.3f, "
	       "\"retval\": %d, \"samples\": [",
	       prog, path, median(a, n), least(a, n), base, median(b, n), least(b, n),
	       median(r, n), ret);
	for (int i = 0; i < n; i++)
		printf("%s%.0f", i ? ", " : "", a[i]);
	printf("], \"base_samples\": [");
	for (int i = 0; i < n; i++)
		printf("%s%.0f", i ? ", " : "", b[i]);
	printf("]%s%s}\n", extra ? ", " : "", extra ? extra : "");
	fflush(stdout);
}

/* Verifier and JIT numbers of a loaded program (all its subprograms). */
static void print_info(const char *prog, int fd)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		die("prog info", errno);
	printf("{\"prog\": \"%s\", \"info\": {\"verified_insns\": %u, \"xlated_bytes\": %u, "
	       "\"jited_bytes\": %u, \"subprogs\": %u}}\n", prog, info.verified_insns,
	       info.xlated_prog_len, info.jited_prog_len, info.nr_jited_func_lens);
}

/* ---- XDP -------------------------------------------------------------- */

struct xpath {
	const char *name;
	struct pkt_spec spec;
	size_t cut;		/* truncate the frame to this many bytes (0: no) */
	int verdict, reason;	/* expected count */
	int drop;		/* baseline: XDP_DROP, else XDP_PASS */
	int no_limits;		/* under the same policy without its limits */
};

static const char payload[18];

#define UDP4(S, P) { .family = 4, .src = S, .dst = "198.19.0.2", .proto = 17, \
			   .sport = 40000, .dport = P, .payload = payload, .paylen = 18 }
#define UDP6(S, P) { .family = 6, .src = S, .dst = "2001:db8:ca::2", .proto = 17, \
			   .sport = 40000, .dport = P, .payload = payload, .paylen = 18 }

/* Addresses of the loaded policy (see load_xdp_policy). */
static const struct xpath xpaths[] = {
	{ "non-ip", { .ethertype = 0x0806, .family = 4, .src = "198.18.250.1",
		      .dst = "198.19.0.2", .proto = 17 }, 0, CASTLE_PASS, CASTLE_R_NON_IP, 0, 0 },
	{ "pass-v4", UDP4("198.18.250.1", 443), 0, CASTLE_PASS, CASTLE_R_OK, 0, 0 },
	{ "pass-v6", UDP6("2001:db8:7::1", 443), 0, CASTLE_PASS, CASTLE_R_OK, 0, 0 },
	/* a blocklist-only policy: the rate-limit stage is skipped */
	{ "pass-no-limits-v4", UDP4("198.18.250.1", 443), 0, CASTLE_PASS, CASTLE_R_OK, 0, 1 },
	{ "allow-v4", UDP4("198.18.200.1", 443), 0, CASTLE_PASS, CASTLE_R_ALLOWLIST, 0, 0 },
	{ "allow-v6", UDP6("2001:db8:10::1", 443), 0, CASTLE_PASS, CASTLE_R_ALLOWLIST, 0, 0 },
	{ "block-exact-v4", UDP4("198.19.77.7", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	{ "block-exact-v6", UDP6("2001:db8:5::777", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	/* castled's setting in castle-vs-xdp-filter: a policy without limits */
	{ "block-exact-no-limits-v4", UDP4("198.19.77.7", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 1 },
	/* castlectl block add, without and with --ttl (an auto-ban has one) */
	{ "block-manual-v4", UDP4("198.18.241.9", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	{ "block-ttl-v4", UDP4("198.18.240.9", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	{ "block-auto-v4", UDP4("198.18.242.9", 443), 0, CASTLE_DROP, CASTLE_R_AUTOBAN, 1, 0 },
	{ "block-cidr-v4", UDP4("198.18.100.5", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	{ "block-cidr-v6", UDP6("2001:db8:6::77:1", 443), 0, CASTLE_DROP, CASTLE_R_BLOCKLIST, 1, 0 },
	{ "rl-pass-v4", UDP4("198.18.250.1", 9001), 0, CASTLE_PASS, CASTLE_R_OK, 0, 0 },
	{ "rl-pass-v6", UDP6("2001:db8:7::1", 9001), 0, CASTLE_PASS, CASTLE_R_OK, 0, 0 },
	{ "rl-drop-v4", UDP4("198.18.250.1", 9000), 0, CASTLE_DROP, CASTLE_R_RATELIMIT, 1, 0 },
	{ "rl-drop-v6", UDP6("2001:db8:7::1", 9000), 0, CASTLE_DROP, CASTLE_R_RATELIMIT, 1, 0 },
	{ "nd-v6", { .family = 6, .src = "2001:db8:7::1", .dst = "2001:db8:ca::2", .proto = 58,
		     .icmp_type = 135 }, 0, CASTLE_PASS, CASTLE_R_ND, 0, 0 },
	/* IP header cut after 10 bytes (v4) / 20 bytes (v6). */
	{ "malformed-v4", UDP4("198.18.250.1", 443), 14 + 10, CASTLE_DROP, CASTLE_R_MALFORMED, 1, 0 },
	{ "malformed-v6", UDP6("2001:db8:7::1", 443), 14 + 20, CASTLE_DROP, CASTLE_R_MALFORMED, 1, 0 },
};

#define NXPATHS (sizeof(xpaths) / sizeof(xpaths[0]))

static void add_cidr(struct fx *f, const char *s)
{
	struct castle_block_val v = { .origin = CASTLE_ORIGIN_POLICY };
	struct castle_cidr c;
	int err;

	fx_cidr(s, &c);
	v.created_ns = castle_now_boot_ns();
	err = castle_gen_add_block(&f->gen, &c, &v);
	if (err)
		die(s, err);
}

/*
 * The policy every XDP path runs under:
 *   allow  198.18.200.0/24, 2001:db8:10::/48 (none with --no-allow: the
 *          allow-* paths are then skipped)
 *   block  exact: 198.19.0.0 - 198.19.255.255 (65536, except 198.19.0.2,
 *                 the destination) and 2001:db8:5::N for N < --exact;
 *          CIDRs: 2048 /28s in 198.18.0.0/17 and --nets /96s
 *                 2001:db8:6:0:N::/96; with --cidr-lengths K also
 *                 198.18.160.0/19, /20, ... (K lengths) and 2001:db8:6:1::/64,
 *                 /65, ...: K + 1 prefix lengths per family, more than
 *                 CASTLE_NHASH_LENS puts the CIDRs in the tries
 *   manual 198.18.241.9 (no TTL) and 198.18.240.9 (a TTL of an hour);
 *          auto-ban 198.18.242.9 (a TTL of an hour, as the rate limiter's)
 *   limits udp/9000: 1/h burst 1 (every packet but the first over);
 *          udp/9001: 1e9/s burst 1e6 (never over); per /32 and /128;
 *          none when `limits` is false (the pass-no-limits rows)
 * Pass sources (198.18.250.1, 2001:db8:7::1) are on none of them.
 */
static void load_xdp_policy(struct fx *f, const struct opts *o, bool limits)
{
	struct castle_gen_sizes sz = { o->exact + 65536 + 16, o->nets + 2048 + 16, 1024 };
	struct castle_block_val v = { .origin = CASTLE_ORIGIN_POLICY,
				      .created_ns = castle_now_boot_ns() };
	struct timespec t0, t1;
	char err[256], buf[80];
	uint32_t chunk = 65536;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	memset(&f->pol, 0, sizeof(f->pol));
	if (castle_gen_begin(&sz, &f->gen, err, sizeof(err)))
		die(err, EINVAL);
	f->building = true;
	if (!o->no_allow) {
		fx_allow(f, "198.18.200.0/24");
		fx_allow(f, "2001:db8:10::/48");
	}

	struct castle_block_val *vals = calloc(chunk, sizeof(*vals));
	uint8_t (*keys)[16] = calloc(chunk, 16);
	if (!vals || !keys)
		die("calloc", ENOMEM);
	for (uint32_t i = 0; i < chunk; i++)
		vals[i] = v;
	/* IPv4 exact: 198.19.0.0/16 but the destination. */
	uint32_t n = 0;
	for (uint32_t i = 0; i < 65536; i++) {
		uint32_t a = htonl(198u << 24 | 19u << 16 | i);
		if (i == 2)
			continue;
		memcpy((uint8_t *)keys + 4 * n++, &a, 4);	/* packed 4-byte keys */
	}
	if (castle_gen_add_block_batch(&f->gen, 4, keys, vals, n))
		die("v4 exact batch", EIO);
	/* IPv6 exact: 2001:db8:5::/64 + i, in chunks. */
	for (unsigned long done = 0; done < o->exact; done += n) {
		n = o->exact - done < chunk ? o->exact - done : chunk;
		for (uint32_t i = 0; i < n; i++) {
			uint64_t low = done + i;
			uint8_t *k = keys[i];
			memset(k, 0, 16);
			k[0] = 0x20; k[1] = 0x01; k[2] = 0x0d; k[3] = 0xb8; k[5] = 0x05;
			for (int b = 0; b < 8; b++)
				k[15 - b] = low >> (8 * b);
		}
		/* the key layout of castle_in6 is the 16 address bytes */
		if (castle_gen_add_block_batch(&f->gen, 6, keys, vals, n))
			die("v6 exact batch", EIO);
	}
	free(keys);
	free(vals);
	for (uint32_t i = 0; i < 2048; i++) {
		snprintf(buf, sizeof(buf), "198.18.%u.%u/28", (i * 16) / 256, (i * 16) % 256);
		add_cidr(f, buf);
	}
	for (unsigned long i = 0; i < o->nets; i++) {
		snprintf(buf, sizeof(buf), "2001:db8:6:0:%lx:%lx::/96", i >> 16, i & 0xffff);
		add_cidr(f, buf);
	}
	for (unsigned long i = 0; i < o->lengths; i++) {
		snprintf(buf, sizeof(buf), "198.18.160.0/%lu", 19 + i);
		add_cidr(f, buf);
		snprintf(buf, sizeof(buf), "2001:db8:6:1::/%lu", 64 + i);
		add_cidr(f, buf);
	}
	if (limits) {
		int c0 = fx_class(f, NULL, CASTLE_PROTO_UDP, "9000", 1.0 / 3600, 1);
		int c1 = fx_class(f, NULL, CASTLE_PROTO_UDP, "9001", 1e9, 1000000);

		fx_class_per(f, c0, 32, 128);
		fx_class_per(f, c1, 32, 128);
	}
	fx_commit(f);
	fx_manual_block(f, "198.18.241.9", 0);
	fx_manual_block(f, "198.18.240.9", 3600ull * 1000000000ull);
	struct castle_cidr auto_ban;
	fx_cidr("198.18.242.9", &auto_ban);
	if (castle_manual_block_put(&f->maps, &auto_ban, 3600ull * 1000000000ull,
				    CASTLE_ORIGIN_AUTO))
		die("auto-ban entry", EIO);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(stderr, "castle-cost: policy loaded in %.2f s (%lu + 65535 exact, %lu + 2048 "
		"CIDRs)\n", (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9,
		o->exact, o->nets);
}

/* castle_xdp from another object file (a profiling variant), into f. */
static void open_obj(struct fx *f, const char *path)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .kconfig = castle_kconfig());
	struct bpf_object *bo;
	struct bpf_map *m;
	int err;

	memset(f, 0, sizeof(*f));
	bo = bpf_object__open_file(path, &oo);
	if (!bo)
		die(path, errno);
	bpf_object__for_each_map(m, bo)
		bpf_map__set_pin_path(m, NULL);
	m = bpf_object__find_map_by_name(bo, "rl_state");
	if (m)
		bpf_map__set_max_entries(m, 4096);
	err = bpf_object__load(bo);
	if (err)
		die(path, err);
	struct bpf_program *p = bpf_object__find_program_by_name(bo, "castle_xdp");
	if (!p)
		die("castle_xdp not in the object", ENOENT);
	f->prog_fd = bpf_program__fd(p);
	err = castle_maps_from_object(bo, &f->maps);
	if (err)
		die("maps", err);
	/* bo stays open for the process's lifetime */
}

/* castle_xdp into f (--obj's or this build's), under load_xdp_policy. */
static void xdp_fixture(struct fx *f, const struct opts *o, bool limits)
{
	if (o->obj)
		open_obj(f, o->obj);
	else
		fx_open(f, 0);
	load_xdp_policy(f, o, limits);
}

static int cmd_xdp(const struct opts *o)
{
	static struct fx f, fnl;
	bool nl = false;
	struct xdp_drop_bpf *drop = xdp_drop_bpf__open_and_load();
	struct xdp_pass_bpf *pass = xdp_pass_bpf__open_and_load();
	static uint8_t frames[NXPATHS][PKT_MAX];
	size_t lens[NXPATHS];
	double a[MAX_RUNS], b[MAX_RUNS];

	if (!drop || !pass)
		die("loading the baselines", errno);
	xdp_fixture(&f, o, true);
	print_info("xdp", f.prog_fd);
	for (size_t i = 0; i < NXPATHS; i++)
		nl |= xpaths[i].no_limits && chosen(o, xpaths[i].name);
	if (nl) /* a second copy of the lists, only when a row needs it */
		xdp_fixture(&fnl, o, false);
	int fd_drop = bpf_program__fd(drop->progs.bench_xdp_drop);
	int fd_pass = bpf_program__fd(pass->progs.bench_xdp_pass);

	for (size_t i = 0; i < NXPATHS; i++) {
		lens[i] = pkt_build(&xpaths[i].spec, frames[i], PKT_MAX);
		if (!lens[i])
			die(xpaths[i].name, EINVAL);
		if (xpaths[i].cut)
			lens[i] = xpaths[i].cut;
	}
	for (size_t i = 0; i < NXPATHS; i++) {
		const struct xpath *x = &xpaths[i];
		struct fx *fx = x->no_limits ? &fnl : &f;
		int ret, bret, want = x->verdict == CASTLE_DROP ? 1 : 2;

		if (!chosen(o, x->name))
			continue;
		if (o->no_allow && x->reason == CASTLE_R_ALLOWLIST) {
			if (!o->only)
				continue;
			fprintf(stderr, "castle-cost: xdp %s needs the allowlist that --no-allow "
				"leaves out\n", x->name);
			return 2;
		}
		/* Warm up (the first packet of rl-drop is admitted). */
		test_run(fx->prog_fd, frames[i], lens[i], 1000, &ret);
		for (unsigned long r = 0; r < o->runs; r++) {
			uint64_t c0 = fx_count(fx, x->verdict, x->reason);

			a[r] = test_run(fx->prog_fd, frames[i], lens[i], o->repeat, &ret);
			if (!o->no_check &&
			    (ret != want || fx_count(fx, x->verdict, x->reason) - c0 != o->repeat)) {
				fprintf(stderr, "castle-cost: xdp %s: returned %d, counted %lu of %lu "
					"as verdict %d reason %d: not the path it claims\n", x->name,
					ret, (unsigned long)(fx_count(fx, x->verdict, x->reason) - c0),
					o->repeat, x->verdict, x->reason);
				return 1;
			}
			b[r] = test_run(x->drop ? fd_drop : fd_pass, frames[i], lens[i], o->repeat,
					&bret);
		}
		report("xdp", x->name, x->drop ? "xdp-drop" : "xdp-pass", a, b, o->runs, ret, NULL);
	}
	xdp_drop_bpf__destroy(drop);
	xdp_pass_bpf__destroy(pass);
	return 0;
}

/* ---- TC --------------------------------------------------------------- */

static size_t seg(const struct ftc_conn *c, uint8_t flags, uint32_t off, const void *data,
		  size_t len, uint8_t *buf)
{
	struct pkt_spec s = { .family = c->family, .src = c->src, .dst = c->dst, .proto = 6,
			      .sport = c->sport, .dport = c->dport, .tcp_flags = flags,
			      .seq = c->isn + (flags & 0x02 ? 0 : 1 + off), .ack = 0x20000001u,
			      .payload = data, .paylen = len };
	size_t n = pkt_build(&s, buf, PKT_MAX);

	if (!n)
		die("pkt_build", EINVAL);
	return n;
}

/* One TC path run `repeat` times per sample, beside tc-ok on the same frame;
 * checks the return value and that every run was counted with the expected
 * verdict and reason (so a row cannot silently measure another path). */
static int tc_path(const struct opts *o, const char *name, struct ftc *f, int fd_ok,
		   const uint8_t *frame, size_t n, int verdict, int reason)
{
	int want = verdict == CASTLE_DROP ? FTC_DROP : FTC_PASS, ret, bret;
	double a[MAX_RUNS], b[MAX_RUNS];

	if (!chosen(o, name))
		return 0;
	test_run(f->prog_fd, frame, n, 1000, &ret);
	for (unsigned long r = 0; r < o->runs; r++) {
		uint64_t c0 = ftc_count(f, verdict, reason);

		a[r] = test_run(f->prog_fd, frame, n, o->repeat, &ret);
		if (ret != want || ftc_count(f, verdict, reason) - c0 != o->repeat) {
			fprintf(stderr, "castle-cost: tc %s: returned %d, counted %lu of %lu as "
				"verdict %d reason %d: not the path it claims\n", name, ret,
				(unsigned long)(ftc_count(f, verdict, reason) - c0), o->repeat,
				verdict, reason);
			return 1;
		}
		b[r] = test_run(fd_ok, frame, n, o->repeat, &bret);
	}
	report("tc", name, "tc-ok", a, b, o->runs, ret, NULL);
	return 0;
}

/*
 * The first payload of a connection is judged once, so `repeat` would
 * measure another path from its second run on. Instead: SYN, then one test
 * run of the payload (repeat 1, timed by the kernel), then forget the
 * connection; `repeat` / 1000 (at least 200) such rounds per sample, the
 * mean per round, the median over runs. The baseline runs the same frame
 * the same way (so the timer's own cost, ~tens of ns at repeat 1, is in
 * both). `state` is what the connection must be judged.
 */
static int tc_first_payload(const struct opts *o, const char *name, struct ftc *f, int fd_ok,
			    struct ftc_conn *c, const void *data, size_t len, int state,
			    int verdict, int reason)
{
	unsigned long rounds = o->repeat / 1000 > 200 ? o->repeat / 1000 : 200;
	int want = verdict == CASTLE_DROP ? FTC_DROP : FTC_PASS, ret = 0, bret;
	double a[MAX_RUNS], b[MAX_RUNS];
	static uint8_t frame[PKT_MAX];
	struct castle_tls_key k;
	char extra[64];
	size_t n;

	if (!chosen(o, name))
		return 0;
	n = seg(c, 0x18, 0, data, len, frame);
	ftc_conn_key(c, &k);
	for (unsigned long r = 0; r < o->runs; r++) {
		double sa = 0, sb = 0;
		uint64_t c0 = ftc_count(f, verdict, reason);

		for (unsigned long j = 0; j < rounds; j++) {
			if (ftc_syn(f, c) != FTC_PASS)
				die(name, EPROTO);
			sa += test_run(f->prog_fd, frame, n, 1, &ret);
			if (ret != want || ftc_conn_state(f, c) != state) {
				fprintf(stderr, "castle-cost: tc %s: returned %d, connection state "
					"%d: not the path it claims\n", name, ret,
					ftc_conn_state(f, c));
				return 1;
			}
			bpf_map_delete_elem(f->conns_fd, &k);
			bpf_map_delete_elem(f->pending_fd, &k);
			sb += test_run(fd_ok, frame, n, 1, &bret);
		}
		if (ftc_count(f, verdict, reason) - c0 != rounds) {
			fprintf(stderr, "castle-cost: tc %s: counted %lu of %lu as verdict %d "
				"reason %d\n", name, (unsigned long)(ftc_count(f, verdict, reason) - c0),
				rounds, verdict, reason);
			return 1;
		}
		a[r] = sa / rounds;
		b[r] = sb / rounds;
	}
	snprintf(extra, sizeof(extra), "\"repeat\": 1, \"rounds\": %lu", rounds);
	report("tc", name, "tc-ok", a, b, o->runs, ret, extra);
	return 0;
}

/* A verified connection from src: SYN, ClientHello. */
static void verified_conn(struct ftc *f, struct ftc_conn *c, int family, const char *src,
			  uint16_t sport, const uint8_t *hello, size_t hlen)
{
	ftc_conn_init(c, family, src, sport, 443);
	if (ftc_syn(f, c) != FTC_PASS || ftc_send(f, c, hello, hlen) != FTC_PASS ||
	    ftc_conn_state(f, c) != CASTLE_TLS_S_VERIFIED)
		die("building a verified connection", EPROTO);
}

/*
 * The TC paths, each under the policy it needs:
 *   f      TLS on 443 (1.2 and up), no allowlist: the gate's own paths
 *   fallow the same plus an allowlist (198.18.200.0/24), for the allowlist's
 *          path alone: the allowlist adds a lookup to every unverified
 *          segment, which the other rows would then carry
 *   fquic  the same with quic: allow (QUIC's path when it passes)
 *   fno    no tls: section (the gate only counts)
 * Sources: 198.18.250.x and 2001:db8:7::1 (on no list), 198.18.200.1 (the
 * allowlist row's, allowlisted under fallow); ports 40001 up.
 */
static int cmd_tc(const struct opts *o)
{
	static struct ftc f, fallow, fquic, fno;
	static const uint16_t v13[] = { 0x0304 };
	static const char plain[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static uint8_t hello[4096], frame[PKT_MAX], data[1200];
	struct ftc_hello h = { .versions = v13, .nversions = 1, .sni = "example.com" };
	struct tc_ok_bpf *ok = tc_ok_bpf__open_and_load();
	struct ftc_conn c, c6, bad, untracked, allowed, syn, hc, nc;
	size_t n, hlen = ftc_hello(&h, hello, sizeof(hello));
	int err = 0;

	if (!ok || !hlen)
		die("loading tc-ok / building the hello", errno ? errno : EINVAL);
	int fd_ok = bpf_program__fd(ok->progs.bench_tc_ok);

	ftc_open(&f, 0, 0);
	ftc_begin(&f, "443", 0x0303, 0);
	ftc_commit(&f);
	print_info("tc", f.prog_fd);
	ftc_open(&fallow, 0, 0);
	ftc_begin(&fallow, "443", 0x0303, 0);
	ftc_allow(&fallow, "198.18.200.0/24");
	ftc_commit(&fallow);
	ftc_open(&fquic, 0, 0);
	ftc_begin(&fquic, "443", 0x0303, CASTLE_F_TLS_QUIC_ALLOW);
	ftc_commit(&fquic);
	ftc_open(&fno, 0, 0);
	ftc_begin_no_tls(&fno);
	ftc_commit(&fno);

	verified_conn(&f, &c, 4, "198.18.250.1", 40001, hello, hlen);
	verified_conn(&f, &c6, 6, "2001:db8:7::1", 40001, hello, hlen);
	/* A connection judged not TLS: its plaintext first payload dropped. */
	ftc_conn_init(&bad, 4, "198.18.250.3", 40004, 443);
	if (ftc_syn(&f, &bad) != FTC_PASS ||
	    ftc_send(&f, &bad, plain, sizeof(plain) - 1) != FTC_DROP ||
	    ftc_conn_state(&f, &bad) != CASTLE_TLS_S_BAD)
		die("building a connection judged not TLS", EPROTO);
	/* A connection the gate never saw open (older than it). */
	ftc_conn_init(&untracked, 4, "198.18.250.4", 40005, 443);
	untracked.next = 5000;
	ftc_conn_init(&allowed, 4, "198.18.200.1", 40006, 443);
	syn = c;
	syn.sport = 40002;

	n = seg(&c, 0x18, 0, data, sizeof(data), frame);
	err = err ?: tc_path(o, "no-tls-policy", &fno, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_OK);
	c.dport = 8080;
	n = seg(&c, 0x18, 0, data, sizeof(data), frame);
	c.dport = 443;
	err = err ?: tc_path(o, "unprotected-port", &f, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_OK);
	n = seg(&c, 0x18, c.next, data, sizeof(data), frame);
	err = err ?: tc_path(o, "verified-segment", &f, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_TLS);
	n = seg(&c6, 0x18, c6.next, data, sizeof(data), frame);
	err = err ?: tc_path(o, "verified-segment-v6", &f, fd_ok, frame, n, CASTLE_PASS,
			     CASTLE_R_TLS);
	n = seg(&syn, 0x02, 0, NULL, 0, frame);
	err = err ?: tc_path(o, "syn", &f, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_OK);
	n = seg(&bad, 0x18, bad.next, data, sizeof(data), frame);
	err = err ?: tc_path(o, "judged-not-tls", &f, fd_ok, frame, n, CASTLE_DROP,
			     CASTLE_R_TLS_NOT_TLS);
	n = seg(&untracked, 0x18, untracked.next, data, sizeof(data), frame);
	err = err ?: tc_path(o, "untracked", &f, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_UNTRACKED);
	n = seg(&allowed, 0x18, 0, data, sizeof(data), frame);
	err = err ?: tc_path(o, "allowlist", &fallow, fd_ok, frame, n, CASTLE_PASS,
			     CASTLE_R_ALLOWLIST);
	{
		struct pkt_spec arp = { .ethertype = 0x0806, .family = 4, .src = "198.18.250.1",
					.dst = c.dst, .proto = 17, .payload = data, .paylen = 28 };

		n = pkt_build(&arp, frame, PKT_MAX);
		if (!n)
			die("pkt_build", EINVAL);
		err = err ?: tc_path(o, "non-ip", &f, fd_ok, frame, n, CASTLE_PASS, CASTLE_R_NON_IP);
	}
	/* Malformed: an IPv4 header whose length field ends inside it (no
	 * trustworthy source), and a TCP header cut after 10 of its 20 bytes
	 * with the IP length saying so (source and ports known, the port
	 * protected: the allowlist and the port are looked at first). */
	{
		struct pkt_spec cut = { .family = 4, .src = "198.18.250.1", .dst = c.dst,
					.proto = 6, .sport = 40008, .dport = 443,
					.tcp_flags = 0x10, .seq = 1, .ack = 1 };
		struct pkt_layout lay;

		n = pkt_build_layout(&cut, frame, PKT_MAX, &lay);
		if (!n || !lay.l4)
			die("pkt_build_layout", EINVAL);
		pkt_set_ip_end(frame, &lay, 4, lay.l3 + 10);
		err = err ?: tc_path(o, "malformed-l3", &f, fd_ok, frame, n, CASTLE_DROP,
				     CASTLE_R_MALFORMED);
		pkt_set_ip_end(frame, &lay, 4, lay.l4 + 10);
		err = err ?: tc_path(o, "malformed-l4", &f, fd_ok, frame, lay.l4 + 10, CASTLE_DROP,
				     CASTLE_R_MALFORMED);
	}
	if (ftc_conn_state(&f, &c) != CASTLE_TLS_S_VERIFIED)
		die("the verified connection lost its state", EPROTO);

	/* A datagram to a protected port (QUIC not allowed by this policy):
	 * every one is judged, reading the first payload bytes. */
	{
		struct pkt_spec u = { .family = 4, .src = "198.18.250.1", .dst = c.dst, .proto = 17,
				      .sport = 40003, .dport = 443, .payload = data,
				      .paylen = sizeof(data) };

		data[0] = 0xc3; /* a long header, as a QUIC Initial starts */
		n = pkt_build(&u, frame, PKT_MAX);
		if (!n)
			die("pkt_build", EINVAL);
		err = err ?: tc_path(o, "udp-protected", &f, fd_ok, frame, n, CASTLE_DROP,
				     CASTLE_R_QUIC);
		/* The same with quic: allow and QUIC v1's version: passed. */
		memcpy(data + 1, "\0\0\0\1", 4);
		n = pkt_build(&u, frame, PKT_MAX);
		if (!n)
			die("pkt_build", EINVAL);
		err = err ?: tc_path(o, "quic-allowed", &fquic, fd_ok, frame, n, CASTLE_PASS,
				     CASTLE_R_OK);
		memset(data, 0, 5);
	}

	/* Once per connection: a ClientHello inspected and verified, and a
	 * plaintext first payload judged not TLS. */
	ftc_conn_init(&hc, 4, "198.18.250.2", 40003, 443);
	err = err ?: tc_first_payload(o, "client-hello", &f, fd_ok, &hc, hello, hlen,
				      CASTLE_TLS_S_VERIFIED, CASTLE_PASS, CASTLE_R_TLS);
	ftc_conn_init(&nc, 4, "198.18.250.5", 40007, 443);
	err = err ?: tc_first_payload(o, "first-payload-not-tls", &f, fd_ok, &nc, plain,
				      sizeof(plain) - 1, CASTLE_TLS_S_BAD, CASTLE_DROP,
				      CASTLE_R_TLS_NOT_TLS);
	ftc_close(&f);
	ftc_close(&fallow);
	ftc_close(&fquic);
	ftc_close(&fno);
	tc_ok_bpf__destroy(ok);
	return err;
}

static void usage(FILE *out)
{
	fprintf(out, "usage: castle-cost xdp [--obj PATH] [--repeat N] [--runs K] [--exact N] "
		"[--nets N] [--cidr-lengths K] [--no-allow] [--only PATH,...] [--no-check]\n"
		"       castle-cost tc [--repeat N] [--runs K] [--only PATH,...]\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "obj", required_argument, NULL, 'o' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "runs", required_argument, NULL, 'n' },
		{ "exact", required_argument, NULL, 'e' },
		{ "nets", required_argument, NULL, 'N' },
		{ "cidr-lengths", required_argument, NULL, 'L' },
		{ "only", required_argument, NULL, 'O' },
		{ "no-check", no_argument, NULL, 'C' },
		{ "no-allow", no_argument, NULL, 'A' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct opts o = { .repeat = 1000000, .runs = 5, .exact = 1u << 20, .nets = 100000 };
	int c;

	if (argc < 2 || argv[1][0] == '-') {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	optind = 2;
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		char *end;
		unsigned long v;

		switch (c) {
		case 'o':
			o.obj = optarg;
			break;
		case 'O':
			o.only = optarg;
			break;
		case 'A':	/* no allowlist: xdp-filter's setting, for profiling */
			o.no_allow = 1;
			break;
		case 'C':	/* profiling variants: a cut stage may change the verdict */
			o.no_check = 1;
			break;
		case 'r':
		case 'n':
		case 'e':
		case 'N':
		case 'L':
			errno = 0;
			v = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || v > UINT32_MAX ||
			    (c != 'e' && c != 'N' && c != 'L' && !v) || (c == 'n' && v > MAX_RUNS) ||
			    (c == 'L' && v > 9)) {
				fprintf(stderr, "castle-cost: bad number '%s'\n", optarg);
				return 2;
			}
			if (c == 'r')
				o.repeat = v;
			else if (c == 'n')
				o.runs = v;
			else if (c == 'e')
				o.exact = v;
			else if (c == 'L')
				o.lengths = v;
			else
				o.nets = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	libbpf_set_print(print_libbpf);
	if (!strcmp(argv[1], "xdp"))
		return cmd_xdp(&o);
	if (!strcmp(argv[1], "tc"))
		return cmd_tc(&o);
	usage(stderr);
	return 2;
}
