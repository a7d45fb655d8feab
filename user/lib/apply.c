// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * apply.c - see apply.h. Speed matters here: a million exact blocks go in by
 * batches of 64k per syscall (castle_gen_add_block_batch), and only the few
 * TTL entries cost a lookup in the live generation.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "apply.h"
#include "ctl_maps.h"

static double mono_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static uint32_t max_u32(uint64_t a, uint32_t b)
{
	return a > b ? (a > UINT32_MAX ? UINT32_MAX : (uint32_t)a) : b;
}

struct exact_buf {
	uint8_t *keys;			/* n * ksz */
	struct castle_block_val *vals;
	uint32_t n;
};

/* A TTL entry the live generation holds under the same prefix with the same
 * ttl keeps its expiry and hit count: editing an unrelated line must not
 * restart a 1h block. Only an exact prefix counts (for CIDRs, the caller
 * found the key in the old trie: a lookup there answers the longest match,
 * and a new /25 must not inherit the expiry of an old /24), and only while
 * the old expiry is still ahead: an expired TTL entry that is applied again
 * starts a fresh TTL instead of staying dead on arrival forever. */
static bool keep_ttl(const struct castle_maps *m, int fd, const struct castle_cidr *c,
		     bool exact_in_old, uint64_t ttl_ns, uint64_t now, struct castle_block_val *v)
{
	struct castle_lpm6 k = { .prefixlen = c->plen };
	struct castle_block_val old;
	const void *key = c->addr;
	uint64_t hits;

	if (fd < 0 || !exact_in_old)
		return false;
	if (!castle_cidr_is_host(c)) {
		memcpy(k.addr, c->addr, 16);
		key = &k;
	}
	if (bpf_map_lookup_elem(fd, key, &old) || old.origin != CASTLE_ORIGIN_POLICY ||
	    !old.expires_ns || old.expires_ns <= now || old.expires_ns - old.created_ns != ttl_ns)
		return false;
	v->created_ns = old.created_ns;
	v->expires_ns = old.expires_ns;
	/* its per-CPU slot too, if it has one; if that cannot be read, what
	 * the entry itself holds (a count short, not a failed reload) */
	castle_block_hits(m, &old, &hits);
	v->hits = hits;
	v->last_hit_ns = old.last_hit_ns;
	return true;
}

/* The TTL CIDRs (not host entries: the exact maps answer exact keys) of the
 * new policy, as LPM keys, to be looked for in the old tries. TTL entries
 * are few; the old trie is walked once per family. */
struct ttl_net {
	struct castle_lpm6 key;		/* zeroed beyond the address */
	size_t idx;			/* in conf->block */
};

struct ttl_set {
	struct ttl_net *v;		/* one family, sorted */
	size_t n;
	size_t ksz;			/* key size of the trie walked */
	bool *exact;			/* by conf->block index */
};

static int ttl_net_cmp(const void *a, const void *b)
{
	return memcmp(&((const struct ttl_net *)a)->key, &((const struct ttl_net *)b)->key,
		      sizeof(struct castle_lpm6));
}

/* One key of the old trie: mark the new TTL entries of exactly that prefix. */
static int mark_exact(int fd, const void *key, void *arg)
{
	struct ttl_set *t = arg;
	struct ttl_net q;
	struct ttl_net *hit;

	(void)fd;
	memset(&q, 0, sizeof(q));
	memcpy(&q.key, key, t->ksz);
	hit = bsearch(&q, t->v, t->n, sizeof(*t->v), ttl_net_cmp);
	if (!hit)
		return 0;
	/* the same CIDR may be listed twice: mark every copy */
	size_t lo = hit - t->v, hi = lo;
	while (lo > 0 && !ttl_net_cmp(&t->v[lo - 1], &q))
		lo--;
	while (hi + 1 < t->n && !ttl_net_cmp(&t->v[hi + 1], &q))
		hi++;
	for (size_t i = lo; i <= hi; i++)
		t->exact[t->v[i].idx] = true;
	return 0;
}

