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

uint32_t castle_man_slots(void)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t n;

	if (ncpu < 1)
		ncpu = 1;
	n = MAN_BYTES / (sizeof(uint64_t) * (uint64_t)ncpu);
	n = n > 65536 ? 65536 : n < 1024 ? 1024 : n;
	return (uint32_t)(n & ~63ull);
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

/* Bitmap words behind the header that are mapped and that the header names
 * (0: no slots to claim). */
static uint32_t man_words(const struct castle_maps *m)
{
	uint32_t w;

	if (!m->man_slots_mem)
		return 0;
	w = __atomic_load_n(&man_hdr(m)->words, __ATOMIC_ACQUIRE);
	return (1 + (size_t)w) * sizeof(uint64_t) <= m->man_slots_len ? w : 0;
}

void castle_man_slots_map(struct castle_maps *m)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info), zero = 0;
	long page = sysconf(_SC_PAGESIZE);
	size_t sz;
	void *p;

	if (m->man_slots < 0 || m->man_slots_mem ||
	    bpf_obj_get_info_by_fd(m->man_slots, &info, &len) || info.max_entries < 2 ||
	    info.value_size != sizeof(uint64_t))
		return;
	sz = (size_t)info.max_entries * sizeof(uint64_t);
	if (page > 0)
		sz = (sz + (size_t)page - 1) / (size_t)page * (size_t)page;
	p = mmap(NULL, sz, PROT_READ | PROT_WRITE, MAP_SHARED, m->man_slots, 0);
	if (p == MAP_FAILED)
		return;
	m->man_slots_mem = p;
	m->man_slots_len = (size_t)info.max_entries * sizeof(uint64_t);
	/* the slots of a new map (the programs claim none until this is set) */
	__u32 words = info.max_entries - 1;
	__atomic_compare_exchange_n(&man_hdr(m)->words, &zero, words, false, __ATOMIC_SEQ_CST,
				    __ATOMIC_SEQ_CST);
}

void castle_man_slots_unmap(struct castle_maps *m)
{
	long page = sysconf(_SC_PAGESIZE);
	size_t sz = m->man_slots_len;

	if (!m->man_slots_mem)
		return;
	if (page > 0)
		sz = (sz + (size_t)page - 1) / (size_t)page * (size_t)page;
	munmap(m->man_slots_mem, sz);
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

uint32_t castle_man_slots_used(const struct castle_maps *m)
{
	uint32_t words = man_words(m), n = 0;

	for (uint32_t w = 1; w <= words; w++)
		n += (uint32_t)__builtin_popcountll(__atomic_load_n(m->man_slots_mem + w,
								     __ATOMIC_SEQ_CST));
	return n;
}

struct sweep_walk {
	uint64_t *seen;
	uint32_t words;
};

static int sweep_mark(const struct castle_entry *e, void *arg)
{
	struct sweep_walk *w = arg;
	uint32_t i = e->man_slot - 1;

	if (e->man_slot && i / 64 < w->words)
		w->seen[i / 64] |= 1ull << (i % 64);
	return 0;
}

void castle_man_sweep_free(struct castle_man_sweep *s)
{
	free(s->cand);
	s->cand = NULL;
	s->words = 0;
}

int castle_man_slots_sweep(const struct castle_maps *m, struct castle_man_sweep *s)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t words = man_words(m);
	struct sweep_walk w = { .words = words };
	uint64_t *cand, *zero = NULL;
	int ret, freed = 0;

	if (!words || ncpu < 1) {
		castle_man_sweep_free(s);
		return 0;
	}
	cand = calloc(words, sizeof(*cand));
	w.seen = calloc(words, sizeof(*w.seen));
	zero = calloc((size_t)ncpu, sizeof(*zero));
	if (!cand || !w.seen || !zero) {
		ret = -ENOMEM;
		goto fail;
	}
	/* The claimed slots before the walk: a slot claimed after it started
	 * (its entry perhaps behind the walk already) is no candidate yet. */
	for (uint32_t i = 0; i < words; i++)
		cand[i] = __atomic_load_n(m->man_slots_mem + 1 + i, __ATOMIC_SEQ_CST);
	ret = castle_manual_foreach(m, false, sweep_mark, &w);
	if (ret)
		goto fail;
	for (uint32_t i = 0; i < words; i++) {
		cand[i] &= ~w.seen[i];
		uint64_t both = s->cand && s->words == words ? cand[i] & s->cand[i] : 0;

		for (; both; both &= both - 1) {
			uint64_t b = both & -both;
			uint32_t slot = i * 64 + (uint32_t)__builtin_ctzll(b);

			/* zero first: a claimed slot is zero */
			if (bpf_map_update_elem(m->man_hits, &slot, zero, BPF_ANY))
				continue;
			__atomic_fetch_and(m->man_slots_mem + 1 + i, ~b, __ATOMIC_SEQ_CST);
			cand[i] &= ~b;
			freed++;
		}
	}
	free(s->cand);
	s->cand = cand;
	s->words = words;
	free(w.seen);
	free(zero);
	return freed;
fail:
	/* nothing is known of this sweep: the next one starts over */
	castle_man_sweep_free(s);
	free(cand);
	free(w.seen);
	free(zero);
	return ret;
}
