// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_parse.c - the XDP gate's parser: what always passes (non-IP, ND),
 * VLAN tags, IPv4 options and lying lengths, IPv6 extension chains up to the
 * bound and past it, fragments, and frames truncated at every byte of every
 * header (each a counted, defined verdict).
 *
 * A class "udp/tcp dst port 53, huge rate" proves that the transport header
 * was found: it is charged only when the parser saw the port.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <linux/bpf.h>

#include "fixture.h"

#define HUGE_RATE 1e9

/* Policy: a port-53 class that never limits, plus the given flags. */
static int port53_policy(struct fx *f, uint32_t flags)
{
	fx_begin(f);
	fx_flags(f, flags);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, "53", HUGE_RATE, 1000000);
	fx_commit(f);
	return c;
}

static size_t build(const struct pkt_spec *s, uint8_t *buf, struct pkt_layout *lay)
{
	size_t n = pkt_build_layout(s, buf, PKT_MAX, lay);

	assert_true(n > 0);
	return n;
}

/* ---- always pass -------------------------------------------------------- */

static void non_ip_passes_even_when_everything_blocked(void **state)
{
	struct fx *f = *state;
	struct pkt_spec arp = { .ethertype = 0x0806 }, lldp = { .ethertype = 0x88cc },
			arp_vlan = { .ethertype = 0x0806, .nvlans = 1 },
			arp_qinq = { .ethertype = 0x0806, .nvlans = 2, .vlan_tpid = { 0x88a8, 0x8100 } },
			ip = fx_udp4("198.18.0.1"), ip6 = fx_udp6("2001:db8::1");
	uint8_t bare[14] = { 2, 0, 0, 0, 0, 2, 2, 0, 0, 0, 0, 1, 0x08, 0x06 };

	fx_begin(f);
	fx_block(f, "0.0.0.0/0", 0);
	fx_block(f, "::/0", 0);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 1);
	fx_commit(f);

	assert_int_equal(fx_run_spec(f, &arp), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &lldp), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &arp_vlan), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &arp_qinq), XDP_PASS);
	assert_int_equal(fx_run(f, bare, sizeof(bare)), XDP_PASS);
	fx_run_spec_repeat(f, &arp, 100); /* and never limited */
	assert_int_equal(fx_run_spec(f, &ip), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &ip6), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_NON_IP), 105);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 2);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS) + fx_class_count(f, 0, CASTLE_DROP), 0);
	assert_int_equal(fx_total(f), 107);
}

static void nd_passes_from_blocked_source(void **state)
{
	struct fx *f = *state;

	fx_begin(f);
	fx_block(f, "::/0", 0);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 1);
	fx_commit(f);
	for (int t = 133; t <= 137; t++) {
		struct pkt_spec s = { .family = 6, .src = "fe80::1", .dst = "ff02::1", .proto = 58,
				      .icmp_type = t, .ttl = 255 };
		assert_int_equal(fx_run_spec_repeat(f, &s, 3), XDP_PASS);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ND), 15);
	assert_int_equal(fx_total(f), 15);
}

static void nd_type_without_hop_limit_255_dropped_from_blocked_source(void **state)
{
	struct fx *f = *state;

	fx_begin(f);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_commit(f);
	for (int t = 133; t <= 137; t++) {
		struct pkt_spec s = { .family = 6, .src = "2001:db8:bad::1", .proto = 58,
				      .icmp_type = t, .ttl = 64 };
		assert_int_equal(fx_run_spec(f, &s), XDP_DROP);
	}
	/* other ICMPv6 types are not ND, even with hop limit 255 */
	struct pkt_spec echo = { .family = 6, .src = "2001:db8:bad::1", .proto = 58,
				 .icmp_type = 128, .ttl = 255 };
	assert_int_equal(fx_run_spec(f, &echo), XDP_DROP);
	/* ND is never a fragment */
	struct pkt_spec frag = { .family = 6, .src = "2001:db8:bad::1", .proto = 58, .icmp_type = 135,
				 .ttl = 255, .next_ext = 1, .ext = { 44 }, .frag = PKT_FRAG_LATER };
	assert_int_equal(fx_run_spec(f, &frag), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), 7);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_ND), 0);
}

