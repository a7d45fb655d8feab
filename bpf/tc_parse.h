/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tc_parse.h - the TC gate's parser (castle_tc.bpf.c): Ethernet, VLAN tags,
 * IPv4/IPv6 and the TCP/UDP header. Each header is read straight from the
 * skb's linear data when it lies there (the usual case: drivers and the stack
 * put the headers there), else with bpf_skb_load_bytes, so nothing is assumed
 * linear (TC_LOAD). It fills the XDP gate's struct castle_pkt (so lists.h
 * applies) and says where the payload is.
 */
#ifndef CASTLE_BPF_TC_PARSE_H
#define CASTLE_BPF_TC_PARSE_H

#include "parse.h"

#define ETH_HLEN 14

/* Set by the tests only (rodata, before load): TC_LOAD takes only the first
 * castle_tc_test_linear bytes as linear (0: all that the skb has), so a
 * header beyond them is read with bpf_skb_load_bytes, as when a driver left
 * it in the frags. A test-run skb is all linear, so the fallback and the
 * mixed case would go untested. Known to the verifier at load: 0 costs
 * nothing. */
const volatile __u32 castle_tc_test_linear = 0;

/*
 * Copy the header at frame offset `off` into *dst (its type says how many
 * bytes): loads from the linear data when it holds them, else
 * bpf_skb_load_bytes (a helper call each, ~5-10 ns here: four of them were
 * most of a verified segment's cost). 0 or the helper's error. The offset
 * is masked to 0x7fff (and checked against it, so the mask never changes
 * it): the verifier grants a packet pointer no range unless its offset plus
 * the access stays under 0xffff, and the parser's offsets are far below.
 * Tests (castle_tc_test_linear) can cut the linear data short.
 */
#define TC_LOAD(skb, off, dst)                                                               \
	({                                                                                   \
		void *data_ = (void *)(long)(skb)->data;                                     \
		void *end_ = (void *)(long)(skb)->data_end;                                  \
		__u32 off_ = (off);                                                          \
		typeof(dst) src_ = data_ + (off_ & 0x7fff);                                  \
		int err_ = 0;                                                                \
                                                                                             \
		if (off_ <= 0x7fff && (void *)(src_ + 1) <= end_ &&                          \
		    (!castle_tc_test_linear ||                                               \
		     off_ + sizeof(*(dst)) <= castle_tc_test_linear))                        \
			*(dst) = *src_;                                                      \
		else                                                                         \
			err_ = bpf_skb_load_bytes(skb, off_, dst, sizeof(*(dst)));           \
		err_;                                                                        \
	})

/* What the TC parser extracts: the XDP struct (so lists.h applies) and where
 * the payload is. Offsets are from the start of the frame. */
struct castle_tc_pkt {
	struct castle_pkt ip;
	__u32 pay_off;
	__u32 pay_len;
	__u32 seq;
	__u8 tcp_flags;
	__u8 first_frag;	/* MF set, offset 0: transport header, partial payload */
	__u8 _pad[2];
};

static __always_inline int tc_l4(struct __sk_buff *skb, struct castle_tc_pkt *p, __u32 off,
				 __u32 ip_end)
{
	struct {
		__be16 src, dst;
	} ports;

	if (p->ip.proto != IPPROTO_TCP && p->ip.proto != IPPROTO_UDP)
		return CASTLE_P_IP;
	/* The ports first: a header cut after them is still malformed, but
	 * the gate can tell whether it is its business (a protected port). */
	if (off + sizeof(ports) > ip_end || TC_LOAD(skb, off, &ports))
		return CASTLE_P_BAD_L4;
	p->ip.sport = bpf_ntohs(ports.src);
	p->ip.dport = bpf_ntohs(ports.dst);
	p->ip.has_ports = 1;
	if (p->ip.proto == IPPROTO_TCP) {
		struct tcphdr th;

		if (off + sizeof(th) > ip_end || TC_LOAD(skb, off, &th))
			return CASTLE_P_BAD_L4;
		/* Stricter than parse.h, which needs only the ports: the gate
		 * reads the payload, so the data offset must hold. The caller
		 * calls this malformed only on a protected port. */
		if (th.doff < 5 || off + th.doff * 4 > ip_end)
			return CASTLE_P_BAD_L4;
		p->seq = bpf_ntohl(th.seq);
		p->tcp_flags = ((__u8 *)&th)[13];
		p->pay_off = off + th.doff * 4;
	} else if (p->ip.proto == IPPROTO_UDP) {
		struct udphdr uh;

		if (off + sizeof(uh) > ip_end || TC_LOAD(skb, off, &uh))
			return CASTLE_P_BAD_L4;
		p->pay_off = off + sizeof(uh);
	}
	p->pay_len = ip_end - p->pay_off;
	return CASTLE_P_IP;
}

