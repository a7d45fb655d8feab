// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* cidr.c - parse, print, compare and nest IPv4/IPv6 prefixes (cidr.h). */
#include <arpa/inet.h>
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "cidr.h"

static unsigned int max_plen(int family)
{
	return family == 4 ? 32 : 128;
}

/* true when the first plen bits of a and b are equal */
static bool prefix_eq(const uint8_t *a, const uint8_t *b, unsigned int plen)
{
	unsigned int bytes = plen / 8, bits = plen % 8;

	if (memcmp(a, b, bytes) != 0)
		return false;
	if (!bits)
		return true;
	return ((a[bytes] ^ b[bytes]) & (uint8_t)(0xff << (8 - bits))) == 0;
}

void castle_cidr_mask(struct castle_cidr *c)
{
	unsigned int len = c->family == 4 ? 4 : 16;

	for (unsigned int i = 0; i < len; i++) {
		unsigned int bit = i * 8;

		if (bit >= c->plen)
			c->addr[i] = 0;
		else if (c->plen - bit < 8)
			c->addr[i] &= (uint8_t)(0xff << (8 - (c->plen - bit)));
	}
	if (c->family == 4)
		memset(c->addr + 4, 0, 12);
}

/* The two readings of a prefix with host bits set, for "did you mean ...?":
 * the network it masks to and the address alone, each said in words, so
 * that a suggestion never reads as a bigger block than it is (1.2.3.4/0 is
 * 0.0.0.0/0, every address of the family). */
static const char *host_bits_hint(const struct castle_cidr *c, char *buf, size_t n)
{
	struct castle_cidr net = *c, one = *c;
	char a[CASTLE_CIDR_STRLEN], b[CASTLE_CIDR_STRLEN];

	castle_cidr_mask(&net);
	one.plen = max_plen(one.family);
	snprintf(buf, n, "%s (%s) or %s (the address alone)", castle_cidr_str(&net, a, sizeof(a)),
		 net.plen ? "the network" : net.family == 4 ? "every IPv4 address" : "every IPv6 address",
		 castle_cidr_str(&one, b, sizeof(b)));
	return buf;
}

static bool has_host_bits(const struct castle_cidr *c)
{
	struct castle_cidr m = *c;

	castle_cidr_mask(&m);
	return memcmp(m.addr, c->addr, sizeof(c->addr)) != 0;
}