/* ---- VLAN --------------------------------------------------------------- */

static void vlan_one_and_two_tags_parsed(void **state)
{
	struct fx *f = *state;
	int c = port53_policy(f, 0);
	const uint16_t tpids[][2] = { { 0x8100, 0 }, { 0x88a8, 0 }, { 0x88a8, 0x8100 }, { 0x8100, 0x8100 } };
	const int ntags[] = { 1, 1, 2, 2 };

	for (int i = 0; i < 4; i++) {
		struct pkt_spec a = fx_udp4("198.18.0.1"), b = fx_udp6("2001:db8::1");
		a.nvlans = b.nvlans = ntags[i];
		memcpy(a.vlan_tpid, tpids[i], sizeof(tpids[i]));
		memcpy(b.vlan_tpid, tpids[i], sizeof(tpids[i]));
		assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
		assert_int_equal(fx_run_spec(f, &b), XDP_PASS);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 8);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 8);
}

static void vlan_third_tag_is_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.0.1"), b = fx_udp6("2001:db8::1"),
			arp = { .ethertype = 0x0806, .nvlans = 3 };

	port53_policy(f, 0);
	a.nvlans = b.nvlans = 3;
	a.vlan_tpid[0] = 0x88a8;
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	/* what hides under a third tag is unknown, so even "ARP" is not waved through */
	assert_int_equal(fx_run_spec(f, &arp), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 3);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS), 0);

	port53_policy(f, CASTLE_F_MALFORMED_PASS);
	assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 1);
	assert_int_equal(fx_total(f), 4);
}

/* ---- IPv4 --------------------------------------------------------------- */

static void ipv4_options_parsed_up_to_40_bytes(void **state)
{
	struct fx *f = *state;
	int c = port53_policy(f, 0);

	for (int o = 0; o <= 40; o += 4) {
		struct pkt_spec s = fx_udp4("198.18.0.1");
		s.ip_opts = o;
		assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
		struct pkt_spec t = s;
		t.proto = 6;
		assert_int_equal(fx_run_spec(f, &t), XDP_PASS);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 22);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 22);
}

static void ipv4_ihl_below_5_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = fx_udp4("198.18.0.1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	port53_policy(f, 0);
	size_t n = build(&s, buf, &lay);
	for (int ihl = 0; ihl < 5; ihl++) {
		buf[lay.l3] = 0x40 | ihl;
		assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	}
	buf[lay.l3] = 0x65; /* version 6 in an IPv4 ethertype */
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 6);
	assert_int_equal(fx_total(f), 6);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS), 0);
}

static void ipv4_tot_len_beyond_frame_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = fx_udp4("198.18.0.1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	port53_policy(f, 0);
	size_t n = build(&s, buf, &lay);
	pkt_set_ip_end(buf, &lay, 4, n + 1);
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	pkt_set_ip_end(buf, &lay, 4, n + 1000);
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	pkt_set_ip_end(buf, &lay, 4, lay.l3 + 19); /* shorter than its own header */
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 3);
	pkt_set_ip_end(buf, &lay, 4, n);
	assert_int_equal(fx_run(f, buf, n), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 1);
}