/* exact[i] = the TTL CIDR conf->block[i] is a key of the old trie fd. */
static int find_exact(const struct castle_policy_conf *conf, int family, int fd, bool *exact)
{
	struct ttl_set t = { .ksz = family == 4 ? sizeof(struct castle_lpm4)
						: sizeof(struct castle_lpm6),
			     .exact = exact };
	int ret;

	if (fd < 0)
		return 0;
	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_block_entry *b = &conf->block[i];
		t.n += b->ttl_ns && b->cidr.family == family && !castle_cidr_is_host(&b->cidr);
	}
	if (!t.n)
		return 0;
	t.v = calloc(t.n, sizeof(*t.v));
	if (!t.v)
		return -ENOMEM;
	t.n = 0;
	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_block_entry *b = &conf->block[i];
		if (!b->ttl_ns || b->cidr.family != family || castle_cidr_is_host(&b->cidr))
			continue;
		t.v[t.n].key.prefixlen = b->cidr.plen;
		memcpy(t.v[t.n].key.addr, b->cidr.addr, family == 4 ? 4 : 16);
		t.v[t.n++].idx = i;
	}
	qsort(t.v, t.n, sizeof(*t.v), ttl_net_cmp);
	ret = castle_map_foreach_key(fd, t.ksz, mark_exact, &t);
	free(t.v);
	return ret;
}

static int fill_blocks(struct castle_maps *m, struct castle_gen *g,
		       const struct castle_policy_conf *conf, uint32_t live_gen, bool have_live,
		       struct castle_apply_stats *st, char *err, size_t errlen)
{
	struct exact_buf ex[2] = { 0 };
	int live[CASTLE_PM_MAX], ret = 0;
	uint64_t now = castle_now_boot_ns();
	size_t n4 = 0, n6 = 0;
	bool any_ttl = false, *exact = NULL;

	for (int i = 0; i < CASTLE_PM_MAX; i++)
		live[i] = -1;
	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_block_entry *b = &conf->block[i];
		if (castle_cidr_is_host(&b->cidr))
			b->cidr.family == 4 ? n4++ : n6++;
		any_ttl |= b->ttl_ns != 0;
	}
	ex[0].keys = malloc(n4 * 4 + 1);
	ex[0].vals = malloc(n4 * sizeof(*ex[0].vals) + 1);
	ex[1].keys = malloc(n6 * 16 + 1);
	ex[1].vals = malloc(n6 * sizeof(*ex[1].vals) + 1);
	if (!ex[0].keys || !ex[0].vals || !ex[1].keys || !ex[1].vals) {
		snprintf(err, errlen, "out of memory for %zu block entries", conf->nblock);
		ret = -ENOMEM;
		goto out;
	}
	if (any_ttl && have_live) {
		live[CASTLE_PM_BLOCK4] = castle_gen_inner_fd(m, CASTLE_PM_BLOCK4, live_gen);
		live[CASTLE_PM_BLOCK6] = castle_gen_inner_fd(m, CASTLE_PM_BLOCK6, live_gen);
		live[CASTLE_PM_NET4] = castle_gen_inner_fd(m, CASTLE_PM_NET4, live_gen);
		live[CASTLE_PM_NET6] = castle_gen_inner_fd(m, CASTLE_PM_NET6, live_gen);
		live[CASTLE_PM_NHASH4] = castle_gen_inner_fd(m, CASTLE_PM_NHASH4, live_gen);
		live[CASTLE_PM_NHASH6] = castle_gen_inner_fd(m, CASTLE_PM_NHASH6, live_gen);
		exact = calloc(conf->nblock, sizeof(*exact));
		/* Without the exact set (out of memory, a failed walk), TTL
		 * CIDRs simply start afresh: correct, only not kept. (A hash
		 * answers exact keys only; its walk is not needed.) */
		if (exact && (find_exact(conf, 4, live[CASTLE_PM_NET4], exact) ||
			      find_exact(conf, 6, live[CASTLE_PM_NET6], exact)))
			memset(exact, 0, conf->nblock * sizeof(*exact));
	}

	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_block_entry *b = &conf->block[i];
		const struct castle_cidr *c = &b->cidr;
		bool host = castle_cidr_is_host(c), v4 = c->family == 4;
		struct castle_block_val v = { .origin = CASTLE_ORIGIN_POLICY,
					      .class_slot = CASTLE_NO_CLASS, .created_ns = now };

		if (b->ttl_ns) {
			int pm = host ? (v4 ? CASTLE_PM_BLOCK4 : CASTLE_PM_BLOCK6)
				      : (v4 ? CASTLE_PM_NET4 : CASTLE_PM_NET6);
			/* the live generation's CIDRs: in its hash or its trie */
			if ((!host && keep_ttl(m, live[v4 ? CASTLE_PM_NHASH4 : CASTLE_PM_NHASH6], c,
					       true, b->ttl_ns, now, &v)) ||
			    keep_ttl(m, live[pm], c, host || (exact && exact[i]), b->ttl_ns, now, &v))
				st->ttl_kept++;
			else
				v.expires_ns = b->ttl_ns > UINT64_MAX - now ? UINT64_MAX /* no wrap */
									    : now + b->ttl_ns;
		}
		if (host) {
			struct exact_buf *e = &ex[v4 ? 0 : 1];
			size_t ksz = v4 ? 4 : 16;
			memcpy(e->keys + (size_t)e->n * ksz, c->addr, ksz);
			e->vals[e->n++] = v;
			continue;
		}
		ret = castle_gen_add_block(g, c, &v);
		if (ret) {
			char s[CASTLE_CIDR_STRLEN];
			snprintf(err, errlen, "%s:%u:%u: add block %s: %s", conf->path, b->line, b->col,
				 castle_cidr_str(c, s, sizeof(s)), strerror(-ret));
			goto out;
		}
		st->entries[v4 ? CASTLE_PM_NET4 : CASTLE_PM_NET6]++;
	}
	for (int f = 0; f < 2; f++) {
		ret = castle_gen_add_block_batch(g, f ? 6 : 4, ex[f].keys, ex[f].vals, ex[f].n);
		if (ret) {
			snprintf(err, errlen, "add %u IPv%d exact blocks: %s", ex[f].n, f ? 6 : 4,
				 strerror(-ret));
			goto out;
		}
		st->entries[f ? CASTLE_PM_BLOCK6 : CASTLE_PM_BLOCK4] = ex[f].n;
	}
