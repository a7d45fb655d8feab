// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_status.c - the reading verbs that summarise: status (what is attached,
 * which policy, is castled alive), stats (counters) and limit list (classes).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <net/if.h>
#include <bpf/bpf.h>

#include "ctl.h"
#include "ctl_maps.h"
#include "loader.h"
#include "out.h"
#include "units.h"

static const char *const xdp_modes[] = { "none", "native", "generic", "multiprog-native",
					 "multiprog-generic" };
static const char *const tc_modes[] = { "none", "tcx", "clsact" };

#define NAME_OF(tab, i) ((i) < sizeof(tab) / sizeof((tab)[0]) ? (tab)[i] : "unknown")
#define TC_MODE(m) ((m) & CASTLE_TCM_MODE_MASK) /* without the CASTLE_TCM_F_* flags */

/* ---- status ------------------------------------------------------------- */

struct iface_row {
	uint32_t ifindex;
	struct castle_iface v;
};

static int read_ifaces(struct ctl *c, struct iface_row *rows, int max)
{
	uint32_t key, next, *prev = NULL;
	int n = 0;

	while (n < max && bpf_map_get_next_key(c->maps.ifaces, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(c->maps.ifaces, &key, &rows[n].v))
			continue;
		rows[n].ifindex = key;
		rows[n].v.name[sizeof(rows[n].v.name) - 1] = 0;
		n++;
	}
	return n;
}

