// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_tc_tls.c - the TC TLS gate on one connection at a time: ClientHello in
 * one, two and three segments (and cut inside every field), plaintext HTTP,
 * SSH banners and garbage, TLS 1.0-1.3 against each min_version, SNI allowed,
 * denied, absent, wildcard and upper case, lying lengths, both families.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture_tc.h"

#define V10 0x0301
#define V11 0x0302
#define V12 0x0303
#define V13 0x0304

static int setup(void **state)
{
	static struct ftc f;

	ftc_open(&f, 0, 0);
	ftc_begin(&f, "443,8443", V12, 0);
	ftc_commit(&f);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	ftc_close(*state);
	return 0;
}

static uint8_t hello[8192];

static size_t mk_hello(const char *sni, size_t pad)
{
	static const uint16_t v[] = { 0x2a2a, V13, V12 };
	struct ftc_hello h = { .versions = v, .nversions = 3, .sni = sni, .pad = pad };
	size_t n = ftc_hello(&h, hello, sizeof(hello));

	assert_true(n > 0);
	return n;
}

/* SYN, ACK, then the payload in pieces; the verdict of the last piece. */
static int connect_send(struct ftc *f, struct ftc_conn *c, const void *d, size_t n,
			const size_t *sizes)
{
	assert_int_equal(ftc_syn(f, c), FTC_PASS);
	assert_int_equal(ftc_ack(f, c), FTC_PASS);
	return ftc_send_split(f, c, d, n, sizes);
}

static void hello_one_segment_v4(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	size_t n = mk_hello("example.com", 0);
	static const size_t one[] = { 0 };

	ftc_conn_init(&c, 4, "198.18.0.1", 40000, 443);
	assert_int_equal(connect_send(f, &c, hello, n, one), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_false(ftc_conn_pending(f, &c));
	/* Later segments: application data, the client's ACKs. */
	assert_int_equal(ftc_send(f, &c, "\x17\x03\x03\x00\x05hello", 10), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, "arbitrary mid-stream bytes", 26), FTC_PASS);
	assert_int_equal(ftc_ack(f, &c), FTC_PASS);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_TLS), 4);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 2); /* SYN, ACK */
	assert_int_equal(ftc_total(f), 6);
}

static void hello_one_segment_v6(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	size_t n = mk_hello("example.com", 0);
	static const size_t one[] = { 0 };

	ftc_conn_init(&c, 6, "2001:db8::1", 40001, 8443);
	assert_int_equal(connect_send(f, &c, hello, n, one), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_send(f, &c, "GET / HTTP/1.1\r\n", 16), FTC_PASS); /* mid-stream */
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
}

static void plaintext_http_dropped(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	static const char req[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
	static const size_t one[] = { 0 };

	ftc_conn_init(&c, 4, "198.18.0.1", 40002, 443);
	assert_int_equal(connect_send(f, &c, req, sizeof(req) - 1, one), FTC_DROP);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
	/* Retransmission, then a valid hello at offset 0: the verdict stands. */
	assert_int_equal(ftc_send_at(f, &c, 0, req, sizeof(req) - 1), FTC_DROP);
	size_t n = mk_hello("example.com", 0);
	assert_int_equal(ftc_send_at(f, &c, 0, hello, n), FTC_DROP);
	assert_int_equal(ftc_ack(f, &c), FTC_DROP);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 1);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 4);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hello_one_segment_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(hello_one_segment_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(plaintext_http_dropped, setup, teardown),
	};

	return cmocka_run_group_tests_name("tc_tls", tests, NULL, NULL);
}
