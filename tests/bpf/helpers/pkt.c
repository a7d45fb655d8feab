// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* pkt.c - see pkt.h. */
#include <arpa/inet.h>
#include <string.h>

#include "pkt.h"

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

static uint16_t csum(const uint8_t *p, size_t n)
{
	uint32_t s = 0;

	for (size_t i = 0; i + 1 < n; i += 2)
		s += (p[i] << 8) | p[i + 1];
	if (n & 1)
		s += p[n - 1] << 8;
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return ~s & 0xffff;
}

static size_t l4_len(const struct pkt_spec *s)
{
	switch (s->proto) {
	case 6: return 20;
	case 17: return 8;
	case 1: case 58: return 8;
	default: return 0;
	}
}

static size_t build_l4(const struct pkt_spec *s, uint8_t *p)
{
	size_t n = l4_len(s);

	memset(p, 0, n);
	if (s->proto == 6) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
		uint32_t seq = htonl(s->seq), ack = htonl(s->ack);
		memcpy(p + 4, &seq, 4);
		memcpy(p + 8, &ack, 4);
		p[12] = 5 << 4;
		p[13] = s->tcp_flags ? s->tcp_flags : (s->paylen ? 0x18 : 0x02);
		put16(p + 14, 65535);
	} else if (s->proto == 17) {
		put16(p, s->sport);
		put16(p + 2, s->dport);
		put16(p + 4, 8 + s->paylen);
	} else if (s->proto == 1 || s->proto == 58) {
		p[0] = s->icmp_type;
	}
	return n;
}

size_t pkt_build_layout(const struct pkt_spec *s, uint8_t *buf, size_t cap, struct pkt_layout *lay)
{
	uint8_t *p = buf;
	size_t need = 14 + 4 * 3 + 60 + 40 + 24 * PKT_MAX_EXT + 20 + s->paylen;

	if (need > cap)
		return 0;
	memset(buf, 0, need);
	memcpy(p, "\x02\x00\x00\x00\x00\x02\x02\x00\x00\x00\x00\x01", 12);
	p += 12;
	for (int i = 0; i < s->nvlans && i < 3; i++) {
		put16(p, s->vlan_tpid[i] ? s->vlan_tpid[i] : 0x8100);
		put16(p + 2, 100 + i);
		p += 4;
	}
	uint16_t et = s->ethertype ? s->ethertype : (s->family == 6 ? 0x86dd : 0x0800);
	put16(p, et);
	p += 2;
	lay->l3 = p - buf;
	lay->l4 = 0;

	if (s->ethertype && s->ethertype != 0x0800 && s->ethertype != 0x86dd) {
		/* non-IP: an ARP-sized body */
		memset(p, 0xaa, 28);
		p += 28;
		lay->payload = p - buf;
		return p - buf;
	}

	if (s->next_ext > PKT_MAX_EXT || s->ip_opts > 40 || s->nvlans > 3)
		return 0;
	uint8_t ttl = s->ttl ? s->ttl : 64;
	if (s->family == 4) {
		uint8_t *ip = p;
		int hl = 20 + s->ip_opts;
		size_t l4n = s->frag == PKT_FRAG_LATER ? 0 : l4_len(s);

		/* IPv4 carries AH headers only (ext[] all 51), 24 bytes each */
		for (int i = 0; i < s->next_ext; i++)
			if (s->ext[i] != 51)
				return 0;
		ip[0] = 0x40 | (hl / 4);
		put16(ip + 2, hl + 24 * s->next_ext + l4n + s->paylen);
		put16(ip + 4, 0x1234);
		if (s->frag == PKT_FRAG_FIRST)
			put16(ip + 6, 0x2000);
		else if (s->frag == PKT_FRAG_LATER)
			put16(ip + 6, 185); /* offset 1480 bytes */
		ip[8] = ttl;
		ip[9] = s->next_ext ? 51 : s->proto;
		inet_pton(AF_INET, s->src, ip + 12);
		inet_pton(AF_INET, s->dst ? s->dst : "198.18.0.2", ip + 16);
		for (int i = 0; i < s->ip_opts; i++)
			ip[20 + i] = 1; /* NOP options */
		put16(ip + 10, csum(ip, hl));
		p += hl;
		for (int i = 0; i < s->next_ext; i++) {
			lay->ext[i] = p - buf;
			p[0] = i + 1 < s->next_ext ? 51 : s->proto;
			p[1] = 4; /* (4+2)*4 = 24 bytes */
			p += 24;
		}
	} else {
		uint8_t *ip6 = p;
		size_t l4n = s->frag == PKT_FRAG_LATER ? 0 : l4_len(s);
		uint8_t first = s->next_ext ? s->ext[0] : s->proto;

		ip6[0] = 0x60;
		ip6[6] = first;
		ip6[7] = (s->proto == 58 && s->icmp_type >= 133 && s->icmp_type <= 137 && !s->ttl)
				 ? 255 : ttl;
		inet_pton(AF_INET6, s->src, ip6 + 8);
		inet_pton(AF_INET6, s->dst ? s->dst : "2001:db8::2", ip6 + 24);
		p += 40;
		for (int i = 0; i < s->next_ext; i++) {
			uint8_t nh = i + 1 < s->next_ext ? s->ext[i + 1] : s->proto;
			uint8_t t = s->ext[i];
			lay->ext[i] = p - buf;
			if (t == 44) { /* fragment */
				p[0] = nh;
				if (s->frag == PKT_FRAG_FIRST)
					put16(p + 2, 1); /* M flag */
				else if (s->frag == PKT_FRAG_LATER)
					put16(p + 2, 1480 | 0);
				p += 8;
			} else if (t == 51) { /* AH: payload len in 4-byte units minus 2 */
				p[0] = nh;
				p[1] = 4; /* (4+2)*4 = 24 bytes */
				p += 24;
			} else { /* hop-by-hop, routing, destination options: 8 bytes + PadN */
				p[0] = nh;
				p[1] = 0;
				if (t == 43)
					p[3] = 0; /* segments left 0 */
				else {
					p[2] = 1; /* PadN */
					p[3] = 4;
				}
				p += 8;
			}
		}
		put16(ip6 + 4, (p - ip6 - 40) + l4n + s->paylen);
	}
	if (s->frag != PKT_FRAG_LATER && l4_len(s)) {
		lay->l4 = p - buf;
		p += build_l4(s, p);
	}
	lay->payload = p - buf;
	if (s->paylen)
		memcpy(p, s->payload, s->paylen);
	p += s->paylen;
	return p - buf;
}

size_t pkt_build(const struct pkt_spec *s, uint8_t *buf, size_t cap)
{
	struct pkt_layout lay;

	return pkt_build_layout(s, buf, cap, &lay);
}

void pkt_set_ip_end(uint8_t *buf, const struct pkt_layout *lay, int family, size_t end)
{
	uint8_t *ip = buf + lay->l3;

	if (family == 4) {
		put16(ip + 2, end - lay->l3);
		put16(ip + 10, 0);
		put16(ip + 10, csum(ip, (ip[0] & 0xf) * 4));
	} else {
		put16(ip + 4, end - lay->l3 - 40);
	}
}
