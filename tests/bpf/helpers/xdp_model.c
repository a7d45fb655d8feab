// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * xdp_model.c - see xdp_model.h. Deliberately written against the README's
 * rules with byte offsets and plain tables, sharing nothing with bpf/ but the
 * enum values of castle.h, so that a parser bug in one is not repeated in the
 * other.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xdp_model.h"

/* ---- a small open-addressing hash of (tag, plen, addr) -> u64 ------------ */

struct xm_key {
	uint32_t tag;
	uint32_t plen;
	uint8_t addr[16];
};

struct xm_slot {
	struct xm_key k;
	uint64_t v;
	bool used;
};

static uint64_t key_hash(const struct xm_key *k)
{
	const uint8_t *b = (const uint8_t *)k;
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < sizeof(*k); i++)
		h = (h ^ b[i]) * 1099511628211ull;
	return h;
}

static struct xm_slot *tab_find(const struct xm_tab *t, const struct xm_key *k)
{
	if (!t->cap)
		return NULL;
	for (size_t i = key_hash(k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		struct xm_slot *s = &t->s[i];
		if (!s->used)
			return NULL;
		if (!memcmp(&s->k, k, sizeof(*k)))
			return s;
	}
}

static void tab_put(struct xm_tab *t, const struct xm_key *k, uint64_t v);

static void tab_grow(struct xm_tab *t)
{
	struct xm_tab old = *t;

	t->cap = old.cap ? old.cap * 2 : 64;
	t->s = calloc(t->cap, sizeof(*t->s));
	if (!t->s)
		abort();
	t->n = 0;
	memset(t->plens, 0, sizeof(t->plens));
	for (size_t i = 0; i < old.cap; i++)
		if (old.s[i].used)
			tab_put(t, &old.s[i].k, old.s[i].v);
	free(old.s);
}

/* Insert or replace (BPF_ANY). */
static void tab_put(struct xm_tab *t, const struct xm_key *k, uint64_t v)
{
	struct xm_slot *s = tab_find(t, k);

	if (s) {
		s->v = v;
		return;
	}
	if ((t->n + 1) * 2 > t->cap)
		tab_grow(t);
	for (size_t i = key_hash(k) & (t->cap - 1);; i = (i + 1) & (t->cap - 1)) {
		if (!t->s[i].used) {
			t->s[i].k = *k;
			t->s[i].v = v;
			t->s[i].used = true;
			t->n++;
			if (k->plen <= 128)
				t->plens[k->plen]++;
			return;
		}
	}
}

static void tab_free(struct xm_tab *t)
{
	free(t->s);
	memset(t, 0, sizeof(*t));
}

/* addr masked to plen bits into k */
static void mkkey(struct xm_key *k, uint32_t tag, int family, const uint8_t *addr, unsigned plen)
{
	unsigned bytes = family == 4 ? 4 : 16;

	memset(k, 0, sizeof(*k));
	k->tag = tag;
	k->plen = plen;
	for (unsigned i = 0; i < bytes; i++) {
		unsigned bit = i * 8;
		if (bit + 8 <= plen)
			k->addr[i] = addr[i];
		else if (bit < plen)
			k->addr[i] = addr[i] & (uint8_t)(0xff << (8 - (plen - bit)));
	}
}

static int fam_idx(int family)
{
	return family == 4 ? 0 : 1;
}

static unsigned fam_bits(int family)
{
	return family == 4 ? 32 : 128;
}

/* Block values: origin in the low byte, bit 8 = expired. */
#define XM_EXPIRED 0x100u

/* Longest prefix of addr in t whose entry is live (an expired entry is as good
 * as absent, README "Blocklist": "each with an expiry checked by the kernel").
 * Returns the value or -1. */
static int64_t lpm_live(const struct xm_tab *t, int family, const uint8_t *addr)
{
	for (int plen = (int)fam_bits(family); plen >= 0; plen--) {
		struct xm_key k;
		struct xm_slot *s;

		if (!t->plens[plen])
			continue;
		mkkey(&k, 0, family, addr, plen);
		s = tab_find(t, &k);
		if (s && !(s->v & XM_EXPIRED))
			return (int64_t)s->v;
	}
	return -1;
}

/* ---- policy ------------------------------------------------------------- */

void xm_init(struct xm *m)
{
	memset(m, 0, sizeof(*m));
}

static void policy_free(struct xm *m)
{
	for (int i = 0; i < 2; i++) {
		tab_free(&m->pol_allow[i]);
		tab_free(&m->pol_exact[i]);
		tab_free(&m->pol_net[i]);
	}
	m->nclasses = 0;
	m->dry_run = m->malformed_pass = false;
}

void xm_policy_reset(struct xm *m)
{
	policy_free(m);
}

void xm_free(struct xm *m)
{
	policy_free(m);
	for (int i = 0; i < 2; i++) {
		tab_free(&m->man_allow[i]);
		tab_free(&m->man_exact[i]);
		tab_free(&m->man_net[i]);
	}
	tab_free(&m->rl);
}

void xm_allow(struct xm *m, const struct castle_cidr *c, bool manual)
{
	struct xm_key k;

	mkkey(&k, 0, c->family, c->addr, c->plen);
	tab_put(manual ? &m->man_allow[fam_idx(c->family)] : &m->pol_allow[fam_idx(c->family)], &k,
		manual ? CASTLE_ORIGIN_MANUAL : CASTLE_ORIGIN_POLICY);
}

void xm_block(struct xm *m, const struct castle_cidr *c, bool manual, bool expired)
{
	struct xm_key k;
	int fi = fam_idx(c->family);
	bool exact = c->plen == fam_bits(c->family);
	struct xm_tab *t = manual ? (exact ? &m->man_exact[fi] : &m->man_net[fi])
				  : (exact ? &m->pol_exact[fi] : &m->pol_net[fi]);

	mkkey(&k, 0, c->family, c->addr, c->plen);
	tab_put(t, &k, (manual ? CASTLE_ORIGIN_MANUAL : CASTLE_ORIGIN_POLICY) |
			       (expired ? XM_EXPIRED : 0));
}

int xm_add_class(struct xm *m, const struct xm_class *c)
{
	if (m->nclasses >= CASTLE_MAX_CLASSES)
		return -1;
	m->classes[m->nclasses] = *c;
	return (int)m->nclasses++;
}

bool xm_is_allowed(const struct xm *m, int family, const uint8_t *addr)
{
	int fi = fam_idx(family);

	return lpm_live(&m->pol_allow[fi], family, addr) >= 0 ||
	       lpm_live(&m->man_allow[fi], family, addr) >= 0;
}

static int reason_of(int64_t v)
{
	return (v & 0xff) == CASTLE_ORIGIN_AUTO ? CASTLE_R_AUTOBAN : CASTLE_R_BLOCKLIST;
}

int xm_block_reason(const struct xm *m, int family, const uint8_t *addr)
{
	int fi = fam_idx(family);
	/* README order: exact entries (policy, then manual/auto), then CIDRs. */
	const struct xm_tab *order[] = { &m->pol_exact[fi], &m->man_exact[fi], &m->pol_net[fi],
					 &m->man_net[fi] };

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
		int64_t v = lpm_live(order[i], family, addr);
		if (v >= 0)
			return reason_of(v);
	}
	return CASTLE_R_OK;
}

