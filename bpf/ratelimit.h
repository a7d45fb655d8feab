/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * ratelimit.h - the rate-limit stage: find the first class that matches the
 * packet, then run the source's token buckets (packets, optionally bytes) and
 * ban sources that keep hitting the limit.
 */
#ifndef CASTLE_BPF_RATELIMIT_H
#define CASTLE_BPF_RATELIMIT_H

#include "common.h"
#include "parse.h"
#include "lists.h"

#ifndef ENOENT
#define ENOENT 2
#endif
#ifndef E2BIG
#define E2BIG 7
#endif

/* Classes whose match.src holds the source, as a bitmap. */
static __always_inline __u32 castle_src_classes(__u32 gen, const struct castle_policy *pol,
						const struct castle_pkt *p)
{
	__u32 mask = pol->any_src_classes;
	struct castle_csrc_val *v = NULL;
	void *inner;

	if (p->family == 4) {
		struct castle_lpm4 k = { .prefixlen = 32 };

		if (!(pol->lists & CASTLE_HAVE_POL(CASTLE_PM_CSRC4)))
			return mask;
		__builtin_memcpy(k.addr, p->saddr, 4);
		inner = bpf_map_lookup_elem(&pol_csrc4, &gen);
		if (inner)
			v = bpf_map_lookup_elem(inner, &k);
	} else {
		struct castle_lpm6 k = { .prefixlen = 128 };

		if (!(pol->lists & CASTLE_HAVE_POL(CASTLE_PM_CSRC6)))
			return mask;
		__builtin_memcpy(k.addr, p->saddr, 16);
		inner = bpf_map_lookup_elem(&pol_csrc6, &gen);
		if (inner)
			v = bpf_map_lookup_elem(inner, &k);
	}
	if (v)
		mask |= v->classes;
	return mask;
}

static __always_inline int castle_ports_match(const struct castle_class *c,
					      const struct castle_pkt *p)
{
	if (!c->nranges)
		return 1;
	/* A non-first fragment (or a cut transport header) shows no ports. It
	 * is charged to the class as if they matched: fragmenting must not be a
	 * way around a limit. */
	if (p->blind & CASTLE_BLIND_PORTS)
		return 1;
	if (!p->has_ports)
		return 0;
	for (int i = 0; i < CASTLE_MAX_PORT_RANGES; i++) {
		if (i >= c->nranges)
			break;
		if (p->dport >= c->ports[i].lo && p->dport <= c->ports[i].hi)
			return 1;
	}
	return 0;
}

static __always_inline int castle_proto_match(const struct castle_class *c,
					      const struct castle_pkt *p)
{
	if (c->proto == CASTLE_PROTO_ANY || (p->blind & CASTLE_BLIND_PROTO))
		return 1;
	if (c->proto == CASTLE_PROTO_ICMP)
		return p->proto == IPPROTO_ICMP || p->proto == IPPROTO_ICMPV6;
	return c->proto == p->proto;
}

/* The index in classes[] of the first class that matches, or CASTLE_NO_CLASS
 * (the class's counter and bucket slot is in class_slots). */
static __always_inline __u32 castle_class_of(__u32 gen, const struct castle_policy *pol,
					     const struct castle_pkt *p)
{
	if (!pol->nclasses)
		return CASTLE_NO_CLASS;
	__u32 mask = castle_src_classes(gen, pol, p);

	for (__u32 i = 0; i < CASTLE_MAX_CLASSES; i++) {
		if (i >= pol->nclasses)
			break;
		if (!(mask & (1u << i)))
			continue;
		const struct castle_class *c = &pol->classes[i];
		if (castle_proto_match(c, p) && castle_ports_match(c, p))
			return i;
	}
	return CASTLE_NO_CLASS;
}

/* The top plen bits of a big-endian 64-bit word (plen 0..64), in place. */
static __always_inline __u64 castle_mask_be64(__u64 be, __u32 plen)
{
	if (plen >= 64)
		return be;
	if (!plen)
		return 0;
	return be & __builtin_bswap64(~0ull << (64 - plen));
}

