// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policy_compile.c - a validated policy configuration to the data path's
 * form: struct castle_policy (GCRA parameters per class), the class-source
 * LPM contents and the SNI keys. castled writes these into the standby
 * generation's maps.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy.h"

bool castle_class_any_src(const struct castle_class_conf *cl)
{
	bool v4 = false, v6 = false;

	for (size_t i = 0; i < cl->nsrc; i++) {
		if (cl->src[i].plen)
			continue;
		if (cl->src[i].family == 4)
			v4 = true;
		else
			v6 = true;
	}
	return !cl->nsrc || (v4 && v6);
}

/* ceil(q), except that a quotient that is whole but was computed a hair
 * above it (1e6 + 1e-10; 3.6e12 + 4e-4) stays whole: a fraction under
 * 1e-12 of q is taken for such an error. */
static double ceil_whole(double q)
{
	double r = nearbyint(q);

	return q - r > 1e-12 * q ? ceil(q) : r;
}

static int compile_class(const struct castle_class_conf *in, struct castle_class *out, char *err,
			 size_t errlen)
{
	double cost, tol;

	memset(out, 0, sizeof(*out));
	if (!(in->rate_pps > 0) || !in->burst) {
		snprintf(err, errlen, "class %s: no rate or burst", in->name);
		return -1;
	}
	/* Rounded up: a bucket admits at most burst + rate * T ("buckets are
	 * exact"); rounded to nearest, 30000000/s (33.3 ns) admitted 30.3M/s. */
	cost = fmax(1, ceil_whole(1e9 / in->rate_pps));
	tol = (double)(in->burst - 1) * cost;
	if (cost > 9e18 || tol > 9e18) {
		snprintf(err, errlen, "class %s: rate or burst out of range", in->name);
		return -1;
	}
	out->pkt_cost_ns = (uint64_t)cost;
	out->pkt_tol_ns = (in->burst - 1) * out->pkt_cost_ns;

	if (in->byte_rate > 0) {
		double ns_per_byte = 1e9 / in->byte_rate;
		double fp = fmax(1, ceil_whole(ns_per_byte * (double)(1ull << CASTLE_BYTE_FP_SHIFT)));
		/* default byte burst: one second of the byte rate */
		double burst = in->byte_burst ? (double)in->byte_burst : ceil(in->byte_rate);
		double burst_ns = round(burst * ns_per_byte);

		if (fp > 9e18 || burst_ns > 9e18) {
			snprintf(err, errlen, "class %s: byte rate or byte burst out of range",
				 in->name);
			return -1;
		}
		out->byte_cost_fp = (uint64_t)fp;
		out->byte_burst_ns = (uint64_t)burst_ns;
	}
	if (in->ban_after) {
		out->ban_after = in->ban_after;
		/* Saturate, as --ttl does: created + for must not wrap around to
		 * a ban that has already expired (213503d parses). */
		out->ban_for_ns = in->ban_for_ns < CASTLE_BAN_FOR_MAX_NS ? in->ban_for_ns
									  : CASTLE_BAN_FOR_MAX_NS;
	}
	out->proto = in->proto;
	out->plen4 = in->plen4;
	out->plen6 = in->plen6;
	out->nranges = in->nports;
	memcpy(out->ports, in->ports, sizeof(out->ports));
	return 0;
}

static int csrc_cmp(const void *pa, const void *pb)
{
	const struct castle_csrc_entry *a = pa, *b = pb;

	return castle_cidr_cmp(&a->cidr, &b->cidr);
}

/* One LPM lookup must answer for every class: give each prefix the bits of
 * all the prefixes that enclose it. After sorting, an enclosing prefix comes
 * first, so a chain of the open enclosing prefixes gives the parent. */
static int compile_csrc(const struct castle_policy_conf *conf, uint32_t any,
			struct castle_policy_compiled *out, char *err, size_t errlen)
{
	struct castle_csrc_entry *v, *chain[130];
	size_t n = 0, m = 0, n4 = 0, n6 = 0;
	int depth = 0;

