// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * attach.c - see loader.h: attach castle's programs to an interface, record
 * them in the ifaces map, and detach XDP (unload.c takes the rest off). The
 * rules that shape it:
 *  - castle's running XDP program is never detached to be replaced: it is
 *    left alone when the new one is identical, else swapped in one netlink
 *    operation (XDP_FLAGS_REPLACE) or one dispatcher swap (libxdp);
 *  - libxdp gets an unloaded copy of the object, because it loads programs as
 *    freplace extensions when its dispatcher works and as plain XDP when the
 *    kernel refuses the dispatcher (it falls back by itself).
 */
#include <stdarg.h>
#include <errno.h>
#include <net/if.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <linux/if_link.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <castle/tls.h>

#include "castle_xdp.skel.h"
#include "attach_int.h"
#include "loader.h"

#if __has_include("castle_tc.skel.h") && __has_include("tc_attach.h")
#define CASTLE_HAVE_TC 1
#include "tc_attach.h"
#endif

#define XDP_PROG_NAME "castle_xdp"

/* ---- XDP ---------------------------------------------------------------- */

/* Put fd at path, replacing what is there; through a temporary name and a
 * rename so that the pin never goes missing (bpffs refuses '.' in names). */
static int pin_replace(int fd, const char *path)
{
	char tmp[4300];

	snprintf(tmp, sizeof(tmp), "%s_new", path);
	unlink(tmp);
	if (bpf_obj_pin(fd, tmp) == 0) {
		if (rename(tmp, path) == 0)
			return 0;
		unlink(tmp);
	}
	unlink(path);
	return bpf_obj_pin(fd, path) ? -errno : 0;
}

/* The ids of the maps program fd uses (at most 64). */
static int prog_map_ids(int fd, __u32 ids[64], __u32 *n, struct bpf_prog_info *info)
{
	__u32 len = sizeof(*info);

	memset(info, 0, sizeof(*info));
	info->nr_map_ids = 64;
	info->map_ids = (uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(fd, info, &len))
		return -errno;
	*n = info->nr_map_ids < 64 ? info->nr_map_ids : 64;
	return 0;
}

/* Whether id is the id of a map of obj that is pinned (the maps shared with
 * every other load; the object's own .bss, .kconfig and the like are made
 * anew by each load). */
static bool pinned_map_of(struct bpf_object *obj, __u32 id)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info mi = {};
		__u32 len = sizeof(mi);

		if (bpf_map__is_pinned(m) && !bpf_obj_get_info_by_fd(bpf_map__fd(m), &mi, &len) &&
		    mi.id == id)
			return true;
	}
	return false;
}

/* Same instructions (the tag hashes them with map references blanked) and
 * the same maps (every pinned map the new program uses among the running
 * program's): then the running program is exactly what we would attach. A
 * map pinned anew (its pin removed by hand) makes the running program one
 * on other maps, to be replaced. */
static bool same_program(struct bpf_object *obj, int new_fd, uint32_t running_id)
{
	struct bpf_prog_info ni, ri;
	__u32 nids[64], rids[64], nn = 0, rn = 0;
	bool same = false;
	int rfd = bpf_prog_get_fd_by_id(running_id);

	if (rfd < 0)
		return false;
	if (!prog_map_ids(new_fd, nids, &nn, &ni) && !prog_map_ids(rfd, rids, &rn, &ri) &&
	    !memcmp(ni.tag, ri.tag, sizeof(ni.tag))) {
		same = true;
		for (__u32 i = 0; i < nn && same; i++) {
			bool found = false;

			for (__u32 j = 0; j < rn && !found; j++)
				found = nids[i] == rids[j];
			same = found || !pinned_map_of(obj, nids[i]);
		}
	}
	close(rfd);
	return same;
}

/* The pid of a live castled, other than us, that keeps the program running
 * as running_id enforcing (its `state` map records that pid), or 0. A castle
 * program on other maps is replaced in place only when nobody runs it: a
 * second castled with another pin directory must not take an interface from
 * under the first. */