static __always_inline void castle_rl_key_of(struct castle_rl_key *k, __u32 slot,
					     const struct castle_class *c,
					     const struct castle_pkt *p)
{
	__u64 hi = 0, lo = 0;

	k->class_slot = slot;
	k->family = p->family;
	/* Masked a word at a time (a byte loop costs ~25 ns for IPv6). An IPv4
	 * source is the first 4 bytes, the rest zero. */
	if (p->family == 4) {
		__u32 a;

		__builtin_memcpy(&a, p->saddr, 4);
		hi = castle_mask_be64((__u64)a, c->plen4 < 32 ? c->plen4 : 32);
	} else {
		__u32 plen = c->plen6;

		__builtin_memcpy(&hi, p->saddr, 8);
		__builtin_memcpy(&lo, p->saddr + 8, 8);
		hi = castle_mask_be64(hi, plen);
		lo = castle_mask_be64(lo, plen > 64 ? plen - 64 : 0);
	}
	__builtin_memcpy(k->addr, &hi, 8);
	__builtin_memcpy(k->addr + 8, &lo, 8);
}

/* Write a manual/auto entry the way every writer must (see castle_man_count):
 * count it first, take the count back when the key existed already (then
 * overwrite it) or the insert failed. A write that failed gives its hit slot
 * back (nothing counted into it: the value was in no map). */
static __always_inline void castle_man_put(void *map, __u32 idx, const void *key,
					   const struct castle_block_val *v)
{
	__u32 zero = 0;
	struct castle_man_count *mc = bpf_map_lookup_elem(&man_count, &zero);
	long err;

	if (!mc || idx >= CASTLE_MM_MAX) {
		castle_man_slot_release(v->class_slot);
		return;
	}
	__sync_fetch_and_add(&mc->n[idx], 1);
	if (bpf_map_update_elem(map, key, v, BPF_NOEXIST) == 0)
		return;
	/* The key exists. A live entry stays: an operator's block written
	 * since this packet's list check (castlectl counts it first, so the
	 * check may have skipped the map) must not turn into an auto-ban that
	 * expires, and another CPU's ban of the same source is as good as this
	 * one. (In a trie, the lookup of a key that exists answers that key;
	 * if the key was reaped in between, it answers a shorter prefix that
	 * covers it, and a live one of those keeps the source blocked too.)
	 * An expired entry, a ban not reaped yet, is overwritten; if it was
	 * deleted in between, the key is inserted once more. */
	struct castle_block_val *old = bpf_map_lookup_elem(map, key);

	if (old && (!old->expires_ns || old->expires_ns > v->created_ns)) {
		__sync_fetch_and_sub(&mc->n[idx], 1);
		castle_man_slot_release(v->class_slot);
		return;
	}
	err = bpf_map_update_elem(map, key, v, BPF_EXIST);
	if (err == -ENOENT && bpf_map_update_elem(map, key, v, BPF_NOEXIST) == 0)
		return;
	__sync_fetch_and_sub(&mc->n[idx], 1);
	if (err) /* neither inserted nor overwritten */
		castle_man_slot_release(v->class_slot);
}

/* Ban the aggregated source: an exact entry for a full-length prefix, a CIDR
 * otherwise. Auto entries live with the manual ones, so reloads keep them. */
static __always_inline void castle_autoban(const struct castle_rl_key *k, const struct castle_class *c)
{
	struct castle_block_val v = {
		.created_ns = bpf_ktime_get_boot_ns(),
		.origin = CASTLE_ORIGIN_AUTO,
	};
	__u32 plen = k->family == 4 ? c->plen4 : c->plen6;

	v.expires_ns = v.created_ns + c->ban_for_ns;
	/* the class, and a per-CPU hit slot: a banned flooder's packets come
	 * on every CPU (RSS spreads one source by its ports) */
	v.class_slot = castle_man_slot_claim(k->class_slot);
	if (k->family == 4) {
		if (plen >= 32) {
			__u32 a;
			__builtin_memcpy(&a, k->addr, 4);
			castle_man_put(&man_block4, CASTLE_MM_BLOCK4, &a, &v);
		} else {
			struct castle_lpm4 l = { .prefixlen = plen };
			__builtin_memcpy(l.addr, k->addr, 4);
			castle_man_put(&man_net4, CASTLE_MM_NET4, &l, &v);
		}
	} else {
		if (plen >= 128) {
			struct castle_in6 a;
			__builtin_memcpy(a.a, k->addr, 16);
			castle_man_put(&man_block6, CASTLE_MM_BLOCK6, &a, &v);
		} else {
			struct castle_lpm6 l = { .prefixlen = plen };
			__builtin_memcpy(l.addr, k->addr, 16);
			castle_man_put(&man_net6, CASTLE_MM_NET6, &l, &v);
		}
	}
}

