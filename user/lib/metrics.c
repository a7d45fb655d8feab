// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * metrics.c - see metrics.h: the exposition (the HTTP side is in
 * metrics_http.c). Every family gets its HELP and TYPE lines even
 * when it has no sample yet, and the series an operator alerts on (each drop
 * reason of each interface) exist from the first scrape with value 0, so that
 * rate() and absent() behave from the start.
 */
#include <errno.h>
#include <net/if.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include <castle/tls.h>
#include "ctl_maps.h"
#include "loader.h"
#include "metrics.h"

/* ---- rendering ---------------------------------------------------------- */

static void family(FILE *f, const char *name, const char *type, const char *help)
{
	fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* Label values: backslash, double quote and newline escaped (format 0.0.4). */
static const char *esc(const char *s, char *buf, size_t len)
{
	size_t o = 0;

	for (; *s && o + 3 < len; s++) {
		if (*s == '\\' || *s == '"') {
			buf[o++] = '\\';
			buf[o++] = *s;
		} else if (*s == '\n') {
			buf[o++] = '\\';
			buf[o++] = 'n';
		} else {
			buf[o++] = *s;
		}
	}
	buf[o] = 0;
	return buf;
}

struct iface_stats {
	uint32_t ifindex;
	char name[IF_NAMESIZE + 16];
	bool has[2];			/* stage xdp, tc */
	bool slotted;			/* has a counter slot: */
	uint32_t slot;			/* its class_stats and tls_results key */
	struct castle_stats st[2];
};

static int find_or_add(struct iface_stats *v, int *n, uint32_t ifindex)
{
	for (int i = 0; i < *n; i++)
		if (v[i].ifindex == ifindex)
			return i;
	if (*n >= CASTLE_MAX_IFACES)
		return -1;
	memset(&v[*n], 0, sizeof(v[*n]));
	v[*n].ifindex = ifindex;
	return (*n)++;
}

/* Interfaces castle is attached to (even before their first packet) and
 * every interface that has counters. */
static int collect_ifaces(const struct castle_maps *m, struct iface_stats *v)
{
	uint32_t ids[CASTLE_MAX_IFACES], key, next, *prev = NULL;
	struct castle_iface rec;
	int n = 0, k, cnt;

	while (bpf_map_get_next_key(m->ifaces, prev, &next) == 0) {
		k = find_or_add(v, &n, next);
		if (k >= 0 && !bpf_map_lookup_elem(m->ifaces, &next, &rec)) {
			v[k].has[0] = rec.xdp_mode != CASTLE_XDPM_NONE;
			v[k].has[1] = rec.tc_mode != CASTLE_TCM_NONE;
			snprintf(v[k].name, sizeof(v[k].name), "%.*s", (int)sizeof(rec.name), rec.name);
		}
		key = next;
		prev = &key;
	}
	for (int s = 0; s < 2; s++) {
		int fd = s ? m->tc_stats : m->xdp_stats;
		cnt = castle_stats_ifaces(m, fd, ids, CASTLE_MAX_IFACES);
		for (int i = 0; i < cnt; i++) {
			k = find_or_add(v, &n, ids[i]);
			if (k >= 0 && !castle_stats_read(m, fd, ids[i], &v[k].st[s]))
				v[k].has[s] = true;
		}
	}
	for (int i = 0; i < n; i++) {
		char tmp[IF_NAMESIZE];
		v[i].slotted = !castle_ifslot_of(m, v[i].ifindex, &v[i].slot);
		if (!v[i].name[0])
			snprintf(v[i].name, sizeof(v[i].name), "%s",
				 if_indextoname(v[i].ifindex, tmp) ? tmp : "");
		if (!v[i].name[0])
			snprintf(v[i].name, sizeof(v[i].name), "if%u", v[i].ifindex);
	}
	return n;
}

/* The series that exist even at zero: what each stage can do. */
static bool canonical(int stage, int verdict, int r)
{
	if (stage == CASTLE_STAGE_XDP)
		return verdict == CASTLE_PASS
			       ? r == CASTLE_R_OK || r == CASTLE_R_ALLOWLIST || r == CASTLE_R_NON_IP ||
					 r == CASTLE_R_ND
			       : r == CASTLE_R_BLOCKLIST || r == CASTLE_R_AUTOBAN ||
					 r == CASTLE_R_RATELIMIT || r == CASTLE_R_MALFORMED;
	return verdict == CASTLE_PASS
		       ? r == CASTLE_R_OK || r == CASTLE_R_TLS || r == CASTLE_R_UNTRACKED
		       : r >= CASTLE_R_TLS_NOT_TLS && r <= CASTLE_R_QUIC;
}

static void render_packets(FILE *f, const struct iface_stats *v, int n, bool bytes)
{
	static const char *const stage[] = { "xdp", "tc" };
	static const char *const verdict[] = { "pass", "drop" };
	char name[64];

	if (bytes)
		family(f, "castle_bytes_total", "counter",
		       "Bytes (whole frames) judged by castle, by interface, stage, verdict and reason.");
	else
		family(f, "castle_packets_total", "counter",
		       "Packets judged by castle, by interface, stage, verdict and reason. In dry-run "
		       "the verdict is pass and the reason the one that would have dropped.");
	for (int i = 0; i < n; i++)
		for (int s = 0; s < 2; s++) {
			if (!v[i].has[s])
				continue;
			for (int vd = 0; vd < CASTLE_VERDICT_MAX; vd++)
				for (int r = 0; r < CASTLE_REASON_MAX; r++) {
					const struct castle_counter *c = &v[i].st[s].c[vd][r];
					uint64_t val = bytes ? c->bytes : c->packets;
					if (!val && !canonical(s, vd, r))
						continue;
					fprintf(f, "%s{interface=\"%s\",stage=\"%s\",verdict=\"%s\",reason=\"%s\"} %llu\n",
						bytes ? "castle_bytes_total" : "castle_packets_total",
						esc(v[i].name, name, sizeof(name)), stage[s], verdict[vd],
						castle_reason_names[r], (unsigned long long)val);
				}
		}
}

/* Sum of one slot of a PERCPU_ARRAY of __u64. */
static uint64_t percpu_u64(int fd, uint32_t slot)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t *v, sum = 0;

	if (fd < 0 || ncpu <= 0 || !(v = calloc(ncpu, sizeof(*v))))
		return 0;
	if (!bpf_map_lookup_elem(fd, &slot, v))
		for (int c = 0; c < ncpu; c++)
			sum += v[c];
	free(v);
	return sum;
}

