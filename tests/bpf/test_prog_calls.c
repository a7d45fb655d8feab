// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_prog_calls.c - every map lookup of both programs is on a map the
 * verifier knows at that instruction. It then inlines an array's lookup or
 * calls the map type's own lookup directly. When the compiler merges two
 * lookups of different maps into one call (castle_hit's two hit-slot arrays,
 * the allowlists' policy and manual tries), the verifier keeps the generic
 * helper: a helper call, then an indirect call through the map's ops, which
 * costs a retpoline on hosts that use them. A merge is invisible in the C
 * source, so this reads the programs as the kernel runs them.
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

#include "fixture.h"
#include "fixture_tc.h"

/* The address of kernel symbol `name` (a text symbol), or 0. */
static unsigned long long ksym(const char *name)
{
	FILE *f = fopen("/proc/kallsyms", "r");
	char line[512], sym[256], type;
	unsigned long long addr, found = 0;

	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%llx %c %255s", &addr, &type, sym) == 3 && !strcmp(sym, name)) {
			found = addr;
			break;
		}
	}
	fclose(f);
	return found;
}

/* The imm a helper call to bpf_map_lookup_elem has once the verifier fixed
 * the program up: the helper's offset from __bpf_call_base. */
static int32_t generic_lookup_imm(void)
{
	unsigned long long base = ksym("__bpf_call_base"), fn = ksym("bpf_map_lookup_elem");

	if (!base || !fn)
		fail_msg("/proc/kallsyms lacks __bpf_call_base or bpf_map_lookup_elem "
			 "(kptr_restrict hides addresses from this user?)");
	return (int32_t)(fn - base);
}

/* Without the JIT the verifier inlines no lookup and calls every one through
 * the generic helper: castle runs, slower, and this test has nothing to say. */
static void need_jit(void)
{
	FILE *f = fopen("/proc/sys/net/core/bpf_jit_enable", "r");
	int on = 1;

	if (f) {
		if (fscanf(f, "%d", &on) != 1)
			on = 1;
		fclose(f);
	}
	if (!on)
		fail_msg("net.core.bpf_jit_enable is 0: without the JIT every map lookup goes "
			 "through the generic helper; enable it to run this test");
}

/* How many calls of program `fd` (xlated, as the kernel runs it) go to the
 * generic bpf_map_lookup_elem; *calls gets the number of helper calls. */
static int generic_lookups(int fd, int *calls)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	int32_t imm = generic_lookup_imm();
	int n = 0;

	need_jit();
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	assert_true(info.xlated_prog_len > 0);

	__u32 cnt = info.xlated_prog_len / sizeof(struct bpf_insn);
	struct bpf_insn *insns = calloc(cnt, sizeof(*insns));

	assert_non_null(insns);
	memset(&info, 0, sizeof(info));
	info.xlated_prog_len = cnt * sizeof(*insns);
	info.xlated_prog_insns = (__u64)(unsigned long)insns;
	len = sizeof(info);
	assert_int_equal(bpf_obj_get_info_by_fd(fd, &info, &len), 0);
	*calls = 0;
	for (__u32 i = 0; i < cnt; i++) {
		if (insns[i].code != (BPF_JMP | BPF_CALL) || insns[i].src_reg != 0)
			continue; /* not a helper call (bpf-to-bpf calls have src_reg 1) */
		(*calls)++;
		if (insns[i].imm == imm)
			n++;
	}
	/* A kernel that hides raw addresses zeroes every call's imm. */
	if (*calls && imm)
		for (__u32 i = 0; i < cnt; i++)
			if (insns[i].code == (BPF_JMP | BPF_CALL) && insns[i].src_reg == 0 &&
			    insns[i].imm == 0)
				fail_msg("xlated calls have no targets (raw dump not allowed)");
	free(insns);
	return n;
}

static void xdp_has_no_generic_lookup(void **state)
{
	struct fx *f = *state;
	int calls, n = generic_lookups(f->prog_fd, &calls);

	assert_true(calls > 10); /* the program was read: it calls helpers */
	if (n)
		fail_msg("castle_xdp calls the generic bpf_map_lookup_elem %d time(s): "
			 "two lookups of different maps were merged into one call "
			 "(bpftool prog dump xlated shows where)", n);
}

static void tc_has_no_generic_lookup(void **state)
{
	struct ftc *t = *state;
	int calls, n = generic_lookups(t->prog_fd, &calls);

	assert_true(calls > 10);
	if (n)
		fail_msg("castle_tc calls the generic bpf_map_lookup_elem %d time(s)", n);
}

/* The check itself can fail: a program whose one lookup is on a map chosen
 * at run time has the generic call. */
static void a_merged_lookup_is_seen(void **state)
{
	struct fx *f = *state;
	int a = f->maps.state, b = f->maps.ifslot;
	struct bpf_insn prog[] = {
		/* r6 = ctx->ingress_ifindex; pick a map by its low bit at run time */
		{ .code = BPF_LDX | BPF_MEM | BPF_W, .dst_reg = BPF_REG_6, .src_reg = BPF_REG_1,
		  .off = offsetof(struct xdp_md, ingress_ifindex) },
		{ .code = BPF_ALU64 | BPF_AND | BPF_K, .dst_reg = BPF_REG_6, .imm = 1 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = a },
		{ 0 },
		{ .code = BPF_JMP | BPF_JEQ | BPF_K, .dst_reg = BPF_REG_6, .imm = 0, .off = 2 },
		{ .code = BPF_LD | BPF_DW | BPF_IMM, .dst_reg = BPF_REG_1,
		  .src_reg = BPF_PSEUDO_MAP_FD, .imm = b },
		{ 0 },
		/* *(u32 *)(fp - 4) = 0; r2 = fp - 4 */
		{ .code = BPF_ST | BPF_MEM | BPF_W, .dst_reg = BPF_REG_10, .off = -4, .imm = 0 },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_X, .dst_reg = BPF_REG_2, .src_reg = BPF_REG_10 },
		{ .code = BPF_ALU64 | BPF_ADD | BPF_K, .dst_reg = BPF_REG_2, .imm = -4 },
		{ .code = BPF_JMP | BPF_CALL, .imm = BPF_FUNC_map_lookup_elem },
		{ .code = BPF_ALU64 | BPF_MOV | BPF_K, .dst_reg = BPF_REG_0, .imm = XDP_PASS },
		{ .code = BPF_JMP | BPF_EXIT },
	};
	static char log[16384];
	LIBBPF_OPTS(bpf_prog_load_opts, o, .log_buf = log, .log_size = sizeof(log), .log_level = 1);
	int calls, fd = bpf_prog_load(BPF_PROG_TYPE_XDP, "castle_merged", "GPL", prog,
				      sizeof(prog) / sizeof(prog[0]), &o);

	if (fd < 0)
		fail_msg("load: %s\n%s", strerror(errno), log);
	assert_int_equal(generic_lookups(fd, &calls), 1);
	close(fd);
}

static int tc_setup(void **state)
{
	static struct ftc t;

	if (ftc_open(&t, 0, 0))
		return -1;
	*state = &t;
	return 0;
}

static int tc_teardown(void **state)
{
	ftc_close(*state);
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(xdp_has_no_generic_lookup, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(a_merged_lookup_is_seen, fx_setup, fx_teardown),
		cmocka_unit_test_setup_teardown(tc_has_no_generic_lookup, tc_setup, tc_teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
