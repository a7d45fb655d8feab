/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * parse.h - cursor parsers for the XDP gate: Ethernet, up to two VLAN tags,
 * IPv4 with options, IPv6 with its extension headers, and the first bytes of
 * TCP/UDP/ICMP. Each header has its own function; each checks its own bounds
 * against data_end. The result is a struct castle_pkt that the stages read.
 */
#ifndef CASTLE_BPF_PARSE_H
#define CASTLE_BPF_PARSE_H

#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>

#define ETH_P_IP 0x0800
#define ETH_P_IPV6 0x86DD
#define ETH_P_8021Q 0x8100
#define ETH_P_8021AD 0x88A8

#define IPPROTO_HOPOPTS 0
#define IPPROTO_ICMP 1
#define IPPROTO_TCP 6
#define IPPROTO_UDP 17
#define IPPROTO_ROUTING 43
#define IPPROTO_FRAGMENT 44
#define IPPROTO_ESP 50
#define IPPROTO_AH 51
#define IPPROTO_ICMPV6 58
#define IPPROTO_NONE 59
#define IPPROTO_DSTOPTS 60

/* What the parser concluded about a frame. */
enum castle_parse {
	CASTLE_P_IP = 0,	/* IP with a source: judge it */
	CASTLE_P_NON_IP,	/* not IP (ARP, LLDP, ...): always pass */
	CASTLE_P_BAD_L3,	/* IP, but no trustworthy source: malformed */
	CASTLE_P_BAD_L4,	/* source known, transport header truncated */
};

struct castle_pkt {
	__u8 saddr[16];		/* IPv4 in the first 4 bytes */
	__u8 daddr[16];
	__u32 family;		/* 4 or 6 */
	__u8 proto;		/* transport protocol after extension headers */
	__u8 frag;		/* 1: non-first fragment, no transport header */
	__u8 has_ports;		/* sport/dport valid */
	__u8 hop_limit;		/* IPv4 TTL / IPv6 hop limit */
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u8 icmp_type;
	__u8 blind;		/* CASTLE_BLIND_*: what a class must not match on */
	__u8 _pad[2];
};

/* What the parser could not see. A packet whose ports (or transport protocol)
 * are out of sight - a non-first fragment, a transport header cut short - is
 * charged to a class as if they matched: hiding them must not be a way around
 * a limit. An IPv6 non-first fragment's next header is not even the real
 * protocol (reassembly takes the first fragment's), so it hides both. */
#define CASTLE_BLIND_PORTS 1
#define CASTLE_BLIND_PROTO 2

/* `end` is data_end, the only bound the verifier accepts for access; `limit`
 * is where the IP header says the packet ends (before Ethernet padding). A
 * header must fit both. */
struct castle_cursor {
	void *pos;
	void *end;
	void *limit;
};

#define CASTLE_FITS(c, ptr) ((void *)(ptr) <= (c)->end && (void *)(ptr) <= (c)->limit)

/* Ethernet and VLAN tags; returns the inner ethertype (network order) or -1. */
static __always_inline int castle_parse_eth(struct castle_cursor *c)
{
	struct ethhdr *eth = c->pos;

	if ((void *)(eth + 1) > c->end)
		return -1;
	c->pos = eth + 1;
	__u16 proto = eth->h_proto;

	for (int i = 0; i < CASTLE_MAX_VLANS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		struct vlan_hdr *vh = c->pos;
		if ((void *)(vh + 1) > c->end)
			return -1;
		c->pos = vh + 1;
		proto = vh->h_vlan_encapsulated_proto;
	}
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return -2;
	return proto;
}

/* The ports (and ICMP type) of the transport header at the cursor. */
static __always_inline int castle_parse_l4(struct castle_cursor *c, struct castle_pkt *p)
{
	if (p->proto == IPPROTO_TCP) {
		struct tcphdr *th = c->pos;
		if (!CASTLE_FITS(c, th + 1) || th->doff < 5)
			return -1;
		p->sport = bpf_ntohs(th->source);
		p->dport = bpf_ntohs(th->dest);
		p->has_ports = 1;
	} else if (p->proto == IPPROTO_UDP) {
		struct udphdr *uh = c->pos;
		if (!CASTLE_FITS(c, uh + 1))
			return -1;
		p->sport = bpf_ntohs(uh->source);
		p->dport = bpf_ntohs(uh->dest);
		p->has_ports = 1;
	} else if (p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6) {
		__u8 *t = c->pos;
		if (!CASTLE_FITS(c, t + 4))
			return -1;
		p->icmp_type = t[0];
	}
	return 0;
}

/* The first two bytes of an IPv6 extension header, and of IPsec AH. */
struct castle_ipv6_opt {
	__u8 nexthdr;
	__u8 hdrlen;
};

static __always_inline enum castle_parse castle_parse_ipv4(struct castle_cursor *c,
							   struct castle_pkt *p)
{
	struct iphdr *iph = c->pos;

	if ((void *)(iph + 1) > c->end)
		return CASTLE_P_BAD_L3;
	__u32 hlen = iph->ihl * 4;
	__u32 tot = bpf_ntohs(iph->tot_len);
	if (iph->version != 4 || hlen < sizeof(*iph) || tot < hlen)
		return CASTLE_P_BAD_L3;
	if (c->pos + tot > c->end || c->pos + hlen > c->end)
		return CASTLE_P_BAD_L3;

	p->family = 4;
	__builtin_memcpy(p->saddr, &iph->saddr, 4);
	__builtin_memcpy(p->daddr, &iph->daddr, 4);
	p->proto = iph->protocol;
	p->hop_limit = iph->ttl;