static __always_inline void castle_rl_event(__u32 ev)
{
	__u64 *n = bpf_map_lookup_elem(&rl_events, &ev);

	if (n)
		(*n)++;
}

/*
 * Until when (tick clock, ns) rl_steady is taken to be full: set for
 * CASTLE_RL_PROMOTE_NS by the kernel's refusal of a promotion. A source due
 * for promotion meanwhile waits, without a write to its entry or an insert:
 * under a million busy sources and a full tier, each would otherwise fail an
 * insert (a bucket lock and misses in a table nothing else reads) and rewrite
 * its entry every second. One word for all CPUs, written about once a second;
 * the program's own global, not pinned: a new castled learns it again from
 * one refusal. Room that castled's sweep frees is used a second later at most.
 */
__u64 castle_steady_full_until SEC(".bss");

/* The source's state: rl_state first, else rl_steady, else a new rl_state
 * entry with a full bucket; an rl_state entry is promoted to rl_steady once it
 * has shown to be steady. A source lives in one of the two (a promotion
 * deletes the rl_state copy), so the order only decides what a miss costs:
 * rl_state first spares the sources a flood consists of (new, or not steady)
 * a lookup in the steady tier, whose entries are out of cache at a million
 * sources; a steady source pays a lookup in rl_state's (mostly empty) buckets.
 * `now` is the tick clock (castle_tick_mono_ns): it dates the entry, the
 * buckets never see it. */
static __always_inline struct castle_rl_val *castle_rl_lookup(const struct castle_rl_key *k, __u64 now)
{
	struct castle_rl_val *v = bpf_map_lookup_elem(&rl_state, k);

	if (!v) {
		v = bpf_map_lookup_elem(&rl_steady, k);
		if (v)
			return v;
		/* A new source starts with a full bucket: a TAT of 0 is "now"
		 * for castle_gcra, on the precise clock. */
		struct castle_rl_val nv = { .last_ns = now, .first_ns = now, .pkts = 1 };
		if (bpf_map_update_elem(&rl_state, k, &nv, BPF_NOEXIST) == 0)
			castle_rl_event(CASTLE_RLE_INSERT);
		v = bpf_map_lookup_elem(&rl_state, k);
		if (!v)
			castle_rl_event(CASTLE_RLE_UNTRACKED);
		return v;
	}
	if (v->pkts < CASTLE_RL_PROMOTE_PKTS) {
		v->pkts++;
		return v;
	}
	if (now - v->first_ns < CASTLE_RL_PROMOTE_NS ||
	    now < *(volatile __u64 *)&castle_steady_full_until)
		return v;

	/* Promote: copy the bucket, then drop the LRU entry. A packet racing on
	 * another CPU may charge the old copy once; that is the only cost. When
	 * another CPU promoted it first (EEXIST), the LRU copy goes too, or it
	 * would be found first from now on. */
	struct castle_rl_val copy = *v;

	copy.last_ns = now;
	long err = bpf_map_update_elem(&rl_steady, k, &copy, BPF_NOEXIST);

	if (err == -E2BIG) {
		/* Refused: this source tries again a second later, every
		 * source once the tier has had a second to make room. */
		castle_rl_event(CASTLE_RLE_STEADY_FULL);
		castle_steady_full_until = now + CASTLE_RL_PROMOTE_NS;
		v->first_ns = now;
		return v;
	}
	if (err == 0)
		castle_rl_event(CASTLE_RLE_PROMOTE);
	struct castle_rl_val *sv = bpf_map_lookup_elem(&rl_steady, k);
	if (sv)
		bpf_map_delete_elem(&rl_state, k);
	return sv ? sv : v;
}

