// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * gen.c - policy generations: build one in fresh inner maps, switch to it
 * atomically, and put a generation's block CIDRs in the prefix-length hash
 * or the trie. See maps.h for the contract of each function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "maps.h"

static int put(int fd, const void *k, const void *v, uint64_t flags)
{
	return bpf_map_update_elem(fd, k, v, flags) ? -errno : 0;
}

/* ---- generations -------------------------------------------------------- */

struct inner_spec {
	enum bpf_map_type type;
	uint32_t key_size;
	uint32_t value_size;
};

static const struct inner_spec inner_specs[CASTLE_PM_MAX] = {
	[CASTLE_PM_ALLOW4] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm4), sizeof(struct castle_allow_val) },
	[CASTLE_PM_ALLOW6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm6), sizeof(struct castle_allow_val) },
	[CASTLE_PM_BLOCK4] = { BPF_MAP_TYPE_HASH, sizeof(uint32_t), sizeof(struct castle_block_val) },
	[CASTLE_PM_BLOCK6] = { BPF_MAP_TYPE_HASH, sizeof(struct castle_in6), sizeof(struct castle_block_val) },
	[CASTLE_PM_NET4] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm4), sizeof(struct castle_block_val) },
	[CASTLE_PM_NET6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm6), sizeof(struct castle_block_val) },
	[CASTLE_PM_CSRC4] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm4), sizeof(struct castle_csrc_val) },
	[CASTLE_PM_CSRC6] = { BPF_MAP_TYPE_LPM_TRIE, sizeof(struct castle_lpm6), sizeof(struct castle_csrc_val) },
	[CASTLE_PM_SNI] = { BPF_MAP_TYPE_HASH, sizeof(struct castle_sni_key), sizeof(uint32_t) },
	[CASTLE_PM_NHASH4] = { BPF_MAP_TYPE_HASH, sizeof(struct castle_lpm4), sizeof(struct castle_block_val) },
	[CASTLE_PM_NHASH6] = { BPF_MAP_TYPE_HASH, sizeof(struct castle_lpm6), sizeof(struct castle_block_val) },
};

static bool net_map(int pm)
{
	return pm == CASTLE_PM_NET4 || pm == CASTLE_PM_NET6 || pm == CASTLE_PM_NHASH4 ||
	       pm == CASTLE_PM_NHASH6;
}

static int inner_create(struct castle_gen *g, int pm, uint32_t n, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_map_create_opts, o, .map_flags = BPF_F_NO_PREALLOC);
	char name[16];

	snprintf(name, sizeof(name), "cg_%s", castle_pol_map_names[pm] + 4);
	g->inner[pm] = bpf_map_create(inner_specs[pm].type, name, inner_specs[pm].key_size,
				      inner_specs[pm].value_size, n ? n : 1, &o);
	if (g->inner[pm] < 0) {
		int e = errno;
		snprintf(err, errlen, "create map %s (%u entries): %s", castle_pol_map_names[pm], n,
			 strerror(e));
		return -e;
	}
	return 0;
}

/* The block-CIDR maps are made by castle_gen_commit (place_nets). */
int castle_gen_begin(const struct castle_gen_sizes *sz, struct castle_gen *g, char *err, size_t errlen)
{
	struct castle_gen_sizes def = {
		CASTLE_POL_EXACT_ENTRIES, CASTLE_POL_NET_ENTRIES, CASTLE_POL_ALLOW_ENTRIES,
	};

	if (!sz)
		sz = &def;
	memset(g, 0, sizeof(*g));
	g->net_size = sz->net;
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		g->inner[i] = -1;
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		uint32_t n;

		switch (i) {
		case CASTLE_PM_BLOCK4: case CASTLE_PM_BLOCK6: n = sz->exact; break;
		case CASTLE_PM_ALLOW4: case CASTLE_PM_ALLOW6: n = sz->allow; break;
		case CASTLE_PM_SNI: n = CASTLE_SNI_ENTRIES; break;
		default: n = CASTLE_CSRC_ENTRIES; break;
		}
		if (net_map(i))
			continue;
		int ret = inner_create(g, i, n, err, errlen);
		if (ret) {
			castle_gen_abort(g);
			return ret;
		}
	}
	return 0;
}