	/* Trailing Ethernet padding is not ours to parse. */
	c->limit = c->pos + tot;
	c->pos = c->pos + hlen;
	/* Reassembly keys on the protocol, so a fragment's protocol is real. */
	if (iph->frag_off & bpf_htons(0x1fff)) {
		p->frag = 1;
		p->blind = CASTLE_BLIND_PORTS;
		return CASTLE_P_IP;
	}
	/* IPsec AH (transport mode) before the transport header, as IPv6's
	 * chain has it: its ports are the packet's. AH in AH (no real stack
	 * sends it) hides them: malformed, as a cut header. */
	if (p->proto == IPPROTO_AH) {
		struct castle_ipv6_opt *o = c->pos;

		if (!CASTLE_FITS(c, o + 1) || o->nexthdr == IPPROTO_AH) {
			p->blind = CASTLE_BLIND_PORTS | CASTLE_BLIND_PROTO;
			return CASTLE_P_BAD_L4;
		}
		p->proto = o->nexthdr;
		c->pos += (o->hdrlen + 2) * 4;
		if (!CASTLE_FITS(c, c->pos)) { /* longer than the packet (as IPv6's) */
			p->blind = CASTLE_BLIND_PORTS | CASTLE_BLIND_PROTO;
			return CASTLE_P_BAD_L4;
		}
	}
	if (castle_parse_l4(c, p)) {
		p->blind = CASTLE_BLIND_PORTS;
		return CASTLE_P_BAD_L4;
	}
	return CASTLE_P_IP;
}

static __always_inline enum castle_parse castle_parse_ipv6(struct castle_cursor *c,
							   struct castle_pkt *p)
{
	struct ipv6hdr *ip6 = c->pos;

	if ((void *)(ip6 + 1) > c->end)
		return CASTLE_P_BAD_L3;
	if (ip6->version != 6)
		return CASTLE_P_BAD_L3;
	__u32 plen = bpf_ntohs(ip6->payload_len);
	c->pos = ip6 + 1;
	if (c->pos + plen > c->end)
		return CASTLE_P_BAD_L3;
	/* payload_len 0 is a jumbogram only with a hop-by-hop option we do not
	 * support; anything after the header is then not trusted. */
	c->limit = c->pos + plen;

	p->family = 6;
	__builtin_memcpy(p->saddr, &ip6->saddr, 16);
	__builtin_memcpy(p->daddr, &ip6->daddr, 16);
	p->hop_limit = ip6->hop_limit;
	__u8 nh = ip6->nexthdr;

	/* Until the transport header is reached, neither it nor the protocol is
	 * known. */
	p->blind = CASTLE_BLIND_PROTO | CASTLE_BLIND_PORTS;

	/* CASTLE_MAX_V6_EXT extension headers, then the transport header: one
	 * turn more than there are extension headers to walk. */
	for (int i = 0; i <= CASTLE_MAX_V6_EXT; i++) {
		struct castle_ipv6_opt *o = c->pos;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
			if (i == CASTLE_MAX_V6_EXT || !CASTLE_FITS(c, o + 1))
				return CASTLE_P_BAD_L4;
			nh = o->nexthdr;
			c->pos += (o->hdrlen + 1) * 8;
			if (!CASTLE_FITS(c, c->pos))
				return CASTLE_P_BAD_L4;
			break;
		case IPPROTO_AH:
			if (i == CASTLE_MAX_V6_EXT || !CASTLE_FITS(c, o + 1))
				return CASTLE_P_BAD_L4;
			nh = o->nexthdr;
			c->pos += (o->hdrlen + 2) * 4;
			if (!CASTLE_FITS(c, c->pos))
				return CASTLE_P_BAD_L4;
			break;
		case IPPROTO_FRAGMENT: {
			struct frag_hdr *fh = c->pos;
			if (i == CASTLE_MAX_V6_EXT || !CASTLE_FITS(c, fh + 1))
				return CASTLE_P_BAD_L4;
			nh = fh->nexthdr;
			c->pos = fh + 1;
			if (fh->frag_off & bpf_htons(0xfff8)) {
				p->proto = nh;
				p->frag = 1;
				return CASTLE_P_IP;
			}
			break;
		}
		default:
			/* More extension headers than we walk end here too, with
			 * the transport header out of sight: malformed. */
			p->proto = nh;
			p->blind = CASTLE_BLIND_PORTS;
			if (nh == IPPROTO_NONE || nh == IPPROTO_ESP) {
				p->blind = 0;
				return CASTLE_P_IP;
			}
			if (castle_parse_l4(c, p))
				return CASTLE_P_BAD_L4;
			p->blind = 0;
			return CASTLE_P_IP;
		}
	}
	/* Not reached: the last turn returns from every case. */
	return CASTLE_P_BAD_L4;
}

static __always_inline enum castle_parse castle_parse(void *data, void *data_end,
						      struct castle_pkt *p)
{
	struct castle_cursor c = { .pos = data, .end = data_end, .limit = data_end };
	int proto = castle_parse_eth(&c);

	/* A truncated tag or a third tag: the frame claims to carry something
	 * we cannot see, so it is never waved through as "not IP". */
	if (proto < 0)
		return CASTLE_P_BAD_L3;
	if (proto == bpf_htons(ETH_P_IP))
		return castle_parse_ipv4(&c, p);
	if (proto == bpf_htons(ETH_P_IPV6))
		return castle_parse_ipv6(&c, p);
	return CASTLE_P_NON_IP;
}

#endif /* CASTLE_BPF_PARSE_H */
