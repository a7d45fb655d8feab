// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_frames.c - what the packet fuzzers (test_fuzz_xdp.c, test_fuzz_tc.c)
 * share: a seedable PRNG, a corpus of valid frames from a small population of
 * sources (the fuzz policies list some of them), and the mutations.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "fixture.h"
#include "fuzz_frames.h"

/* ---- PRNG (splitmix64: seedable, tiny, good enough) --------------------- */

uint64_t fz_rng_state;

uint64_t fz_rnd(void)
{
	uint64_t z = (fz_rng_state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint32_t fz_below(uint32_t n)
{
	return n ? (uint32_t)(fz_rnd() % n) : 0;
}

uint64_t fz_env_u64(const char *name, uint64_t def)
{
	const char *v = getenv(name);

	return v && *v ? strtoull(v, NULL, 0) : def;
}

/* ---- corpus of valid frames --------------------------------------------- */

const char *const fz_src4[] = {
	"198.18.0.1",	 "198.18.66.5",	 "198.18.66.10", "198.18.77.7", "198.18.10.5",
	"198.18.10.7",	 "198.18.11.3",	 "198.18.88.8",	 "198.18.99.9", "198.18.201.1",
	"198.18.202.2",	 "203.0.113.9",	 "203.0.114.1",	 "100.64.1.1",	"100.64.2.2",
	"198.18.50.7",	 "198.18.50.8",	 "198.18.51.9",	 "198.18.51.10",
};
const char *const fz_src6[] = {
	"2001:db8::1",	     "2001:db8:bad::5",	  "2001:db8:77::7",    "2001:db8:10::1",
	"2001:db8:11::1",    "2001:db8:dead::1",  "2001:db8:dead:beef::7", "2001:db8:88::8",
	"2001:db8:201::1",   "2001:db8:202::2",	  "2001:db8:50::1",    "2001:db8:50:1::1",
	"fe80::1",
};

const size_t fz_nsrc4 = sizeof(fz_src4) / sizeof(fz_src4[0]);
const size_t fz_nsrc6 = sizeof(fz_src6) / sizeof(fz_src6[0]);

struct fz_frame *fz_corpus;
size_t fz_ncorpus;
static size_t corpus_cap;

static void corpus_add(const struct pkt_spec *s, size_t pad_to)
{
	struct pkt_layout lay;
	struct fz_frame *fr;

	if (fz_ncorpus == corpus_cap) {
		corpus_cap = corpus_cap ? corpus_cap * 2 : 256;
		fz_corpus = realloc(fz_corpus, corpus_cap * sizeof(*fz_corpus));
		assert_non_null(fz_corpus);
	}
	fr = &fz_corpus[fz_ncorpus];
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build_layout(s, buf, sizeof(buf), &lay);
	assert_true(n > 0 && n <= FZ_FRAME_MAX);
	memset(fr->b, 0, sizeof(fr->b));
	memcpy(fr->b, buf, n);
	if (n < pad_to)
		n = pad_to; /* Ethernet padding after the IP packet */
	fr->len = n;
	fr->l3 = lay.l3;
	fr->l4 = lay.l4;
	fr->family = (s->ethertype && s->ethertype != 0x0800 && s->ethertype != 0x86dd) ? 0
											 : s->family;
	fz_ncorpus++;
}

/* A TLS 1.3-style ClientHello record start (record header, handshake header,
 * version, random, session id, one cipher suite, SNI "example.com"). */
const uint8_t fz_client_hello[] = {
	0x16, 0x03, 0x01, 0x00, 0x45, 0x01, 0x00, 0x00, 0x41, 0x03, 0x03,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
	0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77, 0x88, 0x99, 0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff, 0x00,
	0x00, 0x00, 0x02, 0x13, 0x01, 0x01, 0x00, 0x00, 0x14, 0x00, 0x00, 0x00, 0x10, 0x00, 0x0e,
	0x00, 0x00, 0x0b, 'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm',
};
const size_t fz_client_hello_len = sizeof(fz_client_hello);
const char fz_http_get[] = "GET / HTTP/1.1\r\nHost: example.com\r\n\r\n";
const size_t fz_http_get_len = sizeof(fz_http_get) - 1;

void fz_build_corpus(void)
{
	for (size_t i = 0; i < FZ_NSRC4; i++) {
		const char *s = fz_src4[i];
		struct pkt_spec t[] = {
			{ .family = 4, .src = s, .proto = 6, .sport = 40000, .dport = 443 },
			{ .family = 4, .src = s, .proto = 6, .sport = 40001, .dport = 443,
			  .payload = fz_client_hello, .paylen = fz_client_hello_len },
			{ .family = 4, .src = s, .proto = 6, .sport = 40002, .dport = 80,
			  .payload = fz_http_get, .paylen = fz_http_get_len },
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
			  .payload = fz_http_get, .paylen = 16 },
			{ .family = 4, .src = s, .proto = 17, .dport = 53, .frag = PKT_FRAG_LATER,
			  .payload = fz_http_get, .paylen = 16 },
			{ .family = 4, .src = s, .proto = 6, .dport = 443, .frag = PKT_FRAG_LATER,
			  .payload = fz_client_hello, .paylen = 24 },
		};
		for (size_t j = 0; j < sizeof(t) / sizeof(t[0]); j++)
			corpus_add(&t[j], j == 4 ? 60 : 0);
	}
	for (size_t i = 0; i < FZ_NSRC6; i++) {
		const char *s = fz_src6[i];
		struct pkt_spec t[] = {
			{ .family = 6, .src = s, .proto = 6, .sport = 40000, .dport = 443,
			  .payload = fz_client_hello, .paylen = fz_client_hello_len },
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
			  .ext = { 0, 44 }, .frag = PKT_FRAG_LATER, .payload = fz_http_get,
			  .paylen = 16 },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 7,
			  .ext = { 0, 60, 43, 51, 60, 60, 60 } },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .next_ext = 8,
			  .ext = { 0, 60, 43, 51, 60, 60, 60, 60 } },
			{ .family = 6, .src = s, .proto = 17, .dport = 53, .nvlans = 1 },
			{ .family = 6, .src = s, .proto = 6, .dport = 443, .nvlans = 2,
			  .vlan_tpid = { 0x88a8, 0x8100 } },
			{ .family = 6, .src = s, .proto = 59 },
			{ .family = 6, .src = s, .proto = 50, .payload = fz_http_get, .paylen = 16 },
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

static void mut_field(struct fz_frame *fr)
{
	/* offsets of interesting header fields relative to l3/l4 */
	static const struct { int base, off, width; } fields[] = {
		{ 0, 12, 2 },  { 0, 16, 2 },  { 0, 20, 2 },	/* ethertype / inner tags */
		{ 1, 0, 1 },   { 1, 2, 2 },   { 1, 4, 2 },  { 1, 6, 2 },  { 1, 6, 1 },
		{ 1, 7, 1 },   { 1, 9, 1 },   { 1, 20, 1 }, { 1, 40, 1 }, { 1, 41, 1 },
		{ 1, 42, 2 },  { 1, 48, 1 },  { 1, 49, 1 }, { 1, 56, 1 }, { 1, 57, 1 },
		{ 2, 0, 2 },   { 2, 2, 2 },   { 2, 12, 1 }, { 2, 0, 1 },
	};
	unsigned i = fz_below(sizeof(fields) / sizeof(fields[0]));
	size_t off = fields[i].off;

	if (fields[i].base == 1)
		off += fr->l3;
	else if (fields[i].base == 2)
		off += fr->l4 ? fr->l4 : fr->l3 + 20;
	if (off + fields[i].width > fr->len)
		return;
	if (fields[i].width == 1) {
		uint8_t v = fz_below(2) ? interesting8[fz_below(sizeof(interesting8))] : (uint8_t)fz_rnd();
		if (!fz_below(4))
			v = fr->b[off] + (fz_below(2) ? 1 : -1);
		fr->b[off] = v;
	} else {
		uint16_t v = fz_below(2) ? interesting16[fz_below(sizeof(interesting16) / 2)]
				      : (uint16_t)fz_rnd();
		if (!fz_below(4))
			v = (uint16_t)((fr->b[off] << 8 | fr->b[off + 1]) + (fz_below(2) ? 1 : -1));
		put16(fr->b + off, v);
	}
}

/* Make the IP length field agree with the frame again after a resize, so
 * that resized frames are not all rejected at the first check. */
static void fix_len(struct fz_frame *fr)
{
	size_t l3 = fr->l3;

	if (fr->family == 4 && fr->len >= l3 + 4)
		put16(fr->b + l3 + 2, (uint16_t)(fr->len - l3));
	else if (fr->family == 6 && fr->len >= l3 + 40)
		put16(fr->b + l3 + 4, (uint16_t)(fr->len - l3 - 40));
}

static void mut_source(struct fz_frame *fr)
{
	if (fr->family == 4 && fr->len >= fr->l3 + 16) {
		struct castle_cidr c;
		fx_cidr(fz_src4[fz_below(FZ_NSRC4)], &c);
		memcpy(fr->b + fr->l3 + 12, c.addr, 4);
	} else if (fr->family == 6 && fr->len >= fr->l3 + 24) {
		struct castle_cidr c;
		fx_cidr(fz_src6[fz_below(FZ_NSRC6)], &c);
		memcpy(fr->b + fr->l3 + 8, c.addr, 16);
	}
}

void fz_free_corpus(void)
{
	free(fz_corpus);
	fz_corpus = NULL;
	fz_ncorpus = corpus_cap = 0;
}

void fz_mutate(struct fz_frame *fr)
{
	int nops = 1 + fz_below(4);

	for (int i = 0; i < nops; i++) {
		size_t hot = fr->l4 ? fr->l4 + 24 : fr->l3 + 64;
		if (hot > fr->len)
			hot = fr->len;
		switch (fz_below(9)) {
		case 0: /* bit flip, mostly in the headers */
		case 1: {
			size_t off = fz_below(4) ? fz_below(hot) : fz_below(fr->len);
			fr->b[off] ^= (uint8_t)(1u << fz_below(8));
			break;
		}
		case 2: { /* byte set */
			size_t off = fz_below(4) ? fz_below(hot) : fz_below(fr->len);
			fr->b[off] = fz_below(2) ? interesting8[fz_below(sizeof(interesting8))] : (uint8_t)fz_rnd();
			break;
		}
		case 3: /* truncation */
			fr->len = 14 + fz_below(fr->len - 14 + 1);
			if (fz_below(2))
				fix_len(fr);
			break;
		case 4: { /* extension */
			size_t add = 1 + fz_below(64);
			if (fr->len + add > FZ_FRAME_MAX)
				add = FZ_FRAME_MAX - fr->len;
			for (size_t k = 0; k < add; k++)
				fr->b[fr->len + k] = (uint8_t)fz_rnd();
			fr->len += add;
			if (fz_below(2))
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

void fz_random_frame(struct fz_frame *fr)
{
	static const uint16_t types[] = { 0x0800, 0x86dd, 0x8100, 0x88a8, 0x0806 };

	fr->len = 14 + fz_below(200);
	for (size_t i = 0; i < fr->len; i++)
		fr->b[i] = (uint8_t)fz_rnd();
	if (fz_below(4))
		put16(fr->b + 12, types[fz_below(5)]);
	if (fr->b[12] == 0x08 && fr->b[13] == 0x00 && fr->len > 14)
		fr->b[14] = 0x40 | (fr->b[14] & 15);
	if (fr->b[12] == 0x86 && fr->b[13] == 0xdd && fr->len > 14)
		fr->b[14] = 0x60 | (fr->b[14] & 15);
	fr->l3 = 14;
	fr->l4 = 0;
	fr->family = fr->b[12] == 0x08 ? 4 : 6;
}

void fz_hexdump(const uint8_t *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		fprintf(stderr, "%02x%s", b[i], (i % 32 == 31 || i + 1 == n) ? "\n" : " ");
}
