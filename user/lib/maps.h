/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * maps.h - the one way user space reads and writes castle's maps: open them
 * (from a loaded object or from the pin directory), build and switch policy
 * generations atomically, and add/remove/list block and allow entries.
 * castled, castlectl and the tests all go through here.
 */
#ifndef CASTLE_MAPS_H
#define CASTLE_MAPS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <castle/castle.h>
#include "cidr.h"

struct bpf_object;

struct castle_maps {
	int state;
	int policy;
	int pol[CASTLE_PM_MAX];		/* outer maps (pol_nhash4/6: -1 in
					 * the pins of a build before them) */
	int nlens;			/* pol_nlens, -1 likewise */
	int class_slots;		/* struct castle_class_slots; -1 likewise */
	int man[CASTLE_MM_MAX];
	int man_count;			/* struct castle_man_count, see castle.h */
	int rl_state;
	int rl_steady;
	int rl_events;
	int ifslot;
	int xdp_stats;
	int tc_stats;
	int class_stats;
	int events;
	int ifaces;
	int notes;
	int block_hits;			/* -1 in the pins of a build before it */
	int man_hits, man_slots;	/* likewise (see CASTLE_HIT_MAN) */
	int daemon;			/* struct castle_daemon_rec; -1 likewise */
	bool owned;			/* fds are ours to close */
	/* castle_gen_commit puts every block CIDR in the pol_net4/6 tries,
	 * which the programs of every build read: castled sets it while a
	 * program of an older build may still run on these maps. */
	bool trie_only;
	/* man_count mapped by castle_maps_from_object/_open_pinned (NULL when
	 * the pins predate it); unmapped by castle_maps_close. */
	struct castle_man_count *man_count_mem;
	/* man_slots mapped likewise (NULL without it, or when it could not
	 * be mapped: then no manual entry gets a slot), and its length. */
	uint64_t *man_slots_mem;
	size_t man_slots_len;
	uint32_t man_words_cap;		/* bitmap words man_hits and the value's
					 * 22 bits allow */
};

extern const char *const castle_pol_map_names[CASTLE_PM_MAX];
extern const char *const castle_man_map_names[CASTLE_MM_MAX];
extern const char *const castle_reason_names[CASTLE_REASON_MAX];
extern const char *const castle_origin_names[CASTLE_ORIGIN_MAX];

/* ---- per-CPU hit slots (see CASTLE_HIT_SLOT) ----------------------------- */

/* Slots per bank castled gives block_hits on this host: as many as 4 MiB of
 * per-CPU counters hold for both banks (at most 65536, at least 256). */
uint32_t castle_hit_bank(void);
/* The bank size of m's block_hits (half its entries), 0 without the map. */
uint32_t castle_hit_bank_of(const struct castle_maps *m);
/* *sum = the hits of an entry: its `hits` plus, when class_slot names a slot,
 * that slot summed over the CPUs. 0, or -errno when the slot cannot be read
 * (*sum is then the entry's `hits` alone). */
int castle_block_hits(const struct castle_maps *m, const struct castle_block_val *v,
		      uint64_t *sum);
/* Zero slots [first, first + n) of block_hits. 0 (also without the map:
 * nothing to zero) or -errno. */
int castle_hits_zero(const struct castle_maps *m, uint32_t first, uint32_t n);

/* Slots of man_hits castled gives this host (see CASTLE_HIT_MAN): as many as
 * 2 MiB of per-CPU counters hold, a multiple of 64, 1024..65536. */
uint32_t castle_man_slots(void);
uint32_t castle_man_slots_for(int ncpu);	/* the same for ncpu possible CPUs */
/* The slots of m's man_hits, 0 without the map. */
uint32_t castle_man_hits_of(const struct castle_maps *m);
/* Map m->man_slots (and write its header's `words` if no one has yet);
 * castle_maps_from_object/_open_pinned do, castle_maps_close unmaps. Leaves
 * man_slots_mem NULL when it cannot. */
void castle_man_slots_map(struct castle_maps *m);
void castle_man_slots_unmap(struct castle_maps *m);
/* Claim a free man_hits slot for a manual entry about to be written:
 * CASTLE_MAN_SLOT(slot, cls), or cls alone when none is free or there is no
 * man_slots (the entry then counts by the locked add). The slot is zero. A
 * claimed slot that no entry names is freed by castled's sweep (below). */
