/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * pkt.h - crafted frames for BPF_PROG_TEST_RUN tests: Ethernet, VLAN tags,
 * IPv4 with options, IPv6 with extension chains, fragments, TCP/UDP/ICMP,
 * payload. Describe the frame in a struct pkt_spec, get bytes back.
 */
#ifndef CASTLE_TEST_PKT_H
#define CASTLE_TEST_PKT_H

#include <stddef.h>
#include <stdint.h>

#define PKT_MAX 9216
#define PKT_MAX_EXT 12	/* IPv6 extension headers a spec can carry */

enum pkt_frag {
	PKT_FRAG_NONE = 0,
	PKT_FRAG_FIRST,		/* MF set, offset 0: carries the transport header */
	PKT_FRAG_LATER,		/* offset != 0: no transport header */
};

struct pkt_spec {
	uint16_t ethertype;	/* 0: derived from family; else forced (ARP: 0x0806) */
	int nvlans;		/* 0..3 */
	uint16_t vlan_tpid[3];	/* 0: 0x8100 */
	int family;		/* 4 or 6 */
	const char *src;	/* "198.18.0.1" / "2001:db8::1" */
	const char *dst;
	uint8_t proto;		/* 6, 17, 1, 58 ... */
	uint16_t sport, dport;
	uint8_t tcp_flags;	/* 0: SYN when no payload, else PSH|ACK */
	uint32_t seq, ack;
	uint8_t icmp_type;
	uint8_t ttl;		/* 0: 64 (255 for ICMPv6 ND types) */
	int ip_opts;		/* IPv4 option bytes (multiple of 4, <= 40) */
	int next_ext;		/* number of IPv6 extension headers in ext[] (IPv4: of AH) */
	uint8_t ext[PKT_MAX_EXT]; /* IPPROTO_HOPOPTS, _ROUTING, _DSTOPTS, _FRAGMENT, _AH
				   * (IPv4: _AH only) */
	enum pkt_frag frag;
	const void *payload;
	size_t paylen;
};

/* Build the frame into buf; returns its length (0 if it does not fit). */
size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap);

/* Offsets of the headers in the last built frame, for truncation tests. */
struct pkt_layout {
	size_t l3;	/* start of IP header */
	size_t l4;	/* start of transport header (0 if none) */
	size_t payload;	/* start of payload */
	size_t ext[PKT_MAX_EXT]; /* start of each IPv6 extension header */
};
size_t pkt_build_layout(const struct pkt_spec *s, uint8_t *buf, size_t cap, struct pkt_layout *lay);

/* Make the frame's IP length field (tot_len / payload_len) say that the
 * packet ends at byte `end` of the frame, as if it had been built that short.
 * The IPv4 header checksum is recomputed. */
void pkt_set_ip_end(uint8_t *buf, const struct pkt_layout *lay, int family, size_t end);

#endif
