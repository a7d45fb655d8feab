// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_man_slots.c - the per-CPU hit slots of manual and auto entries
 * (man_hits, claimed in the man_slots bitmap; CASTLE_HIT_MAN): user space
 * and the XDP program's auto-bans claim distinct slots (the program looks
 * at CASTLE_MAN_SLOT_TRIES words from the cursor), an entry without a free
 * slot keeps the locked add, a failed write gives its slot back, and
 * castled's sweep frees (zeroed) only the slots no entry has named for its
 * age and two sweeps: deleted, reaped and overwritten entries' slots and
 * claims never written, never a live entry's; at start it marks taken every
 * slot an entry names. The hits themselves under both CPUs:
 * test_xdp_accuracy.c.
 */
#include <errno.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fixture.h"
#include "persist.h"

#define MS 1000000ull

/* The fixture's maps keep the object's default size. */
#define SLOTS CASTLE_MAN_SLOTS_DEFAULT

static uint64_t slot_sum(struct fx *f, uint32_t i)
{
	return fx_percpu_sum(f->maps.man_hits, i);
}

static uint32_t raw_block4(struct fx *f, const char *addr)
{
	struct castle_block_val v;
	struct castle_cidr c;

	fx_cidr(addr, &c);
	assert_int_equal(bpf_map_lookup_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &v), 0);
	assert_int_equal(v.hits, 0); /* a slotted entry's own counter stays 0 */
	return v.class_slot;
}

static bool claimed(struct fx *f, uint32_t slot)
{
	return f->maps.man_slots_mem[1 + slot / 64] & (1ull << (slot % 64));
}

/* A sweep one fake second after the last: min_age_s 0 (the tests' default)
 * frees a slot the second sweep in a row that finds it unnamed. */
static uint32_t fake_now;

static int sweep(struct fx *f, struct castle_man_sweep *s)
{
	return castle_man_slots_sweep(&f->maps, s, ++fake_now);
}

static void header_names_the_bitmap(void **state)
{
	struct fx *f = *state;
	const struct castle_man_slots_hdr *h = (const void *)f->maps.man_slots_mem;

	assert_non_null(h);
	assert_int_equal(h->words, SLOTS / 64);
	assert_int_equal(castle_man_hits_of(&f->maps), SLOTS);
	assert_int_equal(castle_man_slots_used(&f->maps), 0);
}

static void claims_are_distinct_until_full_then_locked_add(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.5");
	static bool seen[SLOTS];
	struct castle_entry e;

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < SLOTS; i++) {
		uint32_t v = castle_man_slot_claim(&f->maps, 7);

		assert_int_equal(v & (CASTLE_HIT_SLOT | CASTLE_HIT_MAN), CASTLE_HIT_SLOT | CASTLE_HIT_MAN);
		assert_int_equal(v & 0xff, 7);
		assert_true(CASTLE_MAN_SLOT_IDX(v) < SLOTS);
		assert_false(seen[CASTLE_MAN_SLOT_IDX(v)]);
		seen[CASTLE_MAN_SLOT_IDX(v)] = true;
	}
	assert_int_equal(castle_man_slots_used(&f->maps), SLOTS);
	assert_int_equal(castle_man_slot_claim(&f->maps, 7), 7); /* none left */

	/* an entry written now has no slot and counts by the locked add */
	fx_manual_block(f, "198.18.5.5", 0);
	struct castle_block_val v;
	struct castle_cidr c;
	fx_cidr("198.18.5.5", &c);
	assert_int_equal(bpf_map_lookup_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &v), 0);
	assert_int_equal(v.class_slot, CASTLE_NO_CLASS);
	assert_int_equal(fx_run_spec_repeat(f, &a, 3), XDP_DROP);
	assert_int_equal(bpf_map_lookup_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &v), 0);
	assert_int_equal(v.hits, 3);
	assert_true(fx_block_entry(f, "198.18.5.5", &e));
	assert_int_equal(e.hits, 3);
	assert_int_equal(e.man_slot, 0);
}

