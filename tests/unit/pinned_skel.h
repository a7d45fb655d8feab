/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pinned_skel.h - for unit tests of user-space code that works on castle's
 * pinned maps: the XDP object loaded with its maps pinned in a private
 * directory (/sys/fs/bpf/castle-utest-TAG-PID), never a running castle's.
 * Header-only: every unit test is one .c file (see the Makefile).
 */
#ifndef CASTLE_UT_PINNED_SKEL_H
#define CASTLE_UT_PINNED_SKEL_H

#include <dirent.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "maps.h"
#include "loader.h"
#include "apply.h"
#include "errors.h"
#include "policy.h"
#include "ctl.h"

/* Unit tests run as any user; the map tests skip without root. */
#define UT_NEED_ROOT()                                   \
	do {                                             \
		if (geteuid() != 0) {                    \
			fprintf(stderr, "needs root\n"); \
			skip();                          \
		}                                        \
	} while (0)

static inline void ut_rm_dir(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char p[512];

	if (!d)
		return;
	while ((e = readdir(d)))
		if (e->d_name[0] != '.') {
			snprintf(p, sizeof(p), "%s/%s", dir, e->d_name);
			unlink(p);
		}
	closedir(d);
	rmdir(dir);
}

/* Open and load with maps pinned under a private dir; `size` (may be NULL)
 * shrinks maps before the load, e.g. to test "map full". Without root this
 * does nothing and leaves *skel NULL. */
static inline void ut_skel_open(char *pin, size_t pinlen, const char *tag,
				struct castle_xdp_bpf **skel, struct castle_maps *maps,
				void (*size)(struct castle_xdp_bpf *skel))
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .kconfig = castle_kconfig());

	*skel = NULL;
	if (geteuid() != 0)
		return;
	snprintf(pin, pinlen, "/sys/fs/bpf/castle-utest-%s-%d", tag, getpid());
	mkdir(pin, 0700);
	o.pin_root_path = pin;
	libbpf_set_print(NULL);
	*skel = castle_xdp_bpf__open_opts(&o);
	assert_non_null(*skel);
	bpf_map__set_max_entries((*skel)->maps.rl_state, 1024);
	if (size)
		size(*skel);
	assert_int_equal(castle_xdp_bpf__load(*skel), 0);
	assert_int_equal(castle_maps_from_object((*skel)->obj, maps), 0);
	/* as castled's start leaves them: its state file restored */
	assert_int_equal(castle_daemon_set_flags(maps->daemon, CASTLE_DAEMON_F_RESTORED), 0);
}

static inline void ut_skel_close(const char *pin, struct castle_xdp_bpf **skel,
				 struct castle_maps *maps)
{
	castle_maps_close(maps); /* not owned: unmaps man_count */
	if (*skel)
		castle_xdp_bpf__destroy(*skel);
	*skel = NULL;
	ut_rm_dir(pin);
}

/* Parse, compile and apply a policy (YAML text) to maps, as castled's load
 * and reload do; any error fails the test. */
static inline void ut_apply_policy(struct castle_maps *maps, const char *text,
				   struct castle_apply_stats *st)
{
	struct castle_policy_conf conf;
	struct castle_policy_compiled comp;
	struct castle_errors e;
	char err[256];

	castle_errors_init(&e);
	if (castle_policy_parse("test.yaml", text, strlen(text), &conf, &e)) {
		for (size_t i = 0; i < e.n; i++)
			print_message("#   %s\n", e.v[i].msg);
		fail_msg("policy should parse");
	}
	castle_errors_free(&e);
	assert_int_equal(castle_policy_compile(&conf, &comp, err, sizeof(err)), 0);
	if (castle_apply(maps, &conf, &comp, st, err, sizeof(err)))
		fail_msg("apply: %s", err);
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
}

/* castlectl run in-process: castlectl --pin-dir PIN [--state-dir DIR] A0
 * ARGS..., the arguments after a0 NULL-terminated in ap. What it printed
 * goes to *out and *err (each may be NULL: dropped), for the caller to
 * free. Returns its exit status. */
static inline int ut_ctl(const char *pin, const char *state_dir, char **out, char **err,
			 const char *a0, va_list ap)
{
	char *argv[32], *o_buf = NULL, *e_buf = NULL;
	size_t ol = 0, el = 0;
	int argc = 0, rc;

	argv[argc++] = "castlectl";
	argv[argc++] = "--pin-dir";
	argv[argc++] = (char *)pin;
	if (state_dir) {
		argv[argc++] = "--state-dir";
		argv[argc++] = (char *)state_dir;
	}
	argv[argc++] = (char *)a0;
	for (char *a; argc < 31 && (a = va_arg(ap, char *));)
		argv[argc++] = a;
	argv[argc] = NULL;
	FILE *o = open_memstream(&o_buf, &ol), *e = open_memstream(&e_buf, &el);
	rc = castle_ctl_main(argc, argv, o, e);
	fclose(o);
	fclose(e);
	if (out)
		*out = o_buf;
	else
		free(o_buf);
	if (err)
		*err = e_buf;
	else
		free(e_buf);
	return rc;
}

#endif
