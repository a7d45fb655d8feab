// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_bypass.c - no disguise carries a blocked or a rate-limited source
 * past the XDP gate: VLAN tags (one and two), IPv4 options, IPv6 extension
 * headers of each kind and in chains, first and later fragments (also later
 * IPv6 fragments whose next header lies), headers cut short.
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

#define RATE 1		/* per second: no refill within a test */
#define BURST 3
#define SENT 10

struct disguise {
	const char *name;
	struct pkt_spec s;	/* family, tags, options, extensions, fragment */
};

#define V4(...) { .family = 4, __VA_ARGS__ }
#define V6(...) { .family = 6, __VA_ARGS__ }
#define QINQ .nvlans = 2, .vlan_tpid = { 0x88a8, 0x8100 }

static const struct disguise disguises[] = {
	{ "v4 plain", V4(.ip_opts = 0) },
	{ "v4 802.1Q", V4(.nvlans = 1) },
	{ "v4 802.1ad", V4(.nvlans = 1, .vlan_tpid = { 0x88a8 }) },
	{ "v4 QinQ", V4(QINQ) },
	{ "v4 4B options", V4(.ip_opts = 4) },
	{ "v4 40B options", V4(.ip_opts = 40) },
	{ "v4 QinQ 40B options", V4(QINQ, .ip_opts = 40) },
	{ "v4 first fragment", V4(.frag = PKT_FRAG_FIRST) },
	{ "v4 later fragment", V4(.frag = PKT_FRAG_LATER) },
	{ "v4 QinQ options later fragment", V4(QINQ, .ip_opts = 24, .frag = PKT_FRAG_LATER) },
	/* IPsec AH (transport mode): its ports were once out of the classes' sight */
	{ "v4 AH", V4(.next_ext = 1, .ext = { 51 }) },
	{ "v4 QinQ options AH", V4(QINQ, .ip_opts = 12, .next_ext = 1, .ext = { 51 }) },
	{ "v6 plain", V6(.next_ext = 0) },
	{ "v6 802.1Q", V6(.nvlans = 1) },
	{ "v6 QinQ", V6(QINQ) },
	{ "v6 hop-by-hop", V6(.next_ext = 1, .ext = { 0 }) },
	{ "v6 routing", V6(.next_ext = 1, .ext = { 43 }) },
	{ "v6 destination options", V6(.next_ext = 1, .ext = { 60 }) },
	{ "v6 AH", V6(.next_ext = 1, .ext = { 51 }) },
	{ "v6 atomic fragment", V6(.next_ext = 1, .ext = { 44 }) },
	{ "v6 chain of 5 kinds", V6(.next_ext = 5, .ext = { 0, 43, 44, 60, 51 }) },
	{ "v6 QinQ chain of 8", V6(QINQ, .next_ext = 8, .ext = { 0, 60, 43, 51, 51, 60, 43, 60 }) },
	{ "v6 first fragment", V6(.next_ext = 1, .ext = { 44 }, .frag = PKT_FRAG_FIRST) },
	{ "v6 first fragment in chain",
	  V6(.next_ext = 4, .ext = { 0, 43, 44, 60 }, .frag = PKT_FRAG_FIRST) },
	{ "v6 later fragment", V6(.next_ext = 1, .ext = { 44 }, .frag = PKT_FRAG_LATER) },
	{ "v6 later fragment in chain",
	  V6(QINQ, .next_ext = 3, .ext = { 0, 43, 44 }, .frag = PKT_FRAG_LATER) },
	/* Reassembly takes the next header of the first fragment only: a later
	 * fragment may name any protocol and still be part of a TCP packet. */
	{ "v6 later fragment naming UDP", V6(.next_ext = 1, .ext = { 44 }, .frag = PKT_FRAG_LATER,
					     .proto = 17) },
	{ "v6 later fragment naming dstopts",
	  V6(.next_ext = 1, .ext = { 44 }, .frag = PKT_FRAG_LATER, .proto = 60) },
};

#define NDISGUISES (sizeof(disguises) / sizeof(disguises[0]))

static size_t disguise(size_t i, const char *src, uint8_t *buf)
{
	struct pkt_spec s = disguises[i].s;

	s.src = src;
	if (!s.proto)
		s.proto = 6;
	s.sport = 40000;
	s.dport = 443;
	size_t n = pkt_build(&s, buf, PKT_MAX);
	assert_true(n > 0);
	return n;
}

static void src_of(size_t i, int family, char *buf, size_t len, bool blocked)
{
	if (family == 4)
		snprintf(buf, len, "198.18.%d.%zu", blocked ? 66 : 3, i + 1);
	else
		/* one /64 each: the default aggregation prefix of IPv6 */
		snprintf(buf, len, "2001:db8:%s:%zx::1", blocked ? "bad" : "3", i + 1);
}

static void policy(struct fx *f)
{
	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_class(f, NULL, CASTLE_PROTO_TCP, "443", RATE, BURST);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1e9, 1000000); /* catch-all: never limits */
	fx_commit(f);
}

