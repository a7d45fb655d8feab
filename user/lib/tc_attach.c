// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tc_attach.c - see tc_attach.h. */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <linux/netlink.h>
#include <linux/pkt_sched.h>
#include <linux/rtnetlink.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <castle/castle.h>

#include "tc_attach.h"

/* Newer than Debian 12's uapi headers. In struct bpf_link_info, tcx.ifindex
 * is the first word of the union, where xdp.ifindex is. */
#define CASTLE_BPF_LINK_TYPE_TCX 11

#ifndef ENOTSUPP
#define ENOTSUPP 524
#endif

/* The name of castle's TC program (SEC("tc") int castle_tc in castle_tc.bpf.c). */
#define TC_PROG_NAME "castle_tc"

/* Errors that mean "this kernel has no TCX", not "this attach failed". */
static int no_tcx(int e)
{
	return e == EINVAL || e == EOPNOTSUPP || e == ENOTSUPP || e == ENOSYS;
}

/* ---- what is there ------------------------------------------------------- */

/* castle's TCX link pinned at pin and attached to ifindex: 1 with its fd in
 * *fd_out, or 0. A pin of anything else (the interface is gone, or it is
 * another device's) is stale: it is removed. */
static int tcx_find(int ifindex, const char *pin, int *fd_out)
{
	struct bpf_link_info info = {};
	__u32 len = sizeof(info);
	int fd = bpf_obj_get(pin);

	*fd_out = -1;
	if (fd < 0)
		return 0;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == CASTLE_BPF_LINK_TYPE_TCX &&
	    info.xdp.ifindex == (__u32)ifindex) {
		*fd_out = fd;
		return 1;
	}
	close(fd);
	unlink(pin);
	return 0;
}

/* The filter at castle's clsact handle and priority on ifindex: 1 when it is
 * castle's program, 0 when there is none (or no clsact qdisc, or a filter of
 * another kind there: attaching will say so), -EEXIST with a message when
 * another BPF program holds castle's place. */
static int clsact_find(const char *ifname, int ifindex, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	libbpf_print_fn_t print;
	int ret, fd;

	/* No clsact qdisc is the usual case: keep libbpf from printing the
	 * kernel's complaint about it. */
	print = libbpf_set_print(NULL);
	ret = bpf_tc_query(&hook, &opts);
	libbpf_set_print(print);
	if (ret || !opts.prog_id)
		return 0;
	fd = bpf_prog_get_fd_by_id(opts.prog_id);
	if (fd < 0)
		return 0; /* gone since: nothing to keep */
	ret = bpf_obj_get_info_by_fd(fd, &info, &len);
	close(fd);
	if (!ret && !strcmp(info.name, TC_PROG_NAME))
		return 1;
	if (ret)
		snprintf(info.name, sizeof(info.name), "?");
	snprintf(err, errlen,
		 "attach TC to %s: %s (BPF program %s, id %u, holds castle's clsact filter slot, "
		 "handle 0x%x priority %d; remove it first)",
		 ifname, strerror(EEXIST), info.name, opts.prog_id, CASTLE_TC_HANDLE,
		 CASTLE_TC_PRIORITY);
	return -EEXIST;
}

/* Filters under one clsact parent (ingress or egress): an RTM_GETTFILTER
 * dump, every message a filter or a filter chain element. */
static int count_filters(int ifindex, __u32 parent)
{
	struct {
		struct nlmsghdr n;
		struct tcmsg t;
	} req = {
		.n = { .nlmsg_len = NLMSG_LENGTH(sizeof(struct tcmsg)),
		       .nlmsg_type = RTM_GETTFILTER,
		       .nlmsg_flags = NLM_F_REQUEST | NLM_F_DUMP,
		       .nlmsg_seq = 1 },
		.t = { .tcm_family = AF_UNSPEC, .tcm_ifindex = ifindex, .tcm_parent = parent },
	};
	const size_t bufsz = 65536;
	char *buf = malloc(bufsz);
	int fd, n = 0, ret = 0, rounds;

	if (!buf)
		return -ENOMEM;
	fd = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
	if (fd < 0) {
		ret = -errno;
		goto out;
	}
	if (send(fd, &req, req.n.nlmsg_len, 0) < 0) {
		ret = -errno;
		goto out;
	}
	/* Bounded: a dump of a few filters is one message batch or two. */
	for (rounds = 0; rounds < 100000; rounds++) {
		ssize_t len = recv(fd, buf, bufsz, 0);
		struct nlmsghdr *h;

		if (len < 0 && errno == EINTR)
			continue;
		if (len <= 0) {
			ret = len < 0 ? -errno : -EIO;
			goto out;
		}
		for (h = (struct nlmsghdr *)buf; NLMSG_OK(h, (size_t)len); h = NLMSG_NEXT(h, len)) {
			if (h->nlmsg_type == NLMSG_DONE)
				goto out;
			if (h->nlmsg_type == NLMSG_ERROR) {
				ret = ((struct nlmsgerr *)NLMSG_DATA(h))->error;
				goto out;
			}
			if (h->nlmsg_type == RTM_NEWTFILTER)
				n++;
		}
	}
	ret = -EIO;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	return ret ? ret : n;
}

