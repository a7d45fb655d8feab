// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps.c - open castle's maps and manage block/allow entries (generations:
 * gen.c; listing them: maps_walk.c). See maps.h for the contract of each
 * function.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/mman.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "maps.h"
#include "maps_int.h"

const char *const castle_pol_map_names[CASTLE_PM_MAX] = {
	CASTLE_MAP_POL_ALLOW4, CASTLE_MAP_POL_ALLOW6, CASTLE_MAP_POL_BLOCK4,
	CASTLE_MAP_POL_BLOCK6, CASTLE_MAP_POL_NET4,   CASTLE_MAP_POL_NET6,
	CASTLE_MAP_POL_CSRC4,  CASTLE_MAP_POL_CSRC6,  CASTLE_MAP_POL_SNI,
	CASTLE_MAP_POL_NHASH4, CASTLE_MAP_POL_NHASH6,
};

const char *const castle_man_map_names[CASTLE_MM_MAX] = {
	CASTLE_MAP_MAN_ALLOW4, CASTLE_MAP_MAN_ALLOW6, CASTLE_MAP_MAN_BLOCK4,
	CASTLE_MAP_MAN_BLOCK6, CASTLE_MAP_MAN_NET4,   CASTLE_MAP_MAN_NET6,
};

const char *const castle_reason_names[CASTLE_REASON_MAX] = { CASTLE_REASONS };
const char *const castle_origin_names[CASTLE_ORIGIN_MAX] = { "policy", "manual", "auto" };

uint64_t castle_now_boot_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_BOOTTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ---- opening ------------------------------------------------------------ */

static void maps_reset(struct castle_maps *m)
{
	memset(m, 0, sizeof(*m));
	m->state = m->policy = m->rl_state = m->rl_steady = m->rl_events = m->ifslot = m->xdp_stats = m->tc_stats = -1;
	m->class_stats = m->events = m->ifaces = m->notes = m->man_count = m->nlens = -1;
	m->class_slots = -1;
	m->block_hits = m->man_hits = m->man_slots = m->daemon = -1;
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		m->pol[i] = -1;
	for (int i = 0; i < CASTLE_MM_MAX; i++)
		m->man[i] = -1;
}

/* Visit every (name, fd slot) pair once, so opening and closing cannot drift. */
#define CASTLE_FOR_EACH_MAP(m, X)                                    \
	do {                                                         \
		X(CASTLE_MAP_STATE, (m)->state);                     \
		X(CASTLE_MAP_POLICY, (m)->policy);                   \
		for (int i_ = 0; i_ < CASTLE_PM_MAX; i_++)           \
			X(castle_pol_map_names[i_], (m)->pol[i_]);   \
		for (int i_ = 0; i_ < CASTLE_MM_MAX; i_++)           \
			X(castle_man_map_names[i_], (m)->man[i_]);   \
		X(CASTLE_MAP_RL_STATE, (m)->rl_state);               \
		X(CASTLE_MAP_RL_STEADY, (m)->rl_steady);             \
		X(CASTLE_MAP_RL_EVENTS, (m)->rl_events);             \
		X(CASTLE_MAP_IFSLOT, (m)->ifslot);                   \
		X(CASTLE_MAP_XDP_STATS, (m)->xdp_stats);             \
		X(CASTLE_MAP_TC_STATS, (m)->tc_stats);               \
		X(CASTLE_MAP_CLASS_STATS, (m)->class_stats);         \
		X(CASTLE_MAP_EVENTS, (m)->events);                   \
		X(CASTLE_MAP_IFACES, (m)->ifaces);                   \
		X(CASTLE_MAP_NOTES, (m)->notes);                     \
		X(CASTLE_MAP_POL_NLENS, (m)->nlens);                 \
		X(CASTLE_MAP_CLASS_SLOTS, (m)->class_slots);         \
		X(CASTLE_MAP_BLOCK_HITS, (m)->block_hits);           \
		X(CASTLE_MAP_MAN_HITS, (m)->man_hits);               \
		X(CASTLE_MAP_MAN_SLOTS, (m)->man_slots);             \
		X(CASTLE_MAP_DAEMON, (m)->daemon);                   \
	} while (0)

