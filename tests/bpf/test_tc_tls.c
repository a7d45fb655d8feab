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
#include <stdlib.h>
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

static void ssh_banner_and_garbage_dropped(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c1, c2, c3, c4;
	static const char ssh[] = "SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n";
	static const uint8_t garbage[] = { 0x00, 0xff, 0x13, 0x37, 0x42, 0x42, 0x42, 0x42 };
	static const uint8_t alert[] = { 21, 3, 3, 0, 2, 2, 40 };
	static const uint8_t server_hello[] = { 22, 3, 3, 0, 50, 2, 0, 0, 46, 3, 3 };
	static const size_t one[] = { 0 };

	ftc_conn_init(&c1, 4, "198.18.0.1", 40010, 443);
	ftc_conn_init(&c2, 4, "198.18.0.1", 40011, 443);
	ftc_conn_init(&c3, 6, "2001:db8::1", 40012, 443);
	ftc_conn_init(&c4, 6, "2001:db8::1", 40013, 443);
	assert_int_equal(connect_send(f, &c1, ssh, sizeof(ssh) - 1, one), FTC_DROP);
	assert_int_equal(connect_send(f, &c2, garbage, sizeof(garbage), one), FTC_DROP);
	assert_int_equal(connect_send(f, &c3, alert, sizeof(alert), one), FTC_DROP);
	assert_int_equal(connect_send(f, &c4, server_hello, sizeof(server_hello), one), FTC_DROP);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 4);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 0);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 4);
}

static void hello_split_two_and_three(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c1, c2, c3;
	static const uint16_t v[] = { V13 };
	/* Post-quantum sized, SNI after the key share: the verdict needs the
	 * last segment. */
	struct ftc_hello h = { .versions = v, .nversions = 1, .sni = "www.example.com", .pad = 1700,
			       .sni_last = true };
	size_t n = ftc_hello(&h, hello, sizeof(hello));
	static const size_t two[] = { 1448, 0 }, three[] = { 700, 700, 0 }, tiny[] = { 1, 2, 3, 0 };

	assert_true(n > 1500);
	ftc_conn_init(&c1, 4, "198.18.0.1", 40020, 443);
	ftc_conn_init(&c2, 6, "2001:db8::1", 40021, 443);
	ftc_conn_init(&c3, 4, "198.18.0.1", 40022, 443);
	assert_int_equal(connect_send(f, &c1, hello, n, two), FTC_PASS);
	assert_int_equal(connect_send(f, &c2, hello, n, three), FTC_PASS);
	assert_int_equal(connect_send(f, &c3, hello, n, tiny), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c1), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_conn_state(f, &c2), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_conn_state(f, &c3), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 3);
	/* 2 + 3 + 4 hello segments: the last of each counted tls, the rest ok. */
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_TLS), 3);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 3 * 2 + 6);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 0);
}

/* Every cut point of a hello, with the SNI allow-list on: a split never
 * changes the verdict, wherever it falls (inside lengths, inside the name). */
static void hello_every_cut_point(void **state)
{
	struct ftc *f = *state;
	uint8_t ok[512], bad[512];
	static const uint16_t v[] = { V13, V12 };
	struct ftc_hello ho = { .versions = v, .nversions = 2, .sni = "WWW.Example.COM", .pad = 40 };
	struct ftc_hello hb = { .versions = v, .nversions = 2, .sni = "www.example.org", .pad = 40 };
	size_t no = ftc_hello(&ho, ok, sizeof(ok)), nb = ftc_hello(&hb, bad, sizeof(bad));

	ftc_begin(f, "443", V12, 0);
	ftc_sni(f, "www.example.com");
	ftc_commit(f);
	for (size_t cut = 1; cut < no; cut++) {
		struct ftc_conn c;
		size_t sizes[] = { cut, 0 };

		ftc_conn_init(&c, 4, "198.18.0.1", (uint16_t)(1000 + cut), 443);
		if (connect_send(f, &c, ok, no, sizes) != FTC_PASS)
			fail_msg("allowed hello cut at %zu dropped", cut);
		if (ftc_conn_state(f, &c) != CASTLE_TLS_S_VERIFIED)
			fail_msg("allowed hello cut at %zu not verified", cut);
	}
	for (size_t cut = 1; cut < nb; cut++) {
		struct ftc_conn c;
		size_t sizes[] = { cut, 0 };

		ftc_conn_init(&c, 4, "198.18.0.1", (uint16_t)(5000 + cut), 443);
		if (connect_send(f, &c, bad, nb, sizes) != FTC_DROP)
			fail_msg("denied hello cut at %zu passed", cut);
	}
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), no - 1);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_SNI_DENIED), nb - 1);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_SNI), nb - 1);
}