uint32_t castle_man_slot_claim(const struct castle_maps *m, uint32_t cls);
/* Give back a slot claimed for an entry whose write failed (the value was
 * never in a map, so nothing counted into it: it is still zero). Anything
 * but a CASTLE_MAN_SLOT value is ignored. */
void castle_man_slot_release(const struct castle_maps *m, uint32_t v);
/* Whether the slot v names is free in the bitmap (false for anything but a
 * CASTLE_MAN_SLOT value). */
bool castle_man_slot_freed(const struct castle_maps *m, uint32_t v);
/* The writers' last step (castle_manual_*_put*), for c's manual entry as it
 * is: when it names a slot that is free (castled's sweep freed it while the
 * writer stalled between its claim and its insert for longer than the
 * sweep's age), the slot is claimed again for it (or, if another writer
 * took it in that instant, the entry goes back to the locked add). 0 or
 * -errno (no entry covers c: for a CIDR the trie answers the longest
 * enclosing entry, so c must have one of its own). */
int castle_man_slot_verify(const struct castle_maps *m, const struct castle_cidr *c, bool allow);
/* Set the bit of the slot v names: true when it was clear (the slot is the
 * caller's again), false when it was set or v names no slot. */
bool castle_man_slot_reclaim(const struct castle_maps *m, uint32_t v);
/*
 * Free the claimed slots that no manual/auto entry has named for at least
 * min_age_s seconds (and in at least two sweeps): zero them, then clear their
 * bits. The age covers a writer between its claim and its insert (castlectl
 * stalled for longer could end up sharing its slot) and a program still
 * adding to a deleted entry. now_s is a monotonic clock in seconds. Returns
 * how many were freed, or -errno: a failed walk frees nothing and forgets
 * every candidate; a slot that could not be zeroed stays claimed (-errno
 * after the others are freed).
 *
 * castled sweeps on its walk of the manual maps for saving (each second, or
 * slower with a million auto-bans: paced.h), in three steps around it:
 * castle_man_sweep_begin (the claimed slots before the walk),
 * castle_man_sweep_see for every entry the walk sees (set `complete` when the
 * walk saw them all), castle_man_sweep_finish. castle_man_slots_sweep does
 * the three with a walk of its own. Finish returns -ECANCELED, freeing
 * nothing and forgetting every candidate, when the walk was not complete.
 */
#define CASTLE_MAN_SWEEP_AGE_S 15
struct castle_entry;
struct castle_man_sweep {
	uint32_t *since;	/* per slot: now_s + 1 of the first sweep that
				 * found it claimed and unnamed, 0 = named */
	uint32_t nslots;
	uint32_t min_age_s;
	/* one sweep's state, from begin to finish */
	uint32_t words;		/* of the bitmap (0: no man_slots, no sweep) */
	uint64_t *used;		/* claimed when the walk began */
	uint64_t *seen;		/* named by an entry the walk saw */
	bool complete;		/* the walk saw every entry */
};
int castle_man_slots_sweep(const struct castle_maps *m, struct castle_man_sweep *s,
			   uint32_t now_s);
int castle_man_sweep_begin(const struct castle_maps *m, struct castle_man_sweep *s);
void castle_man_sweep_see(struct castle_man_sweep *s, const struct castle_entry *e);
int castle_man_sweep_finish(const struct castle_maps *m, struct castle_man_sweep *s,
			    uint32_t now_s);
void castle_man_sweep_free(struct castle_man_sweep *s);
/* Set the bit of every slot a manual/auto entry names (castled at start: a
 * man_slots pinned anew beside older entries must not hand their slots out
 * again). Returns how many bits it set, or -errno. */
int castle_man_slots_adopt(const struct castle_maps *m);
/* Claimed slots right now, and how many there are; 0 without man_slots. */
uint32_t castle_man_slots_used(const struct castle_maps *m);
uint32_t castle_man_slots_total(const struct castle_maps *m);

/* Capacities of the inner maps a generation is built with. */
struct castle_gen_sizes {
	uint32_t exact;		/* per family, policy exact blocks */
	uint32_t net;		/* per family, policy block CIDRs */
	uint32_t allow;		/* per family, policy allow CIDRs */
};

/* The key of c in a list map: its address for an exact (hash) map, else the
 * LPM key built in k. */
const void *castle_entry_key(const struct castle_cidr *c, bool exact, struct castle_lpm6 *k);

