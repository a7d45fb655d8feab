// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_gen.c - castle-gen, the benchmark's traffic generator. It runs the
 * castle_gen XDP program with BPF_PROG_TEST_RUN in live-frame mode
 * (BPF_F_TEST_XDP_LIVE_FRAMES): the kernel recycles page-pool frames made
 * from our template, the program rewrites the source address and redirects
 * each frame out of --dev. One thread per CPU, each pinned, each running the
 * test in chunks so --duration and Ctrl-C are honoured.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "bench.h"
#include "frame.h"
#include "castle_gen.skel.h"

#define GEN_MAX_SOURCES (1u << 24)
#define GEN_MAX_THREADS 64
#define GEN_CHUNK (1u << 16)	/* frames per test-run call: the --duration granularity */

struct gen_opts {
	char dev[IF_NAMESIZE];
	unsigned int ifindex;
	const char *src, *dst;
	const char *src_mac, *dst_mac;
	unsigned long sources;
	int proto;
	unsigned long sport, dport, size;
	unsigned long long count;
	double duration;
	unsigned long threads, batch;
	int v6, json, shared;
};

struct gen_thread {
	pthread_t tid;
	int prog_fd;
	int cpu;
	unsigned long long want;
	unsigned long long done;
	int err;
	const uint8_t *frame;
	uint32_t len;
	unsigned int batch;
};

static volatile sig_atomic_t stop;
static struct timespec deadline;
static int have_deadline;

/* Options as a table, so the help text and the parser cannot drift. */
static const struct gen_param {
	struct option opt;
	const char *arg, *help;
} params[] = {
	{ { "dev", required_argument, NULL, 'd' }, "NAME", "redirect target (gen-side veth)" },
	{ { "ifindex", required_argument, NULL, 'i' }, "N", "redirect target by ifindex" },
	{ { "src", required_argument, NULL, 's' }, "ADDR",
	  "first source address (198.18.0.0 / 2001:db8:5::)" },
	{ { "sources", required_argument, NULL, 'n' }, "N", "distinct sources, 1..16777216 (1)" },
	{ { "dst", required_argument, NULL, 'D' }, "ADDR", "destination address (required)" },
	{ { "dst-mac", required_argument, NULL, 'M' }, "MAC", "destination MAC (required)" },
	{ { "src-mac", required_argument, NULL, 'm' }, "MAC", "source MAC (the device's)" },
	{ { "proto", required_argument, NULL, 'p' }, "udp|tcp", "L4 protocol; tcp sends SYNs (udp)" },
	{ { "sport", required_argument, NULL, 'S' }, "PORT", "source port (40000)" },
	{ { "dport", required_argument, NULL, 'P' }, "PORT", "destination port (443)" },
	{ { "size", required_argument, NULL, 'z' }, "BYTES", "frame size without FCS (64)" },
	{ { "count", required_argument, NULL, 'c' }, "N", "frames to send in all (10000000)" },
	{ { "duration", required_argument, NULL, 't' }, "SEC", "stop after SEC seconds (none)" },
	{ { "threads", required_argument, NULL, 'T' }, "N", "sending threads, one per CPU (1)" },
	{ { "shared-pool", no_argument, NULL, 'H' }, NULL,
	  "every thread cycles the whole pool (default: each its own share, as RSS would)" },
	{ { "batch", required_argument, NULL, 'b' }, "N", "test-run batch size (kernel: 64)" },
	{ { "v6", no_argument, NULL, '6' }, NULL, "IPv6 (implied by an IPv6 --src/--dst)" },
	{ { "json", no_argument, NULL, 'j' }, NULL, "print the result as one JSON line" },
	{ { "help", no_argument, NULL, 'h' }, NULL, "this text" },
};

#define NPARAMS (sizeof(params) / sizeof(params[0]))

static void usage(FILE *f)
{
	fprintf(f, "usage: castle-gen --dev NAME|--ifindex N --dst ADDR --dst-mac MAC [options]\n");
	for (size_t i = 0; i < NPARAMS; i++) {
		char left[40];

		snprintf(left, sizeof(left), "--%s%s%s", params[i].opt.name,
			 params[i].arg ? " " : "", params[i].arg ? params[i].arg : "");
		fprintf(f, "  %-22s %s\n", left, params[i].help);
	}
}

