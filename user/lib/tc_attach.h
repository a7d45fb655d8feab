/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tc_attach.h - attach castle's TC program at ingress: a TCX link (kernel
 * 6.6+) pinned so that it outlives the process, or a direct-action filter on
 * a clsact qdisc with castle's fixed handle and priority (kernels without
 * TCX, or when asked for). Re-attaching replaces castle's own previous
 * program in place, in the mode it already runs in.
 */
#ifndef CASTLE_TC_ATTACH_H
#define CASTLE_TC_ATTACH_H

#include <stddef.h>
#include <stdint.h>
#include "loader.h"

/* BPF_TCX_INGRESS: Debian 12's uapi headers predate it. */
#define CASTLE_BPF_TCX_INGRESS 46

/* The clsact filter castle owns. Priority 1: castle's verdict comes before
 * other filters'; its pass is TC_ACT_UNSPEC, so they still run. */
#define CASTLE_TC_HANDLE 0xca57
#define CASTLE_TC_PRIORITY 1

/* Attach prog_fd at ingress of ifindex (ifname for messages).
 *  - castle's program already attached there (a pinned TCX link at
 *    link_pin_path on this device, or a castle filter at castle's clsact
 *    handle and priority): replaced in place, atomically, in that mode.
 *    A req naming the other mode is refused (-EEXIST): the two would stack.
 *  - nothing of castle's: TCX (pinned at link_pin_path) for CASTLE_TC_TCX,
 *    clsact for CASTLE_TC_CLSACT, TCX else clsact for CASTLE_TC_AUTO.
 * *mode: on entry the tc_mode castle recorded for this interface (0 if
 * none), so that an adopted clsact filter keeps CASTLE_TCM_F_OWN_QDISC; on
 * success the mode now in use, with CASTLE_TCM_F_OWN_QDISC when castle
 * created the clsact qdisc. A failure leaves nothing behind that this call
 * made: no link, no pin, no filter, no qdisc.
 * Returns 0 attached anew, 1 replaced castle's program in place, or -errno
 * with a message in err. */
int castle_tc_attach(const char *ifname, int ifindex, int prog_fd, const char *link_pin_path,
		     enum castle_tc_req req, uint32_t *mode, char *err, size_t errlen);

/* Remove what castle_tc_attach made: the pinned TCX link (detached, then
 * unpinned) and castle's clsact filter; the clsact qdisc too when mode (as
 * recorded) has CASTLE_TCM_F_OWN_QDISC and no filter is left on it, ingress
 * or egress (another's qdisc, or one with other filters, stays). Nothing
 * attached is not an error. */
int castle_tc_detach(int ifindex, const char *link_pin_path, uint32_t mode, char *err,
		     size_t errlen);

/* Filters on ifindex's clsact qdisc, ingress and egress together (0 when
 * there is no qdisc), or -errno. */
int castle_tc_count_filters(int ifindex);

#endif
