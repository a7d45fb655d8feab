// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * loader.c - see loader.h: open and load castle's objects against the pin
 * directory, and the pin directory's lock. The rule that shapes it: maps are
 * created once and pinned by name; every later load (a restarted or upgraded
 * castled, castlectl) reuses them, so counters, buckets and manual entries
 * outlive the daemon. Attaching and detaching are in attach.c.
 */
#include <signal.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>
#include <sys/utsname.h>
#include <linux/magic.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>
#include <xdp/libxdp.h>

#include <castle/tls.h>

#include "castle_xdp.skel.h"
#include "loader.h"

#if __has_include("castle_tc.skel.h") && __has_include("tc_attach.h")
#define CASTLE_HAVE_TC 1
#include "castle_tc.skel.h"
#endif

const char *castle_xdp_mode_name(uint32_t mode)
{
	static const char *const n[] = { "none", "native", "generic", "multiprog-native",
					 "multiprog-generic" };
	return mode < sizeof(n) / sizeof(n[0]) ? n[mode] : "?";
}

const char *castle_tc_mode_name(uint32_t mode)
{
	static const char *const n[] = { "none", "tcx", "clsact" };

	mode &= CASTLE_TCM_MODE_MASK;
	return mode < sizeof(n) / sizeof(n[0]) ? n[mode] : "?";
}

int castle_bpffs_check(const char *pin_dir, char *err, size_t errlen)
{
	char dir[4096];
	struct statfs st;

	/* The pin dir may not exist yet: check the nearest existing ancestor,
	 * which is where it would be made. */
	snprintf(dir, sizeof(dir), "%s", pin_dir);
	while (statfs(dir, &st)) {
		char *slash = strrchr(dir, '/');
		if (errno != ENOENT || !slash || slash == dir) {
			snprintf(err, errlen, "%s: %s", pin_dir, strerror(errno));
			return -errno;
		}
		*slash = '\0';
	}
	if (st.f_type != BPF_FS_MAGIC) {
		/* Mounting is the fix only where a bpffs belongs: advice to mount
		 * one over /tmp would hide what is there. */
		if (!strcmp(dir, "/sys/fs/bpf"))
			snprintf(err, errlen, "bpffs not mounted at %s: mount -t bpf bpf %s", dir, dir);
		else
			snprintf(err, errlen, "%s is not on a bpffs (%s is not one): give a --pin-dir "
				 "under a bpffs mount, such as /sys/fs/bpf/castle", pin_dir, dir);
		return -ENOTDIR;
	}
	return 0;
}

static uint32_t pinned_max_entries(const char *pin_dir, const char *name)
{
	struct bpf_map_info info = {};
	__u32 len = sizeof(info);
	char path[4200];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", pin_dir, name);
	fd = bpf_obj_get(path);
	if (fd < 0)
		return 0;
	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		info.max_entries = 0;
	close(fd);
	return info.max_entries;
}

/* class_stats and tls_results pinned by a build that counted them for all
 * interfaces together are smaller than this build's, which counts them per
 * interface: libbpf cannot reuse them, and their counts name no interface.
 * Their pins go (the counters restart, as a counter may); a program of that
 * build keeps its map until this build's program replaces it. */
struct pin_drops {
	const char *name[4];	/* class_stats, tls_results, of both objects */
	int n;
};

/*
 * Pins this build cannot reuse (libbpf refuses a pinned map whose type, key,
 * value or size differ). Only the per-interface counters (class_stats,
 * tls_results, resized when they gained the interface) may be dropped and
 * re-created (added to drops, removed by drop_pins): counters start again
 * from zero, nothing else is lost. Any other mismatch means an older
 * build's layout: refuse before touching anything, so castlectl keeps
 * working on the old pins (unload, block). Returns 0, or -EINVAL with the
 * first incompatible map named in err.
 */