/* ---- the parser (README "XDP gate design", step 1) ---------------------- */

static uint16_t be16(const uint8_t *p)
{
	return (uint16_t)(p[0] << 8 | p[1]);
}

/* Ports or ICMP type of the transport header at f[off], which must lie below
 * end (where the IP header says the packet ends). false: truncated. */
static bool parse_transport(const uint8_t *f, size_t off, size_t end, struct xm_pkt *p)
{
	size_t room = end > off ? end - off : 0;

	p->l4_off = off;
	p->ip_end = end;

	switch (p->proto) {
	case 6: /* TCP: the fixed 20 bytes, data offset at least 5 words */
		if (room < 20 || (f[off + 12] >> 4) < 5)
			return false;
		p->dport = be16(f + off + 2);
		p->has_ports = true;
		return true;
	case 17:
		if (room < 8)
			return false;
		p->dport = be16(f + off + 2);
		p->has_ports = true;
		return true;
	case 1:
	case 58:
		/* ICMP and ICMPv6 share the 4-byte type/code/checksum start; the
		 * gate treats either number as "icmp" in both families. */
		if (room < 4)
			return false;
		p->icmp_type = f[off];
		p->has_icmp = true;
		return true;
	default:
		return true;
	}
}

static enum xm_parse parse_v4(const uint8_t *f, size_t n, size_t off, struct xm_pkt *p)
{
	if (n - off < 20)
		return XM_BAD_L3;
	unsigned version = f[off] >> 4, ihl = (f[off] & 15u) * 4u;
	size_t total = be16(f + off + 2);