/* TLS 1.0-1.3 hellos against every min_version. */
static void versions_against_min_version(void **state)
{
	struct ftc *f = *state;
	static const uint16_t v13[] = { 0xdada, V13 };
	const struct {
		uint16_t legacy;
		const uint16_t *sv;
		int nsv;
		uint16_t eff;
	} hellos[] = {
		{ V10, NULL, 0, V10 },
		{ V11, NULL, 0, V11 },
		{ V12, NULL, 0, V12 },
		{ V12, v13, 2, V13 },	/* 1.3: legacy says 1.2, supported_versions decides */
	};
	uint16_t port = 20000;
	uint64_t want_pass = 0, want_drop = 0;

	for (uint16_t min = V10; min <= V13; min++) {
		ftc_begin(f, "443", min, 0);
		ftc_commit(f);
		for (size_t i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++) {
			struct ftc_hello h = { .legacy_ver = hellos[i].legacy, .versions = hellos[i].sv,
					       .nversions = hellos[i].nsv, .sni = "example.com" };
			size_t n = ftc_hello(&h, hello, sizeof(hello));
			struct ftc_conn c;
			static const size_t one[] = { 0 };
			int want = hellos[i].eff >= min ? FTC_PASS : FTC_DROP;

			ftc_conn_init(&c, 4, "198.18.0.1", port++, 443);
			if (connect_send(f, &c, hello, n, one) != want)
				fail_msg("hello %04x vs min %04x: wrong verdict", hellos[i].eff, min);
			if (want == FTC_PASS)
				want_pass++;
			else
				want_drop++;
		}
	}
	assert_int_equal(want_pass, 10);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), want_pass);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_OLD_VERSION), want_drop);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_VERSION), want_drop);
}

/* supported_versions wins over legacy_version both ways. */
static void supported_versions_decides(void **state)
{
	struct ftc *f = *state;
	static const uint16_t only12[] = { 0x1a1a, V12 }, has13[] = { V13 };
	struct ftc_hello a = { .legacy_ver = V12, .versions = only12, .nversions = 2 };
	struct ftc_hello b = { .legacy_ver = V10, .versions = has13, .nversions = 1 };
	struct ftc_conn ca, cb;
	static const size_t one[] = { 0 };
	size_t n;

	ftc_begin(f, "443", V13, 0);
	ftc_commit(f);
	ftc_conn_init(&ca, 4, "198.18.0.1", 40030, 443);
	ftc_conn_init(&cb, 4, "198.18.0.1", 40031, 443);
	n = ftc_hello(&a, hello, sizeof(hello));
	assert_int_equal(connect_send(f, &ca, hello, n, one), FTC_DROP);
	n = ftc_hello(&b, hello, sizeof(hello));
	assert_int_equal(connect_send(f, &cb, hello, n, one), FTC_PASS);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_OLD_VERSION), 1);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
}

static int sni_verdict(struct ftc *f, const char *sni, uint16_t sport, bool last, size_t pad)
{
	static const uint16_t v[] = { V13 };
	struct ftc_hello h = { .versions = v, .nversions = 1, .sni = sni, .pad = pad, .sni_last = last };
	size_t n = ftc_hello(&h, hello, sizeof(hello));
	static const size_t two[] = { 1448, 0 };
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", sport, 443);
	return connect_send(f, &c, hello, n, two);
}

