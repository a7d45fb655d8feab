// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_tc_attach.c - castle_tc_attach / castle_tc_detach against the kernel,
 * on a veth pair in a private network namespace (unshare(CLONE_NEWNET): no
 * interface of the host is touched) with trivial programs, so the clsact
 * path is exercised on a kernel that has TCX. Proves: clsact creates the
 * qdisc and records it as castle's; a re-attach (auto) replaces castle's
 * filter in place, keeps clsact and the ownership, and stacks no TCX link;
 * the other mode is refused while one is attached; detach removes the
 * filter and castle's qdisc, but not a qdisc that still holds a foreign
 * filter nor one castle did not create; an attach the kernel refuses (a
 * program of the wrong type) removes the qdisc it created and leaves no
 * filter, and in auto mode no TCX link pin either. Needs root.
 */
#include <errno.h>
#include <net/if.h>
#include <sched.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/stat.h>
#include <cmocka.h>
#include "../private_veth.h"
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>

#include "tc_attach.h"

#define IF_A "ut-tca0"
#define IF_B "ut-tca1"

static char link_pin[256];
static int ifindex, cls_fd = -1, xdp_fd = -1;
static char err[512];

/* A program returning ret: r0 = ret; exit. */
static int trivial_prog(enum bpf_prog_type type, int ret)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = ret },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	/* The name castle_tc_attach recognizes as castle's. */
	return bpf_prog_load(type, "castle_tc", "GPL", insns, 2, NULL);
}

static int has_clsact(void)
{
	return sh("tc qdisc show dev " IF_A " | grep -q '^qdisc clsact'") == 0;
}

/* Does this kernel have TCX? A link of the trivial TC program on IF_B's
 * ingress, closed at once (unpinned, it goes with its fd): the errors that
 * mean "no such attach type" say no, anything else is a real failure. */
static int have_tcx(void)
{
	int fd = bpf_link_create(cls_fd, if_nametoindex(IF_B), CASTLE_BPF_TCX_INGRESS, NULL);

	if (fd >= 0) {
		close(fd);
		return 1;
	}
	if (errno == EINVAL || errno == EOPNOTSUPP || errno == 524 /* ENOTSUPP */) {
		fprintf(stderr, "no TCX here: %s\n", strerror(errno));
		return 0;
	}
	fail_msg("TCX probe: bpf_link_create: %s", strerror(errno));
	return 0;
}

static int setup(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	if (private_veth(IF_A, IF_B))
		return -1;
	ifindex = if_nametoindex(IF_A);
	snprintf(link_pin, sizeof(link_pin), "/sys/fs/bpf/castle-utest-tc-link-%d", getpid());
	cls_fd = trivial_prog(BPF_PROG_TYPE_SCHED_CLS, -1 /* TC_ACT_UNSPEC */);
	xdp_fd = trivial_prog(BPF_PROG_TYPE_XDP, 2 /* XDP_PASS */);
	return ifindex && cls_fd >= 0 && xdp_fd >= 0 ? 0 : -1;
}

static int teardown(void **state)
{
	(void)state;
	if (geteuid() != 0)
		return 0;
	unlink(link_pin);
	if (cls_fd >= 0)
		close(cls_fd);
	if (xdp_fd >= 0)
		close(xdp_fd);
	/* The namespace and its veth go with the process. */
	sh("ip link del " IF_A " 2>/dev/null");
	return 0;
}

#define NEED_ROOT()                                      \
	do {                                             \
		if (geteuid() != 0) {                    \
			fprintf(stderr, "needs root\n"); \
			skip();                          \
		}                                        \
	} while (0)

static void test_clsact_attach_adopt_detach(void **state)
{
	uint32_t mode = 0;

	(void)state;
	NEED_ROOT();
	assert_false(has_clsact());
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_CLSACT, &mode,
					  err, sizeof(err)),
			 0);
	assert_int_equal(mode, CASTLE_TCM_CLSACT | CASTLE_TCM_F_OWN_QDISC);
	assert_true(has_clsact());
	assert_int_equal(sh("tc filter show dev " IF_A
			    " ingress | grep -c 'handle 0xca57 castle_tc' | grep -qx 1"),
			 0);

	/* A restart in auto mode, with a new program: replaced in place (the
	 * filter now runs the new one), still clsact, still castle's qdisc, and
	 * no TCX link on top. */
	int cls2 = trivial_prog(BPF_PROG_TYPE_SCHED_CLS, -1);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, q, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY);

	assert_true(cls2 >= 0);
	assert_int_equal(bpf_obj_get_info_by_fd(cls2, &info, &len), 0);
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls2, link_pin, CASTLE_TC_AUTO, &mode,
					  err, sizeof(err)),
			 1);
	assert_int_equal(bpf_tc_query(&hook, &q), 0);
	assert_int_equal(q.prog_id, info.id);
	close(cls2);
	assert_int_equal(mode, CASTLE_TCM_CLSACT | CASTLE_TCM_F_OWN_QDISC);
	assert_int_equal(access(link_pin, F_OK), -1);
	assert_int_equal(sh("tc filter show dev " IF_A
			    " ingress | grep -c 'handle 0xca57 castle_tc' | grep -qx 1"),
			 0);

	/* TCX asked for while the clsact filter is there: refused. */
	err[0] = 0;
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_TCX, &mode, err,
					  sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "attached there with clsact"));
	assert_int_equal(access(link_pin, F_OK), -1);

	assert_int_equal(castle_tc_detach(ifindex, link_pin, mode, err, sizeof(err)), 0);
	assert_int_equal(castle_tc_count_filters(ifindex), 0);
	assert_false(has_clsact());
}