static void render_tls(FILE *f, int results_fd, int pressure_fd, const struct iface_stats *v,
		       int n)
{
	static const char *const results[] = { CASTLE_TLS_RESULTS };
	static const char *const pressure[] = { CASTLE_TLS_PRESSURE_NAMES };
	char name[64];

	family(f, "castle_tls_connections_total", "counter",
	       "Connections judged by the TLS-only gate on protected ports, by interface and "
	       "result (QUIC: datagrams).");
	for (int i = 0; results_fd >= 0 && i < n; i++) {
		if (!v[i].slotted)
			continue; /* counted under ifindex 0's slot */
		esc(v[i].name, name, sizeof(name));
		for (int r = 0; r < CASTLE_TLS_RESULT_MAX; r++)
			fprintf(f, "castle_tls_connections_total{interface=\"%s\",result=\"%s\"} %llu\n",
				name, results[r],
				(unsigned long long)percpu_u64(results_fd,
							       CASTLE_TLS_RESULTS_KEY(v[i].slot, r)));
	}
	family(f, "castle_tls_table_events_total", "counter",
	       "Events of the TLS gate's connection tables (evictions show as inserts "
	       "outrunning resolutions).");
	for (int r = 0; pressure_fd >= 0 && r < CASTLE_TLSP_MAX; r++)
		fprintf(f, "castle_tls_table_events_total{event=\"%s\"} %llu\n", pressure[r],
			(unsigned long long)percpu_u64(pressure_fd, r));
}