static void sweep_frees_a_deleted_entrys_slot_after_two_sweeps_zeroed(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.1"), b = fx_udp4("198.18.5.2");
	struct castle_man_sweep s = { 0 };
	struct castle_cidr ca;
	struct castle_entry e;

	fx_manual_block(f, "198.18.5.1", 0);
	fx_manual_block(f, "198.18.5.2", 0);
	uint32_t sa = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.1"));
	uint32_t sb = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.2"));
	assert_int_not_equal(sa, sb);
	fx_run_spec_repeat(f, &a, 5);
	fx_run_spec_repeat(f, &b, 3);
	assert_int_equal(slot_sum(f, sa), 5);
	assert_int_equal(slot_sum(f, sb), 3);

	fx_cidr("198.18.5.1", &ca);
	assert_int_equal(castle_manual_block_del(&f->maps, &ca), 0);
	assert_int_equal(sweep(f, &s), 0);	/* unnamed once: not yet */
	assert_true(claimed(f, sa));
	assert_int_equal(slot_sum(f, sa), 5);
	assert_int_equal(sweep(f, &s), 1);	/* twice in a row: freed */
	assert_false(claimed(f, sa));
	assert_int_equal(slot_sum(f, sa), 0);	/* zeroed before it was freed */
	assert_int_equal(sweep(f, &s), 0);
	/* the live entry keeps its slot and its count */
	assert_true(claimed(f, sb));
	assert_true(fx_block_entry(f, "198.18.5.2", &e));
	assert_int_equal(e.hits, 3);
	assert_int_equal(castle_man_slots_used(&f->maps), 1);
	castle_man_sweep_free(&s);
}

/* A writer claims first and inserts after: a claim that a sweep finds
 * unnamed is spared until the next sweep finds it unnamed again. One never
 * written (its writer died, or its insert failed) is freed then. */
static void sweep_spares_a_claim_whose_entry_comes_late(void **state)
{
	struct fx *f = *state;
	struct castle_man_sweep s = { 0 };
	uint32_t late = castle_man_slot_claim(&f->maps, CASTLE_NO_CLASS);
	uint32_t lost = castle_man_slot_claim(&f->maps, CASTLE_NO_CLASS);
	struct castle_block_val v = { .origin = CASTLE_ORIGIN_MANUAL, .class_slot = late };
	uint8_t host[4] = { 198, 18, 5, 9 };

	assert_true(late & CASTLE_HIT_MAN);
	assert_true(lost & CASTLE_HIT_MAN);
	assert_int_equal(sweep(f, &s), 0);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], host, &v, BPF_NOEXIST), 0);
	assert_int_equal(sweep(f, &s), 1);	/* the lost claim only */
	assert_false(claimed(f, CASTLE_MAN_SLOT_IDX(lost)));
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(late)));
	assert_int_equal(sweep(f, &s), 0);
	assert_int_equal(sweep(f, &s), 0);
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(late)));
	castle_man_sweep_free(&s);
}

/* castlectl block add of an existing entry (a new TTL) writes a new value
 * with a new slot; the old slot is swept like a deleted entry's. */
static void overwrite_takes_a_new_slot_and_the_old_one_is_swept(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.3");
	struct castle_man_sweep s = { 0 };

	fx_manual_block(f, "198.18.5.3", 0);
	uint32_t first = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.3"));
	fx_run_spec_repeat(f, &a, 2);
	fx_manual_block(f, "198.18.5.3", 3600000 * MS);
	uint32_t second = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.3"));
	assert_int_not_equal(first, second);
	assert_int_equal(slot_sum(f, second), 0);
	assert_int_equal(sweep(f, &s), 0);
	assert_int_equal(sweep(f, &s), 1);
	assert_false(claimed(f, first));
	assert_true(claimed(f, second));
	castle_man_sweep_free(&s);
}

/* Ban after 3 drops in a row of a token per 100 ms: the 2nd..4th packet. */
static int ban_class(struct fx *f, uint64_t ban_ns)
{
	fx_begin(f);
	int c = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 10, 1);
	fx_class_ban(f, c, 3, ban_ns);
	fx_commit(f);
	return c;
}