/* Maps a castle build before them did not pin: their pins may be missing. */
static bool optional_pin(const char *name)
{
	return !strcmp(name, CASTLE_MAP_POL_NHASH4) || !strcmp(name, CASTLE_MAP_POL_NHASH6) ||
	       !strcmp(name, CASTLE_MAP_POL_NLENS) || !strcmp(name, CASTLE_MAP_BLOCK_HITS) ||
	       !strcmp(name, CASTLE_MAP_MAN_HITS) || !strcmp(name, CASTLE_MAP_MAN_SLOTS) ||
	       !strcmp(name, CASTLE_MAP_DAEMON) || !strcmp(name, CASTLE_MAP_CLASS_SLOTS);
}

/* man_count is written with atomic instructions from both sides, so user
 * space maps it rather than going through lookup/update. */
static int man_count_map(struct castle_maps *m)
{
	long page = sysconf(_SC_PAGESIZE);
	void *p = mmap(NULL, page > 0 ? (size_t)page : 4096, PROT_READ | PROT_WRITE, MAP_SHARED,
		       m->man_count, 0);

	if (p == MAP_FAILED)
		return -errno;
	m->man_count_mem = p;
	return 0;
}

int castle_maps_from_object(struct bpf_object *obj, struct castle_maps *m)
{
	int missing = 0;

	maps_reset(m);
#define FROM_OBJ(name, slot)                                                   \
	do {                                                                   \
		struct bpf_map *bm = bpf_object__find_map_by_name(obj, name);  \
		(slot) = bm ? bpf_map__fd(bm) : -1;                            \
		if ((slot) < 0)                                                \
			missing++;                                             \
	} while (0)
	CASTLE_FOR_EACH_MAP(m, FROM_OBJ);
	FROM_OBJ(CASTLE_MAP_MAN_COUNT, m->man_count);
#undef FROM_OBJ
	if (missing)
		return -ENOENT;
	castle_man_slots_map(m);
	return man_count_map(m);
}

int castle_maps_open_pinned(const char *pin_dir, struct castle_maps *m, char *err, size_t errlen)
{
	char path[4096];
	int ret = 0;

	maps_reset(m);
	m->owned = true;
#define FROM_PIN(name, slot)                                                            \
	do {                                                                            \
		if (ret)                                                                \
			break;                                                          \
		snprintf(path, sizeof(path), "%s/%s", pin_dir, name);                   \
		(slot) = bpf_obj_get(path);                                             \
		if ((slot) < 0 && errno == ENOENT && optional_pin(name))                \
			break;                                                          \
		if ((slot) < 0) {                                                       \
			ret = -errno;                                                   \
			snprintf(err, errlen, "open %s: %s%s", path, strerror(errno),   \
				 errno == ENOENT ? " (is castle loaded? castled pins its maps there)" \
				 : errno == EACCES || errno == EPERM ? " (castle needs root or CAP_BPF)" : ""); \
		}                                                                       \
	} while (0)
	CASTLE_FOR_EACH_MAP(m, FROM_PIN);
#undef FROM_PIN
	/* man_count is optional: pins of a build without it (whose programs
	 * look at every list) can still be read, unloaded and written. */
	if (!ret) {
		snprintf(path, sizeof(path), "%s/%s", pin_dir, CASTLE_MAP_MAN_COUNT);
		m->man_count = bpf_obj_get(path);
		if (m->man_count < 0 && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "open %s: %s", path, strerror(-ret));
		} else if (m->man_count >= 0) {
			ret = man_count_map(m);
			if (ret)
				snprintf(err, errlen, "map %s: %s", path, strerror(-ret));
		}
	}
	if (!ret)
		castle_man_slots_map(m);
	if (ret)
		castle_maps_close(m);
	return ret;
}

void castle_maps_close(struct castle_maps *m)
{
	castle_man_slots_unmap(m);
	if (m->man_count_mem) {
		long page = sysconf(_SC_PAGESIZE);

		munmap(m->man_count_mem, page > 0 ? (size_t)page : 4096);
		m->man_count_mem = NULL;
	}
	if (m->owned && m->man_count >= 0)
		close(m->man_count);
	if (m->owned) {
#define CLOSE(name, slot)               \
	do {                            \
		(void)(name);           \
		if ((slot) >= 0)        \
			close(slot);    \
	} while (0)
		CASTLE_FOR_EACH_MAP(m, CLOSE);
#undef CLOSE
	}
	maps_reset(m);
}

