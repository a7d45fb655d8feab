// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * maps.c - open castle's maps, switch policy generations atomically, and
 * manage block/allow entries. See maps.h for the contract of each function.
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
	} while (0)

/* Maps a castle build before them did not pin: their pins may be missing. */
static bool optional_pin(const char *name)
{
	return !strcmp(name, CASTLE_MAP_POL_NHASH4) || !strcmp(name, CASTLE_MAP_POL_NHASH6) ||
	       !strcmp(name, CASTLE_MAP_POL_NLENS);
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
	if (ret)
		castle_maps_close(m);
	return ret;
}

void castle_maps_close(struct castle_maps *m)
{
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

/*
 * Make the block-CIDR maps of family f (0: IPv4) and put g's CIDRs of that
 * family in one of them: the prefix-length hash when they come in at most
 * CASTLE_NHASH_MAX4/6 lengths (and the pins have it, and no older program may
 * read the generation), else the trie. The other map is made with one entry:
 * every outer slot holds a map. lens gets the lengths of the hash.
 */
static int place_nets(const struct castle_maps *m, struct castle_gen *g, int f,
		      struct castle_nhash_lens *lens, char *err, size_t errlen)
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
	uint32_t zero = 0, live, standby;
	int ret;

	if (bpf_map_lookup_elem(m->state, &zero, &st)) {
		ret = -errno;
		snprintf(err, errlen, "read state: %s", strerror(-ret));
		return ret;
	}
	live = st.gen & 1;
	standby = live ^ 1;

	struct castle_nhash_lens lens = { 0 };
	for (int f = 0; f < 2; f++) {
		ret = place_nets(m, g, f, &lens, err, errlen);
		if (ret)
			return ret;
	}
	if (m->nlens >= 0 && bpf_map_update_elem(m->nlens, &standby, &lens, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "write %s[%u]: %s", CASTLE_MAP_POL_NLENS, standby,
			 strerror(-ret));
		return ret;
	}

	/* Which lists the programs may skip in this generation. */
	struct castle_policy *slot = malloc(sizeof(*slot));
	if (!slot) {
		snprintf(err, errlen, "policy slot: %s", strerror(ENOMEM));
		return -ENOMEM;
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
		return ret;
	}
	for (int i = 0; i < CASTLE_PM_MAX; i++) {
		if (m->pol[i] < 0)
			continue; /* pol_nhash4/6 not pinned: never used */
		if (bpf_map_update_elem(m->pol[i], &standby, &g->inner[i], BPF_ANY)) {
			ret = -errno;
			snprintf(err, errlen, "install %s[%u]: %s", castle_pol_map_names[i], standby,
				 strerror(-ret));
			return ret;
		}
	}

	/* Re-read: ev_tat may have moved since; only gen is ours to change. */
	if (bpf_map_lookup_elem(m->state, &zero, &st)) {
		ret = -errno;
		snprintf(err, errlen, "read state: %s", strerror(-ret));
		return ret;
	}
	st.gen = standby;
	if (bpf_map_update_elem(m->state, &zero, &st, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "switch generation: %s", strerror(-ret));
		return ret;
	}

	/* Grace period: see the comment above. */
	bpf_map_update_elem(m->pol[CASTLE_PM_SNI], &standby, &g->inner[CASTLE_PM_SNI], BPF_ANY);
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		if (m->pol[i] >= 0)
			bpf_map_delete_elem(m->pol[i], &live);

	castle_gen_abort(g); /* our fds; the outer maps hold their own references */
	return 0;
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

int castle_gen_add_block(struct castle_gen *g, const struct castle_cidr *c, const struct castle_block_val *v)
{
	int f = c->family == 4 ? 0 : 1;
	struct castle_gen_net *e;
	struct castle_cidr masked = *c;

	if (castle_cidr_is_host(c))
		return put(g->inner[f ? CASTLE_PM_BLOCK6 : CASTLE_PM_BLOCK4], c->addr, v, BPF_ANY);
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
	memset(&e->key, 0, sizeof(e->key));
	lpm_key(&masked, &e->key);
	e->v = *v;
	return 0;
}

int castle_gen_add_allow(struct castle_gen *g, const struct castle_cidr *c, const struct castle_allow_val *v)
{
	struct castle_lpm6 k;

	lpm_key(c, &k);
	return put(g->inner[c->family == 4 ? CASTLE_PM_ALLOW4 : CASTLE_PM_ALLOW6], &k, v, BPF_ANY);
}

int castle_gen_add_csrc(struct castle_gen *g, const struct castle_cidr *c, uint32_t classes)
{
	struct castle_csrc_val v = { .classes = classes };
	struct castle_lpm6 k;

	lpm_key(c, &k);
	return put(g->inner[c->family == 4 ? CASTLE_PM_CSRC4 : CASTLE_PM_CSRC6], &k, &v, BPF_ANY);
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
	}
	return 0;
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
	struct castle_policy *pol = host || m->pol[hpm] < 0 ? NULL : malloc(sizeof(*pol));

	/* A generation's CIDRs of a family are in its prefix-length hash or
	 * in its trie, as its `lists` say. */
	if (pol && !bpf_map_lookup_elem(m->policy, &gen, pol) && (pol->lists & (1u << hpm)))
		pm = hpm;
	free(pol);
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
 * lookup alone would answer an enclosing prefix). A full map answers E2BIG;
 * the contract calls that "full". */
