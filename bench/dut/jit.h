/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * jit.h - castle-dut's jit command.
 */
#ifndef CASTLE_BENCH_JIT_H
#define CASTLE_BENCH_JIT_H

#include <linux/types.h>

/* Write loaded program `id`'s JIT image (every function, in order) to `out`
 * and print one JSON line: {"id", "image", "funcs": [{"addr", "len"}, ...]},
 * each function's kernel address and length in the image. 0 or -errno, with
 * a message on stderr. */
int dut_jit_dump(__u32 id, const char *out);

#endif /* CASTLE_BENCH_JIT_H */
