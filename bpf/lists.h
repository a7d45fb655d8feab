/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * lists.h - the allowlist and blocklist stages. Each list is looked up in the
 * live policy generation first, then in the manual/auto maps that reloads
 * never touch. Exact entries are hash lookups; CIDRs are LPM tries, except a
 * generation's block CIDRs in few prefix lengths: a hash lookup per length
 * (see castle_nhash_lens).
 */
#ifndef CASTLE_BPF_LISTS_H
#define CASTLE_BPF_LISTS_H

#include "common.h"
#include "parse.h"

static __always_inline struct castle_allow_val *castle_allow4(__u32 gen, __u32 have,
							      const struct castle_pkt *p)
{
	struct castle_lpm4 k = { .prefixlen = 32 };
	struct castle_allow_val *v = NULL;

	__builtin_memcpy(k.addr, p->saddr, 4);
	if (have & CASTLE_HAVE_POL(CASTLE_PM_ALLOW4)) {
		void *inner = bpf_map_lookup_elem(&pol_allow4, &gen);

		if (inner)
			v = bpf_map_lookup_elem(inner, &k);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_ALLOW4)) {
		v = bpf_map_lookup_elem(&man_allow4, &k);
		asm volatile("" : "+r"(v)); /* not merged with the call above: see castle_hit */
	}
	return v;
}

static __always_inline struct castle_allow_val *castle_allow6(__u32 gen, __u32 have,
							      const struct castle_pkt *p)
{
	struct castle_lpm6 k = { .prefixlen = 128 };
	struct castle_allow_val *v = NULL;

	__builtin_memcpy(k.addr, p->saddr, 16);
	if (have & CASTLE_HAVE_POL(CASTLE_PM_ALLOW6)) {
		void *inner = bpf_map_lookup_elem(&pol_allow6, &gen);

		if (inner)
			v = bpf_map_lookup_elem(inner, &k);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_ALLOW6)) {
		v = bpf_map_lookup_elem(&man_allow6, &k);
		asm volatile("" : "+r"(v)); /* not merged with the call above: see castle_hit */
	}
	return v;
}

/* Count a hit of a list entry: in its per-CPU slot when it has one (a
 * policy entry in block_hits, see CASTLE_HIT_SLOT; a manual/auto entry in
 * man_hits, see CASTLE_HIT_MAN), else by a locked add on the entry's `hits`,
 * which every CPU may be adding to at once. The programs run with preemption
 * off, so a plain add on this CPU's slot loses nothing. */
static __always_inline void castle_hit(__u64 *hits, __u32 slot)
{
	__u64 *c = NULL;

	/* One lookup per map, each on its own constant map: merged into one
	 * call on a map chosen at run time, the verifier can neither inline
	 * the per-CPU array lookup nor call it directly (the generic helper's
	 * indirect call instead). The empty asm keeps the compiler from merging
	 * them. */
	if ((slot & (CASTLE_HIT_SLOT | CASTLE_HIT_MAN)) == (CASTLE_HIT_SLOT | CASTLE_HIT_MAN)) {
		__u32 i = CASTLE_MAN_SLOT_IDX(slot);

		c = bpf_map_lookup_elem(&man_hits, &i);
		asm volatile("" : "+r"(c));
	} else if (slot & CASTLE_HIT_SLOT) {
		__u32 i = slot & ~CASTLE_HIT_SLOT;

		c = bpf_map_lookup_elem(&block_hits, &i);
	}
	if (c)
		*c += 1;
	else
		__sync_fetch_and_add(hits, 1);
}

/* log2 of a word with one bit set. */
static __always_inline __u32 castle_bit_index(__u64 b)
{
	__u32 n = 0;

	if (b >> 32) { n += 32; b >>= 32; }
	if (b >> 16) { n += 16; b >>= 16; }
	if (b >> 8) { n += 8; b >>= 8; }
	if (b >> 4) { n += 4; b >>= 4; }
	if (b >> 2) { n += 2; b >>= 2; }
	if (b >> 1)
		n += 1;
	return n;
}

/* Give back a slot claimed for an entry that was never written (see
 * castle_man_put): it is still zero. */
