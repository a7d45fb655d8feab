// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_fuzz_xdp.c - packet fuzzing of the XDP gate. A million random and
 * mutated frames (mutations of a corpus of valid frames: v4/v6 TCP/UDP/ICMP,
 * VLAN, QinQ, IPv4 options, IPv6 extension chains, fragments, TLS and HTTP
 * payloads, ND, non-IP) go through BPF_PROG_TEST_RUN with a policy loaded, and
 * every verdict must equal the one of an independent user-space model
 * (helpers/xdp_model.c, written from the README rules). Counters must add up:
 * per reason, per class, and in total.
 *
 * A second pass sends TCP connections (SYN, ACK, ClientHello / plaintext, some
 * of it mutated) and the same mutated corpus through the TC TLS gate: it must
 * load, answer only pass or drop, never drop non-IP frames or traffic to
 * unprotected ports, and count every packet once.
 *
 * Reproduce a run: CASTLE_FUZZ_SEED=<seed printed by the test>. Other knobs:
 * CASTLE_FUZZ_PACKETS (default 1000000, for each of the two programs),
 * CASTLE_FUZZ_STRICT=1 (check the reason counters after every packet instead
 * of every window, slower).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "fixture_tc.h"
#include "xdp_model.h"

#define FRAME_MAX 1600
#define WINDOW 1024		/* packets between two counter checks */
#define RL_ENTRIES (1u << 18)	/* rate-limit LRU: far more than the run creates */

/* ---- PRNG (splitmix64: seedable, tiny, good enough) --------------------- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	uint64_t z = (rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

static uint32_t below(uint32_t n)
{
	return n ? (uint32_t)(rnd() % n) : 0;
}

static uint64_t env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* ---- the policy, applied to the kernel and to the model alike ---------- */

struct ctx {
	struct fx f;
	struct xm m;
};

static void both_allow(struct ctx *c, const char *cidr, bool manual)
{
	struct castle_cidr cc;

	fx_cidr(cidr, &cc);
	if (manual)
		fx_manual_allow(&c->f, cidr);
	else
		fx_allow(&c->f, cidr);
	xm_allow(&c->m, &cc, manual);
}

/* ttl 1 ns: already expired when the first packet arrives */
static void both_block(struct ctx *c, const char *cidr, bool manual, bool expired)
{
	struct castle_cidr cc;

	fx_cidr(cidr, &cc);
	if (manual)
		fx_manual_block(&c->f, cidr, expired ? 1 : 0);
	else
		fx_block(&c->f, cidr, expired ? 1 : 0);
	xm_block(&c->m, &cc, manual, expired);
}

static void both_class(struct ctx *c, const char *src, uint8_t proto, const char *ports,
		       enum xm_rl_kind kind, uint32_t ban_after, uint8_t plen4, uint8_t plen6)
{
	struct xm_class xc = { .any_src = !src, .proto = proto, .kind = kind,
			       .ban_after = ban_after, .plen4 = plen4, .plen6 = plen6 };
	/* ONCE: 1/h with a burst of 1; UNLIMITED: 1e9/s with a burst of 1e6. */
	double rate = kind == XM_RL_ONCE ? 1.0 / 3600 : 1e9;
	uint32_t burst = kind == XM_RL_ONCE ? 1 : 1000000;
	int slot = fx_class(&c->f, src, proto, ports, rate, burst);
	struct castle_class *k = &c->f.pol.classes[slot];

	k->plen4 = plen4;
	k->plen6 = plen6;
	if (ban_after) {
		k->ban_after = ban_after;
		k->ban_for_ns = 3600ull * 1000000000ull;
	}
	if (src)
		fx_cidr(src, &xc.src);
	xc.nports = k->nranges;
	memcpy(xc.ports, k->ports, sizeof(xc.ports));
	assert_int_equal(xm_add_class(&c->m, &xc), slot);
}

enum phase { PH_ENFORCE, PH_DRY_RUN, PH_MALFORMED_PASS, PH_ENFORCE_AGAIN, PH_MAX };
static const char *const phase_names[PH_MAX] = { "enforce", "dry-run", "malformed-pass",
						 "enforce-again" };

/* Manual entries: written once, like castlectl; reloads never touch them. */
static void apply_manual(struct ctx *c)
{
	both_allow(c, "198.18.11.0/24", true);
	both_allow(c, "2001:db8:11::/48", true);
	both_block(c, "203.0.113.9", true, false);
	both_block(c, "2001:db8:dead::/48", true, false);
	both_block(c, "203.0.114.0/24", true, true);
	both_block(c, "2001:db8:dead:beef::7", true, true);
	/* A live CIDR with an expired longer prefix inside it (same map). */
	both_block(c, "100.64.0.0/10", true, false);
	both_block(c, "100.64.1.0/24", true, true);
}

