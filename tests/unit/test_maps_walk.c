// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_maps_walk.c - walking castle's maps while deleting from them, and the
 * persistence of far-future expiries, against real maps: the XDP object is
 * loaded with its maps pinned in a private directory (as test_ctl_maps.c).
 * Proves: a reaping walk of the manual maps visits every live entry exactly
 * once and deletes every expired one, over several batches of the exact map
 * (castled's state file and counts had duplicates when a delete restarted
 * the walk); castle_rl_reap_steady removes
 * exactly the idle entries; a saturated or huge TTL is written as a
 * far-future expiry and comes back after a restore instead of being lost.
 * Needs root (BPF).
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "castle_xdp.skel.h"
#include "pinned_skel.h"
#include "ctl_maps.h"
#include "persist.h"
#include "maps_int.h"

static char pin[128];
static struct castle_xdp_bpf *skel;
static struct castle_maps maps;

static int setup(void **state)
{
	(void)state;
	ut_skel_open(pin, sizeof(pin), "walk", &skel, &maps, NULL);
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	ut_skel_close(pin, &skel, &maps);
	return 0;
}

/* The state directory of a persistence test: created by make_state_dir,
 * removed by rm_state_dir (its teardown), also when the test failed. */
static char state_dir[64];

static char *make_state_dir(void)
{
	snprintf(state_dir, sizeof(state_dir), "/tmp/castle-utest-persist-XXXXXX");
	if (!mkdtemp(state_dir)) {
		state_dir[0] = 0;
		return NULL;
	}
	return state_dir;
}

static int rm_state_dir(void **state)
{
	(void)state;
	if (state_dir[0])
		ut_rm_dir(state_dir);
	state_dir[0] = 0;
	return 0;
}

/* more than one batch of castle_block_foreach's hash walk (4096) each */
enum { N_EXPIRED = 5000, N_LIVE = 9000 };

/* 10.<kind>.<i / 256>.<i % 256>: kind 1 expired, 2 live. */
static void addr_of(int kind, int i, uint8_t a[4])
{
	a[0] = 10;
	a[1] = kind;
	a[2] = i / 256;
	a[3] = i % 256;
}

static void fill(void)
{
	struct castle_block_val dead = { .origin = CASTLE_ORIGIN_MANUAL, .expires_ns = 1,
					 .created_ns = 1 };
	struct castle_block_val live = { .origin = CASTLE_ORIGIN_MANUAL };
	uint8_t a[4];

	/* interleaved, so that hash order mixes both kinds */
	for (int i = 0; i < N_EXPIRED || i < N_LIVE; i++) {
		if (i < N_EXPIRED) {
			addr_of(1, i, a);
			assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_BLOCK4], a, &dead,
							     BPF_ANY), 0);
			struct castle_lpm4 k = { .prefixlen = 24 };
			memcpy(k.addr, a, 4);
			k.addr[3] = 0;
			k.addr[1] = 101;
			assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_NET4], &k, &dead,
							     BPF_ANY), 0);
		}
		if (i < N_LIVE) {
			addr_of(2, i, a);
			assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_BLOCK4], a, &live,
							     BPF_ANY), 0);
			struct castle_lpm4 k = { .prefixlen = 24 };
			memcpy(k.addr, a, 4);
			k.addr[3] = 0;
			k.addr[1] = 102;
			assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_NET4], &k, &live,
							     BPF_ANY), 0);
		}
	}
}

/* Every key first, then the deletes: a walk restarted from the first key
 * after each delete scans a million empty buckets each time. */
static void clear_manual(void)
{
	enum { KSZ = 64 };

	for (int i = 0; i < CASTLE_MM_MAX; i++) {
		size_t n = 0, cap = 1024;
		uint8_t *keys = malloc(cap * KSZ);
		void *prev = NULL;

		assert_non_null(keys);
		while (bpf_map_get_next_key(maps.man[i], prev, keys + n * KSZ) == 0) {
			prev = keys + n * KSZ;
			if (++n == cap) {
				keys = realloc(keys, (cap *= 2) * KSZ);
				assert_non_null(keys);
				prev = keys + (n - 1) * KSZ;
			}
		}
		for (size_t k = 0; k < n; k++)
			assert_int_equal(bpf_map_delete_elem(maps.man[i], keys + k * KSZ), 0);
		free(keys);
	}
}