/* man_count[idx] (UINT64_MAX when it is not mapped: "look"). */
uint64_t castle_man_count_get(const struct castle_maps *m, int idx);
/* Set the count of every manual map that holds an entry but counts zero
 * (written around maps.c, e.g. with bpftool) to one, so the programs look at
 * it again. Returns the healed maps as bits (1 << CASTLE_MM_x). */
int castle_man_count_heal(const struct castle_maps *m);

/* Fds of a loaded object's maps (not owned: the object closes them). */
int castle_maps_from_object(struct bpf_object *obj, struct castle_maps *m);
/* Open PIN_DIR/<name> for every map; -errno and a message on failure. */
int castle_maps_open_pinned(const char *pin_dir, struct castle_maps *m, char *err, size_t errlen);
void castle_maps_close(struct castle_maps *m);

/* ---- policy generations ----------------------------------------------- */

/* A generation under construction: fresh, empty inner maps. Fill them with
 * castle_gen_* below, then castle_gen_commit() to make it live in one step,
 * or castle_gen_abort() to throw it away. The live policy is untouched until
 * the commit. */
struct castle_gen_net {
	struct castle_lpm6 key;		/* host bits cleared; IPv4 in castle_lpm4's place */
	struct castle_block_val v;
};

struct castle_gen {
	int inner[CASTLE_PM_MAX];
	/* Block CIDRs by family (0: IPv4), held until castle_gen_commit knows
	 * their prefix lengths and so their map: pol_nhash4/6 for at most
	 * CASTLE_NHASH_MAX4/6 lengths, else the pol_net4/6 trie. */
	struct castle_gen_net *net[2];
	size_t nnet[2], capnet[2];
	uint32_t net_size;		/* capacity for them (castle_gen_sizes.net) */
	uint32_t nallow;		/* allow CIDRs added (both families) */
	uint32_t nexact;		/* exact blocks added (both families) */
	/* Set by castle_gen_commit: how many entries (block CIDRs, then allow
	 * CIDRs, then exact blocks) got a per-CPU hit slot, and why not all
	 * did (-errno zeroing the bank or giving an entry its slot; 0 on
	 * success, or when block_hits is not pinned, as with older pins). */
	uint32_t hit_slots;
	int hit_err;
	/* Set by the caller before the commit (castle_class_slots_assign):
	 * the counter and bucket slot of each class, written with the
	 * generation (its serial set to the policy's by the commit); without
	 * slots_set, class i in slot i. The commit zeroes the class counters
	 * of the slots given to a name the live policy does not have: those
	 * in `fresh` (no live class counts there) before the switch, those in
	 * `fresh_after` (a class the new policy removes still counts there
	 * until the switch) once no program runs on the old generation. */
	struct castle_class_slots slots;
	bool slots_set;
	uint16_t fresh, fresh_after;
};

int castle_gen_begin(const struct castle_gen_sizes *sz, struct castle_gen *g, char *err, size_t errlen);
void castle_gen_abort(struct castle_gen *g);
/* Write the standby slot (policy struct and inner maps), flip state.gen, wait
 * until no program still runs on the old generation, then release it. The
 * slot's `lists` and `event_cost_ns` are derived here (from the inner maps
 * and events_per_sec); what the caller passes in them is ignored. */
int castle_gen_commit(struct castle_maps *m, struct castle_gen *g, const struct castle_policy *pol,
		      char *err, size_t errlen);
/* A new fd of generation gen's inner map pm (CASTLE_PM_x), -ENOENT when
 * there is none, another -errno when it cannot be opened (-EPERM without
 * CAP_SYS_ADMIN: maps are opened by id). The caller closes it. */
int castle_gen_inner_fd(const struct castle_maps *m, int pm, uint32_t gen);
/* The live generation index and its policy struct. */
int castle_gen_live(const struct castle_maps *m, uint32_t *gen, struct castle_policy *pol);
/* The slots of the classes of pol, the policy of generation gen: class_slots
 * [gen] when it was written for pol (same serial; returns true), else class
 * i in slot i (a policy of an older castled, whose programs count classes by
 * position, or no class_slots pin; returns false), with last_held naming
 * the slots pol's classes hold. */
bool castle_class_slots_read(const struct castle_maps *m, uint32_t gen,
			     const struct castle_policy *pol, struct castle_class_slots *cs);
/* The counter and bucket slot of the i-th class. */
static inline uint32_t castle_class_slot(const struct castle_class_slots *cs, uint32_t i)
{
	return (i ^ cs->slot_xor[i & (CASTLE_MAX_CLASSES - 1)]) & (CASTLE_MAX_CLASSES - 1);
}
/* The same as slot_of[i] for each class (castle_class_slots_read). */
void castle_class_slots_of(const struct castle_maps *m, uint32_t gen, const struct castle_policy *pol,
			   uint8_t slot_of[CASTLE_MAX_CLASSES]);
