// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_iface_counters.c - class counters (class_stats) and TLS connection
 * results (tls_results) count per interface, under the interface's counter
 * slot (ifslot), like xdp_stats and tc_stats: frames of one class, or
 * connections, through two interfaces are counted apart, their sum is the
 * class's (result's) total, an interface without a slot counts in slot 0, and
 * a slot given to a new interface starts at zero. The frames carry the
 * ifindex of a veth pair in a private network namespace (unshare: no host
 * interface is touched; the namespace goes with the process). Needs root.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/wait.h>
#include <cmocka.h>
#include "../private_veth.h"
#include <linux/bpf.h>

#include "fixture.h"
#include "fixture_tc.h"

#define IF_A "bt-ifc0"
#define IF_B "bt-ifc1"
#define V12 0x0303
#define V13 0x0304

static uint32_t if_a, if_b;

static int group_setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	if (private_veth(IF_A, IF_B))
		return -1;
	if_a = if_nametoindex(IF_A);
	if_b = if_nametoindex(IF_B);
	return if_a && if_b ? 0 : -1;
}

#define NEED_ROOT()                                      \
	do {                                             \
		if (geteuid() != 0) {                    \
			skip();                          \
			return;                          \
		}                                        \
	} while (0)

static uint32_t give_slot(const struct castle_maps *m, uint32_t ifindex)
{
	uint32_t slot = 0;

	assert_int_equal(castle_ifslot_assign(m, ifindex, &slot), 0);
	assert_true(slot > 0 && slot < CASTLE_MAX_IFACES);
	return slot;
}

/* ---- XDP: class_stats ----------------------------------------------------- */

static struct pkt_spec udp(const char *src, uint16_t dport)
{
	return (struct pkt_spec){ .family = 4, .src = src, .proto = 17, .sport = 1000,
				  .dport = dport };
}

static uint64_t if_count(struct fx *f, uint32_t ifindex, int verdict, int reason)
{
	struct castle_stats st;

	if (castle_stats_read(&f->maps, f->maps.xdp_stats, ifindex, &st))
		return 0;
	return st.c[verdict][reason].packets;
}

