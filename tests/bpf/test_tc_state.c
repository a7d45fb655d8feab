// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_tc_state.c - the TC gate's connection state: retransmissions, overlap
 * and reordering of hello segments, a retransmitted first segment that turns
 * into plaintext, SYNs on judged tuples, TCP Fast Open, connections older
 * than the gate, and LRU eviction under a SYN flood that must not let
 * plaintext through.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "fixture_tc.h"

#define V12 0x0303
#define V13 0x0304

static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
static uint8_t hello[4096];
static size_t hello_len;

static int setup_sized(void **state, uint32_t pending, uint32_t conns)
{
	static struct ftc f;
	static const uint16_t v[] = { V13 };
	struct ftc_hello h = { .versions = v, .nversions = 1, .sni = "example.com", .pad = 1500,
			       .sni_last = true };

	hello_len = ftc_hello(&h, hello, sizeof(hello));
	ftc_open(&f, pending, conns);
	ftc_begin(&f, "443", V12, 0);
	ftc_commit(&f);
	*state = &f;
	return 0;
}

static int setup(void **state)
{
	return setup_sized(state, 0, 0);
}

/* Small tables, to evict. */
static int setup_small(void **state)
{
	return setup_sized(state, 64, 64);
}

static int teardown(void **state)
{
	ftc_close(*state);
	return 0;
}

static void retransmitted_and_overlapping_hello(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41000, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS); /* SYN retransmitted */
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 1000), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 1000), FTC_PASS);	/* again */
	assert_int_equal(ftc_send_at(f, &c, 500, hello + 500, 300), FTC_PASS); /* inside */
	assert_int_equal(ftc_send_at(f, &c, 800, hello + 800, 500), FTC_PASS); /* overlap */
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, 1300, hello + 1300, hello_len - 1300), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_PENDING_INSERTS), 1);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_PENDING_RESOLVED), 1);
}

/* The second segment first: dropped (TCP resends it), never judged. */
static void reordered_hello(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", 41001, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 1000, hello + 1000, hello_len - 1000), FTC_DROP);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 1000), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 1000, hello + 1000, hello_len - 1000), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_OOO_DROPS), 1);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 0);
}

/* Offset 0 is always inspected: a first segment "retransmitted" as plaintext
 * (say the original never reached the socket) cannot ride on the verdict. */
static void first_segment_replaced_by_plaintext(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn a, b;

	ftc_conn_init(&a, 4, "198.18.0.1", 41002, 443);
	assert_int_equal(ftc_syn(f, &a), FTC_PASS);
	assert_int_equal(ftc_send(f, &a, hello, 1000), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &a, 0, http, sizeof(http) - 1), FTC_DROP); /* pending */
	assert_int_equal(ftc_conn_state(f, &a), CASTLE_TLS_S_BAD);

	ftc_conn_init(&b, 4, "198.18.0.1", 41003, 443);
	assert_int_equal(ftc_syn(f, &b), FTC_PASS);
	assert_int_equal(ftc_send(f, &b, hello, hello_len), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &b, 0, http, sizeof(http) - 1), FTC_DROP); /* verified */
	assert_int_equal(ftc_conn_state(f, &b), CASTLE_TLS_S_BAD);
	assert_int_equal(ftc_send(f, &b, "\x17\x03\x03", 3), FTC_DROP);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 2);
}

/* A SYN on a bad tuple does not wipe the verdict (the old socket may still
 * wait for its first bytes); a SYN on a verified tuple starts over. */
static void syn_on_judged_tuple(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn bad, good;

	ftc_conn_init(&bad, 4, "198.18.0.1", 41004, 443);
	assert_int_equal(ftc_syn(f, &bad), FTC_PASS);
	assert_int_equal(ftc_send(f, &bad, http, sizeof(http) - 1), FTC_DROP);
	bad.isn += 100000;
	assert_int_equal(ftc_syn(f, &bad), FTC_DROP);
	assert_int_equal(ftc_send(f, &bad, hello, hello_len), FTC_DROP);
	bad.isn -= 100000;
	assert_int_equal(ftc_send_at(f, &bad, 0, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_ack(f, &bad), FTC_DROP);
	/* A bare FIN or RST passes: the server may close its socket. */
	struct pkt_spec fin = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 41004,
				.dport = 443, .tcp_flags = 0x11, .seq = bad.isn + 1 };
	assert_int_equal(ftc_run_spec(f, &fin), FTC_PASS);
	fin.tcp_flags = 0x04;
	assert_int_equal(ftc_run_spec(f, &fin), FTC_PASS);
	fin.tcp_flags = 0x19; /* FIN with data: dropped */
	fin.payload = http;
	fin.paylen = 4;
	assert_int_equal(ftc_run_spec(f, &fin), FTC_DROP);

	ftc_conn_init(&good, 4, "198.18.0.1", 41005, 443);
	assert_int_equal(ftc_syn(f, &good), FTC_PASS);
	assert_int_equal(ftc_send(f, &good, hello, hello_len), FTC_PASS);
	good.isn += 100000;
	assert_int_equal(ftc_syn(f, &good), FTC_PASS);
	assert_true(ftc_conn_pending(f, &good));
	assert_int_equal(ftc_send(f, &good, http, sizeof(http) - 1), FTC_DROP);
}

