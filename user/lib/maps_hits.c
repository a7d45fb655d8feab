// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps_hits.c - the per-CPU hit slots of the policy's entries (block_hits,
 * see CASTLE_HIT_SLOT) and of manual/auto entries (man_hits, claimed in the
 * man_slots bitmap, see CASTLE_HIT_MAN): how many a host gets, reading an
 * entry's hits, zeroing a bank before a generation uses it, claiming and
 * sweeping manual slots. See maps.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

#define HIT_BYTES (4u << 20)	/* both banks, all CPUs */
#define HIT_BANK_MAX 65536u
#define HIT_BANK_MIN 256u

uint32_t castle_hit_bank(void)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t n;

	if (ncpu < 1)
		ncpu = 1;
	n = HIT_BYTES / (2ull * sizeof(uint64_t) * (uint64_t)ncpu);
	return n > HIT_BANK_MAX ? HIT_BANK_MAX : n < HIT_BANK_MIN ? HIT_BANK_MIN : (uint32_t)n;
}

uint32_t castle_hit_bank_of(const struct castle_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (m->block_hits < 0 || bpf_obj_get_info_by_fd(m->block_hits, &info, &len))
		return 0;
	return info.max_entries / 2;
}

/* *sum += slot i of the per-CPU array fd, over the CPUs. */
static int slot_sum(int fd, uint32_t i, uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *per;
	int ret = 0;

	if (fd < 0 || ncpu < 1)
		return -ENOENT;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(fd, &i, per))
		ret = -errno;
	else
		for (int c = 0; c < ncpu; c++)
			*sum += per[c];
	free(per);
	return ret;
}

int castle_block_hits(const struct castle_maps *m, const struct castle_block_val *v,
		      uint64_t *sum)
{
	*sum = v->hits;
	if (!(v->class_slot & CASTLE_HIT_SLOT))
		return 0;
	if (v->class_slot & CASTLE_HIT_MAN)
		return slot_sum(m->man_hits, CASTLE_MAN_SLOT_IDX(v->class_slot), sum);
	return slot_sum(m->block_hits, v->class_slot & ~CASTLE_HIT_SLOT, sum);
}

int castle_hits_zero(const struct castle_maps *m, uint32_t first, uint32_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t chunk = n < 4096 ? n : 4096, *keys = NULL;
	uint64_t *zero = NULL;
	int ret = 0;

	if (!n || m->block_hits < 0)
		return 0; /* nothing to zero, or no slots to give (older pins) */
	if (ncpu < 1)
		return ncpu ? ncpu : -EINVAL;
	keys = malloc(chunk * sizeof(*keys));
	zero = calloc((size_t)chunk * (size_t)ncpu, sizeof(*zero));
	if (!keys || !zero) {
		ret = -ENOMEM;
		goto out;
	}
	for (uint32_t off = 0; off < n && !ret; off += chunk) {
		LIBBPF_OPTS(bpf_map_batch_opts, o, .elem_flags = BPF_ANY);
		uint32_t cnt = n - off < chunk ? n - off : chunk;

		for (uint32_t k = 0; k < cnt; k++)
			keys[k] = first + off + k;
		if (bpf_map_update_batch(m->block_hits, keys, zero, &cnt, &o))
			ret = -errno;
	}
out:
	free(keys);
	free(zero);
	return ret;
}

/* ---- manual/auto slots (man_hits, man_slots) ---------------------------- */

#define MAN_BYTES (2u << 20)	/* all CPUs */

uint32_t castle_man_slots_for(int ncpu)
{
	uint64_t n;

	if (ncpu < 1)
		ncpu = 1;
	n = MAN_BYTES / (sizeof(uint64_t) * (uint64_t)ncpu);
	n = n > 65536 ? 65536 : n < 1024 ? 1024 : n;
	return (uint32_t)(n & ~63ull);
}

uint32_t castle_man_slots(void)
{
	return castle_man_slots_for(libbpf_num_possible_cpus());
}