int ctl_status(struct ctl *c, const struct ctl_args *a)
{
	struct iface_row rows[CASTLE_MAX_IFACES];
	struct castle_policy pol;
	struct castle_state st;
	char b1[64], b2[64];
	uint32_t gen;
	bool have_pol, alive;
	int n;

	(void)a;
	if (ctl_open(c))
		return CTL_FAIL;
	if ((n = castle_state_read(c->maps.state, &st))) {
		ctl_errf(c, "read %s/state: %s", c->pin_dir, strerror(-n));
		return CTL_FAIL;
	}
	have_pol = castle_gen_live(&c->maps, &gen, &pol) == 0 && pol.serial;
	alive = castle_daemon_alive((pid_t)st.daemon_pid);
	n = read_ifaces(c, rows, CASTLE_MAX_IFACES);

	if (c->json) {
		struct out_json j;

		out_json_init(&j, c->out);
		out_json_obj_begin(&j);
		out_json_kstr(&j, "version", CASTLE_VERSION);
		out_json_kstr(&j, "pin_dir", c->pin_dir);
		out_json_key(&j, "daemon");
		out_json_obj_begin(&j);
		out_json_kbool(&j, "running", alive);
		out_json_key(&j, "pid");
		if (alive)
			out_json_u64(&j, st.daemon_pid);
		else
			out_json_null(&j);
		out_json_obj_end(&j);
		out_json_key(&j, "policy");
		if (have_pol) {
			out_json_obj_begin(&j);
			out_json_ku64(&j, "generation", gen);
			out_json_ku64(&j, "serial", pol.serial);
			out_json_kstr(&j, "mode", pol.flags & CASTLE_F_DRY_RUN ? "dry-run" : "enforce");
			out_json_ku64(&j, "classes", pol.nclasses);
			out_json_kbool(&j, "tls", pol.flags & CASTLE_F_TLS);
			out_json_obj_end(&j);
		} else {
			out_json_null(&j);
		}
		out_json_key(&j, "reloads");
		out_json_obj_begin(&j);
		out_json_ku64(&j, "ok", st.reloads_ok);
		out_json_ku64(&j, "failed", st.reloads_failed);
		out_json_key(&j, "last_ok_unix");
		if (st.last_reload_ok_unix)
			out_json_u64(&j, st.last_reload_ok_unix);
		else
			out_json_null(&j);
		out_json_obj_end(&j);
		out_json_key(&j, "interfaces");
		out_json_arr_begin(&j);
		for (int i = 0; i < n; i++) {
			out_json_obj_begin(&j);
			out_json_kstr(&j, "name", rows[i].v.name);
			out_json_ku64(&j, "ifindex", rows[i].ifindex);
			out_json_kstr(&j, "xdp_mode", NAME_OF(xdp_modes, rows[i].v.xdp_mode));
			out_json_ku64(&j, "xdp_prog_id", rows[i].v.xdp_prog_id);
			out_json_kstr(&j, "tc_mode", NAME_OF(tc_modes, TC_MODE(rows[i].v.tc_mode)));
			out_json_kbool(&j, "tc_own_qdisc", rows[i].v.tc_mode & CASTLE_TCM_F_OWN_QDISC);
			out_json_ku64(&j, "tc_prog_id", rows[i].v.tc_prog_id);
			out_json_ku64(&j, "attached_unix", rows[i].v.attached_unix);
			out_json_obj_end(&j);
		}
		out_json_arr_end(&j);
		out_json_obj_end(&j);
		out_json_end_doc(&j);
		return CTL_OK;
	}

	fprintf(c->out, "castle %s, pins in %s\n", CASTLE_VERSION, c->pin_dir);
	if (alive)
		fprintf(c->out, "daemon:     running (pid %u)\n", st.daemon_pid);
	else
		fprintf(c->out, "daemon:     not running (the gate keeps enforcing)\n");
	if (have_pol)
		fprintf(c->out, "policy:     serial %llu (generation %u), %s, %u class%s%s\n",
			(unsigned long long)pol.serial, gen,
			pol.flags & CASTLE_F_DRY_RUN ? "dry-run" : "enforce", pol.nclasses,
			pol.nclasses == 1 ? "" : "es", pol.flags & CASTLE_F_TLS ? ", tls" : "");
	else
		fprintf(c->out, "policy:     none applied\n");
	fprintf(c->out, "reloads:    %llu ok, %llu failed, last ok %s\n",
		(unsigned long long)st.reloads_ok, (unsigned long long)st.reloads_failed,
		out_wall(st.last_reload_ok_unix, b1, sizeof(b1)));
	if (!n) {
		fprintf(c->out, "interfaces: none attached\n");
		return CTL_OK;
	}
	fputc('\n', c->out);

	static const struct out_col cols[] = {
		{ "IFACE", OUT_LEFT },	 { "IFINDEX", OUT_RIGHT }, { "XDP", OUT_LEFT },
		{ "XDP PROG", OUT_RIGHT }, { "TC", OUT_LEFT },	    { "TC PROG", OUT_RIGHT },
		{ "SINCE", OUT_LEFT },
	};
	struct out_table t;

	out_table_init(&t, cols, 7);
	for (int i = 0; i < n; i++) {
		char idx[16], xid[16], tid[16];

		snprintf(idx, sizeof(idx), "%u", rows[i].ifindex);
		snprintf(xid, sizeof(xid), "%u", rows[i].v.xdp_prog_id);
		snprintf(tid, sizeof(tid), "%u", rows[i].v.tc_prog_id);
		const char *cells[] = { rows[i].v.name, idx, NAME_OF(xdp_modes, rows[i].v.xdp_mode),
					rows[i].v.xdp_prog_id ? xid : "-",
					NAME_OF(tc_modes, TC_MODE(rows[i].v.tc_mode)),
					rows[i].v.tc_prog_id ? tid : "-",
					out_wall(rows[i].v.attached_unix, b2, sizeof(b2)) };
		out_table_row(&t, cells);
	}
	out_table_print(&t, c->out);
	out_table_free(&t);
	return CTL_OK;
}

/* ---- stats -------------------------------------------------------------- */

