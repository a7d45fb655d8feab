// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_dut.c - castle-dut, the device-under-test side of the benchmark.
 *
 *   castle-dut attach KIND --dev NAME --pin DIR [--obj PATH] [--mode native|generic]
 *                    [--fill ADDR --fill-count N]
 *   castle-dut count --pin DIR
 *   castle-dut detach --pin DIR
 *   castle-dut cost KIND [--obj PATH] [--v6] [--proto udp|tcp] [--size N] [--repeat N]
 *   castle-dut jit --id ID --out FILE
 *
 * attach loads a program (a baseline or castle's XDP gate), attaches it with a
 * BPF link and pins the link and its counter under DIR, so it outlives this
 * process; count prints what the counter saw; detach removes DIR, which
 * drops the last reference to the link and so detaches the program. --fill
 * puts N consecutive sources from ADDR (the generator's pool) into the hash of
 * xdp-hash-drop before it is attached. cost runs
 * BPF_PROG_TEST_RUN over one crafted frame and prints ns per packet. jit
 * writes a loaded program's JIT image to FILE and prints where its functions
 * are (bench/hotspots.py).
 *
 * Every object is opened with pin_root_path = DIR (a private directory), so
 * castle's LIBBPF_PIN_BY_NAME maps can never land in, or reuse, the maps of a
 * castle running on this host.
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <net/if.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <linux/if_link.h>
#include <netinet/in.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <castle/castle.h>
#include "bench.h"
#include "fill.h"
#include "jit.h"
#include "frame.h"
#include "loader.h"
#include "xdp_drop.skel.h"
#include "xdp_pass.skel.h"
#include "tc_ok.skel.h"
#include "xdp_hash_drop.skel.h"
#include "xdp_lru_drop.skel.h"
#include "xdp_slot_drop.skel.h"

/* BPF_TCX_INGRESS (kernel 6.6) is newer than the uapi headers of Debian 12;
 * the kernel we run on has it, libbpf 1.1 passes the attach type through. */
#define BENCH_TCX_INGRESS 46

#define CASTLE_OBJ_DEFAULT "build/bpf/castle_xdp.bpf.o"

enum hook { HOOK_XDP, HOOK_TC };

/* The programs castle-dut knows. A castle scenario that needs another program
 * (castle's TC gate, say) adds a row here. */
static const struct kind {
	const char *name;
	enum hook hook;
	const void *(*elf)(size_t *sz);	/* embedded object, or NULL: --obj */
	const char *prog;
	const char *counter;		/* pinned under DIR by this name */
} kinds[] = {
	{ "xdp-drop", HOOK_XDP, xdp_drop_bpf__elf_bytes, "bench_xdp_drop", BENCH_MAP_RX },
	{ "xdp-pass", HOOK_XDP, xdp_pass_bpf__elf_bytes, "bench_xdp_pass", BENCH_MAP_RX },
	{ "tc-ok", HOOK_TC, tc_ok_bpf__elf_bytes, "bench_tc_ok", BENCH_MAP_RX },
	{ "xdp-hash-drop", HOOK_XDP, xdp_hash_drop_bpf__elf_bytes, "bench_xdp_hash_drop",
	  BENCH_MAP_RX },
	{ "xdp-lru-drop", HOOK_XDP, xdp_lru_drop_bpf__elf_bytes, "bench_xdp_lru_drop",
	  BENCH_MAP_RX },
	{ "xdp-slot-drop", HOOK_XDP, xdp_slot_drop_bpf__elf_bytes, "bench_xdp_slot_drop",
	  BENCH_MAP_RX },
	{ "castle", HOOK_XDP, NULL, "castle_xdp", CASTLE_MAP_XDP_STATS },
};

#define NKINDS (sizeof(kinds) / sizeof(kinds[0]))

struct dut_opts {
	const char *dev, *pin, *obj;
	const char *fill;		/* first address of --fill, or NULL */
	unsigned long fill_count;
	__u32 xdp_flags;
	int v6, proto;
	unsigned long size, repeat;
	__u32 id;			/* jit */
	const char *out;
};

static int print_libbpf(enum libbpf_print_level level, const char *fmt, va_list ap)
{
	if (level == LIBBPF_DEBUG)
		return 0;
	return vfprintf(stderr, fmt, ap);
}

static const struct kind *find_kind(const char *name)
{
	for (size_t i = 0; i < NKINDS; i++)
		if (!strcmp(kinds[i].name, name))
			return &kinds[i];
	fprintf(stderr, "castle-dut: unknown program '%s'; known:", name);
	for (size_t i = 0; i < NKINDS; i++)
		fprintf(stderr, " %s", kinds[i].name);
	fprintf(stderr, "\n");
	return NULL;
}

/* Open and load a kind with its maps pinned (if it pins any) under pin_dir. */
static struct bpf_object *load_kind(const struct kind *k, const struct dut_opts *o,
				    const char *pin_dir)
{
	LIBBPF_OPTS(bpf_object_open_opts, oo, .pin_root_path = pin_dir,
		    .kconfig = castle_kconfig());
	const char *obj = o->obj ? o->obj : CASTLE_OBJ_DEFAULT;
	struct bpf_object *bo;
	size_t sz;
	int err;

	if (k->elf) {
		const void *bytes = k->elf(&sz);

		oo.object_name = k->name;
		bo = bpf_object__open_mem(bytes, sz, &oo);
	} else {
		bo = bpf_object__open_file(obj, &oo);
	}
	if (!bo) {
		fprintf(stderr, "castle-dut: opening %s: %s\n", k->elf ? k->name : obj,
			strerror(errno));
		return NULL;
	}
	err = bpf_object__load(bo);
	if (err) {
		fprintf(stderr, "castle-dut: loading %s: %s (see the libbpf messages above)\n",
			k->name, strerror(-err));
		bpf_object__close(bo);
		return NULL;
	}
	return bo;
}

static int pin_path(char *buf, const char *dir, const char *name)
{
	if (snprintf(buf, PATH_MAX, "%s/%s", dir, name) >= PATH_MAX) {
		fprintf(stderr, "castle-dut: pin path %s/%s is too long\n", dir, name);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* Remove DIR and what is pinned in it. The link goes with its last pin. */
static int remove_pins(const char *dir)
{
	char path[PATH_MAX];
	struct dirent *e;
	int err = 0;
	DIR *d = opendir(dir);

	if (!d)
		return errno == ENOENT ? 0 : -errno;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (pin_path(path, dir, e->d_name) || unlink(path)) {
			err = -errno;
			fprintf(stderr, "castle-dut: removing %s/%s: %s\n", dir, e->d_name,
				strerror(errno));
		}
	}
	closedir(d);
	if (rmdir(dir) && !err) {
		err = -errno;
		fprintf(stderr, "castle-dut: removing %s: %s\n", dir, strerror(errno));
	}
	return err;
}

static int cmd_attach(const struct kind *k, const struct dut_opts *o)
{
	LIBBPF_OPTS(bpf_link_create_opts, lo);
	struct bpf_object *bo = NULL;
	struct bpf_program *prog;
	char path[PATH_MAX];
	int link_fd = -1, err, made_dir = 0;
	unsigned int ifindex;

	if (!o->dev || !o->pin) {
		fprintf(stderr, "castle-dut: attach needs --dev and --pin\n");
		return -EINVAL;
	}
	ifindex = if_nametoindex(o->dev);
	if (!ifindex) {
		err = -errno;
		fprintf(stderr, "castle-dut: device %s: %s\n", o->dev, strerror(errno));
		return err;
	}
	if (mkdir(o->pin, 0700)) {
		err = -errno;
		fprintf(stderr, "castle-dut: creating pin directory %s: %s%s\n", o->pin,
			strerror(errno), errno == EEXIST ? " (detach first)" : "");
		return err;
	}
	made_dir = 1;

	bo = load_kind(k, o, o->pin);
	if (!bo) {
		err = -EINVAL;
		goto cleanup;
	}
	prog = bpf_object__find_program_by_name(bo, k->prog);
	if (!prog) {
		err = -ENOENT;
		fprintf(stderr, "castle-dut: program %s not found in %s\n", k->prog, k->name);
		goto cleanup;
	}
	if (o->fill && (err = dut_fill_hash(bo, o->fill, o->fill_count)))
		goto cleanup;
	if (k->hook == HOOK_XDP) {
		lo.flags = o->xdp_flags;
		link_fd = bpf_link_create(bpf_program__fd(prog), ifindex, BPF_XDP, &lo);
	} else {
		link_fd = bpf_link_create(bpf_program__fd(prog), ifindex, BENCH_TCX_INGRESS, &lo);
	}
	if (link_fd < 0) {
		err = -errno;
		fprintf(stderr, "castle-dut: attaching %s to %s (%s): %s%s\n", k->name, o->dev,
			k->hook == HOOK_XDP ? "XDP" : "tcx ingress", strerror(errno),
			errno == EBUSY || errno == EEXIST ? " (another program is attached)" : "");
		goto cleanup;
	}
	err = pin_path(path, o->pin, "link");
	if (!err && bpf_obj_pin(link_fd, path)) {
		err = -errno;
		fprintf(stderr, "castle-dut: pinning the link at %s: %s\n", path, strerror(errno));
	}
	if (err)
		goto cleanup;
	/* castle pins its own maps (pin_root_path); baselines pin their counter. */
	if (k->elf) {
		struct bpf_map *m = bpf_object__find_map_by_name(bo, k->counter);

		err = pin_path(path, o->pin, k->counter);
		if (!err && (!m || bpf_map__pin(m, path))) {
			err = m ? -errno : -ENOENT;
			fprintf(stderr, "castle-dut: pinning counter %s of %s: %s\n", k->counter,
				k->name, strerror(-err));
		}
	}
cleanup:
	if (link_fd >= 0)
		close(link_fd);
	bpf_object__close(bo);
	if (err && made_dir)
		remove_pins(o->pin);
	return err;
}

/* Sum every CPU's slot. Baselines: rx[0]. castle: xdp_stats, every interface,
 * every verdict and reason. */
static int cmd_count(const struct dut_opts *o)
{
	int ncpu = libbpf_num_possible_cpus();
	unsigned long long pkts = 0, drops = 0;
	char path[PATH_MAX];
	int fd, err = 0;

	if (!o->pin) {
		fprintf(stderr, "castle-dut: count needs --pin\n");
		return -EINVAL;
	}
	if (ncpu < 0)
		return ncpu;
	if (pin_path(path, o->pin, BENCH_MAP_RX))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd >= 0) {
		struct bench_counter *v = calloc(ncpu, sizeof(*v));
		__u32 zero = 0;

		if (!v) {
			close(fd);
			return -ENOMEM;
		}
		if (bpf_map_lookup_elem(fd, &zero, v)) {
			err = -errno;
			fprintf(stderr, "castle-dut: reading %s: %s\n", path, strerror(errno));
		}
		for (int i = 0; i < ncpu; i++)
			pkts += v[i].packets;
		free(v);
		close(fd);
		if (!err)
			printf("{\"packets\": %llu}\n", pkts);
		return err;
	}

	if (pin_path(path, o->pin, CASTLE_MAP_XDP_STATS))
		return -ENAMETOOLONG;
	fd = bpf_obj_get(path);
	if (fd < 0) {
		err = -errno;
		fprintf(stderr, "castle-dut: no counter under %s (%s/%s or %s): %s\n", o->pin,
			o->pin, BENCH_MAP_RX, CASTLE_MAP_XDP_STATS, strerror(errno));
		return err;
	}
	static const char *const reasons[] = { CASTLE_REASONS };
	unsigned long long by_reason[CASTLE_VERDICT_MAX][CASTLE_REASON_MAX] = {};
	struct castle_stats *v = calloc(ncpu, sizeof(*v));
	__u32 key, next, *prev = NULL;

	if (!v) {
		close(fd);
		return -ENOMEM;
	}
	while (!bpf_map_get_next_key(fd, prev, &next)) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(fd, &key, v))
			continue;	/* deleted under us */
		for (int i = 0; i < ncpu; i++)
			for (int vd = 0; vd < CASTLE_VERDICT_MAX; vd++)
				for (int r = 0; r < CASTLE_REASON_MAX; r++) {
					pkts += v[i].c[vd][r].packets;
					by_reason[vd][r] += v[i].c[vd][r].packets;
					if (vd == CASTLE_DROP)
						drops += v[i].c[vd][r].packets;
				}
	}
	free(v);
	close(fd);
	/* Totals first, then the non-zero (verdict, reason) pairs. */
	printf("{\"packets\": %llu, \"dropped\": %llu, \"by_reason\": {", pkts, drops);
	for (int vd = 0, n = 0; vd < CASTLE_VERDICT_MAX; vd++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			if (by_reason[vd][r])
				printf("%s\"%s/%s\": %llu", n++ ? ", " : "",
				       vd == CASTLE_DROP ? "drop" : "pass", reasons[r],
				       by_reason[vd][r]);
	printf("}}\n");
	return 0;
}

static int cmd_cost(const struct kind *k, const struct dut_opts *o)
{
	struct frame_spec spec = {
		.family = o->v6 ? 6 : 4, .proto = o->proto, .sport = 40000, .dport = 443,
		.size = o->size,
		.src_mac = { 0x02, 0, 0, 0, 0, 1 }, .dst_mac = { 0x02, 0, 0, 0, 0, 2 },
	};
	char dir[PATH_MAX];
	struct frame_layout lay;
	uint8_t frame[FRAME_MAX];
	struct bpf_object *bo = NULL;
	struct bpf_program *prog;
	int err;

	inet_pton(o->v6 ? AF_INET6 : AF_INET, o->v6 ? "2001:db8:5::1" : "198.18.0.1",
		  spec.saddr);
	inet_pton(o->v6 ? AF_INET6 : AF_INET, o->v6 ? "2001:db8:ca::2" : "198.19.0.2",
		  spec.daddr);
	err = frame_build(&spec, frame, &lay);
	if (err) {
		fprintf(stderr, "castle-dut: building the test frame: %s\n", strerror(-err));
		return err;
	}
	/* A private pin root even here: castle's maps are pinned by name. */
	if (o->pin)
		snprintf(dir, sizeof(dir), "%s", o->pin);
	else
		snprintf(dir, sizeof(dir), "/sys/fs/bpf/castle-bench-cost-%d", getpid());
	if (mkdir(dir, 0700)) {
		err = -errno;
		fprintf(stderr, "castle-dut: creating pin directory %s: %s\n", dir,
			strerror(errno));
		return err;
	}
	bo = load_kind(k, o, dir);
	if (!bo) {
		err = -EINVAL;
		goto cleanup;
	}
	prog = bpf_object__find_program_by_name(bo, k->prog);
	if (!prog) {
		err = -ENOENT;
		fprintf(stderr, "castle-dut: program %s not found in %s\n", k->prog, k->name);
		goto cleanup;
	}

	LIBBPF_OPTS(bpf_test_run_opts, opts, .data_in = frame, .data_size_in = lay.len,
		    .repeat = o->repeat);
	if (bpf_prog_test_run_opts(bpf_program__fd(prog), &opts)) {
		err = -errno;
		fprintf(stderr, "castle-dut: test run of %s: %s\n", k->name, strerror(errno));
		goto cleanup;
	}
	printf("{\"ns_per_pkt\": %u, \"retval\": %u, \"repeat\": %lu, \"size\": %u}\n",
	       opts.duration, opts.retval, o->repeat, lay.len);
cleanup:
	bpf_object__close(bo);
	remove_pins(dir);
	return err;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: castle-dut attach KIND --dev NAME --pin DIR [--obj PATH] "
		"[--mode native|generic]\n"
		"                         [--fill ADDR --fill-count N]\n"
		"       castle-dut count --pin DIR\n"
		"       castle-dut detach --pin DIR\n"
		"       castle-dut cost KIND [--obj PATH] [--v6] [--proto udp|tcp] [--size N] "
		"[--repeat N]\n"
		"       castle-dut jit --id ID --out FILE\n"
		"KIND:");
	for (size_t i = 0; i < NKINDS; i++)
		fprintf(f, " %s", kinds[i].name);
	fprintf(f, "\n--obj is castle's object (default %s)\n", CASTLE_OBJ_DEFAULT);
}