static __always_inline void castle_man_slot_release(__u32 v)
{
	__u32 w = 1 + CASTLE_MAN_SLOT_IDX(v) / 64;
	__u64 *p;

	if ((v & (CASTLE_HIT_SLOT | CASTLE_HIT_MAN)) != (CASTLE_HIT_SLOT | CASTLE_HIT_MAN))
		return;
	p = bpf_map_lookup_elem(&man_slots, &w);
	if (p)
		__sync_fetch_and_and(p, ~(1ull << (CASTLE_MAN_SLOT_IDX(v) % 64)));
}

/* Claim a free man_hits slot for a new manual/auto entry (see
 * CASTLE_HIT_MAN): the lowest clear bit of the first of CASTLE_MAN_SLOT_TRIES
 * words from the shared cursor that has one, set with an atomic OR that
 * tells whether another CPU or user space took it first. Returns
 * CASTLE_MAN_SLOT(slot, cls), or cls alone when no slot was free (the entry
 * then counts by the locked add). A claimed slot is zero: castled zeroes
 * slots before it frees them. */
static __always_inline __u32 castle_man_slot_claim(__u32 cls)
{
	__u32 zero = 0;
	struct castle_man_slots_hdr *h = bpf_map_lookup_elem(&man_slots, &zero);
	__u32 words, start;

	if (!h)
		return cls;
	words = h->words;
	if (!words || words > CASTLE_MAN_SLOTS_MAX / 64)
		return cls;
	start = __sync_fetch_and_add(&h->cursor, 1);
	for (__u32 i = 0; i < CASTLE_MAN_SLOT_TRIES; i++) {
		__u32 w = 1 + (start + i) % words;
		__u64 *p = bpf_map_lookup_elem(&man_slots, &w);
		__u64 cur, b;

		if (!p)
			break;
		cur = *(volatile __u64 *)p;
		if (cur == ~0ull)
			continue;
		b = ~cur & (cur + 1);
		if (__sync_fetch_and_or(p, b) & b)
			continue; /* taken meanwhile: look at the next word */
		return CASTLE_MAN_SLOT((w - 1) * 64 + castle_bit_index(b), cls);
	}
	return cls;
}

/* Allow beats everything: true when the source is on either allowlist. */
static __always_inline int castle_allowed(__u32 gen, __u32 have, const struct castle_pkt *p)
{
	struct castle_allow_val *v = p->family == 4 ? castle_allow4(gen, have, p)
						    : castle_allow6(gen, have, p);

	if (!v)
		return 0;
	castle_hit(&v->hits, v->hit_slot);
	return 1;
}

/* An entry past its expiry is as good as absent. The kernel, not the daemon,
 * decides that, so a TTL ends on time (to a tick: castle_boot_tick_ns) even
 * while castled is down. */
__noinline __u64 castle_boot_now(void)
{
	return castle_boot_tick_ns(); /* a call: inlined at each castle_live, it
				       * nearly doubled the states verified */
}

static __always_inline struct castle_block_val *castle_live(struct castle_block_val *v, __u64 *now)
{
	if (!v || !v->expires_ns)
		return v;
	if (!*now)
		*now = castle_boot_now();
	return *now < v->expires_ns ? v : NULL;
}

/* Nested expired CIDRs looked through before giving up (failing open). */
#define CASTLE_LPM_EXPIRED_MAX 4

/*
 * The live entry of a CIDR trie that covers `key` (a castle_lpm4/6, whose
 * prefixlen comes first). The trie answers only the longest match, so an
 * expired entry would hide a live shorter prefix under it (an expired
 * 198.18.5.0/24 ban inside a permanent 198.18.0.0/16 block). Past an expired
 * match, look again one bit shorter than its length, which bisection finds:
 * a lookup with prefixlen n returns the longest match no longer than n, so
 * "still the expired entry" holds exactly for n >= its length.
 */
