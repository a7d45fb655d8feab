// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_gen.bpf.c - the traffic generator's XDP program. castle-gen runs it
 * with BPF_PROG_TEST_RUN in live-frame mode: every run stamps the next source
 * address of the pool into the template frame, patches the IP and L4
 * checksums, and redirects the frame out of the gen-side veth.
 */
#include "vmlinux.h"
#include <bpf/bpf_helpers.h>
#include <bpf/bpf_endian.h>
#include "bench.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

const volatile struct gen_conf conf = { .sources = 1, .family = 4 };

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct gen_cpu);
} gen_state SEC(".maps");

static __always_inline __u16 csum_fold(__u32 s)
{
	s = (s & 0xffff) + (s >> 16);
	s = (s & 0xffff) + (s >> 16);
	return (__u16)s;
}

/* RFC 1624: HC' = ~(~HC + ~m + m') summed over the changed 16-bit words. The
 * words are taken as they sit in memory; one's complement sums do not care
 * about byte order as long as every term has the same one. */
static __always_inline __u16 csum_patch(__u16 tmpl, const __u16 *old, const __u16 *new, int n)
{
	__u32 s = (__u16)~tmpl;

	for (int i = 0; i < n; i++)
		s += (__u16)~old[i] + (__u32)new[i];
	return (__u16)~csum_fold(s);
}

SEC("xdp")
int castle_gen(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u16 old[4], new[4];
	__u32 zero = 0;
	int n;

	struct gen_cpu *c = bpf_map_lookup_elem(&gen_state, &zero);
	if (!c)
		return XDP_ABORTED;
	/* Offsets come from frozen .rodata, so the verifier sees constants; the
	 * L4 checksum is the last field written, so one check covers them all. */
	if (data + (conf.l4_csum_off & 0x7f) + 2 > data_end)
		return XDP_ABORTED;

	/* This CPU's share [lo, hi) of the pool (castle-gen seeds it); a slot
	 * left unseeded cycles the whole pool. */
	__u64 hi = c->hi && c->hi <= conf.sources ? c->hi : conf.sources;
	__u64 lo = c->lo < hi ? c->lo : 0;
	__u64 idx = c->next;
	if (++c->next >= hi)
		c->next = lo;
	c->sent++;

	__u64 addr = conf.base + idx;
	if (conf.family == 4) {
		old[0] = bpf_htons(conf.base >> 16);
		old[1] = bpf_htons(conf.base);
		new[0] = bpf_htons(addr >> 16);
		new[1] = bpf_htons(addr);
		n = 2;
	} else {
		old[0] = bpf_htons(conf.base >> 48);
		old[1] = bpf_htons(conf.base >> 32);
		old[2] = bpf_htons(conf.base >> 16);
		old[3] = bpf_htons(conf.base);
		new[0] = bpf_htons(addr >> 48);
		new[1] = bpf_htons(addr >> 32);
		new[2] = bpf_htons(addr >> 16);
		new[3] = bpf_htons(addr);
		n = 4;
	}

	__u16 *sa = data + (conf.saddr_off & 0x3f);
	for (int i = 0; i < 4; i++)
		if (i < n)
			sa[i] = new[i];

	if (conf.ip_csum_off) {
		__u16 *ipc = data + (conf.ip_csum_off & 0x3f);

		*ipc = csum_patch(conf.ip_csum, old, new, n);
	}
	if (conf.l4_csum_off) {
		__u16 *l4c = data + (conf.l4_csum_off & 0x7f);
		__u16 sum = csum_patch(conf.l4_csum, old, new, n);

		*l4c = (conf.udp && !sum) ? 0xffff : sum;
	}
	return bpf_redirect(conf.ifindex, 0);
}