static int check_pins(struct bpf_object *obj, const char *pin_dir, struct pin_drops *drops,
		      char *err, size_t errlen)
{
	struct bpf_map *m;

	bpf_object__for_each_map(m, obj) {
		struct bpf_map_info info = {};
		__u32 len = sizeof(info);
		char path[4200];
		int fd;

		snprintf(path, sizeof(path), "%s/%s", pin_dir, bpf_map__name(m));
		fd = bpf_obj_get(path);
		if (fd < 0)
			continue;
		if (bpf_obj_get_info_by_fd(fd, &info, &len))
			memset(&info, 0, sizeof(info));
		close(fd);
		if (info.type == (__u32)bpf_map__type(m) && info.key_size == bpf_map__key_size(m) &&
		    info.value_size == bpf_map__value_size(m) &&
		    (info.max_entries == bpf_map__max_entries(m) ||
		     !strcmp(bpf_map__name(m), CASTLE_MAP_RL_STATE)))
			continue;
		if ((!strcmp(bpf_map__name(m), CASTLE_MAP_CLASS_STATS) ||
		     !strcmp(bpf_map__name(m), CASTLE_MAP_TLS_RESULTS)) && drops->n < 4) {
			drops->name[drops->n++] = bpf_map__name(m);
			continue;
		}
		snprintf(err, errlen, "%s was pinned by a castle build with another layout "
			 "(value %u B, %u entries; this build: %u B, %u): run `castlectl unload` on "
			 "every interface, or remove %s", path, info.value_size, info.max_entries,
			 bpf_map__value_size(m), bpf_map__max_entries(m), pin_dir);
		return -EINVAL;
	}
	return 0;
}

/* Only once both objects' pins have been checked: a refusal leaves the pin
 * directory as it found it. */
static void drop_pins(const char *pin_dir, const struct pin_drops *drops)
{
	for (int i = 0; i < drops->n; i++) {
		char path[4200];

		snprintf(path, sizeof(path), "%s/%s", pin_dir, drops->name[i]);
		unlink(path);
	}
}

static const char *load_hint(int e, bool adopted)
{
	if (e == EPERM || e == EACCES)
		return CASTLE_CAPS_HINT;
	if (adopted && (e == EINVAL || e == EEXIST))
		return " (a map pinned under the pin directory does not match this build: "
		       "run `castlectl unload` on every interface, or remove the pin directory)";
	return "";
}

const char *castle_kconfig(void)
{
	struct utsname u;
	char path[512];

	/* Where libbpf looks for the kernel's config (CONFIG_HZ, see
	 * castle_tick_ns); without one it refuses to load the object. */
	if (uname(&u) == 0) {
		snprintf(path, sizeof(path), "/boot/config-%s", u.release);
		if (access(path, R_OK) == 0)
			return NULL;
	}
	if (access("/proc/config.gz", R_OK) == 0)
		return NULL;
	return "CONFIG_HZ=0\n"; /* unknown: the programs use the coarse clock */
}

static int open_mem(struct castle_loader *l, const void *bytes, size_t sz, struct bpf_object **out,
		    const char *what, char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = l->pin_dir,
		    .kconfig = castle_kconfig());
	struct bpf_object *obj = bpf_object__open_mem(bytes, sz, &o);
	struct bpf_map *rl, *hits;

	if (!obj) {
		snprintf(err, errlen, "open %s: %s", what, strerror(errno));
		return -errno;
	}
	rl = bpf_object__find_map_by_name(obj, CASTLE_MAP_RL_STATE);
	if (rl)
		bpf_map__set_max_entries(rl, l->max_sources);
	hits = bpf_object__find_map_by_name(obj, CASTLE_MAP_BLOCK_HITS);
	if (hits)
		bpf_map__set_max_entries(hits, l->hit_entries);
	hits = bpf_object__find_map_by_name(obj, CASTLE_MAP_MAN_HITS);
	if (hits)
		bpf_map__set_max_entries(hits, l->man_entries);
	hits = bpf_object__find_map_by_name(obj, CASTLE_MAP_MAN_SLOTS);
	if (hits)
		bpf_map__set_max_entries(hits, 1 + l->man_entries / 64);
	*out = obj;
	return 0;
}

/* The skeleton's object bytes are used in this file only: a second caller
 * of castle_xdp_bpf__elf_bytes would embed a second copy of the object. */
int castle_loader_open_xdp_copy(struct castle_loader *l, struct bpf_object **out, char *err,
				size_t errlen)
{
	size_t sz;
	const void *bytes = castle_xdp_bpf__elf_bytes(&sz);

	return open_mem(l, bytes, sz, out, "castle_xdp", err, errlen);
}

