// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* tc_attach.c - see tc_attach.h. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>
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

/* Errors that mean "this kernel has no TCX", not "this attach failed". */
static int no_tcx(int e)
{
	return e == EINVAL || e == EOPNOTSUPP || e == ENOTSUPP || e == ENOSYS;
}

static int tcx_attach(int ifindex, int prog_fd, const char *pin, char *err, size_t errlen)
{
	int fd = bpf_obj_get(pin);
	int ret;

	if (fd >= 0) {
		/* castle's link from an earlier run: swap the program in place,
		 * so there is no instant without the gate. */
		struct bpf_link_info info = {};
		__u32 len = sizeof(info);

		if (!bpf_obj_get_info_by_fd(fd, &info, &len) && info.type == CASTLE_BPF_LINK_TYPE_TCX &&
		    info.xdp.ifindex == (__u32)ifindex && !bpf_link_update(fd, prog_fd, NULL)) {
			close(fd);
			return 0;
		}
		/* A stale pin (interface gone, or another device): replace it. */
		close(fd);
		unlink(pin);
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

static int clsact_attach(int ifindex, int prog_fd, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY,
		    .prog_fd = prog_fd, .flags = BPF_TC_F_REPLACE);
	int ret = bpf_tc_hook_create(&hook);

	if (ret && ret != -EEXIST) {
		snprintf(err, errlen, "create clsact qdisc on ifindex %d: %s", ifindex,
			 strerror(-ret));
		return ret;
	}
	ret = bpf_tc_attach(&hook, &opts);
	if (ret)
		snprintf(err, errlen, "attach TC filter on ifindex %d: %s", ifindex, strerror(-ret));
	return ret;
}

int castle_tc_attach(int ifindex, int prog_fd, const char *link_pin_path, int *mode_out, char *err,
		     size_t errlen)
{
	int ret = tcx_attach(ifindex, prog_fd, link_pin_path, err, errlen);

	if (!ret) {
		*mode_out = CASTLE_TCM_TCX;
		return 0;
	}
	/* tcx_attach wrote err on every failure. */
	if (!no_tcx(-ret))
		return ret;
	err[0] = 0;
	ret = clsact_attach(ifindex, prog_fd, err, errlen);
	if (ret)
		return ret;
	*mode_out = CASTLE_TCM_CLSACT;
	return 0;
}

int castle_tc_detach(int ifindex, const char *link_pin_path, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_tc_hook, hook, .ifindex = ifindex, .attach_point = BPF_TC_INGRESS);
	LIBBPF_OPTS(bpf_tc_opts, opts, .handle = CASTLE_TC_HANDLE, .priority = CASTLE_TC_PRIORITY);
	int fd = bpf_obj_get(link_pin_path), ret = 0;

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
	 * printing the kernel's complaint about it. */
	libbpf_print_fn_t print = libbpf_set_print(NULL);
	ret = bpf_tc_detach(&hook, &opts);
	libbpf_set_print(print);
	if (ret && ret != -ENOENT && ret != -EINVAL && ret != -ENODEV) {
		snprintf(err, errlen, "detach TC filter on ifindex %d: %s", ifindex, strerror(-ret));
		return ret;
	}
	return 0;
}