static pid_t running_owner(uint32_t running_id)
{
	struct bpf_prog_info ri = {};
	__u32 len = sizeof(ri), ids[64];
	pid_t owner = 0;
	int rfd = bpf_prog_get_fd_by_id(running_id);

	if (rfd < 0)
		return 0;
	ri.nr_map_ids = 64;
	ri.map_ids = (uintptr_t)ids;
	if (bpf_obj_get_info_by_fd(rfd, &ri, &len))
		ri.nr_map_ids = 0;
	close(rfd);
	for (__u32 i = 0; i < ri.nr_map_ids && i < 64 && !owner; i++) {
		struct bpf_map_info mi = {};
		struct castle_state st;
		__u32 mlen = sizeof(mi);
		int mfd = bpf_map_get_fd_by_id(ids[i]);

		if (mfd < 0)
			continue;
		if (!bpf_obj_get_info_by_fd(mfd, &mi, &mlen) && !strcmp(mi.name, CASTLE_MAP_STATE) &&
		    mi.value_size == sizeof(st) && !castle_state_read(mfd, &st) &&
		    (pid_t)st.daemon_pid != getpid() && castle_daemon_alive((pid_t)st.daemon_pid))
			owner = (pid_t)st.daemon_pid;
		close(mfd);
	}
	return owner;
}

struct xdp_now {
	bool any;		/* some XDP program is attached */
	bool legacy;		/* without the libxdp dispatcher */
	enum xdp_attach_mode mode;
	uint32_t ours_id;	/* castle's program, 0 if none */
	uint32_t other_id;	/* legacy: the foreign program */
	char other_name[32];
};

static int xdp_inspect(int ifindex, struct xdp_now *now)
{
	struct xdp_multiprog *mp = xdp_multiprog__get_from_ifindex(ifindex);
	long e = libxdp_get_error(mp);
	struct xdp_program *p;

	memset(now, 0, sizeof(*now));
	if (e == -ENOENT || (!e && !mp))
		return 0;
	if (e)
		return (int)e;
	now->any = true;
	now->legacy = xdp_multiprog__is_legacy(mp);
	now->mode = xdp_multiprog__attach_mode(mp);
	if (now->legacy) {
		p = xdp_multiprog__main_prog(mp);
		if (p && !strcmp(xdp_program__name(p), XDP_PROG_NAME)) {
			now->ours_id = xdp_program__id(p);
		} else if (p) {
			now->other_id = xdp_program__id(p);
			snprintf(now->other_name, sizeof(now->other_name), "%s", xdp_program__name(p));
		}
	} else {
		for (p = xdp_multiprog__next_prog(NULL, mp); p; p = xdp_multiprog__next_prog(p, mp))
			if (!strcmp(xdp_program__name(p), XDP_PROG_NAME))
				now->ours_id = xdp_program__id(p);
	}
	xdp_multiprog__close(mp);
	return 0;
}

static uint32_t mode_flags(enum xdp_attach_mode m)
{
	return m == XDP_MODE_SKB ? XDP_FLAGS_SKB_MODE
	       : m == XDP_MODE_NATIVE ? XDP_FLAGS_DRV_MODE : 0;
}

static int xprog_prepare(struct castle_loader *l, char *err, size_t errlen)
{
	int ret;

	if (l->xprog)
		return 0;
	ret = castle_loader_open_xdp_copy(l, &l->xdp_lobj, err, errlen);
	if (ret)
		return ret;
	DECLARE_LIBXDP_OPTS(xdp_program_opts, xo, .obj = l->xdp_lobj, .prog_name = XDP_PROG_NAME);
	l->xprog = xdp_program__create(&xo);
	ret = (int)libxdp_get_error(l->xprog);
	if (ret || !l->xprog) {
		ret = ret ? ret : -EINVAL;
		l->xprog = NULL;
		snprintf(err, errlen, "libxdp: open castle_xdp: %s", strerror(-ret));
		bpf_object__close(l->xdp_lobj);
		l->xdp_lobj = NULL;
	}
	return ret;
}

