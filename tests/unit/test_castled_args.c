// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_castled_args.c - castled's command line without a daemon: every bad
 * option or value is a usage error (exit 2) that names what is wrong, --help
 * and --version exit 0, and what is accepted lands in the options. Then the
 * preflight: relative paths made absolute, an interface that does not exist
 * refused before anything is pinned.
 */
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <getopt.h>
#include <unistd.h>
#include <cmocka.h>

#include "castled_args.h"

struct run {
	int rc;
	char out[4096], err[4096];
	struct castled_opts o;
};

/* What fd (1 or 2) received while fn ran, into buf. */
static void slurp(FILE *tmp, char *buf, size_t len)
{
	size_t n;

	fflush(tmp);
	rewind(tmp);
	n = fread(buf, 1, len - 1, tmp);
	buf[n] = 0;
}

static void run_argv(struct run *r, const char *const *args)
{
	char *argv[32];
	int argc = 0, save_out, save_err;
	FILE *to = tmpfile(), *te = tmpfile();

	assert_non_null(to);
	assert_non_null(te);
	argv[argc++] = "castled";
	for (; *args && argc < 31; args++)
		argv[argc++] = (char *)*args;
	argv[argc] = NULL;
	fflush(stdout);
	fflush(stderr);
	save_out = dup(1);
	save_err = dup(2);
	assert_true(save_out >= 0 && save_err >= 0);
	dup2(fileno(to), 1);
	dup2(fileno(te), 2);
	optind = 0; /* a fresh getopt for every run */
	r->rc = castled_parse_args(argc, argv, &r->o);
	fflush(stdout);
	fflush(stderr);
	dup2(save_out, 1);
	dup2(save_err, 2);
	close(save_out);
	close(save_err);
	slurp(to, r->out, sizeof(r->out));
	slurp(te, r->err, sizeof(r->err));
	fclose(to);
	fclose(te);
}

struct arg_case {
	const char *args[10];
	int rc;			/* -1: accepted */
	const char *err;	/* substring of stderr; NULL: stderr empty */
};

static const struct arg_case cases[] = {
	{ { "-p", "x.yaml", NULL }, 2, "no interface: -i IFACE" },
	{ { "-i", "veth0", NULL }, 2, "no policy file: -p POLICY" },
	{ { "-i", "veth0", "-p", "x.yaml", NULL }, -1, NULL },
	{ { "--check", "-p", "x.yaml", NULL }, -1, NULL },
	{ { "-i", "veth0", "-i", "veth0", "-p", "x", NULL }, 2, "interface veth0 given twice" },
	{ { "-i", "", "-p", "x", NULL }, 2, "bad interface name ''" },
	{ { "-i", "a-name-longer-than-ifnamsiz", "-p", "x", NULL }, 2, "bad interface name" },
	{ { "-i", "v", "-p", "x", "--metrics", "127.0.0.1:0", NULL }, 2,
	  "--metrics: metrics address 127.0.0.1:0: port '0' is not a number in 1..65535" },
	{ { "-i", "v", "-p", "x", "--metrics", "127.0.0.1:99999", NULL }, 2, "--metrics:" },
	{ { "-i", "v", "-p", "x", "--metrics", "localhost:9753", NULL }, 2, "--metrics:" },
	{ { "-i", "v", "-p", "x", "--metrics", "[::1]:9753", NULL }, -1, NULL },
	{ { "-i", "v", "-p", "x", "--xdp-mode", "fast", NULL }, 2,
	  "--xdp-mode: 'fast' is not auto, native or generic" },
	{ { "-i", "v", "-p", "x", "--tc-mode", "ingress", NULL }, 2,
	  "--tc-mode: 'ingress' is not auto, tcx or clsact" },
	{ { "-i", "v", "-p", "x", "--max-sources", "0", NULL }, 2,
	  "--max-sources: '0' is not a number in 1..268435456" },
	{ { "-i", "v", "-p", "x", "--max-sources", "-5", NULL }, 2, "--max-sources: '-5'" },
	{ { "-i", "v", "-p", "x", "--max-sources", "268435457", NULL }, 2, "--max-sources:" },
	{ { "-i", "v", "-p", "x", "--max-sources", "12x", NULL }, 2, "--max-sources: '12x'" },
	{ { "-i", "v", "-p", "x", "extra", NULL }, 2, "unexpected argument 'extra'" },
	{ { "-i", "v", "-p", "x", "-Z", NULL }, 2, "unknown option -Z" },
	{ { "-i", "v", "-p", "x", "-fZ", NULL }, 2, "unknown option -Z" },
	{ { "-i", "v", "-p", NULL }, 2, "option -p needs an argument" },
	{ { "-i", "v", "-p", "x", "--fore=1", NULL }, 2, "option --foreground takes no argument" },
	{ { "-i", "v", "-p", "x", "--m", "1", NULL }, 2, "option --m is ambiguous" },
	{ { "-i", "v", "-p", "x", "--metrics", NULL }, 2, "option --metrics needs an argument" },
	{ { "-i", "v", "-p", "x", "--nope", NULL }, 2, "unknown option --nope" },
};

