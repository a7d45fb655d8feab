// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* policy_limits.c - the limits: classes and the tls: section of a policy. */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy_int.h"
#include "units.h"

/* ---- match ------------------------------------------------------------- */

static void parse_src(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
		      const char *what)
{
	const char *names[2] = { what, what };
	struct pol_cref *refs;
	struct pol_list l;
	char err[256];
	size_t k = 0;

	if (pol_list(c, n, what, &l))
		return;
	if (!l.n) {
		pol_err(c, n, "%s is empty: leave it out to match every source", what);
		return;
	}
	refs = calloc(l.n, sizeof(*refs));
	cl->src = calloc(l.n, sizeof(*cl->src));
	if (!refs || !cl->src) {
		pol_err(c, n, "out of memory");
		free(refs);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i);
		const char *s = pol_scalar(c, e, "a source");

		if (!s)
			continue;
		if (castle_cidr_parse(s, &cl->src[k], err, sizeof(err))) {
			pol_err(c, e, "%s", err);
			continue;
		}
		pol_cref_set(&refs[k], &cl->src[k], (uint32_t)k, 0, pol_line(e), pol_col(e));
		k++;
	}
	cl->nsrc = k;
	pol_check_cidrs(c, refs, k, names, false);
	free(refs);
}

static void parse_proto(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
			const char *what)
{
	const char *s = pol_scalar(c, n, what);

	if (!s)
		return;
	if (!strcmp(s, "tcp"))
		cl->proto = CASTLE_PROTO_TCP;
	else if (!strcmp(s, "udp"))
		cl->proto = CASTLE_PROTO_UDP;
	else if (!strcmp(s, "icmp"))
		cl->proto = CASTLE_PROTO_ICMP;
	else if (!strcmp(s, "any"))
		cl->proto = CASTLE_PROTO_ANY;
	else
		pol_err(c, n, "%s must be tcp, udp, icmp or any, not '%s'", what, s);
}

static void parse_dst_ports(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
			    const char *what)
{
	unsigned int lines[CASTLE_MAX_PORT_RANGES] = { 0 };
	struct pol_list l;
	char err[256];

	if (pol_list(c, n, what, &l))
		return;
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i);
		const char *s = pol_scalar(c, e, "a port");
		struct castle_port_range r;

		if (!s)
			continue;
		if (castle_parse_ports(s, &r.lo, &r.hi, err, sizeof(err))) {
			pol_err(c, e, "%s", err);
			continue;
		}
		if (cl->nports == CASTLE_MAX_PORT_RANGES) {
			pol_err(c, e, "%s: more than %d ports or port ranges", what,
				CASTLE_MAX_PORT_RANGES);
			return;
		}
		for (unsigned int j = 0; j < cl->nports; j++) {
			if (r.lo <= cl->ports[j].hi && cl->ports[j].lo <= r.hi) {
				char prev[16];

				if (cl->ports[j].lo == cl->ports[j].hi)
					snprintf(prev, sizeof(prev), "%u", cl->ports[j].lo);
				else
					snprintf(prev, sizeof(prev), "%u-%u", cl->ports[j].lo,
						 cl->ports[j].hi);
				pol_err(c, e, "%s: %s overlaps %s (line %u)", what, s, prev, lines[j]);
				goto next;
			}
		}
		lines[cl->nports] = pol_line(e);
		cl->ports[cl->nports++] = r;
next:;
	}
	if (!l.n)
		pol_err(c, n, "%s is empty: leave it out to match every port", what);
}

static void parse_match(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
			const char *where)
{
	static const char *const keys[] = { "src", "proto", "dst_ports", NULL };
	yaml_node_t *v[3];
	char what[96];

	snprintf(what, sizeof(what), "%s.match", where);
	if (pol_map(c, n, what, keys, v))
		return;
	snprintf(what, sizeof(what), "%s.match.src", where);
	if (v[0])
		parse_src(c, cl, v[0], what);
	snprintf(what, sizeof(what), "%s.match.proto", where);
	if (v[1])
		parse_proto(c, cl, v[1], what);
	snprintf(what, sizeof(what), "%s.match.dst_ports", where);
	if (v[2])
		parse_dst_ports(c, cl, v[2], what);
	if (v[2] && cl->proto == CASTLE_PROTO_ICMP)
		pol_err(c, v[2], "%s: ICMP has no ports (use proto tcp, udp or any)", what);
}