	for (unsigned int i = 0; i < conf->nclasses; i++)
		if (!(any & (1u << i)))
			n += conf->classes[i].nsrc;
	if (!n)
		return 0;
	v = calloc(n, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (unsigned int i = 0; i < conf->nclasses; i++) {
		if (any & (1u << i))
			continue;
		for (size_t j = 0; j < conf->classes[i].nsrc; j++)
			v[m++] = (struct castle_csrc_entry){ conf->classes[i].src[j], 1u << i };
	}
	qsort(v, n, sizeof(*v), csrc_cmp);

	/* merge equal prefixes of different classes */
	m = 0;
	for (size_t i = 0; i < n; i++) {
		if (m && !castle_cidr_cmp(&v[m - 1].cidr, &v[i].cidr))
			v[m - 1].classes |= v[i].classes;
		else
			v[m++] = v[i];
	}
	for (size_t i = 0; i < m; i++) {
		while (depth && !castle_cidr_contains(&chain[depth - 1]->cidr, &v[i].cidr))
			depth--;
		if (depth)
			v[i].classes |= chain[depth - 1]->classes;
		if (depth < 130)
			chain[depth++] = &v[i];
		v[i].cidr.family == 4 ? n4++ : n6++;
	}
	if (n4 > CASTLE_CSRC_ENTRIES || n6 > CASTLE_CSRC_ENTRIES) {
		snprintf(err, errlen, "class sources: %zu IPv4 and %zu IPv6 prefixes, more than the %d per family the map holds",
			 n4, n6, CASTLE_CSRC_ENTRIES);
		free(v);
		return -1;
	}
	out->csrc = v;
	out->ncsrc = m;
	return 0;
}

int castle_policy_compile(const struct castle_policy_conf *conf,
			  struct castle_policy_compiled *out, char *err, size_t errlen)
{
	struct castle_policy *p = &out->pol;
	const struct castle_tls_policy *t = &conf->tls;
	uint32_t any = 0;

	memset(out, 0, sizeof(*out));
	if (conf->nclasses > CASTLE_MAX_CLASSES || t->nports > CASTLE_MAX_TLS_PORTS) {
		snprintf(err, errlen, "policy exceeds the data path's limits");
		return -1;
	}
	if (conf->dry_run)
		p->flags |= CASTLE_F_DRY_RUN;
	if (conf->malformed_pass)
		p->flags |= CASTLE_F_MALFORMED_PASS;
	p->events_per_sec = conf->events_per_sec;
	p->nclasses = conf->nclasses;
	for (unsigned int i = 0; i < conf->nclasses; i++) {
		if (compile_class(&conf->classes[i], &p->classes[i], err, errlen))
			return -1;
		/* names travel with the generation, for castlectl and metrics */
		memcpy(p->class_names[i], conf->classes[i].name, CASTLE_CLASS_NAME_LEN);
		if (castle_class_any_src(&conf->classes[i]))
			any |= 1u << i;
	}
	p->any_src_classes = any;

	if (t->present) {
		p->flags |= CASTLE_F_TLS;
		if (t->quic_allow)
			p->flags |= CASTLE_F_TLS_QUIC_ALLOW;
		p->tls.nports = t->nports;
		memcpy(p->tls.ports, t->ports, t->nports * sizeof(t->ports[0]));
		p->tls.min_version = t->min_version ? t->min_version : 0x0301;
		if (t->sni_present) {
			p->flags |= CASTLE_F_TLS_SNI;
			if (t->nsni) {
				out->sni = calloc(t->nsni, sizeof(*out->sni));
				if (!out->sni) {
					snprintf(err, errlen, "out of memory");
					return -1;
				}
				for (size_t i = 0; i < t->nsni; i++)
					memcpy(out->sni[i].name, t->sni[i], CASTLE_SNI_MAX);
				out->nsni = t->nsni;
			}
		}
	}

	if (compile_csrc(conf, any, out, err, errlen)) {
		castle_policy_compiled_free(out);
		return -1;
	}
	return 0;
}

void castle_policy_compiled_free(struct castle_policy_compiled *c)
{
	free(c->csrc);
	free(c->sni);
	memset(c, 0, sizeof(*c));
}