void castle_gen_abort(struct castle_gen *g)
{
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		if (g->inner[i] >= 0)
			close(g->inner[i]);
		g->inner[i] = -1;
	}
	for (int f = 0; f < 2; f++) {
		free(g->net[f]);
		g->net[f] = NULL;
		g->nnet[f] = g->capnet[f] = 0;
	}
}

int castle_gen_inner_fd(const struct castle_maps *m, int pm, uint32_t gen)
{
	uint32_t id;

	if (m->pol[pm] < 0 || bpf_map_lookup_elem(m->pol[pm], &gen, &id))
		return -ENOENT; /* not pinned (an older build's pins), or no policy yet */
	/* by id: the kernel asks for CAP_SYS_ADMIN here, CAP_BPF is not enough */
	int fd = bpf_map_get_fd_by_id(id);

	return fd < 0 ? -errno : fd;
}

int castle_gen_live(const struct castle_maps *m, uint32_t *gen, struct castle_policy *pol)
{
	struct castle_state st;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(m->state, &zero, &st))
		return -errno;
	*gen = st.gen & 1;
	if (pol && bpf_map_lookup_elem(m->policy, gen, pol))
		return -errno;
	return 0;
}

bool castle_class_slots_read(const struct castle_maps *m, uint32_t gen,
			     const struct castle_policy *pol, struct castle_class_slots *cs)
{
	if (m->class_slots >= 0 && !bpf_map_lookup_elem(m->class_slots, &gen, cs) &&
	    cs->serial == pol->serial)
		return true;
	memset(cs, 0, sizeof(*cs));
	cs->serial = pol->serial;
	for (uint32_t i = 0; i < pol->nclasses && i < CASTLE_MAX_CLASSES; i++)
		cs->last_held[i] = pol->serial;
	return false;
}

void castle_class_slots_of(const struct castle_maps *m, uint32_t gen, const struct castle_policy *pol,
			   uint8_t slot_of[CASTLE_MAX_CLASSES])
{
	struct castle_class_slots cs;

	castle_class_slots_read(m, gen, pol, &cs);
	for (uint32_t i = 0; i < CASTLE_MAX_CLASSES; i++)
		slot_of[i] = (uint8_t)castle_class_slot(&cs, i);
}

int castle_class_at(const struct castle_policy *pol, const uint8_t slot_of[CASTLE_MAX_CLASSES],
		    uint32_t slot)
{
	for (uint32_t i = 0; i < pol->nclasses && i < CASTLE_MAX_CLASSES; i++)
		if (slot_of[i] == slot)
			return (int)i;
	return -1;
}

static bool same_name(const char *a, const char *b)
{
	return *a && !strncmp(a, b, CASTLE_CLASS_NAME_LEN);
}

/* Of the slots not in `avoid`, the one held longest ago (never: 0). */
static uint32_t oldest_slot(const __u64 last_held[CASTLE_MAX_CLASSES], uint16_t avoid)
{
	uint32_t best = CASTLE_MAX_CLASSES;

	for (uint32_t s = 0; s < CASTLE_MAX_CLASSES; s++)
		if (!(avoid & (1u << s)) &&
		    (best == CASTLE_MAX_CLASSES || last_held[s] < last_held[best]))
			best = s;
	return best;
}

uint16_t castle_class_slots_assign(const struct castle_policy *live,
				   const struct castle_class_slots *live_cs,
				   const struct castle_policy *next, uint64_t serial,
				   struct castle_class_slots *out)
{
	uint32_t n = next->nclasses < CASTLE_MAX_CLASSES ? next->nclasses : CASTLE_MAX_CLASSES;
	uint32_t nlive = live && live_cs ? (live->nclasses < CASTLE_MAX_CLASSES ? live->nclasses
									 : CASTLE_MAX_CLASSES) : 0;
	uint8_t slot_of[CASTLE_MAX_CLASSES] = { 0 };
	uint16_t held = 0, taken = 0, fresh = 0;
	bool placed[CASTLE_MAX_CLASSES] = { false };