static __always_inline struct castle_block_val *castle_lpm_live(void *map, void *key, __u64 *now)
{
	__u32 *plen = key;
	__u32 full = *plen;
	struct castle_block_val *v = bpf_map_lookup_elem(map, key);

	for (int i = 0; i < CASTLE_LPM_EXPIRED_MAX; i++) {
		if (!v || castle_live(v, now))
			break;
		__u32 lo = 0, hi = *plen;

		for (int j = 0; j < 8 && lo < hi; j++) { /* 2^8 > 128 */
			__u32 mid = (lo + hi) / 2;

			*plen = mid;
			if (bpf_map_lookup_elem(map, key) == v)
				hi = mid;
			else
				lo = mid + 1;
		}
		v = NULL;
		if (!hi)
			break;
		*plen = hi - 1;
		v = bpf_map_lookup_elem(map, key);
	}
	*plen = full;
	return castle_live(v, now);
}

/* The top `len` bits of a 32-bit word, in network byte order (len 0..32). */
static __always_inline __u32 castle_mask32(__u32 len)
{
	return bpf_htonl((__u32)(0xffffffff00000000ull >> (len & 63)));
}

/* The live entry of a generation's pol_nhash4 inner map that covers source
 * `a` (network order): the source masked to each prefix length in use,
 * longest first. An expired entry is as good as absent, so the next shorter
 * length is looked at: the hash needs no bisection to look past it. */
static __always_inline struct castle_block_val *castle_nhash4(void *map, __u32 gen, __u32 a,
							       __u64 *now)
{
	struct castle_nhash_lens *l = bpf_map_lookup_elem(&pol_nlens, &gen);
	struct castle_lpm4 k;
	__u32 n;

	if (!l)
		return NULL;
	n = l->n4;
	for (__u32 i = 0; i < CASTLE_NHASH_LENS && i < n; i++) {
		__u32 len = l->len4[i] & 63, x = a & castle_mask32(len);
		struct castle_block_val *v;

		k.prefixlen = len;
		__builtin_memcpy(k.addr, &x, 4);
		v = castle_live(bpf_map_lookup_elem(map, &k), now);
		if (v)
			return v;
	}
	return NULL;
}

static __always_inline struct castle_block_val *castle_nhash6(void *map, __u32 gen,
							       const __u8 *saddr, __u64 *now)
{
	struct castle_nhash_lens *l = bpf_map_lookup_elem(&pol_nlens, &gen);
	struct castle_lpm6 k;
	__u32 a[4], n;

	if (!l)
		return NULL;
	__builtin_memcpy(a, saddr, 16);
	n = l->n6;
	for (__u32 i = 0; i < CASTLE_NHASH_LENS && i < n; i++) {
		__u32 len = l->len6[i], x[4];
		struct castle_block_val *v;

		for (int w = 0; w < 4; w++) {
			__u32 bits = len > 32u * w ? len - 32u * w : 0;

			x[w] = a[w] & castle_mask32(bits > 32 ? 32 : bits);
		}
		k.prefixlen = len;
		__builtin_memcpy(k.addr, x, 16);
		v = castle_live(bpf_map_lookup_elem(map, &k), now);
		if (v)
			return v;
	}
	return NULL;
}

/* The lists of one family after the policy's exact one (castle_pol_exact,
 * which the program looks up first, in its body): the manual/auto exact hash,
 * then CIDRs (the policy's by prefix-length hash or trie, then the manual/auto
 * trie); lists that are empty (see castle_have) are not looked at. */
static __always_inline struct castle_block_val *castle_block4(__u32 gen, __u32 have,
							       const struct castle_pkt *p, __u64 *now)
{
	struct castle_lpm4 k = { .prefixlen = 32 };
	struct castle_block_val *v = NULL;
	__u32 a;
	void *inner;

	__builtin_memcpy(&a, p->saddr, 4);
	/* An expired manual/auto entry is left for castled to reap: deleting it
	 * here would race with castlectl re-adding the same address. */
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_BLOCK4)) {
		v = castle_live(bpf_map_lookup_elem(&man_block4, &a), now);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_POL(CASTLE_PM_NHASH4)) {
		inner = bpf_map_lookup_elem(&pol_nhash4, &gen);
		if (inner)
			v = castle_nhash4(inner, gen, a, now);
		if (v)
			return v;
	}
	__builtin_memcpy(k.addr, p->saddr, 4);
	if (have & CASTLE_HAVE_POL(CASTLE_PM_NET4)) {
		inner = bpf_map_lookup_elem(&pol_net4, &gen);
		if (inner)
			v = castle_lpm_live(inner, &k, now);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_NET4))
		return castle_lpm_live(&man_net4, &k, now);
	return NULL;
}

