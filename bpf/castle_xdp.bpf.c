// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_xdp.bpf.c - the XDP gate. The body reads as the order of checks:
 * parse -> always-pass frames -> allowlist -> blocklist -> malformed ->
 * rate-limit classes -> pass. Every packet is counted once, by verdict and
 * reason; dry-run turns every drop into a counted pass.
 */
#include "common.h"
#include "parse.h"
#include "lists.h"
#include "ratelimit.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

/* ICMPv6 router/neighbour solicitation/advertisement and redirect, with the
 * hop limit of 255 that RFC 4861 requires (so it cannot come from off-link). */
static __always_inline int castle_is_nd(const struct castle_pkt *p)
{
	return p->family == 6 && p->proto == IPPROTO_ICMPV6 && !p->frag &&
	       p->icmp_type >= 133 && p->icmp_type <= 137 && p->hop_limit == 255;
}

SEC("xdp")
int castle_xdp(struct xdp_md *ctx)
{
	void *data = (void *)(long)ctx->data;
	void *data_end = (void *)(long)ctx->data_end;
	__u64 len = data_end - data;
	__u32 ifindex = ctx->ingress_ifindex;
	struct castle_pkt p = {};
	struct castle_state *s = castle_state_get();
	__u32 gen = s ? s->gen & 1 : 0;
	struct castle_policy *pol = bpf_map_lookup_elem(&policy, &gen);
	__u32 flags = pol ? pol->flags : 0;
	__u32 reason = CASTLE_R_OK;
	__u32 verdict = CASTLE_DROP;
	__u32 slot = CASTLE_NO_CLASS;

	enum castle_parse pr = castle_parse(data, data_end, &p);

	if (pr == CASTLE_P_NON_IP) {
		reason = CASTLE_R_NON_IP;
		verdict = CASTLE_PASS;
		goto out;
	}
	if (pr == CASTLE_P_BAD_L3) {
		reason = CASTLE_R_MALFORMED;
		goto out;
	}
	if (pr == CASTLE_P_IP && castle_is_nd(&p)) {
		reason = CASTLE_R_ND;
		verdict = CASTLE_PASS;
		goto out;
	}
	if (castle_allowed(gen, &p)) {
		reason = CASTLE_R_ALLOWLIST;
		verdict = CASTLE_PASS;
		goto out;
	}
	reason = castle_blocked(gen, &p);
	if (reason != CASTLE_R_OK)
		goto out;
	if (pr == CASTLE_P_BAD_L4) {
		reason = CASTLE_R_MALFORMED;
		goto out;
	}
	if (pol) {
		slot = castle_class_of(gen, pol, &p);
		if (slot < CASTLE_MAX_CLASSES) {
			int ok = castle_rl_admit(slot, &pol->classes[slot], &p, len,
						 flags & CASTLE_F_DRY_RUN);
			struct castle_class_stats *cs = bpf_map_lookup_elem(&class_stats, &slot);
			__u32 cv = ok ? CASTLE_PASS : CASTLE_DROP;

			if (cs) {
				cs->c[cv].packets++;
				cs->c[cv].bytes += len;
			}
			if (!ok) {
				reason = CASTLE_R_RATELIMIT;
				goto out;
			}
		}
	}
	verdict = CASTLE_PASS;
out:
	if (verdict == CASTLE_DROP) {
		int dry = (flags & CASTLE_F_DRY_RUN) ||
			  (reason == CASTLE_R_MALFORMED && (flags & CASTLE_F_MALFORMED_PASS));

		castle_event(s, pol ? pol->events_per_sec : 0, CASTLE_STAGE_XDP, reason, ifindex,
			     p.saddr, p.family, p.proto, p.dport, slot, dry, len);
		if (dry)
			verdict = CASTLE_PASS;
	}
	castle_count(&xdp_stats, ifindex, verdict, reason, len);
	return verdict == CASTLE_DROP ? XDP_DROP : XDP_PASS;
}