out:
	free(exact);
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		if (live[i] >= 0)
			close(live[i]);
	for (int f = 0; f < 2; f++) {
		free(ex[f].keys);
		free(ex[f].vals);
	}
	return ret;
}

static int fill_rest(struct castle_gen *g, const struct castle_policy_conf *conf,
		     const struct castle_policy_compiled *comp, struct castle_apply_stats *st,
		     char *err, size_t errlen)
{
	char s[CASTLE_CIDR_STRLEN];
	uint32_t one = 1;
	int ret;

	for (size_t i = 0; i < conf->nallow; i++) {
		const struct castle_allow_entry *a = &conf->allow[i];
		struct castle_allow_val v = { .origin = CASTLE_ORIGIN_POLICY,
					      .created_ns = castle_now_boot_ns() };
		ret = castle_gen_add_allow(g, &a->cidr, &v);
		if (ret) {
			snprintf(err, errlen, "%s:%u:%u: add allow %s: %s", conf->path, a->line, a->col,
				 castle_cidr_str(&a->cidr, s, sizeof(s)), strerror(-ret));
			return ret;
		}
		st->entries[a->cidr.family == 4 ? CASTLE_PM_ALLOW4 : CASTLE_PM_ALLOW6]++;
	}
	for (size_t i = 0; i < comp->ncsrc; i++) {
		const struct castle_csrc_entry *c = &comp->csrc[i];
		ret = castle_gen_add_csrc(g, &c->cidr, c->classes);
		if (ret) {
			snprintf(err, errlen, "add class source %s: %s",
				 castle_cidr_str(&c->cidr, s, sizeof(s)), strerror(-ret));
			return ret;
		}
		st->entries[c->cidr.family == 4 ? CASTLE_PM_CSRC4 : CASTLE_PM_CSRC6]++;
	}
	for (size_t i = 0; i < comp->nsni; i++) {
		/* Keys are already lower case and NUL padded by the compiler. */
		if (bpf_map_update_elem(g->inner[CASTLE_PM_SNI], &comp->sni[i], &one, BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "add SNI %.*s: %s", CASTLE_SNI_MAX, comp->sni[i].name,
				 strerror(-ret));
			return ret;
		}
		st->entries[CASTLE_PM_SNI]++;
	}
	return 0;
}