static void ipv4_tot_len_shorter_with_ethernet_padding_parsed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = fx_udp4("198.18.0.1"), t = fx_udp4("198.18.0.1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	t.proto = 6;
	int c = port53_policy(f, 0);
	size_t n = build(&s, buf, &lay);
	assert_true(n < 60);
	memset(buf + n, 0, 60 - n); /* minimum Ethernet frame: padded */
	assert_int_equal(fx_run(f, buf, 60), XDP_PASS);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 1);
	assert_int_equal(fx_bytes(f, CASTLE_PASS, CASTLE_R_OK), 60);

	/* The padding must not be read as the transport header: a packet whose
	 * tot_len ends inside the UDP header is malformed, padding or not. */
	pkt_set_ip_end(buf, &lay, 4, lay.l4 + 4);
	assert_int_equal(fx_run(f, buf, 60), XDP_DROP);
	n = build(&t, buf, &lay); /* TCP, 54 bytes */
	memset(buf + n, 0, 60 - n);
	pkt_set_ip_end(buf, &lay, 4, lay.l4 + 16);
	assert_int_equal(fx_run(f, buf, 60), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 2);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 1);
}

static void tcp_data_offset_below_5_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = fx_udp4("198.18.0.1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	s.proto = 6;
	port53_policy(f, 0);
	size_t n = build(&s, buf, &lay);
	buf[lay.l4 + 12] = 4 << 4;
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 1);
}

/* ---- IPv6 --------------------------------------------------------------- */

static const uint8_t ext_kinds[] = { 0, 43, 44, 60, 51 }; /* HBH, routing, frag, dstopts, AH */

static void ipv6_each_extension_header_parsed(void **state)
{
	struct fx *f = *state;
	int c = port53_policy(f, 0);

	for (size_t i = 0; i < sizeof(ext_kinds); i++) {
		struct pkt_spec s = fx_udp6("2001:db8::1");
		s.next_ext = 1;
		s.ext[0] = ext_kinds[i];
		assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
		s.proto = 6;
		assert_int_equal(fx_run_spec(f, &s), XDP_PASS);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 10);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 10);
}

static void ipv6_extension_chain_up_to_bound_parsed_one_beyond_malformed(void **state)
{
	struct fx *f = *state;
	int c = port53_policy(f, 0);

	for (int n = 2; n <= PKT_MAX_EXT; n++) {
		for (size_t rot = 0; rot < sizeof(ext_kinds); rot++) {
			struct pkt_spec s = fx_udp6("2001:db8::1");
			s.next_ext = n;
			for (int i = 0; i < n; i++)
				s.ext[i] = ext_kinds[(i + rot) % sizeof(ext_kinds)];
			int want = n <= CASTLE_MAX_V6_EXT ? XDP_PASS : XDP_DROP;
			if (fx_run_spec(f, &s) != want)
				fail_msg("chain of %d headers (rotation %zu): wrong verdict", n, rot);
		}
	}
	uint64_t ok = (CASTLE_MAX_V6_EXT - 1) * sizeof(ext_kinds);
	uint64_t bad = (PKT_MAX_EXT - CASTLE_MAX_V6_EXT) * sizeof(ext_kinds);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), ok);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), ok);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), bad);
}

static void ipv6_without_transport_header_parsed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec none = { .family = 6, .src = "2001:db8::1", .proto = 59 },
			esp = { .family = 6, .src = "2001:db8::1", .proto = 50, .next_ext = 1, .ext = { 0 } };

	port53_policy(f, 0);
	assert_int_equal(fx_run_spec(f, &none), XDP_PASS);
	assert_int_equal(fx_run_spec(f, &esp), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS), 0); /* no port 53 seen */
}

static void ipv6_payload_len_beyond_frame_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = fx_udp6("2001:db8::1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	port53_policy(f, 0);
	size_t n = build(&s, buf, &lay);
	pkt_set_ip_end(buf, &lay, 6, n + 1);
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	buf[lay.l3] = 0x40; /* version 4 in an IPv6 ethertype */
	pkt_set_ip_end(buf, &lay, 6, n);
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), 2);
	/* shorter payload_len with trailing bytes: parsed within it */
	buf[lay.l3] = 0x60;
	memset(buf + n, 0, 20);
	assert_int_equal(fx_run(f, buf, n + 20), XDP_PASS);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS), 1);
}

/* ---- fragments ---------------------------------------------------------- */