static void lpm_key(const struct castle_cidr *c, void *key)
{
	if (c->family == 4) {
		struct castle_lpm4 *k = key;
		k->prefixlen = c->plen;
		memcpy(k->addr, c->addr, 4);
	} else {
		struct castle_lpm6 *k = key;
		k->prefixlen = c->plen;
		memcpy(k->addr, c->addr, 16);
	}
}

static int put(int fd, const void *k, const void *v, uint64_t flags)
{
	return bpf_map_update_elem(fd, k, v, flags) ? -errno : 0;
}

/* ---- manual entries ----------------------------------------------------- */

int castle_block_map_fd(const struct castle_maps *m, const struct castle_cidr *c, bool policy_gen,
			uint32_t gen)
{
	bool host = castle_cidr_is_host(c);
	bool v4 = c->family == 4;

	if (!policy_gen)
		return m->man[host ? (v4 ? CASTLE_MM_BLOCK4 : CASTLE_MM_BLOCK6)
				   : (v4 ? CASTLE_MM_NET4 : CASTLE_MM_NET6)];
	uint32_t id;
	int pm = host ? (v4 ? CASTLE_PM_BLOCK4 : CASTLE_PM_BLOCK6) : (v4 ? CASTLE_PM_NET4 : CASTLE_PM_NET6);
	int hpm = v4 ? CASTLE_PM_NHASH4 : CASTLE_PM_NHASH6;
	struct castle_policy pol; /* ~2 KB: fine on a user-space stack */

	/* A generation's CIDRs of a family are in its prefix-length hash or
	 * in its trie, as its `lists` say. */
	if (!host && m->pol[hpm] >= 0 && !bpf_map_lookup_elem(m->policy, &gen, &pol) &&
	    (pol.lists & (1u << hpm)))
		pm = hpm;
	int outer = m->pol[pm];
	if (bpf_map_lookup_elem(outer, &gen, &id))
		return -errno;
	int fd = bpf_map_get_fd_by_id(id);
	return fd < 0 ? -errno : fd;
}

/* The manual/auto map an entry of c lives in. */
static int man_idx(const struct castle_cidr *c, bool allow)
{
	bool v4 = c->family == 4;

	if (allow)
		return v4 ? CASTLE_MM_ALLOW4 : CASTLE_MM_ALLOW6;
	if (castle_cidr_is_host(c))
		return v4 ? CASTLE_MM_BLOCK4 : CASTLE_MM_BLOCK6;
	return v4 ? CASTLE_MM_NET4 : CASTLE_MM_NET6;
}

/*
 * man_count, the protocol (see castle_man_count): one more before an insert,
 * one less after a failed insert or a successful delete, never below zero.
 * An entry written around maps.c (bpftool) is not counted, so a count can
 * reach zero while its map still holds entries: whoever brings it to zero
 * looks at the map and sets it to one if the map is not empty (castled's heal
 * does the same every second), so a skipped map is an empty map. Without the
 * mapping (pins of a build without man_count) nothing is counted: that build's
 * programs do not read it.
 */
static bool man_map_empty(const struct castle_maps *m, int idx)
{
	struct castle_lpm6 key; /* the largest manual key */

	return bpf_map_get_next_key(m->man[idx], NULL, &key) != 0;
}

/* 0 -> 1 when the map holds something; a count that moved meanwhile was moved
 * by a writer who counted, and stays. */
static bool man_count_unzero(const struct castle_maps *m, int idx)
{
	__u64 zero = 0;

	return !man_map_empty(m, idx) &&
	       __atomic_compare_exchange_n(&m->man_count_mem->n[idx], &zero, 1, false,
					   __ATOMIC_SEQ_CST, __ATOMIC_SEQ_CST);
}