static void every_bad_input_is_a_usage_error(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct arg_case *c = &cases[i];
		struct run r;

		run_argv(&r, c->args);
		if (r.rc != c->rc || (c->err && !strstr(r.err, c->err)) || (!c->err && r.err[0]))
			fail_msg("case %zu (%s %s ...): rc %d (want %d), stderr '%s' (want '%s')", i,
				 c->args[0], c->args[1] ? c->args[1] : "", r.rc, c->rc, r.err,
				 c->err ? c->err : "");
		if (c->rc == 2)
			assert_non_null(strstr(r.err, "Try 'castled --help'."));
		assert_string_equal(r.out, ""); /* errors never go to stdout */
	}
}

static void accepted_values_land_in_the_options(void **state)
{
	struct run r;
	const char *args[] = { "-f", "-i", "veth0", "--interface", "veth1", "-p", "p.yaml",
			       "--metrics", "[::1]:9000", "--pin-dir", "/sys/fs/bpf/x",
			       "--state-dir", "st", "--xdp-mode", "skb", "--tc-mode", "clsact",
			       "--max-sources", "5000", NULL };

	(void)state;
	run_argv(&r, args);
	assert_int_equal(r.rc, -1);
	assert_int_equal(r.o.nifaces, 2);
	assert_string_equal(r.o.ifaces[0], "veth0");
	assert_string_equal(r.o.ifaces[1], "veth1");
	assert_string_equal(r.o.policy, "p.yaml");
	assert_string_equal(r.o.metrics, "[::1]:9000");
	assert_string_equal(r.o.pin_dir, "/sys/fs/bpf/x");
	assert_string_equal(r.o.state_dir, "st");
	assert_int_equal(r.o.xdp_mode, CASTLE_XDP_GENERIC);
	assert_int_equal(r.o.tc_mode, CASTLE_TC_CLSACT);
	assert_int_equal(r.o.max_sources, 5000);
	assert_true(r.o.foreground);
	assert_false(r.o.check);

	const char *defaults[] = { "-i", "v", "-p", "x", NULL };
	run_argv(&r, defaults);
	assert_int_equal(r.rc, -1);
	assert_string_equal(r.o.metrics, CASTLED_DEFAULT_METRICS);
	assert_string_equal(r.o.pin_dir, CASTLE_PIN_DIR_DEFAULT);
	assert_string_equal(r.o.state_dir, CASTLED_DEFAULT_STATE_DIR);
	assert_int_equal(r.o.max_sources, CASTLE_RL_ENTRIES_DEFAULT);
	assert_false(r.o.foreground);
}

static void help_and_version_exit_0_on_stdout(void **state)
{
	struct run r;
	const char *help[] = { "--help", NULL }, *ver[] = { "-V", NULL };

	(void)state;
	run_argv(&r, help);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "usage: castled -i IFACE"));
	assert_non_null(strstr(r.out, "--max-sources N"));
	assert_string_equal(r.err, "");
	run_argv(&r, ver);
	assert_int_equal(r.rc, 0);
	assert_non_null(strstr(r.out, "castled " CASTLE_VERSION " (libbpf "));
}

static void preflight_makes_paths_absolute_and_checks_interfaces(void **state)
{
	struct run r;
	char cwd[PATH_MAX], want[PATH_MAX + 16];
	const char *args[] = { "-i", "lo", "-p", "p.yaml", "--pin-dir", "/sys/fs/bpf/x",
			       "--state-dir", "st", NULL };

	(void)state;
	assert_non_null(getcwd(cwd, sizeof(cwd)));
	run_argv(&r, args);
	assert_int_equal(r.rc, -1);
	assert_int_equal(castled_preflight(&r.o), 0);
	snprintf(want, sizeof(want), "%s/p.yaml", cwd);
	assert_string_equal(r.o.policy, want);
	snprintf(want, sizeof(want), "%s/st", cwd);
	assert_string_equal(r.o.state_dir, want);
	assert_string_equal(r.o.pin_dir, "/sys/fs/bpf/x"); /* absolute already */

	const char *bad[] = { "-i", "castle-no-such0", "-p", "/p.yaml", NULL };
	run_argv(&r, bad);
	assert_int_equal(r.rc, -1);
	assert_int_equal(castled_preflight(&r.o), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(every_bad_input_is_a_usage_error),
		cmocka_unit_test(accepted_values_land_in_the_options),
		cmocka_unit_test(help_and_version_exit_0_on_stdout),
		cmocka_unit_test(preflight_makes_paths_absolute_and_checks_interfaces),
	};

	return cmocka_run_group_tests_name("castled_args", tests, NULL, NULL);
}