static int quiet_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	(void)lvl;
	(void)fmt;
	(void)ap;
	return 0;
}

static const char *attach_hint(int e, enum castle_xdp_req req)
{
	if (e == EBUSY || e == EEXIST)
		return req == CASTLE_XDP_GENERIC
			       ? " (another program is attached; detach it, or use --xdp-mode native)"
			       : " (another program is attached; detach it, or use --xdp-mode generic)";
	if (e == EOPNOTSUPP && req == CASTLE_XDP_NATIVE)
		return " (the driver has no native XDP; use --xdp-mode generic or auto)";
	if (e == EPERM)
		return CASTLE_CAPS_HINT;
	return "";
}

/* *attached_new: this call attached castle's program where none of castle's
 * ran (set as soon as it did, so that a later failure can take it back). */
static int xdp_attach(struct castle_loader *l, const char *ifname, int ifindex,
		      enum castle_xdp_req req, struct castle_attach_result *res,
		      bool *attached_new, char *err, size_t errlen)
{
	static const enum xdp_attach_mode req_mode[] = { XDP_MODE_UNSPEC, XDP_MODE_NATIVE,
							 XDP_MODE_SKB };
	int new_fd = bpf_program__fd(l->xdp->progs.castle_xdp);
	struct xdp_now now;
	char path[4200];
	pid_t owner;
	int ret, fd;

	/* Reading an attached program back (libxdp, adoption) takes
	 * BPF_PROG_GET_FD_BY_ID, i.e. CAP_SYS_ADMIN. Find out on our own
	 * program before attaching: failing after the attach would leave a
	 * program on the interface with no record of it. */
	{
		struct bpf_prog_info pi = {};
		__u32 plen = sizeof(pi);

		if (!bpf_obj_get_info_by_fd(new_fd, &pi, &plen)) {
			fd = bpf_prog_get_fd_by_id(pi.id);
			if (fd < 0 && (errno == EPERM || errno == EACCES)) {
				snprintf(err, errlen, "attach XDP to %s: cannot look programs up by id: %s%s",
					 ifname, strerror(errno), CASTLE_CAPS_HINT);
				return -EPERM;
			}
			if (fd >= 0)
				close(fd);
		}
	}
	ret = xdp_inspect(ifindex, &now);
	if (ret) {
		snprintf(err, errlen, "query XDP on %s: %s%s", ifname, strerror(-ret),
			 ret == -EPERM ? CASTLE_CAPS_HINT : "");
		return ret;
	}
	if (now.ours_id && same_program(l->xdp->obj, new_fd, now.ours_id)) {
		res->xdp_action = CASTLE_ATT_ADOPTED;
	} else if (now.ours_id && (owner = running_owner(now.ours_id)) > 0) {
		snprintf(err, errlen,
			 "attach XDP to %s: %s (another castled, pid %d, runs castle there with "
			 "other pins; stop it first, or `castlectl --pin-dir ITS_PIN_DIR unload %s`)",
			 ifname, strerror(EBUSY), (int)owner, ifname);
		return -EBUSY;
	} else if (now.ours_id && now.legacy) {
		/* One netlink request swaps the programs: no packet goes unjudged. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o);
		int old = bpf_prog_get_fd_by_id(now.ours_id);

		o.old_prog_fd = old;
		ret = old < 0 ? -errno
			      : bpf_xdp_attach(ifindex, new_fd,
					       XDP_FLAGS_REPLACE | mode_flags(now.mode), &o);
		if (old >= 0)
			close(old);
		if (ret) {
			snprintf(err, errlen, "replace XDP program on %s: %s", ifname, strerror(-ret));
			return ret;
		}
		res->xdp_action = CASTLE_ATT_REPLACED;
	} else if (now.any && now.legacy) {
		snprintf(err, errlen,
			 "attach XDP to %s: %s (another program, %s id %u, is attached without the "
			 "libxdp dispatcher; detach it first)",
			 ifname, strerror(EBUSY), now.other_name, now.other_id);
		return -EBUSY;
	} else {
		/* Nothing, or a libxdp dispatcher (ours among its programs or not):
		 * libxdp builds the new dispatcher and swaps it in atomically, then
		 * the old castle component is taken out the same way. */
		libbpf_print_fn_t prev;

		ret = xprog_prepare(l, err, errlen);
		if (ret)
			return ret;
		/* libxdp first probes its dispatcher; on kernels that refuse it
		 * libbpf would print a page of verifier noise for a fallback
		 * that is expected. Our own errors still come back in ret. */
		prev = libbpf_set_print(quiet_print);
		ret = xdp_program__attach(l->xprog, ifindex, req_mode[req], 0);
		libbpf_set_print(prev);
		if (ret) {
			snprintf(err, errlen, "attach XDP to %s: %s%s", ifname, strerror(-ret),
				 attach_hint(-ret, req));
			return ret;
		}
		if (now.ours_id) {
			struct xdp_program *old = xdp_program__from_id(now.ours_id);

			if (!libxdp_get_error(old) && old) {
				xdp_program__detach(old, ifindex, now.mode, 0);
				xdp_program__close(old);
			}
			res->xdp_action = CASTLE_ATT_REPLACED;
		} else {
			res->xdp_action = CASTLE_ATT_NEW;
			*attached_new = true;
		}
	}

	ret = xdp_inspect(ifindex, &now);
	if (ret == -EPERM) {
		snprintf(err, errlen, "attach XDP to %s: cannot read the attached program back: %s%s",
			 ifname, strerror(EPERM), CASTLE_CAPS_HINT);
		return ret;
	}
	if (ret || !now.ours_id) {
		snprintf(err, errlen, "attach XDP to %s: castle's program is not attached after all",
			 ifname);
		return ret ? ret : -ENOENT;
	}
	res->iface.xdp_prog_id = now.ours_id;
	if (now.legacy && res->xdp_action == CASTLE_ATT_NEW)
		snprintf(res->xdp_note, sizeof(res->xdp_note),
			 "without the libxdp dispatcher (this kernel refuses it): other XDP programs "
			 "cannot share %s", ifname);
	res->iface.xdp_mode = now.legacy ? (now.mode == XDP_MODE_SKB ? CASTLE_XDPM_GENERIC
								     : CASTLE_XDPM_NATIVE)
					 : (now.mode == XDP_MODE_SKB ? CASTLE_XDPM_MULTIPROG_GENERIC
								     : CASTLE_XDPM_MULTIPROG_NATIVE);
	/* PIN/prog_xdp: the program that runs, for castlectl status and for the
	 * next castled to compare with. */
	snprintf(path, sizeof(path), "%s/%s", l->pin_dir, CASTLE_PIN_PROG_XDP);
	fd = bpf_prog_get_fd_by_id(now.ours_id);
	if (fd >= 0) {
		pin_replace(fd, path);
		close(fd);
	}
	return 0;
}