/*
 * True when the packet bucket is over for certain, without the precise clock:
 * castle_gcra refuses when TAT - now > tol, and the precise now is at most
 * `tick + slack`, so TAT - tick - slack > tol settles it. A source flooding
 * far over a slow limit (the flood this gate exists for) is then dropped on a
 * jiffies read; a source near its limit (within the slack) gets the precise
 * clock and the exact bucket. Never admits: an error here can only drop a
 * packet the bucket would have admitted, and only when jiffies lag by more
 * than the slack. Not when the TAT is surely more than tol + cost + slack
 * ahead (a bucket of other settings, see castle_gcra: the precise clock cuts
 * it).
 */
static __always_inline int castle_rl_surely_over(const __u64 *tat, __u64 tick, __u64 tol, __u64 cost)
{
	__u64 t = *(volatile const __u64 *)tat;
	__u64 slack = castle_tick_slack_ns();
	/* the least TAT - now can be (now <= tick + slack), floored at 0 */
	__u64 least = t > tick + slack ? t - tick - slack : 0;

	/* over: least > tol; other settings: least > tol + cost + slack */
	return least > tol && least - tol <= cost + slack;
}

/* Run the source's buckets. Returns 1 to admit. After ban_after drops in a
 * row the source is banned (unless dry_run). */
static __always_inline int castle_rl_admit(__u32 slot, const struct castle_class *c,
					   const struct castle_pkt *p, __u64 len, int dry_run)
{
	struct castle_rl_key k;
	struct castle_rl_val *v;
	__u64 tick = castle_tick_mono_ns(castle_state_get());
	int ok = 0;

	castle_rl_key_of(&k, slot, c, p);
	v = castle_rl_lookup(&k, tick);
	if (!v)
		return 1; /* cannot track: fail open, counted in rl_events */
	/* last_ns is to a tick and read only by castled's sweep of steady
	 * sources idle for minutes (a promotion stamps it afresh), so it is
	 * stored when it moved by CASTLE_RL_SEEN_STEP_NS: a source sending
	 * more often than that leaves its entry unwritten (a flood from one
	 * source would have every CPU write the shared line on each packet;
	 * at a million sources every packet would dirty a line in DRAM). */
	if (tick - v->last_ns >= CASTLE_RL_SEEN_STEP_NS)
		v->last_ns = tick;
	/* Surely over, unless surely a bucket of other settings (further
	 * ahead than castle_gcra ever puts one of this class: it cuts those,
	 * on the precise clock). */
	if (castle_rl_surely_over(&v->tat, tick, c->pkt_tol_ns, c->pkt_cost_ns))
		goto over;

	__u64 now = bpf_ktime_get_ns();

	ok = castle_gcra(&v->tat, now, c->pkt_cost_ns, c->pkt_tol_ns);
	if (ok && c->byte_cost_fp) {
		/* len * fp would wrap for a very slow byte rate (fp up to ~2^56):
		 * integer and fraction parts separately. */
		__u64 fp = c->byte_cost_fp;
		__u64 cost = len * (fp >> CASTLE_BYTE_FP_SHIFT) +
			     ((len * (fp & ((1ull << CASTLE_BYTE_FP_SHIFT) - 1))) >> CASTLE_BYTE_FP_SHIFT);
		__u64 tol = c->byte_burst_ns > cost ? c->byte_burst_ns - cost : 0;
		if (c->byte_burst_ns < cost || !castle_gcra(&v->byte_tat, now, cost, tol)) {
			/* The packet token is given back: this packet was not sent. */
			__sync_fetch_and_sub(&v->tat, c->pkt_cost_ns);
			ok = 0;
		}
	}
	if (ok) {
		if (v->drops_in_row)
			v->drops_in_row = 0;
		return 1;
	}
over:
	if (c->ban_after && c->ban_for_ns) {
		__u32 n = __sync_fetch_and_add(&v->drops_in_row, 1) + 1;
		if (n >= c->ban_after) {
			v->drops_in_row = 0;
			if (!dry_run)
				castle_autoban(&k, c);
		}
	}
	return 0;
}

#endif /* CASTLE_BPF_RATELIMIT_H */
