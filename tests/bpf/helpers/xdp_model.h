/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * xdp_model.h - a user-space reference model of the XDP gate, written from the
 * README ("XDP gate design") and the contract, not from bpf/: its own frame
 * parser (byte offsets, no kernel structs), its own allow/block tables with
 * longest-prefix match, and rate-limit classes of two kinds whose outcome does
 * not depend on timing. test_fuzz_xdp.c runs the same frames through the real
 * program and through this model and asserts that they agree.
 */
#ifndef CASTLE_TEST_XDP_MODEL_H
#define CASTLE_TEST_XDP_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <castle/castle.h>
#include "cidr.h"

/* What the model's parser concluded (mirrors the README's categories). */
enum xm_parse {
	XM_IP = 0,	/* IP with a source and, where it has one, a transport header */
	XM_NON_IP,	/* ARP, LLDP, ...: always pass */
	XM_BAD_L3,	/* no trustworthy source: malformed, even for allowlisted */
	XM_BAD_L4,	/* source known, transport header truncated: malformed after lists */
};

struct xm_pkt {
	int family;		/* 4 or 6 (0 if not IP) */
	uint8_t saddr[16];
	uint8_t proto;		/* transport protocol after extension headers */
	bool frag;		/* non-first fragment */
	/* What a class cannot match on because the parser could not see it (a
	 * non-first fragment, a cut transport header): such a packet is charged
	 * as if it matched, so hiding ports is no way around a limit. An IPv6
	 * non-first fragment (and a cut extension chain) hides the protocol too. */
	bool blind_ports, blind_proto;
	bool has_ports;
	uint16_t dport;
	uint8_t icmp_type;
	bool has_icmp;
	uint8_t hop;		/* TTL / hop limit */
	size_t saddr_off;	/* offset of the source address in the frame */
	size_t l4_off, ip_end;	/* transport header and end of the IP packet (if parsed) */
};

/* A hash of prefixes of one family with longest-prefix lookup. */
struct xm_slot;
struct xm_tab {
	struct xm_slot *s;
	size_t cap, n;
	uint32_t plens[129];	/* entries per prefix length */
};

/* Rate-limit kinds the model can predict exactly without a clock. */
enum xm_rl_kind {
	XM_RL_UNLIMITED,	/* rate so high (1e9/s, huge burst) that it never drops */
	XM_RL_ONCE,		/* rate 1/h, burst 1: a key's first packet passes, the rest drop */
};

struct xm_class {
	bool any_src;
	struct castle_cidr src;	/* one CIDR when !any_src */
	uint8_t proto;		/* CASTLE_PROTO_* */
	uint8_t nports;
	struct castle_port_range ports[CASTLE_MAX_PORT_RANGES];
	enum xm_rl_kind kind;
	uint32_t ban_after;	/* 0 = no auto-ban; bans last far longer than a test */
	uint8_t plen4, plen6;
};

struct xm {
	/* allow/block tables, index 0 = IPv4, 1 = IPv6 */
	struct xm_tab pol_allow[2], man_allow[2];
	struct xm_tab pol_exact[2], man_exact[2], pol_net[2], man_net[2];
	struct xm_class classes[CASTLE_MAX_CLASSES];
	unsigned int nclasses;
	bool dry_run, malformed_pass;
	struct xm_tab rl;	/* rate-limit state by (class, family, masked source) */
	uint64_t rl_keys;	/* distinct keys ever created (LRU sizing check) */
	uint64_t autobans;	/* auto-ban entries written */
};

struct xm_result {
	enum xm_parse parse;
	struct xm_pkt pkt;
	int verdict;		/* CASTLE_PASS / CASTLE_DROP after dry-run/malformed flags */
	int reason;		/* enum castle_reason */
	int slot;		/* class slot that judged it, or -1 */
	bool class_drop;	/* the class refused it (counted in class_stats as drop) */
};

void xm_init(struct xm *m);
void xm_free(struct xm *m);
/* Forget the policy generation (lists, classes, flags); manual and auto
 * entries and rate-limit state stay, as they do in the kernel. */
void xm_policy_reset(struct xm *m);
void xm_allow(struct xm *m, const struct castle_cidr *c, bool manual);
/* expired: an entry whose TTL has already run out (as good as absent). */
void xm_block(struct xm *m, const struct castle_cidr *c, bool manual, bool expired);
int xm_add_class(struct xm *m, const struct xm_class *c);

/* Parse only (no state change). */
enum xm_parse xm_parse_frame(const uint8_t *f, size_t n, struct xm_pkt *p);
bool xm_is_allowed(const struct xm *m, int family, const uint8_t *addr);
/* The blocklist reason of a source (CASTLE_R_BLOCKLIST/AUTOBAN) or CASTLE_R_OK. */
int xm_block_reason(const struct xm *m, int family, const uint8_t *addr);

/* Judge one frame as the gate would, updating rate-limit and auto-ban state. */
void xm_judge(struct xm *m, const uint8_t *f, size_t n, struct xm_result *r);

#endif