struct seen {
	int exact[N_LIVE], net[N_LIVE];
	int other, total;
};

static int count(const struct castle_entry *e, void *arg)
{
	struct seen *s = arg;

	s->total++;
	if (e->cidr.family == 4 && e->cidr.plen == 32 && e->cidr.addr[0] == 10 &&
	    e->cidr.addr[1] == 2)
		s->exact[e->cidr.addr[2] * 256 + e->cidr.addr[3]]++;
	else if (e->cidr.family == 4 && e->cidr.plen == 24 && e->cidr.addr[1] == 102)
		s->net[e->cidr.addr[2] * 256]++;
	else
		s->other++;
	return 0;
}

/* A generation's CIDRs in few prefix lengths live in hash maps by length
 * (pol_nhash4/6, keys laid out as a trie's): castlectl list and top read
 * them in batches too, each entry once, with its prefix. */
enum { N_NHASH = 5000 };

struct nhash_seen {
	int v4[N_NHASH], v6[N_NHASH];
	int other;
};

static int count_nhash(const struct castle_entry *e, void *arg)
{
	struct nhash_seen *s = arg;
	const uint8_t *a = e->cidr.addr;

	int i4 = (a[1] - 3) * 4096 + a[2] * 16 + a[3] / 16, i6 = a[5] * 256 + a[6];

	if (e->cidr.family == 4 && e->cidr.plen == 28 && a[0] == 10 && a[1] >= 3 &&
	    !(a[3] & 15) && i4 < N_NHASH)
		s->v4[i4]++;
	else if (e->cidr.family == 6 && e->cidr.plen == 64 && a[0] == 0x20 && a[1] == 0x01 &&
		 a[2] == 0x0d && a[3] == 0xb8 && a[4] == 0x77 && !a[7] && i6 < N_NHASH)
		s->v6[i6]++;
	else
		s->other++;
	return 0;
}

static void test_policy_cidrs_by_length_are_walked_in_batches(void **state)
{
	struct nhash_seen *s = calloc(1, sizeof(*s));
	size_t cap = (size_t)N_NHASH * 2 * 48 + 64, len = 0;
	char *yaml = malloc(cap);
	struct castle_apply_stats st;

	(void)state;
	UT_NEED_ROOT();
	assert_non_null(s);
	assert_non_null(yaml);
	clear_manual(); /* only the policy's entries in the walk */
	len += snprintf(yaml + len, cap - len, "version: 1\nblock:\n");
	for (int i = 0; i < N_NHASH; i++) {
		len += snprintf(yaml + len, cap - len, "  - 10.%d.%d.%d/28\n", 3 + i / 4096,
				(i / 16) % 256, (i % 16) * 16);
		len += snprintf(yaml + len, cap - len, "  - 2001:db8:77%02x:%02x00::/64\n", i / 256,
				i % 256);
	}
	ut_apply_policy(&maps, yaml, &st);
	free(yaml);

	struct castle_walk_stats before = castle_walk_stats;
	assert_int_equal(castle_block_foreach(&maps, false, count_nhash, s), 0);
	assert_int_equal(s->other, 0);
	for (int i = 0; i < N_NHASH; i++) {
		if (s->v4[i] != 1)
			fail_msg("v4 /28 number %d seen %d times", i, s->v4[i]);
		if (s->v6[i] != 1)
			fail_msg("v6 /64 number %d seen %d times", i, s->v6[i]);
	}
	/* each family's hash in batches of at most 4096 (a trie would be
	 * walked key by key, with no batch), none key by key */
	assert_int_equal(castle_walk_stats.hash_key_by_key, before.hash_key_by_key);
	assert_true(castle_walk_stats.batches - before.batches >= 2 * ((N_NHASH + 4095) / 4096));
	free(s);
}