static void test_detach_keeps_a_qdisc_with_a_foreign_filter(void **state)
{
	uint32_t mode = 0;

	(void)state;
	NEED_ROOT();
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_CLSACT, &mode,
					  err, sizeof(err)),
			 0);
	assert_true(mode & CASTLE_TCM_F_OWN_QDISC);
	assert_int_equal(sh("tc filter add dev " IF_A " egress pref 7 protocol ip u32 match ip dst "
			    "198.19.255.255/32 flowid 1:1"),
			 0);
	assert_int_equal(castle_tc_detach(ifindex, link_pin, mode, err, sizeof(err)), 0);
	assert_true(has_clsact());
	assert_int_equal(sh("tc filter show dev " IF_A " ingress | grep -q castle_tc"), 1);
	assert_int_equal(sh("tc filter show dev " IF_A " egress | grep -q 'pref 7 u32'"), 0);

	/* Now the qdisc is not castle's: attach and detach leave it. */
	sh("tc filter del dev " IF_A " egress pref 7");
	assert_int_equal(castle_tc_count_filters(ifindex), 0);
	mode = 0;
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_CLSACT, &mode,
					  err, sizeof(err)),
			 0);
	assert_int_equal(mode, CASTLE_TCM_CLSACT);
	assert_int_equal(castle_tc_detach(ifindex, link_pin, mode, err, sizeof(err)), 0);
	assert_int_equal(castle_tc_count_filters(ifindex), 0);
	assert_true(has_clsact());
	sh("tc qdisc del dev " IF_A " clsact");
}

/* castlectl unload on an interface where another BPF program holds castle's
 * handle and priority (castle's filter gone): that program stays. */
static void test_detach_leaves_a_foreign_program_at_castles_slot(void **state)
{
	struct bpf_insn insns[] = {
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = -1 },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	int other = bpf_prog_load(BPF_PROG_TYPE_SCHED_CLS, "not_castle", "GPL", insns, 2, NULL);
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY);

	(void)state;
	NEED_ROOT();
	assert_true(other >= 0);
	bpf_tc_hook_create(&hook);
	opts.prog_fd = other;
	assert_int_equal(bpf_tc_attach(&hook, &opts), 0);
	assert_int_equal(castle_tc_detach(ifindex, link_pin, CASTLE_TCM_CLSACT, err, sizeof(err)),
			 0);
	assert_int_equal(sh("tc filter show dev " IF_A " ingress | grep -q not_castle"), 0);
	sh("tc qdisc del dev " IF_A " clsact");
	close(other);
}

static void test_failed_attach_leaves_nothing(void **state)
{
	uint32_t mode = 0;
	int ret;

	(void)state;
	NEED_ROOT();
	assert_false(has_clsact());
	/* The kernel refuses an XDP program as a cls_bpf filter: after the
	 * qdisc was created for it. */
	ret = castle_tc_attach(IF_A, ifindex, xdp_fd, link_pin, CASTLE_TC_CLSACT, &mode, err,
			       sizeof(err));
	assert_true(ret < 0);
	assert_non_null(strstr(err, "attach TC filter"));
	assert_false(has_clsact());
	assert_int_equal(mode, 0);

	/* auto: TCX refuses it too (EINVAL reads as "no TCX"), then clsact. */
	ret = castle_tc_attach(IF_A, ifindex, xdp_fd, link_pin, CASTLE_TC_AUTO, &mode, err,
			       sizeof(err));
	assert_true(ret < 0);
	assert_false(has_clsact());
	assert_int_equal(access(link_pin, F_OK), -1);
}

static void test_tcx_then_clsact_refused(void **state)
{
	uint32_t mode = 0;

	(void)state;
	NEED_ROOT();
	if (!have_tcx())
		skip();
	if (castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_TCX, &mode, err,
			     sizeof(err)))
		fail_msg("TCX attach on a kernel with TCX: %s", err);
	assert_int_equal(mode, CASTLE_TCM_TCX);
	assert_int_equal(access(link_pin, F_OK), 0);
	/* auto keeps TCX: replaced in place. */
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_AUTO, &mode,
					  err, sizeof(err)),
			 1);
	assert_int_equal(mode, CASTLE_TCM_TCX);
	err[0] = 0;
	assert_int_equal(castle_tc_attach(IF_A, ifindex, cls_fd, link_pin, CASTLE_TC_CLSACT, &mode,
					  err, sizeof(err)),
			 -EEXIST);
	assert_non_null(strstr(err, "attached there with tcx"));
	assert_false(has_clsact());
	assert_int_equal(castle_tc_detach(ifindex, link_pin, mode, err, sizeof(err)), 0);
	assert_int_equal(access(link_pin, F_OK), -1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_clsact_attach_adopt_detach),
		cmocka_unit_test(test_detach_keeps_a_qdisc_with_a_foreign_filter),
		cmocka_unit_test(test_detach_leaves_a_foreign_program_at_castles_slot),
		cmocka_unit_test(test_failed_attach_leaves_nothing),
		cmocka_unit_test(test_tcx_then_clsact_refused),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