static __always_inline struct castle_block_val *castle_block6(__u32 gen, __u32 have,
							       const struct castle_pkt *p, __u64 *now)
{
	struct castle_lpm6 k = { .prefixlen = 128 };
	struct castle_block_val *v = NULL;
	struct castle_in6 a;
	void *inner;

	__builtin_memcpy(a.a, p->saddr, 16);
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_BLOCK6)) {
		v = castle_live(bpf_map_lookup_elem(&man_block6, &a), now);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_POL(CASTLE_PM_NHASH6)) {
		inner = bpf_map_lookup_elem(&pol_nhash6, &gen);
		if (inner)
			v = castle_nhash6(inner, gen, a.a, now);
		if (v)
			return v;
	}
	__builtin_memcpy(k.addr, p->saddr, 16);
	if (have & CASTLE_HAVE_POL(CASTLE_PM_NET6)) {
		inner = bpf_map_lookup_elem(&pol_net6, &gen);
		if (inner)
			v = castle_lpm_live(inner, &k, now);
		if (v)
			return v;
	}
	if (have & CASTLE_HAVE_MAN(CASTLE_MM_NET6))
		return castle_lpm_live(&man_net6, &k, now);
	return NULL;
}

/* A blocklist entry that matched: count its hit, stamp it, and give the
 * reason (CASTLE_R_BLOCKLIST or CASTLE_R_AUTOBAN). */
static __always_inline __u32 castle_block_hit(struct castle_block_val *v)
{
	castle_hit(&v->hits, v->class_slot);
	/* last_hit_ns is to a tick (see castle_tick_mono_ns; a precise clock
	 * read costs 15-40 ns in a VM, on every drop); user space converts it
	 * (see castle_block_val). Stored only when it moved by 1 ms or more:
	 * under a flood from one source every CPU would otherwise write the
	 * shared entry on each packet. */
	__u64 hit = castle_tick_mono_ns(castle_state_get());
	if (hit - v->last_hit_ns >= 1000000ull)
		v->last_hit_ns = hit;
	return v->origin == CASTLE_ORIGIN_AUTO ? CASTLE_R_AUTOBAN : CASTLE_R_BLOCKLIST;
}

/* The blocklist reason of the source (CASTLE_R_BLOCKLIST or CASTLE_R_AUTOBAN)
 * from the lists after the policy's exact one, or CASTLE_R_OK when none
 * blocks it. */
static __always_inline __u32 castle_blocked(__u32 gen, __u32 have, const struct castle_pkt *p)
{
	__u64 now = 0;
	struct castle_block_val *v = p->family == 4 ? castle_block4(gen, have, p, &now)
						    : castle_block6(gen, have, p, &now);

	return v ? castle_block_hit(v) : CASTLE_R_OK;
}

/* The live entry of the generation's exact blocklist of the source's family,
 * or NULL: the first list, looked up in the program's body so that a drop on
 * an exact entry makes no call into castle_blocked's subprogram (a call and
 * return are dear on a host with return thunks); an expired entry leaves the
 * source to the other lists, as an absent one. */
static __always_inline struct castle_block_val *castle_pol_exact(__u32 gen, __u32 have,
								  const struct castle_pkt *p)
{
	struct castle_block_val *v = NULL;
	__u64 now = 0;
	void *inner;

	if (p->family == 4) {
		__u32 a;

		if (!(have & CASTLE_HAVE_POL(CASTLE_PM_BLOCK4)))
			return NULL;
		__builtin_memcpy(&a, p->saddr, 4);
		inner = bpf_map_lookup_elem(&pol_block4, &gen);
		if (inner)
			v = bpf_map_lookup_elem(inner, &a);
	} else {
		struct castle_in6 a;

		if (!(have & CASTLE_HAVE_POL(CASTLE_PM_BLOCK6)))
			return NULL;
		__builtin_memcpy(a.a, p->saddr, 16);
		inner = bpf_map_lookup_elem(&pol_block6, &gen);
		if (inner)
			v = bpf_map_lookup_elem(inner, &a);
	}
	return castle_live(v, &now);
}

#endif /* CASTLE_BPF_LISTS_H */