int castle_tc_count_filters(int ifindex)
{
	int in = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_INGRESS));
	int eg = count_filters(ifindex, TC_H_MAKE(TC_H_CLSACT, TC_H_MIN_EGRESS));

	return in < 0 ? in : eg < 0 ? eg : in + eg;
}

/* Delete ifindex's clsact qdisc if no filter is left on it: 1 deleted, 0
 * kept (it has filters, or it is gone already), -errno. */
static int qdisc_remove_if_empty(int ifindex)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex,
		    .attach_point = BPF_TC_INGRESS | BPF_TC_EGRESS);
	libbpf_print_fn_t print;
	int n = castle_tc_count_filters(ifindex), ret;

	if (n)
		return n < 0 ? n : 0;
	print = libbpf_set_print(NULL);
	ret = bpf_tc_hook_destroy(&hook);
	libbpf_set_print(print);
	if (ret == -ENOENT || ret == -EINVAL || ret == -ENODEV)
		return 0;
	return ret ? ret : 1;
}

/* ---- attach -------------------------------------------------------------- */

/* link_fd: castle's link found by tcx_find, or -1; consumed. */
static int tcx_attach(int ifindex, int prog_fd, int link_fd, const char *pin, char *err,
		      size_t errlen)
{
	int fd, ret;

	if (link_fd >= 0) {
		/* castle's link from an earlier run: swap the program in place,
		 * so there is no instant without the gate. */
		ret = bpf_link_update(link_fd, prog_fd, NULL) ? -errno : 0;
		close(link_fd);
		if (ret)
			snprintf(err, errlen, "update TCX link %s: %s", pin, strerror(-ret));
		return ret;
	}
	fd = bpf_link_create(prog_fd, ifindex, CASTLE_BPF_TCX_INGRESS, NULL);
	if (fd < 0) {
		ret = -errno;
		snprintf(err, errlen, "attach TCX ingress on ifindex %d: %s", ifindex,
			 strerror(-ret));
		return ret;
	}
	if (bpf_obj_pin(fd, pin)) {
		ret = -errno;
		snprintf(err, errlen, "pin TCX link at %s: %s", pin, strerror(-ret));
		close(fd); /* unpinned: closing detaches it again */
		return ret;
	}
	close(fd);
	return 0;
}

/* *own: in, the qdisc was castle's already; out, it is castle's (created
 * here, or before). A failure takes a qdisc created here away again. */
static int clsact_attach(const char *ifname, int ifindex, int prog_fd, bool *own, char *err,
			 size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	libbpf_print_fn_t print;
	bool created;
	int ret;

	/* An existing qdisc (EEXIST) is expected: keep libbpf from printing
	 * the kernel's "Exclusivity flag on" about it. */
	print = libbpf_set_print(NULL);
	ret = bpf_tc_hook_create(&hook);
	libbpf_set_print(print);
	if (ret && ret != -EEXIST) {
		snprintf(err, errlen, "create clsact qdisc on %s: %s", ifname, strerror(-ret));
		return ret;
	}
	created = !ret;
	/* The kernel's reason comes back in ret; libbpf's own line about it
	 * would only repeat it without the interface. */
	print = libbpf_set_print(NULL);
	ret = bpf_tc_attach(&hook, &opts);
	libbpf_set_print(print);
	if (!ret) {
		*own = *own || created;
		return 0;
	}
	snprintf(err, errlen, "attach TC filter (clsact ingress, handle 0x%x priority %d) on %s: %s%s",
		 CASTLE_TC_HANDLE, CASTLE_TC_PRIORITY, ifname, strerror(-ret),
		 ret == -EINVAL ? " (is another kind of filter at priority 1?)" : "");
	if (created) {
		int r2 = qdisc_remove_if_empty(ifindex);

		if (r2 < 0)
			snprintf(err + strlen(err), errlen - strlen(err),
				 "; and removing the clsact qdisc created for it failed: %s",
				 strerror(-r2));
	}
	return ret;
}

static const char *const req_name[] = { "auto", "tcx", "clsact" };

int castle_tc_attach(const char *ifname, int ifindex, int prog_fd, const char *link_pin_path,
		     enum castle_tc_req req, uint32_t *mode, char *err, size_t errlen)
{
	uint32_t prev = *mode, have, want;
	int link_fd, tcx, cls, ret;
	bool own;