int castle_loader_open(struct castle_loader *l, const char *pin_dir, uint32_t max_sources,
		       char *err, size_t errlen)
{
	LIBBPF_OPTS(bpf_object_open_opts, o, .pin_root_path = pin_dir, .kconfig = castle_kconfig());
	char path[4200];
	struct pin_drops drops = { .n = 0 };
	uint32_t pinned;
	int ret;

	memset(l, 0, sizeof(*l));
	castle_maps_close(&l->maps); /* all fds -1 */
	snprintf(l->pin_dir, sizeof(l->pin_dir), "%s", pin_dir);
	ret = castle_bpffs_check(pin_dir, err, errlen);
	if (ret)
		return ret;
	if (mkdir(pin_dir, 0700) && errno != EEXIST) {
		snprintf(err, errlen, "create %s: %s", pin_dir, strerror(errno));
		return -errno;
	}
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CASTLE_MAP_STATE);
	l->adopted = access(path, F_OK) == 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CASTLE_MAP_MAN_SLOTS);
	l->man_slots_new = l->adopted && access(path, F_OK) != 0;
	snprintf(path, sizeof(path), "%s/%s", pin_dir, CASTLE_MAP_DAEMON);
	l->daemon_new = l->adopted && access(path, F_OK) != 0;

	/* A pinned LRU cannot be resized without losing every bucket: keep it. */
	pinned = pinned_max_entries(pin_dir, CASTLE_MAP_RL_STATE);
	l->max_sources = pinned ? pinned : max_sources;
	/* A pinned block_hits keeps its size too (its counts live there, and
	 * user space reads the bank size from the map): a build that sizes it
	 * otherwise still adopts the pins. */
	pinned = pinned_max_entries(pin_dir, CASTLE_MAP_BLOCK_HITS);
	l->hit_entries = pinned ? pinned : 2 * castle_hit_bank();
	/* man_hits likewise; man_slots follows its size. */
	pinned = pinned_max_entries(pin_dir, CASTLE_MAP_MAN_HITS);
	l->man_entries = pinned ? pinned : castle_man_slots();

	l->xdp = castle_xdp_bpf__open_opts(&o);
	if (!l->xdp) {
		ret = -errno;
		snprintf(err, errlen, "open castle_xdp: %s", strerror(-ret));
		return ret;
	}
	bpf_map__set_max_entries(l->xdp->maps.rl_state, l->max_sources);
	bpf_map__set_max_entries(l->xdp->maps.block_hits, l->hit_entries);
	bpf_map__set_max_entries(l->xdp->maps.man_hits, l->man_entries);
	bpf_map__set_max_entries(l->xdp->maps.man_slots, 1 + l->man_entries / 64);
	/* Both objects' pins are checked before either loads (or a pin is
	 * dropped): an upgrade refused for a TC map leaves the XDP side's pins
	 * as they were too. */
	ret = check_pins(l->xdp->obj, pin_dir, &drops, err, errlen);
	if (ret)
		goto fail;
#ifdef CASTLE_HAVE_TC
	{
		size_t sz;
		const void *bytes = castle_tc_bpf__elf_bytes(&sz);

		ret = open_mem(l, bytes, sz, &l->tc, "castle_tc", err, errlen);
		if (ret)
			goto fail;
		ret = check_pins(l->tc, pin_dir, &drops, err, errlen);
		if (ret)
			goto fail;
	}
#endif
	drop_pins(pin_dir, &drops);
	ret = castle_xdp_bpf__load(l->xdp);
	if (ret) {
		snprintf(err, errlen, "load castle_xdp with maps pinned in %s: %s%s", pin_dir,
			 strerror(-ret), load_hint(-ret, l->adopted));
		goto fail;
	}
	ret = castle_maps_from_object(l->xdp->obj, &l->maps);
	if (ret) {
		snprintf(err, errlen, "castle_xdp lacks a map this build needs: %s", strerror(-ret));
		goto fail;
	}
	/* Manual/auto maps pinned by a build without man_count (or written to
	 * around maps.c) hold entries a zero count would hide: count them before
	 * any program of this build runs. */
	castle_man_count_heal(&l->maps);
	/* The drop-path clock may differ from the last start's (jiffies when the
	 * kernel config is readable, the coarse clock when not): let the
	 * programs measure its offset again and restart the event sampler. */
	{
		struct castle_state st;
		uint32_t zero = 0;

		if (bpf_map_lookup_elem(l->maps.state, &zero, &st) == 0 &&
		    (st.tick_to_mono || st.ev_tat)) {
			st.tick_to_mono = 0;
			st.ev_tat = 0;
			bpf_map_update_elem(l->maps.state, &zero, &st, BPF_ANY);
		}
	}
