// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_policy_files.c - user/lib/policy*.c: what castle_policy_load checks of
 * the file itself (missing, not a regular file, a FIFO, world-writable) and
 * policies of a million entries. The contents' errors are in test_policy.c.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "policy.h"

static void policy_missing_file_says_why(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	castle_errors_init(&e);
	assert_int_equal(castle_policy_load("/nonexistent/castle.yaml", &c, &e), -1);
	assert_int_equal(e.n, 1);
	assert_string_equal(e.v[0].msg,
			    "/nonexistent/castle.yaml: cannot open policy: No such file or directory");
	castle_errors_clear(&e);
	assert_int_equal(castle_policy_load("/tmp", &c, &e), -1);
	assert_string_equal(e.v[0].msg, "/tmp: policy is not a regular file");
	castle_errors_free(&e);
}

/* The policy file of policy_world_writable_is_refused, removed by its
 * teardown (also when the test failed). */
static char tmp_policy[64];

static int rm_tmp_policy(void **state)
{
	(void)state;
	if (tmp_policy[0])
		unlink(tmp_policy);
	tmp_policy[0] = 0;
	return 0;
}

static void policy_world_writable_is_refused(void **state)
{
	char *path = tmp_policy;
	struct castle_policy_conf c;
	struct castle_errors e;
	int fd;

	(void)state;
	snprintf(tmp_policy, sizeof(tmp_policy), "/tmp/castle-policy-XXXXXX");
	fd = mkstemp(path);
	if (fd < 0)
		tmp_policy[0] = 0;
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "version: 1\n", 11), 11);
	close(fd);
	assert_int_equal(chmod(path, 0666), 0);
	castle_errors_init(&e);
	assert_int_equal(castle_policy_load(path, &c, &e), -1);
	assert_int_equal(e.nerrors, 1);
	assert_non_null(strstr(e.v[0].msg, "world-writable (mode 0666)"));
	castle_errors_clear(&e);
	assert_int_equal(chmod(path, 0644), 0);
	assert_int_equal(castle_policy_load(path, &c, &e), 0);
	castle_policy_free(&c);
	castle_errors_free(&e);
}

/* A FIFO is refused at once, not waited on for a writer. */
static void policy_fifo_is_refused_without_waiting(void **state)
{
	char dir[] = "/tmp/castle-fifo-XXXXXX", path[64];
	struct castle_policy_conf c;
	struct castle_errors e;

	(void)state;
	assert_non_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/policy", dir);
	assert_int_equal(mkfifo(path, 0644), 0);
	castle_errors_init(&e);
	alarm(5); /* a regression blocks in open(): fail instead of hanging */
	assert_int_equal(castle_policy_load(path, &c, &e), -1);
	alarm(0);
	unlink(path);
	rmdir(dir);
	assert_int_equal(e.n, 1);
	assert_non_null(strstr(e.v[0].msg, "policy is not a regular file"));
	castle_errors_free(&e);
}

/* ---- scale --------------------------------------------------------------- */

/* "version: 1\nblock:\n" and n IPv4 hosts 10.x.y.z, plus extra lines */
static char *big_policy(size_t n, const char *extra, size_t *len)
{
	size_t cap = 32 + n * 24 + strlen(extra);
	char *buf = malloc(cap), *p = buf;

	assert_non_null(buf);
	p += sprintf(p, "version: 1\nblock:\n");
	for (size_t i = 0; i < n; i++)
		p += sprintf(p, "  - 10.%zu.%zu.%zu\n", (i >> 16) & 255, (i >> 8) & 255, i & 255);
	p += sprintf(p, "%s", extra);
	*len = (size_t)(p - buf);
	return buf;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void policy_million_entries_parse_fast(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;
	size_t len;
	char *buf = big_policy(1000000, "", &len);
	double t0 = now(), dt;

	(void)state;
	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("big", buf, len, &c, &e), 0);
	dt = now() - t0;
	print_message("# 1,000,000 block entries: %.2f s (ASan build)\n", dt);
	assert_int_equal(c.nblock, 1000000);
	/* a couple of seconds optimized; ASan is several times slower */
	assert_true(dt < 30);
	castle_policy_free(&c);
	castle_errors_free(&e);
	free(buf);
}

static void policy_million_entries_report_nested_hosts(void **state)
{
	struct castle_policy_conf c;
	struct castle_errors e;
	size_t len;
	char *buf = big_policy(1000000, "  - 10.0.0.0/16\n", &len);

	(void)state;
	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("big", buf, len, &c, &e), -1);
	/* the /16 holds 65536 of the hosts: one error per nested host, kept
	 * up to CASTLE_ERRORS_KEEP, counted exactly */
	assert_int_equal(e.nerrors, 65536);
	assert_int_equal(e.n, CASTLE_ERRORS_KEEP);
	assert_string_equal(e.v[0].msg,
			    "big:3:5: block entry 10.0.0.0 is inside 10.0.0.0/16 (line 1000003): remove one of them");
	castle_errors_free(&e);
	free(buf);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(policy_missing_file_says_why),
		cmocka_unit_test_teardown(policy_world_writable_is_refused, rm_tmp_policy),
		cmocka_unit_test(policy_fifo_is_refused_without_waiting),
		cmocka_unit_test(policy_million_entries_parse_fast),
		cmocka_unit_test(policy_million_entries_report_nested_hosts),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