static void autoban_claims_a_slot_in_the_program(void **state)
{
	struct fx *f = *state;
	struct pkt_spec t = fx_udp4("198.18.7.7");
	uint32_t mine = castle_man_slot_claim(&f->maps, CASTLE_NO_CLASS);
	struct castle_entry e;
	int c = ban_class(f, 3600000 * MS);

	assert_int_equal(fx_run_spec_repeat(f, &t, 4), XDP_DROP); /* 1 passes, 3 drop: banned */
	uint32_t v = raw_block4(f, "198.18.7.7");
	assert_int_equal(v & (CASTLE_HIT_SLOT | CASTLE_HIT_MAN), CASTLE_HIT_SLOT | CASTLE_HIT_MAN);
	assert_int_equal(v & 0xff, c);		/* the class that banned it stays */
	assert_int_not_equal(CASTLE_MAN_SLOT_IDX(v), CASTLE_MAN_SLOT_IDX(mine));
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(v)));
	assert_int_equal(castle_man_slots_used(&f->maps), 2);
	assert_int_equal(fx_run_spec_repeat(f, &t, 6), XDP_DROP);
	assert_int_equal(raw_block4(f, "198.18.7.7"), v);
	assert_int_equal(slot_sum(f, CASTLE_MAN_SLOT_IDX(v)), 6);
	assert_true(fx_block_entry(f, "198.18.7.7", &e));
	assert_int_equal(e.origin, CASTLE_ORIGIN_AUTO);
	assert_int_equal(e.class_slot, c);
	assert_int_equal(e.hits, 6);
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_AUTOBAN), 6);
}

static void autoban_without_a_free_slot_keeps_the_locked_add(void **state)
{
	struct fx *f = *state;
	struct pkt_spec t = fx_udp4("198.18.7.8");
	struct castle_block_val v;
	struct castle_cidr c4;
	struct castle_entry e;

	for (int i = 0; i < SLOTS; i++)
		castle_man_slot_claim(&f->maps, 0);
	int c = ban_class(f, 3600000 * MS);
	fx_run_spec_repeat(f, &t, 4);
	fx_run_spec_repeat(f, &t, 5);
	fx_cidr("198.18.7.8", &c4);
	assert_int_equal(bpf_map_lookup_elem(f->maps.man[CASTLE_MM_BLOCK4], c4.addr, &v), 0);
	assert_int_equal(v.class_slot, c);
	assert_int_equal(v.hits, 5);
	assert_true(fx_block_entry(f, "198.18.7.8", &e));
	assert_int_equal(e.class_slot, c);
	assert_int_equal(e.hits, 5);
}

static int count_cb(const struct castle_entry *e, void *arg)
{
	(void)e;
	(void)arg;
	return 0;
}

/* A ban that ran out is reaped (by castled's listing walk), and its slot
 * swept. */
static void reaped_autoban_slot_is_swept(void **state)
{
	struct fx *f = *state;
	struct pkt_spec t = fx_udp4("198.18.7.9");
	struct castle_man_sweep s = { 0 };
	struct castle_entry e;

	ban_class(f, 50 * MS);
	fx_run_spec_repeat(f, &t, 4);
	uint32_t slot = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.7.9"));
	fx_run_spec_repeat(f, &t, 2);
	assert_int_equal(slot_sum(f, slot), 2);
	assert_int_equal(sweep(f, &s), 0);
	usleep(100 * 1000);
	assert_false(fx_block_entry(f, "198.18.7.9", &e));
	assert_true(fx_manual_has(f, "198.18.7.9")); /* expired, not reaped yet */
	assert_int_equal(castle_block_foreach(&f->maps, true, count_cb, NULL), 0);
	assert_false(fx_manual_has(f, "198.18.7.9"));
	assert_int_equal(sweep(f, &s), 0);
	assert_int_equal(sweep(f, &s), 1);
	assert_false(claimed(f, slot));
	assert_int_equal(slot_sum(f, slot), 0);
	castle_man_sweep_free(&s);
}