static int parse_ulong(const char *opt, const char *s, unsigned long long lo,
		       unsigned long long hi, unsigned long long *out)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 0);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr, "castle-gen: --%s: '%s' is not a number in %llu..%llu\n", opt, s,
			lo, hi);
		return -EINVAL;
	}
	*out = v;
	return 0;
}

static int parse_args(int argc, char **argv, struct gen_opts *o)
{
	struct option longopts[NPARAMS + 1];
	unsigned long long v;
	int c, err = 0;

	for (size_t i = 0; i < NPARAMS; i++)
		longopts[i] = params[i].opt;
	memset(&longopts[NPARAMS], 0, sizeof(longopts[0]));

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		const char *name = NULL;

		for (size_t i = 0; i < NPARAMS; i++)
			if (params[i].opt.val == c)
				name = params[i].opt.name;
		switch (c) {
		case 'd':
			if (strlen(optarg) >= IF_NAMESIZE) {
				fprintf(stderr, "castle-gen: --dev: '%s' is too long\n", optarg);
				return -EINVAL;
			}
			strcpy(o->dev, optarg);
			break;
		case 'i':
			err = parse_ulong(name, optarg, 1, UINT32_MAX, &v);
			o->ifindex = v;
			break;
		case 's':
			o->src = optarg;
			break;
		case 'D':
			o->dst = optarg;
			break;
		case 'M':
			o->dst_mac = optarg;
			break;
		case 'm':
			o->src_mac = optarg;
			break;
		case 'n':
			err = parse_ulong(name, optarg, 1, GEN_MAX_SOURCES, &v);
			o->sources = v;
			break;
		case 'p':
			if (!strcmp(optarg, "udp")) {
				o->proto = IPPROTO_UDP;
			} else if (!strcmp(optarg, "tcp")) {
				o->proto = IPPROTO_TCP;
			} else {
				fprintf(stderr, "castle-gen: --proto: '%s' is not udp or tcp\n",
					optarg);
				return -EINVAL;
			}
			break;
		case 'S':
			err = parse_ulong(name, optarg, 0, 65535, &v);
			o->sport = v;
			break;
		case 'P':
			err = parse_ulong(name, optarg, 0, 65535, &v);
			o->dport = v;
			break;
		case 'z':
			err = parse_ulong(name, optarg, 42, FRAME_MAX, &v);
			o->size = v;
			break;
		case 'c':
			err = parse_ulong(name, optarg, 1, 1ull << 48, &v);
			o->count = v;
			break;
		case 't': {
			char *end;

			o->duration = strtod(optarg, &end);
			if (end == optarg || *end || !(o->duration > 0)) {
				fprintf(stderr, "castle-gen: --duration: '%s' is not a positive "
					"number of seconds\n", optarg);
				return -EINVAL;
			}
			break;
		}
		case 'T':
			err = parse_ulong(name, optarg, 1, GEN_MAX_THREADS, &v);
			o->threads = v;
			break;
		case 'b':
			err = parse_ulong(name, optarg, 1, 256, &v);
			o->batch = v;
			break;
		case '6':
			o->v6 = 1;
			break;
		case 'H':
			o->shared = 1;
			break;
		case 'j':
			o->json = 1;
			break;
		case 'h':
			usage(stdout);
			exit(0);
		default:
			usage(stderr);
			return -EINVAL;
		}
		if (err)
			return err;
	}
	if (optind < argc) {
		fprintf(stderr, "castle-gen: unexpected argument '%s'\n", argv[optind]);
		return -EINVAL;
	}
	if (!o->dst || !o->dst_mac || (!o->dev[0] && !o->ifindex)) {
		fprintf(stderr, "castle-gen: --dev (or --ifindex), --dst and --dst-mac are "
			"required\n");
		usage(stderr);
		return -EINVAL;
	}
	return 0;
}

