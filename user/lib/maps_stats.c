// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps_stats.c - the counters (per-CPU sums by interface slot, the ifslot
 * table, per-class counters) and the steady rate-limit tier's idle sweep.
 * See maps.h for the contract of each function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"

/* ---- counters ----------------------------------------------------------- */

/* Sum over CPUs a per-CPU value made only of castle_counters (n of them):
 * castle_stats and castle_class_stats both are. */
static int percpu_counters_sum(int map_fd, uint32_t key, struct castle_counter *out, size_t n)
{
	int ncpu = libbpf_num_possible_cpus();
	struct castle_counter *per;

	if (ncpu <= 0)
		return -EINVAL;
	per = calloc((size_t)ncpu * n, sizeof(*per));
	if (!per)
		return -ENOMEM;
	memset(out, 0, n * sizeof(*out));
	if (bpf_map_lookup_elem(map_fd, &key, per)) {
		int e = errno;
		free(per);
		return -e;
	}
	for (size_t c = 0; c < (size_t)ncpu; c++)
		for (size_t i = 0; i < n; i++) {
			out[i].packets += per[c * n + i].packets;
			out[i].bytes += per[c * n + i].bytes;
		}
	free(per);
	return 0;
}

static int stats_read_slot(int map_fd, uint32_t slot, struct castle_stats *out)
{
	return percpu_counters_sum(map_fd, slot, &out->c[0][0],
				   sizeof(*out) / sizeof(struct castle_counter));
}

/* Every (ifindex, slot) pair in use, from one pass over ifslot. */
static int ifslot_pairs(const struct castle_maps *m, uint32_t *ifx, uint32_t *slots, int max)
{
	enum { CHUNK = 8192 };
	uint32_t *keys = calloc(CHUNK, sizeof(*keys)), *vals = calloc(CHUNK, sizeof(*vals));
	uint32_t token = 0;
	bool first = true, done = false;
	int n = 0;

	if (!keys || !vals) {
		free(keys);
		free(vals);
		return -ENOMEM;
	}
	while (!done && n < max) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		uint32_t count = CHUNK;

		if (bpf_map_lookup_batch(m->ifslot, first ? NULL : &token, &token, keys, vals, &count,
					 &o)) {
			if (errno != ENOENT) {
				n = -errno;
				break;
			}
			done = true;
		}
		first = false;
		for (uint32_t i = 0; i < count && n < max; i++) {
			if (!vals[i])
				continue;
			ifx[n] = keys[i];
			slots[n++] = vals[i];
		}
	}
	free(keys);
	free(vals);
	return n;
}

int castle_ifslot_of(const struct castle_maps *m, uint32_t ifindex, uint32_t *slot)
{
	if (!ifindex) {
		*slot = 0;
		return 0;
	}
	if (bpf_map_lookup_elem(m->ifslot, &ifindex, slot) || !*slot ||
	    *slot >= CASTLE_MAX_IFACES)
		return -ENOENT;
	return 0;
}

int castle_stats_read(const struct castle_maps *m, int map_fd, uint32_t ifindex,
		      struct castle_stats *out)
{
	uint32_t slot;
	int ret = castle_ifslot_of(m, ifindex, &slot);

	return ret ? ret : stats_read_slot(map_fd, slot, out);
}

int castle_stats_ifaces(const struct castle_maps *m, int map_fd, uint32_t *ifindexes, int max)
{
	uint32_t ifx[CASTLE_MAX_IFACES] = { 0 }, slots[CASTLE_MAX_IFACES] = { 0 };
	struct castle_stats st;
	int n = 0, k = ifslot_pairs(m, ifx, slots, CASTLE_MAX_IFACES);

	for (int i = 0; i < k && n < max; i++)
		ifindexes[n++] = ifx[i];
	if (n < max && !stats_read_slot(map_fd, 0, &st)) {
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			for (int r = 0; r < CASTLE_REASON_MAX; r++)
				if (st.c[v][r].packets) {
					ifindexes[n++] = 0;
					return n;
				}
	}
	return n;
}

int castle_percpu_zero(int map_fd, uint32_t first, uint32_t n, size_t value_size)
{
	int ncpu = libbpf_num_possible_cpus();
	void *z;
	int ret = 0;

	if (ncpu <= 0)
		return -EINVAL;
	/* Per-CPU values are laid out in 8-byte rounded strides. */
	z = calloc(ncpu, (value_size + 7) & ~(size_t)7);
	if (!z)
		return -ENOMEM;
	for (uint32_t k = first; k < first + n && !ret; k++)
		if (bpf_map_update_elem(map_fd, &k, z, BPF_ANY))
			ret = -errno;
	free(z);
	return ret;
}

