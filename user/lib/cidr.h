/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* cidr.h - addresses and prefixes of both families, parsed and printed. */
#ifndef CASTLE_CIDR_H
#define CASTLE_CIDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct castle_cidr {
	int family;		/* 4 or 6 */
	unsigned int plen;	/* 0..32 or 0..128 */
	uint8_t addr[16];	/* network byte order; IPv4 in the first 4 bytes */
};

#define CASTLE_CIDR_STRLEN 64

/* Parse "198.18.0.0/15", "2001:db8::/32" or a bare address (full-length
 * prefix). Host bits set, a bad prefix length, an unknown family or an
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d, never a source) is an error:
 * returns -1 and writes a human message ("host bits set in 198.18.0.1/15: did
 * you mean 198.18.0.0/15?") into err. */
int castle_cidr_parse(const char *s, struct castle_cidr *out, char *err, size_t errlen);

/* The same, but an IPv4-mapped IPv6 address (which castle_cidr_parse refuses
 * for new entries: it never matches) and the IPv4-compatible ::a.b.c.d form
 * are accepted: for naming an entry that exists already (castlectl
 * block/allow del, the state file), as an older castle let them be added. */
int castle_cidr_parse_existing(const char *s, struct castle_cidr *out, char *err, size_t errlen);

/* An address (family 4 or 6) as inet_ntop writes it, but an IPv6 address in
 * ::/96 in hex (glibc's ::a.b.c.d is the form castle_cidr_parse refuses). */
const char *castle_addr_str(int family, const uint8_t *addr, char *buf, size_t len);

/* "198.18.0.0/15"; a full-length prefix is printed as a bare address. */
const char *castle_cidr_str(const struct castle_cidr *c, char *buf, size_t len);

/* true when a contains b (a's prefix is no longer than b's and b lies in a). */
bool castle_cidr_contains(const struct castle_cidr *a, const struct castle_cidr *b);

/* Total order for sorting: family, then address, then prefix length. After
 * sorting, an enclosing prefix comes before every prefix it contains, and the
 * prefixes it contains follow it without a gap. */
int castle_cidr_cmp(const struct castle_cidr *a, const struct castle_cidr *b);

/* qsort() adapter of castle_cidr_cmp for arrays of struct castle_cidr. */
int castle_cidr_qsort_cmp(const void *a, const void *b);

/* Clear the host bits of c (bits past plen). */
void castle_cidr_mask(struct castle_cidr *c);

static inline bool castle_cidr_is_host(const struct castle_cidr *c)
{
	return c->plen == (c->family == 4 ? 32u : 128u);
}

#endif /* CASTLE_CIDR_H */