/* ---- a class ------------------------------------------------------------ */

static bool valid_class_name(const char *s)
{
	if (!*s || strlen(s) >= CASTLE_CLASS_NAME_MAX)
		return false;
	for (; *s; s++)
		if (!islower((unsigned char)*s) && !isdigit((unsigned char)*s) && *s != '_')
			return false;
	return true;
}

static void parse_per(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
		      const char *where)
{
	static const char *const keys[] = { "ipv4", "ipv6", NULL };
	yaml_node_t *v[2];
	char what[96];
	uint64_t u;

	snprintf(what, sizeof(what), "%s.per", where);
	if (pol_map(c, n, what, keys, v))
		return;
	if (v[0] && !pol_uint(c, v[0], "per.ipv4", 0, 32, &u))
		cl->plen4 = (uint8_t)u;
	if (v[1] && !pol_uint(c, v[1], "per.ipv6", 0, 128, &u))
		cl->plen6 = (uint8_t)u;
}

static void parse_ban(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *n,
		      const char *where)
{
	static const char *const keys[] = { "after", "for", NULL };
	yaml_node_t *v[2];
	const char *s;
	char what[96], err[256];
	uint64_t u;

	snprintf(what, sizeof(what), "%s.ban", where);
	if (pol_map(c, n, what, keys, v))
		return;
	if (!v[0] || !v[1]) {
		pol_err(c, n, "%s needs both after (drops) and for (a duration)", what);
		return;
	}
	if (!pol_uint(c, v[0], "ban.after", 1, UINT32_MAX, &u))
		cl->ban_after = (uint32_t)u;
	if (!(s = pol_scalar(c, v[1], "ban.for")))
		return;
	if (castle_parse_duration(s, &cl->ban_for_ns, err, sizeof(err)))
		pol_err(c, v[1], "ban.for: %s", err);
	else if (!cl->ban_for_ns)
		pol_err(c, v[1], "ban.for must be above 0");
}

static void parse_rates(struct pol_ctx *c, struct castle_class_conf *cl, yaml_node_t *node,
			yaml_node_t *rate, yaml_node_t *burst, yaml_node_t *bytes,
			yaml_node_t *bburst, const char *where)
{
	const char *s = NULL, *rs = NULL;
	char err[256];
	uint64_t cost;

	if (!rate) {
		pol_err(c, node, "%s needs a rate (e.g. rate: 200/s)", where);
	} else if ((rs = pol_scalar(c, rate, "rate")) &&
		   castle_parse_rate(rs, &cl->rate_pps, err, sizeof(err))) {
		pol_err(c, rate, "%s", err);
	}
	if (burst)
		pol_uint(c, burst, "burst", 1, 1000000000, &cl->burst);
	if (cl->rate_pps > 0) {
		/* default: a full bucket holds one second of traffic */
		if (!burst)
			cl->burst = cl->rate_pps < 1 ? 1 : (uint64_t)ceil(cl->rate_pps);
		/* rounded up as policy_compile.c does (never below its cost):
		 * what passes here compiles */
		cost = (uint64_t)ceil(1e9 / cl->rate_pps);
		if (cl->burst > 1 && (double)(cl->burst - 1) * (double)(cost ? cost : 1) > 9e18)
			pol_err(c, burst ? burst : node, "burst %llu is too large for rate %s",
				(unsigned long long)cl->burst, rs);
	}
	if (bytes && (s = pol_scalar(c, bytes, "bytes")) &&
	    castle_parse_byte_rate(s, &cl->byte_rate, err, sizeof(err)))
		pol_err(c, bytes, "bytes: %s", err);
	if (bburst) {
		if (!bytes)
			pol_err(c, bburst, "byte_burst needs a byte rate (bytes: e.g. 10MiB/s)");
		else if ((s = pol_scalar(c, bburst, "byte_burst")) &&
			 castle_parse_bytes(s, &cl->byte_burst, err, sizeof(err)))
			pol_err(c, bburst, "byte_burst: %s", err);
		else if (s && !cl->byte_burst)
			pol_err(c, bburst, "byte_burst must be above 0");
		else if (cl->byte_rate > 0 && (double)cl->byte_burst * 1e9 / cl->byte_rate > 9e18)
			pol_err(c, bburst, "byte_burst is too large for the byte rate");
		else if (cl->byte_burst && cl->byte_burst < CASTLE_MIN_BYTE_BURST)
			pol_err(c, bburst, "byte_burst %lluB is less than one full-size frame (%dB with a "
				"VLAN tag): a bigger frame would never pass; set %dB or more",
				(unsigned long long)cl->byte_burst, CASTLE_MIN_BYTE_BURST,
				CASTLE_MIN_BYTE_BURST);
	} else if (bytes && cl->byte_rate > 0 && ceil(cl->byte_rate) < CASTLE_MIN_BYTE_BURST) {
		/* the default burst, one second of the rate */
		pol_err(c, bytes, "bytes: %s holds less than one full-size frame (%dB with a VLAN "
			"tag) in its default byte_burst of one second: a bigger frame would never "
			"pass; set byte_burst: %dB or more", s, CASTLE_MIN_BYTE_BURST,
			CASTLE_MIN_BYTE_BURST);
	}
}