/* ---- TC ----------------------------------------------------------------- */

#ifdef CASTLE_HAVE_TC
/* prev_mode: the tc_mode recorded for this interface, 0 if none. Sets
 * *attached_new when castle's TC program was not attached there before. */
static int tc_attach(struct castle_loader *l, const char *ifname, int ifindex,
		     enum castle_tc_req req, uint32_t prev_mode, struct castle_attach_result *res,
		     bool *attached_new, char *err, size_t errlen)
{
	struct bpf_program *p = bpf_object__next_program(l->tc, NULL);
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);
	char link[4200], path[4200];
	uint32_t mode = prev_mode;
	int ret, fd;

	if (!p) {
		snprintf(err, errlen, "castle_tc has no program");
		return -ENOENT;
	}
	fd = bpf_program__fd(p);
	snprintf(link, sizeof(link), "%s/" CASTLE_PIN_LINK_TC_FMT, l->pin_dir, ifname);
	ret = castle_tc_attach(ifname, ifindex, fd, link, req, &mode, err, errlen);
	if (ret < 0)
		return ret;
	*attached_new = ret == 0;
	res->tc_action = ret ? CASTLE_ATT_REPLACED : CASTLE_ATT_NEW;
	res->iface.tc_mode = mode;
	if (!bpf_obj_get_info_by_fd(fd, &info, &len))
		res->iface.tc_prog_id = info.id;
	snprintf(path, sizeof(path), "%s/%s", l->pin_dir, CASTLE_PIN_PROG_TC);
	pin_replace(fd, path);
	return 0;
}
#endif