int main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "dev", required_argument, NULL, 'd' },
		{ "pin", required_argument, NULL, 'p' },
		{ "obj", required_argument, NULL, 'o' },
		{ "mode", required_argument, NULL, 'm' },
		{ "v6", no_argument, NULL, '6' },
		{ "proto", required_argument, NULL, 'P' },
		{ "size", required_argument, NULL, 's' },
		{ "repeat", required_argument, NULL, 'r' },
		{ "fill", required_argument, NULL, 'f' },
		{ "fill-count", required_argument, NULL, 'n' },
		{ "id", required_argument, NULL, 'i' },
		{ "out", required_argument, NULL, 'O' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct dut_opts o = { .proto = IPPROTO_UDP, .size = 64, .repeat = 1000000 };
	const struct kind *k = NULL;
	const char *cmd;
	int c, err;

	if (argc < 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	optind = 2;
	if (!strcmp(cmd, "attach") || !strcmp(cmd, "cost")) {
		if (argc < 3 || argv[2][0] == '-') {
			fprintf(stderr, "castle-dut: %s needs a program KIND\n", cmd);
			usage(stderr);
			return 2;
		}
		k = find_kind(argv[2]);
		if (!k)
			return 2;
		optind = 3;
	} else if (strcmp(cmd, "count") && strcmp(cmd, "detach") && strcmp(cmd, "jit")) {
		fprintf(stderr, "castle-dut: unknown command '%s'\n", cmd);
		usage(stderr);
		return 2;
	}

	while ((c = getopt_long(argc, argv, "h", longopts, NULL)) != -1) {
		char *end;

		switch (c) {
		case 'd':
			o.dev = optarg;
			break;
		case 'p':
			o.pin = optarg;
			break;
		case 'o':
			o.obj = optarg;
			break;
		case 'm':
			if (!strcmp(optarg, "native")) {
				o.xdp_flags = XDP_FLAGS_DRV_MODE;
			} else if (!strcmp(optarg, "generic")) {
				o.xdp_flags = XDP_FLAGS_SKB_MODE;
			} else {
				fprintf(stderr, "castle-dut: --mode: '%s' is not native or "
					"generic\n", optarg);
				return 2;
			}
			break;
		case '6':
			o.v6 = 1;
			break;
		case 'f':
			o.fill = optarg;
			break;
		case 'i':
			errno = 0;
			unsigned long id = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || !id || id > UINT32_MAX) {
				fprintf(stderr, "castle-dut: --id: '%s' is not a program id\n", optarg);
				return 2;
			}
			o.id = id;
			break;
		case 'O':
			o.out = optarg;
			break;
		case 'n':
			errno = 0;
			o.fill_count = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || !o.fill_count ||
			    o.fill_count > (1ul << 24)) {
				fprintf(stderr, "castle-dut: --fill-count: '%s' is not a number in "
					"1..%lu\n", optarg, 1ul << 24);
				return 2;
			}
			break;
		case 'P':
			if (strcmp(optarg, "udp") && strcmp(optarg, "tcp")) {
				fprintf(stderr, "castle-dut: --proto: '%s' is not udp or tcp\n",
					optarg);
				return 2;
			}
			o.proto = strcmp(optarg, "udp") ? IPPROTO_TCP : IPPROTO_UDP;
			break;
		case 's':
		case 'r':
			errno = 0;
			unsigned long v = strtoul(optarg, &end, 0);
			if (errno || end == optarg || *end || !v || v > UINT32_MAX ||
			    (c == 's' && v > FRAME_MAX)) {
				fprintf(stderr, "castle-dut: --%s: '%s' is not a number in "
					"1..%u\n", c == 's' ? "size" : "repeat", optarg,
					c == 's' ? FRAME_MAX : UINT32_MAX);
				return 2;
			}
			if (c == 's')
				o.size = v;
			else
				o.repeat = v;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "castle-dut: unexpected argument '%s'\n", argv[optind]);
		return 2;
	}
	if (!o.fill != !o.fill_count || (o.fill && strcmp(cmd, "attach"))) {
		fprintf(stderr, "castle-dut: --fill and --fill-count go together, with attach\n");
		return 2;
	}
	libbpf_set_print(print_libbpf);

	if (!strcmp(cmd, "attach"))
		err = cmd_attach(k, &o);
	else if (!strcmp(cmd, "cost"))
		err = cmd_cost(k, &o);
	else if (!strcmp(cmd, "count"))
		err = cmd_count(&o);
	else if (!strcmp(cmd, "jit")) {
		if (!o.id || !o.out) {
			fprintf(stderr, "castle-dut: jit needs --id and --out\n");
			return 2;
		}
		err = dut_jit_dump(o.id, o.out);
	}
	else if (!o.pin) {
		fprintf(stderr, "castle-dut: detach needs --pin\n");
		return 2;
	} else
		err = remove_pins(o.pin);
	return err ? 1 : 0;
}
