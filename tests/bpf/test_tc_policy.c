// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_tc_policy.c - what decides whether the TC gate looks at a packet at
 * all, and UDP on the protected ports: no tls section, other ports, the
 * allowlist (policy and manual), dry-run, malformed frames (cut transport
 * headers: allow first, other ports not the gate's business), IP fragments,
 * QUIC long and short headers with quic: allow and quic: drop.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "fixture_tc.h"

#define V12 0x0303

static const char http[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

static int setup(void **state)
{
	static struct ftc f;

	ftc_open(&f, 0, 0);
	*state = &f;
	return 0;
}

static int teardown(void **state)
{
	ftc_close(*state);
	return 0;
}

static int plaintext(struct ftc *f, int family, const char *src, uint16_t sport, uint16_t dport)
{
	struct ftc_conn c;

	ftc_conn_init(&c, family, src, sport, dport);
	if (ftc_syn(f, &c) != FTC_PASS)
		return FTC_DROP;
	return ftc_send(f, &c, http, sizeof(http) - 1);
}

static void no_tls_section_passes_everything(void **state)
{
	struct ftc *f = *state;

	ftc_begin_no_tls(f);
	ftc_commit(f);
	assert_int_equal(plaintext(f, 4, "198.18.0.1", 1, 443), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(ftc_total(f), 2);

	/* Counted by what the frame is, as with a TLS section: IP (IPv6, IP
	 * behind two VLAN tags, a cut IPv4 header) as ok, ARP as non-ip. The
	 * program knows IP from skb->protocol here, except behind the tags. */
	struct pkt_spec v6 = { .family = 6, .src = "2001:db8::1", .dst = "2001:db8::2",
			       .proto = 17, .sport = 1, .dport = 443 };
	struct pkt_spec qinq = { .nvlans = 2, .family = 4, .src = "198.18.0.1",
				 .dst = "198.18.0.2", .proto = 17, .sport = 1, .dport = 443 };
	struct pkt_spec arp = { .ethertype = 0x0806 };
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build(&qinq, buf, sizeof(buf));

	assert_int_equal(ftc_run_spec(f, &v6), FTC_PASS);
	assert_int_equal(ftc_run_spec(f, &qinq), FTC_PASS);
	assert_int_equal(ftc_run_spec(f, &arp), FTC_PASS);
	assert_true(n > 0);
	/* IPv4 header cut after 10 bytes, behind the two tags */
	assert_int_equal(ftc_run(f, buf, 14 + 8 + 10), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_NON_IP), 1);
	assert_int_equal(ftc_total(f), 6);
}

static void no_policy_passes_everything(void **state)
{
	struct ftc *f = *state;

	assert_int_equal(plaintext(f, 6, "2001:db8::1", 1, 443), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
}

static void other_ports_pass(void **state)
{
	struct ftc *f = *state;

	ftc_begin(f, "443,8443", V12, 0);
	ftc_commit(f);
	assert_int_equal(plaintext(f, 4, "198.18.0.1", 1, 80), FTC_PASS);
	assert_int_equal(plaintext(f, 4, "198.18.0.1", 2, 8444), FTC_PASS);
	assert_int_equal(plaintext(f, 4, "198.18.0.1", 3, 8443), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 1);
}

static void non_ip_passes(void **state)
{
	struct ftc *f = *state;
	struct pkt_spec arp = { .ethertype = 0x0806 };

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	assert_int_equal(ftc_run_spec(f, &arp), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_NON_IP), 1);
}

static void allowlist_is_never_tls_checked(void **state)
{
	struct ftc *f = *state;
	struct castle_cidr c;

	ftc_begin(f, "443", V12, 0);
	ftc_allow(f, "198.18.10.0/24");
	ftc_allow(f, "2001:db8:10::/48");
	ftc_commit(f);
	memset(&c, 0, sizeof(c));
	c.family = 4;
	c.plen = 32;
	c.addr[0] = 198, c.addr[1] = 18, c.addr[2] = 11, c.addr[3] = 11;
	assert_int_equal(castle_manual_allow_put(&f->maps, &c), 0);

	assert_int_equal(plaintext(f, 4, "198.18.10.7", 1, 443), FTC_PASS);
	assert_int_equal(plaintext(f, 6, "2001:db8:10::7", 2, 443), FTC_PASS);
	assert_int_equal(plaintext(f, 4, "198.18.11.11", 3, 443), FTC_PASS);
	assert_int_equal(plaintext(f, 4, "198.18.11.12", 4, 443), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 6);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 1);
}

/* A connection judged not TLS drops its later segments from the gate's one
 * lookup of the tuple; the allowlist still comes first: a source allowed
 * after its connection was judged passes on that connection (allow beats
 * everything), and drops again once the allow is gone. */
static void allowlist_beats_a_judged_connection(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	struct castle_cidr a = { .family = 4, .plen = 32, .addr = { 198, 18, 12, 7 } };

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	ftc_conn_init(&c, 4, "198.18.12.7", 41010, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 2);

	assert_int_equal(castle_manual_allow_put(&f->maps, &a), 0);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 1);
	assert_int_equal(castle_manual_allow_del(&f->maps, &a), 0);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 3);
	/* judged once: the later drops add no result */
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 1);
}