static int man_put(const struct castle_maps *m, int idx, const void *k, const void *v, void *old,
		   bool *had)
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

static int man_del(const struct castle_maps *m, int idx, const void *k)
{
	if (bpf_map_delete_elem(m->man[idx], k))
		return -errno;
	man_count_dec(m, idx);
	return 0;
}

static int undo(const struct castle_maps *m, int idx, const void *k, bool had, const void *old)
{
	return had ? man_put(m, idx, k, old, NULL, NULL) : man_del(m, idx, k);
}

const void *castle_entry_key(const struct castle_cidr *c, bool exact, struct castle_lpm6 *k)
{
	if (exact)
		return c->addr;
	memset(k, 0, sizeof(*k));
	lpm_key(c, k);
	return k;
}

static void block_val(struct castle_block_val *v, uint64_t ttl_ns, uint32_t origin)
{
	memset(v, 0, sizeof(*v));
	v->origin = origin;
	v->created_ns = castle_now_boot_ns();
	/* Saturate: a huge TTL (--ttl 213503d) must not wrap to "already expired". */
	v->expires_ns = !ttl_ns ? 0 : ttl_ns > UINT64_MAX - v->created_ns ? UINT64_MAX
									     : v->created_ns + ttl_ns;
}

int castle_manual_block_put(const struct castle_maps *m, const struct castle_cidr *c,
			    uint64_t ttl_ns, uint32_t origin)
{
	struct castle_block_val v;
	struct castle_lpm6 k;

	block_val(&v, ttl_ns, origin);
	return man_put(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k), &v,
		       NULL, NULL);
}

int castle_manual_block_del(const struct castle_maps *m, const struct castle_cidr *c)
{
	struct castle_lpm6 k;

	return man_del(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k));
}

int castle_manual_allow_put(const struct castle_maps *m, const struct castle_cidr *c)
{
	struct castle_allow_val v = { .origin = CASTLE_ORIGIN_MANUAL };
	struct castle_lpm6 k;

	v.created_ns = castle_now_boot_ns();
	return man_put(m, man_idx(c, true), castle_entry_key(c, false, &k), &v, NULL, NULL);
}

int castle_manual_allow_del(const struct castle_maps *m, const struct castle_cidr *c)
{
	struct castle_lpm6 k;

	return man_del(m, man_idx(c, true), castle_entry_key(c, false, &k));
}

int castle_manual_block_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 uint64_t ttl_ns, uint32_t origin, bool *had,
				 struct castle_block_val *old)
{
	struct castle_block_val v;
	struct castle_lpm6 k;

	block_val(&v, ttl_ns, origin);
	return man_put(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k), &v,
		       old, had);
}

int castle_manual_block_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_block_val *old)
{
	struct castle_lpm6 k;

	return undo(m, man_idx(c, false), castle_entry_key(c, castle_cidr_is_host(c), &k), had, old);
}

int castle_manual_allow_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 bool *had, struct castle_allow_val *old)
{
	struct castle_allow_val v = { .origin = CASTLE_ORIGIN_MANUAL };
	struct castle_lpm6 k;

	v.created_ns = castle_now_boot_ns();
	return man_put(m, man_idx(c, true), castle_entry_key(c, false, &k), &v, old, had);
}

int castle_manual_allow_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_allow_val *old)
{
	struct castle_lpm6 k;

	return undo(m, man_idx(c, true), castle_entry_key(c, false, &k), had, old);
}

/* ---- listing ------------------------------------------------------------ */

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

struct walk_ctx {
	const struct castle_maps *m;
	int mm;			/* manual map index (reaping), -1 for a policy map */
	int family;
	bool lpm, allow, reap;
	uint64_t now, mono_to_boot;
	castle_entry_cb cb;
	void *arg;
};

