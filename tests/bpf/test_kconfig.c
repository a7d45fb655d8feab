// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_kconfig.c - the programs read CONFIG_HZ (castle_tick_ns) from the
 * kernel's config, which libbpf needs to find (/boot/config-RELEASE or
 * /proc/config.gz) or it refuses to load the object. Containers and minimal
 * images often have neither: castle_kconfig() then hands libbpf a stand-in
 * (HZ unknown, the coarse clock instead of jiffies), and the gate loads and
 * works. Proven in a child process with a private mount namespace that hides
 * both files.
 */
#include <errno.h>
#include <sched.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <cmocka.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "fixture_tc.h"
#include "loader.h"

#define MS 1000000ull

/* In the child: hide the kernel config, then load both programs and run a
 * blocked and a clean packet. Returns the exit code: 0 ok, else the step. */
static int without_kernel_config(void)
{
	struct pkt_spec bad = { .family = 4, .src = "198.18.66.1", .proto = 17, .sport = 1000,
				.dport = 53 };
	struct pkt_spec good = bad;
	struct castle_entry e;
	struct fx f;
	struct ftc t;
	struct stat st;

	good.src = "198.18.1.1";
	if (unshare(CLONE_NEWNS) || mount(NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL))
		return 10;
	if (mount("none", "/proc", "tmpfs", 0, NULL))
		return 11;
	if (stat("/boot", &st) == 0 && mount("none", "/boot", "tmpfs", 0, NULL))
		return 12;
	if (!castle_kconfig())
		return 13; /* the stand-in was not chosen */

	fx_open(&f, 0); /* exits 1 when the load fails */
	fx_begin(&f);
	fx_block(&f, "198.18.66.0/24", 0);
	fx_commit(&f);
	uint64_t t0 = castle_now_boot_ns();
	if (fx_run_spec(&f, &bad) != XDP_DROP || fx_run_spec(&f, &good) != XDP_PASS)
		return 14;
	uint64_t t1 = castle_now_boot_ns();
	/* the coarse clock: last_hit within a tick of the run */
	if (!fx_block_entry(&f, "198.18.66.0/24", &e) || e.hits != 1 ||
	    e.last_hit_ns + 10 * MS < t0 || e.last_hit_ns > t1 + 10 * MS)
		return 15;
	if (fx_count(&f, CASTLE_DROP, CASTLE_R_BLOCKLIST) != 1 ||
	    fx_count(&f, CASTLE_PASS, CASTLE_R_OK) != 1)
		return 16;
	/* An offset measured for jiffies (low bit 1: left by a program that
	 * read CONFIG_HZ, still attached while this one loads) is measured
	 * again for the coarse clock, not added to it. */
	struct castle_state cs;
	uint32_t zero = 0;

	if (bpf_map_lookup_elem(f.maps.state, &zero, &cs) || (cs.tick_to_mono & 1))
		return 17;
	cs.tick_to_mono = (1ull << 60) | 1;
	if (bpf_map_update_elem(f.maps.state, &zero, &cs, BPF_ANY))
		return 17;
	t0 = castle_now_boot_ns();
	if (fx_run_spec(&f, &bad) != XDP_DROP)
		return 18;
	t1 = castle_now_boot_ns();
	if (!fx_block_entry(&f, "198.18.66.0/24", &e) || e.hits != 2 ||
	    e.last_hit_ns + 10 * MS < t0 || e.last_hit_ns > t1 + 10 * MS)
		return 19;
	if (bpf_map_lookup_elem(f.maps.state, &zero, &cs) || (cs.tick_to_mono & 1))
		return 20;
	fx_close(&f);

	ftc_open(&t, 0, 0);
	ftc_close(&t);
	return 0;
}

static void loads_and_works_without_kernel_config(void **state)
{
	(void)state;
	pid_t pid = fork();
	int status;

	assert_true(pid >= 0);
	if (pid == 0)
		_exit(without_kernel_config());
	assert_int_equal(waitpid(pid, &status, 0), pid);
	assert_true(WIFEXITED(status));
	if (WEXITSTATUS(status))
		fail_msg("child failed at step %d", WEXITSTATUS(status));
}

/* Where the config is readable, libbpf reads it: no stand-in. */
static void no_stand_in_when_the_config_is_readable(void **state)
{
	(void)state;
	if (access("/proc/config.gz", R_OK) != 0)
		skip();
	assert_null(castle_kconfig());
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(loads_and_works_without_kernel_config),
		cmocka_unit_test(no_stand_in_when_the_config_is_readable),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