/* Comments of the policy's entries into the notes map: how many went in,
 * and in *lost how many did not (the map full; the policy parser already
 * refused comments that are too long). */
static uint32_t write_notes(const struct castle_maps *m, const struct castle_policy_conf *conf,
			    uint32_t *lost)
{
	uint32_t n = 0;

	*lost = 0;
	for (size_t i = 0; i < conf->nblock; i++)
		if (conf->block[i].comment) {
			if (castle_note_put(m, &conf->block[i].cidr, castle_note_list(false, true),
					    conf->block[i].comment))
				++*lost;
			else
				n++;
		}
	for (size_t i = 0; i < conf->nallow; i++)
		if (conf->allow[i].comment) {
			if (castle_note_put(m, &conf->allow[i].cidr, castle_note_list(true, true),
					    conf->allow[i].comment))
				++*lost;
			else
				n++;
		}
	return n;
}

int castle_apply(struct castle_maps *m, const struct castle_policy_conf *conf,
		 const struct castle_policy_compiled *comp, struct castle_apply_stats *st,
		 char *err, size_t errlen)
{
	struct castle_gen_sizes sz;
	struct castle_policy live_pol, pol;
	uint64_t need[CASTLE_PM_MAX] = { 0 };
	double t0 = mono_now();
	struct castle_gen g;
	uint32_t live_gen = 0;
	bool have_live;
	int ret;

	memset(st, 0, sizeof(*st));
	/* Inner maps are sized to the policy: they never change once live (a
	 * reload makes new ones), and a hash's buckets cost 16 B per entry of
	 * capacity whether used or not (2M-entry exact maps for a ten-line
	 * policy were 64 MB of kernel memory per generation). Map-in-map
	 * accepts any max_entries for hash and LPM inner maps. */
	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_cidr *c = &conf->block[i].cidr;
		need[castle_cidr_is_host(c) ? (c->family == 4 ? CASTLE_PM_BLOCK4 : CASTLE_PM_BLOCK6)
					    : (c->family == 4 ? CASTLE_PM_NET4 : CASTLE_PM_NET6)]++;
	}
	for (size_t i = 0; i < conf->nallow; i++)
		need[conf->allow[i].cidr.family == 4 ? CASTLE_PM_ALLOW4 : CASTLE_PM_ALLOW6]++;
	sz.exact = max_u32(need[CASTLE_PM_BLOCK4], max_u32(need[CASTLE_PM_BLOCK6], 1));
	sz.net = max_u32(need[CASTLE_PM_NET4], max_u32(need[CASTLE_PM_NET6], 1));
	sz.allow = max_u32(need[CASTLE_PM_ALLOW4], max_u32(need[CASTLE_PM_ALLOW6], 1));

	have_live = castle_gen_live(m, &live_gen, &live_pol) == 0;
	ret = castle_gen_begin(&sz, &g, err, errlen);
	if (ret)
		return ret;
	ret = fill_blocks(m, &g, conf, live_gen, have_live, st, err, errlen);
	if (!ret)
		ret = fill_rest(&g, conf, comp, st, err, errlen);
	if (ret) {
		castle_gen_abort(&g);
		return ret;
	}

	pol = comp->pol;
	pol.serial = (have_live ? live_pol.serial : 0) + 1;
	for (unsigned int i = 0; i < conf->nclasses && i < CASTLE_MAX_CLASSES; i++)
		snprintf(pol.class_names[i], sizeof(pol.class_names[i]), "%s", conf->classes[i].name);
	/* Each class keeps the counter and bucket slot its name had. While a
	 * program of another build may run on these maps (castled's start
	 * over an older one's, until the attach replaces it) and the live
	 * policy's slots are not a castled's of this kind, classes stay in
	 * their positions: that program counts them by position. */
	struct castle_class_slots live_cs;
	bool live_ours = have_live && castle_class_slots_read(m, live_gen, &live_pol, &live_cs);
	uint16_t live_held = 0;

	if (!have_live)
		memset(&live_cs, 0, sizeof(live_cs));
	for (uint32_t j = 0; have_live && j < live_pol.nclasses && j < CASTLE_MAX_CLASSES; j++)
		live_held |= (uint16_t)(1u << castle_class_slot(&live_cs, j));
	if (!m->trie_only || live_ours) {
		uint16_t fresh = castle_class_slots_assign(have_live ? &live_pol : NULL,
							   have_live ? &live_cs : NULL, &pol,
							   pol.serial, &g.slots);

		g.fresh = fresh & (uint16_t)~live_held;
		g.fresh_after = fresh & live_held;
	} else {
		/* by position, with the slots' history kept for later reloads */
		g.slots = live_cs;
		memset(g.slots.slot_xor, 0, sizeof(g.slots.slot_xor));
		for (uint32_t i = 0; i < pol.nclasses && i < CASTLE_MAX_CLASSES; i++)
			g.slots.last_held[i] = pol.serial;
	}
	g.slots_set = true;
	/* Slots a class of the live policy held and none of this one does. */
	uint16_t freed = live_held;

	for (uint32_t i = 0; i < pol.nclasses && i < CASTLE_MAX_CLASSES; i++)
		freed &= (uint16_t)~(1u << castle_class_slot(&g.slots, i));
	ret = castle_gen_commit(m, &g, &pol, err, errlen);
	if (ret) {
		castle_gen_abort(&g);
		return ret;
	}
	st->serial = pol.serial;
	/* The buckets of removed classes: no program writes their slots any
	 * more (the commit outlasted every one still on the old generation),
	 * and a class given a slot later must not find them. */
	st->rl_dropped = castle_rl_drop_slots(m, freed);
	st->hit_slots = g.hit_slots;
	st->hit_err = g.hit_err;
	castle_gen_live(m, &st->gen, &live_pol);
	/* entries[] counted the CIDRs as the tries'; say where they went */
	for (int f = 0; f < 2; f++) {
		int trie = f ? CASTLE_PM_NET6 : CASTLE_PM_NET4, hash = f ? CASTLE_PM_NHASH6 : CASTLE_PM_NHASH4;

		if (live_pol.lists & (1u << hash)) {
			st->entries[hash] = st->entries[trie];
			st->entries[trie] = 0;
		}
	}
	/* A policy map's capacity is what a policy may put in it (policy.c
	 * refuses more), not the size of this generation's map. */
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		switch (i) {
		case CASTLE_PM_BLOCK4: case CASTLE_PM_BLOCK6: st->capacity[i] = CASTLE_POL_EXACT_ENTRIES; break;
		case CASTLE_PM_NET4: case CASTLE_PM_NET6: case CASTLE_PM_NHASH4: case CASTLE_PM_NHASH6:
			st->capacity[i] = CASTLE_POL_NET_ENTRIES; break;
		case CASTLE_PM_ALLOW4: case CASTLE_PM_ALLOW6: st->capacity[i] = CASTLE_POL_ALLOW_ENTRIES; break;
		case CASTLE_PM_SNI: st->capacity[i] = CASTLE_SNI_ENTRIES; break;
		default: st->capacity[i] = CASTLE_CSRC_ENTRIES; break;
		}
	}
	st->notes = write_notes(m, conf, &st->notes_lost);
	/* Once more after the GC made room: the notes of the last policy, and
	 * of an older build's (under the origin word it left 0), are only
	 * dropped by it, and a policy with many comments may not fit beside
	 * them (the first reload after an upgrade). */
	if (castle_notes_gc(m, conf) > 0 && st->notes_lost)
		st->notes = write_notes(m, conf, &st->notes_lost);
	st->seconds = mono_now() - t0;
	return 0;
}

