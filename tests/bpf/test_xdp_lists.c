// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_lists.c - the allowlist and blocklist stages of the XDP gate:
 * exact and CIDR entries of both families, policy and manual origins, allow
 * beating block, TTL expiry in the kernel, hit counters.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "fixture.h"

static int setup(void **state)
{
	static struct fx f;

	fx_open(&f, 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	fx_close(*state);
	return 0;
}

static struct pkt_spec udp4(const char *src)
{
	return (struct pkt_spec){ .family = 4, .src = src, .proto = 17, .sport = 1000, .dport = 53 };
}

static struct pkt_spec udp6(const char *src)
{
	return (struct pkt_spec){ .family = 6, .src = src, .proto = 17, .sport = 1000, .dport = 53 };
}

static void block_exact_and_cidr_v4(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = udp4("198.18.77.7"), b = udp4("198.18.66.200"), c = udp4("198.18.1.1");

	fx_begin(f);
	fx_block(f, "198.18.77.7", 0);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);

	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

static void block_exact_and_cidr_v6(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = udp6("2001:db8:bad::1"), b = udp6("2001:db8:77::7"),
			c = udp6("2001:db8:1::1");

	fx_begin(f);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_block(f, "2001:db8:77::7", 0);
	fx_commit(f);

	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &c), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
}

static void allow_beats_block(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = udp4("198.18.66.10"), b = udp4("198.18.66.11");

	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_allow(f, "198.18.66.10");
	fx_commit(f);
	fx_manual_allow(f, "198.18.66.11");
	fx_manual_block(f, "198.18.66.11", 0);

	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 0);
}

static void manual_ttl_expires_in_kernel(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = udp4("198.18.5.5");

	fx_begin(f);
	fx_commit(f);
	fx_manual_block(f, "198.18.5.5", 300 * 1000000ull); /* 300 ms */
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	usleep(400 * 1000);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 1);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(block_exact_and_cidr_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(block_exact_and_cidr_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(allow_beats_block, setup, teardown),
		cmocka_unit_test_setup_teardown(manual_ttl_expires_in_kernel, setup, teardown),
	};

	return cmocka_run_group_tests_name("xdp_lists", tests, NULL, NULL);
}