	memset(out, 0, sizeof(*out));
	if (live && live_cs)
		memcpy(out->last_held, live_cs->last_held, sizeof(out->last_held));
	for (uint32_t j = 0; j < nlive; j++)
		held |= (uint16_t)(1u << castle_class_slot(live_cs, j));
	/* Names the live policy has keep their slots (names are unique within
	 * a policy: policy.c refuses a duplicate). */
	for (uint32_t i = 0; i < n; i++)
		for (uint32_t j = 0; j < nlive; j++) {
			uint32_t s = castle_class_slot(live_cs, j);

			if (!same_name(next->class_names[i], live->class_names[j]) ||
			    (taken & (1u << s)))
				continue;
			slot_of[i] = (uint8_t)s;
			taken |= (uint16_t)(1u << s);
			placed[i] = true;
			break;
		}
	/* New names: a slot no live class counts in (the buckets and counts
	 * of a class this reload removes do not pass to one it adds while
	 * another slot is free), the one held longest ago; with every slot
	 * held by live and new names, one a removed class leaves. */
	for (uint32_t i = 0; i < n; i++) {
		if (placed[i])
			continue;
		uint32_t s = oldest_slot(out->last_held, taken | held);

		if (s == CASTLE_MAX_CLASSES)
			s = oldest_slot(out->last_held, taken);
		slot_of[i] = (uint8_t)(s & (CASTLE_MAX_CLASSES - 1));
		taken |= (uint16_t)(1u << slot_of[i]);
		fresh |= (uint16_t)(1u << slot_of[i]);
	}
	/* Indexes past nclasses take the slots no class holds, so that the map
	 * stays a permutation (nothing reads them). */
	for (uint32_t i = n, s = 0; i < CASTLE_MAX_CLASSES; i++) {
		while (s < CASTLE_MAX_CLASSES - 1 && (taken & (1u << s)))
			s++;
		slot_of[i] = (uint8_t)s;
		taken |= (uint16_t)(1u << s);
	}
	out->serial = serial;
	for (uint32_t i = 0; i < CASTLE_MAX_CLASSES; i++) {
		out->slot_xor[i] = (uint8_t)(i ^ slot_of[i]);
		if (i < n)
			out->last_held[slot_of[i]] = serial;
	}
	return fresh;
}

/* Fill the hash of one family's block CIDRs: keys packed for batch updates. */
static int fill_nhash(int fd, const struct castle_gen_net *net, size_t n, size_t ksz)
{
	uint8_t *keys = malloc(n * ksz + 1);
	struct castle_block_val *vals = malloc(n * sizeof(*vals) + 1);
	const size_t chunk = 65536;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		memcpy(keys + i * ksz, &net[i].key, ksz);
		vals[i] = net[i].v;
	}
	for (size_t off = 0; off < n && !ret; off += chunk) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
		uint32_t cnt = n - off < chunk ? n - off : chunk;

		if (bpf_map_update_batch(fd, keys + off * ksz, vals + off, &cnt, &o))
			ret = -errno;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

static int len_desc(const void *a, const void *b)
{
	return (int)*(const uint8_t *)b - (int)*(const uint8_t *)a;
}

/* The bank of per-CPU hit slots a generation's CIDRs take (see
 * CASTLE_HIT_SLOT): slots [base, base + size) of block_hits. */
struct hit_slots {
	uint32_t base, size;
};

/* Give the CIDRs of family f the next free slots of hs, while they last. */
static void take_slots(struct castle_gen *g, int f, const struct hit_slots *hs, uint32_t *next)
{
	for (size_t i = 0; i < g->nnet[f] && *next < hs->size; i++)
		g->net[f][i].v.class_slot = CASTLE_HIT_SLOT | (hs->base + (*next)++);
}