/* ---- notes garbage collection ----------------------------------------- */

struct keyset {
	struct castle_note_key *v;
	size_t n, cap;
};

static int key_cmp(const void *a, const void *b)
{
	return memcmp(a, b, sizeof(struct castle_note_key));
}

static int keyset_add(struct keyset *s, const struct castle_note_key *k)
{
	if (s->n == s->cap) {
		size_t cap = s->cap ? s->cap * 2 : 64;
		void *v = realloc(s->v, cap * sizeof(*s->v));
		if (!v)
			return -ENOMEM;
		s->v = v;
		s->cap = cap;
	}
	s->v[s->n++] = *k;
	return 0;
}

static int add_manual(const struct castle_entry *e, void *arg)
{
	struct castle_note_key k;

	castle_note_key_of(&e->cidr, castle_note_list(e->allow, false), &k);
	return keyset_add(arg, &k);
}

static bool in_policy(const struct castle_policy_conf *conf, const struct castle_note_key *k)
{
	struct castle_note_key pk;

	if (!conf)
		return false;
	/* Few entries carry comments; a linear pass over them is cheap next
	 * to the syscalls of the walk. */
	for (size_t i = 0; i < conf->nblock; i++) {
		if (!conf->block[i].comment)
			continue;
		castle_note_key_of(&conf->block[i].cidr, castle_note_list(false, true), &pk);
		if (!key_cmp(&pk, k))
			return true;
	}
	for (size_t i = 0; i < conf->nallow; i++) {
		if (!conf->allow[i].comment)
			continue;
		castle_note_key_of(&conf->allow[i].cidr, castle_note_list(true, true), &pk);
		if (!key_cmp(&pk, k))
			return true;
	}
	return false;
}

