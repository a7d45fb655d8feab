// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_ratelimit.c - the rate-limit stage of the XDP gate: which class
 * applies (first match by source CIDR, protocol, destination ports), how
 * sources share buckets (aggregation prefix), burst and byte buckets, dry-run,
 * auto-ban into the manual/auto maps with a kernel-enforced TTL.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "ctl_maps.h"

#define MS 1000000ull
#define HUGE_RATE 1e9
#define HUGE_BURST 1000000

static struct pkt_spec pkt(int family, const char *src, uint8_t proto, uint16_t dport)
{
	return (struct pkt_spec){ .family = family, .src = src, .proto = proto, .sport = 1000,
				  .dport = dport, .icmp_type = 8 };
}

static uint64_t charged(struct fx *f, int slot)
{
	return fx_class_count(f, slot, CASTLE_PASS) + fx_class_count(f, slot, CASTLE_DROP);
}

static void burst_passes_exactly_from_full_bucket(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.0.1", 17, 53), b = pkt(6, "2001:db8::1", 6, 443);

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 10);
	fx_commit(f);
	assert_int_equal(fx_run_spec_repeat(f, &a, 50), XDP_DROP);
	assert_int_equal(fx_run_spec_repeat(f, &b, 7), XDP_PASS);
	assert_int_equal(fx_run_spec_repeat(f, &b, 4), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 20);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 41);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 20);
	assert_int_equal(fx_class_count(f, c, CASTLE_DROP), 41);
	assert_int_equal(fx_tracked(f), 2);
}

static void first_matching_class_applies(void **state)
{
	struct fx *f = *state;
	struct pkt_spec dns = pkt(4, "198.18.0.1", 17, 53), web = pkt(4, "198.18.0.1", 6, 80),
			other = pkt(4, "198.18.0.1", 17, 54), dns6 = pkt(6, "2001:db8::1", 17, 53);

	fx_begin(f);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_UDP, "53", HUGE_RATE, HUGE_BURST);
	int c1 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_commit(f);
	fx_run_spec_repeat(f, &dns, 5);
	fx_run_spec_repeat(f, &dns6, 2);
	fx_run_spec_repeat(f, &web, 3);
	fx_run_spec_repeat(f, &other, 4);
	assert_int_equal(fx_class_count(f, c0, CASTLE_PASS), 7);
	assert_int_equal(fx_class_count(f, c1, CASTLE_PASS), 7);
	assert_int_equal(fx_class_count(f, c0, CASTLE_DROP) + fx_class_count(f, c1, CASTLE_DROP), 0);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 14);
}

/* A class's limit is its own: the port-53 class exhausted does not touch the
 * "any" class behind it, and vice versa. */
static void first_matching_class_limit_is_its_own(void **state)
{
	struct fx *f = *state;
	struct pkt_spec dns = pkt(4, "198.18.0.1", 17, 53), web = pkt(4, "198.18.0.1", 6, 80);

	fx_begin(f);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_UDP, "53", 1, 3);
	int c1 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 5);
	fx_commit(f);
	fx_run_spec_repeat(f, &dns, 10);
	fx_run_spec_repeat(f, &web, 10);
	assert_int_equal(fx_class_count(f, c0, CASTLE_PASS), 3);
	assert_int_equal(fx_class_count(f, c0, CASTLE_DROP), 7);
	assert_int_equal(fx_class_count(f, c1, CASTLE_PASS), 5);
	assert_int_equal(fx_class_count(f, c1, CASTLE_DROP), 5);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 8);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 12);
}

