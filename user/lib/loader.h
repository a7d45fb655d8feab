/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * loader.h - load castle's BPF objects against the pin directory (so a
 * restarted castled adopts the maps of the one before), attach the XDP gate
 * (through libxdp, so it can share an interface with other XDP programs) and
 * the TC program, and take them off again (castlectl unload).
 */
#ifndef CASTLE_LOADER_H
#define CASTLE_LOADER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>
#include <castle/castle.h>
#include "maps.h"

enum castle_xdp_req {
	CASTLE_XDP_AUTO = 0,	/* the kernel picks: native if the driver has it */
	CASTLE_XDP_NATIVE,
	CASTLE_XDP_GENERIC,
};

/* castled --tc-mode: how the TC program is attached where castle's is not
 * attached yet (an attached one keeps its mode: see castle_tc_attach). */
enum castle_tc_req {
	CASTLE_TC_AUTO = 0,	/* TCX where the kernel has it, else clsact */
	CASTLE_TC_TCX,
	CASTLE_TC_CLSACT,
};

struct castle_xdp_bpf;
struct bpf_object;
struct xdp_program;

struct castle_loader {
	char pin_dir[4096];
	uint32_t max_sources;		/* rl_state capacity actually in use */
	uint32_t hit_entries;		/* block_hits entries (both banks) in use */
	uint32_t man_entries;		/* man_hits entries in use (man_slots:
					 * one bit each, after a header word) */
	bool man_slots_new;		/* adopted pins without man_slots: the
					 * bitmap is new beside older entries */
	bool daemon_new;		/* adopted pins without the daemon map:
					 * an older castled's, which restored
					 * its state file itself */
	bool adopted;			/* maps were already pinned: a restart */
	struct castle_xdp_bpf *xdp;	/* maps and a loaded copy of the XDP program */
	struct bpf_object *xdp_lobj;	/* unloaded copy handed to libxdp (lazily) */
	struct xdp_program *xprog;	/* libxdp's handle on xdp_lobj */
	struct bpf_object *tc;		/* TC object, NULL when this build has none */
	struct castle_maps maps;
};

/* "bpffs not mounted at DIR: mount -t bpf bpf DIR" when the parent of pin_dir
 * is not a bpf filesystem. */
int castle_bpffs_check(const char *pin_dir, char *err, size_t errlen);

/* Create the pin directory (0700), open and load the objects with pinned maps
 * reused by name. max_sources sizes rl_state when it is created; an existing
 * pinned rl_state keeps its size (l->max_sources tells which). */
/* The kernel config for libbpf's open options (.kconfig): NULL when libbpf
 * can read the running kernel's, else a stand-in saying CONFIG_HZ is
 * unknown, so the objects load anyway. */
const char *castle_kconfig(void);

int castle_loader_open(struct castle_loader *l, const char *pin_dir, uint32_t max_sources,
		       char *err, size_t errlen);
void castle_loader_close(struct castle_loader *l);

/* The id of a loaded program on l's maps that is none of this build's
 * programs (an older castle's, still attached during an upgrade), or 0. Such
 * a program reads block CIDRs only from the tries (see castle_maps.trie_only). */
uint32_t castle_loader_older_program(const struct castle_loader *l);

/* Appended to errors of loading and attaching that a missing capability
 * explains (loader.c, attach.c). */
#define CASTLE_CAPS_HINT " (castled needs CAP_BPF, CAP_PERFMON, CAP_NET_ADMIN and CAP_SYS_ADMIN, or root: see dist/castled.service)"

/* Open (not load) another copy of the XDP object against l's pin directory,
 * rl_state sized to l->max_sources: *out, or -errno and err. attach.c hands
 * it to libxdp, which loads it its own way. */
int castle_loader_open_xdp_copy(struct castle_loader *l, struct bpf_object **out, char *err,
				size_t errlen);

/* What castle_loader_attach did, for the log. */
enum castle_attach_action {
	CASTLE_ATT_NEW,		/* nothing of ours was there */
	CASTLE_ATT_ADOPTED,	/* the same program already runs: left alone */
	CASTLE_ATT_REPLACED,	/* an older castle program was replaced in place */
};