struct rl_count {
	uint64_t per_slot[CASTLE_MAX_CLASSES];
	uint64_t total;
	uint64_t steady;	/* of total, in rl_steady */
};

static int count_rl(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	struct rl_count *c = arg;

	(void)v;
	c->total++;
	if (k->class_slot < CASTLE_MAX_CLASSES)
		c->per_slot[k->class_slot]++;
	return 0;
}

bool castle_metrics_rl_walk_due(uint64_t age_ns, uint64_t last_walk_ns)
{
	return last_walk_ns < CASTLE_METRICS_RL_WALK_CHEAP_NS ||
	       age_ns >= CASTLE_METRICS_RL_WALK_RATIO * last_walk_ns;
}

static uint64_t mono_ns(void)
{
	struct timespec t;

	clock_gettime(CLOCK_MONOTONIC, &t);
	return (uint64_t)t.tv_sec * 1000000000ull + (uint64_t)t.tv_nsec;
}

/* The tracked sources, by a walk of both tables: taken again once the last
 * walk is older than CASTLE_METRICS_RL_WALK_RATIO times what it took (a
 * million sources: ~0.4 s of kernel time, so every ~40 s), else the last
 * one's counts. Scrapes, however many servers send them, then cost castled
 * at most ~1 % of a CPU, and the single HTTP thread (/healthz behind it) is
 * not held by every scrape; a walk that took less than 10 ms (a table of a
 * few thousand sources, or an empty one) is taken at each. */
static void rl_counts(const struct castle_maps *m, struct rl_count *out)
{
	static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
	static struct rl_count last;
	static uint64_t taken_ns, took_ns;
	static __u32 of_id; /* the rl_state the counts are of (a map id) */
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint64_t t0;

	if (m->rl_state < 0 || bpf_obj_get_info_by_fd(m->rl_state, &info, &len)) {
		memset(out, 0, sizeof(*out));
		return;
	}
	pthread_mutex_lock(&lock);
	t0 = mono_ns();
	if (of_id == info.id && !castle_metrics_rl_walk_due(t0 - taken_ns, took_ns)) {
		*out = last;
		pthread_mutex_unlock(&lock);
		return;
	}
	struct rl_count now = { 0 };
	int err = castle_rl_foreach_tier(m, false, count_rl, &now);
	uint64_t before = now.total;

	if (!err)
		err = castle_rl_foreach_tier(m, true, count_rl, &now);
	now.steady = now.total - before;
	*out = now;
	if (!err) {
		/* a walk cut short is served once, never kept */
		last = now;
		taken_ns = mono_ns();
		took_ns = taken_ns - t0;
		of_id = info.id;
	}
	pthread_mutex_unlock(&lock);
}

/* Rate-limit table pressure: inserts into the LRU far beyond its capacity
 * mean evictions (a spoofed flood); promotions and steady_full tell how the
 * steady tier copes (castle.h explains the two tiers). */
static void render_rl_events(FILE *f, const struct castle_maps *m)
{
	static const char *const names[CASTLE_RLE_MAX] = { CASTLE_RL_EVENTS };

	family(f, "castle_ratelimit_table_events_total", "counter",
	       "Rate-limit table events: insert (new source in the LRU), promote (to the steady "
	       "table), steady_full (promotion refused: the steady table is full, promotions wait a "
	       "second), untracked (source passed unlimited).");
	for (uint32_t r = 0; m->rl_events >= 0 && r < CASTLE_RLE_MAX; r++)
		fprintf(f, "castle_ratelimit_table_events_total{event=\"%s\"} %llu\n", names[r],
			(unsigned long long)percpu_u64(m->rl_events, r));
}