/* With an age of 15 s, a slot unnamed since the sweep at t is freed by the
 * first sweep at t + 15 or later (castled sweeps each second, or slower with
 * a million entries; here every 5 s and less). */
static void sweep_waits_for_the_age(void **state)
{
	struct fx *f = *state;
	struct castle_man_sweep s = { .min_age_s = 15 };
	uint32_t v = castle_man_slot_claim(&f->maps, 0);

	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 100), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 105), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 114), 0);
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(v)));
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 115), 1);
	assert_false(claimed(f, CASTLE_MAN_SLOT_IDX(v)));
	/* named in between: the age starts again */
	v = castle_man_slot_claim(&f->maps, 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 200), 0);
	struct castle_block_val b = { .origin = CASTLE_ORIGIN_MANUAL, .class_slot = v };
	uint8_t host[4] = { 198, 18, 5, 10 };
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], host, &b, BPF_NOEXIST), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 210), 0);
	assert_int_equal(bpf_map_delete_elem(f->maps.man[CASTLE_MM_BLOCK4], host), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 220), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 230), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, 235), 1);
	castle_man_sweep_free(&s);
}

/* A write that fails (here the kernel refuses a /33) gives its slot back. */
static void failed_write_gives_its_slot_back(void **state)
{
	struct fx *f = *state;
	struct castle_cidr c;

	fx_cidr("198.18.5.0/33", &c);
	assert_int_not_equal(castle_manual_block_put(&f->maps, &c, 0, CASTLE_ORIGIN_MANUAL), 0);
	assert_int_not_equal(castle_manual_allow_put(&f->maps, &c), 0);
	assert_int_equal(castle_man_slots_used(&f->maps), 0);
}

/* The program looks at CASTLE_MAN_SLOT_TRIES words from the cursor: past a
 * full word it takes a bit of the next; with all of them full it gives up
 * (the locked add) though other words have room. */
static void program_claim_skips_full_words_then_gives_up(void **state)
{
	struct fx *f = *state;
	struct castle_man_slots_hdr *h = (void *)f->maps.man_slots_mem;
	struct pkt_spec a = fx_udp4("198.18.7.20"), b = fx_udp4("198.18.7.21");
	int c = ban_class(f, 3600000 * MS);

	h->cursor = 4;				/* words 5, 6, 7, 8 next */
	for (int w = 5; w < 5 + CASTLE_MAN_SLOT_TRIES - 1; w++)
		f->maps.man_slots_mem[w] = ~0ull;
	f->maps.man_slots_mem[5 + CASTLE_MAN_SLOT_TRIES - 1] = ~0ull >> 1; /* bit 63 free */
	fx_run_spec_repeat(f, &a, 4);
	uint32_t v = raw_block4(f, "198.18.7.20");
	assert_true(v & CASTLE_HIT_MAN);
	assert_int_equal(CASTLE_MAN_SLOT_IDX(v), (4 + CASTLE_MAN_SLOT_TRIES - 1) * 64 + 63);
	assert_int_equal(v & 0xff, c);

	h->cursor = 4;				/* the same words, all full now */
	fx_run_spec_repeat(f, &b, 4);
	assert_int_equal(raw_block4(f, "198.18.7.21") & ~0xffu, 0);
	assert_int_equal(castle_man_slots_used(&f->maps), CASTLE_MAN_SLOT_TRIES * 64);
}

/* A castlectl stalled between claim and insert for longer than the sweep's
 * age finds its slot freed by the time its entry is in: its last step takes
 * the slot back (the counts since the insert are its entry's). A sweep that
 * finds a named slot free takes it back too. */