/* A pin as it was before an attach, to put back if the attach fails. */
struct pin_saved {
	char path[4200];
	int fd;		/* what was pinned there, -1 if nothing */
};

static void pin_save(struct pin_saved *ps, const char *pin_dir, const char *name)
{
	snprintf(ps->path, sizeof(ps->path), "%s/%s", pin_dir, name);
	ps->fd = bpf_obj_get(ps->path);
}

static void pin_restore(struct pin_saved *ps)
{
	if (ps->fd >= 0)
		pin_replace(ps->fd, ps->path);
	else
		unlink(ps->path);
}

static void pin_saved_close(struct pin_saved *ps)
{
	if (ps->fd >= 0)
		close(ps->fd);
	ps->fd = -1;
}

int castle_loader_attach(struct castle_loader *l, const char *ifname, enum castle_xdp_req req,
			 enum castle_tc_req tc_req, struct castle_attach_result *res, char *err,
			 size_t errlen)
{
	struct castle_iface old;
	int ifindex = if_nametoindex(ifname);
	uint32_t key, slot, had_slot = 0;
	bool slot_new = false, xdp_new = false, tc_new = false, have_old;
	struct pin_saved prog_xdp = { .fd = -1 }, prog_tc = { .fd = -1 };
	int ret;

	/* Every failure below writes err; callers' buffers need not be set. */
	if (errlen)
		err[0] = 0;
	memset(res, 0, sizeof(*res));
	ret = castle_iface_check(ifname, err, errlen);
	if (ret)
		return ret;
	key = ifindex;
	snprintf(res->iface.name, sizeof(res->iface.name), "%s", ifname);
	/* castle's record of this interface from before (a restart): what it
	 * attached, and since when. */
	have_old = !bpf_map_lookup_elem(l->maps.ifaces, &key, &old) &&
		   !strncmp(old.name, ifname, sizeof(old.name));
	/* A counter slot before the first packet. Without one (more than 63
	 * interfaces, or an ifindex beyond the slot table) the interface is
	 * still guarded; its counters are reported under ifindex 0. A slot
	 * the interface already had (adoption keeps counters) is kept on
	 * failure; one assigned here is given back. */
	if (bpf_map_lookup_elem(l->maps.ifslot, &key, &had_slot))
		had_slot = 0;
	ret = castle_ifslot_assign(&l->maps, ifindex, &slot);
	if (ret && ret != -ENOSPC && ret != -ERANGE) {
		snprintf(err, errlen, "counter slot for %s: %s", ifname, strerror(-ret));
		return ret;
	}
	slot_new = !ret && !had_slot;
#ifdef CASTLE_HAVE_TC
	if (slot_new && l->tc) {
		/* class_stats is zeroed with the slot; tls_results is the TC
		 * object's. */
		struct bpf_map *tr = bpf_object__find_map_by_name(l->tc, CASTLE_MAP_TLS_RESULTS);

		if (tr)
			castle_percpu_zero(bpf_map__fd(tr), CASTLE_TLS_RESULTS_KEY(slot, 0),
					   CASTLE_TLS_RESULT_SLOTS, sizeof(__u64));
	}
#endif
	/* Attaching re-pins these; a failure that takes the program off again
	 * puts them back, so that they never name a detached program. */
	pin_save(&prog_xdp, l->pin_dir, CASTLE_PIN_PROG_XDP);
	pin_save(&prog_tc, l->pin_dir, CASTLE_PIN_PROG_TC);
	ret = xdp_attach(l, ifname, ifindex, req, res, &xdp_new, err, errlen);
	if (ret)
		goto undo;
#ifdef CASTLE_HAVE_TC
	ret = tc_attach(l, ifname, ifindex, tc_req, have_old ? old.tc_mode : 0, res, &tc_new, err,
			errlen);
	if (ret)
		goto undo;
#else
	(void)tc_req;
	snprintf(res->tc_note, sizeof(res->tc_note), "this build has no TC program");
#endif
	res->iface.attached_unix = time(NULL);
	if (res->xdp_action == CASTLE_ATT_ADOPTED && have_old && old.attached_unix)
		res->iface.attached_unix = old.attached_unix;
	if (bpf_map_update_elem(l->maps.ifaces, &key, &res->iface, BPF_ANY)) {
		ret = -errno;
		snprintf(err, errlen, "record %s in the ifaces map: %s", ifname, strerror(-ret));
		goto undo;
	}
	pin_saved_close(&prog_xdp);
	pin_saved_close(&prog_tc);
	return 0;
undo:
	/* Take back what this call did, and only that: castle's XDP program
	 * where none of castle's ran before, castle's TC program where it was
	 * not attached before (an adopted or replaced one keeps enforcing,
	 * whoever asked), the program pins, and a counter slot assigned here.
	 * Nothing is left on the interface without a record in the ifaces map. */
	if (xdp_new) {
		char e2[256];

		if (castle_xdp_detach(ifindex, ifname, e2, sizeof(e2)))
			snprintf(err + strlen(err), errlen - strlen(err),
				 "; and taking castle's XDP program off %s again failed: %s", ifname,
				 e2);
	}
#ifdef CASTLE_HAVE_TC
	if (tc_new) {
		char e2[256], link[4200];

		snprintf(link, sizeof(link), "%s/" CASTLE_PIN_LINK_TC_FMT, l->pin_dir, ifname);
		if (castle_tc_detach(ifindex, link, res->iface.tc_mode, e2, sizeof(e2)))
			snprintf(err + strlen(err), errlen - strlen(err),
				 "; and taking castle's TC program off %s again failed: %s", ifname,
				 e2);
	}
#endif
	/* The pin of a program taken off goes back to what it was; an adopted
	 * or replaced program still runs, and its pin names it. */
	if (xdp_new)
		pin_restore(&prog_xdp);
	if (tc_new)
		pin_restore(&prog_tc);
	pin_saved_close(&prog_xdp);
	pin_saved_close(&prog_tc);
	if (slot_new)
		castle_ifslot_release(&l->maps, key);
	return ret;
}