static void parse_class(struct pol_ctx *c, yaml_node_t *n, unsigned int idx)
{
	static const char *const keys[] = { "name",	  "match", "rate", "burst", "bytes",
					    "byte_burst", "per",   "ban",  NULL };
	enum { K_NAME, K_MATCH, K_RATE, K_BURST, K_BYTES, K_BBURST, K_PER, K_BAN };
	struct castle_class_conf *cl = &c->conf->classes[idx];
	yaml_node_t *v[8];
	char where[48];
	const char *s;

	snprintf(where, sizeof(where), "limits[%u]", idx);
	cl->plen4 = 32;
	cl->plen6 = 64;
	cl->line = pol_line(n);
	cl->col = pol_col(n);
	if (pol_map(c, n, where, keys, v))
		return;
	if (!v[K_NAME]) {
		pol_err(c, n, "%s needs a name", where);
	} else if ((s = pol_scalar(c, v[K_NAME], "name"))) {
		if (!valid_class_name(s)) {
			pol_err(c, v[K_NAME], "class name '%s' must be 1-%d characters of a-z, 0-9 and _",
				s, CASTLE_CLASS_NAME_MAX - 1);
		} else {
			for (unsigned int i = 0; i < idx; i++)
				if (!strcmp(c->conf->classes[i].name, s))
					pol_err(c, v[K_NAME], "duplicate class name '%s' (first at line %u)",
						s, c->conf->classes[i].line);
			snprintf(cl->name, sizeof(cl->name), "%s", s);
		}
	}
	if (v[K_MATCH] && !pol_is_null(v[K_MATCH]))
		parse_match(c, cl, v[K_MATCH], where);
	parse_rates(c, cl, n, v[K_RATE], v[K_BURST], v[K_BYTES], v[K_BBURST], where);
	if (v[K_PER])
		parse_per(c, cl, v[K_PER], where);
	if (v[K_BAN])
		parse_ban(c, cl, v[K_BAN], where);
	/* A ban writes the aggregated prefix into the blocklist: with a short
	 * `per`, one noisy source bans everyone behind it. */
	if (v[K_BAN] && cl->ban_after && (cl->plen4 < 16 || cl->plen6 < 32))
		pol_warn(c, v[K_BAN], "%s.ban with per ipv4 /%u, ipv6 /%u: a ban blocks the whole "
			 "prefix (below /16 or /32 that is a large share of the Internet)", where,
			 cl->plen4, cl->plen6);
}

/* The classes' match.src prefixes share one map per family, where a prefix
 * named by several classes is one entry. After class i is parsed: whether
 * the distinct prefixes of classes 0..i still fit; when not, the error is at
 * the class that went past (FILE:LINE:COL, like every policy error). *acc
 * collects the prefixes; returns false once reported (no second report). */
static bool csrc_fits(struct pol_ctx *c, yaml_node_t *e, const struct castle_class_conf *cl,
		      struct castle_cidr **acc, size_t *nacc)
{
	struct castle_cidr *v;
	size_t n4 = 0, n6 = 0;