static int resolve_dev(struct gen_opts *o, uint8_t src_mac[6])
{
	struct ifreq ifr = {};
	int fd, err = 0;

	if (o->dev[0]) {
		o->ifindex = if_nametoindex(o->dev);
		if (!o->ifindex) {
			fprintf(stderr, "castle-gen: device %s: %s\n", o->dev, strerror(errno));
			return -errno;
		}
	} else if (!if_indextoname(o->ifindex, o->dev)) {
		fprintf(stderr, "castle-gen: ifindex %u: %s\n", o->ifindex, strerror(errno));
		return -errno;
	}
	if (o->src_mac) {
		if (frame_parse_mac(o->src_mac, src_mac)) {
			fprintf(stderr, "castle-gen: --src-mac: '%s' is not a MAC address "
				"(want aa:bb:cc:dd:ee:ff)\n", o->src_mac);
			return -EINVAL;
		}
		return 0;
	}
	fd = socket(AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "castle-gen: socket for SIOCGIFHWADDR: %s\n", strerror(errno));
		return err;
	}
	strcpy(ifr.ifr_name, o->dev);
	if (ioctl(fd, SIOCGIFHWADDR, &ifr) < 0) {
		err = -errno;
		fprintf(stderr, "castle-gen: MAC address of %s: %s (give --src-mac)\n", o->dev,
			strerror(errno));
	} else {
		memcpy(src_mac, ifr.ifr_hwaddr.sa_data, 6);
	}
	close(fd);
	return err;
}

/* Parse src/dst into the spec and the pool base the program adds to. */
static int resolve_addrs(const struct gen_opts *o, struct frame_spec *spec, uint64_t *base)
{
	int v6 = o->v6 || strchr(o->dst, ':') || (o->src && strchr(o->src, ':'));
	const char *src = o->src ? o->src : v6 ? "2001:db8:5::" : "198.18.0.0";
	int af = v6 ? AF_INET6 : AF_INET;

	if (inet_pton(af, src, spec->saddr) != 1) {
		fprintf(stderr, "castle-gen: --src: '%s' is not an IPv%d address\n", src,
			v6 ? 6 : 4);
		return -EINVAL;
	}
	if (inet_pton(af, o->dst, spec->daddr) != 1) {
		fprintf(stderr, "castle-gen: --dst: '%s' is not an IPv%d address (--src and "
			"--dst must be one family)\n", o->dst, v6 ? 6 : 4);
		return -EINVAL;
	}
	spec->family = v6 ? 6 : 4;
	*base = 0;
	if (v6) {
		for (int i = 8; i < 16; i++)
			*base = *base << 8 | spec->saddr[i];
	} else {
		for (int i = 0; i < 4; i++)
			*base = *base << 8 | spec->saddr[i];
		if (*base + o->sources - 1 > UINT32_MAX) {
			fprintf(stderr, "castle-gen: --src %s + --sources %lu runs past "
				"255.255.255.255\n", src, o->sources);
			return -EINVAL;
		}
	}
	return 0;
}

/*
 * Split the pool between the CPUs the threads run on (the j-th of k gets
 * [N*j/k, N*(j+1)/k)), as a NIC's RSS puts each source on one queue: a
 * source's state is then written by one CPU, not bounced between both. With
 * fewer sources than CPUs, or --shared-pool, every CPU cycles the whole pool
 * from its own offset (so two threads do not send the same source at the
 * same moment).
 */
static int init_state(struct castle_gen_bpf *skel, unsigned long sources, const int *cpus, int k,
		      int shared)
{
	int ncpu = libbpf_num_possible_cpus();
	struct gen_cpu *v;
	__u32 zero = 0;
	int err;

	if (ncpu < 0) {
		fprintf(stderr, "castle-gen: counting possible CPUs: %s\n", strerror(-ncpu));
		return ncpu;
	}
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return -ENOMEM;
	for (int i = 0; i < ncpu; i++) {
		v[i].lo = 0;
		v[i].hi = sources;
		v[i].next = (uint64_t)sources * i / ncpu;
	}
	if (!shared && k > 0 && sources >= (unsigned long)k) {
		for (int j = 0; j < k; j++) {
			int c = cpus[j];

			if (c < 0 || c >= ncpu)
				continue;
			v[c].lo = (uint64_t)sources * j / k;
			v[c].hi = (uint64_t)sources * (j + 1) / k;
			v[c].next = v[c].lo;
		}
	}
	err = bpf_map_update_elem(bpf_map__fd(skel->maps.gen_state), &zero, v, BPF_ANY);
	if (err)
		fprintf(stderr, "castle-gen: seeding gen_state: %s\n", strerror(errno));
	free(v);
	return err;
}

