/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * common.h - what both programs need around a verdict: the live policy
 * generation, per-interface counters, the GCRA step, and the sampled drop
 * events.
 */
#ifndef CASTLE_BPF_COMMON_H
#define CASTLE_BPF_COMMON_H

#include "maps.h"

_Static_assert(CASTLE_REASON_MAX <= CASTLE_REASON_SLOTS, "reasons must fit their slots");

/* The interface's counter slot (ifslot, written by castled when it attaches;
 * 0 for an interface without one). A program looks it up once per packet and
 * indexes every per-interface counter with it. */
static __always_inline __u32 castle_if_slot(__u32 ifindex)
{
	__u32 *slot = bpf_map_lookup_elem(&ifslot, &ifindex);

	return slot ? *slot & (CASTLE_MAX_IFACES - 1) : 0;
}

/* Count a packet once, by verdict and reason. Per-CPU slot: plain adds are
 * exact. */
static __always_inline void castle_count_slot(void *map, __u32 ifs, __u32 verdict,
					      __u32 reason, __u64 len)
{
	__u32 idx = ifs & (CASTLE_MAX_IFACES - 1);
	struct castle_stats *st = bpf_map_lookup_elem(map, &idx);

	if (!st)
		return;
	st->c[verdict & 1][reason & (CASTLE_REASON_SLOTS - 1)].packets++;
	st->c[verdict & 1][reason & (CASTLE_REASON_SLOTS - 1)].bytes += len;
}

/* CONFIG_HZ, from the kernel's config (libbpf reads it, or castle_kconfig's
 * stand-in says 0 where no config is readable). */
extern unsigned int CONFIG_HZ __kconfig __weak;

/* ns per tick, as the kernel advances jiffies (TICK_NSEC, rounded to the
 * nearest ns), without a division on the common HZ values (a 64-bit divide
 * costs 10-20 ns here, and the drop path needs the tick length up to three
 * times). */
static __always_inline __u64 castle_tick_len_ns(__u32 hz)
{
	switch (hz) {
	case 100:
		return 10000000;
	case 250:
		return 4000000;
	case 300:
		return 3333333;
	case 1000:
		return 1000000;
	case 0:
		return 10000000; /* unknown: the coarse clock, assume HZ=100 */
	default:
		return (1000000000ull + hz / 2) / hz; /* the kernel's TICK_NSEC */
	}
}

/*
 * A clock to a tick, for what needs no more: the event sampler, the
 * blocklist's last-hit stamps, the rate limiter's entry stamps (last_ns,
 * first_ns) and its "surely over" check, paid on every drop. jiffies is one load;
 * bpf_ktime_get_coarse_ns is a seqlock read and a precise clock a TSC read,
 * 15-40 ns each in a VM (measured with bench/profile.py). In ns, with an
 * arbitrary origin; the coarse clock when HZ is unknown.
 */
static __always_inline __u64 castle_tick_ns(void)
{
	__u32 hz = CONFIG_HZ;

	if (!hz)
		return bpf_ktime_get_coarse_ns();
	return bpf_jiffies64() * castle_tick_len_ns(hz);
}

/* castle_tick_ns on CLOCK_MONOTONIC's origin, so user space can tell how long
 * ago it was: the offset is measured once, with one precise clock read, and
 * kept in state (jiffies advance with the monotonic clock, tick by tick). Its
 * low bit says which clock it was measured for (1: jiffies, 0: the coarse
 * clock): a program of the other kind (a build that found no kernel config,
 * still attached while the next loads) measures again instead of using an
 * offset that is off by the clocks' different origins. */
static __always_inline __u64 castle_tick_mono_ns(struct castle_state *s)
{
	__u64 t = castle_tick_ns();
	__u64 kind = CONFIG_HZ ? 1 : 0;
	__u64 off;

	if (!s)
		return bpf_ktime_get_coarse_ns();
	off = s->tick_to_mono;
	if (!off || (off & 1) != kind) {
		off = ((bpf_ktime_get_ns() - t) & ~1ull) | kind;
		s->tick_to_mono = off;
	}
	return t + (off & ~1ull);
}