	if (castle_class_any_src(cl))
		return true; /* no map entries: see compile_csrc */
	v = realloc(*acc, (*nacc + cl->nsrc) * sizeof(*v));
	if (!v) {
		pol_err(c, e, "out of memory");
		return false;
	}
	memcpy(v + *nacc, cl->src, cl->nsrc * sizeof(*v));
	*acc = v;
	*nacc += cl->nsrc;
	qsort(v, *nacc, sizeof(*v), castle_cidr_qsort_cmp);
	for (size_t i = 0; i < *nacc; i++)
		if (!i || castle_cidr_cmp(&v[i - 1], &v[i]))
			v[i].family == 4 ? n4++ : n6++;
	if (n4 <= CASTLE_CSRC_ENTRIES && n6 <= CASTLE_CSRC_ENTRIES)
		return true;
	pol_err(c, e, "limits class '%s': match.src brings the classes' sources to %zu IPv4 and %zu "
		"IPv6 prefixes, more than the %d per family the map holds",
		cl->name, n4, n6, CASTLE_CSRC_ENTRIES);
	return false;
}

void pol_parse_limits(struct pol_ctx *c, yaml_node_t *n)
{
	struct castle_cidr *acc = NULL;
	bool fits = true;
	size_t nacc = 0;
	struct pol_list l;

	if (pol_list(c, n, "limits", &l))
		return;
	if (l.single) {
		pol_err(c, n, "limits must be a list of classes");
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i);

		if (i == CASTLE_MAX_CLASSES) {
			pol_err(c, e, "more than %d limits classes", CASTLE_MAX_CLASSES);
			break;
		}
		parse_class(c, e, (unsigned int)i);
		c->conf->nclasses++;
		if (fits)
			fits = csrc_fits(c, e, &c->conf->classes[i], &acc, &nacc);
	}
	free(acc);
}

/* ---- tls ---------------------------------------------------------------- */

/* A DNS name (labels of a-z, 0-9, -; not starting or ending with -), or "*."
 * and one, lower-cased into out. A trailing dot is dropped: SNI never has it. */
static const char *sni_normalize(const char *s, char out[CASTLE_SNI_MAX])
{
	size_t len = strlen(s), lab = 0;
	const char *p = s;

	if (len && s[len - 1] == '.')
		len--;
	if (!len)
		return "is empty";
	if (len > CASTLE_SNI_MAX - 1)
		return "is too long (at most 127 bytes)";
	if (len > 2 && p[0] == '*' && p[1] == '.')
		p += 2;
	for (; p < s + len; p++) {
		unsigned char ch = (unsigned char)*p;

		if (ch == '.') {
			if (!lab || p[-1] == '-')
				return "has an empty label or a label ending in '-'";
			lab = 0;
		} else if (isalnum(ch) || (ch == '-' && lab)) {
			if (++lab > 63)
				return "has a label longer than 63 characters";
		} else if (ch == '*') {
			return "may only use a wildcard as a whole first label ('*.example.com')";
		} else if (ch >= 0x80) {
			return "is not ASCII (write internationalized names as xn--...)";
		} else {
			return "is not a DNS name";
		}
	}
	if (!lab || p[-1] == '-')
		return "has an empty label or a label ending in '-'";
	/* No top-level domain is all digits: 192.0.2.1 is an address, which a
	 * client never sends as a server name (RFC 6066, 3). */
	for (p = s + len; p > s && isdigit((unsigned char)p[-1]); p--)
		;
	if (p == s || p[-1] == '.')
		return "ends in an all-digit label (an IP address? SNI never carries one, RFC 6066)";
	memset(out, 0, CASTLE_SNI_MAX);
	for (size_t i = 0; i < len; i++)
		out[i] = (char)tolower((unsigned char)s[i]);
	return NULL;
}