/* TCP Fast Open: the hello rides on the SYN. */
static void fast_open(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	uint8_t small[512];
	static const uint16_t v[] = { V13 };
	struct ftc_hello h = { .versions = v, .nversions = 1, .sni = "example.com" };
	size_t n = ftc_hello(&h, small, sizeof(small));
	struct pkt_spec s = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 41006,
			      .dport = 443, .tcp_flags = 0x02, .seq = 777, .payload = small,
			      .paylen = n };

	assert_int_equal(ftc_run_spec(f, &s), FTC_PASS);
	ftc_conn_init(&c, 4, "198.18.0.1", 41006, 443);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	s.payload = http;
	s.paylen = sizeof(http) - 1;
	s.sport = 41007;
	assert_int_equal(ftc_run_spec(f, &s), FTC_DROP);
}

/* The verified connection's own SYN again (a duplicate delivered late, or
 * a Fast Open SYN resent without its data): the server's socket ignores
 * it, and so does the gate. It once started a new handshake over the
 * verified one, and the connection's next data was dropped for good. From
 * then on its offset 0 is inspected whole: the same ISN may open the tuple
 * again after a close, and those first bytes must be a hello of their own. */
static void duplicate_syn_on_verified_connection(void **state)
{
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x04, 1, 2, 3, 4 };
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41020, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, hello_len), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, hello_len, appdata, sizeof(appdata)), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, hello_len + sizeof(appdata), appdata, sizeof(appdata)),
			 FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_TLS), 3);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 0);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
	/* the hello sent again: inspected whole, verified again */
	assert_int_equal(ftc_send_at(f, &c, 0, hello, hello_len), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 2);
	/* closed and opened again with the same ISN: six bytes that start like
	 * a hello and then plaintext no longer pass on the old verdict */
	static const char fake[] = "\x16\x03\x01\x00\x00\x01GET / HTTP/1.1\r\n\r\n";
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	/* plaintext after offset 0 first (the server queues it), then one
	 * byte that starts like a hello at 0: not a whole hello, dropped */
	assert_int_equal(ftc_send_at(f, &c, 1, http, sizeof(http) - 1), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 0, "\x16", 1), FTC_DROP);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, 0, fake, sizeof(fake) - 1), FTC_DROP);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
	/* another ISN is a new connection on the tuple: inspected */
	ftc_conn_init(&c, 4, "198.18.0.1", 41021, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, hello_len), FTC_PASS);
	c.isn += 100000;
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_DROP);
}

/* A SYN's data (TCP Fast Open) that the server discarded (no cookie): the
 * client sends its first bytes again at offset 0, and those are what the
 * server reads. They are inspected whole: a hello whose SNI the list
 * refuses, or six bytes that start like a hello and then plaintext, were
 * once let through on the SYN data's verdict. */
