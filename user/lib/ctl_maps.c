// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* ctl_maps.c - see ctl_maps.h. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ctl_maps.h"

void castle_note_key_of(const struct castle_cidr *c, uint32_t list, struct castle_note_key *k)
{
	memset(k, 0, sizeof(*k));
	k->family = c->family;
	k->plen = c->plen;
	memcpy(k->addr, c->addr, c->family == 4 ? 4 : 16);
	k->list = list & CASTLE_NOTE_ALLOW;
	k->origin = !!(list & CASTLE_NOTE_POLICY);
}

int castle_note_get(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list,
		    char *text, size_t len)
{
	struct castle_note_key k;
	struct castle_note n;

	castle_note_key_of(c, list, &k);
	if (bpf_map_lookup_elem(m->notes, &k, &n))
		return -errno;
	n.text[sizeof(n.text) - 1] = 0;
	snprintf(text, len, "%s", n.text);
	return 0;
}

int castle_note_put(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list,
		    const char *text)
{
	struct castle_note_key k;
	struct castle_note n = { 0 };
	int ret;

	if (strlen(text) >= sizeof(n.text))
		return -ENAMETOOLONG;
	castle_note_key_of(c, list, &k);
	strcpy(n.text, text);
	ret = bpf_map_update_elem(m->notes, &k, &n, BPF_ANY) ? -errno : 0;
	return ret == -E2BIG ? -ENOSPC : ret;
}

int castle_note_del(const struct castle_maps *m, const struct castle_cidr *c, uint32_t list)
{
	struct castle_note_key k;

	castle_note_key_of(c, list, &k);
	return bpf_map_delete_elem(m->notes, &k) ? -errno : 0;
}

/* Key of an entry in its map: the bare address for exact (hash) maps, prefix
 * length + address for LPM tries. Mirrors maps.c. */
int castle_manual_block_fd(const struct castle_maps *m, const struct castle_cidr *c)
{
	return castle_block_map_fd(m, c, false, 0);
}

int castle_manual_allow_fd(const struct castle_maps *m, const struct castle_cidr *c)
{
	return m->man[c->family == 4 ? CASTLE_MM_ALLOW4 : CASTLE_MM_ALLOW6];
}

int castle_block_lookup(const struct castle_maps *m, const struct castle_cidr *c, bool policy,
			struct castle_block_val *v)
{
	struct castle_lpm6 k;
	uint32_t gen = 0;
	int fd, ret;

	if (policy && (ret = castle_gen_live(m, &gen, NULL)))
		return ret;
	fd = castle_block_map_fd(m, c, policy, gen);
	if (fd < 0) /* no policy applied yet (-ENOENT), or no CAP_SYS_ADMIN to open it by id */
		return policy && fd != -EPERM ? -ENOENT : fd;
	ret = bpf_map_lookup_elem(fd, castle_entry_key(c, castle_cidr_is_host(c), &k), v) ? -errno
											   : 0;
	if (policy)
		close(fd);
	return ret;
}

int castle_allow_lookup(const struct castle_maps *m, const struct castle_cidr *c, bool policy,
			struct castle_allow_val *v)
{
	struct castle_lpm6 k;
	uint32_t gen = 0, id;
	int fd, ret;

	if (!policy)
		return bpf_map_lookup_elem(castle_manual_allow_fd(m, c), castle_entry_key(c, false, &k), v)
			       ? -errno : 0;
	if ((ret = castle_gen_live(m, &gen, NULL)))
		return ret;
	if (bpf_map_lookup_elem(m->pol[c->family == 4 ? CASTLE_PM_ALLOW4 : CASTLE_PM_ALLOW6], &gen,
				&id))
		return -ENOENT;
	fd = bpf_map_get_fd_by_id(id);
	if (fd < 0)
		return -errno;
	ret = bpf_map_lookup_elem(fd, castle_entry_key(c, false, &k), v) ? -errno : 0;
	close(fd);
	return ret;
}

int castle_map_usage(int fd, uint32_t *entries, uint32_t *capacity)
{
	struct bpf_map_info info = { 0 };
	__u32 len = sizeof(info);
	uint8_t *key, *next;
	uint32_t n = 0;
	void *prev = NULL;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	key = malloc(info.key_size);
	next = malloc(info.key_size);
	if (!key || !next) {
		free(key);
		free(next);
		return -ENOMEM;
	}
	while (bpf_map_get_next_key(fd, prev, next) == 0) {
		memcpy(key, next, info.key_size);
		prev = key;
		n++;
	}
	free(key);
	free(next);
	*entries = n;
	*capacity = info.max_entries;
	return 0;
}

static int rl_walk(int fd, castle_rl_cb cb, void *arg)
{
	enum { CHUNK = 4096 };
	struct castle_rl_key *keys = calloc(CHUNK, sizeof(*keys));
	struct castle_rl_val *vals = calloc(CHUNK, sizeof(*vals));
	struct castle_rl_key token;
	bool first = true, done = false;
	int ret = 0;

	if (!keys || !vals) {
		ret = -ENOMEM;
		goto out;
	}
	while (!done) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = CHUNK;

		/* The out token of one call is the in token of the next; ENOENT
		 * marks the last batch (which may still carry entries). */
		if (bpf_map_lookup_batch(fd, first ? NULL : &token, &token, keys, vals,
					 &count, &o)) {
			if (errno != ENOENT) {
				ret = -errno;
				goto out;
			}
			done = true;
		}
		first = false;
		for (__u32 i = 0; i < count; i++) {
			ret = cb(&keys[i], &vals[i], arg);
			if (ret)
				goto out;
		}
	}
out:
	free(keys);
	free(vals);
	return ret;
}

/* One tier: the LRU of new sources, or the steady sources (castle.h). */
int castle_rl_foreach_tier(const struct castle_maps *m, bool steady, castle_rl_cb cb, void *arg)
{
	return steady ? rl_walk(m->rl_steady, cb, arg) : rl_walk(m->rl_state, cb, arg);
}

/* Both tiers. */
int castle_rl_foreach(const struct castle_maps *m, castle_rl_cb cb, void *arg)
{
	int ret = castle_rl_foreach_tier(m, false, cb, arg);

	return ret ? ret : castle_rl_foreach_tier(m, true, cb, arg);
}

struct drop_ctx {
	int fd;
	uint16_t slots;
	int dropped;
};

static int drop_one(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	struct drop_ctx *d = arg;

	(void)v;
	if (k->class_slot < CASTLE_MAX_CLASSES && (d->slots & (1u << k->class_slot)) &&
	    bpf_map_delete_elem(d->fd, k) == 0)
		d->dropped++;
	return 0;
}

int castle_rl_drop_slots(const struct castle_maps *m, uint16_t slots)
{
	struct drop_ctx d = { .fd = m->rl_state, .slots = slots };
	int ret = 0;

	if (!slots)
		return 0;
	if (m->rl_state >= 0)
		ret = rl_walk(m->rl_state, drop_one, &d);
	d.fd = m->rl_steady;
	if (!ret && m->rl_steady >= 0)
		ret = rl_walk(m->rl_steady, drop_one, &d);
	return ret ? ret : d.dropped;
}