static void class_matches_by_protocol(void **state)
{
	struct fx *f = *state;
	struct pkt_spec tcp = pkt(4, "198.18.0.1", 6, 80), udp = pkt(6, "2001:db8::1", 17, 80),
			icmp = pkt(4, "198.18.0.1", 1, 0), icmp6 = pkt(6, "2001:db8::1", 58, 0),
			gre = pkt(4, "198.18.0.1", 47, 0);

	fx_begin(f);
	int ct = fx_class(f, NULL, CASTLE_PROTO_TCP, NULL, HUGE_RATE, HUGE_BURST);
	int cu = fx_class(f, NULL, CASTLE_PROTO_UDP, NULL, HUGE_RATE, HUGE_BURST);
	int ci = fx_class(f, NULL, CASTLE_PROTO_ICMP, NULL, HUGE_RATE, HUGE_BURST);
	int ca = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_commit(f);
	fx_run_spec_repeat(f, &tcp, 1);
	fx_run_spec_repeat(f, &udp, 2);
	fx_run_spec_repeat(f, &icmp, 3);
	fx_run_spec_repeat(f, &icmp6, 4);
	fx_run_spec_repeat(f, &gre, 5);
	assert_int_equal(charged(f, ct), 1);
	assert_int_equal(charged(f, cu), 2);
	assert_int_equal(charged(f, ci), 7);
	assert_int_equal(charged(f, ca), 5);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 15);
}

static void class_matches_destination_port_ranges(void **state)
{
	struct fx *f = *state;
	const uint16_t in[] = { 53, 443, 9000, 9050, 9100 }, out[] = { 52, 54, 442, 8999, 9101, 0 };

	fx_begin(f);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_ANY, "53,443,9000-9100", HUGE_RATE, HUGE_BURST);
	int c1 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_commit(f);
	for (size_t i = 0; i < sizeof(in) / sizeof(in[0]); i++) {
		struct pkt_spec s = pkt(4, "198.18.0.1", i & 1 ? 6 : 17, in[i]);
		fx_run_spec(f, &s);
	}
	for (size_t i = 0; i < sizeof(out) / sizeof(out[0]); i++) {
		struct pkt_spec s = pkt(6, "2001:db8::1", i & 1 ? 6 : 17, out[i]);
		fx_run_spec(f, &s);
	}
	/* ICMP has no ports: it never matches a class with port ranges */
	struct pkt_spec ping = pkt(4, "198.18.0.1", 1, 0);
	fx_run_spec(f, &ping);
	assert_int_equal(charged(f, c0), 5);
	assert_int_equal(charged(f, c1), 7);
}

static void class_matches_source_cidr(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.1.9", 17, 53), b = pkt(4, "198.18.2.9", 17, 53),
			c = pkt(6, "2001:db8:1::5", 17, 53), d = pkt(6, "2001:db8:2::5", 17, 53);

	fx_begin(f);
	int c0 = fx_class(f, "198.18.1.0/24", CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	int c1 = fx_class(f, "2001:db8:1::/48", CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	int c2 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 2);
	fx_run_spec_repeat(f, &b, 3);
	fx_run_spec_repeat(f, &c, 4);
	fx_run_spec_repeat(f, &d, 5);
	assert_int_equal(charged(f, c0), 2);
	assert_int_equal(charged(f, c1), 4);
	assert_int_equal(charged(f, c2), 8);
}

static void sources_in_one_aggregation_prefix_share_a_bucket(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.1", 17, 53), b = pkt(4, "198.18.7.200", 17, 53),
			c = pkt(4, "198.18.8.1", 17, 53), d = pkt(6, "2001:db8:1:2::1", 17, 53),
			e = pkt(6, "2001:db8:1:2:ffff::9", 17, 53), g = pkt(6, "2001:db8:1:3::1", 17, 53);

	fx_begin(f);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 4);
	fx_class_per(f, c0, 24, 64); /* v6: the default /64 */
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 3);
	fx_run_spec_repeat(f, &b, 3);	/* 1 token left in 198.18.7.0/24 */
	fx_run_spec_repeat(f, &c, 4);	/* another /24, full bucket */
	fx_run_spec_repeat(f, &d, 3);
	fx_run_spec_repeat(f, &e, 3);	/* same /64 */
	fx_run_spec_repeat(f, &g, 4);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 4 + 4 + 4 + 4);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2 + 2);
	assert_int_equal(fx_tracked(f), 4);
}