#ifdef CASTLE_HAVE_TC
	{
		ret = bpf_object__load(l->tc);
		if (ret) {
			snprintf(err, errlen, "load castle_tc with maps pinned in %s: %s%s", pin_dir,
				 strerror(-ret), load_hint(-ret, l->adopted));
			goto fail;
		}
	}
#endif
	return 0;
fail:
	castle_loader_close(l);
	return ret;
}

void castle_loader_close(struct castle_loader *l)
{
	/* Closing fds never detaches: XDP attachments are held by the device
	 * (or by libxdp's pinned links), TC links by their pins. */
	if (l->xprog)
		xdp_program__close(l->xprog);
	if (l->xdp_lobj)
		bpf_object__close(l->xdp_lobj);
	if (l->tc)
		bpf_object__close(l->tc);
	castle_maps_close(&l->maps);
	if (l->xdp)
		castle_xdp_bpf__destroy(l->xdp);
	l->xprog = NULL;
	l->xdp_lobj = l->tc = NULL;
	l->xdp = NULL;
}

/* ---- programs of other builds --------------------------------------------- */

static int prog_tag(int fd, uint8_t tag[BPF_TAG_SIZE])
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info);

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return -errno;
	memcpy(tag, info.tag, BPF_TAG_SIZE);
	return 0;
}

uint32_t castle_loader_older_program(const struct castle_loader *l)
{
	uint8_t tags[8][BPF_TAG_SIZE];
	struct bpf_map_info si = {};
	__u32 len = sizeof(si), id = 0;
	struct bpf_program *p;
	int ntags = 0;

	if (bpf_obj_get_info_by_fd(l->maps.state, &si, &len))
		return 0;
	bpf_object__for_each_program(p, l->xdp->obj)
		if (ntags < 8 && !prog_tag(bpf_program__fd(p), tags[ntags]))
			ntags++;
	if (l->tc)
		bpf_object__for_each_program(p, l->tc)
			if (ntags < 8 && !prog_tag(bpf_program__fd(p), tags[ntags]))
				ntags++;
	while (!bpf_prog_get_next_id(id, &id)) {
		struct bpf_prog_info info = {};
		__u32 ids[64] = { 0 }, n;
		bool uses = false, ours = false;
		int fd = bpf_prog_get_fd_by_id(id);

		if (fd < 0)
			continue;
		info.nr_map_ids = 64;
		info.map_ids = (uintptr_t)ids;
		len = sizeof(info);
		n = bpf_obj_get_info_by_fd(fd, &info, &len) ? 0 : info.nr_map_ids;
		close(fd);
		for (__u32 i = 0; i < n && i < 64; i++)
			uses |= ids[i] == si.id;
		for (int t = 0; uses && t < ntags; t++)
			ours |= !memcmp(info.tag, tags[t], BPF_TAG_SIZE);
		if (uses && !ours)
			return id;
	}
	return 0;
}

/* ---- castled's presence -------------------------------------------------- */

bool castle_daemon_alive(pid_t pid)
{
	char path[64], comm[32] = "";
	size_t n;
	FILE *f;

	if (pid <= 0 || (kill(pid, 0) && errno != EPERM))
		return false;
	/* The kernel's comm is the executable's name cut to 15 bytes, then a
	 * newline: an exact "castled", not a prefix (castled-foo is not it). */
	snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	f = fopen(path, "re");
	if (!f)
		return false;
	if (!fgets(comm, sizeof(comm), f))
		comm[0] = 0;
	fclose(f);
	n = strlen(comm);
	if (n && comm[n - 1] == '\n')
		comm[--n] = 0;
	return !strcmp(comm, "castled");
}

int castle_state_read(int state_fd, struct castle_state *st)
{
	uint32_t zero = 0;

	return bpf_map_lookup_elem(state_fd, &zero, st) ? -errno : 0;
}

int castle_daemon_read(int fd, struct castle_daemon_rec *v)
{
	uint32_t zero = 0;

	if (fd < 0)
		return -EBADF;
	return bpf_map_lookup_elem(fd, &zero, v) ? -errno : 0;
}

