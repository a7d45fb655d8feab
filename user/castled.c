// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castled - loads castle's programs, keeps their maps filled from the policy
 * file, reloads it on SIGHUP, persists manual entries and serves metrics.
 *
 * The daemon is not on the data path: programs, maps and links are pinned,
 * so when castled stops (or dies) the gate keeps enforcing, and the next
 * castled adopts everything where it was. Order at start: policy parsed, maps
 * opened (adopted), policy generation committed, and only then programs
 * attached, so that no packet is ever judged by an empty policy.
 */
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <systemd/sd-daemon.h>
#include <xdp/libxdp.h>

#include "apply.h"
#include "castled_args.h"
#include "loader.h"
#include "metrics.h"
#include "out.h"
#include "paced.h"
#include "persist.h"
#include "policy.h"

#define TICK_SEC 1
#define NOTES_GC_SEC 60

static uint64_t clock_ns(clockid_t c)
{
	struct timespec ts;

	clock_gettime(c, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static uint64_t mono_ns(void)
{
	return clock_ns(CLOCK_MONOTONIC);
}

struct daemon {
	struct castled_opts o;
	struct castle_loader l;
	struct castle_policy_conf conf;		/* the live policy, for notes GC */
	bool have_conf;
	struct castle_persist persist;
	struct castle_metrics *metrics;
	struct castle_metrics_src msrc;
	struct castle_metrics_snapshot snap;
	bool gone[CASTLE_MAX_IFACES];		/* unloaded from under us */
	uint32_t ifidx[CASTLE_MAX_IFACES];	/* the ifindex each was attached at */
	time_t last_steady_reap;		/* rl_steady idle sweep (monotonic s) */
	struct castle_paced save_walk;		/* tick's walk of the manual maps */
	struct castle_man_sweep man_sweep;	/* its candidates */
	bool man_sweep_logged;			/* a failed sweep said so */
	int healed_logged;			/* man_count heals logged, 1 << CASTLE_MM_x */
	char persist_err[512];			/* last persist failure logged, "" if none */
	int lock_fd;				/* flock on the pin directory, -1 if none */
};

/* A map of the TC object by its pin (-1 when this build has no TC). */
static int pinned_fd(const char *pin_dir, const char *name)
{
	char path[4200];

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	return bpf_obj_get(path);
}

static void logf_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void logf_(const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	fprintf(stderr, "castled: %s\n", line);
}

/* libbpf and libxdp: warnings only, one line each, with our prefix. */
static int lib_print(const char *lib, const char *fmt, va_list ap)
{
	char line[1024];
	size_t n;

	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n && line[n - 1] == '\n')
		line[--n] = 0;
	if (n)
		fprintf(stderr, "castled: %s: %s\n", lib, line);
	return 0;
}

static int bpf_print(enum libbpf_print_level lvl, const char *fmt, va_list ap)
{
	return lvl == LIBBPF_WARN ? lib_print("libbpf", fmt, ap) : 0;
}

static int xdp_print(enum libxdp_print_level lvl, const char *fmt, va_list ap)
{
	return lvl == LIBXDP_WARN ? lib_print("libxdp", fmt, ap) : 0;
}

/* ---- policy --------------------------------------------------------------- */

static void print_diags(const struct castle_errors *e, const char *prefix)
{
	for (size_t i = 0; i < e->n; i++)
		fprintf(stderr, "%s%s\n", prefix, e->v[i].msg);
	if (e->nerrors + e->nwarnings > e->n)
		fprintf(stderr, "%s... and %zu more\n", prefix, e->nerrors + e->nwarnings - e->n);
}

/* Parse and compile; every problem printed with prefix. */
static int policy_read(const char *path, const char *prefix, struct castle_policy_conf *conf,
		       struct castle_policy_compiled *comp)
{
	struct castle_errors errs;
	char err[512];
	int ret;

	castle_errors_init(&errs);
	ret = castle_policy_load(path, conf, &errs);
	print_diags(&errs, prefix);
	castle_errors_free(&errs);
	if (ret)
		return -1;
	if (castle_policy_compile(conf, comp, err, sizeof(err))) {
		fprintf(stderr, "%s%s: %s\n", prefix, path, err);
		castle_policy_free(conf);
		return -1;
	}
	return 0;
}

static int check_only(const char *path)
{
	struct castle_policy_conf conf;
	struct castle_policy_compiled comp;

	if (policy_read(path, "", &conf, &comp))
		return 1;
	printf("%s: ok (%zu block, %zu allow, %u limit classes%s%s)\n", path, conf.nblock,
	       conf.nallow, conf.nclasses, conf.tls.present ? ", tls" : "",
	       conf.dry_run ? ", dry-run" : "");
	castle_policy_compiled_free(&comp);
	castle_policy_free(&conf);
	return 0;
}

static void state_note_reload(struct castle_maps *m, bool ok, int pid)
{
	struct castle_state st;
	uint32_t zero = 0;

	/* Read-modify-write of the user-space fields; the kernel only writes
	 * ev_tat (which may lose one step of the event sampler here) and
	 * tick_to_mono (which it measures again when it finds 0). */
	if (bpf_map_lookup_elem(m->state, &zero, &st))
		return;
	if (ok == true && pid < 0) {
		st.reloads_ok++;
		st.last_reload_ok_unix = time(NULL);
	} else if (pid < 0) {
		st.reloads_failed++;
	} else {
		st.daemon_pid = pid;
	}
	bpf_map_update_elem(m->state, &zero, &st, BPF_ANY);
}

/* Apply path's policy; on failure the live one stays, every reason logged
 * with prefix. */
/* Apply a policy read by policy_read; takes conf and comp (freed, or conf
 * kept as the live policy). */
static int apply_read(struct daemon *d, const char *prefix, struct castle_policy_conf conf,
		      struct castle_policy_compiled comp)
{
	struct castle_apply_stats st;
	char err[512];
	int ret;

	/* While a program of an older build may run on the new generation
	 * (between this apply and the attach that replaces it) it must find
	 * the block CIDRs where it looks: in the tries. */
	uint32_t older = castle_loader_older_program(&d->l);
	if (older && !d->l.maps.trie_only)
		logf_("program %u of another castle build runs on these maps: policy CIDRs go in "
		      "LPM tries until it is gone", older);
	d->l.maps.trie_only = older != 0;
	ret = castle_apply(&d->l.maps, &conf, &comp, &st, err, sizeof(err));
	castle_policy_compiled_free(&comp);
	if (ret) {
		fprintf(stderr, "%s%s\n", prefix, err);
		castle_policy_free(&conf);
		state_note_reload(&d->l.maps, false, -1);
		return -1;
	}
	if (d->have_conf)
		castle_policy_free(&d->conf);
	d->conf = conf;
	d->have_conf = true;
	d->snap.apply = st;
	castle_metrics_update(d->metrics, &d->snap);
	state_note_reload(&d->l.maps, true, -1);
	logf_("policy %s applied: serial %llu, %u+%u IPv4 and %u+%u IPv6 blocks (exact+CIDR), "
	      "%zu allows, %u classes%s%s, %u TTLs kept, in %.2fs",
	      d->o.policy, (unsigned long long)st.serial, st.entries[CASTLE_PM_BLOCK4],
	      st.entries[CASTLE_PM_NET4] + st.entries[CASTLE_PM_NHASH4], st.entries[CASTLE_PM_BLOCK6],
	      st.entries[CASTLE_PM_NET6] + st.entries[CASTLE_PM_NHASH6],
	      conf.nallow, conf.nclasses, conf.tls.present ? ", tls" : "",
	      conf.dry_run ? ", DRY-RUN" : "", st.ttl_kept, st.seconds);
	uint32_t ncidr = st.entries[CASTLE_PM_NET4] + st.entries[CASTLE_PM_NHASH4] +
			 st.entries[CASTLE_PM_NET6] + st.entries[CASTLE_PM_NHASH6] +
			 st.entries[CASTLE_PM_ALLOW4] + st.entries[CASTLE_PM_ALLOW6];
	if (st.rl_dropped > 0)
		logf_("%d token bucket%s of removed rate-limit classes dropped", st.rl_dropped,
		      st.rl_dropped == 1 ? "" : "s");
	else if (st.rl_dropped < 0)
		logf_("warning: the buckets of removed rate-limit classes were not all dropped "
		      "(%s): they go as the table evicts them", strerror(-st.rl_dropped));
	if (st.hit_err)
		logf_("warning: per-CPU hit counters (%s): %u of the policy's entries count hits "
		      "per CPU, the rest by a locked add, slower under a flood",
		      strerror(-st.hit_err), st.hit_slots);
	else if (st.hit_slots < ncidr && st.hit_slots)
		logf_("note: %u of the policy's %u CIDRs count hits per CPU (the slots of "
		      "block_hits); the rest by a locked add", st.hit_slots, ncidr);
	if (st.notes_lost)
		logf_("warning: %u comment%s of the policy not kept: the notes map is full "
		      "(castle_map_entries{map=\"notes\"} shows its use); the entries themselves "
		      "are enforced",
		      st.notes_lost, st.notes_lost == 1 ? "" : "s");
	return 0;
}

static int apply_policy(struct daemon *d, const char *prefix)
{
	struct castle_policy_conf conf;
	struct castle_policy_compiled comp;

	if (policy_read(d->o.policy, prefix, &conf, &comp)) {
		state_note_reload(&d->l.maps, false, -1);
		return -1;
	}
	return apply_read(d, prefix, conf, comp);
}

/* ---- life cycle ----------------------------------------------------------- */

/* Fork; the parent stays until the child is ready, so its exit status says
 * whether castled started. Returns the fd to report readiness on (-1 when
 * not daemonized). */
static int daemonize(void)
{
	int p[2], devnull;
	pid_t pid;
	char c;

	if (pipe2(p, O_CLOEXEC)) {
		logf_("pipe: %s", strerror(errno));
		exit(1);
	}
	pid = fork();
	if (pid < 0) {
		logf_("fork: %s", strerror(errno));
		exit(1);
	}
	if (pid > 0) {
		close(p[1]);
		exit(read(p[0], &c, 1) == 1 && c == 0 ? 0 : 1);
	}
	close(p[0]);
	setsid();
	if (chdir("/")) {
		/* "/" always exists; nothing sensible to do otherwise */
	}
	devnull = open("/dev/null", O_RDWR | O_CLOEXEC);
	if (devnull >= 0) {
		dup2(devnull, STDIN_FILENO);
		close(devnull);
	}
	return p[1];
}

/* The pid of another live castled recorded in PIN/state, or 0. */
static int other_daemon(const struct castle_maps *m)
{
	struct castle_state st;

	if (castle_state_read(m->state, &st) || (pid_t)st.daemon_pid == getpid() ||
	    !castle_daemon_alive((pid_t)st.daemon_pid))
		return 0;
	return (int)st.daemon_pid;
}

/* castlectl unload takes an interface away from under castled: notice it,
 * stop managing that interface, and stop altogether when none is left (the
 * pins are gone then; staying would manage nothing). Returns false then. */
static bool still_managing(struct daemon *d)
{
	int left = 0;

	for (int i = 0; i < d->o.nifaces; i++) {
		struct castle_iface rec;
		uint32_t key = if_nametoindex(d->o.ifaces[i]);

		if (d->gone[i])
			continue;
		if (key && key == d->ifidx[i] && !bpf_map_lookup_elem(d->l.maps.ifaces, &key, &rec)) {
			left++;
			continue;
		}
		d->gone[i] = true;
		/* Another ifindex under the name: deleted and made again since
		 * the attach (between two looks); the new device has nothing of
		 * castle's, and the old record must go like a deleted one's. */
		if (!key || key != d->ifidx[i]) {
			/* Deleted: the kernel took the program and the TC link
			 * with the device; drop our record of it too. */
			castle_iface_forget(&d->l.maps, d->o.pin_dir, d->o.ifaces[i]);
			logf_("%s: interface went away (deleted%s); no longer managed (restart castled "
			      "to attach again once it is back)", d->o.ifaces[i],
			      key ? ", and made again without castle" : "");
		} else {
			logf_("%s: unloaded (castlectl unload); no longer managed", d->o.ifaces[i]);
		}
	}
	return left > 0;
}

/* Seconds of CLOCK_MONOTONIC: intervals a wall-clock step cannot shorten
 * or stall. */
static time_t mono_s(void)
{
	return (time_t)(mono_ns() / 1000000000ull);
}

static void tick(struct daemon *d, bool final)
{
	char err[512] = "";
	int ret;

	if (final || castle_paced_due(&d->save_walk, mono_ns())) {
		/* The hit-slot sweep rides on this walk: slots of manual/auto
		 * entries gone (deleted, reaped, overwritten) for
		 * CASTLE_MAN_SWEEP_AGE_S go back to the free bitmap, zeroed
		 * (see CASTLE_HIT_MAN). Its clock is read before the walk, as
		 * its snapshot of the claimed slots is taken: a slot's age
		 * never counts the walk's own length. */
		uint64_t cpu0 = clock_ns(CLOCK_THREAD_CPUTIME_ID);
		uint32_t now_s = (uint32_t)mono_s();
		struct castle_man_sweep *sw = final ? NULL : &d->man_sweep;
		int swept = sw ? castle_man_sweep_begin(&d->l.maps, sw) : 0;

		if (swept < 0)
			sw = NULL;
		ret = castle_persist_sync(&d->persist, &d->l.maps, !final, &d->snap.manual, sw,
					  err, sizeof(err));
		if (sw)
			swept = castle_man_sweep_finish(&d->l.maps, sw, now_s);
		castle_paced_done(&d->save_walk, clock_ns(CLOCK_THREAD_CPUTIME_ID) - cpu0);
		if (swept < 0 && !d->man_sweep_logged)
			logf_("sweep the hit slots of manual entries: %s (retried with each save; new "
			      "entries may count by a locked add meanwhile)",
			      swept == -ECANCELED ? "the walk of the manual maps failed"
						  : strerror(-swept));
		d->man_sweep_logged = swept < 0;
		/* Saving fails until the cause goes away (read-only or full
		 * file system): enforcement goes on; say so once, and once
		 * when it works again, not every second. */
		if (ret < 0 && strcmp(err, d->persist_err)) {
			logf_("persist manual entries: %s (the gate keeps enforcing; retrying every "
			      "%ds, or as often as the walk's pace allows)", err, TICK_SEC);
			snprintf(d->persist_err, sizeof(d->persist_err), "%s", err);
		} else if (ret >= 0 && d->persist_err[0]) {
			logf_("persist manual entries: saved again to %s", d->persist.path);
			d->persist_err[0] = 0;
		}
	}
	/* An entry written around castle's tools (bpftool) is not counted in
	 * man_count, so the programs would not look at its map: count it. */
	int healed = castle_man_count_heal(&d->l.maps);
	for (int i = 0; i < CASTLE_MM_MAX; i++)
		if (healed & (1 << i) & ~d->healed_logged)
			logf_("%s holds entries castle did not write (bpftool?); they are enforced "
			      "from now on: change manual entries with castlectl",
			      castle_man_map_names[i]);
	d->healed_logged |= healed; /* once per map */
	/* Steady rate-limit entries of sources gone quiet free their slots. */
	if (!final && mono_s() - d->last_steady_reap >= 10) {
		d->last_steady_reap = mono_s();
		castle_rl_reap_steady(&d->l.maps, CASTLE_RL_STEADY_IDLE_NS);
	}
	castle_metrics_update(d->metrics, &d->snap);
}

static int attach_all(struct daemon *d)
{
	char err[512] = "";
	int i;

	for (i = 0; i < d->o.nifaces; i++) {
		static const char *const act[] = { "attached", "adopted (already running)",
						   "replaced in place" };
		struct castle_attach_result r;

		if (castle_loader_attach(&d->l, d->o.ifaces[i], d->o.xdp_mode, d->o.tc_mode, &r, err,
					 sizeof(err))) {
			logf_("%s", err);
			goto undo;
		}
		d->ifidx[i] = if_nametoindex(d->o.ifaces[i]);
		logf_("%s: XDP %s, %s mode, prog id %u%s%s; TC %s%s%s%s%s", d->o.ifaces[i],
		      act[r.xdp_action], castle_xdp_mode_name(r.iface.xdp_mode), r.iface.xdp_prog_id,
		      r.xdp_note[0] ? ", " : "", r.xdp_note, castle_tc_mode_name(r.iface.tc_mode),
		      r.iface.tc_mode ? " " : "", r.iface.tc_mode ? act[r.tc_action] : "",
		      r.tc_note[0] ? ": " : "", r.tc_note);
	}
	return 0;
undo:
	/* Take back what this start attached where nothing of castle ran; an
	 * interface that was already enforcing stays so. */
	if (!d->l.adopted) {
		while (--i >= 0) {
			bool gone;
			castle_unload_iface(d->o.pin_dir, d->o.ifaces[i], &gone, err, sizeof(err));
		}
		/* The pins are this start's own: leave none behind (castlectl
		 * unload knows no interface to remove them by). */
		if (!castle_unpin_unused(d->o.pin_dir))
			logf_("removed the pins of this failed start from %s", d->o.pin_dir);
	}
	return -1;
}

static int run(struct daemon *d, int ready_fd)
{
	struct castle_policy_conf conf;
	struct castle_policy_compiled comp;
	char err[512];
	sigset_t set;
	time_t last_gc = mono_s(); /* not the wall clock: a step back would stall it */
	int sig, other, restored;
	struct timespec ts = { TICK_SEC, 0 };

	if (castle_metrics_start(&d->metrics, d->o.metrics, &d->msrc, err, sizeof(err))) {
		logf_("%s", err);
		return 1;
	}
	/* Before the kernel is touched: a state dir that cannot work is a
	 * configuration error, and so is a policy that does not load (parsed
	 * and compiled here, applied once the maps are open: a bad file leaves
	 * no pins behind). */
	if (castle_persist_init(&d->persist, d->o.state_dir, err, sizeof(err))) {
		logf_("%s", err);
		return 1;
	}
	if (policy_read(d->o.policy, "castled: ", &conf, &comp))
		return 1;
	/* One castled per pin directory, decided before anything is committed
	 * to the pins (the pid in PIN/state is only written once the gate
	 * enforces, seconds later for a large policy). Held until exit. */
	if (castle_pin_lock(d->o.pin_dir, &d->lock_fd, err, sizeof(err)) ||
	    castle_loader_open(&d->l, d->o.pin_dir, d->o.max_sources, err, sizeof(err))) {
		logf_("%s", err);
		castle_policy_compiled_free(&comp);
		castle_policy_free(&conf);
		return 1;
	}
	if (d->o.max_sources != d->l.max_sources)
		logf_("note: rl_state keeps its pinned size of %u sources (--max-sources %u applies "
		      "once every interface is unloaded)", d->l.max_sources, d->o.max_sources);
	other = other_daemon(&d->l.maps);
	if (other) {
		logf_("another castled (pid %d) manages %s; stop it first", other, d->o.pin_dir);
		castle_policy_compiled_free(&comp);
		castle_policy_free(&conf);
		return 1;
	}
	/* The hit slots of manual/auto entries, swept after
	 * CASTLE_MAN_SWEEP_AGE_S unnamed. A man_slots pinned anew beside
	 * older entries (an upgrade, a pin removed by hand) gets every slot
	 * they name marked taken; a man_slots that was pinned already is
	 * right as it is. */
	d->man_sweep.min_age_s = CASTLE_MAN_SWEEP_AGE_S;
	d->save_walk.period_ns = TICK_SEC * 1000000000ull;
	if (d->l.maps.man_slots >= 0 && !d->l.maps.man_slots_mem) {
		logf_("warning: cannot map %s: manual and auto entries count hits by a locked add",
		      CASTLE_MAP_MAN_SLOTS);
	} else if (d->l.man_slots_new) {
		int set = castle_man_slots_adopt(&d->l.maps);

		if (set < 0)
			logf_("warning: read the hit slots of the manual entries: %s", strerror(-set));
		else if (set)
			logf_("note: %d hit slot%s of manual entries marked taken in %s (pinned anew)",
			      set, set == 1 ? "" : "s", CASTLE_MAP_MAN_SLOTS);
	}
	/* Fresh maps (first start, or after a reboot), or pins a start of
	 * this build left before its restore was done (killed, or failed
	 * after pinning): bring back what the operator added by hand. A manual
	 * entry already there stays as it is: castlectl wrote it since the
	 * file was (into such pins, or into these fresh ones while this start
	 * ran). */
	bool restore = !d->l.adopted || (!d->l.daemon_new && castle_daemon_unrestored(d->l.maps.daemon));
	bool hold = false;
	if (restore) {
		char kept[4200];
		int bad = castle_persist_restore(&d->persist, &d->l.maps, &restored, err, sizeof(err));
		if (bad)
			logf_("%s (%d bad line%s)", err, bad < 0 ? 0 : bad, bad == 1 ? "" : "s");
		if (bad && !castle_persist_keep_unrestored(&d->persist, kept, sizeof(kept), err,
							   sizeof(err))) {
			logf_("the file as it was is kept in %s (the next save writes what the maps "
			      "hold)", kept);
		} else if (bad) {
			/* Saving would lose the lines that could not be restored:
			 * not until they are kept somewhere. */
			logf_("%s: not saving manual entries until castled is restarted with room to "
			      "keep a copy (the gate enforces meanwhile)", err);
			hold = true;
		}
		if (restored || d->l.adopted)
			logf_("restored %d manual entr%s from %s%s", restored, restored == 1 ? "y" : "ies",
			      d->persist.path, d->l.adopted ? " into pins a start that did not finish "
			      "left" : "");
	} else {
		logf_("adopted the maps pinned in %s (counters, buckets and manual entries kept)",
		      d->o.pin_dir);
	}
	/* From here on the maps hold the file's entries: castled saves them,
	 * and so may castlectl while castled is down. */
	d->persist.hold = hold;
	if (!hold)
		castle_daemon_set_flags(d->l.maps.daemon, CASTLE_DAEMON_F_RESTORED);
	if (apply_read(d, "castled: ", conf, comp)) {
		/* e.g. a map full: what this start pinned goes again */
		if (!d->l.adopted && !castle_unpin_unused(d->o.pin_dir))
			logf_("removed the pins of this failed start from %s", d->o.pin_dir);
		return 1;
	}
	if (attach_all(d))
		return 1;
	/* Once more: a program replaced just now may have auto-banned into a
	 * bitmap that is no longer pinned (see above) until it was. */
	if (d->l.maps.man_slots_mem && d->l.man_slots_new)
		castle_man_slots_adopt(&d->l.maps);
	/* An upgrade: the attach replaced the older programs, so the CIDRs can
	 * move to the prefix-length hashes. */
	if (d->l.maps.trie_only && !castle_loader_older_program(&d->l) &&
	    d->snap.apply.entries[CASTLE_PM_NET4] + d->snap.apply.entries[CASTLE_PM_NET6] &&
	    apply_policy(d, "castled: "))
		return 1;
	/* The reloads from here on are numbered by this castled (castlectl
	 * reload trusts the numbers only of the castled state names). */
	castle_daemon_set_pid(d->l.maps.daemon, (uint32_t)getpid());
	state_note_reload(&d->l.maps, false, getpid());
	tick(d, false);
	d->msrc = (struct castle_metrics_src){ .maps = &d->l.maps,
					       .tls_results = pinned_fd(d->o.pin_dir, "tls_results"),
					       .tls_pressure = pinned_fd(d->o.pin_dir, "tls_pressure") };
	castle_metrics_set_ready(d->metrics, true);

	sd_notifyf(0, "READY=1\nMAINPID=%d\nSTATUS=enforcing on %d interface(s)", getpid(),
		   d->o.nifaces);
	if (ready_fd >= 0) {
		char ok = 0;
		if (write(ready_fd, &ok, 1) != 1) {
			/* the parent is gone; nothing to tell */
		}
		close(ready_fd);
	}
	logf_("running (pid %d), metrics on http://%s/metrics", getpid(), d->o.metrics);

	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	for (;;) {
		sig = sigtimedwait(&set, NULL, &ts);
		if (sig == SIGTERM || sig == SIGINT)
			break;
		if (sig == SIGHUP) {
			/* numbered before the file is read: castlectl reload
			 * waits for a reload numbered past the one under way
			 * when it signalled (castle_daemon_rec) */
			castle_daemon_reload_start(d->l.maps.daemon);
			sd_notify(0, "RELOADING=1");
			logf_("SIGHUP: reloading %s", d->o.policy);
			int failed = apply_policy(d, "castled: reload failed: ");
			if (failed)
				logf_("reload failed: the running policy stays as it was");
			castle_daemon_reload_finish(d->l.maps.daemon, !failed);
			sd_notify(0, "READY=1");
		}
		tick(d, false);
		if (!still_managing(d)) {
			logf_("no interface left to manage: exiting");
			sig = 0;
			break;
		}
		if (mono_s() - last_gc >= NOTES_GC_SEC) {
			castle_notes_gc(&d->l.maps, d->have_conf ? &d->conf : NULL);
			last_gc = mono_s();
		}
	}

	sd_notify(0, "STOPPING=1");
	if (sig)
		logf_("%s: stopping; the gate keeps enforcing (castlectl unload IFACE removes it)",
		      strsignal(sig));
	castle_metrics_stop(d->metrics);
	d->metrics = NULL;
	/* The pid goes first: a castlectl change from now on is saved by
	 * castlectl itself (it finds castled down), after this last save of
	 * castled's (the state dir's lock orders the two). */
	if (!other_daemon(&d->l.maps))
		state_note_reload(&d->l.maps, false, 0);
	tick(d, true);
	return 0;
}

int main(int argc, char **argv)
{
	struct daemon d = { .lock_fd = -1 };
	struct rlimit rl = { RLIM_INFINITY, RLIM_INFINITY };
	sigset_t set;
	int ret, ready_fd = -1;

	ret = castled_parse_args(argc, argv, &d.o);
	if (ret >= 0)
		return out_stdout_status("castled", ret);
	if (d.o.check)
		return out_stdout_status("castled", check_only(d.o.policy));
	if (castled_preflight(&d.o))
		return 1;

	libbpf_set_print(bpf_print);
	libxdp_set_print(xdp_print);
	/* Since 5.11 BPF memory is charged to the memory cgroup and this limit
	 * is ignored; older kernels need it, and a container may forbid it. */
	setrlimit(RLIMIT_MEMLOCK, &rl);

	/* Signals are taken synchronously in the main loop (sigtimedwait), so
	 * they must be blocked before any thread (libmicrohttpd's) exists. */
	sigemptyset(&set);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigprocmask(SIG_BLOCK, &set, NULL);
	signal(SIGPIPE, SIG_IGN);

	if (!d.o.foreground && !getenv("NOTIFY_SOCKET"))
		ready_fd = daemonize();
	ret = run(&d, ready_fd);
	castle_metrics_stop(d.metrics);
	castle_man_sweep_free(&d.man_sweep);
	castle_loader_close(&d.l);
	if (d.msrc.tls_results > 0)
		close(d.msrc.tls_results);
	if (d.msrc.tls_pressure > 0)
		close(d.msrc.tls_pressure);
	if (d.have_conf)
		castle_policy_free(&d.conf);
	if (d.lock_fd >= 0)
		close(d.lock_fd);
	return ret;
}