struct allow_slots {
	const struct hit_slots *hs;
	uint32_t *next;
};

/* One allow CIDR of the generation being built: its slot, while they last
 * (its map is not live yet, so rewriting the value races with nothing). */
static int allow_slot(int fd, const void *key, void *arg)
{
	struct allow_slots *a = arg;
	struct castle_allow_val v;

	if (*a->next >= a->hs->size)
		return 1; /* the bank is used up: stop the walk */
	if (bpf_map_lookup_elem(fd, key, &v))
		return -errno;
	v.hit_slot = CASTLE_HIT_SLOT | (a->hs->base + *a->next);
	if (bpf_map_update_elem(fd, key, &v, BPF_EXIST))
		return -errno;
	++*a->next;
	return 0;
}

/* Give the allow CIDRs the slots the block CIDRs left. 0 or -errno. */
static int take_allow_slots(struct castle_gen *g, const struct hit_slots *hs, uint32_t *next)
{
	struct allow_slots a = { hs, next };

	for (int f = 0; f < 2; f++) {
		int pm = f ? CASTLE_PM_ALLOW6 : CASTLE_PM_ALLOW4;
		int ret = castle_map_foreach_key(g->inner[pm], f ? sizeof(struct castle_lpm6)
								 : sizeof(struct castle_lpm4),
						 allow_slot, &a);
		if (ret < 0)
			return ret;
	}
	return 0;
}

/* Give exact blocks the slots the CIDRs left, in the hash's order (a
 * million entries cannot all have one). Batches: a lookup, the values
 * rewritten, an update; the maps are not live yet. 0 or -errno. */
static int take_exact_slots(struct castle_gen *g, const struct hit_slots *hs, uint32_t *next)
{
	const uint32_t chunk = 4096;	/* more than any bucket holds */
	struct castle_block_val *vals = malloc(chunk * sizeof(*vals));
	struct castle_in6 *keys = malloc(chunk * sizeof(*keys)); /* the larger key */
	int ret = 0;

	if (!vals || !keys) {
		ret = -ENOMEM;
		goto out;
	}
	for (int f = 0; f < 2 && !ret && *next < hs->size; f++) {
		int fd = g->inner[f ? CASTLE_PM_BLOCK6 : CASTLE_PM_BLOCK4];
		uint32_t in = 0, out = 0;
		bool first = true;

		while (*next < hs->size) {
			LIBBPF_OPTS(bpf_map_batch_opts, o);
			uint32_t cnt = chunk, take;
			int e = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt,
						     &o) ? errno : 0;

			if (e && e != ENOENT) {
				ret = -e;
				break;
			}
			take = cnt < hs->size - *next ? cnt : hs->size - *next;
			for (uint32_t i = 0; i < take; i++)
				vals[i].class_slot = CASTLE_HIT_SLOT | (hs->base + (*next)++);
			if (take && bpf_map_update_batch(fd, keys, vals, &take, &o)) {
				ret = -errno;
				break;
			}
			if (e == ENOENT)
				break;
			in = out;
			first = false;
		}
	}
out:
	free(vals);
	free(keys);
	return ret;
}

/*
 * Make the block-CIDR maps of family f (0: IPv4) and put g's CIDRs of that
 * family in one of them: the prefix-length hash when they come in at most
 * CASTLE_NHASH_MAX4/6 lengths (and the pins have it, and no older program may
 * read the generation), else the trie. The other map is made with one entry:
 * every outer slot holds a map. lens gets the lengths of the hash.
 */