/* Prefixes that end inside a byte (the key is masked a 64-bit word at a time). */
static void aggregation_prefixes_not_on_a_byte_boundary(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.16.1", 17, 53), b = pkt(4, "198.18.31.255", 17, 53),
			c = pkt(4, "198.18.32.1", 17, 53), d = pkt(6, "2001:db8::1000:1", 17, 53),
			e = pkt(6, "2001:db8::1fff:ffff", 17, 53), g = pkt(6, "2001:db8::2000:1", 17, 53);

	fx_begin(f);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 4);
	fx_class_per(f, c0, 20, 100);
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 3);
	fx_run_spec_repeat(f, &b, 3);	/* same /20: 1 token left, 2 dropped */
	fx_run_spec_repeat(f, &c, 4);	/* the next /20 */
	fx_run_spec_repeat(f, &d, 3);
	fx_run_spec_repeat(f, &e, 3);	/* same /100 */
	fx_run_spec_repeat(f, &g, 4);	/* the next /100 */
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 4 + 4 + 4 + 4);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2 + 2);
	assert_int_equal(fx_tracked(f), 4);

	/* /0: every source of a family in one bucket */
	fx_begin(f);
	c0 = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 2);
	fx_class_per(f, c0, 0, 0);
	fx_commit(f);
	fx_run_spec(f, &a);
	fx_run_spec(f, &c);
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	fx_run_spec(f, &d);
	fx_run_spec(f, &g);
	assert_int_equal(fx_run_spec(f, &e), XDP_DROP);
}

static void sources_default_to_own_bucket_per_address_v4(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.1", 17, 53), b = pkt(4, "198.18.7.2", 17, 53);

	fx_begin(f);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 4);
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 5);
	fx_run_spec_repeat(f, &b, 5);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 8);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2);
	assert_int_equal(fx_tracked(f), 2);
}

static void dry_run_limit_passes_counted_with_reason_and_bans_nothing(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.0.1", 17, 53);
	struct castle_entry e;

	fx_begin(f);
	fx_flags(f, CASTLE_F_DRY_RUN);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 2);
	fx_class_ban(f, c, 3, 10000 * MS);
	fx_commit(f);
	assert_int_equal(fx_run_spec_repeat(f, &a, 20), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_RATELIMIT), 18);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 0);
	assert_int_equal(fx_class_count(f, c, CASTLE_DROP), 0);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 20);
	assert_false(fx_block_entry(f, "198.18.0.1", &e));
	assert_false(fx_manual_has(f, "198.18.0.1"));
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_AUTOBAN), 0);
}

/* A frame of exactly `len` bytes: UDP with padding payload. */
static size_t frame_of(uint8_t *buf, size_t len, const char *src)
{
	static const uint8_t zeros[PKT_MAX];
	struct pkt_spec s = pkt(4, src, 17, 53);

	s.payload = zeros;
	s.paylen = len - 42;
	size_t n = pkt_build(&s, buf, PKT_MAX);
	assert_int_equal(n, len);
	return n;
}

static void byte_bucket_admits_byte_burst_from_full(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];
	size_t n = frame_of(buf, 100, "198.18.0.1");

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_class_bytes(f, c, 1e4, 10000); /* 10 kB/s (a frame per 10 ms), 10000 bytes at once */
	fx_commit(f);
	fx_run_repeat(f, buf, n, 300);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 100);
	assert_int_equal(fx_bytes(f, CASTLE_PASS, CASTLE_R_OK), 10000);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 200);
	assert_int_equal(fx_class_bytes_count(f, c, CASTLE_PASS), 10000);
	/* a frame larger than the byte burst never fits */
	size_t big = frame_of(buf, 1000, "198.18.0.2");
	fx_begin(f);
	c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_class_bytes(f, c, 1e6, 999);
	fx_commit(f);
	assert_int_equal(fx_run(f, buf, big), XDP_DROP);
	/* counted as a rate-limit drop of its full length (counters carry on
	 * from the first policy: 200 drops of 100 bytes) */
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 201);
	assert_int_equal(fx_bytes(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 200 * 100 + 1000);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 100);
}

/* When the byte bucket refuses a packet, its packet token is given back. */
static void byte_refusal_gives_packet_token_back(void **state)
{
	struct fx *f = *state;
	uint8_t buf[PKT_MAX];
	size_t n = frame_of(buf, 100, "198.18.0.1");

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 5);
	fx_class_bytes(f, c, 1e6, 300);
	fx_commit(f);
	fx_run_repeat(f, buf, n, 10);	/* 3 fit the byte burst */
	usleep(2000);			/* 300 bytes refill in 0.3 ms */
	fx_run_repeat(f, buf, n, 10);	/* 2 packet tokens left */
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 15);
}