static void apply_policy(struct ctx *c, enum phase ph)
{
	fx_begin(&c->f);
	xm_policy_reset(&c->m);

	both_allow(c, "198.18.10.0/24", false);
	both_allow(c, "2001:db8:10::/48", false);
	both_allow(c, "198.18.66.10", false);
	both_block(c, "198.18.66.0/24", false, false);
	both_block(c, "198.18.77.7", false, false);
	both_block(c, "198.18.10.5", false, false);	/* allowlisted too: allow wins */
	both_block(c, "2001:db8:bad::/48", false, false);
	both_block(c, "2001:db8:77::7", false, false);
	both_block(c, "198.18.88.0/24", false, true);
	both_block(c, "198.18.99.9", false, true);
	both_block(c, "2001:db8:88::/48", false, true);
	/* Policy twin of the manual shadowing case. */
	both_block(c, "198.18.200.0/21", false, false);
	both_block(c, "198.18.201.0/24", false, true);
	both_block(c, "2001:db8:200::/40", false, false);
	both_block(c, "2001:db8:201::/48", false, true);

	both_class(c, "198.18.50.0/24", CASTLE_PROTO_UDP, "53,5000-5100", XM_RL_ONCE, 3, 32, 64);
	both_class(c, "2001:db8:50::/48", CASTLE_PROTO_ANY, NULL, XM_RL_ONCE, 4, 32, 64);
	both_class(c, NULL, CASTLE_PROTO_TCP, "80,443,8443,9000-9100", XM_RL_UNLIMITED, 0, 32, 64);
	both_class(c, NULL, CASTLE_PROTO_ICMP, NULL, XM_RL_UNLIMITED, 0, 32, 64);
	both_class(c, "198.18.51.0/24", CASTLE_PROTO_ANY, "1-1024", XM_RL_ONCE, 0, 24, 64);
	both_class(c, NULL, CASTLE_PROTO_ANY, NULL, XM_RL_UNLIMITED, 0, 32, 64);

	c->m.dry_run = ph == PH_DRY_RUN;
	c->m.malformed_pass = ph == PH_MALFORMED_PASS;
	if (c->m.dry_run)
		c->f.pol.flags |= CASTLE_F_DRY_RUN;
	if (c->m.malformed_pass)
		c->f.pol.flags |= CASTLE_F_MALFORMED_PASS;
	fx_commit(&c->f);
}

/* ---- corpus of valid frames --------------------------------------------- */

static const char *const src4[] = {
	"198.18.0.1",	 "198.18.66.5",	 "198.18.66.10", "198.18.77.7", "198.18.10.5",
	"198.18.10.7",	 "198.18.11.3",	 "198.18.88.8",	 "198.18.99.9", "198.18.201.1",
	"198.18.202.2",	 "203.0.113.9",	 "203.0.114.1",	 "100.64.1.1",	"100.64.2.2",
	"198.18.50.7",	 "198.18.50.8",	 "198.18.51.9",	 "198.18.51.10",
};
static const char *const src6[] = {
	"2001:db8::1",	     "2001:db8:bad::5",	  "2001:db8:77::7",    "2001:db8:10::1",
	"2001:db8:11::1",    "2001:db8:dead::1",  "2001:db8:dead:beef::7", "2001:db8:88::8",
	"2001:db8:201::1",   "2001:db8:202::2",	  "2001:db8:50::1",    "2001:db8:50:1::1",
	"fe80::1",
};

#define NSRC4 (sizeof(src4) / sizeof(src4[0]))
#define NSRC6 (sizeof(src6) / sizeof(src6[0]))

struct frame {
	uint8_t b[FRAME_MAX];
	size_t len;
	size_t l3, l4;		/* header offsets (l4 0 if none) */
	int family;		/* 4, 6 or 0 (non-IP) */
};

static struct frame *corpus;
static size_t ncorpus, corpus_cap;

static void corpus_add(const struct pkt_spec *s, size_t pad_to)
{
	struct pkt_layout lay;
	struct frame *fr;

	if (ncorpus == corpus_cap) {
		corpus_cap = corpus_cap ? corpus_cap * 2 : 256;
		corpus = realloc(corpus, corpus_cap * sizeof(*corpus));
		assert_non_null(corpus);
	}
	fr = &corpus[ncorpus];
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build_layout(s, buf, sizeof(buf), &lay);
	assert_true(n > 0 && n <= FRAME_MAX);
	memset(fr->b, 0, sizeof(fr->b));
	memcpy(fr->b, buf, n);
	if (n < pad_to)
		n = pad_to; /* Ethernet padding after the IP packet */
	fr->len = n;
	fr->l3 = lay.l3;
	fr->l4 = lay.l4;
	fr->family = (s->ethertype && s->ethertype != 0x0800 && s->ethertype != 0x86dd) ? 0
											 : s->family;
	ncorpus++;
}