static void sni_allow_list(void **state)
{
	struct ftc *f = *state;

	ftc_begin(f, "443", V12, 0);
	ftc_sni(f, "example.com");
	ftc_sni(f, "*.example.com");
	ftc_sni(f, "api.Example.NET");
	ftc_commit(f);

	assert_int_equal(sni_verdict(f, "example.com", 1, false, 0), FTC_PASS);
	assert_int_equal(sni_verdict(f, "www.example.com", 2, false, 0), FTC_PASS);	/* wildcard */
	assert_int_equal(sni_verdict(f, "WWW.EXAMPLE.COM", 3, false, 0), FTC_PASS);	/* case */
	assert_int_equal(sni_verdict(f, "api.example.net", 4, false, 0), FTC_PASS);	/* list case */
	assert_int_equal(sni_verdict(f, NULL, 5, false, 0), FTC_PASS);		/* absent */
	assert_int_equal(sni_verdict(f, "a.b.example.com", 6, false, 0), FTC_DROP);	/* one label */
	assert_int_equal(sni_verdict(f, "example.org", 7, false, 0), FTC_DROP);
	assert_int_equal(sni_verdict(f, "www.example.net", 8, false, 0), FTC_DROP);
	assert_int_equal(sni_verdict(f, "xexample.com", 9, false, 0), FTC_DROP);
	assert_int_equal(sni_verdict(f, "com", 10, false, 0), FTC_DROP);
	/* After a 1.8 KB key share, across the segment boundary. */
	assert_int_equal(sni_verdict(f, "deep.example.com", 11, true, 1800), FTC_PASS);
	assert_int_equal(sni_verdict(f, "deep.example.org", 12, true, 1800), FTC_DROP);
	/* Longer than any allow-list entry can be. */
	char longname[200];
	memset(longname, 'a', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = 0;
	assert_int_equal(sni_verdict(f, longname, 13, false, 0), FTC_DROP);
	/* Not host names, each once taken for a name of the list: an empty
	 * first label for the wildcard's, the wildcard itself, a name padded
	 * with NULs as the keys are */
	assert_int_equal(sni_verdict(f, ".example.com", 14, false, 0), FTC_DROP);
	assert_int_equal(sni_verdict(f, "*.example.com", 15, false, 0), FTC_DROP);
	{
		static const uint16_t v[] = { V13 };
		struct ftc_hello h = { .versions = v, .nversions = 1, .sni = "example.com@@" };
		size_t n = ftc_hello(&h, hello, sizeof(hello));
		uint8_t *at = memmem(hello, n, "example.com@@", 13);
		struct ftc_conn c;

		assert_non_null(at);
		at[11] = at[12] = 0;
		ftc_conn_init(&c, 6, "2001:db8::1", 16, 443);
		assert_int_equal(connect_send(f, &c, hello, n, (const size_t[]){ 0 }), FTC_DROP);
	}
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 6);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_SNI_DENIED), 10);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_SNI), 10);
}

/* No allow-list: any name passes. */
static void sni_unrestricted(void **state)
{
	struct ftc *f = *state;

	assert_int_equal(sni_verdict(f, "anything.invalid", 1, false, 0), FTC_PASS);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
}

static void set16(uint8_t *p, unsigned v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* Hellos whose lengths contradict each other: a defined verdict (not_tls),
 * never a read past what the lengths allow. */
static void lying_lengths(void **state)
{
	struct ftc *f = *state;
	size_t n0 = mk_hello("example.com", 100);
	uint8_t base[1024], m[1024];
	uint16_t sport = 30000;
	/* Offsets in mk_hello's layout: 5 record, 9 version, 43 sid len, 76
	 * suites len, 84 compression, 86 extensions length, 88 GREASE ext,
	 * 92 server_name ext. */
	struct {
		size_t at;
		unsigned val;
		int wide;
	} lies[] = {
		{ 3, 0x4001, 1 },	/* record longer than 2^14 */
		{ 3, 20, 1 },		/* record too short for a hello */
		{ 7, 0xffff, 1 },	/* hello longer than its record */
		{ 43, 33, 0 },		/* session id > 32 */
		{ 76, 0x0fff, 1 },	/* suites past the end */
		{ 76, 5, 1 },		/* odd suites length */
		{ 84, 0, 0 },		/* no compression method */
		{ 86, 0x7fff, 1 },	/* extensions past the end */
		{ 86, 10, 1 },		/* extensions shorter than the hello */
		{ 90, 0xfff0, 1 },	/* one extension past the block */
		{ 94, 0x0500, 1 },	/* server_name past the block */
		{ 96, 0x00ff, 1 },	/* name list past the extension */
		{ 99, 0x00ff, 1 },	/* name past the list */
		{ 1, 4, 0 },		/* record version 3.4 is fine... */
	};
	static const size_t one[] = { 0 }, two[] = { 60, 0 };

	memcpy(base, hello, n0);
	for (size_t i = 0; i < sizeof(lies) / sizeof(lies[0]); i++) {
		for (int split = 0; split < 2; split++) {
			struct ftc_conn c;
			int r;

			memcpy(m, base, n0);
			if (lies[i].wide)
				set16(m + lies[i].at, lies[i].val);
			else
				m[lies[i].at] = lies[i].val;
			if (lies[i].at == 1)
				m[1] = 5; /* ...version 5.x is not */
			ftc_conn_init(&c, 4, "198.18.0.1", sport++, 443);
			r = connect_send(f, &c, m, n0, split ? two : one);
			if (r != FTC_DROP)
				fail_msg("lie %zu (split %d) passed", i, split);
			if (ftc_conn_state(f, &c) != CASTLE_TLS_S_BAD)
				fail_msg("lie %zu (split %d) not judged bad", i, split);
		}
	}
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 2 * (sizeof(lies) / sizeof(lies[0])));
}

