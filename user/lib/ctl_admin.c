// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_admin.c - castlectl reload (SIGHUP castled, wait for its verdict) and
 * unload (detach castle from an interface; remove the pins with the last one).
 *
 * The detaching itself is castled's (attach.c, castle_unload_iface): one
 * implementation knows how castle attaches, whether castled or castlectl asks.
 */
#include <errno.h>
#include <net/if.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ctl.h"
#include "loader.h"
#include "units.h"

static int state_get(struct ctl *c, struct castle_state *st)
{
	int ret = castle_state_read(c->maps.state, st);

	if (ret)
		ctl_errf(c, "read %s/state: %s", c->pin_dir, strerror(-ret));
	return ret ? CTL_FAIL : CTL_OK;
}

/* ---- reload ------------------------------------------------------------- */

/* The verdict castled gave, once a reload that read the policy after
 * castlectl asked has finished: 1 applied, 0 refused, -1 not yet.
 *
 * When castled numbers its reloads (the daemon map, castle_daemon_rec, with
 * its pid), that is the first reload numbered past `seq0` (a reload under
 * way when castlectl signalled read the file too early). Otherwise (a
 * castled of a build before the map, on its pins or on a newer one's) the
 * first change of the counters in state, which may be such a reload's. */
struct reload_wait {
	struct castle_state st;		/* before the signal */
	struct castle_daemon_rec seq0;	/* likewise */
	bool seq;			/* castled numbers its reloads */
};

static int reload_verdict(struct ctl *c, const struct reload_wait *w, const struct castle_state *now)
{
	struct castle_daemon_rec v;

	if (w->seq && castle_daemon_read(c->maps.daemon, &v) == 0)
		return CASTLE_RELOAD_SEQ(v.reload_finished) > w->seq0.reload_started
			       ? (int)CASTLE_RELOAD_OK(v.reload_finished) : -1;
	if (now->reloads_failed != w->st.reloads_failed)
		return 0;
	return now->reloads_ok != w->st.reloads_ok ? 1 : -1;
}

int ctl_reload(struct ctl *c, const struct ctl_args *a)
{
	struct reload_wait w = { 0 };
	struct castle_state now, st;
	struct castle_policy pol;
	struct timespec nap = { 0, 50 * 1000 * 1000 };
	uint64_t waited = 0;
	uint32_t gen;
	int verdict;

	if (ctl_open(c) || state_get(c, &st))
		return CTL_FAIL;
	if (!st.daemon_pid) {
		ctl_errf(c, "castled is not running (no daemon pid in %s/state)", c->pin_dir);
		return CTL_FAIL;
	}
	/* After a kill -9 the pid stays recorded and may belong to another
	 * process by now: SIGHUP would end it. Only a process named castled
	 * gets the signal. */
	if (!castle_daemon_alive((pid_t)st.daemon_pid)) {
		ctl_errf(c, "castled is not running (pid %u in %s/state is gone, or is not "
			 "castled)", st.daemon_pid, c->pin_dir);
		return CTL_FAIL;
	}
	/* Read before the signal: a reload numbered past this one started
	 * after castlectl did, so it read the file as the operator left it. */
	w.st = st;
	w.seq = castle_daemon_read(c->maps.daemon, &w.seq0) == 0 && w.seq0.pid == st.daemon_pid;
	if (kill((pid_t)st.daemon_pid, SIGHUP)) {
		ctl_errf(c, "signal castled (pid %u): %s", st.daemon_pid, strerror(errno));
		return CTL_FAIL;
	}
	for (;;) {
		if (state_get(c, &now))
			return CTL_FAIL;
		verdict = reload_verdict(c, &w, &now);
		if (verdict == 0) {
			ctl_errf(c, "castled refused the policy: see its log");
			return CTL_FAIL;
		}
		if (verdict == 1)
			break;
		/* Without a timeout, nothing else would end the wait if castled
		 * died before it answered. */
		if (!castle_daemon_alive((pid_t)st.daemon_pid)) {
			ctl_errf(c, "castled (pid %u) exited before it reported the reload: see its log",
				 st.daemon_pid);
			return CTL_FAIL;
		}
		if (a->timeout_ns && waited >= a->timeout_ns) { /* 0: wait as long as it takes */
			char d[32];

			ctl_errf(c, "castled (pid %u) did not report the reload within %s",
				 now.daemon_pid, castle_human_duration(a->timeout_ns, d, sizeof(d)));
			return CTL_FAIL;
		}
		nanosleep(&nap, NULL);
		waited += 50 * 1000 * 1000;
	}
	if (castle_gen_live(&c->maps, &gen, &pol) == 0)
		fprintf(c->out, "policy reloaded: serial %llu\n", (unsigned long long)pol.serial);
	else
		fprintf(c->out, "policy reloaded\n");
	return CTL_OK;
}

/* ---- unload ------------------------------------------------------------- */

static int find_iface(struct ctl *c, const char *name, uint32_t *ifindex, struct castle_iface *v)
{
	uint32_t key, next, *prev = NULL;

	while (bpf_map_get_next_key(c->maps.ifaces, prev, &next) == 0) {
		key = next;
		prev = &key;
		if (bpf_map_lookup_elem(c->maps.ifaces, &key, v))
			continue;
		if (!strncmp(v->name, name, sizeof(v->name))) {
			*ifindex = key;
			return 0;
		}
	}
	return -ENOENT;
}

int ctl_unload(struct ctl *c, const struct ctl_args *a)
{
	struct castle_iface v;
	struct castle_state st;
	uint32_t ifindex = 0;
	bool all_gone = false;
	char err[512];

	/* Open first: the permission and not-loaded messages are castlectl's. */
	if (ctl_open(c) || state_get(c, &st))
		return CTL_FAIL;
	if (find_iface(c, a->iface, &ifindex, &v)) {
		ctl_errf(c, "castle is not attached to %s (see castlectl status)", a->iface);
		return CTL_FAIL;
	}
	castle_maps_close(&c->maps);
	c->maps_open = false;
	if (castle_unload_iface(c->pin_dir, a->iface, &all_gone, err, sizeof(err))) {
		ctl_errf(c, "unload %s: %s", a->iface, err);
		return CTL_FAIL;
	}
	fprintf(c->out, "detached castle from %s\n", a->iface);
	if (!all_gone)
		return CTL_OK;
	fprintf(c->out, "no interface left: removed the pins in %s\n", c->pin_dir);
	/* castled notices within a tick that none of its interfaces is left
	 * and exits by itself (still_managing in castled.c). */
	if (castle_daemon_alive((pid_t)st.daemon_pid))
		fprintf(c->err, "castlectl: note: castled (pid %u) has no interface left and exits "
			"on its own\n", st.daemon_pid);
	return CTL_OK;
}