/* A TLS 1.3-style ClientHello record start (record header, handshake header,
 * version, random, session id, one cipher suite, SNI "example.com"). */
static const uint8_t client_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x45, 0x01, 0x00, 0x00, 0x41, 0x03, 0x03,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
	0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e,
	0x00, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
};
static const char http_get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";

static void build_corpus(void)
{
	for (size_t i = 0; i < NSRC4; i++) {
		const char *s = src4[i];
		struct pkt_spec t[] = {
			{ .family = 4, .src = s, .proto = 6, .sport = 40000, .dport = 443 },
			{ .family = 4, .src = s, .proto = 6, .sport = 40001, .dport = 443,
			  .payload = client_hello, .paylen = sizeof(client_hello) },
			{ .family = 4, .src = s, .proto = 6, .sport = 40002, .dport = 80,
			  .payload = http_get, .paylen = sizeof(http_get) - 1 },
			{ .family = 4, .src = s, .proto = 6, .sport = 40003, .dport = 22 },
			{ .family = 4, .src = s, .proto = 17, .sport = 1000, .dport = 53 },
			{ .family = 4, .src = s, .proto = 17, .sport = 1000, .dport = 5050 },
			{ .family = 4, .src = s, .proto = 17, .sport = 1000, .dport = 2000 },
			{ .family = 4, .src = s, .proto = 1, .icmp_type = 8 },
			{ .family = 4, .src = s, .proto = 47 },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .ip_opts = 4 },
			{ .family = 4, .src = s, .proto = 6, .dport = 443, .ip_opts = 40 },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .nvlans = 1 },
			{ .family = 4, .src = s, .proto = 6, .dport = 443, .nvlans = 2,
			  .vlan_tpid = { 0x88a8, 0x8100 } },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .nvlans = 3 },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .frag = PKT_FRAG_FIRST,
			  .payload = http_get, .paylen = 16 },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .frag = PKT_FRAG_LATER,
			  .payload = http_get, .paylen = 16 },
			{ .family = 4, .src = s, .proto = 6, .dport = 443, .frag = PKT_FRAG_LATER,
			  .payload = client_hello, .paylen = 24 },
		};
		for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++)
			corpus_add(&t[j], j == 4 ? 60 : 0);
	}
	for (size_t i = 0; i < NSRC6; i++) {
		const char *s = src6[i];
		struct pkt_spec t[] = {
			{ .family = 6, .src = s, .proto = 6, .sport = 40000, .dport = 443,
			  .payload = client_hello, .paylen = sizeof(client_hello) },
			{ .family = 6, .src = s, .proto = 6, .sport = 40000, .dport = 22 },
			{ .family = 6, .src = s, .proto = 17, .sport = 1000, .dport = 53 },
			{ .family = 6, .src = s, .proto = 58, .icmp_type = 128 },
			{ .family = 6, .src = s, .proto = 58, .icmp_type = 135 },
			{ .family = 6, .src = s, .proto = 58, .icmp_type = 136, .ttl = 64 },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 2,
			  .ext = { 0, 60 } },
			{ .family = 6, .src = s, .proto = 6, .dport = 443, .next_ext = 1,
			  .ext = { 43 } },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 1,
			  .ext = { 51 } },
			{ .family = 6, .src = s, .proto = 6, .dport = 443, .next_ext = 1,
			  .ext = { 44 }, .frag = PKT_FRAG_FIRST },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 2,
			  .ext = { 0, 44 }, .frag = PKT_FRAG_LATER, .payload = http_get,
			  .paylen = 16 },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 7,
			  .ext = { 0, 60, 43, 51, 60, 60, 60 } },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 8,
			  .ext = { 0, 60, 43, 51, 60, 60, 60, 60 } },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .nvlans = 1 },
			{ .family = 6, .src = s, .proto = 6, .dport = 443, .nvlans = 2,
			  .vlan_tpid = { 0x88a8, 0x8100 } },
			{ .family = 6, .src = s, .proto = 59 },
			{ .family = 6, .src = s, .proto = 50, .payload = http_get, .paylen = 16 },
		};
		for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++)
			corpus_add(&t[j], 0);
	}
	struct pkt_spec nonip[] = {
		{ .ethertype = 0x0806 },
		{ .ethertype = 0x88cc },
		{ .ethertype = 0x0040 },	/* 802.3 length field */
		{ .ethertype = 0x0806, .nvlans = 1 },
		{ .ethertype = 0x9100 },	/* not a VLAN TPID Linux knows */
	};
	for (size_t j = 0; j < sizeof(nonip) / sizeof(nonip[0]); j++)
		corpus_add(&nonip[j], 60);
}

/* ---- mutations ----------------------------------------------------------- */