static void fast_open_data_discarded(void **state)
{
	static const uint16_t v[] = { V13 };
	static const char fake[] = "\x16\x03\x01\x00\x00\x01GET / HTTP/1.1\r\n\r\n";
	struct ftc *f = *state;
	struct ftc_hello h = { .versions = v, .nversions = 1, .sni = "example.com" };
	uint8_t ok[512], denied[512];
	size_t n = ftc_hello(&h, ok, sizeof(ok)), dn;
	struct ftc_conn c;

	h.sni = "denied.test";
	dn = ftc_hello(&h, denied, sizeof(denied));
	ftc_begin(f, "443", V12, 0);
	ftc_sni(f, "example.com");
	ftc_commit(f);
	for (int i = 0; i < 3; i++) {
		ftc_conn_init(&c, 4, "198.18.0.1", 41030 + i, 443);
		struct pkt_spec s = { .family = 4, .src = "198.18.0.1", .proto = 6,
				      .sport = 41030 + i, .dport = 443, .tcp_flags = 0x02,
				      .seq = c.isn, .payload = ok, .paylen = n };
		assert_int_equal(ftc_run_spec(f, &s), FTC_PASS);
		assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
		assert_int_equal(ftc_ack(f, &c), FTC_PASS);
		switch (i) {
		case 0:
			assert_int_equal(ftc_send_at(f, &c, 0, denied, dn), FTC_DROP);
			assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
			break;
		case 1:
			assert_int_equal(ftc_send_at(f, &c, 0, fake, sizeof(fake) - 1), FTC_DROP);
			assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
			break;
		default: /* the same hello: verified again, and on from there */
			assert_int_equal(ftc_send_at(f, &c, 0, ok, n), FTC_PASS);
			assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
			assert_int_equal(ftc_send_at(f, &c, n, "\x17\x03\x03\x00\x01\x00", 6),
					 FTC_PASS);
			assert_int_equal(ftc_send_at(f, &c, 0, ok, n), FTC_PASS);
			assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
		}
	}
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_SNI_DENIED), 1);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_SNI), 1);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 1);
}

/* A hello in two segments, the first on the SYN (Fast Open), which the
 * server discarded: the client sends both again, and the verdict now rests
 * on those. A spurious retransmit of the first alone later is checked on
 * its first bytes, as for any connection: inspecting it whole again once
 * stalled the connection (the second, acknowledged, never came again). */
static void fast_open_resent_then_first_segment_again(void **state)
{
	static const uint8_t appdata[] = { 0x17, 0x03, 0x03, 0x00, 0x01, 0 };
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41050, 443);
	struct pkt_spec s = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 41050,
			      .dport = 443, .tcp_flags = 0x02, .seq = c.isn, .payload = hello,
			      .paylen = 500 };
	assert_int_equal(ftc_run_spec(f, &s), FTC_PASS);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 500), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 500, hello + 500, hello_len - 500), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 500), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, hello_len, appdata, sizeof(appdata)), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 0);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
}

/* Data on a segment without ACK never reaches the socket: the gate neither
 * judges on it nor passes it (a verdict on such a hello once let other
 * first bytes through the prefix check). */
static void data_without_ack_is_dropped(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41060, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	struct pkt_spec s = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 41060,
			      .dport = 443, .tcp_flags = 0x08, .seq = c.isn + 1, .payload = hello,
			      .paylen = hello_len };
	assert_int_equal(ftc_run_spec(f, &s), FTC_DROP);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_conn_state(f, &c), 0);
	assert_int_equal(ftc_send(f, &c, hello, hello_len), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
}

/* A socket reset mid-hello and opened again with the same ISN: the verdict
 * may rest on bytes the new socket never got, so its offset 0 is inspected
 * whole, and one byte that starts like a hello does not pass there. */
static void same_isn_over_inspected_bytes(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", 41070, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 500), FTC_PASS);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send_at(f, &c, 500, hello + 500, hello_len - 500), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_send_at(f, &c, 0, "\x16", 1), FTC_DROP);
	assert_int_equal(ftc_send_at(f, &c, 0, hello, 500), FTC_DROP);	/* not whole either */
	assert_int_equal(ftc_send_at(f, &c, 0, hello, hello_len), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
}

/* A first segment shorter than 6 bytes, sent again once the connection is
 * verified: it starts like a hello as far as it goes, and passes. It once
 * turned the connection bad. Other bytes at offset 0 still do. */
static void short_first_segment_sent_again(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", 41040, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, 3), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello + 3, hello_len - 3), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	for (size_t len = 1; len <= 6; len++) {
		assert_int_equal(ftc_send_at(f, &c, 0, hello, len), FTC_PASS);
		assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	}
	assert_int_equal(ftc_send_at(f, &c, 0, "\x16\x02", 2), FTC_DROP);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
}

/* Connections older than the gate: no SYN was seen, so they pass
 * (untracked) until they close. */
static void connections_older_than_the_gate(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", 41008, 443);
	c.next = 123456;
	assert_int_equal(ftc_ack(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, "\x8e\x11mid-record bytes", 18), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_UNTRACKED), 3);
	assert_int_equal(ftc_conn_state(f, &c), 0);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 0);
}

static void flood(struct ftc *f, int n, uint16_t base)
{
	for (int i = 0; i < n; i++) {
		struct ftc_conn x;
		char src[32];

		snprintf(src, sizeof(src), "198.19.%d.%d", (i >> 8) & 255, i & 255);
		ftc_conn_init(&x, 4, src, (uint16_t)(base + i), 443);
		assert_int_equal(ftc_syn(f, &x), FTC_PASS);
	}
}