static void autoban_after_n_drops_exact_source(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.7", 17, 53), b = pkt(4, "198.18.7.8", 6, 80);
	struct castle_entry e;

	fx_begin(f);
	fx_class(f, NULL, CASTLE_PROTO_UDP, "53", HUGE_RATE, HUGE_BURST);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 10, 1); /* a token per 100 ms */
	fx_class_ban(f, c, 3, 300 * MS);
	fx_commit(f);

	struct pkt_spec t = pkt(4, "198.18.7.7", 6, 80);
	uint64_t t0 = castle_now_boot_ns();
	assert_int_equal(fx_run_spec(f, &t), XDP_PASS);
	assert_int_equal(fx_run_spec_repeat(f, &t, 3), XDP_DROP); /* 3 drops in a row */
	assert_true(fx_block_entry(f, "198.18.7.7", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_AUTO);
	assert_int_equal(e.class_slot, c);
	assert_int_equal(e.expires_ns - e.created_ns, 300 * MS);
	assert_true(e.created_ns >= t0);
	/* counted, so the blocklist stage looks at the manual/auto map */
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 3);

	/* banned for everything, not only for the class that banned it */
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &t), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_AUTOBAN), 2);
	assert_int_equal(fx_run_spec(f, &b), XDP_PASS); /* the neighbour is not */

	usleep(500 * 1000); /* the ban, and the boot clock's lag (castle_boot_tick_ns) */
	assert_int_equal(fx_run_spec(f, &t), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_AUTOBAN), 2);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 3);
	assert_false(fx_block_entry(f, "198.18.7.7", &e));
}

static void autoban_of_aggregated_source_is_a_cidr(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.7", 17, 53), b = pkt(4, "198.18.7.99", 17, 53),
			d = pkt(6, "2001:db8:1:2::1", 17, 53), g = pkt(6, "2001:db8:1:2::2", 17, 53),
			h = pkt(6, "2001:db8:1:3::1", 17, 53);
	struct castle_entry e;

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 1);
	fx_class_per(f, c, 24, 64);
	fx_class_ban(f, c, 2, 10000 * MS);
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 3);
	assert_true(fx_block_entry(f, "198.18.7.0/24", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_AUTO);
	assert_false(fx_block_entry(f, "198.18.7.7", &e));
	assert_int_equal(fx_run_spec(f, &b), XDP_DROP);
	fx_run_spec_repeat(f, &d, 3);
	assert_true(fx_block_entry(f, "2001:db8:1:2::/64", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_AUTO);
	assert_int_equal(e.expires_ns - e.created_ns, 10000 * MS);
	assert_int_equal(fx_run_spec(f, &g), XDP_DROP);
	assert_int_equal(fx_run_spec(f, &h), XDP_PASS);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_NET4), 1);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_NET6), 1);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_AUTOBAN), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 4);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 3);
}

/* An operator's block of the source written between a packet's list check
 * and the ban that packet triggers stays the operator's: not turned into an
 * auto-ban that expires. The entry is written here without the count
 * castlectl adds first, so that the list check skips it as it would have
 * in that instant. An expired entry of the key is replaced by the ban. */