static void render_limits(FILE *f, const struct castle_maps *m, const struct castle_policy *pol,
			  const uint8_t slot_of[CASTLE_MAX_CLASSES], bool have_pol,
			  const struct rl_count *rl, const struct iface_stats *v, int n)
{
	char name[80], ifname[64];

	family(f, "castle_limit_packets_total", "counter",
	       "Packets that matched a rate-limit class, by interface, class and verdict.");
	for (int i = 0; have_pol && i < n; i++) {
		if (!v[i].slotted)
			continue; /* counted under ifindex 0's slot */
		esc(v[i].name, ifname, sizeof(ifname));
		for (uint32_t ci = 0; ci < pol->nclasses && ci < CASTLE_MAX_CLASSES; ci++) {
			struct castle_class_stats cs;
			if (castle_class_stats_read(m->class_stats, v[i].slot, slot_of[ci], &cs))
				continue;
			esc(pol->class_names[ci], name, sizeof(name));
			fprintf(f,
				"castle_limit_packets_total{interface=\"%s\",limit=\"%s\",verdict=\"pass\"} %llu\n",
				ifname, name, (unsigned long long)cs.c[CASTLE_PASS].packets);
			fprintf(f,
				"castle_limit_packets_total{interface=\"%s\",limit=\"%s\",verdict=\"drop\"} %llu\n",
				ifname, name, (unsigned long long)cs.c[CASTLE_DROP].packets);
		}
	}
	family(f, "castle_tracked_sources", "gauge",
	       "Sources (aggregated to the class prefix) with a token bucket (rl_state and "
	       "rl_steady), by class.");
	for (uint32_t ci = 0; have_pol && ci < pol->nclasses && ci < CASTLE_MAX_CLASSES; ci++)
		fprintf(f, "castle_tracked_sources{limit=\"%s\"} %llu\n",
			esc(pol->class_names[ci], name, sizeof(name)),
			(unsigned long long)rl->per_slot[slot_of[ci]]);
}

static void render_lists(FILE *f, const struct castle_metrics_snapshot *s)
{
	const uint32_t *e = s->apply.entries;
	static const char *const fam[] = { "ipv4", "ipv6" };

	family(f, "castle_blocklist_entries", "gauge",
	       "Blocklist entries (exact and CIDR), by origin and family.");
	for (int fi = 0; fi < 2; fi++)
		fprintf(f, "castle_blocklist_entries{origin=\"policy\",family=\"%s\"} %u\n", fam[fi],
			fi ? e[CASTLE_PM_BLOCK6] + e[CASTLE_PM_NET6] + e[CASTLE_PM_NHASH6]
			   : e[CASTLE_PM_BLOCK4] + e[CASTLE_PM_NET4] + e[CASTLE_PM_NHASH4]);
	for (int o = CASTLE_ORIGIN_MANUAL; o < CASTLE_ORIGIN_MAX; o++)
		for (int fi = 0; fi < 2; fi++)
			fprintf(f, "castle_blocklist_entries{origin=\"%s\",family=\"%s\"} %u\n",
				castle_origin_names[o], fam[fi], s->manual.block[o][fi]);
	family(f, "castle_allowlist_entries", "gauge", "Allowlist entries, by origin and family.");
	for (int fi = 0; fi < 2; fi++)
		fprintf(f, "castle_allowlist_entries{origin=\"policy\",family=\"%s\"} %u\n", fam[fi],
			e[fi ? CASTLE_PM_ALLOW6 : CASTLE_PM_ALLOW4]);
	for (int fi = 0; fi < 2; fi++)
		fprintf(f, "castle_allowlist_entries{origin=\"manual\",family=\"%s\"} %u\n", fam[fi],
			s->manual.allow[fi]);
}

static uint32_t capacity_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.max_entries : 0;
}

static uint32_t count_keys(int fd)
{
	uint32_t entries = 0, cap;

	return castle_map_usage(fd, &entries, &cap) ? 0 : entries;
}

/* Entries of a hash map by batched lookups (a few syscalls for the TLS
 * tables' 65536 and 262144 entries, where a key walk costs one per entry);
 * the key walk when the kernel refuses batches. */