static const uint8_t interesting8[] = { 0, 1, 4, 5, 6, 15, 17, 43, 44, 50, 51, 58, 59,
					60, 0x40, 0x45, 0x4f, 0x60, 0x7f, 0x80, 0x81,
					0x86, 0x88, 0xa8, 0xdd, 0xfe, 0xff };
static const uint16_t interesting16[] = { 0,	  1,	  14,	  19,	  20,	  40,
					  0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806, 0x2000,
					  0x1fff, 0x0001, 0x0008, 0xfff8, 0x7fff, 0xffff };

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void mut_field(struct frame *fr)
{
	/* offsets of interesting header fields relative to l3/l4 */
	static const struct { int base, off, width; } fields[] = {
		{ 0, 12, 2 },  { 0, 16, 2 },  { 0, 20, 2 },	/* ethertype / inner tags */
		{ 1, 0, 1 },   { 1, 2, 2 },   { 1, 4, 2 },  { 1, 6, 2 },  { 1, 6, 1 },
		{ 1, 7, 1 },   { 1, 9, 1 },   { 1, 20, 1 }, { 1, 40, 1 }, { 1, 41, 1 },
		{ 1, 42, 2 },  { 1, 48, 1 },  { 1, 49, 1 }, { 1, 56, 1 }, { 1, 57, 1 },
		{ 2, 0, 2 },   { 2, 2, 2 },   { 2, 12, 1 }, { 2, 0, 1 },
	};
	unsigned i = below(sizeof(fields) / sizeof(fields[0]));
	size_t off = fields[i].off;

	if (fields[i].base == 1)
		off += fr->l3;
	else if (fields[i].base == 2)
		off += fr->l4 ? fr->l4 : fr->l3 + 20;
	if (off + fields[i].width > fr->len)
		return;
	if (fields[i].width == 1) {
		uint8_t v = below(2) ? interesting8[below(sizeof(interesting8))] : (uint8_t)rnd();
		if (!below(4))
			v = fr->b[off] + (below(2) ? 1 : -1);
		fr->b[off] = v;
	} else {
		uint16_t v = below(2) ? interesting16[below(sizeof(interesting16) / 2)]
				      : (uint16_t)rnd();
		if (!below(4))
			v = (uint16_t)((fr->b[off] << 8 | fr->b[off + 1]) + (below(2) ? 1 : -1));
		put16(fr->b + off, v);
	}
}

/* Make the IP length field agree with the frame again after a resize, so
 * that resized frames are not all rejected at the first check. */
static void fix_len(struct frame *fr)
{
	size_t l3 = fr->l3;

	if (fr->family == 4 && fr->len >= l3 + 4)
		put16(fr->b + l3 + 2, (uint16_t)(fr->len - l3));
	else if (fr->family == 6 && fr->len >= l3 + 40)
		put16(fr->b + l3 + 4, (uint16_t)(fr->len - l3 - 40));
}

static void mut_source(struct frame *fr)
{
	if (fr->family == 4 && fr->len >= fr->l3 + 16) {
		struct castle_cidr c;
		fx_cidr(src4[below(NSRC4)], &c);
		memcpy(fr->b + fr->l3 + 12, c.addr, 4);
	} else if (fr->family == 6 && fr->len >= fr->l3 + 24) {
		struct castle_cidr c;
		fx_cidr(src6[below(NSRC6)], &c);
		memcpy(fr->b + fr->l3 + 8, c.addr, 16);
	}
}

static void mutate(struct frame *fr)
{
	int nops = 1 + below(4);

	for (int i = 0; i < nops; i++) {
		size_t hot = fr->l4 ? fr->l4 + 24 : fr->l3 + 64;
		if (hot > fr->len)
			hot = fr->len;
		switch (below(9)) {
		case 0: /* bit flip, mostly in the headers */
		case 1: {
			size_t off = below(4) ? below(hot) : below(fr->len);
			fr->b[off] ^= (uint8_t)(1u << below(8));
			break;
		}
		case 2: { /* byte set */
			size_t off = below(4) ? below(hot) : below(fr->len);
			fr->b[off] = below(2) ? interesting8[below(sizeof(interesting8))] : (uint8_t)rnd();
			break;
		}
		case 3: /* truncation */
			fr->len = 14 + below(fr->len - 14 + 1);
			if (below(2))
				fix_len(fr);
			break;
		case 4: { /* extension */
			size_t add = 1 + below(64);
			if (fr->len + add > FRAME_MAX)
				add = FRAME_MAX - fr->len;
			for (size_t k = 0; k < add; k++)
				fr->b[fr->len + k] = (uint8_t)rnd();
			fr->len += add;
			if (below(2))
				fix_len(fr);
			break;
		}
		case 5: /* header field randomisation */
		case 6:
			mut_field(fr);
			break;
		case 7: /* another (interesting) source in the same frame */
			mut_source(fr);
			break;
		default:
			fix_len(fr);
			break;
		}
	}
}

