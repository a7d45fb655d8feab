// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policy_check.c - duplicates and nesting among the CIDRs of policy lists.
 *
 * Lists reach a million entries, so no pairwise comparison: the CIDRs are
 * sorted (family, address, prefix length), which puts every prefix right
 * before the prefixes it contains. One pass then keeps, per list, the chain of
 * prefixes enclosing the current one (at most 129 deep): the top of that chain
 * is the nearest enclosing prefix, or an equal one.
 */
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"

#define CHAIN_MAX 130	/* /0 .. /128, plus one */

void pol_cref_set(struct pol_cref *r, const struct castle_cidr *c, uint32_t idx, uint8_t list,
		  unsigned int line, unsigned int col)
{
	uint64_t hi = 0, lo = 0;

	for (int i = 0; i < 8; i++) {
		hi = hi << 8 | c->addr[i];
		lo = lo << 8 | c->addr[i + 8];
	}
	*r = (struct pol_cref){ .hi = hi, .lo = lo, .idx = idx, .line = line, .col = col,
				.family = (uint8_t)c->family, .plen = (uint8_t)c->plen,
				.list = list };
}

static void cref_cidr(const struct pol_cref *r, struct castle_cidr *c)
{
	memset(c, 0, sizeof(*c));
	c->family = r->family;
	c->plen = r->plen;
	for (int i = 0; i < 8; i++) {
		c->addr[i] = (uint8_t)(r->hi >> (56 - 8 * i));
		c->addr[i + 8] = (uint8_t)(r->lo >> (56 - 8 * i));
	}
}

static const char *cref_str(const struct pol_cref *r, char *buf, size_t len)
{
	struct castle_cidr c;

	cref_cidr(r, &c);
	return castle_cidr_str(&c, buf, len);
}

#define CMP(a, b)                          \
	do {                               \
		if ((a) != (b))            \
			return (a) < (b) ? -1 : 1; \
	} while (0)

/* family, address, prefix length; then (equal CIDRs) allow before block and
 * file order, so a message lands on the later entry */
static int cref_cmp(const void *pa, const void *pb)
{
	const struct pol_cref *a = pa, *b = pb;

	CMP(a->family, b->family);
	CMP(a->hi, b->hi);
	CMP(a->lo, b->lo);
	CMP(a->plen, b->plen);
	CMP(a->list, b->list);
	CMP(a->line, b->line);
	CMP(a->col, b->col);
	return 0;
}

static bool cref_same(const struct pol_cref *a, const struct pol_cref *b)
{
	return a->family == b->family && a->plen == b->plen && a->hi == b->hi && a->lo == b->lo;
}

/* a contains b: same family, a no longer, and b's first a->plen bits equal */
static bool cref_contains(const struct pol_cref *a, const struct pol_cref *b)
{
	unsigned int p = a->plen;
	uint64_t mhi, mlo;

	if (a->family != b->family || p > b->plen)
		return false;
	mhi = p >= 64 ? ~0ull : p ? ~0ull << (64 - p) : 0;
	mlo = p <= 64 ? 0 : p >= 128 ? ~0ull : ~0ull << (128 - p);
	return !((a->hi ^ b->hi) & mhi) && !((a->lo ^ b->lo) & mlo);
}

struct chain {
	const struct pol_cref *v[CHAIN_MAX];
	int n;
};

/* Pop what does not contain x; returns the nearest container (or equal). */
static const struct pol_cref *chain_top(struct chain *ch, const struct pol_cref *x)
{
	while (ch->n && !cref_contains(ch->v[ch->n - 1], x))
		ch->n--;
	return ch->n ? ch->v[ch->n - 1] : NULL;
}

static void chain_push(struct chain *ch, const struct pol_cref *x)
{
	if (ch->n && cref_same(ch->v[ch->n - 1], x))
		return;	/* equal to the top: keep the first, the chain stays short */
	if (ch->n < CHAIN_MAX)
		ch->v[ch->n++] = x;
}

int pol_check_cidrs(struct pol_ctx *c, struct pol_cref *refs, size_t n, const char *const names[2],
		    bool cross)
{
	char a[CASTLE_CIDR_STRLEN], b[CASTLE_CIDR_STRLEN];
	struct chain ch[2] = { { .n = 0 }, { .n = 0 } };
	size_t nerr0 = c->errs->nerrors;

	qsort(refs, n, sizeof(*refs), cref_cmp);
	for (size_t i = 0; i < n; i++) {
		const struct pol_cref *x = &refs[i], *p, *o;
		const char *name = names[x->list];

		p = chain_top(&ch[x->list], x);
		o = chain_top(&ch[!x->list], x);
		if (p && cref_same(p, x))
			pol_err_at(c, CASTLE_SEV_ERROR, x->line, x->col,
				   "duplicate %s entry %s (first at line %u)", name,
				   cref_str(x, a, sizeof(a)), p->line);
		else if (p)
			pol_err_at(c, CASTLE_SEV_ERROR, x->line, x->col,
				   "%s entry %s is inside %s (line %u): remove one of them", name,
				   cref_str(x, a, sizeof(a)), cref_str(p, b, sizeof(b)), p->line);

		/* allow beats block, so an address in both is a contradiction the
		 * operator must resolve; a block inside an allowed network does
		 * nothing (warning); an allow inside a blocked network is the normal
		 * way to carve out an exception (fine) */
		if (cross && x->list == 1 && o) {
			if (cref_same(o, x))
				pol_err_at(c, CASTLE_SEV_ERROR, x->line, x->col,
					   "%s is both allowed (line %u) and blocked: remove one",
					   cref_str(x, a, sizeof(a)), o->line);
			else
				pol_err_at(c, CASTLE_SEV_WARNING, x->line, x->col,
					   "blocked %s is inside allowed %s (line %u): allow wins, the block has no effect",
					   cref_str(x, a, sizeof(a)), cref_str(o, b, sizeof(b)), o->line);
		}
		chain_push(&ch[x->list], x);
	}
	return c->errs->nerrors == nerr0 ? 0 : -1;
}