static void fragments_first_and_later_parsed_and_charged(void **state)
{
	struct fx *f = *state;
	int c = port53_policy(f, 0);
	struct pkt_spec v4[2] = { fx_udp4("198.18.0.1"), fx_udp4("198.18.0.1") };
	struct pkt_spec v6[2] = { fx_udp6("2001:db8::1"), fx_udp6("2001:db8::1") };

	v4[0].frag = v6[0].frag = PKT_FRAG_FIRST;
	v4[1].frag = v6[1].frag = PKT_FRAG_LATER;
	for (int i = 0; i < 2; i++) {
		v6[i].next_ext = 1;
		v6[i].ext[0] = 44;
		assert_int_equal(fx_run_spec(f, &v4[i]), XDP_PASS);
		assert_int_equal(fx_run_spec(f, &v6[i]), XDP_PASS);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 4);
	/* later fragments have no ports: charged as if they matched */
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 4);
}

static void first_fragment_too_small_for_transport_header_malformed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.0.1"), b = fx_udp6("2001:db8::1");
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	port53_policy(f, 0);
	a.frag = b.frag = PKT_FRAG_FIRST;
	a.proto = 6;
	b.next_ext = 2;
	b.ext[0] = 0;
	b.ext[1] = 44;
	size_t n = build(&a, buf, &lay);
	for (size_t cut = lay.l4; cut < n; cut++) {
		pkt_set_ip_end(buf, &lay, 4, cut);
		assert_int_equal(fx_run(f, buf, cut), XDP_DROP);
	}
	uint64_t want = n - lay.l4;
	n = build(&b, buf, &lay);
	for (size_t cut = lay.l4; cut < n; cut++) {
		pkt_set_ip_end(buf, &lay, 6, cut);
		assert_int_equal(fx_run(f, buf, cut), XDP_DROP);
	}
	want += n - lay.l4;
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), want);
	assert_int_equal(fx_total(f), want);
}

/* ---- truncation at every byte ------------------------------------------- */

struct trunc_case {
	const char *name;
	struct pkt_spec s;
};

static const struct trunc_case trunc_cases[] = {
	{ "v4 udp", { .family = 4, .src = "198.18.0.1", .proto = 17, .dport = 53 } },
	{ "v4 tcp 40B options 1 tag",
	  { .family = 4, .src = "198.18.0.1", .proto = 6, .dport = 53, .ip_opts = 40, .nvlans = 1 } },
	{ "v4 icmp qinq",
	  { .family = 4, .src = "198.18.0.1", .proto = 1, .icmp_type = 8, .nvlans = 2,
	    .vlan_tpid = { 0x88a8, 0x8100 } } },
	{ "v4 udp first fragment", { .family = 4, .src = "198.18.0.1", .proto = 17, .dport = 53,
				     .frag = PKT_FRAG_FIRST } },
	{ "v6 tcp", { .family = 6, .src = "2001:db8::1", .proto = 6, .dport = 53 } },
	{ "v6 udp hbh routing frag dstopts ah, 2 tags",
	  { .family = 6, .src = "2001:db8::1", .proto = 17, .dport = 53, .nvlans = 2,
	    .next_ext = 5, .ext = { 0, 43, 44, 60, 51 } } },
	{ "v6 icmpv6 8 headers",
	  { .family = 6, .src = "2001:db8::1", .proto = 58, .icmp_type = 128, .next_ext = 8,
	    .ext = { 0, 60, 43, 51, 60, 43, 51, 60 } } },
};

/* Cut each frame at every length from 14 (bare Ethernet) to one byte short:
 * raw (the IP length then lies) and consistent (the IP length says the packet
 * ends there). Every cut is malformed: dropped, or passed with the flag, and
 * counted once with its length. */