static void random_frame(struct frame *fr)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };

	fr->len = 14 + below(200);
	for (size_t i = 0; i < fr->len; i++)
		fr->b[i] = (uint8_t)rnd();
	if (below(4))
		put16(fr->b + 12, types[below(5)]);
	if (fr->b[12] == 0x08 && fr->b[13] == 0x00 && fr->len > 14)
		fr->b[14] = 0x40 | (fr->b[14] & 15);
	if (fr->b[12] == 0x86 && fr->b[13] == 0xdd && fr->len > 14)
		fr->b[14] = 0x60 | (fr->b[14] & 15);
	fr->l3 = 14;
	fr->l4 = 0;
	fr->family = fr->b[12] == 0x08 ? 4 : 6;
}

/* ---- running and checking ------------------------------------------------ */

static void hexdump(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", b[i], (i % 32 == 31 || i + 1 == n) ? "\n" : " ");
}

static void read_stats(struct fx *f, struct castle_stats *out)
{
	uint32_t ifs[CASTLE_MAX_IFACES];
	int n = castle_stats_ifaces(&f->maps, f->maps.xdp_stats, ifs, CASTLE_MAX_IFACES);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		struct castle_stats st;
		assert_int_equal(castle_stats_read(&f->maps, f->maps.xdp_stats, ifs[i], &st), 0);
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			for (int r = 0; r < CASTLE_REASON_SLOTS; r++) {
				out->c[v][r].packets += st.c[v][r].packets;
				out->c[v][r].bytes += st.c[v][r].bytes;
			}
	}
}

static const char *const reason_names[] = { CASTLE_REASONS };

struct tally {
	struct castle_stats st;				/* expected counters */
	uint64_t cls[CASTLE_MAX_CLASSES][CASTLE_VERDICT_MAX];
	uint64_t packets, bytes;
};

/* last: the packet just run, dumped on a mismatch (exact in strict mode) */
static void compare_counters(struct ctx *c, const struct tally *want, uint64_t seed, uint64_t idx,
			     const struct frame *last)
{
	struct castle_stats got;
	uint64_t total = 0, bytes = 0;

	read_stats(&c->f, &got);
	if (last && memcmp(&got, &want->st, sizeof(got))) {
		fprintf(stderr, "last frame (%zu bytes):\n", last->len);
		hexdump(last->b, last->len);
	}
	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_SLOTS; r++) {
			total += got.c[v][r].packets;
			bytes += got.c[v][r].bytes;
			if (got.c[v][r].packets != want->st.c[v][r].packets ||
			    got.c[v][r].bytes != want->st.c[v][r].bytes)
				fail_msg("seed %llu, by packet %llu: counter %s/%s is %llu packets "
					 "%llu bytes, model says %llu/%llu (rerun with "
					 "CASTLE_FUZZ_STRICT=1 to find the packet)",
					 (unsigned long long)seed, (unsigned long long)idx,
					 v ? "drop" : "pass",
					 r < CASTLE_REASON_MAX ? reason_names[r] : "?",
					 (unsigned long long)got.c[v][r].packets,
					 (unsigned long long)got.c[v][r].bytes,
					 (unsigned long long)want->st.c[v][r].packets,
					 (unsigned long long)want->st.c[v][r].bytes);
		}
	/* The invariant in its plainest form: every packet counted once. */
	assert_int_equal(total, want->packets);
	assert_int_equal(bytes, want->bytes);
	for (uint32_t s = 0; s < c->m.nclasses; s++)
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			if (fx_class_count(&c->f, s, v) != want->cls[s][v]) {
				if (last) {
					fprintf(stderr, "last frame (%zu bytes):\n", last->len);
					hexdump(last->b, last->len);
				}
				fail_msg("seed %llu: class %u %s count %llu, model %llu",
					 (unsigned long long)seed, s, v ? "drop" : "pass",
					 (unsigned long long)fx_class_count(&c->f, s, v),
					 (unsigned long long)want->cls[s][v]);
			}
}

/* Independent of the model's pipeline: in enforce mode a frame that carries
 * an IP ethertype (within two tags) and a blocked, non-allowlisted source
 * address never passes, whatever else is wrong with it; nor does a frame with
 * a third VLAN tag. ND (documented to always pass) is the one exception. */