/* The index in pol->classes of the class counted at `slot`, or -1. */
int castle_class_at(const struct castle_policy *pol, const uint8_t slot_of[CASTLE_MAX_CLASSES],
		    uint32_t slot);
/* Slots for the classes of `next` (serial `serial`): a class named as one
 * of `live` (NULL when there is none; live_cs its slots) keeps its slot, so
 * a reload that inserts, removes or reorders classes moves no counter and
 * no bucket to another class; a new name takes, of the slots no live class
 * holds, the one held longest ago (never held first), and with every slot
 * taken by live and new names, the one a removed class leaves. Returns the
 * slots given to new names (bit per slot), whose counters start from
 * zero. */
uint16_t castle_class_slots_assign(const struct castle_policy *live,
				   const struct castle_class_slots *live_cs,
				   const struct castle_policy *next, uint64_t serial,
				   struct castle_class_slots *out);

/* Batch-friendly adders for a generation under construction. -errno. */
int castle_gen_add_block(struct castle_gen *g, const struct castle_cidr *c, const struct castle_block_val *v);
int castle_gen_add_allow(struct castle_gen *g, const struct castle_cidr *c, const struct castle_allow_val *v);
int castle_gen_add_csrc(struct castle_gen *g, const struct castle_cidr *c, uint32_t classes);
int castle_gen_add_sni(struct castle_gen *g, const char *name);
/* Insert many exact IPv4/IPv6 blocks in one syscall per chunk. */
int castle_gen_add_block_batch(struct castle_gen *g, int family, const void *keys,
			       const struct castle_block_val *vals, uint32_t n);

/* ---- entries ---------------------------------------------------------- */

/* Which list and where: exact hash for full-length prefixes, LPM otherwise. */
int castle_block_map_fd(const struct castle_maps *m, const struct castle_cidr *c, bool policy_gen,
			uint32_t gen);

/* Manual entries. put fails with -ENOSPC when the map is full (never a
 * partial change: one entry, one syscall). */
int castle_manual_block_put(const struct castle_maps *m, const struct castle_cidr *c,
			    uint64_t ttl_ns, uint32_t origin);
int castle_manual_block_del(const struct castle_maps *m, const struct castle_cidr *c);
int castle_manual_allow_put(const struct castle_maps *m, const struct castle_cidr *c);
int castle_manual_allow_del(const struct castle_maps *m, const struct castle_cidr *c);
/* The same puts for a restore, which gives way to what is there: -EEXIST,
 * nothing written, when the exact key holds an allow entry or a live manual
 * block (an auto-ban, or an expired block, is replaced). An enclosing or
 * enclosed prefix is another key. */
int castle_manual_block_put_new(const struct castle_maps *m, const struct castle_cidr *c,
				uint64_t ttl_ns);
int castle_manual_allow_put_new(const struct castle_maps *m, const struct castle_cidr *c);

/* The same writes, for a caller that may have to take them back (castlectl
 * writes an entry, then its comment): *had says whether the exact key held an
 * entry before, and *old what. undo puts *old back, or deletes the key when
 * there was none. */
int castle_manual_block_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 uint64_t ttl_ns, uint32_t origin, bool *had,
				 struct castle_block_val *old);
int castle_manual_block_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_block_val *old);
int castle_manual_allow_put_prev(const struct castle_maps *m, const struct castle_cidr *c,
				 bool *had, struct castle_allow_val *old);
int castle_manual_allow_undo(const struct castle_maps *m, const struct castle_cidr *c, bool had,
			     const struct castle_allow_val *old);

/* One entry of a listing. */
struct castle_entry {
	struct castle_cidr cidr;
	uint32_t origin;
	uint32_t class_slot;
	uint64_t expires_ns;		/* CLOCK_BOOTTIME; 0 = never */
	uint64_t created_ns;
	uint64_t hits;
	uint64_t last_hit_ns;
	uint32_t man_slot;		/* manual/auto entry: its man_hits slot
					 * + 1 (CASTLE_HIT_MAN), 0 = none */
	bool allow;
};

typedef int (*castle_entry_cb)(const struct castle_entry *e, void *arg);

/* Every block entry: live policy generation, then manual/auto. Entries past
 * their expiry are skipped (and, when reap is set, deleted from the manual
 * maps). */