	cls = clsact_find(ifname, ifindex, err, errlen);
	if (cls < 0)
		return cls;
	tcx = tcx_find(ifindex, link_pin_path, &link_fd);
	if (tcx && cls) {
		close(link_fd);
		snprintf(err, errlen,
			 "attach TC to %s: %s (castle's program is attached there twice, with TCX "
			 "and on clsact; `castlectl unload %s` first)",
			 ifname, strerror(EEXIST), ifname);
		return -EEXIST;
	}
	have = tcx ? CASTLE_TCM_TCX : cls ? CASTLE_TCM_CLSACT : CASTLE_TCM_NONE;
	want = req == CASTLE_TC_TCX ? CASTLE_TCM_TCX
	       : req == CASTLE_TC_CLSACT ? CASTLE_TCM_CLSACT : have;
	if (have && want != have) {
		if (link_fd >= 0)
			close(link_fd);
		snprintf(err, errlen,
			 "attach TC to %s: %s (castle's program is attached there with %s; "
			 "--tc-mode %s would attach it a second time: use --tc-mode %s or auto "
			 "to keep that attachment, or `castlectl unload %s` first)",
			 ifname, strerror(EEXIST), castle_tc_mode_name(have), req_name[req],
			 castle_tc_mode_name(have), ifname);
		return -EEXIST;
	}
	if (want != CASTLE_TCM_CLSACT) {
		ret = tcx_attach(ifindex, prog_fd, link_fd, link_pin_path, err, errlen);
		if (!ret) {
			*mode = CASTLE_TCM_TCX;
			return have ? 1 : 0;
		}
		/* tcx_attach wrote err on every failure. */
		if (want == CASTLE_TCM_TCX && !have && no_tcx(-ret))
			snprintf(err + strlen(err), errlen - strlen(err),
				 " (no TCX in this kernel? it came with 6.6: use --tc-mode clsact or "
				 "auto)");
		if (want == CASTLE_TCM_TCX || !no_tcx(-ret))
			return ret;
		err[0] = 0;
	}
	/* An adopted filter keeps the record of whose qdisc it sits on. */
	own = have == CASTLE_TCM_CLSACT && (prev & CASTLE_TCM_MODE_MASK) == CASTLE_TCM_CLSACT &&
	      (prev & CASTLE_TCM_F_OWN_QDISC);
	ret = clsact_attach(ifname, ifindex, prog_fd, &own, err, errlen);
	if (ret)
		return ret;
	*mode = CASTLE_TCM_CLSACT | (own ? CASTLE_TCM_F_OWN_QDISC : 0);
	return have ? 1 : 0;
}

/* ---- detach -------------------------------------------------------------- */

int castle_tc_detach(int ifindex, const char *link_pin_path, uint32_t mode, char *err,
		     size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY);
	int fd = bpf_obj_get(link_pin_path), ret = 0;
	libbpf_print_fn_t print;

	if (fd >= 0) {
		/* Detach first: the link may be held by other fds still. */
		if (bpf_link_detach(fd) && errno != ENOLINK && errno != EINVAL) {
			ret = -errno;
			snprintf(err, errlen, "detach TCX link %s: %s", link_pin_path, strerror(-ret));
		}
		close(fd);
		if (unlink(link_pin_path) && !ret && errno != ENOENT) {
			ret = -errno;
			snprintf(err, errlen, "unpin %s: %s", link_pin_path, strerror(-ret));
		}
		if (ret)
			return ret;
	}
	/* No clsact qdisc is the usual case under TCX: keep libbpf from
	 * printing the kernel's complaint about it. castle's filter only: a
	 * filter of another kind at priority 1 answers EINVAL and stays. */
	/* Only castle's own program at castle's handle and priority: a BPF
	 * filter someone else put there is not ours to remove. */
	char why[256];
	ret = 0;
	if (clsact_find("", ifindex, why, sizeof(why)) == 1) {
		print = libbpf_set_print(NULL);
		ret = bpf_tc_detach(&hook, &opts);
		libbpf_set_print(print);
	}
	if (ret && ret != -ENOENT && ret != -EINVAL && ret != -ENODEV) {
		snprintf(err, errlen, "detach TC filter on ifindex %d: %s", ifindex, strerror(-ret));
		return ret;
	}
	/* The qdisc castle created goes with castle's last filter, and only
	 * then: another's filters (or an empty qdisc castle did not make) stay. */
	if ((mode & CASTLE_TCM_MODE_MASK) == CASTLE_TCM_CLSACT && (mode & CASTLE_TCM_F_OWN_QDISC)) {
		ret = qdisc_remove_if_empty(ifindex);
		if (ret < 0 && ret != -ENODEV) {
			snprintf(err, errlen, "remove the clsact qdisc castle created on ifindex %d: %s",
				 ifindex, strerror(-ret));
			return ret;
		}
	}
	return 0;
}