int ctl_stats(struct ctl *c, const struct ctl_args *a)
{
	static const struct out_col cols[] = {
		{ "IFACE", OUT_LEFT },	 { "STAGE", OUT_LEFT },	  { "VERDICT", OUT_LEFT },
		{ "REASON", OUT_LEFT },	 { "PACKETS", OUT_RIGHT }, { "BYTES", OUT_RIGHT },
	};
	static const char *const stages[] = { "xdp", "tc" };
	static const char *const verdicts[] = { "pass", "drop" };
	struct out_table t;
	struct out_json j;

	(void)a;
	if (ctl_open(c))
		return CTL_FAIL;
	if (c->json) {
		out_json_init(&j, c->out);
		out_json_obj_begin(&j);
		out_json_key(&j, "counters");
		out_json_arr_begin(&j);
	} else {
		out_table_init(&t, cols, 6);
	}
	for (int s = 0; s < 2; s++) {
		int fd = s ? c->maps.tc_stats : c->maps.xdp_stats;
		uint32_t idx[CASTLE_MAX_IFACES];
		int n = castle_stats_ifaces(&c->maps, fd, idx, CASTLE_MAX_IFACES);

		for (int i = 0; i < n; i++) {
			struct castle_stats st;
			char name[IF_NAMESIZE + 8];

			if (castle_stats_read(&c->maps, fd, idx[i], &st))
				continue;
			ctl_ifname(c, idx[i], name, sizeof(name));
			for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
				for (int r = 0; r < CASTLE_REASON_MAX; r++) {
					const struct castle_counter *k = &st.c[v][r];
					char p[32], b[32];

					if (!k->packets)
						continue;
					if (c->json) {
						out_json_obj_begin(&j);
						out_json_kstr(&j, "interface", name);
						out_json_ku64(&j, "ifindex", idx[i]);
						out_json_kstr(&j, "stage", stages[s]);
						out_json_kstr(&j, "verdict", verdicts[v]);
						out_json_kstr(&j, "reason", castle_reason_names[r]);
						out_json_ku64(&j, "packets", k->packets);
						out_json_ku64(&j, "bytes", k->bytes);
						out_json_obj_end(&j);
						continue;
					}
					const char *cells[] = {
						name, stages[s], verdicts[v], castle_reason_names[r],
						castle_human_count(k->packets, p, sizeof(p)),
						castle_human_bytes(k->bytes, b, sizeof(b)),
					};
					out_table_row(&t, cells);
				}
		}
	}
	if (c->json) {
		out_json_arr_end(&j);
		out_json_obj_end(&j);
		out_json_end_doc(&j);
	} else {
		out_table_print(&t, c->out);
		out_table_free(&t);
	}
	return CTL_OK;
}

/* ---- limit list --------------------------------------------------------- */

struct rl_count {
	uint64_t sources[CASTLE_MAX_CLASSES];
};

static int count_rl(const struct castle_rl_key *k, const struct castle_rl_val *v, void *arg)
{
	struct rl_count *n = arg;

	(void)v;
	if (k->class_slot < CASTLE_MAX_CLASSES)
		n->sources[k->class_slot]++;
	return 0;
}

static const char *ports_str(const struct castle_class *k, char *buf, size_t len)
{
	size_t off = 0;

	if (!k->nranges)
		return snprintf(buf, len, "any"), buf;
	buf[0] = 0;
	for (int i = 0; i < k->nranges && i < CASTLE_MAX_PORT_RANGES && off < len; i++) {
		const struct castle_port_range *r = &k->ports[i];
		if (r->lo == r->hi)
			off += snprintf(buf + off, len - off, "%s%u", i ? "," : "", r->lo);
		else
			off += snprintf(buf + off, len - off, "%s%u-%u", i ? "," : "", r->lo, r->hi);
	}
	return buf;
}

/* GCRA parameters back to what the policy said. */
static double class_rate(const struct castle_class *k)
{
	return k->pkt_cost_ns ? 1e9 / (double)k->pkt_cost_ns : 0;
}

static uint64_t class_burst(const struct castle_class *k)
{
	return k->pkt_cost_ns ? k->pkt_tol_ns / k->pkt_cost_ns + 1 : 0;
}

static double class_byte_rate(const struct castle_class *k)
{
	return k->byte_cost_fp ? 1e9 * (double)(1ull << CASTLE_BYTE_FP_SHIFT) / (double)k->byte_cost_fp
			       : 0;
}