static unsigned long long read_sent(struct castle_gen_bpf *skel)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long sum = 0;
	struct gen_cpu *v;
	__u32 zero = 0;

	if (ncpu < 0)
		return 0;
	v = calloc(ncpu, sizeof(*v));
	if (!v)
		return 0;
	if (!bpf_map_lookup_elem(bpf_map__fd(skel->maps.gen_state), &zero, v))
		for (int i = 0; i < ncpu; i++)
			sum += v[i].sent;
	free(v);
	return sum;
}

static int past_deadline(void)
{
	struct timespec now;

	if (!have_deadline)
		return 0;
	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > deadline.tv_sec ||
	       (now.tv_sec == deadline.tv_sec && now.tv_nsec >= deadline.tv_nsec);
}

static void *gen_thread_main(void *arg)
{
	struct gen_thread *t = arg;
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(t->cpu, &set);
	/* Best effort: an unpinned thread still sends, only less evenly (and
	 * not from its CPU's share of the pool alone): say so. */
	if (pthread_setaffinity_np(pthread_self(), sizeof(set), &set))
		fprintf(stderr, "castle-gen: pinning a thread to CPU %d failed; it runs "
			"unpinned\n", t->cpu);

	while (t->done < t->want && !stop && !past_deadline()) {
		unsigned long long left = t->want - t->done;
		LIBBPF_OPTS(bpf_test_run_opts, opts,
			    .data_in = t->frame,
			    .data_size_in = t->len,
			    .repeat = left < GEN_CHUNK ? left : GEN_CHUNK,
			    .flags = BPF_F_TEST_XDP_LIVE_FRAMES,
			    .batch_size = t->batch);

		if (bpf_prog_test_run_opts(t->prog_fd, &opts)) {
			if (errno != EINTR)
				t->err = -errno;
			break;
		}
		t->done += opts.repeat;
	}
	return NULL;
}

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static double elapsed_s(const struct timespec *a, const struct timespec *b)
{
	return (b->tv_sec - a->tv_sec) + (b->tv_nsec - a->tv_nsec) / 1e9;
}