struct castle_attach_result {
	enum castle_attach_action xdp_action;
	enum castle_attach_action tc_action;	/* NEW or REPLACED */
	struct castle_iface iface;	/* as recorded in the ifaces map */
	char xdp_note[160];		/* e.g. how libxdp attached */
	char tc_note[160];		/* why TC is not attached, if it is not */
};

/* Whether castle can go on ifname: it exists (in the caller's network
 * namespace) and carries Ethernet frames. 0, or -errno with err set. */
int castle_iface_check(const char *ifname, char *err, size_t errlen);

/* Remove every pin under pin_dir when no interface is recorded as attached
 * (a first start whose attach failed): 0 when removed, -EBUSY when an
 * interface is recorded, -ENOENT when there are no pins to open. */
int castle_unpin_unused(const char *pin_dir);

/* Attach XDP (and TC when this build has it) to ifname and record it in the
 * ifaces map. Never detaches castle's own running program first: a restart
 * keeps enforcing. On failure, what this call attached is taken off again
 * and PIN/prog_xdp and PIN/prog_tc are put back as they were. */
int castle_loader_attach(struct castle_loader *l, const char *ifname, enum castle_xdp_req req,
			 enum castle_tc_req tc_req, struct castle_attach_result *res, char *err,
			 size_t errlen);

/* castlectl unload IFACE: detach castle's XDP and TC programs from ifname,
 * drop its ifaces entry, and when no interface remains remove every pin under
 * pin_dir. Works without castled. *all_gone tells whether the pins went. */
int castle_unload_iface(const char *pin_dir, const char *ifname, bool *all_gone, char *err,
			size_t errlen);

const char *castle_xdp_mode_name(uint32_t mode);
/* The mode's name; castle_tc_mode_name ignores the CASTLE_TCM_F_* flags. */
const char *castle_tc_mode_name(uint32_t mode);

/* ifname went away (deleted) while castle was attached: drop its record from
 * the ifaces map, its counter slot and its TC link pin, so status does not
 * show an interface that no longer exists. Other pins are left alone. */
int castle_iface_forget(const struct castle_maps *m, const char *pin_dir, const char *ifname);

/* ---- castled's presence ---------------------------------------------------
 * PIN/state records castled's pid while it runs. After a kill -9 the pid
 * stays there and may be reused by an unrelated process: a pid only counts
 * as castled when the process exists AND /proc/PID/comm is "castled". Every
 * "is castled running" question (castled, the loader, castlectl status and
 * reload) goes through castle_daemon_alive. */

/* pid is a live process named castled. False for 0, for a gone pid, for a
 * process of another name, and when /proc/PID/comm cannot be read. */
bool castle_daemon_alive(pid_t pid);

/* Read the single entry of the state map (0 or -errno). */
int castle_state_read(int state_fd, struct castle_state *st);

/* castled's record in the `daemon` map (struct castle_daemon_rec): _read
 * (0 or -errno; -EBADF when fd < 0, the pins of a build before the map);
 * castled, the map's one writer, calls _reload_start when it takes a SIGHUP,
 * _reload_finish with the verdict (each returns the reload's number, 0 when
 * the map is missing or cannot be written) and _set_flags (0 or -EIO). */
int castle_daemon_read(int fd, struct castle_daemon_rec *v);
uint64_t castle_daemon_reload_start(int fd);
uint64_t castle_daemon_reload_finish(int fd, bool ok);
int castle_daemon_set_flags(int fd, uint64_t flags);
/* castled at start: it numbers the reloads from now on (0 or -errno). */
int castle_daemon_set_pid(int fd, uint32_t pid);
/* The map is there and lacks CASTLE_DAEMON_F_RESTORED: pins a castled start
 * left before its restore (false without the map). */
bool castle_daemon_unrestored(int fd);

/* The pin directory lock: castled creates pin_dir if needed (0700), opens it
 * and takes flock(LOCK_EX | LOCK_NB) on it, held through *fd_out (O_CLOEXEC)
 * for the daemon's life, so two castleds cannot manage the same pins, even
 * when started at the same instant (the pid in PIN/state is written only
 * once the gate enforces). -EWOULDBLOCK with "another castled (pid N) holds
 * PIN_DIR ..." in err when it is taken. castlectl never takes it. */
int castle_pin_lock(const char *pin_dir, int *fd_out, char *err, size_t errlen);

#endif /* CASTLE_LOADER_H */
