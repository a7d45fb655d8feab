// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_apply_ttl.c - TTL entries of the policy across reloads (castle_apply),
 * against real maps loaded privately (as test_ctl_maps.c). Proves: a TTL
 * entry kept by a reload keeps its expiry only under the exact same prefix
 * (a new /25 inside an old /24 starts its own TTL; an LPM lookup in the old
 * trie answers the /24), and an expired TTL entry applied again starts a
 * fresh TTL instead of staying expired. Needs root (BPF).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "pinned_skel.h"
#include "ctl_maps.h"
#include "apply.h"
#include "errors.h"
#include "policy.h"

static char pin[128];
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;

static int setup(void **state)
{
	(void)state;
	ut_skel_open(pin, sizeof(pin), "apply", &skel, &maps, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_skel_close(pin, &skel, &maps);
	return 0;
}


static void apply(const char *text, struct castle_apply_stats *st)
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
	if (castle_apply(&maps, &conf, &comp, st, err, sizeof(err)))
		fail_msg("apply: %s", err);
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
}

static void pol_entry(const char *s, struct castle_block_val *v)
{
	struct castle_cidr c;
	char err[128];

	assert_int_equal(castle_cidr_parse(s, &c, err, sizeof(err)), 0);
	assert_int_equal(castle_block_lookup(&maps, &c, true, v), 0);
	assert_int_equal(v->origin, CASTLE_ORIGIN_POLICY);
}

static void test_kept_only_on_exact_prefix(void **state)
{
	struct castle_block_val net0, host0, net, sub, host;

	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.0/24, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	pol_entry("198.18.40.0/24", &net0);
	pol_entry("198.18.41.7", &host0);
	usleep(20000);
	/* the /24 line edited to a /25 inside it (a policy cannot hold both) */
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 2001:db8:40::/48, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	assert_int_equal(st.ttl_kept, 1);
	pol_entry("198.18.40.128/25", &sub);
	pol_entry("198.18.41.7", &host);
	assert_true(host.expires_ns == host0.expires_ns && host.created_ns == host0.created_ns);
	/* the /25 is new: its own, later start, not the /24's */
	if (sub.created_ns == net0.created_ns || sub.expires_ns <= net0.expires_ns)
		fail_msg("198.18.40.128/25 took over the expiry of 198.18.40.0/24");
	/* unchanged text: everything kept */
	apply("version: 1\nblock:\n"
	      "  - { cidr: 198.18.40.128/25, ttl: 1h }\n"
	      "  - { cidr: 2001:db8:40::/48, ttl: 1h }\n"
	      "  - { cidr: 198.18.41.7, ttl: 1h }\n", &st);
	assert_int_equal(st.ttl_kept, 3);
	pol_entry("198.18.40.128/25", &net);
	assert_true(net.expires_ns == sub.expires_ns && net.created_ns == sub.created_ns);
}

static void test_expired_ttl_starts_afresh(void **state)
{
	static const char pol[] = "version: 1\nblock:\n"
				  "  - { cidr: 198.18.42.0/24, ttl: 1s }\n"
				  "  - { cidr: 198.18.43.9, ttl: 1s }\n";
	struct castle_block_val net, host;
	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	apply(pol, &st);
	usleep(1200000);
	apply(pol, &st);
	assert_int_equal(st.ttl_kept, 0);
	pol_entry("198.18.42.0/24", &net);
	pol_entry("198.18.43.9", &host);
	uint64_t now = castle_now_boot_ns();
	if (net.expires_ns <= now || host.expires_ns <= now)
		fail_msg("an expired TTL entry stayed expired across a reload");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_only_on_exact_prefix),
		cmocka_unit_test(test_expired_ttl_starts_afresh),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