/* The later tests walk the manual maps with an empty policy, also after a
 * failure above. */
static int empty_policy(void **state)
{
	struct castle_apply_stats st;

	(void)state;
	if (geteuid() == 0)
		ut_apply_policy(&maps, "version: 1\n", &st);
	return 0;
}

static void test_reaping_walk_visits_each_live_entry_once(void **state)
{
	struct seen *s = calloc(1, sizeof(*s));
	struct castle_block_val v;
	uint8_t a[4];

	(void)state;
	UT_NEED_ROOT();
	assert_non_null(s);
	clear_manual();
	fill();
	struct castle_walk_stats before = castle_walk_stats;
	assert_int_equal(castle_manual_foreach(&maps, true, count, s), 0);
	assert_int_equal(s->other, 0);
	/* the exact maps were read in batches of at most 4096, so at least
	 * ceil((N_LIVE + N_EXPIRED) / 4096) of them, none key by key */
	assert_int_equal(castle_walk_stats.hash_key_by_key, before.hash_key_by_key);
	assert_true(castle_walk_stats.batches - before.batches >= (N_LIVE + N_EXPIRED + 4095) / 4096);
	for (int i = 0; i < N_LIVE; i++) {
		if (s->exact[i] != 1)
			fail_msg("10.2.%d.%d seen %d times", i / 256, i % 256, s->exact[i]);
		/* net keys: 10.102.(i/256).0/24, one per i/256 group */
		if (i % 256 == 0 && s->net[i] != 1)
			fail_msg("10.102.%d.0/24 seen %d times", i / 256, s->net[i]);
	}
	int live_nets = (N_LIVE + 255) / 256;
	assert_int_equal(s->total, N_LIVE + live_nets);
	for (int i = 0; i < N_EXPIRED; i++) {
		addr_of(1, i, a);
		assert_int_not_equal(bpf_map_lookup_elem(maps.man[CASTLE_MM_BLOCK4], a, &v), 0);
	}
	struct castle_lpm4 k = { .prefixlen = 24, .addr = { 10, 101, 0, 0 } };
	assert_int_not_equal(bpf_map_lookup_elem(maps.man[CASTLE_MM_NET4], &k, &v), 0);

	/* a second reaping walk finds the same live entries, nothing else */
	memset(s, 0, sizeof(*s));
	assert_int_equal(castle_manual_foreach(&maps, true, count, s), 0);
	assert_int_equal(s->total, N_LIVE + live_nets);
	free(s);
	clear_manual();
}

static void test_persist_counts_without_duplicates(void **state)
{
	char *dir, err[256], path[300], line[512];
	struct castle_manual_counts counts;
	struct castle_persist p;
	int lines = 0;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	fill();
	assert_non_null(dir = make_state_dir());
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(castle_persist_sync(&p, &maps, true, &counts, NULL, err, sizeof(err)), 1);
	int live_nets = (N_LIVE + 255) / 256;
	assert_int_equal(counts.block[CASTLE_ORIGIN_MANUAL][0], N_LIVE + live_nets);
	assert_int_equal(counts.map_entries[CASTLE_MM_BLOCK4], N_LIVE);
	assert_int_equal(counts.map_entries[CASTLE_MM_NET4], live_nets);
	snprintf(path, sizeof(path), "%s/%s", dir, CASTLE_STATE_FILE);
	FILE *f = fopen(path, "r");
	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		lines += line[0] != '#';
	fclose(f);
	assert_int_equal(lines, N_LIVE + live_nets);
	clear_manual();
}

/* The walk reads a batch of entries before it looks at them: an expired
 * entry written again meanwhile (a re-ban, a castlectl block of the same
 * source) is live, and the reaping walk must leave it. The first live entry
 * the walk meets rewrites every expired one; whatever the hash order, the
 * ones the walk reaches after that are in its batch with their old expiry. */
struct rewrite {
	int rewritten;
	bool done;
};