int main(int argc, char **argv)
{
	struct gen_opts o = {
		.sources = 1, .proto = IPPROTO_UDP, .sport = 40000, .dport = 443,
		.size = 64, .count = 10000000, .threads = 1,
	};
	struct gen_thread th[GEN_MAX_THREADS] = {};
	struct castle_gen_bpf *skel = NULL;
	struct frame_spec spec = {};
	struct frame_layout lay;
	uint8_t frame[FRAME_MAX];
	struct timespec t0, t1;
	unsigned long started = 0;
	uint64_t base;
	int cpus[GEN_MAX_THREADS], ncpu_allowed;
	int err;

	err = parse_args(argc, argv, &o);
	if (err)
		return 2;
	libbpf_set_print(print_libbpf);

	err = resolve_dev(&o, spec.src_mac);
	if (err)
		return 1;
	if (frame_parse_mac(o.dst_mac, spec.dst_mac)) {
		fprintf(stderr, "castle-gen: --dst-mac: '%s' is not a MAC address "
			"(want aa:bb:cc:dd:ee:ff)\n", o.dst_mac);
		return 2;
	}
	err = resolve_addrs(&o, &spec, &base);
	if (err)
		return 2;
	spec.proto = o.proto;
	spec.sport = o.sport;
	spec.dport = o.dport;
	spec.size = o.size;
	if (spec.size < frame_min_size(spec.family, spec.proto))
		fprintf(stderr, "castle-gen: --size %lu is below the %u bytes these headers "
			"need; sending %u\n", o.size, frame_min_size(spec.family, spec.proto),
			frame_min_size(spec.family, spec.proto));
	err = frame_build(&spec, frame, &lay);
	if (err) {
		fprintf(stderr, "castle-gen: building the template frame: %s\n", strerror(-err));
		return 1;
	}

	skel = castle_gen_bpf__open();
	if (!skel) {
		err = -errno;
		fprintf(stderr, "castle-gen: opening the BPF object: %s\n", strerror(errno));
		goto cleanup;
	}
	skel->rodata->conf.ifindex = o.ifindex;
	skel->rodata->conf.sources = o.sources;
	skel->rodata->conf.family = spec.family;
	skel->rodata->conf.saddr_off = lay.saddr_off;
	skel->rodata->conf.ip_csum_off = lay.ip_csum_off;
	skel->rodata->conf.l4_csum_off = lay.l4_csum_off;
	skel->rodata->conf.base = base;
	memcpy((void *)&skel->rodata->conf.ip_csum, frame + lay.ip_csum_off, 2);
	memcpy((void *)&skel->rodata->conf.l4_csum, frame + lay.l4_csum_off, 2);
	skel->rodata->conf.udp = o.proto == IPPROTO_UDP;
	if (!lay.ip_csum_off)
		skel->rodata->conf.ip_csum = 0;

	err = castle_gen_bpf__load(skel);
	if (err) {
		fprintf(stderr, "castle-gen: loading the generator program: %s (see the "
			"verifier log above)\n", strerror(-err));
		goto cleanup;
	}
	/* The CPUs this process may run on (a cpuset or taskset may leave
	 * gaps): thread i is pinned to the i-th of them, round robin. */
	{
		cpu_set_t allowed;

		ncpu_allowed = 0;
		if (!sched_getaffinity(0, sizeof(allowed), &allowed))
			for (int c = 0; c < CPU_SETSIZE && ncpu_allowed < GEN_MAX_THREADS; c++)
				if (CPU_ISSET(c, &allowed))
					cpus[ncpu_allowed++] = c;
		if (!ncpu_allowed)
			cpus[ncpu_allowed++] = 0;
	}
	int nsend = (int)o.threads < ncpu_allowed ? (int)o.threads : ncpu_allowed;
	/* what init_state does: a share each, unless asked or too few sources */
	int split = !o.shared && o.sources >= (unsigned long)nsend;

	err = init_state(skel, o.sources, cpus, nsend, !split);
	if (err)
		goto cleanup;

	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);

	clock_gettime(CLOCK_MONOTONIC, &t0);
	if (o.duration > 0) {
		double end = t0.tv_sec + t0.tv_nsec / 1e9 + o.duration;

		deadline.tv_sec = (time_t)end;
		deadline.tv_nsec = (long)((end - deadline.tv_sec) * 1e9);
		have_deadline = 1;
	}
	for (unsigned long i = 0; i < o.threads; i++) {
		th[i].prog_fd = bpf_program__fd(skel->progs.castle_gen);
		th[i].cpu = cpus[i % ncpu_allowed];
		th[i].want = o.count / o.threads + (i == 0 ? o.count % o.threads : 0);
		th[i].frame = frame;
		th[i].len = lay.len;
		th[i].batch = o.batch;
		err = pthread_create(&th[i].tid, NULL, gen_thread_main, &th[i]);
		if (err) {
			fprintf(stderr, "castle-gen: starting thread %lu: %s\n", i, strerror(err));
			err = -err;
			stop = 1;
			break;
		}
		started++;
	}
	for (unsigned long i = 0; i < started; i++) {
		pthread_join(th[i].tid, NULL);
		if (th[i].err && !err) {
			err = th[i].err;
			fprintf(stderr, "castle-gen: test run on CPU %d: %s\n", th[i].cpu,
				strerror(-err));
		}
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (err)
		goto cleanup;

	double secs = elapsed_s(&t0, &t1);
	unsigned long long sent = read_sent(skel);

	if (o.json)
		printf("{\"offered\": %llu, \"elapsed_s\": %.6f, \"mpps\": %.4f, "
		       "\"threads\": %lu, \"sources\": %lu, \"family\": %d, \"size\": %u, "
		       "\"pool\": \"%s\"}\n",
		       sent, secs, sent / secs / 1e6, o.threads, o.sources, spec.family,
		       lay.len, split ? "split" : "shared");
	else
		printf("castle-gen: %llu frames (IPv%d, %u bytes, %lu sources) to %s in %.3f s: "
		       "%.3f Mpps\n", sent, spec.family, lay.len, o.sources, o.dev, secs,
		       sent / secs / 1e6);
cleanup:
	castle_gen_bpf__destroy(skel);
	return err ? 1 : 0;
}
