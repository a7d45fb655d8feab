// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * frame.c - template frames for the generator and the cost probe. Checksums
 * are computed here for the base address; the generator's XDP program patches
 * them incrementally for every other address of the pool.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include "frame.h"

#define ETH_HLEN 14
#define IP4_HLEN 20
#define IP6_HLEN 40
#define UDP_HLEN 8
#define TCP_HLEN 20

static uint32_t csum_add(uint32_t sum, const uint8_t *p, size_t len)
{
	for (size_t i = 0; i + 1 < len; i += 2)
		sum += (uint32_t)p[i] << 8 | p[i + 1];
	if (len & 1)
		sum += (uint32_t)p[len - 1] << 8;
	return sum;
}

static uint16_t csum_finish(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static void put32(uint8_t *p, uint32_t v)
{
	put16(p, v >> 16);
	put16(p + 2, v & 0xffff);
}

uint32_t frame_min_size(int family, int proto)
{
	return ETH_HLEN + (family == 6 ? IP6_HLEN : IP4_HLEN) +
	       (proto == IPPROTO_TCP ? TCP_HLEN : UDP_HLEN);
}

int frame_build(const struct frame_spec *spec, uint8_t *buf, struct frame_layout *out)
{
	int v6 = spec->family == 6;
	uint32_t ip_hlen = v6 ? IP6_HLEN : IP4_HLEN;
	uint32_t len = spec->size;
	uint32_t min = frame_min_size(spec->family, spec->proto);
	uint8_t *ip = buf + ETH_HLEN, *l4 = ip + ip_hlen;
	uint32_t alen = v6 ? 16 : 4;
	uint32_t l4_len, sum;

	if ((spec->family != 4 && !v6) ||
	    (spec->proto != IPPROTO_UDP && spec->proto != IPPROTO_TCP))
		return -EINVAL;
	if (len < min)
		len = min;
	if (len > FRAME_MAX)
		return -EINVAL;
	l4_len = len - ETH_HLEN - ip_hlen;

	memset(buf, 0, FRAME_MAX);
	memcpy(buf, spec->dst_mac, 6);
	memcpy(buf + 6, spec->src_mac, 6);
	put16(buf + 12, v6 ? 0x86dd : 0x0800);

	if (v6) {
		put32(ip, 6u << 28);
		put16(ip + 4, l4_len);
		ip[6] = spec->proto;
		ip[7] = 64;
		memcpy(ip + 8, spec->saddr, 16);
		memcpy(ip + 24, spec->daddr, 16);
	} else {
		ip[0] = 0x45;
		put16(ip + 2, len - ETH_HLEN);
		put16(ip + 6, 0x4000);	/* DF */
		ip[8] = 64;
		ip[9] = spec->proto;
		memcpy(ip + 12, spec->saddr, 4);
		memcpy(ip + 16, spec->daddr, 4);
		put16(ip + 10, csum_finish(csum_add(0, ip, IP4_HLEN)));
	}

	put16(l4, spec->sport);
	put16(l4 + 2, spec->dport);
	if (spec->proto == IPPROTO_UDP) {
		put16(l4 + 4, l4_len);
	} else {
		put32(l4 + 4, 1);	/* sequence number */
		l4[12] = 5 << 4;	/* data offset */
		l4[13] = 0x02;		/* SYN */
		put16(l4 + 14, 65535);	/* window */
	}

	/* Pseudo-header: both addresses, protocol, L4 length. */
	sum = csum_add(0, v6 ? ip + 8 : ip + 12, 2 * alen);
	sum += spec->proto + l4_len;
	sum = csum_finish(csum_add(sum, l4, l4_len));
	if (spec->proto == IPPROTO_UDP && sum == 0)
		sum = 0xffff;
	put16(l4 + (spec->proto == IPPROTO_UDP ? 6 : 16), sum);

	out->len = len;
	out->saddr_off = ETH_HLEN + (v6 ? 8 + 8 : 12);
	out->ip_csum_off = v6 ? 0 : ETH_HLEN + 10;
	out->l4_csum_off = ETH_HLEN + ip_hlen + (spec->proto == IPPROTO_UDP ? 6 : 16);
	return 0;
}

int frame_parse_mac(const char *s, uint8_t mac[6])
{
	unsigned int b[6];
	char tail;

	if (sscanf(s, "%x:%x:%x:%x:%x:%x%c", &b[0], &b[1], &b[2], &b[3], &b[4], &b[5],
		   &tail) != 6)
		return -EINVAL;
	for (int i = 0; i < 6; i++) {
		if (b[i] > 0xff)
			return -EINVAL;
		mac[i] = b[i];
	}
	return 0;
}