static __always_inline int tc_ipv4(struct __sk_buff *skb, struct castle_tc_pkt *p, __u32 off)
{
	struct iphdr iph;

	if (TC_LOAD(skb, off, &iph))
		return CASTLE_P_BAD_L3;
	__u32 hlen = iph.ihl * 4, tot = bpf_ntohs(iph.tot_len);
	if (iph.version != 4 || hlen < sizeof(iph) || tot < hlen || off + tot > skb->len)
		return CASTLE_P_BAD_L3;
	p->ip.family = 4;
	__builtin_memcpy(p->ip.saddr, &iph.saddr, 4);
	__builtin_memcpy(p->ip.daddr, &iph.daddr, 4);
	p->ip.proto = iph.protocol;
	if (iph.frag_off & bpf_htons(0x1fff)) {
		p->ip.frag = 1;
		return CASTLE_P_IP;
	}
	p->first_frag = !!(iph.frag_off & bpf_htons(0x2000));
	/* IPsec AH before the transport header; AH in AH is malformed (as
	 * parse.h) */
	if (p->ip.proto == IPPROTO_AH) {
		struct {
			__u8 nh, len;
		} o;

		if (hlen + 2 > tot || TC_LOAD(skb, off + hlen, &o) || o.nh == IPPROTO_AH)
			return CASTLE_P_BAD_L4;
		p->ip.proto = o.nh;
		hlen += (o.len + 2) * 4;
		if (hlen > tot) /* longer than the packet (as IPv6's) */
			return CASTLE_P_BAD_L4;
	}
	return tc_l4(skb, p, off + hlen, off + tot);
}

static __always_inline int tc_ipv6(struct __sk_buff *skb, struct castle_tc_pkt *p, __u32 off)
{
	struct ipv6hdr ip6;

	if (TC_LOAD(skb, off, &ip6))
		return CASTLE_P_BAD_L3;
	__u32 end = off + sizeof(ip6) + bpf_ntohs(ip6.payload_len);
	if (ip6.version != 6 || end > skb->len)
		return CASTLE_P_BAD_L3;
	p->ip.family = 6;
	__builtin_memcpy(p->ip.saddr, &ip6.saddr, 16);
	__builtin_memcpy(p->ip.daddr, &ip6.daddr, 16);
	__u8 nh = ip6.nexthdr;
	off += sizeof(ip6);

	/* CASTLE_MAX_V6_EXT extension headers, then the transport header: one
	 * turn more than there are extension headers (as in parse.h). */
	for (int i = 0; i <= CASTLE_MAX_V6_EXT; i++) {
		struct {
			__u8 nh, len;
		} o;
		struct {
			__u8 nh, res, off_hi, off_lo;
		} f;

		switch (nh) {
		case IPPROTO_HOPOPTS:
		case IPPROTO_ROUTING:
		case IPPROTO_DSTOPTS:
		case IPPROTO_AH:
			if (i == CASTLE_MAX_V6_EXT || off + 2 > end || TC_LOAD(skb, off, &o))
				return CASTLE_P_BAD_L4;
			off += nh == IPPROTO_AH ? (o.len + 2) * 4 : (o.len + 1) * 8;
			nh = o.nh;
			break;
		case IPPROTO_FRAGMENT:
			if (i == CASTLE_MAX_V6_EXT || off + 8 > end || TC_LOAD(skb, off, &f))
				return CASTLE_P_BAD_L4;
			nh = f.nh;
			off += 8;
			if (((f.off_hi << 8 | f.off_lo) & 0xfff8)) {
				p->ip.proto = nh;
				p->ip.frag = 1;
				return CASTLE_P_IP;
			}
			p->first_frag = f.off_lo & 1;
			break;
		default:
			p->ip.proto = nh;
			if (off > end)
				return CASTLE_P_BAD_L4;
			return tc_l4(skb, p, off, end);
		}
	}
	p->ip.proto = nh;
	return CASTLE_P_BAD_L4;
}

/* Global: verified once on its own (see castle_xdp.bpf.c). */
__noinline int castle_tc_parse(struct __sk_buff *skb, struct castle_tc_pkt *p)
{
	__u32 off = ETH_HLEN;
	__u16 proto;

	if (!p)
		return CASTLE_P_BAD_L3;
	/* The outer VLAN tag is already in skb->vlan_tci; inner ones are in the
	 * frame, as at XDP. */
	if (TC_LOAD(skb, 12, &proto))
		return CASTLE_P_BAD_L3;
	for (int i = 0; i < CASTLE_MAX_VLANS; i++) {
		if (proto != bpf_htons(ETH_P_8021Q) && proto != bpf_htons(ETH_P_8021AD))
			break;
		if (TC_LOAD(skb, off + 2, &proto))
			return CASTLE_P_BAD_L3;
		off += 4;
	}
	if (proto == bpf_htons(ETH_P_IP))
		return tc_ipv4(skb, p, off);
	if (proto == bpf_htons(ETH_P_IPV6))
		return tc_ipv6(skb, p, off);
	if (proto == bpf_htons(ETH_P_8021Q) || proto == bpf_htons(ETH_P_8021AD))
		return CASTLE_P_BAD_L3;
	return CASTLE_P_NON_IP;
}

#endif /* CASTLE_BPF_TC_PARSE_H */