/* dry-run: what would drop passes, counted with the drop reason. */
static void dry_run_counts_would_drops(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_begin(f, "443", V12, CASTLE_F_DRY_RUN);
	ftc_commit(f);
	ftc_conn_init(&c, 4, "198.18.0.1", 7, 443);
	assert_int_equal(ftc_syn(f, &c), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_PASS);
	assert_int_equal(ftc_send(f, &c, http, sizeof(http) - 1), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_TLS_NOT_TLS), 2);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 0);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 1);
	assert_int_equal(ftc_conn_state(f, &c), CASTLE_TLS_S_BAD);
}

static void malformed_follows_the_policy(void **state)
{
	struct ftc *f = *state;
	uint8_t buf[PKT_MAX];
	struct pkt_spec s = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 1, .dport = 443,
			      .payload = http, .paylen = sizeof(http) - 1 };
	size_t n = pkt_build(&s, buf, sizeof(buf));

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	/* IPv4 total length beyond the frame. */
	assert_int_equal(ftc_run(f, buf, n - 10), FTC_DROP);
	ftc_begin(f, "443", V12, CASTLE_F_MALFORMED_PASS);
	ftc_commit(f);
	assert_int_equal(ftc_run(f, buf, n - 10), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 1);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 1);
}

/* A TCP frame from src to dport, cut: the IP length (and the frame) end
 * `keep` bytes into the TCP header; keep 0 = whole, with data offset `doff`
 * (0 = as built). Returns the frame length. */
static size_t cut_tcp(uint8_t *buf, int family, const char *src, uint16_t dport, size_t keep,
		      unsigned doff)
{
	struct pkt_spec s = { .family = family, .src = src, .proto = 6, .sport = 40000,
			      .dport = dport, .payload = http, .paylen = 8 };
	struct pkt_layout lay;
	size_t n = pkt_build_layout(&s, buf, PKT_MAX, &lay);

	if (doff)
		buf[lay.l4 + 12] = (uint8_t)(doff << 4 | (buf[lay.l4 + 12] & 0x0f));
	if (keep) {
		n = lay.l4 + keep;
		pkt_set_ip_end(buf, &lay, family, n);
	}
	return n;
}

/* Allow beats everything, at TC as at XDP: an allowlisted source whose TCP
 * header is cut (ports visible or not) or whose data offset runs past the
 * packet passes, whatever the port and the malformed policy. */
static void allowlisted_cut_header_passes(void **state)
{
	struct ftc *f = *state;
	uint8_t buf[PKT_MAX];

	ftc_begin(f, "443", V12, 0);
	ftc_allow(f, "198.18.10.0/24");
	ftc_allow(f, "2001:db8:10::/48");
	ftc_commit(f);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.10.7", 443, 10, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.10.7", 443, 2, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.10.7", 443, 0, 15)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 6, "2001:db8:10::7", 443, 19, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.10.7", 80, 10, 0)), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_ALLOWLIST), 5);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 0);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 0);
	assert_int_equal(ftc_total(f), 5);

	/* The same frames from a source that is not allowlisted: malformed on
	 * the protected port (ports visible or not). */
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 443, 10, 0)), FTC_DROP);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 443, 2, 0)), FTC_DROP);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 443, 0, 15)), FTC_DROP);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 6, "2001:db8::7", 443, 19, 0)), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 4);
	assert_int_equal(ftc_total(f), 9);
}