int ctl_limit_list(struct ctl *c, const struct ctl_args *a)
{
	static const struct out_col cols[] = {
		{ "CLASS", OUT_LEFT },	 { "PROTO", OUT_LEFT },	  { "PORTS", OUT_LEFT },
		{ "RATE", OUT_RIGHT },	 { "BURST", OUT_RIGHT },  { "BYTES", OUT_RIGHT },
		{ "PER", OUT_LEFT },	 { "BAN", OUT_LEFT },	  { "SOURCES", OUT_RIGHT },
		{ "PASSED", OUT_RIGHT }, { "DROPPED", OUT_RIGHT },
	};
	struct rl_count rc = { 0 };
	struct castle_policy pol;
	struct out_table t;
	struct out_json j;
	uint32_t gen;
	int ret;

	(void)a;
	if (ctl_open(c))
		return CTL_FAIL;
	if (castle_gen_live(&c->maps, &gen, &pol)) {
		ctl_errf(c, "read the live policy: %s", strerror(errno));
		return CTL_FAIL;
	}
	ret = castle_rl_foreach(&c->maps, count_rl, &rc);
	if (ret)
		ctl_errf(c, "warning: walk %s: %s (sources not counted)", CASTLE_MAP_RL_STATE,
			 strerror(-ret));
	if (c->json) {
		out_json_init(&j, c->out);
		out_json_obj_begin(&j);
		out_json_ku64(&j, "serial", pol.serial);
		out_json_key(&j, "classes");
		out_json_arr_begin(&j);
	} else {
		out_table_init(&t, cols, 11);
	}
	uint8_t slot_of[CASTLE_MAX_CLASSES];

	castle_class_slots_of(&c->maps, gen, &pol, slot_of);
	/* In the policy's order; counters and sources by the class's slot. */
	for (uint32_t ci = 0; ci < pol.nclasses && ci < CASTLE_MAX_CLASSES; ci++) {
		const struct castle_class *k = &pol.classes[ci];
		uint32_t s = slot_of[ci];
		struct castle_class_stats cs = { 0 };
		char name[40], ports[128], rate[32], burst[32], bytes[48], per[16], ban[48];
		char src[32], pass[32], drop[32], d[32];

		castle_class_stats_sum(c->maps.class_stats, s, &cs);
		/* from the policy just read: a second read could be of another */
		ctl_class_label(&pol, (int)ci, s, name, sizeof(name));
		ports_str(k, ports, sizeof(ports));
		if (c->json) {
			out_json_obj_begin(&j);
			out_json_ku64(&j, "slot", s);
			out_json_kstr(&j, "name", name);
			out_json_kstr(&j, "proto", ctl_proto_name(k->proto, 4));
			out_json_key(&j, "ports");
			out_json_arr_begin(&j);
			for (int i = 0; i < k->nranges && i < CASTLE_MAX_PORT_RANGES; i++) {
				out_json_arr_begin(&j);
				out_json_u64(&j, k->ports[i].lo);
				out_json_u64(&j, k->ports[i].hi);
				out_json_arr_end(&j);
			}
			out_json_arr_end(&j);
			out_json_kdouble(&j, "rate_pps", class_rate(k));
			out_json_ku64(&j, "burst", class_burst(k));
			out_json_key(&j, "byte_rate_bps");
			if (k->byte_cost_fp)
				out_json_double(&j, class_byte_rate(k));
			else
				out_json_null(&j);
			out_json_ku64(&j, "per_ipv4", k->plen4);
			out_json_ku64(&j, "per_ipv6", k->plen6);
			out_json_key(&j, "ban");
			if (k->ban_for_ns) {
				out_json_obj_begin(&j);
				out_json_ku64(&j, "after", k->ban_after);
				out_json_kdouble(&j, "for_s", (double)k->ban_for_ns / 1e9);
				out_json_obj_end(&j);
			} else {
				out_json_null(&j);
			}
			out_json_ku64(&j, "sources", rc.sources[s]);
			out_json_ku64(&j, "passed", cs.c[CASTLE_PASS].packets);
			out_json_ku64(&j, "dropped", cs.c[CASTLE_DROP].packets);
			out_json_obj_end(&j);
			continue;
		}
		snprintf(rate, sizeof(rate), "%.4g/s", class_rate(k));
		snprintf(burst, sizeof(burst), "%llu", (unsigned long long)class_burst(k));
		if (k->byte_cost_fp)
			snprintf(bytes, sizeof(bytes), "%s/s",
				 castle_human_bytes((uint64_t)class_byte_rate(k), d, sizeof(d)));
		else
			snprintf(bytes, sizeof(bytes), "-");
		snprintf(per, sizeof(per), "/%u,/%u", k->plen4, k->plen6);
		if (k->ban_for_ns)
			snprintf(ban, sizeof(ban), "%u->%s", k->ban_after,
				 castle_human_duration(k->ban_for_ns, d, sizeof(d)));
		else
			snprintf(ban, sizeof(ban), "-");
		const char *cells[] = { name, ctl_proto_name(k->proto, 4), ports, rate, burst, bytes,
					per, ban, castle_human_count(rc.sources[s], src, sizeof(src)),
					castle_human_count(cs.c[CASTLE_PASS].packets, pass, sizeof(pass)),
					castle_human_count(cs.c[CASTLE_DROP].packets, drop, sizeof(drop)) };
		out_table_row(&t, cells);
	}
	if (c->json) {
		out_json_arr_end(&j);
		out_json_obj_end(&j);
		out_json_end_doc(&j);
	} else {
		out_table_print(&t, c->out);
		out_table_free(&t);
	}
	return CTL_OK;
}
