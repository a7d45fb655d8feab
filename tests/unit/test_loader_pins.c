// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_loader_pins.c - castle_loader_open sizes the maps it creates to the
 * host and keeps the size of the ones already pinned: block_hits gets two
 * banks of castle_hit_bank() slots (4 MiB of per-CPU counters, clamped to
 * 256..65536 slots per bank), man_hits castle_man_slots() (2 MiB, clamped
 * to 1024..65536) with man_slots one bit each after its header, and a
 * block_hits or man_hits pinned at another size (an older or newer build's)
 * is adopted, not refused. Private pin directory; needs root (BPF).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "pinned_skel.h"

static char pin[128];

static uint32_t entries_of(int fd)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);

	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	return info.max_entries;
}

static uint32_t hits_entries(const struct castle_loader *l)
{
	return entries_of(l->maps.block_hits);
}

static void open_loader(struct castle_loader *l)
{
	char err[512];

	if (castle_loader_open(l, pin, 1024, err, sizeof(err)))
		fail_msg("castle_loader_open: %s", err);
}

static void test_hit_bank_sized_to_the_host(void **state)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t want = (4ull << 20) / (2 * 8 * (uint64_t)ncpu);
	struct castle_loader l;

	(void)state;
	UT_NEED_ROOT();
	want = want > 65536 ? 65536 : want < 256 ? 256 : want;
	assert_int_equal(castle_hit_bank(), want);
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/castle-utest-loader-%d", getpid());
	open_loader(&l);
	assert_int_equal(hits_entries(&l), 2 * want);
	assert_int_equal(castle_hit_bank_of(&l.maps), want);
	castle_loader_close(&l);
	ut_rm_dir(pin);
}

/* A per-CPU array of u64 pinned as NAME in a fresh pin directory, as another
 * build would have left it. */
static void pin_per_cpu_array(const char *name, uint32_t entries)
{
	char path[256];
	int fd;

	snprintf(pin, sizeof(pin), "/sys/fs/bpf/castle-utest-loader-%d", getpid());
	mkdir(pin, 0700);
	snprintf(path, sizeof(path), "%s/%s", pin, name);
	fd = bpf_map_create(BPF_MAP_TYPE_PERCPU_ARRAY, name, 4, 8, entries, NULL);
	assert_true(fd >= 0);
	assert_int_equal(bpf_obj_pin(fd, path), 0);
	close(fd);
}

static void test_pinned_hit_bank_adopted(void **state)
{
	struct castle_loader l;

	(void)state;
	UT_NEED_ROOT();
	pin_per_cpu_array(CASTLE_MAP_BLOCK_HITS, 600);
	open_loader(&l);
	assert_int_equal(hits_entries(&l), 600);
	assert_int_equal(castle_hit_bank_of(&l.maps), 300);
	castle_loader_close(&l);
	ut_rm_dir(pin);
}

static void test_man_slots_sized_to_the_host(void **state)
{
	int ncpu = libbpf_num_possible_cpus();
	uint64_t want = (2ull << 20) / (8 * (uint64_t)ncpu);
	struct castle_loader l;

	(void)state;
	UT_NEED_ROOT();
	want = (want > 65536 ? 65536 : want < 1024 ? 1024 : want) & ~63ull;
	assert_int_equal(castle_man_slots(), want);
	/* the README's figures, and a CPU count that is no power of two */
	assert_int_equal(castle_man_slots_for(1), 65536);
	assert_int_equal(castle_man_slots_for(4), 65536);
	assert_int_equal(castle_man_slots_for(32), 8192);
	assert_int_equal(castle_man_slots_for(48), 5440);
	assert_int_equal(castle_man_slots_for(256), 1024);
	assert_int_equal(castle_man_slots_for(4096), 1024);
	snprintf(pin, sizeof(pin), "/sys/fs/bpf/castle-utest-loader-%d", getpid());
	open_loader(&l);
	assert_int_equal(entries_of(l.maps.man_hits), want);
	assert_int_equal(entries_of(l.maps.man_slots), 1 + want / 64);
	assert_non_null(l.maps.man_slots_mem);
	assert_int_equal(((struct castle_man_slots_hdr *)l.maps.man_slots_mem)->words, want / 64);
	castle_loader_close(&l);
	ut_rm_dir(pin);
}

/* A pinned man_hits keeps its size, and man_slots (created here) follows it;
 * a claim from the reopened pins sees the claims of the first opener. */
static void test_pinned_man_hits_adopted(void **state)
{
	char err[512];
	struct castle_loader l;
	struct castle_maps m;
	uint32_t a, b;

	(void)state;
	UT_NEED_ROOT();
	pin_per_cpu_array(CASTLE_MAP_MAN_HITS, 2048);
	open_loader(&l);
	assert_int_equal(entries_of(l.maps.man_hits), 2048);
	assert_int_equal(entries_of(l.maps.man_slots), 1 + 32);
	a = castle_man_slot_claim(&l.maps, 0);
	assert_int_equal(castle_maps_open_pinned(pin, &m, err, sizeof(err)), 0);
	b = castle_man_slot_claim(&m, 0);
	assert_true(a & CASTLE_HIT_MAN);
	assert_true(b & CASTLE_HIT_MAN);
	assert_int_not_equal(a, b);
	assert_int_equal(castle_man_slots_used(&m), 2);
	castle_maps_close(&m);
	castle_loader_close(&l);
	ut_rm_dir(pin);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hit_bank_sized_to_the_host),
		cmocka_unit_test(test_pinned_hit_bank_adopted),
		cmocka_unit_test(test_man_slots_sized_to_the_host),
		cmocka_unit_test(test_pinned_man_hits_adopted),
	};

	libbpf_set_print(NULL);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