	if (version != 4 || ihl < 20 || total < ihl || total > n - off)
		return XM_BAD_L3;
	p->family = 4;
	p->saddr_off = off + 12;
	memcpy(p->saddr, f + off + 12, 4);
	p->proto = f[off + 9];
	p->hop = f[off + 8];
	if (be16(f + off + 6) & 0x1fff) { /* fragment offset != 0 */
		p->frag = true;
		p->blind_ports = true; /* reassembly keys on the protocol: it is real */
		return XM_IP;
	}
	size_t l4 = off + ihl;
	if (p->proto == 51) { /* IPsec AH: 2 bytes say what follows and how long it is */
		if (ihl + 2 > total || f[l4] == 51) { /* cut, or AH in AH */
			p->blind_ports = p->blind_proto = true;
			return XM_BAD_L4;
		}
		p->proto = f[l4];
		l4 += (f[l4 + 1] + 2u) * 4u;
		if (l4 > off + total) { /* longer than the packet */
			p->blind_ports = p->blind_proto = true;
			return XM_BAD_L4;
		}
	}
	if (parse_transport(f, l4, off + total, p))
		return XM_IP;
	p->blind_ports = true;
	return XM_BAD_L4;
}

/* README: "IPv6 with up to 8 extension headers (hop-by-hop, routing, fragment,
 * destination options, AH)". */
#define XM_V6_EXT 8

static enum xm_parse parse_v6(const uint8_t *f, size_t n, size_t off, struct xm_pkt *p)
{
	if (n - off < 40)
		return XM_BAD_L3;
	if ((f[off] >> 4) != 6)
		return XM_BAD_L3;
	size_t plen = be16(f + off + 4);
	if (plen > n - off - 40)
		return XM_BAD_L3;
	size_t end = off + 40 + plen, pos = off + 40;
	uint8_t nh = f[off + 6];

	p->family = 6;
	p->saddr_off = off + 8;
	memcpy(p->saddr, f + off + 8, 16);
	p->hop = f[off + 7];
	/* Until the transport header is reached, neither it nor the protocol is
	 * known (bpf/parse.h: CASTLE_BLIND_*). */
	p->blind_ports = p->blind_proto = true;

	for (int seen = 0;; seen++) {
		size_t len;

		switch (nh) {
		case 0:
		case 43:
		case 60:
		case 51:
		case 44:
			if (seen == XM_V6_EXT)
				return XM_BAD_L4; /* transport header out of sight */
			break;
		default:
			p->proto = nh;
			p->blind_proto = false;
			if (nh == 59 || nh == 50) { /* no next header, ESP: nothing to read */
				p->blind_ports = false;
				return XM_IP;
			}
			if (!parse_transport(f, pos, end, p))
				return XM_BAD_L4;
			p->blind_ports = false;
			return XM_IP;
		}
		if (end < pos + (nh == 44 ? 8 : 2))
			return XM_BAD_L4;
		if (nh == 44) {
			uint16_t offm = be16(f + pos + 2);
			nh = f[pos];
			pos += 8;
			if (offm & 0xfff8) { /* non-first fragment */
				p->proto = nh;
				p->frag = true;
				return XM_IP;
			}
			continue;
		}
		len = nh == 51 ? ((size_t)f[pos + 1] + 2) * 4 : ((size_t)f[pos + 1] + 1) * 8;
		nh = f[pos];
		pos += len;
		if (pos > end)
			return XM_BAD_L4;
	}
}

enum xm_parse xm_parse_frame(const uint8_t *f, size_t n, struct xm_pkt *p)
{
	size_t off = 14;
	uint16_t type;

	memset(p, 0, sizeof(*p));
	if (n < 14)
		return XM_BAD_L3;
	type = be16(f + 12);
	/* 802.1Q / 802.1ad: two tags are parsed; a third, or a tag cut short,
	 * hides what the frame carries and is malformed, never "not IP". */
	for (int tags = 0; type == 0x8100 || type == 0x88a8; tags++) {
		if (tags == 2 || n - off < 4)
			return XM_BAD_L3;
		type = be16(f + off + 2);
		off += 4;
	}
	if (type == 0x0800)
		return parse_v4(f, n, off, p);
	if (type == 0x86dd)
		return parse_v6(f, n, off, p);
	return XM_NON_IP;
}

/* ---- classes ------------------------------------------------------------ */

static bool cidr_has(const struct castle_cidr *c, int family, const uint8_t *addr)
{
	struct xm_key a, b;

	if (c->family != family)
		return false;
	mkkey(&a, 0, family, addr, c->plen);
	mkkey(&b, 0, family, c->addr, c->plen);
	return !memcmp(&a, &b, sizeof(a));
}

static bool class_matches(const struct xm_class *c, const struct xm_pkt *p)
{
	if (!c->any_src && !cidr_has(&c->src, p->family, p->saddr))
		return false;
	if (p->blind_proto || c->proto == CASTLE_PROTO_ANY) {
		/* matches */
	} else if (c->proto == CASTLE_PROTO_ICMP) {
		if (p->proto != 1 && p->proto != 58)
			return false;
	} else if (c->proto != p->proto) {
		return false;
	}
	if (!c->nports)
		return true;
	/* README: a non-first fragment "is charged to the first class matching
	 * its source and protocol"; so is a cut transport header. */
	if (p->blind_ports)
		return true;
	if (!p->has_ports)
		return false;
	for (unsigned i = 0; i < c->nports; i++)
		if (p->dport >= c->ports[i].lo && p->dport <= c->ports[i].hi)
			return true;
	return false;
}

