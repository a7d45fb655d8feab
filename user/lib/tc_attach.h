/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tc_attach.h - attach castle's TC program at ingress: a TCX link (kernel
 * 6.6+) pinned so that it outlives the process, or, where the kernel has no
 * TCX, a direct-action filter on a clsact qdisc with castle's fixed handle
 * and priority. Re-attaching replaces castle's own previous program.
 */
#ifndef CASTLE_TC_ATTACH_H
#define CASTLE_TC_ATTACH_H

#include <stddef.h>

/* BPF_TCX_INGRESS: Debian 12's uapi headers predate it. */
#define CASTLE_BPF_TCX_INGRESS 46

/* The clsact filter castle owns (fallback mode). Priority 1: castle's verdict
 * comes before other filters'; its pass is TC_ACT_UNSPEC, so they still run. */
#define CASTLE_TC_HANDLE 0xca57
#define CASTLE_TC_PRIORITY 1

/* Attach prog_fd at ingress of ifindex. TCX: the link is pinned at
 * link_pin_path (an existing castle link there is updated in place, atomically).
 * Fallback: clsact + bpf_tc_attach. *mode_out = enum castle_tc_mode_id.
 * 0 or -errno with a message in err. */
int castle_tc_attach(int ifindex, int prog_fd, const char *link_pin_path, int *mode_out, char *err,
		     size_t errlen);

/* Remove what castle_tc_attach made: the pinned TCX link (detached, then
 * unpinned) and castle's clsact filter. The clsact qdisc stays: other
 * filters may live on it. Nothing attached is not an error. */
int castle_tc_detach(int ifindex, const char *link_pin_path, char *err, size_t errlen);

#endif