/* Whether a manual/auto entry for the note's prefix and list may exist now,
 * checked right before its note is deleted: an entry added since the walk
 * began (castlectl writes the entry, then the note) keeps its note. A lookup
 * of an LPM map answers the longest match, so a hit is taken for this prefix
 * only when it was created since the walk began; an older enclosing entry
 * (which the walk saw under its own prefix) does not keep an orphan alive. */
static bool entry_now(const struct castle_maps *m, const struct castle_note_key *k,
		      uint64_t since)
{
	struct castle_cidr c = { .family = k->family, .plen = k->plen };
	struct castle_block_val bv;
	struct castle_allow_val av;

	if ((k->family != 4 && k->family != 6) || k->plen > (k->family == 4 ? 32u : 128u))
		return false;
	memcpy(c.addr, k->addr, k->family == 4 ? 4 : 16);
	if (k->list == CASTLE_NOTE_ALLOW)
		return !castle_allow_lookup(m, &c, false, &av) && av.created_ns >= since;
	if (castle_block_lookup(m, &c, false, &bv))
		return false;
	return castle_cidr_is_host(&c) || bv.created_ns >= since;
}

int castle_notes_gc(const struct castle_maps *m, const struct castle_policy_conf *conf)
{
	struct keyset cand = { 0 }, man = { 0 };
	struct castle_note_key key, next;
	void *prev = NULL;
	uint64_t since;
	int gone = 0;

	/* Notes first, manual entries second: castlectl writes an entry before
	 * its note (ctl_lists.c), so a note seen here has its entry already. */
	while (bpf_map_get_next_key(m->notes, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (!in_policy(conf, &key) && keyset_add(&cand, &key))
			goto out;
	}
	if (!cand.n)
		goto out;
	since = castle_now_boot_ns();
	if (castle_manual_foreach(m, false, add_manual, &man))
		goto out;
	if (man.n) /* no manual entry: man.v is NULL, which qsort may not take */
		qsort(man.v, man.n, sizeof(*man.v), key_cmp);
	for (size_t i = 0; i < cand.n; i++) {
		/* A policy note the policy no longer has: only castled writes
		 * those, and it is here. */
		bool policy = cand.v[i].origin != 0;

		if (!policy && man.n && bsearch(&cand.v[i], man.v, man.n, sizeof(*man.v), key_cmp))
			continue;
		/* The walk is already history: castlectl may have added the
		 * entry and a new note of the same key since. Look again, one
		 * syscall before the delete. */
		if (!policy && entry_now(m, &cand.v[i], since))
			continue;
		if (!bpf_map_delete_elem(m->notes, &cand.v[i]))
			gone++;
	}
out:
	free(cand.v);
	free(man.v);
	return gone;
}