/* A record header, then nothing more for now: pending, passed; the rest
 * of the hello later completes it. */
static void truncated_then_completed(void **state)
{
	struct ftc *f = *state;
	size_t n = mk_hello("example.com", 0);
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 40040, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, 3), FTC_PASS);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_conn_state(f, &c), 0);
	assert_int_equal(ftc_send(f, &c, hello + 3, n - 3), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
}

/* Random mutations and random bytes, split at random points: every run ends
 * in a verdict; a dropped segment leaves a bad connection. */
static void mutations_have_defined_verdicts(void **state)
{
	struct ftc *f = *state;
	size_t n0 = mk_hello("www.example.com", 300);
	uint8_t base[1024], m[1024];
	unsigned seed = 12345;

	memcpy(base, hello, n0);
	for (int i = 0; i < 600; i++) {
		struct ftc_conn c;
		size_t n = n0, sizes[3] = { 0 };
		int r;

		memcpy(m, base, n0);
		if (i % 3 == 2) {
			n = 1 + rand_r(&seed) % sizeof(m);
			for (size_t j = 0; j < n; j++)
				m[j] = rand_r(&seed);
			if (i % 2)
				m[0] = 22, m[1] = 3, m[5] = 1;
		} else {
			for (int j = 0; j < 1 + i % 4; j++)
				m[rand_r(&seed) % n0] = rand_r(&seed);
		}
		sizes[0] = 1 + rand_r(&seed) % n;
		ftc_conn_init(&c, i & 1 ? 4 : 6, i & 1 ? "198.18.0.1" : "2001:db8::1",
			      (uint16_t)(10000 + i), 443);
		r = connect_send(f, &c, m, n, sizes);
		assert_true(r == FTC_PASS || r == FTC_DROP);
		if (r == FTC_DROP)
			assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
	}
	assert_true(ftc_result(f, CASTLE_TLS_RES_NOT_TLS) > 100);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(hello_one_segment_v4, setup, teardown),
		cmocka_unit_test_setup_teardown(hello_one_segment_v6, setup, teardown),
		cmocka_unit_test_setup_teardown(plaintext_http_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(ssh_banner_and_garbage_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(hello_split_two_and_three, setup, teardown),
		cmocka_unit_test_setup_teardown(hello_every_cut_point, setup, teardown),
		cmocka_unit_test_setup_teardown(versions_against_min_version, setup, teardown),
		cmocka_unit_test_setup_teardown(supported_versions_decides, setup, teardown),
		cmocka_unit_test_setup_teardown(sni_allow_list, setup, teardown),
		cmocka_unit_test_setup_teardown(sni_unrestricted, setup, teardown),
		cmocka_unit_test_setup_teardown(lying_lengths, setup, teardown),
		cmocka_unit_test_setup_teardown(truncated_then_completed, setup, teardown),
		cmocka_unit_test_setup_teardown(mutations_have_defined_verdicts, setup, teardown),
	};

	return cmocka_run_group_tests_name("tc_tls", tests, NULL, NULL);
}