/* ---- unload ------------------------------------------------------------- */

int castle_xdp_detach(int ifindex, const char *ifname, char *err, size_t errlen)
{
	struct xdp_now now;
	int ret = xdp_inspect(ifindex, &now);

	if (ret) {
		snprintf(err, errlen, "query XDP on %s: %s", ifname, strerror(-ret));
		return ret;
	}
	if (!now.ours_id)
		return 0;
	if (now.legacy) {
		/* REPLACE with no new program: detach only if ours still runs. */
		LIBBPF_OPTS(bpf_xdp_attach_opts, o);
		int fd = bpf_prog_get_fd_by_id(now.ours_id);

		o.old_prog_fd = fd;
		ret = fd < 0 ? -errno
			     : bpf_xdp_detach(ifindex, XDP_FLAGS_REPLACE | mode_flags(now.mode), &o);
		if (fd >= 0)
			close(fd);
	} else {
		struct xdp_program *p = xdp_program__from_id(now.ours_id);

		ret = (int)libxdp_get_error(p);
		if (!ret && p) {
			ret = xdp_program__detach(p, ifindex, now.mode, 0);
			xdp_program__close(p);
		}
	}
	if (ret)
		snprintf(err, errlen, "detach XDP from %s: %s", ifname, strerror(-ret));
	return ret;
}
