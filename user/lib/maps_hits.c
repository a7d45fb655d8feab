// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps_hits.c - the per-CPU hit slots of the policy's entries
 * (block_hits, see CASTLE_HIT_SLOT): how many a host gets, reading an
 * entry's hits, zeroing a bank before a generation uses it. See maps.h.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
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

int castle_block_hits(const struct castle_maps *m, const struct castle_block_val *v,
		      uint64_t *sum)
{
	int ncpu = libbpf_num_possible_cpus();
	uint32_t i = v->class_slot & ~CASTLE_HIT_SLOT;
	uint64_t *per;
	int ret = 0;

	*sum = v->hits;
	if (!(v->class_slot & CASTLE_HIT_SLOT))
		return 0;
	if (m->block_hits < 0 || ncpu < 1)
		return -ENOENT;
	per = calloc((size_t)ncpu, sizeof(*per));
	if (!per)
		return -ENOMEM;
	if (bpf_map_lookup_elem(m->block_hits, &i, per))
		ret = -errno;
	else
		for (int c = 0; c < ncpu; c++)
			*sum += per[c];
	free(per);
	return ret;
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