static int place_nets(const struct castle_maps *m, struct castle_gen *g, int f,
		      struct castle_nhash_lens *lens, const struct hit_slots *hs, uint32_t *next,
		      char *err, size_t errlen)
{
	int pm_trie = f ? CASTLE_PM_NET6 : CASTLE_PM_NET4;
	int pm_hash = f ? CASTLE_PM_NHASH6 : CASTLE_PM_NHASH4;
	size_t n = g->nnet[f], ksz = f ? sizeof(struct castle_lpm6) : sizeof(struct castle_lpm4);
	uint32_t size = n > g->net_size ? (n > UINT32_MAX ? UINT32_MAX : (uint32_t)n) : g->net_size;
	uint8_t len[CASTLE_NHASH_LENS];
	bool seen[129] = { false }, hash;
	unsigned int nlen = 0;
	int ret;

	for (size_t i = 0; i < n; i++) {
		uint32_t l = g->net[f][i].key.prefixlen;

		if (l > 128 || seen[l])
			continue;
		seen[l] = true;
		if (nlen < CASTLE_NHASH_LENS)
			len[nlen] = (uint8_t)l;
		nlen++;
	}
	hash = n && nlen <= (f ? CASTLE_NHASH_MAX6 : CASTLE_NHASH_MAX4) && m->pol[pm_hash] >= 0 &&
	       m->nlens >= 0 && !m->trie_only;
	take_slots(g, f, hs, next);
	ret = inner_create(g, pm_trie, hash ? 1 : size, err, errlen);
	if (!ret && m->pol[pm_hash] >= 0)
		ret = inner_create(g, pm_hash, hash ? size : 1, err, errlen);
	if (ret)
		return ret;
	if (hash) {
		qsort(len, nlen, 1, len_desc);
		memcpy(f ? lens->len6 : lens->len4, len, nlen);
		*(f ? &lens->n6 : &lens->n4) = (uint8_t)nlen;
		ret = fill_nhash(g->inner[pm_hash], g->net[f], n, ksz);
		if (ret)
			snprintf(err, errlen, "add %zu IPv%d block CIDRs: %s", n, f ? 6 : 4,
				 strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < n; i++) {
		if (bpf_map_update_elem(g->inner[pm_trie], &g->net[f][i].key, &g->net[f][i].v,
					BPF_ANY)) {
			struct castle_cidr c = { .family = f ? 6 : 4,
						 .plen = (uint8_t)g->net[f][i].key.prefixlen };
			char s[CASTLE_CIDR_STRLEN];

			ret = -errno;
			memcpy(c.addr, g->net[f][i].key.addr, f ? 16 : 4);
			snprintf(err, errlen, "add block %s: %s", castle_cidr_str(&c, s, sizeof(s)),
				 strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* Zero the class counters of the slots in mask, on every interface. A
 * failure leaves a new name the counts its slot held: not worth failing the
 * commit for. */
static void zero_class_stats(const struct castle_maps *m, uint16_t mask)
{
	for (uint32_t s = 0; s < CASTLE_MAX_CLASSES && m->class_stats >= 0; s++) {
		if (!(mask & (1u << s)))
			continue;
		for (uint32_t f = 0; f < CASTLE_MAX_IFACES; f++)
			(void)castle_percpu_zero(m->class_stats, CASTLE_CLASS_STATS_KEY(f, s), 1,
						 sizeof(struct castle_class_stats));
	}
}

/*
 * The order is what makes a reload atomic for packets:
 *  1. fill the standby slot (policy struct, then each outer map's slot);
 *  2. flip state.gen - one aligned 32-bit store, so a packet reads the old or
 *     the new index, and reads it once;
 *  3. update an outer map once more: for map-in-map updates the kernel waits
 *     for an RCU grace period, i.e. until every program that might still be
 *     running on the old generation has returned;
 *  4. only then empty the old slot, which frees the old inner maps.
 */
int castle_gen_commit(struct castle_maps *m, struct castle_gen *g, const struct castle_policy *pol,
		      char *err, size_t errlen)
{
	struct castle_state st;
	struct castle_class_slots old_slots;
	bool slots_written = false;
	uint32_t zero = 0, live, standby;
	int ret;

	if (bpf_map_lookup_elem(m->state, &zero, &st)) {
		ret = -errno;
		snprintf(err, errlen, "read state: %s", strerror(-ret));
		return ret;
	}
	live = st.gen & 1;
	standby = live ^ 1;

	/* Bank `standby` last served the generation before the live one, and
	 * the last commit's grace period (step 3 below) outlasted every program
	 * that counted in it: zero the slots this one takes. Without block_hits
	 * (older pins) or with the zeroing failed, the CIDRs keep the locked
	 * add. Commits never run at once (castled holds the pin lock). */
	struct hit_slots hs = { 0 };
	uint32_t nslots = 0;
	size_t nall = (size_t)g->nnet[0] + g->nnet[1] + g->nallow + g->nexact;

	hs.size = castle_hit_bank_of(m);
	hs.base = standby * hs.size;
	g->hit_err = castle_hits_zero(m, hs.base, nall < hs.size ? (uint32_t)nall : hs.size);
	if (g->hit_err)
		hs.size = 0;

	struct castle_nhash_lens lens = { 0 };
	for (int f = 0; f < 2; f++) {
		ret = place_nets(m, g, f, &lens, &hs, &nslots, err, errlen);
		if (ret)
			return ret;
	}
	/* A failure leaves some allow CIDRs with the locked add: counted, only
	 * slower. */
	if (!g->hit_err && hs.size && nslots < hs.size)
		g->hit_err = take_allow_slots(g, &hs, &nslots);
	if (!g->hit_err && hs.size && nslots < hs.size)
		g->hit_err = take_exact_slots(g, &hs, &nslots);
	if (m->nlens >= 0 && bpf_map_update_elem(m->nlens, &standby, &lens, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "write %s[%u]: %s", CASTLE_MAP_POL_NLENS, standby,
			 strerror(-ret));
		return ret;
	}

	/* The classes' counter slots, before the policy that names them (a
	 * failure below puts the entry back: see `undo`). The counters of a
	 * slot given to a new name start from zero. */
	if (m->class_slots >= 0) {
		struct castle_class_slots cs = { 0 };

		if (g->slots_set)
			cs = g->slots;
		cs.serial = pol->serial;
		zero_class_stats(m, g->fresh);
		if (bpf_map_lookup_elem(m->class_slots, &standby, &old_slots))
			memset(&old_slots, 0, sizeof(old_slots));
		if (bpf_map_update_elem(m->class_slots, &standby, &cs, BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "write %s[%u]: %s", CASTLE_MAP_CLASS_SLOTS, standby,
				 strerror(-ret));
			return ret;
		}
		slots_written = true;
	}

	/* Which lists the programs may skip in this generation. */
	struct castle_policy *slot = malloc(sizeof(*slot));
	if (!slot) {
		snprintf(err, errlen, "policy slot: %s", strerror(ENOMEM));
		ret = -ENOMEM;
		goto undo;
	}
	*slot = *pol;
	slot->event_cost_ns = 1000000000u / (pol->events_per_sec ? pol->events_per_sec
								  : CASTLE_EVENTS_PER_SEC_DEFAULT);
	slot->lists = 0;
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		uint8_t key[sizeof(struct castle_sni_key)]; /* the largest inner key */

		if (g->inner[i] >= 0 && bpf_map_get_next_key(g->inner[i], NULL, key) == 0)
			slot->lists |= 1u << i;
	}
	ret = bpf_map_update_elem(m->policy, &standby, slot, BPF_ANY) ? -errno : 0;
	free(slot);
	if (ret) {
		snprintf(err, errlen, "write policy slot %u: %s", standby, strerror(-ret));
		goto undo;
	}
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		if (m->pol[i] < 0)
			continue; /* pol_nhash4/6 not pinned: never used */
		if (bpf_map_update_elem(m->pol[i], &standby, &g->inner[i], BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "install %s[%u]: %s", castle_pol_map_names[i], standby,
				 strerror(-ret));
			goto undo;
		}
	}

	/* Re-read: ev_tat may have moved since; only gen is ours to change. */
	if (bpf_map_lookup_elem(m->state, &zero, &st)) {
		ret = -errno;
		snprintf(err, errlen, "read state: %s", strerror(-ret));
		goto undo;
	}
	st.gen = standby;
	if (bpf_map_update_elem(m->state, &zero, &st, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "switch generation: %s", strerror(-ret));
		goto undo;
	}

	/* Grace period: see the comment above. */
	bpf_map_update_elem(m->pol[CASTLE_PM_SNI], &standby, &g->inner[CASTLE_PM_SNI], BPF_ANY);
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		if (m->pol[i] >= 0)
			bpf_map_delete_elem(m->pol[i], &live);

	/* No program counts in the old generation any more: the slots its
	 * removed classes held start from zero for their new names. */
	zero_class_stats(m, g->fresh_after);
	castle_gen_abort(g); /* our fds; the outer maps hold their own references */
	g->hit_slots = nslots;
	return 0;
undo:
	/* The slots written for a policy that did not go live would match a
	 * policy of the same serial an older castled may write there next. */
	if (slots_written)
		bpf_map_update_elem(m->class_slots, &standby, &old_slots, BPF_ANY);
	return ret;
}

int castle_gen_add_block(struct castle_gen *g, const struct castle_cidr *c, const struct castle_block_val *v)
{
	int f = c->family == 4 ? 0 : 1;
	struct castle_gen_net *e;
	struct castle_cidr masked = *c;

	if (castle_cidr_is_host(c)) {
		int ret = put(g->inner[f ? CASTLE_PM_BLOCK6 : CASTLE_PM_BLOCK4], c->addr, v, BPF_ANY);

		g->nexact += !ret;
		return ret;
	}
	if (g->nnet[f] == g->capnet[f]) {
		size_t cap = g->capnet[f] ? g->capnet[f] * 2 : 64;
		void *p = realloc(g->net[f], cap * sizeof(*g->net[f]));

		if (!p)
			return -ENOMEM;
		g->net[f] = p;
		g->capnet[f] = cap;
	}
	castle_cidr_mask(&masked); /* a hash key must not carry host bits */
	e = &g->net[f][g->nnet[f]++];
	castle_entry_key(&masked, false, &e->key); /* zeroes the rest */
	e->v = *v;
	return 0;
}

int castle_gen_add_allow(struct castle_gen *g, const struct castle_cidr *c, const struct castle_allow_val *v)
{
	struct castle_lpm6 k;
	int ret = put(g->inner[c->family == 4 ? CASTLE_PM_ALLOW4 : CASTLE_PM_ALLOW6],
		      castle_entry_key(c, false, &k), v, BPF_ANY);

	g->nallow += !ret;
	return ret;
}

int castle_gen_add_csrc(struct castle_gen *g, const struct castle_cidr *c, uint32_t classes)
{
	struct castle_csrc_val v = { .classes = classes };
	struct castle_lpm6 k;

	return put(g->inner[c->family == 4 ? CASTLE_PM_CSRC4 : CASTLE_PM_CSRC6],
		   castle_entry_key(c, false, &k), &v, BPF_ANY);
}

int castle_gen_add_sni(struct castle_gen *g, const char *name)
{
	struct castle_sni_key k = { 0 };
	uint32_t one = 1;

	if (strlen(name) >= sizeof(k.name))
		return -ENAMETOOLONG;
	for (size_t i = 0; name[i]; i++)
		k.name[i] = (name[i] >= 'A' && name[i] <= 'Z') ? name[i] + 32 : name[i];
	return put(g->inner[CASTLE_PM_SNI], &k, &one, BPF_ANY);
}

int castle_gen_add_block_batch(struct castle_gen *g, int family, const void *keys,
			       const struct castle_block_val *vals, uint32_t n)
{
	int fd = g->inner[family == 4 ? CASTLE_PM_BLOCK4 : CASTLE_PM_BLOCK6];
	size_t ksz = family == 4 ? 4 : 16;
	const uint32_t chunk = 65536;

	for (uint32_t off = 0; off < n; off += chunk) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
		uint32_t cnt = n - off < chunk ? n - off : chunk;

		if (bpf_map_update_batch(fd, (const char *)keys + off * ksz, vals + off, &cnt, &o))
			return -errno;
		g->nexact += cnt;
	}
	return 0;
}
