/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * frame.h - build the template frame the generator sends and the cost probe
 * runs: Ethernet + IPv4/IPv6 + UDP/TCP(SYN), checksums filled in.
 */
#ifndef CASTLE_BENCH_FRAME_H
#define CASTLE_BENCH_FRAME_H

#include <stddef.h>
#include <stdint.h>

#define FRAME_MAX 1514		/* veth MTU 1500 + Ethernet header */

struct frame_spec {
	int family;		/* 4 or 6 */
	int proto;		/* IPPROTO_UDP or IPPROTO_TCP */
	uint8_t src_mac[6];
	uint8_t dst_mac[6];
	uint8_t saddr[16];	/* network order; v4 uses the first 4 bytes */
	uint8_t daddr[16];
	uint16_t sport;		/* host order */
	uint16_t dport;
	uint32_t size;		/* whole frame without FCS; raised to the minimum */
};

/* Where the generator patches the frame (offsets from the Ethernet header). */
struct frame_layout {
	uint32_t len;
	uint32_t saddr_off;	/* v4: the address; v6: its low 64 bits */
	uint32_t ip_csum_off;	/* 0 for IPv6 */
	uint32_t l4_csum_off;
};

/* Smallest frame that holds the headers of this family and protocol. */
uint32_t frame_min_size(int family, int proto);

/* Fill buf (FRAME_MAX bytes) from spec. Returns 0, or -EINVAL when the spec
 * cannot be built (unknown family or protocol, size above FRAME_MAX). */
int frame_build(const struct frame_spec *spec, uint8_t *buf, struct frame_layout *out);

/* Parse "aa:bb:cc:dd:ee:ff". Returns 0 or -EINVAL. */
int frame_parse_mac(const char *s, uint8_t mac[6]);

#endif /* CASTLE_BENCH_FRAME_H */