static void truncate_everywhere(struct fx *f, bool consistent, int verdict)
{
	uint64_t runs = 0, bytes = 0, ok_cuts = 0;

	for (size_t i = 0; i < sizeof(trunc_cases) / sizeof(trunc_cases[0]); i++) {
		const struct trunc_case *tc = &trunc_cases[i];
		struct pkt_layout lay;
		uint8_t full[PKT_MAX], buf[PKT_MAX];
		size_t n = build(&tc->s, full, &lay);
		size_t hdr = tc->s.family == 4 ? 20 : 40;

		/* the whole frame is fine */
		if (fx_run(f, full, n) != XDP_PASS)
			fail_msg("%s: full frame not passed", tc->name);
		for (size_t cut = 14; cut < n; cut++) {
			bool icmp = tc->s.proto == 1 || tc->s.proto == 58;

			memcpy(buf, full, n);
			if (consistent && cut >= lay.l3 + hdr)
				pkt_set_ip_end(buf, &lay, tc->s.family, cut);
			/* The gate reads the first 4 bytes of ICMP (type, code,
			 * checksum): an ICMP message cut after them is parsed. */
			if (consistent && icmp && cut >= lay.l4 + 4) {
				if (fx_run(f, buf, cut) != XDP_PASS)
					fail_msg("%s cut at %zu: ICMP with 4 bytes not parsed",
						 tc->name, cut);
				ok_cuts++;
				continue;
			}
			if (fx_run(f, buf, cut) != verdict)
				fail_msg("%s cut at %zu of %zu (%s): wrong verdict", tc->name, cut, n,
					 consistent ? "consistent" : "raw");
			runs++;
			bytes += cut;
		}
	}
	int cv = verdict == XDP_DROP ? CASTLE_DROP : CASTLE_PASS;
	size_t ncases = sizeof(trunc_cases) / sizeof(trunc_cases[0]);
	assert_int_equal(fx_count(f, cv, CASTLE_R_MALFORMED), runs);
	assert_int_equal(fx_bytes(f, cv, CASTLE_R_MALFORMED), bytes);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), ncases + ok_cuts);
	assert_int_equal(fx_total(f), runs + ncases + ok_cuts);
	if (runs < 400) /* the loops ran */
		fail_msg("only %lu cuts", (unsigned long)runs);
}

static void truncated_at_every_byte_raw_malformed(void **state)
{
	port53_policy(*state, 0);
	truncate_everywhere(*state, false, XDP_DROP);
}

static void truncated_at_every_byte_consistent_malformed(void **state)
{
	port53_policy(*state, 0);
	truncate_everywhere(*state, true, XDP_DROP);
}

static void truncated_at_every_byte_malformed_pass_flag(void **state)
{
	port53_policy(*state, CASTLE_F_MALFORMED_PASS);
	truncate_everywhere(*state, true, XDP_PASS);
	assert_int_equal(fx_count(*state, CASTLE_DROP, CASTLE_R_MALFORMED), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(non_ip_passes_even_when_everything_blocked),
		T(nd_passes_from_blocked_source),
		T(nd_type_without_hop_limit_255_dropped_from_blocked_source),
		T(vlan_one_and_two_tags_parsed),
		T(vlan_third_tag_is_malformed),
		T(ipv4_options_parsed_up_to_40_bytes),
		T(ipv4_ihl_below_5_malformed),
		T(ipv4_tot_len_beyond_frame_malformed),
		T(ipv4_tot_len_shorter_with_ethernet_padding_parsed),
		T(tcp_data_offset_below_5_malformed),
		T(ipv6_each_extension_header_parsed),
		T(ipv6_extension_chain_up_to_bound_parsed_one_beyond_malformed),
		T(ipv6_without_transport_header_parsed),
		T(ipv6_payload_len_beyond_frame_malformed),
		T(fragments_first_and_later_parsed_and_charged),
		T(first_fragment_too_small_for_transport_header_malformed),
		T(truncated_at_every_byte_raw_malformed),
		T(truncated_at_every_byte_consistent_malformed),
		T(truncated_at_every_byte_malformed_pass_flag),
	};
#undef T
	return cmocka_run_group_tests_name("xdp_parse", tests, NULL, NULL);
}