static bool must_drop(const struct xm *m, const struct frame *fr, const struct xm_result *r)
{
	size_t off = 14;
	uint16_t type = (uint16_t)(fr->b[12] << 8 | fr->b[13]);
	int tags = 0;

	while (type == 0x8100 || type == 0x88a8) {
		if (tags == 2)
			return true;
		if (fr->len < off + 4)
			return true;
		type = (uint16_t)(fr->b[off + 2] << 8 | fr->b[off + 3]);
		off += 4;
		tags++;
	}
	if (r->reason == CASTLE_R_ND)
		return false;
	if (type == 0x0800 && fr->len >= off + 16)
		return xm_block_reason(m, 4, fr->b + off + 12) != CASTLE_R_OK &&
		       !xm_is_allowed(m, 4, fr->b + off + 12);
	if (type == 0x86dd && fr->len >= off + 24)
		return xm_block_reason(m, 6, fr->b + off + 8) != CASTLE_R_OK &&
		       !xm_is_allowed(m, 6, fr->b + off + 8);
	return false;
}

static int run_frame(struct fx *f, const struct frame *fr)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->b, .data_size_in = (uint32_t)fr->len);
	int err = bpf_prog_test_run_opts(f->prog_fd, &o);

	if (err)
		fail_msg("BPF_PROG_TEST_RUN of a %zu-byte frame: %s", fr->len, strerror(-err));
	return (int)o.retval;
}

static const char *const parse_names[] = { "ip", "non_ip", "bad_l3", "bad_l4" };

static void fuzz_packets_match_model(void **state)
{
	struct ctx *c = *state;
	uint64_t seed = env_u64("CASTLE_FUZZ_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	uint64_t npk = env_u64("CASTLE_FUZZ_PACKETS", 1000000);
	bool strict = env_u64("CASTLE_FUZZ_STRICT", 0) != 0;
	/* share of the packets per phase, in per mille */
	static const unsigned share[PH_MAX] = { 600, 150, 150, 100 };
	struct tally t;
	uint64_t seen[CASTLE_VERDICT_MAX][CASTLE_REASON_SLOTS] = { { 0 } };
	uint64_t must_drops = 0, idx = 0;
	struct timespec t0, t1;
	struct frame fr;

	printf("# seed %llu (CASTLE_FUZZ_SEED=%llu to reproduce), %llu packets\n",
	       (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)npk);
	fflush(stdout);
	rng_state = seed;
	memset(&t, 0, sizeof(t));
	build_corpus();
	apply_manual(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (int ph = 0; ph < PH_MAX; ph++) {
		uint64_t n = npk * share[ph] / 1000;
		if (ph == PH_MAX - 1)
			n = npk - idx;
		apply_policy(c, (enum phase)ph);
		for (uint64_t i = 0; i < n; i++, idx++) {
			struct xm_result r;
			unsigned pick = below(100);

			if (pick < 5) {
				random_frame(&fr);
			} else {
				fr = corpus[below((uint32_t)ncorpus)];
				if (pick >= 15)
					mutate(&fr);
			}
			int act = run_frame(&c->f, &fr);
			xm_judge(&c->m, fr.b, fr.len, &r);
			int want = r.verdict == CASTLE_DROP ? XDP_DROP : XDP_PASS;

			if (act != want) {
				fprintf(stderr, "frame (%zu bytes):\n", fr.len);
				hexdump(fr.b, fr.len);
				fail_msg("seed %llu, packet %llu (%s): XDP returned %s, the model "
					 "says %s (parse %s, reason %s, class %d)",
					 (unsigned long long)seed, (unsigned long long)idx,
					 phase_names[ph], act == XDP_DROP ? "DROP" : "PASS",
					 want == XDP_DROP ? "DROP" : "PASS", parse_names[r.parse],
					 reason_names[r.reason], r.slot);
			}
			if ((ph == PH_ENFORCE || ph == PH_ENFORCE_AGAIN) && must_drop(&c->m, &fr, &r)) {
				must_drops++;
				if (act != XDP_DROP) {
					hexdump(fr.b, fr.len);
					fail_msg("seed %llu, packet %llu: a blocked source (or a "
						 "third VLAN tag) passed", (unsigned long long)seed,
						 (unsigned long long)idx);
				}
			}
			t.st.c[r.verdict][r.reason].packets++;
			t.st.c[r.verdict][r.reason].bytes += fr.len;
			if (r.slot >= 0)
				t.cls[r.slot][r.class_drop ? CASTLE_DROP : CASTLE_PASS]++;
			t.packets++;
			t.bytes += fr.len;
			seen[r.verdict][r.reason]++;
			if (strict || (idx + 1) % WINDOW == 0)
				compare_counters(c, &t, seed, idx, &fr);
		}
	}
	compare_counters(c, &t, seed, idx, NULL);
	assert_int_equal(t.packets, npk);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# %llu packets in %.2fs (%.0f/s); %llu had to drop; %llu auto-bans; %llu rl keys\n",
	       (unsigned long long)npk, secs, (double)npk / secs, (unsigned long long)must_drops,
	       (unsigned long long)c->m.autobans, (unsigned long long)c->m.rl_keys);
	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			if (seen[v][r])
				printf("#   %-4s %-11s %llu\n", v ? "drop" : "pass", reason_names[r],
				       (unsigned long long)seen[v][r]);

	/* The run proves something only if every path was taken often. */
	if (npk >= 100000) {
		static const int drops[] = { CASTLE_R_BLOCKLIST, CASTLE_R_AUTOBAN, CASTLE_R_RATELIMIT,
					     CASTLE_R_MALFORMED };
		static const int passes[] = { CASTLE_R_OK, CASTLE_R_ALLOWLIST, CASTLE_R_NON_IP,
					      CASTLE_R_ND };
		for (size_t i = 0; i < 4; i++) {
			if (seen[CASTLE_DROP][drops[i]] < 100)
				fail_msg("only %llu drops for %s", (unsigned long long)seen[CASTLE_DROP][drops[i]],
					 reason_names[drops[i]]);
			if (seen[CASTLE_PASS][drops[i]] < 10)
				fail_msg("only %llu dry-run passes for %s",
					 (unsigned long long)seen[CASTLE_PASS][drops[i]], reason_names[drops[i]]);
			if (seen[CASTLE_PASS][passes[i]] < 100)
				fail_msg("only %llu passes for %s", (unsigned long long)seen[CASTLE_PASS][passes[i]],
					 reason_names[passes[i]]);
		}
		assert_true(must_drops > 1000);
	}
	/* No rate-limit state was evicted, or the model's ONCE classes would be
	 * wrong for reasons that are not bugs. */
	assert_true(c->m.rl_keys < RL_ENTRIES / 2);
}


/* ---- the TC TLS gate ------------------------------------------------------ */

static const uint16_t tls_ports[] = { 443, 8443 };

static void tc_flow_frame(struct frame *fr, const struct pkt_spec *s)
{
	struct pkt_layout lay;
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build_layout(s, buf, sizeof(buf), &lay);

	assert_true(n > 0 && n <= FRAME_MAX);
	memcpy(fr->b, buf, n);
	fr->len = n;
	fr->l3 = lay.l3;
	fr->l4 = lay.l4;
	fr->family = s->family;
}

#define TC_SKIPPED 0x7fff

static int tc_run(struct ftc *f, const struct frame *fr)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->b, .data_size_in = (uint32_t)fr->len);
	int err = bpf_prog_test_run_opts(f->prog_fd, &o);

	/* The skb test run refuses frames too short for the L3 header their
	 * ethertype announces (a real skb that short never reaches TC with that
	 * protocol); those are not the program's to judge. */
	if (err == -EINVAL && fr->len < 14 + 8 + 40)
		return TC_SKIPPED;
	if (err) {
		hexdump(fr->b, fr->len);
		fail_msg("TC BPF_PROG_TEST_RUN of a %zu-byte frame: %s", fr->len, strerror(-err));
	}
	return (int)o.retval;
}