/* A slot's per-CPU counters set to zero (a new interface starts at zero). */
static int zero_slot(int map_fd, uint32_t slot)
{
	return castle_percpu_zero(map_fd, slot, 1, sizeof(struct castle_stats));
}

int castle_ifslot_assign(const struct castle_maps *m, uint32_t ifindex, uint32_t *slot)
{
	uint32_t ifx[CASTLE_MAX_IFACES] = { 0 }, slots[CASTLE_MAX_IFACES] = { 0 };
	bool used[CASTLE_MAX_IFACES] = { true }; /* slot 0 is "no slot" */
	int n, ret;

	if (ifindex >= CASTLE_IFSLOT_ENTRIES)
		return -ERANGE;
	if (!castle_ifslot_of(m, ifindex, slot) && ifindex)
		return 0;
	n = ifslot_pairs(m, ifx, slots, CASTLE_MAX_IFACES);
	if (n < 0)
		return n;
	for (int i = 0; i < n; i++)
		used[slots[i] & (CASTLE_MAX_IFACES - 1)] = true;
	for (uint32_t s = 1; s < CASTLE_MAX_IFACES; s++) {
		if (used[s])
			continue;
		ret = zero_slot(m->xdp_stats, s);
		if (!ret)
			ret = zero_slot(m->tc_stats, s);
		if (!ret)
			ret = castle_percpu_zero(m->class_stats, CASTLE_CLASS_STATS_KEY(s, 0),
						 CASTLE_MAX_CLASSES, sizeof(struct castle_class_stats));
		if (!ret && bpf_map_update_elem(m->ifslot, &ifindex, &s, BPF_ANY))
			ret = -errno;
		if (!ret)
			*slot = s;
		return ret;
	}
	return -ENOSPC;
}

void castle_ifslot_release(const struct castle_maps *m, uint32_t ifindex)
{
	uint32_t zero = 0;

	if (ifindex < CASTLE_IFSLOT_ENTRIES)
		bpf_map_update_elem(m->ifslot, &ifindex, &zero, BPF_ANY);
}

int castle_class_stats_read(int map_fd, uint32_t ifslot, uint32_t cls,
			    struct castle_class_stats *out)
{
	if (ifslot >= CASTLE_MAX_IFACES || cls >= CASTLE_MAX_CLASSES) {
		memset(out, 0, sizeof(*out));
		return -ERANGE;
	}
	return percpu_counters_sum(map_fd, CASTLE_CLASS_STATS_KEY(ifslot, cls), &out->c[0],
				   sizeof(*out) / sizeof(struct castle_counter));
}

int castle_class_stats_sum(int map_fd, uint32_t cls, struct castle_class_stats *out)
{
	int ok = 0, ret = 0;

	memset(out, 0, sizeof(*out));
	/* Every slot, those of interfaces gone too: the class's whole count. */
	for (uint32_t s = 0; s < CASTLE_MAX_IFACES; s++) {
		struct castle_class_stats one;
		int r = castle_class_stats_read(map_fd, s, cls, &one);

		if (r) {
			ret = ret ? ret : r;
			continue;
		}
		ok++;
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++) {
			out->c[v].packets += one.c[v].packets;
			out->c[v].bytes += one.c[v].bytes;
		}
	}
	return ok ? 0 : ret;
}

/* ---- steady rate-limit tier --------------------------------------------- */

struct reap_ctx {
	uint64_t now, idle_ns;
	int reaped;
};

static int reap_one(int fd, const void *key, void *arg)
{
	struct reap_ctx *r = arg;
	struct castle_rl_val v;

	if (bpf_map_lookup_elem(fd, key, &v) == 0 && r->now > v.last_ns &&
	    r->now - v.last_ns > r->idle_ns && bpf_map_delete_elem(fd, key) == 0)
		r->reaped++;
	return 0;
}

int castle_rl_reap_steady(const struct castle_maps *m, uint64_t idle_ns)
{
	/* last_ns is stored when it moved by CASTLE_RL_SEEN_STEP_NS, so it may
	 * be that much older than the source's last packet: a source goes
	 * after idle_ns at least (idle_ns + the step at most). */
	struct reap_ctx r = { .idle_ns = idle_ns + CASTLE_RL_SEEN_STEP_NS };
	struct timespec ts;

	/* last_ns is CLOCK_MONOTONIC to a tick (castle_tick_mono_ns); it may be
	 * a tick ahead of now, which the r->now > last_ns test leaves alone. */
	clock_gettime(CLOCK_MONOTONIC, &ts);
	r.now = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	castle_map_foreach_key(m->rl_steady, sizeof(struct castle_rl_key), reap_one, &r);
	return r.reaped;
}