static uint32_t count_batch(int fd)
{
	enum { CHUNK = 4096 };
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	uint32_t n = 0;
	bool first = true, done = false;
	void *keys = NULL, *vals = NULL, *token = NULL;

	if (fd < 0 || bpf_obj_get_info_by_fd(fd, &info, &len))
		return 0;
	keys = calloc(CHUNK, info.key_size);
	vals = calloc(CHUNK, info.value_size);
	token = calloc(1, info.key_size > 8 ? info.key_size : 8);
	while (keys && vals && token && !done) {
		LIBBPF_OPTS(bpf_map_batch_opts, o);
		__u32 count = CHUNK;

		/* ENOENT marks the last batch (which may still carry entries). */
		if (bpf_map_lookup_batch(fd, first ? NULL : token, token, keys, vals, &count, &o)) {
			if (errno != ENOENT) {
				n = count_keys(fd);
				break;
			}
			done = true;
		}
		first = false;
		n += count;
	}
	free(keys);
	free(vals);
	free(token);
	return n;
}

/* The TC object's tables. castled hands over only tls_results and
 * tls_pressure; the program that uses tls_results is the TC gate, and its
 * map list holds the others. Found once and kept (the fds keep the maps). */
struct tc_tables {
	uint32_t results_id;	/* what the fds below were found from */
	int pending, conns, marks;
};

static pthread_mutex_t tc_tables_lock = PTHREAD_MUTEX_INITIALIZER;
static struct tc_tables tc_tables = { 0, -1, -1, -1 };

static uint32_t map_id_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	return fd >= 0 && !bpf_obj_get_info_by_fd(fd, &info, &len) ? info.id : 0;
}

/* Of the maps of program `pfd`, keep those named like the TC tables; true
 * when the program uses the map `want`. */
static bool tc_tables_of_prog(int pfd, uint32_t want, struct tc_tables *t)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), nmaps;
	uint32_t *ids;
	bool uses = false;

	if (bpf_obj_get_info_by_fd(pfd, &info, &len) || !info.nr_map_ids)
		return false;
	nmaps = info.nr_map_ids;
	ids = calloc(nmaps, sizeof(*ids));
	if (!ids)
		return false;
	memset(&info, 0, sizeof(info));
	info.nr_map_ids = nmaps;
	info.map_ids = (__u64)(unsigned long)ids;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(pfd, &info, &len))
		goto out;
	if (info.nr_map_ids < nmaps)
		nmaps = info.nr_map_ids;
	for (__u32 i = 0; i < nmaps; i++)
		uses |= ids[i] == want;
	for (__u32 i = 0; uses && i < nmaps; i++) {
		struct bpf_map_info mi = {};
		__u32 mlen = sizeof(mi);
		int *slot = NULL, fd = bpf_map_get_fd_by_id(ids[i]);

		if (fd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(fd, &mi, &mlen)) {
			if (!strcmp(mi.name, CASTLE_MAP_TLS_PENDING))
				slot = &t->pending;
			else if (!strcmp(mi.name, CASTLE_MAP_TLS_CONNS))
				slot = &t->conns;
			else if (!strcmp(mi.name, CASTLE_MAP_TLS_MARKS))
				slot = &t->marks;
		}
		if (slot && *slot < 0)
			*slot = fd;
		else
			close(fd);
	}
out:
	free(ids);
	return uses;
}

static void tc_tables_get(int results_fd, struct tc_tables *out)
{
	uint32_t want = map_id_of(results_fd), id = 0;

	pthread_mutex_lock(&tc_tables_lock);
	if (want && want != tc_tables.results_id) {
		struct tc_tables t = { want, -1, -1, -1 };

		while (!bpf_prog_get_next_id(id, &id)) {
			int pfd = bpf_prog_get_fd_by_id(id);
			bool found;

			if (pfd < 0)
				continue;
			found = tc_tables_of_prog(pfd, want, &t);
			close(pfd);
			if (found)
				break;
		}
		/* Not found (no program loaded yet): look again next time. */
		if (t.pending >= 0 || t.conns >= 0 || t.marks >= 0) {
			if (tc_tables.pending >= 0)
				close(tc_tables.pending);
			if (tc_tables.conns >= 0)
				close(tc_tables.conns);
			if (tc_tables.marks >= 0)
				close(tc_tables.marks);
			tc_tables = t;
		}
	}
	*out = want && want == tc_tables.results_id ? tc_tables
						    : (struct tc_tables){ 0, -1, -1, -1 };
	pthread_mutex_unlock(&tc_tables_lock);
}

