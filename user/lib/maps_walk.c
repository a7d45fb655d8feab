// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps_walk.c - list block and allow entries: the live generation's policy
 * maps and the manual/auto maps, expired entries left out (and, when asked,
 * reaped). See maps.h for the contract of each function.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "maps_int.h"

int castle_map_foreach_key(int fd, size_t key_size, castle_key_cb cb, void *arg)
{
	uint8_t cur[CASTLE_MAP_KEY_MAX], next[CASTLE_MAP_KEY_MAX];
	bool more;
	int ret;

	if (key_size > sizeof(cur))
		return -EINVAL;
	if (bpf_map_get_next_key(fd, NULL, cur))
		return errno == ENOENT ? 0 : -errno;
	do {
		/* The successor first: the callback may delete cur, and the
		 * successor of a missing key is the first key again. */
		more = bpf_map_get_next_key(fd, cur, next) == 0;
		if (!more && errno != ENOENT)
			return -errno;
		ret = cb(fd, cur, arg);
		if (ret)
			return ret;
		memcpy(cur, next, key_size);
	} while (more);
	return 0;
}

/* Per-CPU slots summed over the CPUs: the live bank of block_hits, or
 * man_hits, read once per listing when its first entry with a slot comes
 * along (a slot lookup per entry would be one more syscall per entry). */
struct hit_sums {
	uint64_t *v;		/* by slot - base */
	int fd;			/* block_hits or man_hits */
	uint32_t base, n;	/* the live generation's bank, or all of man_hits */
	bool tried;
	int err;		/* the read failed: the listing fails too */
};

static void hit_sums_read(struct hit_sums *h)
{
	const uint32_t chunk = 4096;
	int ncpu = libbpf_num_possible_cpus();
	uint32_t per = h->n < chunk ? h->n : chunk, *keys = NULL, in = 0, out = 0, got = 0;
	uint64_t *vals = NULL;

	h->tried = true;
	if (!h->n)
		return;
	if (ncpu < 1) {
		h->err = ncpu ? ncpu : -EINVAL;
		return;
	}
	h->v = calloc(h->n, sizeof(*h->v));
	keys = malloc(per * sizeof(*keys));
	vals = malloc((size_t)per * (size_t)ncpu * sizeof(*vals));
	if (!h->v || !keys || !vals) {
		h->err = -ENOMEM;
		goto out;
	}
	/* An array's batch continues after the key it is given: start one
	 * before the bank. */
	in = h->base - 1;
	while (got < h->n) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		uint32_t cnt = h->n - got < per ? h->n - got : per;
		int ret = bpf_map_lookup_batch(h->fd, h->base || got ? &in : NULL, &out,
					       keys, vals, &cnt, &o);
		int e = ret ? errno : 0;

		if (ret && e != ENOENT) {
			h->err = -e;
			goto out;
		}
		for (uint32_t k = 0; k < cnt; k++) {
			uint32_t i = keys[k] - h->base;

			for (int c = 0; c < ncpu && i < h->n; c++)
				h->v[i] += vals[(size_t)k * (size_t)ncpu + (size_t)c];
		}
		got += cnt;
		if (e == ENOENT || !cnt)
			break;
		in = out;
	}
out:
	if (h->err) {
		free(h->v);
		h->v = NULL;
	}
	free(keys);
	free(vals);
}

struct walk_ctx {
	const struct castle_maps *m;
	struct hit_sums *sums;	/* the slots of this walk's map (block_hits for
				 * a policy map, man_hits for a manual one);
				 * NULL: not summed */
	int mm;			/* manual map index (reaping), -1 for a policy map */
	int family;
	bool lpm, allow, reap;
	uint64_t now, mono_to_boot;
	castle_entry_cb cb;
	void *arg;
};

/* Add what an entry's per-CPU slot, if it has one, counted to e->hits (0,
 * or -errno when the bank could not be read: the listing fails rather than
 * show less). */