static void xdp_class_counted_per_interface(void **state)
{
	struct fx f;
	struct pkt_spec a = udp("198.18.0.1", 53), b = udp("198.18.0.9", 80);

	(void)state;
	NEED_ROOT();
	fx_open(&f, 0);
	uint32_t sa = give_slot(&f.maps, if_a), sb = give_slot(&f.maps, if_b);
	assert_int_not_equal(sa, sb);
	fx_begin(&f);
	int c0 = fx_class(&f, NULL, CASTLE_PROTO_UDP, "53", 1.0 / 3600, 5);
	int c1 = fx_class(&f, NULL, CASTLE_PROTO_ANY, NULL, 1e9, 1000000);
	fx_commit(&f);

	/* One source, one bucket, two interfaces: 8 on A (5 pass, 3 over), then
	 * 4 on B (the bucket is empty: all over). */
	f.ifindex = if_a;
	assert_int_equal(fx_run_spec_repeat(&f, &a, 8), XDP_DROP);
	f.ifindex = if_b;
	assert_int_equal(fx_run_spec_repeat(&f, &a, 4), XDP_DROP);
	assert_int_equal(fx_run_spec_repeat(&f, &b, 6), XDP_PASS);
	/* No ctx: the kernel's loopback, which has no slot (slot 0). */
	f.ifindex = 0;
	assert_int_equal(fx_run_spec_repeat(&f, &a, 2), XDP_DROP);
	assert_int_equal(fx_run_spec_repeat(&f, &b, 1), XDP_PASS);

	assert_int_equal(fx_class_count_if(&f, if_a, c0, CASTLE_PASS), 5);
	assert_int_equal(fx_class_count_if(&f, if_a, c0, CASTLE_DROP), 3);
	assert_int_equal(fx_class_count_if(&f, if_b, c0, CASTLE_PASS), 0);
	assert_int_equal(fx_class_count_if(&f, if_b, c0, CASTLE_DROP), 4);
	assert_int_equal(fx_class_count_if(&f, 0, c0, CASTLE_DROP), 2);
	assert_int_equal(fx_class_count_if(&f, if_a, c1, CASTLE_PASS), 0);
	assert_int_equal(fx_class_count_if(&f, if_b, c1, CASTLE_PASS), 6);
	assert_int_equal(fx_class_count_if(&f, 0, c1, CASTLE_PASS), 1);
	/* The sum over interfaces is the class total of old. */
	assert_int_equal(fx_class_count(&f, c0, CASTLE_PASS), 5);
	assert_int_equal(fx_class_count(&f, c0, CASTLE_DROP), 9);
	assert_int_equal(fx_class_count(&f, c1, CASTLE_PASS), 7);
	/* The packet counters agree, interface by interface. */
	assert_int_equal(if_count(&f, if_a, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(if_count(&f, if_a, CASTLE_DROP, CASTLE_R_RATELIMIT), 3);
	assert_int_equal(if_count(&f, if_b, CASTLE_PASS, CASTLE_R_OK), 6);
	assert_int_equal(if_count(&f, if_b, CASTLE_DROP, CASTLE_R_RATELIMIT), 4);
	assert_int_equal(if_count(&f, 0, CASTLE_DROP, CASTLE_R_RATELIMIT), 2);
	assert_int_equal(if_count(&f, 0, CASTLE_PASS, CASTLE_R_OK), 1);

	/* Dry-run: the class counts a pass, on the interface it came in on. */
	fx_begin(&f);
	c0 = fx_class(&f, NULL, CASTLE_PROTO_UDP, "53", 1.0 / 3600, 5);
	fx_flags(&f, CASTLE_F_DRY_RUN);
	fx_commit(&f);
	f.ifindex = if_b;
	assert_int_equal(fx_run_spec_repeat(&f, &a, 3), XDP_PASS);
	assert_int_equal(fx_class_count_if(&f, if_b, c0, CASTLE_PASS), 3);
	assert_int_equal(fx_class_count_if(&f, if_a, c0, CASTLE_PASS), 5);
	fx_close(&f);
}

/* A slot given back and given again (a new interface) starts at zero: its
 * class counts are not inherited. */
static void xdp_new_slot_starts_at_zero(void **state)
{
	struct fx f;
	struct pkt_spec a = udp("198.18.0.1", 53);

	(void)state;
	NEED_ROOT();
	fx_open(&f, 0);
	uint32_t slot_a = give_slot(&f.maps, if_a);
	fx_begin(&f);
	int c = fx_class(&f, NULL, CASTLE_PROTO_ANY, NULL, 1e9, 1000000);
	fx_commit(&f);
	f.ifindex = if_a;
	fx_run_spec_repeat(&f, &a, 7);
	assert_int_equal(fx_class_count_if(&f, if_a, c, CASTLE_PASS), 7);
	castle_ifslot_release(&f.maps, if_a);
	assert_int_equal(give_slot(&f.maps, if_b), slot_a); /* takes the slot A gave back */
	assert_int_equal(fx_class_count_if(&f, if_b, c, CASTLE_PASS), 0);
	f.ifindex = if_b;
	fx_run_spec_repeat(&f, &a, 2);
	assert_int_equal(fx_class_count_if(&f, if_b, c, CASTLE_PASS), 2);
	fx_close(&f);
}

/* ---- TC: tls_results ------------------------------------------------------ */

static uint8_t hello[4096];

static size_t mk_hello(uint16_t best)
{
	const uint16_t v[] = { best, V12 };
	struct ftc_hello h = { .versions = v, .nversions = 2, .sni = "example.com" };
	size_t n = ftc_hello(&h, hello, sizeof(hello));

	assert_true(n > 0);
	return n;
}

static int conn(struct ftc *f, uint32_t ifindex, uint16_t sport, const void *d, size_t n)
{
	struct ftc_conn c;

	f->ifindex = ifindex;
	ftc_conn_init(&c, 4, "198.18.0.1", sport, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_ack(f, &c), FTC_PASS);
	return ftc_send(f, &c, d, n);
}

static void tc_results_counted_per_interface(void **state)
{
	static const char req[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static const uint8_t quic[] = { 0xc3, 0, 0, 0, 1, 8, 0 };
	struct ftc f;
	size_t n = mk_hello(V13);

	(void)state;
	NEED_ROOT();
	ftc_open(&f, 0, 0);
	give_slot(&f.maps, if_a);
	give_slot(&f.maps, if_b);
	ftc_begin(&f, "443", V12, 0);
	ftc_commit(&f);

	assert_int_equal(conn(&f, if_a, 41000, hello, n), FTC_PASS);
	assert_int_equal(conn(&f, if_a, 41001, hello, n), FTC_PASS);
	assert_int_equal(conn(&f, if_b, 41002, hello, n), FTC_PASS);
	assert_int_equal(conn(&f, if_b, 41003, req, sizeof(req) - 1), FTC_DROP);
	assert_int_equal(conn(&f, 0, 41004, req, sizeof(req) - 1), FTC_DROP);
	{
		struct ftc_conn c;

		f.ifindex = if_b;
		ftc_conn_init(&c, 4, "198.18.0.1", 41005, 443);
		assert_int_equal(ftc_udp(&f, &c, quic, sizeof(quic)), FTC_DROP);
	}

	assert_int_equal(ftc_result_if(&f, if_a, CASTLE_TLS_RES_TLS), 2);
	assert_int_equal(ftc_result_if(&f, if_a, CASTLE_TLS_RES_NOT_TLS), 0);
	assert_int_equal(ftc_result_if(&f, if_b, CASTLE_TLS_RES_TLS), 1);
	assert_int_equal(ftc_result_if(&f, if_b, CASTLE_TLS_RES_NOT_TLS), 1);
	assert_int_equal(ftc_result_if(&f, if_b, CASTLE_TLS_RES_QUIC_DROPPED), 1);
	assert_int_equal(ftc_result_if(&f, if_a, CASTLE_TLS_RES_QUIC_DROPPED), 0);
	assert_int_equal(ftc_result_if(&f, 0, CASTLE_TLS_RES_NOT_TLS), 1); /* no slot */
	assert_int_equal(ftc_result_if(&f, 0, CASTLE_TLS_RES_TLS), 0);
	/* Sums over interfaces: the totals of old. */
	assert_int_equal(ftc_result(&f, CASTLE_TLS_RES_TLS), 3);
	assert_int_equal(ftc_result(&f, CASTLE_TLS_RES_NOT_TLS), 2);
	assert_int_equal(ftc_result(&f, CASTLE_TLS_RES_QUIC_DROPPED), 1);
	ftc_close(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(xdp_class_counted_per_interface),
		cmocka_unit_test(xdp_new_slot_starts_at_zero),
		cmocka_unit_test(tc_results_counted_per_interface),
	};

	return cmocka_run_group_tests_name("iface_counters", tests, group_setup, NULL);
}