static int rewrite_expired(const struct castle_entry *e, void *arg)
{
	struct castle_block_val live = { .origin = CASTLE_ORIGIN_MANUAL, .created_ns = 7 };
	struct rewrite *r = arg;
	uint8_t a[4];

	(void)e;
	if (r->done)
		return 0;
	r->done = true;
	for (int i = 0; i < N_EXPIRED; i++) {
		addr_of(1, i, a);
		r->rewritten += bpf_map_update_elem(maps.man[CASTLE_MM_BLOCK4], a, &live, BPF_EXIST) == 0;
	}
	return 0;
}

/* The reaper deletes the expired entry it saw, never one written over it
 * since (a re-ban, a castlectl block of the same key), and counts it gone. */
static void test_reap_takes_only_what_it_saw(void **state)
{
	struct castle_block_val seen = { .origin = CASTLE_ORIGIN_MANUAL, .expires_ns = 1,
					 .created_ns = 1 };
	struct castle_block_val again = { .origin = CASTLE_ORIGIN_MANUAL, .created_ns = 2 }, v;
	int fd = maps.man[CASTLE_MM_BLOCK4];
	uint8_t a[4] = { 198, 18, 9, 9 };
	struct castle_lpm4 net = { .prefixlen = 24, .addr = { 198, 18, 9, 0 } };
	uint64_t n0;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	n0 = maps.man_count_mem->n[CASTLE_MM_BLOCK4];
	assert_int_equal(bpf_map_update_elem(fd, a, &again, BPF_ANY), 0);
	maps.man_count_mem->n[CASTLE_MM_BLOCK4]++;
	assert_int_equal(castle_man_reap(&maps, CASTLE_MM_BLOCK4, a, seen.created_ns, seen.expires_ns), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, a, &v), 0);
	assert_int_equal(v.created_ns, 2);
	assert_int_equal(maps.man_count_mem->n[CASTLE_MM_BLOCK4], n0 + 1);
	assert_int_equal(bpf_map_update_elem(fd, a, &seen, BPF_ANY), 0);
	assert_int_equal(castle_man_reap(&maps, CASTLE_MM_BLOCK4, a, seen.created_ns, seen.expires_ns), 1);
	assert_int_not_equal(bpf_map_lookup_elem(fd, a, &v), 0);
	assert_int_equal(maps.man_count_mem->n[CASTLE_MM_BLOCK4], n0);
	/* a trie likewise (look, then delete) */
	fd = maps.man[CASTLE_MM_NET4];
	assert_int_equal(bpf_map_update_elem(fd, &net, &again, BPF_ANY), 0);
	maps.man_count_mem->n[CASTLE_MM_NET4]++;
	assert_int_equal(castle_man_reap(&maps, CASTLE_MM_NET4, &net, 1, 1), 0);
	assert_int_equal(bpf_map_lookup_elem(fd, &net, &v), 0);
	assert_int_equal(castle_man_reap(&maps, CASTLE_MM_NET4, &net, 2, 0), 1);
	assert_int_not_equal(bpf_map_lookup_elem(fd, &net, &v), 0);
	clear_manual();
}

static void test_reaping_walk_leaves_entries_written_again(void **state)
{
	struct castle_block_val dead = { .origin = CASTLE_ORIGIN_MANUAL, .expires_ns = 1,
					 .created_ns = 1 };
	struct castle_block_val live = { .origin = CASTLE_ORIGIN_MANUAL }, v;
	struct rewrite r = { 0 };
	uint8_t a[4];
	int left = 0;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	addr_of(2, 0, a);
	assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_BLOCK4], a, &live, BPF_ANY), 0);
	for (int i = 0; i < N_EXPIRED; i++) {
		addr_of(1, i, a);
		assert_int_equal(bpf_map_update_elem(maps.man[CASTLE_MM_BLOCK4], a, &dead, BPF_ANY), 0);
	}
	assert_int_equal(castle_manual_foreach(&maps, true, rewrite_expired, &r), 0);
	assert_true(r.done);
	assert_true(r.rewritten > 0);	/* some came after the live one */
	for (int i = 0; i < N_EXPIRED; i++) {
		addr_of(1, i, a);
		left += bpf_map_lookup_elem(maps.man[CASTLE_MM_BLOCK4], a, &v) == 0;
	}
	printf("# %d expired entries written again mid-walk, %d left after it\n", r.rewritten, left);
	assert_int_equal(left, r.rewritten);
	clear_manual();
}