static int add_slot(const struct walk_ctx *w, uint32_t slot, struct castle_entry *e)
{
	bool man = slot & CASTLE_HIT_MAN;
	uint32_t i = man ? CASTLE_MAN_SLOT_IDX(slot) : slot & ~CASTLE_HIT_SLOT;

	if (!(slot & CASTLE_HIT_SLOT))
		return 0;
	if (man)
		e->man_slot = i + 1;
	/* a manual map's entries name man_hits slots, a policy map's
	 * block_hits slots: the other kind is not this walk's */
	if (!w->sums || man != (w->mm >= 0))
		return 0;
	i -= w->sums->base;
	if (!w->sums->tried)
		hit_sums_read(w->sums);
	if (w->sums->err)
		return w->sums->err;
	if (i < w->sums->n)
		e->hits += w->sums->v[i];
	return 0;
}

#ifndef ENOTSUPP
#define ENOTSUPP 524	/* the kernel's, for an operation a map type lacks */
#endif

/* Delete an expired manual/auto entry, unless it was written again since
 * the walk read it (a batch is up to 4096 entries old): a re-ban by the
 * program or a castlectl block of the same key replaces an expired entry
 * that is not reaped yet, and must not go with it. */
static void reap(const struct walk_ctx *w, const uint8_t *key, const struct castle_block_val *seen)
{
	castle_man_reap(w->m, w->mm, key, seen->created_ns, seen->expires_ns);
}

/* One entry of the walk: its key and value as the map holds them. */
static int walk_entry(const struct walk_ctx *w, const uint8_t *key,
		      const union castle_list_val *val)
{
	struct castle_entry e = { .allow = w->allow };
	int ret;

	e.cidr.family = w->family;
	if (w->lpm) {
		uint32_t plen;
		memcpy(&plen, key, 4);
		e.cidr.plen = plen;
		memcpy(e.cidr.addr, key + 4, w->family == 4 ? 4 : 16);
	} else {
		e.cidr.plen = w->family == 4 ? 32 : 128;
		memcpy(e.cidr.addr, key, w->family == 4 ? 4 : 16);
	}
	if (w->allow) {
		e.origin = val->a.origin;
		e.created_ns = val->a.created_ns;
		e.hits = val->a.hits;
		ret = add_slot(w, val->a.hit_slot, &e);
		if (ret)
			return ret;
	} else {
		e.origin = val->b.origin;
		e.class_slot = val->b.class_slot;
		e.expires_ns = val->b.expires_ns;
		e.created_ns = val->b.created_ns;
		e.hits = val->b.hits;
		/* a policy entry's slot is no class; a manual/auto one keeps
		 * its class in the low byte */
		if (val->b.class_slot & CASTLE_HIT_MAN)
			e.class_slot = val->b.class_slot & 0xff;
		else if (val->b.class_slot & CASTLE_HIT_SLOT)
			e.class_slot = CASTLE_NO_CLASS;
		if (e.class_slot >= CASTLE_MAX_CLASSES)
			e.class_slot = CASTLE_NO_CLASS;
		ret = add_slot(w, val->b.class_slot, &e);
		if (ret)
			return ret;
		/* coarse monotonic in the map, boot time for callers */
		e.last_hit_ns = val->b.last_hit_ns ? val->b.last_hit_ns + w->mono_to_boot : 0;
		if (e.expires_ns && e.expires_ns <= w->now) {
			if (w->reap && w->mm >= 0 && e.origin != CASTLE_ORIGIN_POLICY)
				reap(w, key, &val->b);
			return 0;
		}
	}
	return w->cb(&e, w->arg);
}

static int walk_one(int fd, const void *kp, void *arg)
{
	union castle_list_val val;

	if (bpf_map_lookup_elem(fd, kp, &val))
		return 0; /* deleted meanwhile */
	return walk_entry(arg, kp, &val);
}

