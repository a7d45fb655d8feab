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

/*
 * The stages after the parser are global functions: the verifier checks each
 * once, on its own, instead of every path of the parser times every path of
 * the stages after it (which, all inlined, exceeds its one-million-instruction
 * budget). The parser itself is inlined: as a call it cost ~8 ns a packet
 * (bench/profile.py, variant global-parse), inlined the program verifies in
 * ~170k instructions. Pointer arguments of global functions may be NULL as
 * far as the verifier knows, hence the checks.
 */
static __always_inline int castle_xdp_parse(struct xdp_md *ctx, struct castle_pkt *p)
{
	return castle_parse((void *)(long)ctx->data, (void *)(long)ctx->data_end, p);
}

__noinline int castle_xdp_allowed(__u32 gen, __u32 have, const struct castle_pkt *p)
{
	return p ? castle_allowed(gen, have, p) : 0;
}

__noinline int castle_xdp_blocked(__u32 gen, __u32 have, const struct castle_pkt *p)
{
	return p ? castle_blocked(gen, have, p) : CASTLE_R_OK;
}

/* The buckets of one source, verified on their own: class matching and the
 * bucket/promotion logic together pass a million verifier states. */
__noinline int castle_xdp_admit(__u32 slot, const struct castle_class *c, const struct castle_pkt *p,
				__u64 len, int dry_run)
{
	if (!c || !p)
		return 1;
	return castle_rl_admit(slot & (CASTLE_MAX_CLASSES - 1), c, p, len, dry_run);
}

/* Rate-limit stage: returns the class's slot (CASTLE_NO_CLASS if none) in the
 * low byte and 0x100 when the packet is over its limit. The class counts
 * under the interface's counter slot `ifs` (castle_if_slot). */
__noinline int castle_xdp_ratelimit(__u32 gen, const struct castle_pkt *p, __u64 len, __u32 ifs)
{
	struct castle_policy *pol = bpf_map_lookup_elem(&policy, &gen);

	if (!p || !pol)
		return CASTLE_NO_CLASS;
	__u32 i = castle_class_of(gen, pol, p);
	if (i >= CASTLE_MAX_CLASSES)
		return CASTLE_NO_CLASS;
	/* The class's counter and bucket slot, kept by name across reloads;
	 * slot i when the entry was not written for this policy (by an older
	 * castled, which counts classes by position), as user space reads it. */
	struct castle_class_slots *cs_map = bpf_map_lookup_elem(&class_slots, &gen);
	__u32 x = cs_map && cs_map->serial == pol->serial ? cs_map->slot_xor[i] : 0;
	__u32 slot = (i ^ x) & (CASTLE_MAX_CLASSES - 1);

	int ok = castle_xdp_admit(slot, &pol->classes[i], p, len, pol->flags & CASTLE_F_DRY_RUN);
	__u32 key = CASTLE_CLASS_STATS_KEY(ifs & (CASTLE_MAX_IFACES - 1), slot);
	struct castle_class_stats *cs = bpf_map_lookup_elem(&class_stats, &key);
	/* In dry-run nothing drops: the class counts a pass, as the contract
	 * says of every verdict in dry-run (the would-be drops are in xdp_stats
	 * as pass/ratelimit). */
	__u32 cv = ok || (pol->flags & CASTLE_F_DRY_RUN) ? CASTLE_PASS : CASTLE_DROP;

	if (cs) {
		cs->c[cv].packets++;
		cs->c[cv].bytes += len;
	}
	return slot | (ok ? 0 : 0x100);
}

SEC("xdp")
int castle_xdp(struct xdp_md *ctx)
{
	__u64 len = ctx->data_end - ctx->data;
	__u32 ifindex = ctx->ingress_ifindex;
	__u32 ifs = castle_if_slot(ifindex);
	struct castle_pkt p = {};
	struct castle_state *s = castle_state_get();
	__u32 gen = s ? s->gen & 1 : 0;
	struct castle_policy *pol = bpf_map_lookup_elem(&policy, &gen);
	__u32 flags = pol ? pol->flags : 0;
	__u32 have;
	__u32 reason = CASTLE_R_OK;
	__u32 verdict = CASTLE_DROP;
	__u32 slot = CASTLE_NO_CLASS;

	int pr = castle_xdp_parse(ctx, &p);

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
	have = castle_have(pol);
	if ((have & CASTLE_HAVE_ALLOW) && castle_xdp_allowed(gen, have, &p)) {
		reason = CASTLE_R_ALLOWLIST;
		verdict = CASTLE_PASS;
		goto out;
	}
	if (have & CASTLE_HAVE_BLOCK) {
		struct castle_block_val *bv = castle_pol_exact(gen, have, &p);

		if (bv) {
			reason = castle_block_hit(bv);
			goto out;
		}
		/* the rest of the lists, when any has entries */
		if (have & CASTLE_HAVE_BLOCK &
		    ~(CASTLE_HAVE_POL(CASTLE_PM_BLOCK4) | CASTLE_HAVE_POL(CASTLE_PM_BLOCK6))) {
			reason = castle_xdp_blocked(gen, have, &p);
			if (reason != CASTLE_R_OK)
				goto out;
		}
	}
	/* A cut transport header is malformed. When the policy passes malformed
	 * packets, the source is still charged to its limit (on the source and
	 * what the parser saw): a truncated header must not carry a limited
	 * source past the gate. */
	if (pr == CASTLE_P_BAD_L4) {
		reason = CASTLE_R_MALFORMED;
		if (!(flags & CASTLE_F_MALFORMED_PASS))
			goto out;
	}
	/* No class, no call: a policy without limits (and no policy) skips the
	 * stage, whose call and return are the pass path's dearest steps on a
	 * host with return-thunk mitigations. */
	int rl = pol && pol->nclasses ? castle_xdp_ratelimit(gen, &p, len, ifs) : CASTLE_NO_CLASS;
	slot = rl & 0xff;
	if (rl & 0x100) {
		reason = CASTLE_R_RATELIMIT;
		goto out;
	}
	if (pr == CASTLE_P_BAD_L4)
		goto out; /* malformed, passed below as the flag asks */
	verdict = CASTLE_PASS;
out:
	if (verdict == CASTLE_DROP) {
		int dry = (flags & CASTLE_F_DRY_RUN) ||
			  (reason == CASTLE_R_MALFORMED && (flags & CASTLE_F_MALFORMED_PASS));

		castle_event(s, pol, CASTLE_STAGE_XDP, reason, ifindex,
			     p.saddr, p.family, p.proto, p.dport, slot, dry, len);
		if (dry)
			verdict = CASTLE_PASS;
	}
	castle_count_slot(&xdp_stats, ifs, verdict, reason, len);
	return verdict == CASTLE_DROP ? XDP_DROP : XDP_PASS;
}