int castle_block_foreach(const struct castle_maps *m, bool reap, castle_entry_cb cb, void *arg);
int castle_allow_foreach(const struct castle_maps *m, castle_entry_cb cb, void *arg);

/* Manual and auto entries only (block, then allow), without the policy
 * generation: cheap enough for castled to run every second (the exact maps
 * in batches: a million auto-bans in 0.19 s here, 0.62 s key by key). Expired block
 * entries are skipped, and deleted when reap is set. `hits` is the entries'
 * own count, without their man_hits slot (none of its callers needs it; the
 * listings above sum it in); man_slot names the slot. */
int castle_manual_foreach(const struct castle_maps *m, bool reap, castle_entry_cb cb, void *arg);

/* How the walks above read hash maps (the exact maps and a generation's
 * CIDRs by prefix length; tries go key by key), since the process started:
 * batches read (that held entries), and hash maps that refused batches and
 * were walked key by key (a kernel without batch ops for hash maps; the
 * tests expect none). */
struct castle_walk_stats {
	uint64_t batches;
	uint64_t hash_key_by_key;
};
extern struct castle_walk_stats castle_walk_stats;

/* ---- counters --------------------------------------------------------- */

/* Sum a castle_stats over CPUs for one interface (map = xdp_stats/tc_stats). */
/* Counters live in per-CPU arrays indexed by a slot that ifslot[ifindex]
 * gives; slot 0 collects every interface without one (reported as ifindex 0).
 * read: -ENOENT for an ifindex without a slot. */
int castle_stats_read(const struct castle_maps *m, int map_fd, uint32_t ifindex,
		      struct castle_stats *out);
/* Every interface with a slot, plus 0 when slot 0 counted anything; returns
 * the count (<= max). */
int castle_stats_ifaces(const struct castle_maps *m, int map_fd, uint32_t *ifindexes, int max);
/* Give ifindex a counter slot (kept if it has one: adoption keeps counters);
 * a new slot starts at zero. -ENOSPC when all CASTLE_MAX_IFACES - 1 are taken,
 * -ERANGE for an ifindex beyond CASTLE_IFSLOT_ENTRIES (counted in slot 0). */
int castle_ifslot_assign(const struct castle_maps *m, uint32_t ifindex, uint32_t *slot);
void castle_ifslot_release(const struct castle_maps *m, uint32_t ifindex);
/* The counter slot of ifindex (0 for ifindex 0); -ENOENT when it has none. */
int castle_ifslot_of(const struct castle_maps *m, uint32_t ifindex, uint32_t *slot);
/* Set n per-CPU values from key `first` on to zero. */
int castle_percpu_zero(int map_fd, uint32_t first, uint32_t n, size_t value_size);
/* class_stats counts each class per interface counter slot (castle.h):
 * read: one class on one slot; sum: one class over every slot (the class's
 * total, what castle counted before it counted per interface). */
int castle_class_stats_read(int map_fd, uint32_t ifslot, uint32_t cls,
			    struct castle_class_stats *out);
int castle_class_stats_sum(int map_fd, uint32_t cls, struct castle_class_stats *out);

uint64_t castle_now_boot_ns(void);

/* Delete steady rate-limit entries (rl_steady) idle for longer than idle_ns;
 * returns how many. castled calls it periodically: the steady tier is a plain
 * hash, nothing else ever frees its slots. */
int castle_rl_reap_steady(const struct castle_maps *m, uint64_t idle_ns);

/* ---- walking any map ---------------------------------------------------- */

#define CASTLE_MAP_KEY_MAX 64		/* largest key castle_map_foreach_key takes */

typedef int (*castle_key_cb)(int fd, const void *key, void *arg);

/* Call cb for every key of fd (key_size bytes, <= CASTLE_MAP_KEY_MAX). The
 * next key is fetched before cb runs, so cb may delete the key it is given
 * and the walk still visits every other key once: bpf_map_get_next_key()
 * from a deleted key starts over at the first key, which would visit entries
 * twice and cost quadratic time. A non-zero return of cb stops the walk and
 * is returned; otherwise 0 or -errno. Keys that others add or delete during
 * the walk may be seen or not (and a concurrent delete of the prefetched key
 * restarts the walk once, as any get_next_key walk would). */
int castle_map_foreach_key(int fd, size_t key_size, castle_key_cb cb, void *arg);

#endif /* CASTLE_MAPS_H */