/*
 * How far castle_tick_mono_ns may run behind CLOCK_MONOTONIC: up to a tick
 * (the phase of the tick when the offset was measured) plus however late
 * jiffies are advanced, which recent kernels bound (a stalled jiffies update
 * is forced after 5 ticks) but a VM's stolen time can stretch. 8 ticks (32 ms
 * at HZ=250), so about 7 ticks of lateness are tolerated; 80 ms on the coarse
 * clock, when HZ is unknown. (It may also run up to a tick ahead, which only
 * makes a "surely over" rarer.) A refusal on the tick clock that holds with
 * this margin holds on the precise clock.
 */
static __always_inline __u64 castle_tick_slack_ns(void)
{
	return 8 * castle_tick_len_ns(CONFIG_HZ);
}

/* How often a CPU measures castle_boot_tick_ns's offset again. */
#define CASTLE_BOOT_REMEASURE_NS 1000000000ull

/*
 * CLOCK_BOOTTIME to a tick, for the expiry of a blocklist entry, checked on
 * every packet it drops: every auto-ban has one, and so do `castlectl block
 * add --ttl` and policy `ttl:` entries. A precise boot-clock read there cost
 * ~24 ns a drop here (castle-cost block-ttl-v4 69-73 ns against
 * block-manual-v4 45-47). castle_tick_ns plus an offset each CPU measures with one
 * precise read, and again once its tick clock moved a second: the offset
 * changes only when the machine sleeps (the tick clock stops with
 * CLOCK_MONOTONIC, CLOCK_BOOTTIME goes on), so after a resume it is right
 * again within a second of it.
 *
 * The tick clock lags the precise one by its phase in the tick plus
 * jiffies' lateness, a lag that differs from one read to the next: measured
 * at a large lag and read at none, tick + offset would run ahead of the
 * boot clock and end an entry early. So the offset is taken short by
 * castle_tick_slack_ns (8 ticks, more than the lag while jiffies are less
 * than 7 ticks late when it is measured; recent kernels force a stalled
 * update after 5): the clock runs behind, by up to the slack plus a tick plus
 * however late jiffies are when it is read, and an entry drops for up to
 * that long past its expiry, never stops before it.
 */
static __always_inline __u64 castle_boot_tick_ns(void)
{
	__u32 zero = 0;
	struct castle_boot_clock *c = bpf_map_lookup_elem(&boot_clock, &zero);
	__u64 t = castle_tick_ns();

	if (!c)
		return bpf_ktime_get_boot_ns();
	if (!c->at_tick || t - c->at_tick >= CASTLE_BOOT_REMEASURE_NS) {
		__u64 boot = bpf_ktime_get_boot_ns();

		/* the tick clock read again after the precise one: a delay
		 * between the two puts the clock behind, never ahead */
		t = castle_tick_ns();
		c->tick_to_boot = boot - t - castle_tick_slack_ns();
		c->at_tick = t ? t : 1;
	}
	return t + c->tick_to_boot;
}

static __always_inline __u64 castle_sat_add(__u64 a, __u64 b)
{
	return a + b < a ? ~0ull : a + b;
}

/* One GCRA step on a shared TAT: admit when the bucket has room for `cost`
 * within `tol`, and move the TAT with compare-and-swap so that two CPUs can
 * never both take the last token. Contention that outlasts the retries is
 * treated as "no room": a limiter errs on the side of limiting.
 *
 * Under one (cost, tol) a TAT is never more than tol + cost ahead of the
 * clock (admitted at most tol ahead, then cost added). One further ahead was
 * written under other settings: a reload changed the limit behind it (a
 * strict class made generous, another class moved to its position, another
 * events_per_sec). On refusal such a TAT is cut to tol + cost ahead, an
 * empty bucket of the new settings: the new limit applies at once (not after
 * the old debt, hours under 1/h), and a reload still never refills a bucket.
 * Only past the tick slack beyond that: a CPU that read its clock a little
 * later may have moved the TAT by the difference, and cutting that would
 * hand out tokens; what is left drains within the slack. The cut costs the
 * admitted packet nothing: it is on the refusal path. */
static __always_inline int castle_gcra(__u64 *tat, __u64 now, __u64 cost, __u64 tol)
{
	for (int i = 0; i < 8; i++) {
		__u64 old = *(volatile __u64 *)tat;
		__u64 base = old > now ? old : now;

		if (base - now > tol) {
			__u64 most = castle_sat_add(tol, cost);

			if (base - now > castle_sat_add(most, castle_tick_slack_ns()))
				__sync_val_compare_and_swap(tat, old, now + most);
			return 0;
		}
		if (__sync_val_compare_and_swap(tat, old, base + cost) == old)
			return 1;
	}
	return 0;
}