/* rl values: bit 0 = the one packet was admitted; bits 8.. = drops in a row */
static bool class_admit(struct xm *m, int slot, const struct xm_pkt *p)
{
	const struct xm_class *c = &m->classes[slot];
	struct xm_key k;
	struct xm_slot *s;
	uint64_t v;

	mkkey(&k, (uint32_t)slot << 8 | (uint32_t)p->family, p->family, p->saddr,
	      p->family == 4 ? c->plen4 : c->plen6);
	k.plen = 0;
	s = tab_find(&m->rl, &k);
	v = s ? s->v : 0;
	if (!s)
		m->rl_keys++;
	if (c->kind == XM_RL_UNLIMITED || !(v & 1)) {
		tab_put(&m->rl, &k, 1); /* admitted: the drop run ends */
		return true;
	}
	uint64_t drops = (v >> 8) + 1;
	if (c->ban_after && drops >= c->ban_after) {
		drops = 0;
		if (!m->dry_run) {
			/* Ban the aggregated source: exact for a full-length
			 * prefix, CIDR otherwise; both with the manual entries. */
			struct castle_cidr b = { .family = p->family,
						 .plen = p->family == 4 ? c->plen4 : c->plen6 };
			struct xm_key bk;
			int fi = fam_idx(p->family);
			memcpy(b.addr, k.addr, 16);
			mkkey(&bk, 0, b.family, b.addr, b.plen);
			tab_put(b.plen == fam_bits(b.family) ? &m->man_exact[fi] : &m->man_net[fi],
				&bk, CASTLE_ORIGIN_AUTO);
			m->autobans++;
		}
	}
	tab_put(&m->rl, &k, (drops << 8) | 1);
	return false;
}

/* ---- the gate (README steps 1-6) ---------------------------------------- */

static bool is_nd(const struct xm_pkt *p)
{
	return p->family == 6 && p->proto == 58 && !p->frag && p->has_icmp &&
	       p->icmp_type >= 133 && p->icmp_type <= 137 && p->hop == 255;
}

void xm_judge(struct xm *m, const uint8_t *f, size_t n, struct xm_result *r)
{
	memset(r, 0, sizeof(*r));
	r->slot = -1;
	r->parse = xm_parse_frame(f, n, &r->pkt);
	r->verdict = CASTLE_DROP;

	const struct xm_pkt *p = &r->pkt;
	if (r->parse == XM_NON_IP) {
		r->verdict = CASTLE_PASS;
		r->reason = CASTLE_R_NON_IP;
		return;
	}
	if (r->parse == XM_BAD_L3) {
		r->reason = CASTLE_R_MALFORMED;
		goto drop;
	}
	if (r->parse == XM_IP && is_nd(p)) {
		r->verdict = CASTLE_PASS;
		r->reason = CASTLE_R_ND;
		return;
	}
	if (xm_is_allowed(m, p->family, p->saddr)) {
		r->verdict = CASTLE_PASS;
		r->reason = CASTLE_R_ALLOWLIST;
		return;
	}
	r->reason = xm_block_reason(m, p->family, p->saddr);
	if (r->reason != CASTLE_R_OK)
		goto drop;
	/* A cut transport header is malformed; with malformed: pass it is still
	 * charged to its class (castle_xdp.bpf.c), so truncation carries no
	 * limited source past the gate. */
	if (r->parse == XM_BAD_L4 && !m->malformed_pass) {
		r->reason = CASTLE_R_MALFORMED;
		goto drop;
	}
	for (unsigned i = 0; i < m->nclasses; i++) {
		if (!class_matches(&m->classes[i], p))
			continue;
		r->slot = (int)i;
		if (!class_admit(m, (int)i, p)) {
			/* in dry-run the class counts a pass (nothing drops) */
			r->class_drop = !m->dry_run;
			r->reason = CASTLE_R_RATELIMIT;
			goto drop;
		}
		break;
	}
	if (r->parse == XM_BAD_L4) {
		r->reason = CASTLE_R_MALFORMED;
		goto drop;
	}
	r->verdict = CASTLE_PASS;
	r->reason = CASTLE_R_OK;
	return;
drop:
	if (m->dry_run || (r->reason == CASTLE_R_MALFORMED && m->malformed_pass))
		r->verdict = CASTLE_PASS;
}
