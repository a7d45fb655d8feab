// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castled_args.c - see castled_args.h.
 */
#include <errno.h>
#include <getopt.h>
#include <net/if.h>
#include <netdb.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "castled_args.h"
#include "metrics.h"

static void usage(FILE *f)
{
	fprintf(f,
		"usage: castled -i IFACE [-i IFACE ...] -p POLICY [options]\n"
		"       castled --check -p POLICY\n"
		"\n"
		"  -i, --interface IFACE   attach the gate to IFACE (repeatable)\n"
		"  -p, --policy FILE       policy file (YAML)\n"
		"      --metrics ADDR:PORT Prometheus endpoint (default " CASTLED_DEFAULT_METRICS ")\n"
		"      --pin-dir DIR       bpffs directory of pins (default " CASTLE_PIN_DIR_DEFAULT ")\n"
		"      --xdp-mode MODE     auto | native | generic (or skb; default auto)\n"
		"      --tc-mode MODE      auto | tcx | clsact (default auto: TCX, else clsact)\n"
		"      --state-dir DIR     where manual entries persist (default " CASTLED_DEFAULT_STATE_DIR ")\n"
		"      --max-sources N     rate-limit table size when first created (default %u)\n"
		"  -f, --foreground        do not daemonize (implied under systemd)\n"
		"      --check             validate the policy file and exit (0 ok, 1 errors)\n"
		"  -h, --help              this text\n"
		"  -V, --version           version\n"
		"\n"
		"Signals: SIGHUP re-reads the policy; SIGTERM/SIGINT stop castled and leave\n"
		"the gate enforcing (castlectl unload IFACE removes it).\n",
		CASTLE_RL_ENTRIES_DEFAULT);
}

static int usage_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static int usage_error(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "castled: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\nTry 'castled --help'.\n");
	return 2;
}

/* What getopt_long refused, named as the user meant it: tok is the word it
 * was looking at (argv[optind] before the call: with "+" in the option
 * string getopt does not reorder, so that is the word), opt its optopt (the
 * short option, or the val of the long one it matched; 0 for an unknown or
 * ambiguous long option). */
static int bad_option(const char *tok, int opt, const struct option *lo, bool needs_arg)
{
	char name[64];
	int n = 0;

	if (strncmp(tok, "--", 2)) {
		if (needs_arg)
			return usage_error("option -%c needs an argument", opt);
		return usage_error("unknown option -%c", opt);
	}
	snprintf(name, sizeof(name), "%s", tok + 2);
	name[strcspn(name, "=")] = 0;
	/* matched (perhaps abbreviated): name it in full */
	for (const struct option *x = lo; opt && x->name; x++)
		if (x->val == opt && !strncmp(x->name, name, strlen(name))) {
			if (needs_arg)
				return usage_error("option --%s needs an argument", x->name);
			return usage_error("option --%s takes no argument", x->name);
		}
	for (const struct option *x = lo; x->name; x++)
		if (!strncmp(x->name, name, strlen(name)))
			n++;
	if (n > 1 && name[0])
		return usage_error("option --%s is ambiguous (more than one option begins so)", name);
	return usage_error("unknown option --%s", name);
}

