// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_tc_xdp_agree.c - the two parsers against each other. The XDP gate
 * (parse.h) and the TLS gate (castle_tc.bpf.c) parse the same frames with
 * different code; XDP applies `malformed:` to every frame, the TLS gate only
 * where it is its business (docs/TLS.md, "Malformed frames"). The rule
 * checked here: on a port that is not protected, the TLS gate never calls
 * malformed (nor drops) a frame that XDP did not call malformed.
 *
 * Frames: TCP and UDP over IPv4 (with and without options, VLAN tagged) and
 * IPv6 (extension chains of 0 to 9 headers, first fragments), each cut at
 * every byte (IP length and frame both shortened) and with the IP length
 * cut but the frame keeping its bytes (Ethernet padding), and TCP with every
 * data offset 0..15.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>
#include <errno.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "fixture_tc.h"

#define PROTECTED 443
#define OTHER 80

struct both {
	struct fx x;
	struct ftc t;
	uint64_t frames, xdp_drops, tc_drops;
	uint64_t xdp_fine, tc_bad_l4_fine; /* coverage */
};

static int setup(void **state)
{
	static struct both b;

	memset(&b, 0, sizeof(b));
	fx_open(&b.x, 0);
	fx_begin(&b.x);
	fx_commit(&b.x);		/* no lists, no classes, malformed: drop */
	ftc_open(&b.t, 0, 0);
	ftc_begin(&b.t, "443", 0x0303, 0);
	ftc_commit(&b.t);
	*state = &b;
	return 0;
}

static int teardown(void **state)
{
	struct both *b = *state;

	fx_close(&b->x);
	ftc_close(&b->t);
	return 0;
}

static void hexdump(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", p[i], (i + 1) % 16 ? " " : "\n");
	fprintf(stderr, "\n");
}

/* The skb test run refuses frames too short for the L3 header their
 * ethertype announces (no real skb that short reaches TC with that protocol):
 * those return 0 and are skipped. */
static int tc_run(struct both *b, const uint8_t *fr, size_t len, size_t l3_min)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr, .data_size_in = (uint32_t)len);
	int err = bpf_prog_test_run_opts(b->t.prog_fd, &o);

	if (err == -EINVAL && len < l3_min)
		return 0;
	if (err)
		fail_msg("TC test run of a %zu-byte frame: %s", len, strerror(-err));
	return (int)o.retval;
}

/* One frame through both; dport is the port the frame was built for. With
 * no lists, no classes and `malformed: drop`, an XDP drop is a malformed
 * verdict, and a TC drop off the protected port can only be one (the
 * counters are checked against the verdicts at the end). */
static void check(struct both *b, const uint8_t *fr, size_t len, uint16_t dport, size_t l3_min,
		  const char *what)
{
	int tact = tc_run(b, fr, len, l3_min);
	int xact;

	if (!tact)
		return;
	xact = fx_run(&b->x, fr, len);
	b->frames++;
	assert_true(xact == 1 || xact == 2); /* XDP_DROP, XDP_PASS */
	assert_true(tact == FTC_PASS || tact == FTC_DROP);
	b->xdp_drops += xact == 1;
	b->tc_drops += tact == FTC_DROP;
	if (dport == PROTECTED || xact == 1)
		return;
	b->xdp_fine++;
	if (tact != FTC_PASS) {
		hexdump(fr, len);
		fail_msg("%s, %zu bytes, port %u: XDP passed it, TC dropped it", what, len, dport);
	}
}

/* Every cut of a frame: IP length and frame shortened to `end`, and the IP
 * length alone (the rest left as padding). */
static void cuts(struct both *b, const struct pkt_spec *s, const char *what)
{
	static uint8_t full[PKT_MAX], fr[PKT_MAX];
	struct pkt_layout lay;
	size_t n = pkt_build_layout(s, full, sizeof(full), &lay);

	size_t l3_min = lay.l3 + (s->family == 4 ? 20u : 40u);

	assert_true(n > 0);
	check(b, full, n, s->dport, l3_min, what);
	for (size_t end = 14; end < n; end++) {
		memcpy(fr, full, n);
		/* Frame cut: the IP length still says more (malformed L3). */
		check(b, fr, end, s->dport, l3_min, what);
		if (end < l3_min)
			continue;
		pkt_set_ip_end(fr, &lay, s->family, end);
		check(b, fr, end, s->dport, l3_min, what);	/* built that short */
		check(b, fr, n, s->dport, l3_min, what);	/* with padding after */
	}
	/* Every TCP data offset, the packet whole. */
	if (s->proto == 6 && lay.l4) {
		for (unsigned d = 0; d < 16; d++) {
			memcpy(fr, full, n);
			fr[lay.l4 + 12] = (uint8_t)(d << 4 | (fr[lay.l4 + 12] & 0x0f));
			check(b, fr, n, s->dport, l3_min, what);
			/* XDP fine, TC cannot find the payload: the case the
			 * parsers disagree on, passed as not the gate's business. */
			if (s->dport == OTHER && d >= 5 && lay.l4 + d * 4 > n)
				b->tc_bad_l4_fine++;
		}
	}
}