static void render_maps(FILE *f, const struct castle_maps *m, const struct castle_metrics_snapshot *s,
			int tls_results, const struct rl_count *rl)
{
	struct { const char *name; uint64_t entries, cap; } v[CASTLE_PM_MAX + CASTLE_MM_MAX + 13];
	struct tc_tables tc;
	int n = 0;

	/* Arrays are always full; hash maps of a few entries are walked; the
	 * big ones come from the snapshot (policy, manual) or the rl walk. */
	v[n++] = (typeof(v[0])){ CASTLE_MAP_STATE, 1, capacity_of(m->state) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_POLICY, capacity_of(m->policy), capacity_of(m->policy) };
	for (int i = 0; i < CASTLE_PM_MAX; i++)
		v[n++] = (typeof(v[0])){ castle_pol_map_names[i], s->apply.entries[i], s->apply.capacity[i] };
	for (int i = 0; i < CASTLE_MM_MAX; i++)
		v[n++] = (typeof(v[0])){ castle_man_map_names[i], s->manual.map_entries[i],
					 capacity_of(m->man[i]) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_RL_STATE, rl->total - rl->steady, capacity_of(m->rl_state) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_RL_STEADY, rl->steady, capacity_of(m->rl_steady) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_XDP_STATS, count_keys(m->xdp_stats), capacity_of(m->xdp_stats) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_TC_STATS, count_keys(m->tc_stats), capacity_of(m->tc_stats) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_CLASS_STATS, capacity_of(m->class_stats),
				 capacity_of(m->class_stats) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_IFACES, count_keys(m->ifaces), capacity_of(m->ifaces) };
	v[n++] = (typeof(v[0])){ CASTLE_MAP_NOTES, count_keys(m->notes), capacity_of(m->notes) };
	/* per-CPU hit slots of manual/auto entries: claimed, of those there are */
	if (m->man_slots_mem)
		v[n++] = (typeof(v[0])){ CASTLE_MAP_MAN_HITS, castle_man_slots_used(m),
					 castle_man_slots_total(m) };
	/* The TLS gate's tables (TC object), when it is loaded. */
	tc_tables_get(tls_results, &tc);
	if (tc.pending >= 0)
		v[n++] = (typeof(v[0])){ CASTLE_MAP_TLS_PENDING, count_batch(tc.pending),
					 capacity_of(tc.pending) };
	if (tc.conns >= 0)
		v[n++] = (typeof(v[0])){ CASTLE_MAP_TLS_CONNS, count_batch(tc.conns),
					 capacity_of(tc.conns) };
	if (tc.marks >= 0)
		v[n++] = (typeof(v[0])){ CASTLE_MAP_TLS_MARKS, capacity_of(tc.marks),
					 capacity_of(tc.marks) };

	family(f, "castle_map_entries", "gauge",
	       "Entries in each map (policy maps: the live generation; arrays: always full, "
	       "but man_hits: the slots claimed).");
	for (int i = 0; i < n; i++)
		fprintf(f, "castle_map_entries{map=\"%s\"} %llu\n", v[i].name,
			(unsigned long long)v[i].entries);
	family(f, "castle_map_capacity", "gauge",
	       "Capacity (max_entries) of each map; for the events ring buffer, its size in bytes; "
	       "for man_hits, the slots its bitmap names.");
	for (int i = 0; i < n; i++)
		fprintf(f, "castle_map_capacity{map=\"%s\"} %llu\n", v[i].name,
			(unsigned long long)v[i].cap);
	/* A ring buffer has no entries to count, only a size. */
	if (m->events >= 0)
		fprintf(f, "castle_map_capacity{map=\"%s\"} %llu\n", CASTLE_MAP_EVENTS,
			(unsigned long long)capacity_of(m->events));
}