static void test_rl_reap_steady(void **state)
{
	struct castle_rl_val idle = { 0 }, fresh = { 0 };
	struct castle_rl_key k;
	struct timespec ts;
	int n = 0;

	(void)state;
	UT_NEED_ROOT();
	clock_gettime(CLOCK_MONOTONIC, &ts);
	idle.last_ns = 1;
	fresh.last_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	for (int i = 0; i < 500; i++) {
		memset(&k, 0, sizeof(k));
		k.family = 4;
		k.addr[0] = 10;
		k.addr[2] = i / 256;
		k.addr[3] = i % 256;
		assert_int_equal(bpf_map_update_elem(maps.rl_steady, &k, i % 3 ? &idle : &fresh,
						     BPF_ANY), 0);
		n += i % 3 != 0;
	}
	assert_int_equal(castle_rl_reap_steady(&maps, 60ull * 1000000000ull), n);
	uint32_t left = 0, cap = 0;
	assert_int_equal(castle_map_usage(maps.rl_steady, &left, &cap), 0);
	assert_int_equal(left, 500 - n);
	assert_int_equal(castle_rl_reap_steady(&maps, 60ull * 1000000000ull), 0);
}

/* The expiry column (third field) of the line for cidr. */
static long long file_expiry(const char *path, const char *cidr)
{
	char line[512], kind[8], c[80];
	long long exp;
	FILE *f = fopen(path, "r");

	assert_non_null(f);
	while (fgets(line, sizeof(line), f))
		if (line[0] != '#' && sscanf(line, "%7s %79s %lld", kind, c, &exp) == 3 &&
		    !strcmp(c, cidr)) {
			fclose(f);
			return exp;
		}
	fclose(f);
	fail_msg("%s not in %s", cidr, path);
	return -1;
}

/* The wall clock stepped after castled measured its offset (NTP after
 * boot): a save writes expiries on the clock as it is now. Simulated by an
 * offset three days off. */