static void blocked_source_cannot_pass_in_disguise(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];
	char src[64];

	policy(f);
	for (size_t i = 0; i < NDISGUISES; i++) {
		src_of(i, disguises[i].s.family, src, sizeof(src), true);
		size_t n = disguise(i, src, buf);
		if (fx_run(f, buf, n) != XDP_DROP)
			fail_msg("blocked source passed as %s", disguises[i].name);
		if (fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST) != i + 1)
			fail_msg("%s: not counted as blocklist drop", disguises[i].name);
	}
	assert_int_equal(fx_total(f), NDISGUISES);
	assert_int_equal(fx_class_count(f, 0, CASTLE_PASS) + fx_class_count(f, 1, CASTLE_PASS), 0);
}

static void limited_source_cannot_pass_in_disguise(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];
	char src[64];

	policy(f);
	for (size_t i = 0; i < NDISGUISES; i++) {
		src_of(i, disguises[i].s.family, src, sizeof(src), false);
		size_t n = disguise(i, src, buf);
		uint64_t pass0 = fx_class_count(f, 0, CASTLE_PASS);
		uint64_t drop0 = fx_class_count(f, 0, CASTLE_DROP);

		if (fx_run_repeat(f, buf, n, SENT) != XDP_DROP)
			fail_msg("limited source passed as %s", disguises[i].name);
		if (fx_class_count(f, 0, CASTLE_PASS) - pass0 != BURST ||
		    fx_class_count(f, 0, CASTLE_DROP) - drop0 != SENT - BURST)
			fail_msg("%s: not charged to the limited class", disguises[i].name);
	}
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), BURST * NDISGUISES);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), (SENT - BURST) * NDISGUISES);
	assert_int_equal(fx_class_count(f, 1, CASTLE_PASS), 0);
	assert_int_equal(fx_tracked(f), NDISGUISES);
}

/* Disguises that cannot be parsed far enough: a first fragment too short for
 * the TCP header, an IPv6 chain longer than the gate walks, a cut header,
 * IPv4 AH in AH. A blocked source stays blocked; any other source is
 * malformed - never passed unlimited. */
#define NCUTS 5
#define CUT_V4(w) ((w) < 2 || (w) == 4)
static size_t cut_frame(int which, const char *src, uint8_t *buf)
{
	struct pkt_spec s = { .family = CUT_V4(which) ? 4 : 6, .src = src, .proto = 6,
			      .dport = 443 };
	struct pkt_layout lay;

	switch (which) {
	case 0: s.frag = PKT_FRAG_FIRST; break;
	case 1: s.ip_opts = 40; break;
	case 2: s.next_ext = 2; s.ext[0] = 0; s.ext[1] = 44; s.frag = PKT_FRAG_FIRST; break;
	case 3: s.next_ext = CASTLE_MAX_V6_EXT + 1;
		memset(s.ext, 60, sizeof(s.ext));
		break;
	case 4: s.next_ext = 2; s.ext[0] = s.ext[1] = 51; break;
	}
	size_t n = pkt_build_layout(&s, buf, PKT_MAX, &lay);
	if (which >= 3)
		return n;
	pkt_set_ip_end(buf, &lay, s.family, lay.l4 + 12);
	return lay.l4 + 12;
}

static void undecodable_disguise_is_blocked_or_malformed(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];

	policy(f);
	for (int w = 0; w < NCUTS; w++) {
		size_t n = cut_frame(w, CUT_V4(w) ? "198.18.66.9" : "2001:db8:bad::9", buf);
		assert_int_equal(fx_run_repeat(f, buf, n, SENT), XDP_DROP);
		n = cut_frame(w, CUT_V4(w) ? "198.18.3.9" : "2001:db8:3::9", buf);
		assert_int_equal(fx_run_repeat(f, buf, n, SENT), XDP_DROP);
	}
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), NCUTS * SENT);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_MALFORMED), NCUTS * SENT);
	assert_int_equal(fx_total(f), 2 * NCUTS * SENT);
}

/* With `malformed: pass` the undecodable disguises pass, but only within the
 * source's limit. */
static void undecodable_disguise_with_malformed_pass_still_limited(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];

	fx_begin(f);
	fx_flags(f, CASTLE_F_MALFORMED_PASS);
	fx_block(f, "198.18.66.0/24", 0);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_class(f, NULL, CASTLE_PROTO_TCP, "443", RATE, BURST);
	fx_commit(f);
	for (int w = 0; w < NCUTS; w++) {
		size_t n = cut_frame(w, CUT_V4(w) ? "198.18.66.9" : "2001:db8:bad::9", buf);
		assert_int_equal(fx_run_repeat(f, buf, n, SENT), XDP_DROP);
		char src[64];
		snprintf(src, sizeof(src), CUT_V4(w) ? "198.18.3.%d" : "2001:db8:3:%d::1", 10 + w);
		n = cut_frame(w, src, buf);
		assert_int_equal(fx_run_repeat(f, buf, n, SENT), XDP_DROP);
	}
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), NCUTS * SENT);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), NCUTS * BURST);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), NCUTS * (SENT - BURST));
	assert_int_equal(fx_class_count(f, 0, CASTLE_DROP), NCUTS * (SENT - BURST));
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(blocked_source_cannot_pass_in_disguise),
		T(limited_source_cannot_pass_in_disguise),
		T(undecodable_disguise_is_blocked_or_malformed),
		T(undecodable_disguise_with_malformed_pass_still_limited),
	};
#undef T
	return cmocka_run_group_tests_name("xdp_bypass", tests, NULL, NULL);
}