static void autoban_leaves_an_operators_block_written_meanwhile(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.20", 17, 53), b = pkt(4, "198.18.7.21", 17, 53);
	struct castle_block_val man = { .origin = CASTLE_ORIGIN_MANUAL,
					.class_slot = CASTLE_NO_CLASS };
	struct castle_cidr c;
	struct castle_entry e;

	fx_begin(f);
	int k = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1.0 / 3600, 1);
	fx_class_ban(f, k, 1, 3600ull * 1000 * MS);
	fx_commit(f);
	man.created_ns = castle_now_boot_ns();
	fx_cidr("198.18.7.20", &c);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &man, BPF_NOEXIST), 0);
	/* an expired ban of b, not reaped yet */
	struct castle_block_val old = { .origin = CASTLE_ORIGIN_AUTO, .class_slot = k,
					.created_ns = man.created_ns - 2000 * MS,
					.expires_ns = man.created_ns - 1000 * MS };
	fx_cidr("198.18.7.21", &c);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &old, BPF_NOEXIST), 0);

	assert_int_equal(fx_run_spec_repeat(f, &a, 2), XDP_DROP); /* pass, then the ban's drop */
	assert_int_equal(fx_run_spec_repeat(f, &b, 2), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2);
	assert_true(fx_block_entry(f, "198.18.7.20", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_MANUAL);
	assert_int_equal(e.expires_ns, 0);
	assert_true(fx_block_entry(f, "198.18.7.21", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_AUTO);
	assert_true(e.expires_ns > man.created_ns + 3000ull * 1000 * MS);
	/* neither ban added to the count: both keys were there (their writers
	 * count them) */
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
}

/* "N drops in a row": an admitted packet starts the count again. */
static void autoban_needs_drops_in_a_row(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.7.7", 17, 53);
	struct castle_entry e;

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 20, 1); /* a token per 50 ms */
	fx_class_ban(f, c, 3, 10000 * MS);
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 3);	/* pass, drop, drop */
	usleep(80 * 1000);
	fx_run_spec_repeat(f, &a, 3);	/* pass, drop, drop */
	assert_false(fx_block_entry(f, "198.18.7.7", &e));
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP); /* third in a row */
	assert_true(fx_block_entry(f, "198.18.7.7", &e));
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 5);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_AUTOBAN), 1);
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/*
 * A drop far over the limit is decided on jiffies (castle_rl_surely_over);
 * near the limit the bucket is exact. Here the bucket (1/s, burst 1) fell due
 * 100 us ago: it must admit, at whatever phase of the tick the packet comes (a
 * clock to a tick runs up to a tick behind and would see the TAT ahead); 40
 * tries 1.7 ms apart sample the phases of any HZ. The next packet, a second
 * early, is refused; so is one 5 ms early (a try where the machine took 5 ms
 * to get there is not counted).
 */
static void near_the_limit_the_bucket_is_exact(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.0.7", 17, 53);
	struct castle_rl_key k = { .family = 4, .addr = { 198, 18, 0, 7 } };
	uint64_t passed = 0, dropped = 0;
	int judged = 0;

	fx_begin(f);
	k.class_slot = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1, 1);
	fx_commit(f);
	for (int i = 0; i < 400 && judged < 40; i++) {
		uint64_t now = mono_ns();
		struct castle_rl_val v = { .tat = now - 100000, .last_ns = now, .first_ns = now,
					   .pkts = 1 };

		assert_int_equal(bpf_map_update_elem(f->maps.rl_state, &k, &v, BPF_ANY), 0);
		assert_int_equal(fx_run_spec(f, &a), XDP_PASS);
		assert_int_equal(fx_run_spec(f, &a), XDP_DROP);
		passed++;
		dropped++;
		v.tat = mono_ns() + 5 * MS;
		assert_int_equal(bpf_map_update_elem(f->maps.rl_state, &k, &v, BPF_ANY), 0);
		int verdict = fx_run_spec(f, &a);

		if (mono_ns() < v.tat) {
			assert_int_equal(verdict, XDP_DROP);
			judged++;
		}
		if (verdict == XDP_DROP)
			dropped++;
		else
			passed++;
		usleep(1700); /* another phase of the tick */
	}
	assert_int_equal(judged, 40);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), passed);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), dropped);
}

/* `malformed: pass` passes cut transport headers, but still charges them to
 * the source's limit: truncating is no way past a limit. */
static void malformed_pass_still_rate_limited(void **state)
{
	struct fx *f = *state;
	struct pkt_spec s = pkt(4, "198.18.0.1", 6, 443), s6 = pkt(6, "2001:db8::1", 17, 53);
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];

	s6.next_ext = 2;
	s6.ext[0] = 0;
	s6.ext[1] = 60;
	fx_begin(f);
	fx_flags(f, CASTLE_F_MALFORMED_PASS);
	int c0 = fx_class(f, NULL, CASTLE_PROTO_TCP, "443", 1, 2);
	int c1 = fx_class(f, NULL, CASTLE_PROTO_UDP, "53", 1, 3);
	fx_commit(f);

	pkt_build_layout(&s, buf, sizeof(buf), &lay);
	pkt_set_ip_end(buf, &lay, 4, lay.l4 + 10); /* TCP cut in half */
	assert_int_equal(fx_run_repeat(f, buf, lay.l4 + 10, 10), XDP_DROP);
	assert_int_equal(fx_class_count(f, c0, CASTLE_PASS), 2);
	assert_int_equal(fx_class_count(f, c0, CASTLE_DROP), 8);

	/* IPv6 cut inside the extension chain: protocol unknown too */
	pkt_build_layout(&s6, buf, sizeof(buf), &lay);
	pkt_set_ip_end(buf, &lay, 6, lay.ext[1] + 1);
	assert_int_equal(fx_run_repeat(f, buf, lay.ext[1] + 1, 10), XDP_DROP);
	assert_int_equal(fx_class_count(f, c0, CASTLE_PASS), 4); /* its own bucket */
	assert_int_equal(fx_class_count(f, c0, CASTLE_DROP), 16);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_MALFORMED), 4);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 16);
	assert_int_equal(charged(f, c1), 0);
}