uint32_t castle_man_hits_of(const struct castle_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	if (m->man_hits < 0 || bpf_obj_get_info_by_fd(m->man_hits, &info, &len))
		return 0;
	return info.max_entries;
}

static struct castle_man_slots_hdr *man_hdr(const struct castle_maps *m)
{
	return (struct castle_man_slots_hdr *)m->man_slots_mem;
}

/* How many bitmap words man_slots may name: those mapped, whose slots
 * man_hits holds and the value's 22 bits can name. */
static uint32_t words_cap(const struct castle_maps *m)
{
	uint64_t w = m->man_slots_len / sizeof(uint64_t);

	w = w ? w - 1 : 0;
	if (w > castle_man_hits_of(m) / 64)
		w = castle_man_hits_of(m) / 64;
	return w > CASTLE_MAN_SLOTS_MAX / 64 ? CASTLE_MAN_SLOTS_MAX / 64 : (uint32_t)w;
}

/* Bitmap words behind the header that the header names (0: no slots to
 * claim), within what words_cap allows (m->man_words_cap). */
static uint32_t man_words(const struct castle_maps *m)
{
	uint32_t w;

	if (!m->man_slots_mem)
		return 0;
	w = __atomic_load_n(&man_hdr(m)->words, __ATOMIC_ACQUIRE);
	return w <= m->man_words_cap ? w : m->man_words_cap;
}

/* The length of a mapping of man_slots: whole pages. */
static size_t mapped_len(size_t len)
{
	long page = sysconf(_SC_PAGESIZE);

	return page > 0 ? (len + (size_t)page - 1) / (size_t)page * (size_t)page : len;
}