static void writer_whose_slot_was_freed_takes_it_back(void **state)
{
	struct fx *f = *state;
	struct pkt_spec a = fx_udp4("198.18.5.14"), b = fx_udp4("198.18.6.14");
	struct castle_man_sweep s = { 0 };
	struct castle_cidr c, ca;
	struct castle_entry e;

	fx_manual_block(f, "198.18.5.14", 0);
	fx_manual_allow(f, "198.18.6.0/24");
	uint32_t v = raw_block4(f, "198.18.5.14");
	fx_cidr("198.18.5.14", &c);
	fx_cidr("198.18.6.0/24", &ca);
	assert_false(castle_man_slot_freed(&f->maps, v));
	assert_int_equal(castle_man_slot_verify(&f->maps, &c, false), 0);
	assert_int_equal(raw_block4(f, "198.18.5.14"), v);	/* still claimed: kept */

	/* the sweep freed both slots while their writers stalled */
	memset(f->maps.man_slots_mem + 1, 0, CASTLE_MAN_SLOTS_DEFAULT / 8);
	assert_true(castle_man_slot_freed(&f->maps, v));
	fx_run_spec_repeat(f, &a, 3);	/* counted in the slot meanwhile */
	assert_int_equal(castle_man_slot_verify(&f->maps, &c, false), 0);
	assert_int_equal(castle_man_slot_verify(&f->maps, &ca, true), 0);
	assert_false(castle_man_slot_freed(&f->maps, v));
	assert_int_equal(castle_man_slots_used(&f->maps), 2);
	assert_int_equal(raw_block4(f, "198.18.5.14"), v);
	fx_run_spec_repeat(f, &a, 2);
	fx_run_spec_repeat(f, &b, 2);
	assert_true(fx_block_entry(f, "198.18.5.14", &e));
	assert_int_equal(e.hits, 5);
	assert_int_equal(e.man_slot, CASTLE_MAN_SLOT_IDX(v) + 1);
	assert_true(fx_allow_entry(f, "198.18.6.0/24", &e));
	assert_int_equal(e.hits, 2);
	assert_true(e.man_slot);
	fx_cidr("198.18.9.0/24", &c);
	assert_int_equal(castle_man_slot_verify(&f->maps, &c, false), -ENOENT);

	/* the sweep's backstop: a named slot found free is taken again */
	memset(f->maps.man_slots_mem + 1, 0, CASTLE_MAN_SLOTS_DEFAULT / 8);
	assert_int_equal(sweep(f, &s), 0);
	assert_int_equal(castle_man_slots_used(&f->maps), 2);
	assert_false(castle_man_slot_freed(&f->maps, v));
	castle_man_sweep_free(&s);
}

/* An auto-ban the full map refuses gives its slot back: a source that
 * cannot be banned comes back every `after` drops, and must not drain the
 * bitmap meanwhile. */
static int small_setup(void **state)
{
	fx_man_entries = 1;
	fx_setup(state);
	fx_man_entries = 0;
	return 0;
}

static void refused_autoban_gives_its_slot_back(void **state)
{
	struct fx *f = *state;
	struct pkt_spec t = fx_udp4("198.18.7.30");

	fx_manual_block(f, "198.18.5.12", 0);		/* the map's one entry */
	assert_int_equal(castle_man_slots_used(&f->maps), 1);
	ban_class(f, 3600000 * MS);
	fx_run_spec_repeat(f, &t, 40);			/* 13 refused bans */
	assert_false(fx_manual_has(f, "198.18.7.30"));
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 39);
	assert_int_equal(castle_man_slots_used(&f->maps), 1);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 1);
}

/* A ban kept out by a live entry of its key (an operator's block written
 * after the packet's list check: uncounted here, so the check skips it)
 * gives its claimed slot back; in a trie (a /24 ban) too. */
