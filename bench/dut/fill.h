/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fill.h - castle-dut's --fill.
 */
#ifndef CASTLE_BENCH_FILL_H
#define CASTLE_BENCH_FILL_H

#include <bpf/libbpf.h>

/* Put `count` consecutive addresses from `fill` (IPv4 or IPv6) into the
 * object's hash4 or hash6: castle-gen's pool (it counts up from --src; a run
 * that would carry out of the last 32 bits is refused, so the two agree).
 * 0 or -errno, with a message on stderr. */
int dut_fill_hash(struct bpf_object *bo, const char *fill, unsigned long count);

#endif /* CASTLE_BENCH_FILL_H */
