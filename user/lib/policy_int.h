/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy_int.h - internals shared by the policy parser files (policy.c,
 * policy_limits.c, policy_check.c): the parse context and the libyaml node
 * helpers. Not for use outside user/lib/policy*.c.
 */
#ifndef CASTLE_POLICY_INT_H
#define CASTLE_POLICY_INT_H

#include <yaml.h>

#include "policy.h"

struct pol_ctx {
	const char *name;		/* file name for messages */
	yaml_document_t *doc;
	struct castle_errors *errs;
	struct castle_policy_conf *conf;
};

/* A YAML list, or a single scalar standing for a one-item list. */
struct pol_list {
	yaml_node_item_t *items;
	size_t n;
	yaml_node_t *single;
};

/* Messages at a node's start (libyaml marks are 0-based; these print 1-based). */
void pol_err(struct pol_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pol_warn(struct pol_ctx *c, const yaml_node_t *n, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
void pol_err_at(struct pol_ctx *c, enum castle_severity sev, unsigned int line, unsigned int col,
		const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static inline unsigned int pol_line(const yaml_node_t *n)
{
	return (unsigned int)n->start_mark.line + 1;
}

static inline unsigned int pol_col(const yaml_node_t *n)
{
	return (unsigned int)n->start_mark.column + 1;
}

bool pol_is_null(const yaml_node_t *n);

/* The text of a scalar, or NULL after reporting "WHAT must be a string/value"
 * (a list, a mapping, an empty value or an embedded NUL). */
const char *pol_scalar(struct pol_ctx *c, const yaml_node_t *n, const char *what);

/* Unsigned decimal in [min, max]; -1 after reporting. */
int pol_uint(struct pol_ctx *c, const yaml_node_t *n, const char *what, uint64_t min,
	     uint64_t max, uint64_t *out);

/* Check n is a mapping whose keys are all in keys[] (NULL terminated) and
 * appear once; vals[i] is set to the value of keys[i] or NULL. Unknown and
 * duplicate keys are reported (and ignored); returns -1 only if n is not a
 * mapping. */
int pol_map(struct pol_ctx *c, yaml_node_t *n, const char *what, const char *const keys[],
	    yaml_node_t *vals[]);

/* A sequence (or one scalar, or null = empty); -1 after reporting otherwise. */
int pol_list(struct pol_ctx *c, yaml_node_t *n, const char *what, struct pol_list *l);
yaml_node_t *pol_list_get(struct pol_ctx *c, const struct pol_list *l, size_t i);

/* One CIDR of a list, to find duplicates and nesting after a sort. The
 * address is kept as two host-order 64-bit halves so that sorting a million of
 * them compares integers, not bytes. Fill with pol_cref_set(). */
struct pol_cref {
	uint64_t hi, lo;		/* address, big-endian order as integers */
	uint32_t idx;			/* index in its list */
	uint32_t line, col;
	uint8_t family, plen;
	uint8_t list;			/* 0 or 1: which list (allow/block) */
};

void pol_cref_set(struct pol_cref *r, const struct castle_cidr *c, uint32_t idx, uint8_t list,
		  unsigned int line, unsigned int col);

/* Sort refs and report duplicates and prefixes nested in another of the same
 * list, naming the lists names[0] / names[1]. With cross set (allow = list 0,
 * block = list 1), also an entry in both lists (error) and a block inside an
 * allow (warning: allow wins, so the block does nothing). */
int pol_check_cidrs(struct pol_ctx *c, struct pol_cref *refs, size_t n, const char *const names[2],
		    bool cross);

/* policy_limits.c */
void pol_parse_limits(struct pol_ctx *c, yaml_node_t *n);
void pol_parse_tls(struct pol_ctx *c, yaml_node_t *n);

#endif /* CASTLE_POLICY_INT_H */