static void test_persist_follows_a_stepped_clock(void **state)
{
	const uint64_t hour_ns = 3600ull * 1000000000ull;
	const int64_t days3 = 3ll * 86400 * 1000000000ll;
	char *dir, err[256], path[300];
	struct castle_persist p;
	struct castle_cidr c;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	assert_int_equal(castle_cidr_parse("198.18.7.9", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_manual_block_put(&maps, &c, hour_ns, CASTLE_ORIGIN_MANUAL), 0);
	assert_non_null(dir = make_state_dir());
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/%s", dir, CASTLE_STATE_FILE);
	for (int sign = -1; sign <= 1; sign += 2) {
		p.boot_to_unix_ns -= sign * days3;
		p.have_hash = false;
		assert_true(castle_persist_sync(&p, &maps, true, NULL, NULL, err, sizeof(err)) >= 0);
		long long e = file_expiry(path, "198.18.7.9"), want = time(NULL) + 3600;
		if (e < want - 5 || e > want + 5)
			fail_msg("expiry %lld written, want %lld (the clock as it is now)", e, want);
	}
	clear_manual();
}

static void test_persist_far_future_ttl(void **state)
{
	static const char *const cidrs[] = { "198.18.7.7", "198.18.7.8", "198.18.7.0/24" };
	const uint64_t year_ns = 365ull * 86400 * 1000000000ull;
	const uint64_t ttls[] = { UINT64_MAX, 250 * year_ns, 290 * year_ns };
	char *dir, err[256], path[300];
	struct castle_persist p;
	struct castle_cidr c[3];
	struct castle_block_val v;
	int restored = 0;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	for (int i = 0; i < 3; i++) {
		assert_int_equal(castle_cidr_parse(cidrs[i], &c[i], err, sizeof(err)), 0);
		assert_int_equal(castle_manual_block_put(&maps, &c[i], ttls[i], CASTLE_ORIGIN_MANUAL),
				 0);
	}
	assert_int_equal(castle_block_lookup(&maps, &c[0], false, &v), 0);
	assert_true(v.expires_ns == UINT64_MAX);

	assert_non_null(dir = make_state_dir());
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(castle_persist_sync(&p, &maps, true, NULL, NULL, err, sizeof(err)), 1);
	snprintf(path, sizeof(path), "%s/%s", dir, CASTLE_STATE_FILE);
	long long now = time(NULL), century = 100ll * 365 * 86400;
	for (int i = 0; i < 3; i++) {
		long long e = file_expiry(path, cidrs[i]);
		if (e < now + 2 * century)
			fail_msg("%s: expiry %lld written, not far in the future", cidrs[i], e);
	}

	/* a reboot: the maps are empty, the file puts the entries back */
	clear_manual();
	assert_int_equal(castle_persist_restore(&p, &maps, &restored, err, sizeof(err)), 0);
	assert_int_equal(restored, 3);
	for (int i = 0; i < 3; i++) {
		assert_int_equal(castle_block_lookup(&maps, &c[i], false, &v), 0);
		if (v.expires_ns < castle_now_boot_ns() + 2 * 100 * year_ns)
			fail_msg("%s: restored expiry %llu is not far in the future", cidrs[i],
				 (unsigned long long)v.expires_ns);
	}
	clear_manual();
}

/* Every manual/auto entry as "origin cidr" lines (the walk answers exact
 * keys, where an LPM lookup would answer the longest enclosing prefix). */
struct listing {
	char text[1024];
};

static int list_one(const struct castle_entry *e, void *arg)
{
	struct listing *l = arg;
	char cs[CASTLE_CIDR_STRLEN];
	size_t n = strlen(l->text);

	snprintf(l->text + n, sizeof(l->text) - n, "%s%s %s %s\n", e->allow ? "allow" : "block",
		 e->origin == CASTLE_ORIGIN_AUTO ? "(auto)" : "", castle_cidr_str(&e->cidr, cs, sizeof(cs)),
		 e->expires_ns ? "ttl" : "-");
	return 0;
}

static void sorted_listing(char *out, size_t len)
{
	struct listing l = { { 0 } };
	char *lines[32], *save = NULL;
	int n = 0;

	assert_int_equal(castle_manual_foreach(&maps, false, list_one, &l), 0);
	for (char *t = strtok_r(l.text, "\n", &save); t && n < 32; t = strtok_r(NULL, "\n", &save))
		lines[n++] = t;
	for (int i = 1; i < n; i++)
		for (int j = i; j > 0 && strcmp(lines[j - 1], lines[j]) > 0; j--) {
			char *x = lines[j];
			lines[j] = lines[j - 1];
			lines[j - 1] = x;
		}
	out[0] = 0;
	for (int i = 0; i < n; i++)
		snprintf(out + strlen(out), len - strlen(out), "%s|", lines[i]);
}

/* Prefixes inside prefixes come back, each under its own key: the file
 * lists an enclosing prefix first, and restore once took it (an LPM lookup's
 * answer) for the nested one, which was lost. An exact key already holding a
 * manual entry keeps it; an auto-ban there gives way. */
static void test_persist_restores_nested_prefixes(void **state)
{
	static const char *const blocks[] = { "198.18.0.0/15", "198.19.0.0/16", "198.19.7.0/24",
					      "198.19.7.9", "2001:db8::/32", "2001:db8:1::/48" };
	static const char *const allows[] = { "198.18.0.0/16", "198.18.5.0/24", "2001:db8::/33",
					      "2001:db8:0:1::/64" };
	char *dir, err[256], before[1024], after[1024];
	struct castle_persist p;
	struct castle_cidr c;
	struct castle_block_val v;
	int restored = 0;

	(void)state;
	UT_NEED_ROOT();
	clear_manual();
	for (size_t i = 0; i < sizeof(blocks) / sizeof(*blocks); i++) {
		assert_int_equal(castle_cidr_parse(blocks[i], &c, err, sizeof(err)), 0);
		assert_int_equal(castle_manual_block_put(&maps, &c, 0, CASTLE_ORIGIN_MANUAL), 0);
	}
	for (size_t i = 0; i < sizeof(allows) / sizeof(*allows); i++) {
		assert_int_equal(castle_cidr_parse(allows[i], &c, err, sizeof(err)), 0);
		assert_int_equal(castle_manual_allow_put(&maps, &c), 0);
	}
	sorted_listing(before, sizeof(before));
	assert_non_null(dir = make_state_dir());
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	assert_int_equal(castle_persist_sync(&p, &maps, true, NULL, NULL, err, sizeof(err)), 1);

	/* a reboot, then before the restore: castlectl's block of a key of the
	 * file (with a TTL: the newer word, kept), a block of another that has
	 * expired and an auto-ban of a third (both replaced) */
	clear_manual();
	assert_int_equal(castle_cidr_parse("198.19.0.0/16", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_manual_block_put(&maps, &c, 3600ull * 1000000000ull,
						 CASTLE_ORIGIN_MANUAL), 0);
	assert_int_equal(castle_cidr_parse("198.19.7.9", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_manual_block_put(&maps, &c, 1, CASTLE_ORIGIN_MANUAL), 0); /* expired */
	assert_int_equal(castle_note_put(&maps, &c, castle_note_list(false, false), "stale"), 0);
	assert_int_equal(castle_cidr_parse("198.19.7.0/24", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_manual_block_put(&maps, &c, 3600ull * 1000000000ull,
						 CASTLE_ORIGIN_AUTO), 0);
	assert_int_equal(castle_persist_restore(&p, &maps, &restored, err, sizeof(err)), 0);
	assert_int_equal(restored, 9);
	sorted_listing(after, sizeof(after));
	assert_string_equal(after,
			    "allow 198.18.0.0/16 -|allow 198.18.5.0/24 -|allow 2001:db8:0:1::/64 -|"
			    "allow 2001:db8::/33 -|block 198.18.0.0/15 -|block 198.19.0.0/16 ttl|"
			    "block 198.19.7.0/24 -|block 198.19.7.9 -|block 2001:db8:1::/48 -|"
			    "block 2001:db8::/32 -|");
	assert_string_equal(before,
			    "allow 198.18.0.0/16 -|allow 198.18.5.0/24 -|allow 2001:db8:0:1::/64 -|"
			    "allow 2001:db8::/33 -|block 198.18.0.0/15 -|block 198.19.0.0/16 -|"
			    "block 198.19.7.0/24 -|block 198.19.7.9 -|block 2001:db8:1::/48 -|"
			    "block 2001:db8::/32 -|");
	assert_int_equal(castle_block_lookup(&maps, &c, false, &v), 0);
	assert_int_equal(v.origin, CASTLE_ORIGIN_MANUAL);
	/* the expired block's comment went with it (the file's line has none) */
	char note[64];
	assert_int_equal(castle_cidr_parse("198.19.7.9", &c, err, sizeof(err)), 0);
	assert_int_equal(castle_note_get(&maps, &c, castle_note_list(false, false), note,
					 sizeof(note)), -ENOENT);
	clear_manual();
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reaping_walk_visits_each_live_entry_once),
		cmocka_unit_test_teardown(test_policy_cidrs_by_length_are_walked_in_batches,
					  empty_policy),
		cmocka_unit_test_teardown(test_persist_counts_without_duplicates, rm_state_dir),
		cmocka_unit_test(test_reaping_walk_leaves_entries_written_again),
		cmocka_unit_test(test_reap_takes_only_what_it_saw),
		cmocka_unit_test(test_rl_reap_steady),
		cmocka_unit_test_teardown(test_persist_far_future_ttl, rm_state_dir),
		cmocka_unit_test_teardown(test_persist_follows_a_stepped_clock, rm_state_dir),
		cmocka_unit_test_teardown(test_persist_restores_nested_prefixes, rm_state_dir),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