/* A reload that puts a generous class where a strict one was: the source's
 * bucket, hours ahead under the old class, is cut to an empty bucket of the
 * new one and refills at its rate (before, the old debt locked the source
 * out for hours). A reload that keeps the class refills nothing. Bytes
 * likewise. */
static void reload_cuts_a_bucket_of_other_settings(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = pkt(4, "198.18.0.1", 17, 9000);
	uint8_t buf[PKT_MAX];
	size_t big = frame_of(buf, 1000, "198.18.0.2");

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1.0 / 3600, 2); /* 1/h, burst 2 */
	fx_commit(f);
	fx_run_spec_repeat(f, &a, 4);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 2);

	fx_begin(f); /* the same class again: no fresh burst */
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 1.0 / 3600, 2);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP);

	fx_begin(f); /* 10/s, burst 10, in the same slot */
	c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 10, 10);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &a), XDP_DROP); /* cut to empty ... */
	/* ... not refilled: a full bucket would pass these. A token takes
	 * 100 ms: a test run with repeat > 1 swaps the kernel's XDP dispatcher
	 * in and out first, ~15 ms on some kernels (at 1 ms a token, one
	 * refilled before the first of these ran). */
	assert_int_equal(fx_run_spec_repeat(f, &a, 3), XDP_DROP);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 2);
	usleep(350000); /* >= 3 tokens at 10/s */
	assert_int_equal(fx_run_spec_repeat(f, &a, 3), XDP_PASS);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_OK), 5);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 7);
	assert_int_equal(fx_class_count(f, c, CASTLE_PASS), 5);

	/* bytes: 10 B/s drained by a 1000-byte frame, then 10 kB/s */
	fx_begin(f);
	c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_class_bytes(f, c, 10, 1000);
	fx_commit(f);
	assert_int_equal(fx_run(f, buf, big), XDP_PASS);
	assert_int_equal(fx_run(f, buf, big), XDP_DROP); /* 100 s of debt */
	fx_begin(f);
	c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	fx_class_bytes(f, c, 1e4, 2000);
	fx_commit(f);
	assert_int_equal(fx_run(f, buf, big), XDP_DROP); /* cut to empty */
	assert_int_equal(fx_run(f, buf, big), XDP_DROP); /* not refilled (100 ms a frame) */
	usleep(300000); /* 3000 bytes at 10 kB/s, capped at the 2000 burst */
	assert_int_equal(fx_run(f, buf, big), XDP_PASS);
	assert_int_equal(fx_run(f, buf, big), XDP_PASS);
	assert_int_equal(fx_run(f, buf, big), XDP_DROP);
}

static int rl_slots_seen(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	uint32_t *seen = arg;

	(void)v;
	*seen |= 1u << (k->class_slot & 31);
	return 0;
}

/* A class counts, keeps its buckets and bans under the slot castle_apply
 * gave its name (class_slots), not under its place in the policy: a reload
 * that inserts a class ahead of it moves nothing. Here class 0 is in slot 5
 * and class 1 in slot 2; then the policy puts a new class first and keeps
 * those slots. */