static void man_count_inc(const struct castle_maps *m, int idx)
{
	if (m->man_count_mem)
		__atomic_fetch_add(&m->man_count_mem->n[idx], 1, __ATOMIC_SEQ_CST);
}

static void man_count_dec(const struct castle_maps *m, int idx)
{
	__u64 *n;
	__u64 c;

	if (!m->man_count_mem)
		return;
	n = &m->man_count_mem->n[idx];
	c = __atomic_load_n(n, __ATOMIC_SEQ_CST);
	while (c && !__atomic_compare_exchange_n(n, &c, c - 1, false, __ATOMIC_SEQ_CST,
						 __ATOMIC_SEQ_CST))
		;
	if (c <= 1)
		man_count_unzero(m, idx);
}

uint64_t castle_man_count_get(const struct castle_maps *m, int idx)
{
	return m->man_count_mem && idx >= 0 && idx < CASTLE_MM_MAX
		       ? __atomic_load_n(&m->man_count_mem->n[idx], __ATOMIC_SEQ_CST)
		       : UINT64_MAX;
}

int castle_man_count_heal(const struct castle_maps *m)
{
	int healed = 0;

	if (!m->man_count_mem)
		return 0;
	for (int i = 0; i < CASTLE_MM_MAX; i++)
		if (castle_man_count_get(m, i) == 0 && man_count_unzero(m, i))
			healed |= 1 << i;
	return healed;
}

/* Write v under the exact key k of manual map idx, counted. *had (when not
 * NULL) says whether k existed; its value then lands in old (when not NULL).
 * A first try with BPF_NOEXIST tells an existing exact key from none (an LPM
 * lookup alone would answer an enclosing prefix; once the exact key is known
 * to be there, a lookup of it answers that key's own entry). keep_manual:
 * an existing allow entry, or a live manual block, is left as it is
 * (-EEXIST); an auto-ban, or a block expired and not reaped yet, is
 * replaced. A full map answers E2BIG; the contract calls that
 * "full". */
static int man_put(const struct castle_maps *m, int idx, const void *k, const void *v, void *old,
		   bool *had, bool keep_manual)
{
	int fd = m->man[idx], ret = -EAGAIN;

	if (had)
		*had = false;
	man_count_inc(m, idx);
	for (int tries = 0; tries < 16; tries++) {
		ret = put(fd, k, v, BPF_NOEXIST);
		if (!ret)
			return 0; /* a new entry: the count stays */
		if (ret != -EEXIST)
			break;
		if (keep_manual) {
			union castle_list_val cur;

			if (bpf_map_lookup_elem(fd, k, &cur))
				continue; /* deleted meanwhile: insert again */
			if (idx == CASTLE_MM_ALLOW4 || idx == CASTLE_MM_ALLOW6 ||
			    (cur.b.origin == CASTLE_ORIGIN_MANUAL &&
			     !(cur.b.expires_ns && cur.b.expires_ns <= castle_now_boot_ns())))
				break; /* -EEXIST */
		}
		if (old && bpf_map_lookup_elem(fd, k, old))
			continue; /* deleted meanwhile: insert again */
		ret = put(fd, k, v, BPF_EXIST);
		if (ret == -ENOENT)
			continue;
		if (!ret && had)
			*had = true;
		break;
	}
	man_count_dec(m, idx);
	return ret == -E2BIG ? -ENOSPC : ret;
}

int castle_man_del(const struct castle_maps *m, int idx, const void *k)
{
	if (bpf_map_delete_elem(m->man[idx], k))
		return -errno;
	man_count_dec(m, idx);
	return 0;
}