static uint64_t tc_total_bytes(struct ftc *f)
{
	uint32_t ifs[CASTLE_MAX_IFACES];
	int n = castle_stats_ifaces(&f->maps, f->maps.tc_stats, ifs, CASTLE_MAX_IFACES);
	uint64_t b = 0;

	for (int i = 0; i < n; i++) {
		struct castle_stats st;
		assert_int_equal(castle_stats_read(&f->maps, f->maps.tc_stats, ifs[i], &st), 0);
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			for (int r = 0; r < CASTLE_REASON_MAX; r++)
				b += st.c[v][r].bytes;
	}
	return b;
}

/* What the TC gate must do whatever its state: pass non-IP frames, and IP
 * traffic it has no business with (not TCP/UDP, no ports, or a port that is
 * not protected), and allowlisted sources. Returns true when it must pass. */
static bool tc_must_pass(const struct frame *fr, const struct xm *m)
{
	struct xm_pkt p;
	enum xm_parse pr = xm_parse_frame(fr->b, fr->len, &p);

	if (pr == XM_NON_IP)
		return true;
	if (pr != XM_IP)
		return false;
	if ((p.proto != 6 && p.proto != 17) || !p.has_ports)
		return true;
	/* A TCP data offset past the end of the packet: XDP does not look, the
	 * TC gate calls it malformed (Linux would discard it too). */
	if (p.proto == 6 && p.l4_off + (size_t)(fr->b[p.l4_off + 12] >> 4) * 4 > p.ip_end)
		return false;
	if (p.dport != tls_ports[0] && p.dport != tls_ports[1])
		return true;
	return xm_is_allowed(m, p.family, p.saddr);
}