/* Only castled writes the record, from its main thread: read, modify,
 * write; the reload's number (or 1 for the other changes), 0 when the map
 * is missing or cannot be written. */
enum daemon_op { D_RELOAD_START, D_RELOAD_OK, D_RELOAD_FAILED, D_FLAGS, D_PID };

static uint64_t daemon_update(int fd, enum daemon_op op, uint64_t arg)
{
	struct castle_daemon_rec v;
	uint32_t zero = 0;

	if (castle_daemon_read(fd, &v))
		return 0;
	switch (op) {
	case D_RELOAD_START:
		v.reload_started++;
		break;
	case D_RELOAD_OK:
	case D_RELOAD_FAILED:
		v.reload_finished = v.reload_started << 1 | (op == D_RELOAD_OK);
		break;
	case D_FLAGS:
		v.flags |= arg;
		break;
	case D_PID:
		v.pid = (uint32_t)arg;
		break;
	}
	if (bpf_map_update_elem(fd, &zero, &v, BPF_ANY))
		return 0;
	return op == D_RELOAD_START || op == D_RELOAD_OK || op == D_RELOAD_FAILED ? v.reload_started
										  : 1;
}

uint64_t castle_daemon_reload_start(int fd)
{
	return daemon_update(fd, D_RELOAD_START, 0);
}

uint64_t castle_daemon_reload_finish(int fd, bool ok)
{
	return daemon_update(fd, ok ? D_RELOAD_OK : D_RELOAD_FAILED, 0);
}

int castle_daemon_set_flags(int fd, uint64_t flags)
{
	return daemon_update(fd, D_FLAGS, flags) ? 0 : -EIO;
}

int castle_daemon_set_pid(int fd, uint32_t pid)
{
	return daemon_update(fd, D_PID, pid) ? 0 : -EIO;
}

bool castle_daemon_unrestored(int fd)
{
	struct castle_daemon_rec v;

	return !castle_daemon_read(fd, &v) && !(v.flags & CASTLE_DAEMON_F_RESTORED);
}

int castle_pin_lock(const char *pin_dir, int *fd_out, char *err, size_t errlen)
{
	struct stat a, b;
	int fd, ret, tries;

	*fd_out = -1;
	ret = castle_bpffs_check(pin_dir, err, errlen);
	if (ret)
		return ret;
	/* castlectl unload removes the directory with its last interface; a
	 * lock on a directory removed between open and flock locks nothing:
	 * take it again on the directory the path names now. */
	for (tries = 0; tries < 5; tries++) {
		if (mkdir(pin_dir, 0700) && errno != EEXIST) {
			ret = -errno;
			snprintf(err, errlen, "create %s: %s", pin_dir, strerror(-ret));
			return ret;
		}
		fd = open(pin_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (fd < 0) {
			ret = -errno;
			if (ret == -ENOENT)
				continue;
			snprintf(err, errlen, "open %s: %s", pin_dir, strerror(-ret));
			return ret;
		}
		if (flock(fd, LOCK_EX | LOCK_NB)) {
			struct castle_state st = {};
			char path[4200];
			int sfd;

			ret = -errno;
			close(fd);
			if (ret != -EWOULDBLOCK) {
				snprintf(err, errlen, "lock %s: %s", pin_dir, strerror(-ret));
				return ret;
			}
			/* Name the holder when it got as far as recording itself. */
			snprintf(path, sizeof(path), "%s/%s", pin_dir, CASTLE_MAP_STATE);
			sfd = bpf_obj_get(path);
			if (sfd >= 0) {
				if (castle_state_read(sfd, &st) ||
				    !castle_daemon_alive((pid_t)st.daemon_pid))
					st.daemon_pid = 0;
				close(sfd);
			}
			if (st.daemon_pid)
				snprintf(err, errlen, "another castled (pid %u) holds %s; stop it first",
					 st.daemon_pid, pin_dir);
			else
				snprintf(err, errlen, "another castled holds %s (it is starting, or "
					 "stopping); stop it first", pin_dir);
			return -EWOULDBLOCK;
		}
		if (!fstat(fd, &a) && !stat(pin_dir, &b) && a.st_dev == b.st_dev &&
		    a.st_ino == b.st_ino) {
			*fd_out = fd;
			return 0;
		}
		close(fd);
	}
	snprintf(err, errlen, "lock %s: the directory keeps being removed", pin_dir);
	return -EAGAIN;
}