static void ban_kept_out_by_a_live_entry_gives_its_slot_back(void **state)
{
	struct fx *f = *state;
	struct pkt_spec t = fx_udp4("198.18.7.40"), u = fx_udp4("198.18.9.41");
	struct castle_block_val man = { .origin = CASTLE_ORIGIN_MANUAL,
					.class_slot = CASTLE_NO_CLASS };
	struct castle_lpm4 l = { .prefixlen = 24 };
	struct castle_cidr c;

	man.created_ns = castle_now_boot_ns();
	fx_cidr("198.18.7.40", &c);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_BLOCK4], c.addr, &man,
					     BPF_NOEXIST), 0);
	fx_cidr("198.18.9.0/24", &c);
	memcpy(l.addr, c.addr, 4);
	assert_int_equal(bpf_map_update_elem(f->maps.man[CASTLE_MM_NET4], &l, &man, BPF_NOEXIST), 0);
	assert_int_equal(castle_man_slots_used(&f->maps), 0);

	ban_class(f, 3600000 * MS);
	assert_int_equal(fx_run_spec_repeat(f, &t, 4), XDP_DROP); /* a ban tried, kept out */
	assert_int_equal(raw_block4(f, "198.18.7.40"), CASTLE_NO_CLASS);
	assert_int_equal(castle_man_slots_used(&f->maps), 0);

	fx_begin(f);
	int k = fx_class(f, NULL, CASTLE_PROTO_ANY, NULL, 10, 1);
	fx_class_ban(f, k, 3, 3600000 * MS);
	fx_class_per(f, k, 24, 64);
	fx_commit(f);
	assert_int_equal(fx_run_spec_repeat(f, &u, 4), XDP_DROP);
	struct castle_block_val got;

	assert_int_equal(bpf_map_lookup_elem(f->maps.man[CASTLE_MM_NET4], &l, &got), 0);
	assert_int_equal(got.origin, CASTLE_ORIGIN_MANUAL);
	assert_int_equal(got.expires_ns, 0);
	assert_int_equal(castle_man_slots_used(&f->maps), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_BLOCK4), 0);
	assert_int_equal(castle_man_count_get(&f->maps, CASTLE_MM_NET4), 0);
}

/* castled at start: slots that entries name are marked taken (a man_slots
 * pinned anew beside older entries), so no one is handed them again. */
static void adopt_marks_the_slots_entries_name(void **state)
{
	struct fx *f = *state;

	fx_manual_block(f, "198.18.5.11", 0);
	fx_manual_allow(f, "198.18.6.0/24");
	assert_int_equal(castle_man_slots_used(&f->maps), 2);
	assert_int_equal(castle_man_slots_adopt(&f->maps), 0);	/* all marked already */
	/* a slot freed in the old bitmap but holding counts (its entry gone
	 * less than the sweep's age ago), and a live entry with counts */
	fx_manual_block(f, "198.18.5.13", 0);
	struct castle_cidr gone;
	struct pkt_spec a = fx_udp4("198.18.5.11"), g = fx_udp4("198.18.5.13");
	uint32_t live = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.11"));
	uint32_t old = CASTLE_MAN_SLOT_IDX(raw_block4(f, "198.18.5.13"));
	fx_run_spec_repeat(f, &a, 3);
	fx_run_spec_repeat(f, &g, 4);
	fx_cidr("198.18.5.13", &gone);
	assert_int_equal(castle_manual_block_del(&f->maps, &gone), 0);
	memset(f->maps.man_slots_mem + 1, 0, CASTLE_MAN_SLOTS_DEFAULT / 8); /* a new bitmap */
	assert_int_equal(castle_man_slots_adopt(&f->maps), 2);
	assert_true(claimed(f, live));
	assert_false(claimed(f, old));
	assert_int_equal(castle_man_slots_used(&f->maps), 2);
	assert_int_equal(slot_sum(f, live), 3);	/* a named slot keeps its count */
	assert_int_equal(slot_sum(f, old), 0);	/* a free one is zero again */
}

/* castled's sweep rides on its walk for saving (castle_persist_sync with a
 * sweep begun before it): a live entry's slot is seen and kept, a deleted
 * entry's is freed by the second sweep in a row; a walk that did not
 * complete frees nothing and starts every candidate over. */