static void fuzz_tc_gate(void **state)
{
	struct ctx *c = *state;
	struct ftc f;
	struct xm allow;
	struct castle_cidr cc;
	uint64_t seed = env_u64("CASTLE_FUZZ_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	uint64_t npk = env_u64("CASTLE_FUZZ_PACKETS", 1000000);
	uint64_t ran = 0, bytes = 0, drops = 0, must = 0, skipped = 0;
	struct frame fr;

	(void)c;
	printf("# TC pass: seed %llu, %llu packets\n", (unsigned long long)seed,
	       (unsigned long long)npk);
	rng_state = seed ^ 0x7c;
	build_corpus();
	ftc_open(&f, 0, 0);
	ftc_begin(&f, "443,8443", 0x0303, 0);
	ftc_sni(&f, "example.com");
	ftc_allow(&f, "198.18.10.0/24");
	ftc_commit(&f);
	xm_init(&allow);
	fx_cidr("198.18.10.0/24", &cc);
	xm_allow(&allow, &cc, false);

	while (ran < npk) {
		struct frame flow[4];
		int nflow = 0;

		if (below(3)) {
			/* one connection: SYN, ACK, first payload (maybe cut in two) */
			bool v6 = below(3) == 0;
			const char *src = v6 ? src6[below(NSRC6)] : src4[below(NSRC4)];
			uint16_t dport = below(4) ? tls_ports[below(2)] : (uint16_t)(below(2) ? 80 : 22);
			uint32_t isn = (uint32_t)rnd();
			struct pkt_spec s = { .family = v6 ? 6 : 4, .src = src, .proto = 6,
					      .sport = (uint16_t)(1024 + below(60000)), .dport = dport,
					      .seq = isn, .tcp_flags = 0x02 };
			const void *pay = below(3) ? (const void *)client_hello : (const void *)http_get;
			size_t plen = pay == client_hello ? sizeof(client_hello) : sizeof(http_get) - 1;
			size_t cut = below(2) ? plen : 1 + below((uint32_t)plen - 1);

			tc_flow_frame(&flow[nflow++], &s);
			s.seq = isn + 1;
			s.tcp_flags = 0x10;
			tc_flow_frame(&flow[nflow++], &s);
			s.tcp_flags = 0x18;
			s.payload = pay;
			s.paylen = cut;
			tc_flow_frame(&flow[nflow++], &s);
			if (cut < plen) {
				s.seq = isn + 1 + (uint32_t)cut;
				s.payload = (const uint8_t *)pay + cut;
				s.paylen = plen - cut;
				tc_flow_frame(&flow[nflow++], &s);
			}
			for (int i = 0; i < nflow; i++)
				if (!below(5))
					mutate(&flow[i]);
		} else {
			flow[0] = corpus[below((uint32_t)ncorpus)];
			if (below(10))
				mutate(&flow[0]);
			nflow = 1;
		}
		for (int i = 0; i < nflow && ran < npk; i++) {
			fr = flow[i];
			int act = tc_run(&f, &fr);
			if (act == TC_SKIPPED) {
				skipped++;
				continue;
			}
			if (act != FTC_PASS && act != FTC_DROP) {
				hexdump(fr.b, fr.len);
				fail_msg("seed %llu, TC packet %llu: return value %d", (unsigned long long)seed,
					 (unsigned long long)ran, act);
			}
			if (tc_must_pass(&fr, &allow)) {
				must++;
				if (act != FTC_PASS) {
					hexdump(fr.b, fr.len);
					fail_msg("seed %llu, TC packet %llu: dropped a frame the TLS gate "
						 "has no business with", (unsigned long long)seed,
						 (unsigned long long)ran);
				}
			}
			drops += act == FTC_DROP;
			ran++;
			bytes += fr.len;
			if (ran % (16 * WINDOW) == 0)
				assert_int_equal(ftc_total(&f), ran);
		}
	}
	assert_int_equal(ftc_total(&f), ran);
	assert_int_equal(tc_total_bytes(&f), bytes);
	printf("# TC pass: %llu packets, %llu dropped, %llu had to pass, %llu too short to run\n",
	       (unsigned long long)ran, (unsigned long long)drops, (unsigned long long)must,
	       (unsigned long long)skipped);
	if (npk >= 10000)
		assert_true(drops > npk / 100 && must > npk / 10);
	xm_free(&allow);
	ftc_close(&f);
}

static int setup(void **state)
{
	static struct ctx c;

	fx_open(&c.f, RL_ENTRIES);
	xm_init(&c.m);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	fx_close(&c->f);
	xm_free(&c->m);
	free(corpus);
	corpus = NULL;
	ncorpus = corpus_cap = 0;
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fuzz_packets_match_model, setup, teardown),
		cmocka_unit_test_setup_teardown(fuzz_tc_gate, setup, teardown),
	};

	return cmocka_run_group_tests_name("fuzz_xdp", tests, NULL, NULL);
}
