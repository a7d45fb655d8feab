/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ctl.h - castlectl as a library: the command line is described by tables
 * (verbs, their options and positional arguments), and the same tables drive
 * parsing, --help and the man page's synopsis, so they cannot drift apart.
 * user/castlectl.c is only main(); the unit tests call castle_ctl_main() with
 * their own argv and output streams.
 *
 * Exit status (spec): 0 done, 1 failed (stderr says why), 2 usage error.
 * Usage errors are about the shape of the command line: unknown verb or
 * option, missing or extra argument, missing option value. A value that has
 * the right place but does not parse (a CIDR with host bits set, a bad
 * duration) is a failure with the parser's message: exit 1.
 */
#ifndef CASTLE_CTL_H
#define CASTLE_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "cidr.h"
#include "maps.h"

enum { CTL_OK = 0, CTL_FAIL = 1, CTL_USAGE = 2 };

/* Every value a verb can take. One struct for all verbs keeps the option
 * tables plain data (an offset into this struct), like xdp-tools' params.c. */
struct ctl_args {
	struct castle_cidr cidr;	/* block/allow add/del */
	const char *cidr_str;		/* as typed, for messages */
	uint64_t ttl_ns;		/* block add --ttl; 0 = none */
	const char *comment;		/* --comment */
	const char *iface;		/* unload */
	uint64_t n;			/* top -n */
	uint64_t interval_ns;		/* top --interval */
	uint64_t count;			/* events --count; 0 = unlimited */
	uint64_t timeout_ns;		/* events/reload --timeout; 0 = none */
	bool json;			/* -j after the verb (reading verbs) */
};

struct ctl {
	FILE *out, *err;
	const char *pin_dir;
	const char *state_dir;		/* --state-dir, else NULL (see ctl_persist) */
	bool json;
	struct castle_maps maps;
	bool maps_open;
	struct castle_policy pol;	/* live policy, read once for class names */
	uint8_t slot_of[CASTLE_MAX_CLASSES];	/* its classes' counter slots */
	bool pol_read;
};

enum ctl_type {
	CTL_T_FLAG,		/* bool, no value */
	CTL_T_STR,		/* const char * */
	CTL_T_COMMENT,		/* const char *, checked: length, no control chars */
	CTL_T_UINT,		/* uint64_t, decimal, within [min, max] */
	CTL_T_DURATION,		/* uint64_t ns, castle_parse_duration, > 0 */
	CTL_T_CIDR,		/* struct castle_cidr, castle_cidr_parse */
	CTL_T_CIDR_EXISTING,	/* the same, castle_cidr_parse_existing (del) */
	CTL_T_IFACE,		/* const char *, an interface name (< IFNAMSIZ) */
};

struct ctl_opt {
	const char *name;	/* long option without "--"; NULL: positional */
	char short_name;	/* 0: none */
	enum ctl_type type;
	const char *metavar;	/* "CIDR", "DUR", "N" */
	size_t offset;		/* into struct ctl_args */
	const char *def;	/* default, parsed like a typed value; NULL: none */
	uint64_t min, max;	/* CTL_T_UINT bounds */
	const char *help;
};

struct ctl_verb {
	const char *name;	/* "status", "block add" */
	const char *summary;	/* one line, for castlectl --help */
	const char *help;	/* paragraph for castlectl VERB --help */
	const struct ctl_opt *opts;	/* terminated by an entry with help == NULL */
	bool reads;		/* a reading verb: honours -j */
	int (*run)(struct ctl *c, const struct ctl_args *a);
};

extern const struct ctl_verb ctl_verbs[];

int castle_ctl_main(int argc, char **argv, FILE *out, FILE *err);

/* Messages: "castlectl: ..." on c->err. */
void ctl_errf(struct ctl *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Open the pinned maps once; 0 or CTL_FAIL with a message that says what to
 * do (not loaded, permission). */
int ctl_open(struct ctl *c);

/* Parse one typed value (exposed for the tests). 0 or -1 with a message. */
int ctl_parse_value(const struct ctl_opt *o, const char *s, struct ctl_args *a, char *err,
		    size_t errlen);

/* Verbs (ctl_lists.c, ctl_status.c, ctl_events.c, ctl_admin.c). */
int ctl_block_add(struct ctl *c, const struct ctl_args *a);
int ctl_block_del(struct ctl *c, const struct ctl_args *a);
int ctl_block_list(struct ctl *c, const struct ctl_args *a);
int ctl_allow_add(struct ctl *c, const struct ctl_args *a);
int ctl_allow_del(struct ctl *c, const struct ctl_args *a);
int ctl_allow_list(struct ctl *c, const struct ctl_args *a);
int ctl_status(struct ctl *c, const struct ctl_args *a);
int ctl_stats(struct ctl *c, const struct ctl_args *a);
int ctl_limit_list(struct ctl *c, const struct ctl_args *a);
int ctl_top(struct ctl *c, const struct ctl_args *a);
int ctl_events(struct ctl *c, const struct ctl_args *a);
int ctl_reload(struct ctl *c, const struct ctl_args *a);
int ctl_unload(struct ctl *c, const struct ctl_args *a);

/* Shared helpers. */
const char *ctl_ifname(const struct ctl *c, uint32_t ifindex, char *buf, size_t len);
const char *ctl_proto_name(uint8_t proto, int family);
/* Class label: its name in the live policy, else "#slot"; "-" for none. */
const char *ctl_class_name(struct ctl *c, uint32_t slot, char *buf, size_t len);
/* The name of pol's i-th class, or "#slot" when it has none (i < 0: no class
 * holds the slot). */
const char *ctl_class_label(struct castle_policy *pol, int i, uint32_t slot, char *buf,
			    size_t len);

/* Why a policy list cannot be read with CAP_BPF alone: its maps are opened
 * by id (bpf_map_get_fd_by_id), which the kernel grants CAP_SYS_ADMIN only. */
#define CTL_BY_ID_NEEDS "the policy's maps are opened by id, which needs CAP_SYS_ADMIN"

#endif /* CASTLE_CTL_H */