static void class_counts_and_buckets_follow_its_slot(void **state)
{
	struct fx *f = *state;
	struct pkt_spec dns = pkt(4, "198.18.9.1", 17, 53), web = pkt(4, "198.18.9.2", 6, 80),
			ban = pkt(4, "198.18.9.3", 17, 53);
	struct castle_entry e;
	uint32_t seen = 0;

	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_UDP, "53", 1.0 / 3600, 2);
	fx_class_ban(f, c, 3, 3600ull * 1000 * MS);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	for (uint32_t i = 0; i < CASTLE_MAX_CLASSES; i++)
		f->gen.slots.slot_xor[i] = (uint8_t)(i ^ (i == 0 ? 5 : i == 1 ? 2 : i == 2 ? 0
						       : i == 5 ? 1 : i));
	f->gen.slots_set = true;
	fx_commit(f);
	assert_int_equal(fx_run_spec_repeat(f, &dns, 3), XDP_DROP); /* 2 pass, 1 drop */
	assert_int_equal(fx_run_spec(f, &web), XDP_PASS);
	assert_int_equal(fx_class_count(f, 5, CASTLE_PASS), 2);
	assert_int_equal(fx_class_count(f, 5, CASTLE_DROP), 1);
	assert_int_equal(fx_class_count(f, 2, CASTLE_PASS), 1);
	assert_int_equal(charged(f, 0) + charged(f, 1), 0);
	assert_int_equal(castle_rl_foreach(&f->maps, rl_slots_seen, &seen), 0);
	assert_int_equal(seen, (1u << 5) | (1u << 2));
	/* an auto-ban names the slot */
	assert_int_equal(fx_run_spec_repeat(f, &ban, 5), XDP_DROP);
	assert_true(fx_block_entry(f, "198.18.9.3", &e));
	assert_int_equal(e.class_slot, 5);
	assert_int_equal(fx_class_count(f, 5, CASTLE_DROP), 4);

	/* a new class first; the two keep their slots: dns's bucket is still
	 * empty (an hour a token), and its counts go on */
	fx_begin(f);
	fx_class(f, NULL, CASTLE_PROTO_TCP, "8443", HUGE_RATE, HUGE_BURST);
	c = fx_class(f, NULL, CASTLE_PROTO_UDP, "53", 1.0 / 3600, 2);
	fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, HUGE_RATE, HUGE_BURST);
	for (uint32_t i = 0; i < CASTLE_MAX_CLASSES; i++)
		f->gen.slots.slot_xor[i] = (uint8_t)(i ^ (i == 0 ? 7 : i == 1 ? 5 : i == 2 ? 2
						       : i == 5 ? 1 : i == 7 ? 0 : i));
	f->gen.slots_set = true;
	fx_commit(f);
	assert_int_equal(c, 1);
	assert_int_equal(fx_run_spec(f, &dns), XDP_DROP);
	assert_int_equal(fx_class_count(f, 5, CASTLE_DROP), 5); /* 1 + 3 for the ban + 1 */
	assert_int_equal(fx_run_spec(f, &web), XDP_PASS);
	assert_int_equal(fx_class_count(f, 2, CASTLE_PASS), 2);
	assert_int_equal(charged(f, 0) + charged(f, 1) + charged(f, 7), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(burst_passes_exactly_from_full_bucket),
		T(class_counts_and_buckets_follow_its_slot),
		T(first_matching_class_applies),
		T(first_matching_class_limit_is_its_own),
		T(class_matches_by_protocol),
		T(class_matches_destination_port_ranges),
		T(class_matches_source_cidr),
		T(sources_in_one_aggregation_prefix_share_a_bucket),
		T(aggregation_prefixes_not_on_a_byte_boundary),
		T(sources_default_to_own_bucket_per_address_v4),
		T(dry_run_limit_passes_counted_with_reason_and_bans_nothing),
		T(byte_bucket_admits_byte_burst_from_full),
		T(byte_refusal_gives_packet_token_back),
		T(autoban_after_n_drops_exact_source),
		T(autoban_of_aggregated_source_is_a_cidr),
		T(autoban_needs_drops_in_a_row),
		T(autoban_leaves_an_operators_block_written_meanwhile),
		T(malformed_pass_still_rate_limited),
		T(near_the_limit_the_bucket_is_exact),
		T(reload_cuts_a_bucket_of_other_settings),
	};
#undef T
	return cmocka_run_group_tests_name("xdp_ratelimit", tests, NULL, NULL);
}