/*
 * A hash map in batches of keys and values (a syscall per 4096 entries
 * instead of two per entry: castled walks every manual entry each second,
 * and a flood may have auto-banned a million sources). 1 when the map takes
 * no batches (a kernel without them for hash maps; the caller walks it key
 * by key), 0, or -errno.
 * Every entry present for the whole walk is seen once: a batch walks the
 * buckets in order, and the callback deleting an entry (reaping) does not
 * move the others.
 */
struct castle_walk_stats castle_walk_stats;

static int walk_batch(int fd, size_t ksz, const struct walk_ctx *w)
{
	uint32_t chunk = 4096, in = 0, out = 0, busy = 0;
	size_t vsz = w->allow ? sizeof(struct castle_allow_val) : sizeof(struct castle_block_val);
	uint8_t *keys = malloc(chunk * ksz), *vals = malloc(chunk * vsz);
	bool first = true;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	for (;;) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		uint32_t cnt = chunk;
		int r = bpf_map_lookup_batch(fd, first ? NULL : &in, &out, keys, vals, &cnt, &o);
		int e = r ? errno : 0;

		if (e == EBUSY && ++busy < 100)
			continue; /* a bucket locked by a program: again */
		if (e == ENOSPC && chunk < (1u << 20)) {
			/* one bucket holds more than a batch: a bigger one */
			uint8_t *k2 = realloc(keys, 2 * chunk * ksz), *v2;

			if (k2)
				keys = k2;
			v2 = k2 ? realloc(vals, 2 * chunk * vsz) : NULL;
			if (!v2) {
				ret = -ENOMEM;
				break;
			}
			vals = v2;
			chunk *= 2;
			continue;
		}
		if (r && e != ENOENT) {
			/* no batch ops for this map type: key by key */
			ret = first && (e == EINVAL || e == ENOTSUPP || e == EOPNOTSUPP) ? 1 : -e;
			break;
		}
		first = false;
		if (cnt)
			__atomic_fetch_add(&castle_walk_stats.batches, 1, __ATOMIC_RELAXED);
		for (uint32_t i = 0; i < cnt && !ret; i++) {
			union castle_list_val v;

			memcpy(&v, vals + i * vsz, vsz);
			ret = walk_entry(w, keys + i * ksz, &v);
		}
		if (ret || e == ENOENT)
			break;
		in = out;
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* Walk one map: exact (key = address) or LPM (key = castle_lpm4/6). A hash
 * map (`hash`: the exact maps, and a generation's CIDRs by prefix length,
 * whose keys are laid out as a trie's) is read in batches, a trie key by
 * key. Every entry present for the whole walk is seen exactly once, reaping
 * or not. */
static int walk(const struct castle_maps *m, struct hit_sums *sums, int mm, int fd, int family,
		bool lpm, bool hash, bool allow, bool reap, uint64_t now, castle_entry_cb cb,
		void *arg)
{
	struct walk_ctx w = { .m = m, .sums = sums, .mm = mm, .family = family, .lpm = lpm,
			      .allow = allow, .reap = reap, .now = now, .cb = cb, .arg = arg };
	size_t ksz = lpm ? (family == 4 ? sizeof(struct castle_lpm4) : sizeof(struct castle_lpm6))
			 : (family == 4 ? 4 : 16);
	struct timespec mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	w.mono_to_boot = castle_now_boot_ns() -
			 ((uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec);
	if (hash) {
		int ret = walk_batch(fd, ksz, &w);

		if (ret <= 0)
			return ret;
		__atomic_fetch_add(&castle_walk_stats.hash_key_by_key, 1, __ATOMIC_RELAXED);
	}
	return castle_map_foreach_key(fd, ksz, walk_one, &w);
}

/* One list of one family: its policy map (in the live generation) and its
 * manual/auto map (-1: none). lpm: keys are castle_lpm4/6; the policy map
 * is a hash unless lpm (a trie), or it is a by-length CIDR hash (nhash). */
struct list_ref {
	int pm, mm, family;
	bool lpm, nhash;
};

/* Walk the lists in order, each policy map then its manual map, with the
 * policy maps' per-CPU hit slots summed in. */
static int walk_lists(const struct castle_maps *m, const struct list_ref *lists, size_t n,
		      bool allow, bool reap, castle_entry_cb cb, void *arg)
{
	uint64_t now = castle_now_boot_ns();
	struct hit_sums sums = { .fd = m->block_hits }, msums = { .fd = m->man_hits };
	uint32_t gen = 0;
	int ret = castle_gen_live(m, &gen, NULL);

	if (ret)
		return ret;
	sums.n = castle_hit_bank_of(m);
	sums.base = gen * sums.n;
	msums.n = castle_man_hits_of(m);
	for (size_t i = 0; i < n; i++) {
		int fd = castle_gen_inner_fd(m, lists[i].pm, gen);
		/* a list that cannot be read fails the walk: skipping it would
		 * show the policy's entries as absent */
		if (fd < 0 && fd != -ENOENT) {
			ret = fd;
			break;
		}
		if (fd >= 0) {
			ret = walk(m, &sums, -1, fd, lists[i].family, lists[i].lpm,
				   !lists[i].lpm || lists[i].nhash, allow, false, now, cb, arg);
			close(fd);
			if (ret)
				break;
		}
		if (lists[i].mm < 0)
			continue;
		ret = walk(m, &msums, lists[i].mm, m->man[lists[i].mm], lists[i].family, lists[i].lpm,
			   !lists[i].lpm, allow, reap, now, cb, arg);
		if (ret)
			break;
	}
	free(sums.v);
	free(msums.v);
	return ret;
}

int castle_block_foreach(const struct castle_maps *m, bool reap, castle_entry_cb cb, void *arg)
{
	static const struct list_ref lists[] = {
		{ CASTLE_PM_BLOCK4, CASTLE_MM_BLOCK4, 4, false, false },
		{ CASTLE_PM_NHASH4, -1, 4, true, true },
		{ CASTLE_PM_NET4, CASTLE_MM_NET4, 4, true, false },
		{ CASTLE_PM_BLOCK6, CASTLE_MM_BLOCK6, 6, false, false },
		{ CASTLE_PM_NHASH6, -1, 6, true, true },
		{ CASTLE_PM_NET6, CASTLE_MM_NET6, 6, true, false },
	};

	return walk_lists(m, lists, sizeof(lists) / sizeof(lists[0]), false, reap, cb, arg);
}

int castle_allow_foreach(const struct castle_maps *m, castle_entry_cb cb, void *arg)
{
	static const struct list_ref lists[] = {
		{ CASTLE_PM_ALLOW4, CASTLE_MM_ALLOW4, 4, true, false },
		{ CASTLE_PM_ALLOW6, CASTLE_MM_ALLOW6, 6, true, false },
	};

	return walk_lists(m, lists, sizeof(lists) / sizeof(lists[0]), true, false, cb, arg);
}

int castle_manual_foreach(const struct castle_maps *m, bool reap, castle_entry_cb cb, void *arg)
{
	static const struct { int mm, family; bool lpm, allow; } lists[] = {
		{ CASTLE_MM_BLOCK4, 4, false, false }, { CASTLE_MM_NET4, 4, true, false },
		{ CASTLE_MM_BLOCK6, 6, false, false }, { CASTLE_MM_NET6, 6, true, false },
		{ CASTLE_MM_ALLOW4, 4, true, true },   { CASTLE_MM_ALLOW6, 6, true, true },
	};
	uint64_t now = castle_now_boot_ns();

	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int ret = walk(m, NULL, lists[i].mm, m->man[lists[i].mm], lists[i].family, lists[i].lpm,
			       !lists[i].lpm, lists[i].allow, reap, now, cb, arg);
		if (ret)
			return ret;
	}
	return 0;
}