static int cidr_parse(const char *s, struct castle_cidr *out, char *err, size_t errlen,
		      bool mapped_ok)
{
	char addr[INET6_ADDRSTRLEN + 1], shown[CASTLE_CIDR_STRLEN], hint[3 * CASTLE_CIDR_STRLEN + 64];
	const char *slash, *p;
	struct castle_cidr c;
	size_t alen;
	unsigned long plen;
	bool v6, digits_dots = true;

	if (!s || !*s) {
		snprintf(err, errlen, "empty address");
		return -1;
	}
	for (p = s; *p; p++)
		if (isspace((unsigned char)*p)) {
			snprintf(err, errlen, "blank or line break in '%s' (expected an address or "
				 "prefix alone)", s);
			return -1;
		}
	slash = strchr(s, '/');
	alen = slash ? (size_t)(slash - s) : strlen(s);
	if (alen == 0) {
		snprintf(err, errlen, "missing address before '/' in '%s'", s);
		return -1;
	}
	if (alen >= sizeof(addr)) {
		snprintf(err, errlen, "'%.*s...' is not an IPv4 or IPv6 address (too long)", 40, s);
		return -1;
	}
	memcpy(addr, s, alen);
	addr[alen] = '\0';

	/* The family is decided by the form, so the message can say which kind of
	 * address was malformed instead of "invalid" for both. */
	v6 = strchr(addr, ':') != NULL;
	for (p = addr; *p; p++)
		if (!isdigit((unsigned char)*p) && *p != '.')
			digits_dots = false;
	if (!v6 && (!digits_dots || !strchr(addr, '.'))) {
		snprintf(err, errlen, "'%s': unknown address family (expected an IPv4 or IPv6 address)",
			 addr);
		return -1;
	}

	memset(&c, 0, sizeof(c));
	c.family = v6 ? 6 : 4;
	if (v6 && strchr(addr, '.') && strchr(addr, ':') == strrchr(addr, ':') &&
	    isdigit((unsigned char)addr[0])) {
		/* 198.18.0.1:80: an address with a port */
		snprintf(err, errlen, "'%s' looks like an address with a port: give the address "
			 "alone", addr);
		return -1;
	}
	if (inet_pton(v6 ? AF_INET6 : AF_INET, addr, c.addr) != 1) {
		snprintf(err, errlen, "'%s' is not a valid %s address", addr, v6 ? "IPv6" : "IPv4");
		return -1;
	}

	c.plen = max_plen(c.family);
	if (slash) {
		p = slash + 1;
		if (!*p) {
			snprintf(err, errlen, "missing prefix length after '/' in '%s'", s);
			return -1;
		}
		if (!isdigit((unsigned char)*p)) {
			snprintf(err, errlen, "bad prefix length '/%s' in '%s'", p, s);
			return -1;
		}
		if (p[0] == '0' && isdigit((unsigned char)p[1])) { /* as the address refuses 010.1.2.3 */
			snprintf(err, errlen, "bad prefix length '/%s' in '%s': no leading zeros", p, s);
			return -1;
		}
		plen = 0;
		for (; isdigit((unsigned char)*p); p++)
			if (plen <= 1000)	/* saturate: any value this big is wrong */
				plen = plen * 10 + (unsigned long)(*p - '0');
		if (*p) {
			snprintf(err, errlen, "trailing characters '%s' after the prefix length in '%s'",
				 p, s);
			return -1;
		}
		if (plen > max_plen(c.family)) {
			snprintf(err, errlen, "bad prefix length /%lu in '%s': %s allows 0-%u",
				 plen, s, v6 ? "IPv6" : "IPv4", max_plen(c.family));
			return -1;
		}
		c.plen = (unsigned int)plen;
	}

	/* ::ffff:a.b.c.d is how a dual-stack socket shows an IPv4 peer; on the
	 * wire IPv4 traffic never carries it, and the kernel drops IPv6 packets
	 * from such a source anyway. An entry of it would do nothing. */
	if (!mapped_ok && c.family == 6 && c.plen >= 96 && !memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\xff\xff", 12)) {
		struct castle_cidr v4 = { .family = 4, .plen = c.plen - 96 };

		memcpy(v4.addr, c.addr + 12, 4);
		if (has_host_bits(&v4))
			snprintf(err, errlen, "'%s' is an IPv4-mapped IPv6 address, which IPv4 traffic "
				 "does not carry, with host bits set: did you mean %s?", s,
				 host_bits_hint(&v4, hint, sizeof(hint)));
		else
			snprintf(err, errlen, "'%s' is an IPv4-mapped IPv6 address, which IPv4 traffic "
				 "does not carry: did you mean %s%s?", s,
				 castle_cidr_str(&v4, shown, sizeof(shown)),
				 v4.plen ? "" : " (every IPv4 address)");
		return -1;
	}
	/* ::a.b.c.d, the IPv4-compatible form RFC 4291 deprecated: written with
	 * dots, it reads as the IPv4 address, which it does not match. The
	 * same address in hex (::c000:201) is taken as the IPv6 address it is. */
	if (!mapped_ok && c.family == 6 && c.plen >= 96 && strchr(addr, '.') &&
	    !memcmp(c.addr, "\0\0\0\0\0\0\0\0\0\0\0\0", 12) && !has_host_bits(&c)) {
		struct castle_cidr v4 = { .family = 4, .plen = c.plen - 96 };
		char v6s[CASTLE_CIDR_STRLEN];

		memcpy(v4.addr, c.addr + 12, 4);
		snprintf(err, errlen, "'%s' is an IPv4-compatible IPv6 address (deprecated, RFC 4291), "
			 "which IPv4 traffic does not carry: for IPv4 write %s%s, for the IPv6 %s %s",
			 s, castle_cidr_str(&v4, shown, sizeof(shown)),
			 v4.plen ? "" : " (every IPv4 address)", c.plen == 128 ? "address" : "prefix",
			 castle_cidr_str(&c, v6s, sizeof(v6s)));
		return -1;
	}
	if (has_host_bits(&c)) {
		snprintf(err, errlen, "host bits set in '%s': did you mean %s?", s,
			 host_bits_hint(&c, hint, sizeof(hint)));
		return -1;
	}
	*out = c;
	return 0;
}

int castle_cidr_parse(const char *s, struct castle_cidr *out, char *err, size_t errlen)
{
	return cidr_parse(s, out, err, errlen, false);
}

int castle_cidr_parse_existing(const char *s, struct castle_cidr *out, char *err, size_t errlen)
{
	return cidr_parse(s, out, err, errlen, true);
}

const char *castle_addr_str(int family, const uint8_t *addr, char *buf, size_t len)
{
	if (!inet_ntop(family == 4 ? AF_INET : AF_INET6, addr, buf, len)) {
		snprintf(buf, len, "?");
		return buf;
	}
	/* glibc writes ::c000:201 as ::192.0.2.1, the IPv4-compatible form
	 * castle_cidr_parse refuses as meaning the IPv4 address: in hex, what is
	 * shown can be pasted back */
	if (family == 6 && strchr(buf, '.') && !memcmp(addr, "\0\0\0\0\0\0\0\0\0\0\0\0", 12))
		snprintf(buf, len, "::%x:%x", addr[12] << 8 | addr[13], addr[14] << 8 | addr[15]);
	return buf;
}

const char *castle_cidr_str(const struct castle_cidr *c, char *buf, size_t len)
{
	char a[INET6_ADDRSTRLEN];

	castle_addr_str(c->family, c->addr, a, sizeof(a));
	if (castle_cidr_is_host(c))
		snprintf(buf, len, "%s", a);
	else
		snprintf(buf, len, "%s/%u", a, c->plen);
	return buf;
}

bool castle_cidr_contains(const struct castle_cidr *a, const struct castle_cidr *b)
{
	if (a->family != b->family || a->plen > b->plen)
		return false;
	return prefix_eq(a->addr, b->addr, a->plen);
}

int castle_cidr_cmp(const struct castle_cidr *a, const struct castle_cidr *b)
{
	int r;

	if (a->family != b->family)
		return a->family < b->family ? -1 : 1;
	r = memcmp(a->addr, b->addr, a->family == 4 ? 4 : 16);
	if (r)
		return r < 0 ? -1 : 1;
	if (a->plen != b->plen)
		return a->plen < b->plen ? -1 : 1;
	return 0;
}

int castle_cidr_qsort_cmp(const void *a, const void *b)
{
	return castle_cidr_cmp(a, b);
}