void castle_man_slots_map(struct castle_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	void *p;

	if (m->man_slots < 0 || m->man_slots_mem ||
	    bpf_obj_get_info_by_fd(m->man_slots, &info, &len) || info.max_entries < 2 ||
	    info.value_size != sizeof(uint64_t))
		return;
	p = mmap(NULL, mapped_len((size_t)info.max_entries * sizeof(uint64_t)),
		 PROT_READ | PROT_WRITE, MAP_SHARED, m->man_slots, 0);
	if (p == MAP_FAILED)
		return;
	m->man_slots_mem = p;
	m->man_slots_len = (size_t)info.max_entries * sizeof(uint64_t);
	m->man_words_cap = words_cap(m);
	/* the slots of a new map (the programs claim none until this is set) */
	__atomic_compare_exchange_n(&man_hdr(m)->words, &zero, m->man_words_cap, false,
				    __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

void castle_man_slots_unmap(struct castle_maps *m)
{
	if (!m->man_slots_mem)
		return;
	munmap(m->man_slots_mem, mapped_len(m->man_slots_len));
	m->man_slots_mem = NULL;
	m->man_slots_len = 0;
}

uint32_t castle_man_slot_claim(const struct castle_maps *m, uint32_t cls)
{
	uint32_t words = man_words(m), start;

	if (!words)
		return cls;
	/* Next fit from the shared cursor, as the programs do, but over every
	 * word: a slot freed behind the cursor waits for its turn. */
	start = __atomic_fetch_add(&man_hdr(m)->cursor, 1, __ATOMIC_SEQ_CST);
	for (uint32_t i = 0; i < words; i++) {
		uint32_t w = 1 + (start + i) % words;
		uint64_t *p = m->man_slots_mem + w;
		uint64_t cur = __atomic_load_n(p, __ATOMIC_SEQ_CST), b;

		while (cur != ~0ull) {
			b = ~cur & (cur + 1);
			cur = __atomic_fetch_or(p, b, __ATOMIC_SEQ_CST);
			if (!(cur & b))
				return CASTLE_MAN_SLOT((w - 1) * 64 + (uint32_t)__builtin_ctzll(b), cls);
		}
	}
	return cls;
}

/* The bitmap word that holds the slot v names, and its bit; NULL when v
 * names no slot of this bitmap. */
static uint64_t *slot_word(const struct castle_maps *m, uint32_t v, uint64_t *bit)
{
	uint32_t i = CASTLE_MAN_SLOT_IDX(v);

	if ((v & (CASTLE_HIT_SLOT | CASTLE_HIT_MAN)) != (CASTLE_HIT_SLOT | CASTLE_HIT_MAN) ||
	    i / 64 >= man_words(m))
		return NULL;
	*bit = 1ull << (i % 64);
	return m->man_slots_mem + 1 + i / 64;
}

void castle_man_slot_release(const struct castle_maps *m, uint32_t v)
{
	uint64_t bit, *w = slot_word(m, v, &bit);

	if (w)
		__atomic_fetch_and(w, ~bit, __ATOMIC_SEQ_CST);
}

bool castle_man_slot_freed(const struct castle_maps *m, uint32_t v)
{
	uint64_t bit, *w = slot_word(m, v, &bit);

	return w && !(__atomic_load_n(w, __ATOMIC_SEQ_CST) & bit);
}

bool castle_man_slot_reclaim(const struct castle_maps *m, uint32_t v)
{
	uint64_t bit, *w = slot_word(m, v, &bit);

	return w && !(__atomic_fetch_or(w, bit, __ATOMIC_SEQ_CST) & bit);
}

uint32_t castle_man_slots_total(const struct castle_maps *m)
{
	return man_words(m) * 64;
}

uint32_t castle_man_slots_used(const struct castle_maps *m)
{
	uint32_t words = man_words(m), n = 0;

	for (uint32_t w = 1; w <= words; w++)
		n += (uint32_t)__builtin_popcountll(__atomic_load_n(m->man_slots_mem + w,
								     __ATOMIC_SEQ_CST));
	return n;
}

static int sweep_see_cb(const struct castle_entry *e, void *arg);

int castle_man_slots_adopt(const struct castle_maps *m)
{
	/* the sweep's own walk, for the slots every entry names */
	struct castle_man_sweep s = { 0 };
	uint32_t words;
	int ret = castle_man_sweep_begin(m, &s), set = 0;

	words = s.words;
	if (!ret && words)
		ret = castle_manual_foreach(m, false, sweep_see_cb, &s);
	if (ret || !words) {
		castle_man_sweep_free(&s);
		return ret;
	}
	for (uint32_t i = 0; i < words; i++) {
		uint64_t had = __atomic_fetch_or(m->man_slots_mem + 1 + i, s.seen[i], __ATOMIC_SEQ_CST);

		set += __builtin_popcountll(s.seen[i] & ~had);
	}
	/* A bitmap that lacked named slots is new beside a man_hits kept from
	 * before, whose free slots may hold the counts of entries deleted
	 * since: zero them, so a claimed slot is zero again. */
	if (set) {
		int ncpu = libbpf_num_possible_cpus();
		uint64_t *zero = calloc(ncpu > 0 ? (size_t)ncpu : 1, sizeof(*zero));

		for (uint32_t slot = 0; zero && slot < words * 64; slot++)
			if (!(__atomic_load_n(m->man_slots_mem + 1 + slot / 64, __ATOMIC_SEQ_CST) &
			      (1ull << (slot % 64))))
				bpf_map_update_elem(m->man_hits, &slot, zero, BPF_ANY);
		free(zero);
	}
	castle_man_sweep_free(&s);
	return set;
}

void castle_man_sweep_free(struct castle_man_sweep *s)
{
	free(s->since);
	free(s->used);
	free(s->seen);
	s->since = NULL;
	s->used = s->seen = NULL;
	s->nslots = s->words = 0;
}

int castle_man_sweep_begin(const struct castle_maps *m, struct castle_man_sweep *s)
{
	uint32_t words = man_words(m);

	s->complete = false;
	if (!words) {
		castle_man_sweep_free(s);
		return 0;
	}
	if (s->nslots != words * 64) {
		castle_man_sweep_free(s); /* another map: start over */
		s->since = calloc((size_t)words * 64, sizeof(*s->since));
		s->used = calloc(words, sizeof(*s->used));
		s->seen = calloc(words, sizeof(*s->seen));
		if (!s->since || !s->used || !s->seen) {
			castle_man_sweep_free(s);
			return -ENOMEM;
		}
		s->nslots = words * 64;
		s->words = words;
	}
	/* The claimed slots before the walk: a slot claimed after it started
	 * (its entry perhaps behind the walk already) is no candidate yet. */
	for (uint32_t i = 0; i < words; i++)
		s->used[i] = __atomic_load_n(m->man_slots_mem + 1 + i, __ATOMIC_SEQ_CST);
	memset(s->seen, 0, (size_t)words * sizeof(*s->seen));
	return 0;
}

void castle_man_sweep_see(struct castle_man_sweep *s, const struct castle_entry *e)
{
	uint32_t i = e->man_slot - 1;

	if (e->man_slot && i / 64 < s->words)
		s->seen[i / 64] |= 1ull << (i % 64);
}

static int sweep_see_cb(const struct castle_entry *e, void *arg)
{
	castle_man_sweep_see(arg, e);
	return 0;
}

int castle_man_sweep_finish(const struct castle_maps *m, struct castle_man_sweep *s,
			    uint32_t now_s)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t words = s->words;
	int freed = 0, zero_err = 0;
	uint64_t *zero;

	if (!words || ncpu < 1 || words != man_words(m))
		return 0;
	if (!s->complete) {
		/* nothing is known of this sweep: every candidate starts over */
		memset(s->since, 0, (size_t)s->nslots * sizeof(*s->since));
		return -ECANCELED;
	}
	s->complete = false;
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!zero)
		return -ENOMEM;
	/* since[] follows a slot, not a claim: a slot given back by a failed
	 * write and claimed again between two sweeps keeps its age (a writer
	 * that stalls that long between claim and insert is the documented
	 * limit anyway). */
	for (uint32_t i = 0; i < words; i++) {
		uint64_t unnamed = s->used[i] & ~s->seen[i];

		for (uint32_t b = 0; b < 64; b++) {
			uint32_t slot = i * 64 + b, *since = &s->since[slot];
			uint64_t bit = 1ull << b;

			if (!(unnamed & bit)) {
				*since = 0;
				continue;
			}
			if (!*since) {
				*since = now_s + 1; /* unnamed from now on */
				continue;
			}
			if (now_s + 1 - *since < s->min_age_s)
				continue;
			/* zero first: a claimed slot is zero */
			if (bpf_map_update_elem(m->man_hits, &slot, zero, BPF_ANY)) {
				zero_err = zero_err ? zero_err : -errno;
				continue;
			}
			__atomic_fetch_and(m->man_slots_mem + 1 + i, ~bit, __ATOMIC_SEQ_CST);
			*since = 0;
			freed++;
		}
	}
	/* A slot an entry names but the bitmap has free (its writer stalled
	 * past the age, and its re-check ran before this sweep freed it; or a
	 * man_slots pinned anew) is taken again, so no one is handed it. */
	for (uint32_t i = 0; i < words; i++)
		if (s->seen[i])
			__atomic_fetch_or(m->man_slots_mem + 1 + i, s->seen[i], __ATOMIC_SEQ_CST);
	free(zero);
	return zero_err ? zero_err : freed;
}

int castle_man_slots_sweep(const struct castle_maps *m, struct castle_man_sweep *s,
			   uint32_t now_s)
{
	int ret = castle_man_sweep_begin(m, s);

	if (ret)
		return ret;
	if (!s->words)
		return 0;
	int walk = castle_manual_foreach(m, false, sweep_see_cb, s);

	s->complete = !walk;
	ret = castle_man_sweep_finish(m, s, now_s);
	return walk ? walk : ret;
}