/* A drop event, at most the policy's events_per_sec per second across all
 * CPUs (a GCRA with a burst of one second), so a flood cannot flood user
 * space. The sampler runs on castle_tick_ns: a precise clock read would be
 * paid on every drop, while a clock that lags by at most a tick only ever
 * admits fewer events. */
static __always_inline void castle_event(struct castle_state *s,
					 const struct castle_policy *pol, __u8 stage,
					 __u8 reason, __u32 ifindex, const __u8 *addr,
					 __u32 family, __u8 proto, __u16 dport, __u8 class_slot,
					 __u8 dry_run, __u32 len)
{
	if (!s)
		return;
	/* the policy's events_per_sec as a cost, divided by castle_gen_commit */
	__u64 cost = pol ? pol->event_cost_ns : 0;

	if (!cost || cost > 1000000000ull) {
		__u32 per_sec = pol ? pol->events_per_sec : 0;

		cost = 1000000000ull / (per_sec ? per_sec : CASTLE_EVENTS_PER_SEC_DEFAULT);
	}
	if (!castle_gcra(&s->ev_tat, castle_tick_ns(), cost, 1000000000ull - cost))
		return;

	struct castle_event *e = bpf_ringbuf_reserve(&events, sizeof(*e), 0);
	if (!e)
		return;
	e->ts_ns = bpf_ktime_get_boot_ns();
	e->ifindex = ifindex;
	e->stage = stage;
	e->reason = reason;
	e->family = family;
	e->proto = proto;
	__builtin_memcpy(e->addr, addr, 16);
	e->dport = dport;
	e->class_slot = class_slot;
	e->dry_run = dry_run;
	e->len = len;
	bpf_ringbuf_submit(e, 0);
}

/* Which lists a packet has to look at, as one word the stages test: bit
 * CASTLE_HAVE_POL(x) when the live generation's inner map x has entries, bit
 * CASTLE_HAVE_MAN(x) when manual/auto map x may have some. An empty list is
 * the common case (no allowlist, no manual entries) and skipping its lookup
 * saves 10-20 ns each. */
#define CASTLE_HAVE_POL(x) (1u << (x))
#define CASTLE_HAVE_MAN(x) (1u << (16 + (x)))
#define CASTLE_HAVE_ALLOW                                                                    \
	(CASTLE_HAVE_POL(CASTLE_PM_ALLOW4) | CASTLE_HAVE_POL(CASTLE_PM_ALLOW6) |             \
	 CASTLE_HAVE_MAN(CASTLE_MM_ALLOW4) | CASTLE_HAVE_MAN(CASTLE_MM_ALLOW6))
#define CASTLE_HAVE_BLOCK                                                                    \
	(CASTLE_HAVE_POL(CASTLE_PM_BLOCK4) | CASTLE_HAVE_POL(CASTLE_PM_BLOCK6) |             \
	 CASTLE_HAVE_POL(CASTLE_PM_NET4) | CASTLE_HAVE_POL(CASTLE_PM_NET6) |                 \
	 CASTLE_HAVE_POL(CASTLE_PM_NHASH4) | CASTLE_HAVE_POL(CASTLE_PM_NHASH6) |             \
	 CASTLE_HAVE_MAN(CASTLE_MM_BLOCK4) | CASTLE_HAVE_MAN(CASTLE_MM_BLOCK6) |             \
	 CASTLE_HAVE_MAN(CASTLE_MM_NET4) | CASTLE_HAVE_MAN(CASTLE_MM_NET6))

static __always_inline __u32 castle_have(const struct castle_policy *pol)
{
	__u32 zero = 0, have = pol ? pol->lists : 0xffffu;
	struct castle_man_count *mc = bpf_map_lookup_elem(&man_count, &zero);

	if (!mc)
		return have | 0xffff0000u;
	for (int i = 0; i < CASTLE_MM_MAX; i++)
		if (mc->n[i])
			have |= CASTLE_HAVE_MAN(i);
	return have;
}

static __always_inline struct castle_state *castle_state_get(void)
{
	__u32 zero = 0;

	return bpf_map_lookup_elem(&state, &zero);
}

#endif /* CASTLE_BPF_COMMON_H */