/* A cut header is the TLS gate's business only on a protected port, or when
 * the port is out of sight: on another visible port it passes (`ok`), XDP
 * already applied `malformed:` to it. */
static void cut_header_on_other_port_is_not_tc_business(void **state)
{
	struct ftc *f = *state;
	uint8_t buf[PKT_MAX];

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 10, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 4, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 0, 15)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 0, 3)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 6, "2001:db8::7", 22, 12, 0)), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 0);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 0);

	/* Ports out of sight (3 bytes of TCP header): it could be a protected
	 * port, so the malformed policy decides - as XDP decided. */
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 3, 0)), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 1);
	ftc_begin(f, "443", V12, CASTLE_F_MALFORMED_PASS);
	ftc_commit(f);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 80, 3, 0)), FTC_PASS);
	assert_int_equal(ftc_run(f, buf, cut_tcp(buf, 4, "198.18.0.7", 443, 10, 0)), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 2);
	assert_int_equal(ftc_total(f), 8);
}

/* A first fragment to a protected port cannot be inspected whole: dropped,
 * so the later fragments (which pass: no ports) never reassemble. */
static void fragments(void **state)
{
	struct ftc *f = *state;
	struct pkt_spec first4 = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 1,
				   .dport = 443, .frag = PKT_FRAG_FIRST, .payload = http,
				   .paylen = 8 };
	struct pkt_spec first6 = first4, later = first4;

	first6.family = 6;
	first6.src = "2001:db8::1";
	first6.next_ext = 1;
	first6.ext[0] = 44;
	later.frag = PKT_FRAG_LATER;

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	assert_int_equal(ftc_run_spec(f, &first4), FTC_DROP);
	assert_int_equal(ftc_run_spec(f, &first6), FTC_DROP);
	assert_int_equal(ftc_run_spec(f, &later), FTC_PASS);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 2);
	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

/* TCP inside IPsec AH (transport mode) to a protected port is the gate's
 * business as plain TCP is, in both families: a plaintext first payload
 * (no SYN seen: a fresh tuple whose slot a SYN marked) is dropped; the same
 * segment without AH too. Before, IPv4 AH hid the ports from the gate. */
static void tcp_inside_ah(void **state)
{
	struct ftc *f = *state;
	struct pkt_spec syn = { .family = 4, .src = "198.18.0.1", .proto = 6, .sport = 2,
				.dport = 443, .tcp_flags = 0x02, .seq = 1000, .next_ext = 1,
				.ext = { 51 } };
	struct pkt_spec data = syn, syn6 = syn, data6;

	data.tcp_flags = 0x18;
	data.seq = 1001;
	data.payload = http;
	data.paylen = 8;
	syn6.family = 6;
	syn6.src = "2001:db8::1";
	data6 = data;
	data6.family = 6;
	data6.src = "2001:db8::1";

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	assert_int_equal(ftc_run_spec(f, &syn), FTC_PASS);
	assert_int_equal(ftc_run_spec(f, &data), FTC_DROP);
	assert_int_equal(ftc_run_spec(f, &syn6), FTC_PASS);
	assert_int_equal(ftc_run_spec(f, &data6), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS), 2);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_NOT_TLS), 2);
}

/* ---- QUIC ------------------------------------------------------------------ */

static uint8_t dgram[1300];

static size_t long_header(uint32_t version, size_t len)
{
	memset(dgram, 0x33, sizeof(dgram));
	dgram[0] = 0xc3; /* long header, fixed bit, Initial */
	dgram[1] = version >> 24;
	dgram[2] = version >> 16;
	dgram[3] = version >> 8;
	dgram[4] = version;
	dgram[5] = 8;	/* DCID length */
	return len;
}