static const char payload[] = "GET / HTTP/1.1\r\nHost: x\r\n\r\n";

static void parsers_agree_off_the_protected_ports(void **state)
{
	struct both *b = *state;
	static const uint8_t chains[][PKT_MAX_EXT] = {
		{ 0 },				/* hop-by-hop */
		{ 0, 43, 60 },			/* hop-by-hop, routing, destination */
		{ 51, 60 },			/* AH, destination */
		{ 0, 60, 60, 60, 60, 60, 60, 60 },	/* the 8 we walk */
		{ 0, 60, 60, 60, 60, 60, 60, 60, 60 },	/* one too many */
	};
	static const int chain_len[] = { 1, 3, 2, 8, 9 };
	char what[64];

	for (int fam = 4; fam <= 6; fam += 2)
		for (int proto = 6; proto <= 17; proto += 11)
			for (int port = 0; port < 2; port++) {
				struct pkt_spec s = { .family = fam,
						      .src = fam == 4 ? "198.18.0.1" : "2001:db8::1",
						      .proto = (uint8_t)proto, .sport = 40000,
						      .dport = port ? PROTECTED : OTHER,
						      .payload = payload, .paylen = sizeof(payload) - 1 };

				snprintf(what, sizeof(what), "v%d proto %d", fam, proto);
				cuts(b, &s, what);
				if (fam == 4) {
					s.ip_opts = 8;
					snprintf(what, sizeof(what), "v4 options proto %d", proto);
					cuts(b, &s, what);
					s.next_ext = 1;
					s.ext[0] = 51;
					snprintf(what, sizeof(what), "v4 options AH proto %d", proto);
					cuts(b, &s, what);
					s.next_ext = 0;
					s.ip_opts = 0;
					s.nvlans = 2;
					s.vlan_tpid[0] = 0x88a8;
					snprintf(what, sizeof(what), "v4 QinQ proto %d", proto);
					cuts(b, &s, what);
					s.nvlans = 0;
					s.frag = PKT_FRAG_FIRST;
					snprintf(what, sizeof(what), "v4 first fragment proto %d", proto);
					cuts(b, &s, what);
					continue;
				}
				for (size_t c = 0; c < sizeof(chain_len) / sizeof(chain_len[0]); c++) {
					s.next_ext = chain_len[c];
					memcpy(s.ext, chains[c], sizeof(s.ext));
					snprintf(what, sizeof(what), "v6 %d ext proto %d", chain_len[c],
						 proto);
					cuts(b, &s, what);
				}
				s.next_ext = 2;
				s.ext[0] = 0;
				s.ext[1] = 44;
				s.frag = PKT_FRAG_FIRST;
				snprintf(what, sizeof(what), "v6 first fragment proto %d", proto);
				cuts(b, &s, what);
			}
	printf("# %llu frames, %llu on other ports that XDP did not call malformed, "
	       "%llu of them with a TCP data offset past the packet\n",
	       (unsigned long long)b->frames, (unsigned long long)b->xdp_fine,
	       (unsigned long long)b->tc_bad_l4_fine);
	/* Every frame counted once, every drop a malformed one. */
	assert_int_equal(fx_total(&b->x), b->frames);
	assert_int_equal(fx_count(&b->x, CASTLE_DROP, CASTLE_R_MALFORMED), b->xdp_drops);
	assert_int_equal(ftc_total(&b->t), b->frames);
	assert_int_equal(ftc_count(&b->t, CASTLE_DROP, CASTLE_R_MALFORMED) +
				 ftc_count(&b->t, CASTLE_DROP, CASTLE_R_TLS_NOT_TLS) +
				 ftc_count(&b->t, CASTLE_DROP, CASTLE_R_QUIC),
			 b->tc_drops);
	assert_true(b->xdp_fine > 100);
	assert_true(b->tc_bad_l4_fine > 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(parsers_agree_off_the_protected_ports, setup,
						teardown),
	};

	return cmocka_run_group_tests_name("tc_xdp_agree", tests, NULL, NULL);
}