static void parse_sni(struct pol_ctx *c, yaml_node_t *n)
{
	static const char *const keys[] = { "allow", NULL };
	struct castle_tls_policy *t = &c->conf->tls;
	unsigned int *lines;
	yaml_node_t *v[1];
	struct pol_list l;

	if (pol_map(c, n, "tls.sni", keys, v) || !v[0])
		return;
	if (pol_list(c, v[0], "tls.sni.allow", &l))
		return;
	t->sni_present = true;
	/* Deliberate ([]) or every name commented out: the same gate, which
	 * nobody should get by surprise. */
	if (!l.n)
		pol_warn(c, v[0], "tls.sni.allow is empty: every client that sends a server name is "
			 "refused (sni_denied); remove tls.sni to allow any name");
	if (l.n > CASTLE_SNI_ENTRIES) {
		pol_err(c, v[0], "tls.sni.allow: %zu names, more than %d", l.n, CASTLE_SNI_ENTRIES);
		return;
	}
	t->sni = calloc(l.n ? l.n : 1, sizeof(*t->sni));
	lines = calloc(l.n ? l.n : 1, sizeof(*lines));
	if (!t->sni || !lines) {
		pol_err(c, v[0], "out of memory");
		free(lines);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i);
		const char *s = pol_scalar(c, e, "a server name"), *why;

		if (!s)
			continue;
		why = sni_normalize(s, t->sni[t->nsni]);
		if (why) {
			pol_err(c, e, "server name '%s' %s", s, why);
			continue;
		}
		/* at most CASTLE_SNI_ENTRIES names: a linear scan is fine */
		for (size_t j = 0; j < t->nsni; j++) {
			if (!strcmp(t->sni[j], t->sni[t->nsni])) {
				pol_err(c, e, "duplicate server name '%s' (first at line %u)", s,
					lines[j]);
				goto next;
			}
		}
		lines[t->nsni++] = pol_line(e);
next:;
	}
	free(lines);
}

static void parse_tls_ports(struct pol_ctx *c, yaml_node_t *n)
{
	struct castle_tls_policy *t = &c->conf->tls;
	struct pol_list l;
	uint64_t u;

	if (pol_list(c, n, "tls.ports", &l))
		return;
	if (!l.n)
		pol_err(c, n, "tls.ports is empty: list the ports that only TLS may reach");
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i);

		if (e->type == YAML_SCALAR_NODE && strchr((const char *)e->data.scalar.value, '-')) {
			pol_err(c, e, "tls.ports takes single ports, not ranges");
			continue;
		}
		if (pol_uint(c, e, "tls port", 1, 65535, &u))
			continue;
		if (t->nports == CASTLE_MAX_TLS_PORTS) {
			pol_err(c, e, "more than %d tls ports", CASTLE_MAX_TLS_PORTS);
			return;
		}
		for (unsigned int j = 0; j < t->nports; j++)
			if (t->ports[j] == u)
				pol_err(c, e, "duplicate tls port %llu", (unsigned long long)u);
		t->ports[t->nports++] = (uint16_t)u;
	}
}

void pol_parse_tls(struct pol_ctx *c, yaml_node_t *n)
{
	static const char *const keys[] = { "ports", "min_version", "sni", "quic", NULL };
	static const char *const versions[] = { "1.0", "1.1", "1.2", "1.3" };
	struct castle_tls_policy *t = &c->conf->tls;
	yaml_node_t *v[4];
	bool drop = false;
	const char *s;

	t->min_version = 0x0301;
	t->quic_allow = true;
	if (pol_map(c, n, "tls", keys, v))
		return;
	t->present = true;
	if (!v[0])
		pol_err(c, n, "tls needs ports (the TCP ports only TLS may reach)");
	else
		parse_tls_ports(c, v[0]);
	/* YAML reads an unquoted 1.2 as a float: compare the text as written */
	if (v[1] && (s = pol_scalar(c, v[1], "tls.min_version"))) {
		unsigned int i;

		for (i = 0; i < 4 && strcmp(s, versions[i]) != 0; i++)
			;
		if (i == 4)
			pol_err(c, v[1], "tls.min_version must be \"1.0\", \"1.1\", \"1.2\" or \"1.3\", not '%s'",
				s);
		else
			t->min_version = (uint16_t)(0x0301 + i);
	}
	if (v[2])
		parse_sni(c, v[2]);
	if (v[3]) {
		if ((s = pol_scalar(c, v[3], "tls.quic"))) {
			if (!strcmp(s, "drop"))
				drop = true;
			else if (strcmp(s, "allow") != 0)
				pol_err(c, v[3], "tls.quic must be allow or drop, not '%s'", s);
		}
		t->quic_allow = !drop;
	}
}