static int walk_one(int fd, const void *kp, void *arg)
{
	const struct walk_ctx *w = arg;
	const uint8_t *key = kp;
	union {
		struct castle_block_val b;
		struct castle_allow_val a;
	} val;
	struct castle_entry e = { .allow = w->allow };

	if (bpf_map_lookup_elem(fd, key, &val))
		return 0; /* deleted meanwhile */
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
		e.origin = val.a.origin;
		e.created_ns = val.a.created_ns;
		e.hits = val.a.hits;
	} else {
		e.origin = val.b.origin;
		e.class_slot = val.b.class_slot;
		e.expires_ns = val.b.expires_ns;
		e.created_ns = val.b.created_ns;
		e.hits = val.b.hits;
		/* coarse monotonic in the map, boot time for callers */
		e.last_hit_ns = val.b.last_hit_ns ? val.b.last_hit_ns + w->mono_to_boot : 0;
		if (e.expires_ns && e.expires_ns <= w->now) {
			if (w->reap && w->mm >= 0 && e.origin != CASTLE_ORIGIN_POLICY)
				man_del(w->m, w->mm, key);
			return 0;
		}
	}
	return w->cb(&e, w->arg);
}

/* Walk one map: exact (key = address) or LPM (key = castle_lpm4/6). Every
 * entry present for the whole walk is seen exactly once, reaping or not. */
static int walk(const struct castle_maps *m, int mm, int fd, int family, bool lpm, bool allow,
		bool reap, uint64_t now, castle_entry_cb cb, void *arg)
{
	struct walk_ctx w = { .m = m, .mm = mm, .family = family, .lpm = lpm, .allow = allow, .reap = reap,
			      .now = now, .cb = cb, .arg = arg };
	size_t ksz = lpm ? (family == 4 ? sizeof(struct castle_lpm4) : sizeof(struct castle_lpm6))
			 : (family == 4 ? 4 : 16);
	struct timespec mono;

	clock_gettime(CLOCK_MONOTONIC, &mono);
	w.mono_to_boot = castle_now_boot_ns() -
			 ((uint64_t)mono.tv_sec * 1000000000ull + (uint64_t)mono.tv_nsec);
	return castle_map_foreach_key(fd, ksz, walk_one, &w);
}

static int inner_fd(const struct castle_maps *m, int pm, uint32_t gen)
{
	uint32_t id;

	if (m->pol[pm] < 0 || bpf_map_lookup_elem(m->pol[pm], &gen, &id))
		return -1; /* no policy applied yet */
	return bpf_map_get_fd_by_id(id);
}

int castle_block_foreach(const struct castle_maps *m, bool reap, castle_entry_cb cb, void *arg)
{
	static const struct { int pm, mm, family; bool lpm; } lists[] = {
		{ CASTLE_PM_BLOCK4, CASTLE_MM_BLOCK4, 4, false },
		{ CASTLE_PM_NHASH4, -1, 4, true }, /* keys laid out as the trie's */
		{ CASTLE_PM_NET4, CASTLE_MM_NET4, 4, true },
		{ CASTLE_PM_BLOCK6, CASTLE_MM_BLOCK6, 6, false },
		{ CASTLE_PM_NHASH6, -1, 6, true },
		{ CASTLE_PM_NET6, CASTLE_MM_NET6, 6, true },
	};
	uint64_t now = castle_now_boot_ns();
	uint32_t gen = 0;
	int ret = castle_gen_live(m, &gen, NULL);

	if (ret)
		return ret;
	for (size_t i = 0; i < sizeof(lists) / sizeof(lists[0]); i++) {
		int fd = inner_fd(m, lists[i].pm, gen);
		if (fd >= 0) {
			ret = walk(m, -1, fd, lists[i].family, lists[i].lpm, false, false, now, cb,
				   arg);
			close(fd);
			if (ret)
				return ret;
		}
		if (lists[i].mm < 0)
			continue;
		ret = walk(m, lists[i].mm, m->man[lists[i].mm], lists[i].family, lists[i].lpm, false,
			   reap, now, cb, arg);
		if (ret)
			return ret;
	}
	return 0;
}

int castle_allow_foreach(const struct castle_maps *m, castle_entry_cb cb, void *arg)
{
	uint32_t gen = 0;
	int ret = castle_gen_live(m, &gen, NULL);

	if (ret)
		return ret;
	for (int f = 0; f < 2; f++) {
		int family = f ? 6 : 4;
		int fd = inner_fd(m, f ? CASTLE_PM_ALLOW6 : CASTLE_PM_ALLOW4, gen);
		if (fd >= 0) {
			ret = walk(m, -1, fd, family, true, true, false, 0, cb, arg);
			close(fd);
			if (ret)
				return ret;
		}
		ret = walk(m, f ? CASTLE_MM_ALLOW6 : CASTLE_MM_ALLOW4,
			   m->man[f ? CASTLE_MM_ALLOW6 : CASTLE_MM_ALLOW4], family, true, true, false, 0,
			   cb, arg);
		if (ret)
			return ret;
	}
	return 0;
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
		int ret = walk(m, lists[i].mm, m->man[lists[i].mm], lists[i].family, lists[i].lpm, lists[i].allow,
			       reap, now, cb, arg);
		if (ret)
			return ret;
	}
	return 0;
}
