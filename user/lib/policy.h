/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * policy.h - the policy file (spec: "Policy file (YAML)") as an in-memory
 * configuration, and its compilation into the structs the data path reads.
 *
 * castle_policy_load() parses and validates the whole file, collecting every
 * problem as "FILE:LINE:COL: message" (1-based); the policy is usable only if
 * it returns 0. castle_policy_compile() then turns it into a struct
 * castle_policy plus the contents of the class-source and SNI maps.
 */
#ifndef CASTLE_POLICY_H
#define CASTLE_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <castle/castle.h>

#include "cidr.h"
#include "errors.h"

/* How deep mappings and lists may nest (a policy needs about 5 levels; see
 * check_depth in policy.c for why a limit at all, and when it is checked). */
#define CASTLE_POLICY_MAX_DEPTH 32

/* The longest ban.for the data path is given (2^62 ns, ~146 years): an
 * auto-ban expires at its boot-clock creation plus this, which then cannot
 * wrap. A longer one is held at it. */
#define CASTLE_BAN_FOR_MAX_NS (1ull << 62)

/* The least byte burst: one full-size Ethernet frame with a VLAN tag. A
 * byte bucket smaller than a frame never admits that frame. */
#define CASTLE_MIN_BYTE_BURST 1518

/* bytes with the NUL: names are [a-z0-9_]{1,31}; the same as struct castle_policy's */
#define CASTLE_CLASS_NAME_MAX CASTLE_CLASS_NAME_LEN

/* allow: entries */
struct castle_allow_entry {
	struct castle_cidr cidr;
	char *comment;			/* NULL if none */
	unsigned int line, col;		/* where the entry is written (1-based) */
};

/* block: entries */
struct castle_block_entry {
	struct castle_cidr cidr;
	uint64_t ttl_ns;		/* 0 = never expires */
	char *comment;			/* NULL if none */
	unsigned int line, col;
};

/* One limits: class, in file order (the order is the match order). */
struct castle_class_conf {
	char name[CASTLE_CLASS_NAME_MAX];
	struct castle_cidr *src;	/* match.src; nsrc == 0 = any source */
	size_t nsrc;
	uint8_t proto;			/* CASTLE_PROTO_* */
	uint8_t nports;			/* match.dst_ports; 0 = any port */
	struct castle_port_range ports[CASTLE_MAX_PORT_RANGES];
	double rate_pps;		/* rate, packets per second (> 0) */
	uint64_t burst;			/* packets; default: 1 s of rate, at least 1 */
	double byte_rate;		/* bytes per second; 0 = no byte limit */
	uint64_t byte_burst;		/* bytes; 0 = default (1 s of byte_rate) */
	uint8_t plen4, plen6;		/* per: aggregation prefixes (default 32/64) */
	uint32_t ban_after;		/* ban: after (drops in a row); 0 = no ban */
	uint64_t ban_for_ns;		/* ban: for */
	unsigned int line, col;
};

struct castle_tls_policy {
	bool present;			/* a tls: section exists */
	uint8_t nports;
	uint16_t ports[CASTLE_MAX_TLS_PORTS];
	uint16_t min_version;		/* 0x0301 (1.0, default) .. 0x0304 (1.3) */
	bool sni_present;		/* sni.allow given (even empty: then no SNI passes) */
	char (*sni)[CASTLE_SNI_MAX];	/* lower case, NUL padded; "*.example.com" kept */
	size_t nsni;
	bool quic_allow;		/* quic: allow (default) | drop */
};

struct castle_policy_conf {
	char *path;			/* the file it was loaded from */
	int version;			/* always 1 */
	bool dry_run;			/* mode: dry-run (default enforce) */
	bool malformed_pass;		/* malformed: pass (default drop) */
	uint32_t events_per_sec;	/* events_per_sec: 0 = CASTLE_EVENTS_PER_SEC_DEFAULT */
	struct castle_allow_entry *allow;
	size_t nallow;
	struct castle_block_entry *block;
	size_t nblock;
	struct castle_class_conf classes[CASTLE_MAX_CLASSES];
	unsigned int nclasses;
	struct castle_tls_policy tls;
};

/* Load, parse and validate the policy at path. Returns 0 when errs holds no
 * error (it may hold warnings), else -1 with every problem found in errs and
 * out released. A missing, unreadable, non-regular or world-writable file is a
 * single error "PATH: ...". out must be freed with castle_policy_free() after a
 * successful load; errs must have been castle_errors_init()ed. */
int castle_policy_load(const char *path, struct castle_policy_conf *out,
		       struct castle_errors *errs);

/* The same from a buffer in memory; name is used in messages only (no file
 * permission checks). */
int castle_policy_parse(const char *name, const char *buf, size_t len,
			struct castle_policy_conf *out, struct castle_errors *errs);

void castle_policy_free(struct castle_policy_conf *conf);

/* ---- compilation (policy_compile.c) ------------------------------------ */

/* A class that matches every source (no match.src, or both /0s): it takes
 * no entry in the class-source maps. */
bool castle_class_any_src(const struct castle_class_conf *cl);

/* One entry of pol_csrc4/6: a prefix and the classes (bit = slot) whose
 * match.src contains it, enclosing prefixes' classes ORed in. */
struct castle_csrc_entry {
	struct castle_cidr cidr;
	uint32_t classes;
};

struct castle_policy_compiled {
	struct castle_policy pol;		/* serial left 0: the loader sets it */
	struct castle_csrc_entry *csrc;		/* both families, sorted (v4 first) */
	size_t ncsrc;
	struct castle_sni_key *sni;		/* pol_sni keys */
	size_t nsni;
};

/* Returns 0, or -1 with a message in err (out of memory, a map that would
 * overflow its capacity, a GCRA parameter that does not fit 64 bits). */
int castle_policy_compile(const struct castle_policy_conf *conf,
			  struct castle_policy_compiled *out, char *err, size_t errlen);

void castle_policy_compiled_free(struct castle_policy_compiled *c);

#endif /* CASTLE_POLICY_H */