static size_t short_header(size_t len)
{
	memset(dgram, 0x44, sizeof(dgram));
	dgram[0] = 0x41;
	return len;
}

static void quic_allow(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;
	size_t n;

	ftc_begin(f, "443", V12, CASTLE_F_TLS_QUIC_ALLOW);
	ftc_commit(f);
	ftc_conn_init(&c, 4, "198.18.0.1", 50000, 443);
	n = long_header(0x00000001, 1200);
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = long_header(0x6b3343cf, 1200);	/* v2 */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = long_header(0xff00001d, 1200);	/* draft-29 */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = short_header(60);
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	c.family = 6;
	c.src = "2001:db8::1";
	c.dst = "2001:db8::2";
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);

	/* An unknown version (a later QUIC, or a reserved one forcing version
	 * negotiation) in a datagram that can open a connection: the server
	 * answers with Version Negotiation. Smaller ones it must drop. */
	n = long_header(0x1a2a3a4a, 1200);
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = long_header(0x00000003, 1300);
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = long_header(0x1a2a3a4a, 1199);
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_DROP);
	n = long_header(0x00000000, 1200);	/* Version Negotiation: a server's */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_DROP);
	n = long_header(0x00000001, 60);	/* a small packet of a known version */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_PASS);
	n = long_header(0x00000001, 5);	/* cut long header */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_DROP);
	n = short_header(10);			/* too short for a packet */
	assert_int_equal(ftc_udp(f, &c, dgram, n), FTC_DROP);
	dgram[0] = 0x01;			/* fixed bit clear */
	assert_int_equal(ftc_udp(f, &c, dgram, 60), FTC_DROP);
	assert_int_equal(ftc_udp(f, &c, "", 0), FTC_DROP);
	c.dport = 53;				/* not a protected port */
	assert_int_equal(ftc_udp(f, &c, "x", 1), FTC_PASS);

	assert_int_equal(ftc_count(f, CASTLE_PASS, CASTLE_R_OK), 9);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_QUIC), 6);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_QUIC_DROPPED), 3); /* the long headers */
}

static void quic_drop(void **state)
{
	struct ftc *f = *state;
	struct ftc_conn c;

	ftc_begin(f, "443", V12, 0);
	ftc_commit(f);
	ftc_conn_init(&c, 4, "198.18.0.1", 50001, 443);
	assert_int_equal(ftc_udp(f, &c, dgram, long_header(1, 1200)), FTC_DROP);
	assert_int_equal(ftc_udp(f, &c, dgram, short_header(60)), FTC_DROP);
	assert_int_equal(ftc_udp(f, &c, "hello", 5), FTC_DROP);
	assert_int_equal(ftc_count(f, CASTLE_DROP, CASTLE_R_QUIC), 3);
	assert_int_equal(ftc_result(f, CASTLE_TLS_RES_QUIC_DROPPED), 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(no_tls_section_passes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(no_policy_passes_everything, setup, teardown),
		cmocka_unit_test_setup_teardown(allowlist_beats_a_judged_connection, setup, teardown),
		cmocka_unit_test_setup_teardown(other_ports_pass, setup, teardown),
		cmocka_unit_test_setup_teardown(non_ip_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(allowlist_is_never_tls_checked, setup, teardown),
		cmocka_unit_test_setup_teardown(dry_run_counts_would_drops, setup, teardown),
		cmocka_unit_test_setup_teardown(malformed_follows_the_policy, setup, teardown),
		cmocka_unit_test_setup_teardown(allowlisted_cut_header_passes, setup, teardown),
		cmocka_unit_test_setup_teardown(cut_header_on_other_port_is_not_tc_business, setup,
						teardown),
		cmocka_unit_test_setup_teardown(fragments, setup, teardown),
		cmocka_unit_test_setup_teardown(tcp_inside_ah, setup, teardown),
		cmocka_unit_test_setup_teardown(quic_allow, setup, teardown),
		cmocka_unit_test_setup_teardown(quic_drop, setup, teardown),
	};

	return cmocka_run_group_tests_name("tc_policy", tests, NULL, NULL);
}