int castled_parse_args(int argc, char **argv, struct castled_opts *o)
{
	enum { O_METRICS = 256, O_PIN, O_XDP, O_TC, O_STATE, O_MAXSRC, O_CHECK };
	static const struct option lo[] = {
		{ "interface", required_argument, NULL, 'i' },
		{ "policy", required_argument, NULL, 'p' },
		{ "metrics", required_argument, NULL, O_METRICS },
		{ "pin-dir", required_argument, NULL, O_PIN },
		{ "xdp-mode", required_argument, NULL, O_XDP },
		{ "tc-mode", required_argument, NULL, O_TC },
		{ "state-dir", required_argument, NULL, O_STATE },
		{ "max-sources", required_argument, NULL, O_MAXSRC },
		{ "foreground", no_argument, NULL, 'f' },
		{ "check", no_argument, NULL, O_CHECK },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ 0 },
	};
	char *end;
	int c;

	*o = (struct castled_opts){ .metrics = CASTLED_DEFAULT_METRICS, .pin_dir = CASTLE_PIN_DIR_DEFAULT,
			    .state_dir = CASTLED_DEFAULT_STATE_DIR, .max_sources = CASTLE_RL_ENTRIES_DEFAULT };
	opterr = 0;
	for (;;) {
		int at = optind;

		c = getopt_long(argc, argv, "+:i:p:fhV", lo, NULL);
		if (c == -1)
			break;
		switch (c) {
		case 'i':
			if (strlen(optarg) == 0 || strlen(optarg) >= IF_NAMESIZE)
				return usage_error("bad interface name '%s'", optarg);
			for (int k = 0; k < o->nifaces; k++)
				if (!strcmp(o->ifaces[k], optarg))
					return usage_error("interface %s given twice", optarg);
			if (o->nifaces == CASTLE_MAX_IFACES)
				return usage_error("at most %d interfaces", CASTLE_MAX_IFACES);
			o->ifaces[o->nifaces++] = optarg;
			break;
		case 'p': o->policy = optarg; break;
		case O_METRICS: {
			struct addrinfo *ai;
			char err[256];

			if (castle_metrics_addr(optarg, &ai, err, sizeof(err)))
				return usage_error("--metrics: %s", err);
			freeaddrinfo(ai);
			o->metrics = optarg;
			break;
		}
		case O_PIN: o->pin_dir = optarg; break;
		case O_STATE: o->state_dir = optarg; break;
		case 'f': o->foreground = true; break;
		case O_CHECK: o->check = true; break;
		case O_XDP:
			if (!strcmp(optarg, "auto"))
				o->xdp_mode = CASTLE_XDP_AUTO;
			else if (!strcmp(optarg, "native"))
				o->xdp_mode = CASTLE_XDP_NATIVE;
			else if (!strcmp(optarg, "generic") || !strcmp(optarg, "skb"))
				o->xdp_mode = CASTLE_XDP_GENERIC;
			else
				return usage_error("--xdp-mode: '%s' is not auto, native or generic", optarg);
			break;
		case O_TC:
			if (!strcmp(optarg, "auto"))
				o->tc_mode = CASTLE_TC_AUTO;
			else if (!strcmp(optarg, "tcx"))
				o->tc_mode = CASTLE_TC_TCX;
			else if (!strcmp(optarg, "clsact"))
				o->tc_mode = CASTLE_TC_CLSACT;
			else
				return usage_error("--tc-mode: '%s' is not auto, tcx or clsact", optarg);
			break;
		case O_MAXSRC: {
			unsigned long v;
			errno = 0;
			v = strtoul(optarg, &end, 10);
			if (errno || *end || !v || v > (1ul << 28) || optarg[0] == '-')
				return usage_error("--max-sources: '%s' is not a number in 1..%lu", optarg,
						   1ul << 28);
			o->max_sources = v;
			break;
		}
		case 'h': usage(stdout); return 0;
		case 'V':
			printf("castled %s (libbpf %u.%u)\n", CASTLE_VERSION, libbpf_major_version(),
			       libbpf_minor_version());
			return 0;
		case ':': return bad_option(argv[at < argc ? at : argc - 1], optopt, lo, true);
		default: return bad_option(argv[at < argc ? at : argc - 1], optopt, lo, false);
		}
	}
	if (optind < argc)
		return usage_error("unexpected argument '%s'", argv[optind]);
	if (!o->policy)
		return usage_error("no policy file: -p POLICY");
	if (!o->check && !o->nifaces)
		return usage_error("no interface: -i IFACE");
	return -1;
}

/* path made absolute against the working directory into buf (castled
 * leaves the directory it was started in when it daemonizes, and re-reads
 * the policy on every reload). Symlinks are kept, not resolved: a policy
 * link switched to another file is followed on the next reload. */
static int absolute(const char **path, char *buf, size_t len)
{
	char cwd[PATH_MAX];

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd))) {
		fprintf(stderr, "castled: %s: cannot tell the working directory: %s\n", *path,
			strerror(errno));
		return -1;
	}
	if ((size_t)snprintf(buf, len, "%s/%s", cwd, *path) >= len) {
		fprintf(stderr, "castled: %s/%s: path too long\n", cwd, *path);
		return -1;
	}
	*path = buf;
	return 0;
}

/* A mistyped -i must not leave pins behind. */
int castled_preflight(struct castled_opts *o)
{
	char err[512];

	if (absolute(&o->policy, o->abs[0], sizeof(o->abs[0])) ||
	    absolute(&o->pin_dir, o->abs[1], sizeof(o->abs[1])) ||
	    absolute(&o->state_dir, o->abs[2], sizeof(o->abs[2])))
		return -1;
	for (int i = 0; i < o->nifaces; i++)
		if (castle_iface_check(o->ifaces[i], err, sizeof(err))) {
			fprintf(stderr, "castled: %s\n", err);
			return -1;
		}
	return 0;
}