/* A SYN flood evicts a client's pending entry; its plaintext first payload,
 * and every retransmission of it, is still dropped. */
static void eviction_does_not_let_plaintext_through(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41010, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_ack(f, &c), FTC_PASS);
	flood(f, 4000, 2000);
	assert_false(ftc_conn_pending(f, &c)); /* evicted: the case under test */
	assert_int_equal(ftc_send_at(f, &c, 0, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_send_at(f, &c, 0, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_send_at(f, &c, 0, "SSH-2.0-x\r\n", 11), FTC_DROP);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_LOST_STATE_DROPS), 1);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 1);
	assert_true(ftc_pressure(f, CASTLE_TLSP_PENDING_INSERTS) >= 4001);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_PENDING_RESOLVED), 0);
}

/* ... and a real client whose entry was evicted still gets through: its
 * hello is adopted, even when split. */
static void eviction_adopts_a_real_hello(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 6, "2001:db8::1", 41011, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	flood(f, 4000, 2000);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send(f, &c, hello, 1000), FTC_PASS);
	assert_true(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send(f, &c, hello + 1000, hello_len - 1000), FTC_PASS);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_VERIFIED);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_ADOPTED), 1);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_TLS), 1);
}

/* A flood between the two halves of a hello: the continuation has no state
 * and is not a hello start - dropped, never passed unchecked. */
static void eviction_mid_hello_fails_closed(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41012, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, 1000), FTC_PASS);
	flood(f, 4000, 2000);
	assert_false(ftc_conn_pending(f, &c));
	assert_int_equal(ftc_send(f, &c, hello + 1000, hello_len - 1000), FTC_DROP);
	assert_int_equal(ftc_pressure(f, CASTLE_TLSP_LOST_STATE_DROPS), 1);
}

/* Verified connections evicted from tls_conns keep passing: their mark was
 * resolved by the verdict. */
static void evicted_verified_connection_keeps_passing(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_conn_init(&c, 4, "198.18.0.1", 41013, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, hello, hello_len), FTC_PASS);
	/* Fill tls_conns with bad connections. */
	for (int i = 0; i < 1000; i++) {
		struct ftc_conn x;
		char src[32];

		snprintf(src, sizeof(src), "198.19.%d.%d", (i >> 8) & 255, i & 255);
		ftc_conn_init(&x, 4, src, (uint16_t)(3000 + i), 443);
		ftc_syn(f, &x);
		assert_int_equal(ftc_send(f, &x, http, sizeof(http) - 1), FTC_DROP);
	}
	assert_int_equal(ftc_conn_state(f, &c), 0); /* evicted */
	assert_int_equal(ftc_send(f, &c, "\x17\x03\x03\x00\x10", 5), FTC_PASS);
	assert_true(ftc_pressure(f, CASTLE_TLSP_CONN_INSERTS) >= 1001);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(retransmitted_and_overlapping_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(reordered_hello, setup, teardown),
		cmocka_unit_test_setup_teardown(first_segment_replaced_by_plaintext, setup, teardown),
		cmocka_unit_test_setup_teardown(syn_on_judged_tuple, setup, teardown),
		cmocka_unit_test_setup_teardown(fast_open, setup, teardown),
		cmocka_unit_test_setup_teardown(duplicate_syn_on_verified_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(fast_open_data_discarded, setup, teardown),
		cmocka_unit_test_setup_teardown(fast_open_resent_then_first_segment_again, setup,
						teardown),
		cmocka_unit_test_setup_teardown(data_without_ack_is_dropped, setup, teardown),
		cmocka_unit_test_setup_teardown(same_isn_over_inspected_bytes, setup, teardown),
		cmocka_unit_test_setup_teardown(short_first_segment_sent_again, setup, teardown),
		cmocka_unit_test_setup_teardown(connections_older_than_the_gate, setup, teardown),
		cmocka_unit_test_setup_teardown(eviction_does_not_let_plaintext_through, setup_small,
						teardown),
		cmocka_unit_test_setup_teardown(eviction_adopts_a_real_hello, setup_small, teardown),
		cmocka_unit_test_setup_teardown(eviction_mid_hello_fails_closed, setup_small, teardown),
		cmocka_unit_test_setup_teardown(evicted_verified_connection_keeps_passing, setup_small,
						teardown),
	};

	return cmocka_run_group_tests_name("tc_state", tests, NULL, NULL);
}