int castle_man_reap(const struct castle_maps *m, int idx, const void *k, uint64_t created_ns,
		    uint64_t expires_ns)
{
	struct castle_block_val now;
	int fd = m->man[idx];

	/* Exact-entry hashes: taken out and compared in one step, so that an
	 * entry written again after the walk read it (a re-ban, a castlectl
	 * block of the same key) is never the one deleted; put back if it is
	 * such an entry (unless yet another write came in between). */
	if ((idx == CASTLE_MM_BLOCK4 || idx == CASTLE_MM_BLOCK6) &&
	    !bpf_map_lookup_and_delete_elem(fd, k, &now)) {
		if (now.created_ns == created_ns && now.expires_ns == expires_ns) {
			man_count_dec(m, idx);
			return 1;
		}
		if (!bpf_map_update_elem(fd, k, &now, BPF_NOEXIST))
			return 0;
		/* Another write came in the instant the key was out: an
		 * operator's block (manual) is not given up for an auto-ban
		 * the program wrote then; anything else written holds it. */
		struct castle_block_val later;

		if (now.origin == CASTLE_ORIGIN_MANUAL && !bpf_map_lookup_elem(fd, k, &later) &&
		    later.origin == CASTLE_ORIGIN_AUTO)
			bpf_map_update_elem(fd, k, &now, BPF_EXIST); /* its slot: the sweep's */
		man_count_dec(m, idx); /* one entry for the key, counted by its writer */
		return 0;
	}
	/* The tries (and kernels without lookup-and-delete on a hash): look,
	 * then delete; a write between the two is the one race left. */
	if (bpf_map_lookup_elem(fd, k, &now) || now.created_ns != created_ns ||
	    now.expires_ns != expires_ns)
		return 0;
	return castle_man_del(m, idx, k) ? 0 : 1;
}

static bool allow_map(int idx)
{
	return idx == CASTLE_MM_ALLOW4 || idx == CASTLE_MM_ALLOW6;
}

/* The slot word of a value of manual map idx. */
static uint32_t man_slot_of(int idx, const void *v)
{
	return allow_map(idx) ? ((const struct castle_allow_val *)v)->hit_slot
			      : ((const struct castle_block_val *)v)->class_slot;
}

/* The same write: what a writer put, not what others wrote since (the
 * program adds to hits and last_hit_ns in place). */
static bool same_write(bool allow, const union castle_list_val *x, const union castle_list_val *y)
{
	return allow ? x->a.created_ns == y->a.created_ns && x->a.hit_slot == y->a.hit_slot
		     : x->b.created_ns == y->b.created_ns && x->b.expires_ns == y->b.expires_ns &&
			       x->b.origin == y->b.origin && x->b.class_slot == y->b.class_slot;
}

/* After writing `written` under k of manual map idx: when castled's sweep has
 * freed the slot it names since the claim (the writer stalled between claim
 * and insert for longer than the sweep's age), take it back (the counts
 * since the insert are this entry's). If another writer claimed it in that
 * instant, this write, when it is still the entry, goes back to the locked
 * add instead of sharing the slot. (One claimed by another before this
 * check cannot be told from ours: the documented limit.) */
static void man_slot_verify(const struct castle_maps *m, int idx, const void *k,
			    const void *written, uint32_t slot)
{
	bool allow = allow_map(idx);
	union castle_list_val v, w = { 0 };
	uint32_t *named = allow ? &v.a.hit_slot : &v.b.class_slot;

	if (!castle_man_slot_freed(m, slot) || castle_man_slot_reclaim(m, slot))
		return;
	memcpy(&w, written, allow ? sizeof(w.a) : sizeof(w.b));
	if (bpf_map_lookup_elem(m->man[idx], k, &v) || !same_write(allow, &v, &w))
		return;
	*named = allow ? 0 : slot & 0xff;
	bpf_map_update_elem(m->man[idx], k, &v, BPF_EXIST);
}

int castle_man_slot_verify(const struct castle_maps *m, const struct castle_cidr *c, bool allow)
{
	union castle_list_val v;
	struct castle_lpm6 k;
	int idx = man_idx(c, allow);
	const void *key = castle_entry_key(c, !allow && castle_cidr_is_host(c), &k);

	if (bpf_map_lookup_elem(m->man[idx], key, &v))
		return -errno;
	man_slot_verify(m, idx, key, &v, man_slot_of(idx, &v));
	return 0;
}

static int undo(const struct castle_maps *m, int idx, const void *k, bool had, const void *old)
{
	return had ? man_put(m, idx, k, old, NULL, NULL, false) : castle_man_del(m, idx, k);
}

const void *castle_entry_key(const struct castle_cidr *c, bool exact, struct castle_lpm6 *k)
{
	if (exact)
		return c->addr;
	memset(k, 0, sizeof(*k));
	lpm_key(c, k);
	return k;
}