static void sweep_rides_on_the_save_walk(void **state)
{
	struct fx *f = *state;
	struct castle_man_sweep s = { 0 };
	struct castle_persist p;
	struct castle_cidr live, gone;
	char dir[] = "/tmp/castle-man-slots.XXXXXX", err[256];
	uint32_t vl, vg;

	assert_non_null(mkdtemp(dir));
	assert_int_equal(castle_persist_init(&p, dir, err, sizeof(err)), 0);
	fx_cidr("198.18.5.20", &live);
	fx_cidr("198.18.5.21", &gone);
	assert_int_equal(castle_manual_block_put(&f->maps, &live, 0, CASTLE_ORIGIN_MANUAL), 0);
	assert_int_equal(castle_manual_block_put(&f->maps, &gone, 0, CASTLE_ORIGIN_MANUAL), 0);
	vl = raw_block4(f, "198.18.5.20");
	vg = raw_block4(f, "198.18.5.21");
	assert_int_equal(castle_manual_block_del(&f->maps, &gone), 0);

	for (int round = 0; round < 2; round++) {
		assert_int_equal(castle_man_sweep_begin(&f->maps, &s), 0);
		assert_true(castle_persist_sync(&p, &f->maps, true, NULL, &s, err, sizeof(err)) >= 0);
		assert_true(s.complete);
		assert_int_equal(castle_man_sweep_finish(&f->maps, &s, ++fake_now), round);
	}
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(vl)));
	assert_false(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));

	/* a slot claimed once the walk began is no candidate of that sweep
	 * (its entry may be behind the walk already): unnamed in the next two
	 * sweeps, the second frees it */
	assert_int_equal(castle_man_sweep_begin(&f->maps, &s), 0);
	vg = castle_man_slot_claim(&f->maps, 0); /* claimed, never written */
	assert_true(castle_persist_sync(&p, &f->maps, true, NULL, &s, err, sizeof(err)) >= 0);
	assert_int_equal(castle_man_sweep_finish(&f->maps, &s, ++fake_now), 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, ++fake_now), 0);
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, ++fake_now), 1);
	assert_false(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));

	/* an incomplete walk (one that failed) frees nothing and forgets */
	vg = castle_man_slot_claim(&f->maps, 0);
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, ++fake_now), 0);
	assert_int_equal(castle_man_sweep_begin(&f->maps, &s), 0);
	assert_int_equal(castle_man_sweep_finish(&f->maps, &s, ++fake_now), -ECANCELED);
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, ++fake_now), 0);
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));
	assert_int_equal(castle_man_slots_sweep(&f->maps, &s, ++fake_now), 1);
	assert_false(claimed(f, CASTLE_MAN_SLOT_IDX(vg)));
	assert_true(claimed(f, CASTLE_MAN_SLOT_IDX(vl)));

	castle_man_sweep_free(&s);
	assert_int_equal(castle_manual_block_del(&f->maps, &live), 0);
	assert_int_equal(unlink(p.path), 0);
	assert_int_equal(rmdir(dir), 0);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, fx_setup, fx_teardown)
	const struct CMUnitTest tests[] = {
		T(header_names_the_bitmap),
		T(claims_are_distinct_until_full_then_locked_add),
		T(sweep_frees_a_deleted_entrys_slot_after_two_sweeps_zeroed),
		T(sweep_spares_a_claim_whose_entry_comes_late),
		T(overwrite_takes_a_new_slot_and_the_old_one_is_swept),
		T(autoban_claims_a_slot_in_the_program),
		T(autoban_without_a_free_slot_keeps_the_locked_add),
		T(reaped_autoban_slot_is_swept),
		T(sweep_waits_for_the_age),
		T(failed_write_gives_its_slot_back),
		T(program_claim_skips_full_words_then_gives_up),
		T(adopt_marks_the_slots_entries_name),
		T(writer_whose_slot_was_freed_takes_it_back),
		T(sweep_rides_on_the_save_walk),
		T(ban_kept_out_by_a_live_entry_gives_its_slot_back),
		cmocka_unit_test_setup_teardown(refused_autoban_gives_its_slot_back, small_setup,
						fx_teardown),
	};
#undef T
	return cmocka_run_group_tests_name("man_slots", tests, NULL, NULL);
}