static void render_daemon(FILE *f, const struct castle_maps *m, const struct castle_policy *pol,
			  bool have_pol, const struct iface_stats *ifs, int nif)
{
	struct castle_state st = { 0 };
	uint32_t zero = 0;
	struct utsname u;
	char name[2 * sizeof(u.release) + 1];	/* a label escaped: each byte at most twice */

	bpf_map_lookup_elem(m->state, &zero, &st);
	family(f, "castle_policy_reloads_total", "counter",
	       "Policy applies (start and reloads), by result; kept across castled restarts.");
	fprintf(f, "castle_policy_reloads_total{result=\"success\"} %llu\n",
		(unsigned long long)st.reloads_ok);
	fprintf(f, "castle_policy_reloads_total{result=\"failure\"} %llu\n",
		(unsigned long long)st.reloads_failed);
	family(f, "castle_policy_last_reload_success_timestamp_seconds", "gauge",
	       "Unix time of the last policy apply that succeeded.");
	fprintf(f, "castle_policy_last_reload_success_timestamp_seconds %llu\n",
		(unsigned long long)st.last_reload_ok_unix);
	family(f, "castle_policy_serial", "gauge",
	       "Serial of the live policy generation (increases with every apply).");
	fprintf(f, "castle_policy_serial %llu\n", have_pol ? (unsigned long long)pol->serial : 0ull);
	family(f, "castle_policy_dry_run", "gauge", "1 when the live policy is in dry-run mode.");
	fprintf(f, "castle_policy_dry_run %d\n", have_pol && (pol->flags & CASTLE_F_DRY_RUN) ? 1 : 0);

	family(f, "castle_interface_info", "gauge",
	       "Interfaces castle is attached to, with the XDP and TC attach modes.");
	for (int i = 0; i < nif; i++) {
		struct castle_iface rec;
		uint32_t k = ifs[i].ifindex;
		if (bpf_map_lookup_elem(m->ifaces, &k, &rec))
			continue;
		fprintf(f, "castle_interface_info{interface=\"%s\",xdp_mode=\"%s\",tc_mode=\"%s\"} 1\n",
			esc(ifs[i].name, name, sizeof(name)), castle_xdp_mode_name(rec.xdp_mode),
			castle_tc_mode_name(rec.tc_mode));
	}

	family(f, "castle_build_info", "gauge", "castle version, libbpf version and running kernel.");
	if (uname(&u))
		snprintf(u.release, sizeof(u.release), "unknown");
	fprintf(f, "castle_build_info{version=\"%s\",libbpf=\"%u.%u\",kernel=\"%s\"} 1\n",
		CASTLE_VERSION, libbpf_major_version(), libbpf_minor_version(),
		esc(u.release, name, sizeof(name)));
}

char *castle_metrics_render(const struct castle_metrics_src *src,
			    const struct castle_metrics_snapshot *s, size_t *len)
{
	const struct castle_maps *m = src->maps;
	struct iface_stats ifs[CASTLE_MAX_IFACES];
	struct castle_policy pol;
	struct rl_count rl = { 0 };
	char *buf = NULL;
	uint32_t gen = 0;
	uint8_t slot_of[CASTLE_MAX_CLASSES] = { 0 };
	bool have_pol;
	FILE *f;
	int nif;

	f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	have_pol = castle_gen_live(m, &gen, &pol) == 0;
	/* With the policy, before the walks: a reload meanwhile rewrites only
	 * the other generation's entry, two reloads this one. */
	if (have_pol)
		castle_class_slots_of(m, gen, &pol, slot_of);
	nif = collect_ifaces(m, ifs);
	rl_counts(m, &rl);

	render_packets(f, ifs, nif, false);
	render_packets(f, ifs, nif, true);
	render_limits(f, m, &pol, slot_of, have_pol, &rl, ifs, nif);
	render_tls(f, src->tls_results, src->tls_pressure, ifs, nif);
	render_rl_events(f, m);
	render_lists(f, s);
	render_maps(f, m, s, src->tls_results, &rl);
	render_daemon(f, m, &pol, have_pol, ifs, nif);
	if (fclose(f)) {
		free(buf);
		return NULL;
	}
	return buf;
}