/* man_put of a value whose slot was claimed for it: a failed write gives the
 * slot back; a written one is checked once more, see castle_man_slot_verify. */
static int man_put_slotted(const struct castle_maps *m, int idx, const void *k, const void *v,
			   void *old, bool *had, bool keep_manual)
{
	uint32_t slot = man_slot_of(idx, v);
	int ret = man_put(m, idx, k, v, old, had, keep_manual);

	if (ret)
		castle_man_slot_release(m, slot);
	else
		man_slot_verify(m, idx, k, v, slot);
	return ret;
}

static void block_val(const struct castle_maps *m, struct castle_block_val *v, uint64_t ttl_ns,
		      uint32_t origin)
{
	memset(v, 0, sizeof(*v));
	v->origin = origin;
	/* the callers give it back when the write fails */
	v->class_slot = castle_man_slot_claim(m, CASTLE_NO_CLASS);
	v->created_ns = castle_now_boot_ns();
	/* Saturate: a huge TTL (--ttl 213503d) must not wrap to "already expired". */
	v->expires_ns = !ttl_ns ? 0 : ttl_ns > UINT64_MAX - v->created_ns ? UINT64_MAX
									     : v->created_ns + ttl_ns;
}

int castle_manual_block_put(const struct castle_maps *m, const struct castle_cidr *c,
			    uint64_t ttl_ns, uint32_t origin)
{
	return castle_manual_block_put_prev(m, c, ttl_ns, origin, NULL, NULL);
}

int castle_manual_block_del(const struct castle_maps *m, const struct castle_cidr *c)
{
	struct castle_lpm6 k;

	return castle_man_del(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k));
}

int castle_manual_allow_put(const struct castle_maps *m, const struct castle_cidr *c)
{
	return castle_manual_allow_put_prev(m, c, NULL, NULL);
}

int castle_manual_allow_del(const struct castle_maps *m, const struct castle_cidr *c)
{
	struct castle_lpm6 k;

	return castle_man_del(m, man_idx(c, true), castle_entry_key(c, false, &k));
}

static int block_put(const struct castle_maps *m, const struct castle_cidr *c, uint64_t ttl_ns,
		     uint32_t origin, bool *had, struct castle_block_val *old, bool keep_manual)
{
	struct castle_block_val v;
	struct castle_lpm6 k;

	block_val(m, &v, ttl_ns, origin);
	return man_put_slotted(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k),
			       &v, old, had, keep_manual);
}

int castle_manual_block_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 uint64_t ttl_ns, uint32_t origin, bool *had,
				 struct castle_block_val *old)
{
	return block_put(m, c, ttl_ns, origin, had, old, false);
}

int castle_manual_block_put_new(const struct castle_maps *m, const struct castle_cidr *c,
				uint64_t ttl_ns)
{
	return block_put(m, c, ttl_ns, CASTLE_ORIGIN_MANUAL, NULL, NULL, true);
}

int castle_manual_block_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_block_val *old)
{
	struct castle_lpm6 k;

	return undo(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k), had, old);
}

static int allow_put(const struct castle_maps *m, const struct castle_cidr *c, bool *had,
		     struct castle_allow_val *old, bool keep_manual)
{
	struct castle_allow_val v = { .origin = CASTLE_ORIGIN_MANUAL };
	struct castle_lpm6 k;

	v.created_ns = castle_now_boot_ns();
	v.hit_slot = castle_man_slot_claim(m, 0);
	return man_put_slotted(m, man_idx(c, true), castle_entry_key(c, false, &k), &v, old, had,
			       keep_manual);
}

int castle_manual_allow_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 bool *had, struct castle_allow_val *old)
{
	return allow_put(m, c, had, old, false);
}

int castle_manual_allow_put_new(const struct castle_maps *m, const struct castle_cidr *c)
{
	return allow_put(m, c, NULL, NULL, true);
}

int castle_manual_allow_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_allow_val *old)
{
	struct castle_lpm6 k;

	return undo(m, man_idx(c, true), castle_entry_key(c, false, &k), had, old);
}
