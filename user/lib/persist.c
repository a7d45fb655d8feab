// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * persist.c - see persist.h. The file is rewritten only when its content
 * changes (a hash of what would be written), so a quiet daemon does not write
 * to disk on every walk (each second, see paced.h).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "ctl_maps.h"
#include "persist.h"

/* CLOCK_BOOTTIME -> wall clock, now. */
static int64_t boot_to_unix_now(void)
{
	struct timespec rt;
	uint64_t boot = castle_now_boot_ns();

	clock_gettime(CLOCK_REALTIME, &rt);
	return (int64_t)rt.tv_sec * 1000000000ll + rt.tv_nsec - (int64_t)boot;
}

/* Whether dir holds nothing but castle's files (the state file, its
 * temporaries and kept copies): a directory castle may treat as its own. */
static bool only_castle_files(const char *dir)
{
	size_t n = strlen(CASTLE_STATE_FILE);
	bool only = true;
	struct dirent *e;
	DIR *d = opendir(dir);

	if (!d)
		return false;
	while (only && (e = readdir(d)))
		only = !strcmp(e->d_name, ".") || !strcmp(e->d_name, "..") ||
		       !strncmp(e->d_name, CASTLE_STATE_FILE, n);
	closedir(d);
	return only;
}

/* The directories above path (as written, and as resolved through any
 * symbolic link): someone else who may rename entries in one of them could
 * put a directory of theirs in the state dir's place after the checks. Such
 * a directory belongs to root or castle's user, and is not writable by group
 * or others unless sticky (/tmp: nobody renames what is not theirs). */
static int check_ancestors(const char *path, const char *state_dir, char *err, size_t errlen)
{
	char buf[sizeof(((struct castle_persist *)0)->dir)];
	struct stat sb;

	snprintf(buf, sizeof(buf), "%s", path);
	for (char *slash = strrchr(buf, '/'); slash; slash = strrchr(buf, '/')) {
		if (slash == buf)
			slash[1] = 0; /* the root itself, last */
		else
			*slash = 0;
		if (stat(buf, &sb))
			continue; /* a relative path's ".." etc.: nothing to say */
		bool foreign = sb.st_uid && sb.st_uid != geteuid();

		if (foreign || ((sb.st_mode & (S_IWGRP | S_IWOTH)) && !(sb.st_mode & S_ISVTX))) {
			snprintf(err, errlen, "state directory %s is inside %s, which %s (uid %u, "
				 "mode %04o): it could put another directory in the state dir's place; "
				 "give castle a directory of its own", state_dir, buf,
				 foreign ? "another user owns" : "its group or others may write in",
				 (unsigned)sb.st_uid, (unsigned)(sb.st_mode & 07777));
			return -EPERM;
		}
		if (slash == buf)
			break;
	}
	return 0;
}

int castle_persist_init(struct castle_persist *p, const char *state_dir, char *err, size_t errlen)
{
	struct stat sb;
	bool made;

	memset(p, 0, sizeof(*p));
	snprintf(p->dir, sizeof(p->dir), "%s", state_dir);
	snprintf(p->path, sizeof(p->path), "%s/%s", state_dir, CASTLE_STATE_FILE);
	made = !mkdir(state_dir, 0700);
	if (!made && errno != EEXIST) {
		snprintf(err, errlen, "create state directory %s: %s", state_dir, strerror(errno));
		return -errno;
	}
	/* A file (or anything else) where the directory should be would fail
	 * every save, and chmod below would change a stranger's file. */
	if (stat(state_dir, &sb)) {
		snprintf(err, errlen, "state directory %s: %s", state_dir, strerror(errno));
		return -errno;
	}
	if (!S_ISDIR(sb.st_mode)) {
		snprintf(err, errlen, "state directory %s exists and is not a directory", state_dir);
		return -ENOTDIR;
	}
	/* Whoever may write in the directory may write the entries castle
	 * restores (an allow entry, say): only castle's user, then. */
	if (!made && sb.st_uid != geteuid()) {
		snprintf(err, errlen, "state directory %s belongs to uid %u, not to castle's (uid %u): "
			 "its owner could change the manual entries castle restores; give castle a "
			 "directory of its own", state_dir, (unsigned)sb.st_uid, (unsigned)geteuid());
		return -EPERM;
	}
	if (!made && (sb.st_mode & (S_IWGRP | S_IWOTH))) {
		snprintf(err, errlen, "state directory %s is writable by %s (mode %04o): they could "
			 "change the manual entries castle restores; give castle a directory of its own",
			 state_dir, sb.st_mode & S_IWOTH ? "others" : "its group",
			 (unsigned)(sb.st_mode & 07777));
		return -EPERM;
	}
	char real[PATH_MAX];
	int ret = check_ancestors(state_dir, state_dir, err, errlen);

	if (!ret && !realpath(state_dir, real)) {
		ret = -errno;
		snprintf(err, errlen, "state directory %s: %s", state_dir, strerror(errno));
	}
	if (!ret)
		ret = check_ancestors(real, state_dir, err, errlen);
	if (ret)
		return ret;
	/* Manual entries are nobody else's business: 0700, for a directory
	 * castle made or one holding only its files; the mode of a directory
	 * shared with other files (a mistyped path, say) is left alone. */
	if (!made && (sb.st_mode & 07777) != 0700 && only_castle_files(state_dir))
		chmod(state_dir, 0700);
	p->boot_to_unix_ns = boot_to_unix_now();
	return 0;
}

/* ---- writing ------------------------------------------------------------ */

struct buf {
	char *s;
	size_t n, cap;
	int err;
};

static void put(struct buf *b, const char *s, size_t n)
{
	if (b->err)
		return;
	if (b->n + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap * 2 : 4096;
		while (cap < b->n + n + 1)
			cap *= 2;
		char *v = realloc(b->s, cap);
		if (!v) {
			b->err = -ENOMEM;
			return;
		}
		b->s = v;
		b->cap = cap;
	}
	memcpy(b->s + b->n, s, n);
	b->n += n;
	b->s[b->n] = 0;
}

struct walk_ctx {
	struct castle_persist *p;
	const struct castle_maps *m;
	struct buf b;
	struct castle_manual_counts c;
	struct castle_man_sweep *sweep;
};

/* A CLOCK_BOOTTIME expiry (ns, not 0) as unix seconds, rounded up, in
 * unsigned arithmetic: a huge TTL (up to the UINT64_MAX that
 * castle_manual_block_put saturates to) saturates too, far in the future,
 * instead of overflowing into the past and being lost at the next restore.
 * The result is at most UINT64_MAX / 1e9 + 1 (about 1.8e10), far below
 * LLONG_MAX, and at least 1 (never 0, which means "no expiry"). */
static long long unix_expiry(uint64_t expires_ns, int64_t boot_to_unix_ns)
{
	uint64_t off, u;

	if (boot_to_unix_ns >= 0) {
		off = (uint64_t)boot_to_unix_ns;
		u = expires_ns > UINT64_MAX - off ? UINT64_MAX : expires_ns + off;
	} else {
		off = (uint64_t)-(boot_to_unix_ns + 1) + 1; /* no overflow for INT64_MIN */
		u = expires_ns > off ? expires_ns - off : 0;
	}
	return (long long)(u / 1000000000ull) + 1;
}

static int one_entry(const struct castle_entry *e, void *arg)
{
	struct walk_ctx *w = arg;
	int fi = e->cidr.family == 4 ? 0 : 1;
	struct castle_persist_entry pe = { .allow = e->allow, .cidr = e->cidr };
	char line[CASTLE_PERSIST_LINE_MAX + 1];
	int n;

	if (w->sweep)
		castle_man_sweep_see(w->sweep, e);

	if (e->allow) {
		w->c.allow[fi]++;
		w->c.map_entries[fi ? CASTLE_MM_ALLOW6 : CASTLE_MM_ALLOW4]++;
	} else {
		if (e->origin < CASTLE_ORIGIN_MAX)
			w->c.block[e->origin][fi]++;
		w->c.map_entries[castle_cidr_is_host(&e->cidr) ? (fi ? CASTLE_MM_BLOCK6 : CASTLE_MM_BLOCK4)
							       : (fi ? CASTLE_MM_NET6 : CASTLE_MM_NET4)]++;
	}
	/* Auto-bans are the kernel's reaction to traffic now, not an
	 * operator's decision: they are not carried across a reboot. */
	if (!e->allow && e->origin != CASTLE_ORIGIN_MANUAL)
		return 0;
	if (e->expires_ns && !e->allow)
		pe.expires = unix_expiry(e->expires_ns, w->p->boot_to_unix_ns);
	if (castle_note_get(w->m, &e->cidr, castle_note_list(e->allow, false),
			    pe.comment, sizeof(pe.comment)))
		pe.comment[0] = 0;
	n = castle_persist_format_line(&pe, line, sizeof(line));
	if (n < 0)
		return n;
	put(&w->b, line, n);
	return w->b.err;
}

/* Entries come out of hash maps in an order that depends on the hash seed,
 * not on content: sort lines so that equal content gives an equal hash. */
static int line_cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static uint64_t fnv1a(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static int sorted_text(struct buf *in, struct buf *out)
{
	size_t nl = 0, k = 0;
	char **lines;

	for (size_t i = 0; i < in->n; i++)
		nl += in->s[i] == '\n';
	lines = calloc(nl + 1, sizeof(*lines));
	if (!lines)
		return -ENOMEM;
	for (char *s = in->s, *e; s && *s; s = e + 1) {
		e = strchr(s, '\n');
		if (!e)
			break;
		*e = 0;
		lines[k++] = s;
	}
	qsort(lines, k, sizeof(*lines), line_cmp);
	static const char head[] = "# castle manual entries: kind cidr expires-unix [comment]. "
				   "Written by castled; edit only while it is stopped.\n";
	put(out, head, sizeof(head) - 1);
	for (size_t i = 0; i < k; i++) {
		put(out, lines[i], strlen(lines[i]));
		put(out, "\n", 1);
	}
	free(lines);
	return out->err;
}

static int write_atomic(const struct castle_persist *p, const struct buf *b, char *err,
			size_t errlen)
{
	char tmp[4200];
	int fd, dfd, ret = 0;
	size_t off = 0;

	/* A temporary file of its own (mkstemp: 0600): castlectl may save while
	 * a castled starts, and two writers must never share one. */
	snprintf(tmp, sizeof(tmp), "%s.XXXXXX", p->path);
	fd = mkostemp(tmp, O_CLOEXEC);
	if (fd < 0) {
		/* the file's name, not the random one: castled logs a failure
		 * again only when its message changes */
		snprintf(err, errlen, "write %s: %s", p->path, strerror(errno));
		return -errno;
	}
	while (off < b->n) {
		ssize_t w = write(fd, b->s + off, b->n - off);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			ret = -errno;
			break;
		}
		off += w;
	}
	if (!ret && fsync(fd))
		ret = -errno;
	close(fd);
	if (!ret && rename(tmp, p->path))
		ret = -errno;
	if (ret) {
		snprintf(err, errlen, "write %s: %s", p->path, strerror(-ret));
		unlink(tmp);
		return ret;
	}
	/* The rename is durable only once the directory is on disk too. */
	dfd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd >= 0) {
		fsync(dfd);
		close(dfd);
	}
	return 0;
}

/* The state dir, locked (flock, exclusive) for one walk and write: castled
 * and a castlectl saving while castled starts or stops would otherwise each
 * write its own snapshot, and the older one could be renamed in last (while
 * castled runs castlectl does not save). Waits up to
 * CASTLE_PERSIST_LOCK_WAIT_MS: returns the fd holding the lock, or -1 to go
 * on unlocked (the dir cannot be opened, and the write will say why; or the
 * wait ran out: a writer stopped while holding it must not stop every save). */
static int lock_dir(const struct castle_persist *p)
{
	int fd = open(p->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	struct timespec nap = { 0, 10 * 1000 * 1000 };

	if (fd < 0)
		return -1;
	for (int waited = 0;; waited += 10) {
		if (!flock(fd, LOCK_EX | LOCK_NB))
			return fd;
		if (errno == EINTR)
			continue;
		if (errno != EWOULDBLOCK || waited >= CASTLE_PERSIST_LOCK_WAIT_MS)
			break;
		nanosleep(&nap, NULL);
	}
	close(fd);
	return -1;
}

int castle_persist_sync(struct castle_persist *p, const struct castle_maps *m, bool reap,
			struct castle_manual_counts *counts, struct castle_man_sweep *sweep,
			char *err, size_t errlen)
{
	struct walk_ctx w = { .p = p, .m = m, .sweep = sweep };
	struct buf out = { 0 };
	int64_t off = boot_to_unix_now(), d = off - p->boot_to_unix_ns;
	int lock_fd = -1;
	uint64_t h;
	int ret;

	/* The wall clock may have been stepped since castled started (NTP
	 * after boot, often): expiries are written on the clock as it is now.
	 * Moves under a second are the two clocks' reads apart, and keeping
	 * the offset then keeps the content (and its hash) stable. */
	if (d > 1000000000ll || d < -1000000000ll)
		p->boot_to_unix_ns = off;
	lock_fd = lock_dir(p);
	ret = castle_manual_foreach(m, reap, one_entry, &w);
	if (!ret)
		ret = w.b.err;
	if (ret) {
		snprintf(err, errlen, "read the manual entries: %s", strerror(-ret));
		goto out;
	}
	if (counts)
		*counts = w.c;
	if (sweep)
		sweep->complete = true;
	ret = sorted_text(&w.b, &out);
	if (ret) {
		snprintf(err, errlen, "out of memory");
		goto out;
	}
	h = fnv1a(out.s, out.n);
	if (p->hold || (p->have_hash && h == p->last_hash))
		goto out;
	ret = write_atomic(p, &out, err, errlen);
	if (!ret) {
		p->last_hash = h;
		p->have_hash = true;
		ret = 1;
	}
out:
	if (lock_fd >= 0)
		close(lock_fd); /* and the lock with it */
	free(w.b.s);
	free(out.s);
	return ret;
}

int castle_persist_keep_unrestored(const struct castle_persist *p, char *kept, size_t keptlen,
				   char *err, size_t errlen)
{
	struct castle_persist copy = *p;
	struct buf b = { 0 };
	char chunk[65536];
	size_t n, len = strlen(p->path);
	long long now = time(NULL);
	int ret = 0;
	FILE *f = fopen(p->path, "re");

	if (!f) {
		snprintf(err, errlen, "keep %s: %s", p->path, strerror(errno));
		return -errno;
	}
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		put(&b, chunk, n);
	if (ferror(f))
		ret = -EIO;
	fclose(f);
	if (!ret)
		ret = b.err;
	/* FILE.unrestored-UNIXTIME, or with -N after it: an earlier copy
	 * (of other lines that could not be restored) is never overwritten */
	for (int i = 0; !ret; i++) {
		int k = i ? snprintf(copy.path + len, sizeof(copy.path) - len, ".unrestored-%lld-%d",
				     now, i)
			  : snprintf(copy.path + len, sizeof(copy.path) - len, ".unrestored-%lld", now);
		if (k < 0 || (size_t)k >= sizeof(copy.path) - len)
			ret = -ENAMETOOLONG;
		else if (access(copy.path, F_OK))
			break;
		else if (i >= 100)
			ret = -EEXIST;
	}
	if (ret)
		snprintf(err, errlen, "keep %s: %s", p->path, strerror(-ret));
	else
		ret = write_atomic(&copy, &b, err, errlen);
	if (!ret)
		snprintf(kept, keptlen, "%s", copy.path);
	free(b.s);
	return ret;
}

/* ---- reading ------------------------------------------------------------ */

/* The TTL left until `expires` (unix seconds, in the future), in ns. A
 * far-future expiry (a saturated TTL written by unix_expiry, or an edited
 * file) saturates to UINT64_MAX, which castle_manual_block_put turns into the
 * saturated expiry again, instead of wrapping around to a short TTL. */
static uint64_t restore_ttl_ns(long long expires, int64_t now_unix)
{
	uint64_t s;

	if (!expires)
		return 0;
	s = (uint64_t)expires - (uint64_t)now_unix; /* expires > now_unix >= 0 */
	return s > UINT64_MAX / 1000000000ull ? UINT64_MAX : s * 1000000000ull;
}

struct restore_ctx {
	const struct castle_maps *m;
	int64_t now_unix;
	int restored;
};

static int restore_entry(const struct castle_persist_entry *e, void *arg, char *why,
			 size_t whylen)
{
	struct restore_ctx *r = arg;
	char cidr[CASTLE_CIDR_STRLEN];
	int ret;

	if (e->expires && e->expires <= r->now_unix)
		return 0; /* expired while castle was down */
	/* A manual entry of e's exact key written since the file was is the
	 * newer word and stays (an auto-ban is replaced, as castlectl's block
	 * would); an entry of an enclosing prefix is another entry. */
	if (e->allow)
		ret = castle_manual_allow_put_new(r->m, &e->cidr);
	else
		ret = castle_manual_block_put_new(r->m, &e->cidr,
						  restore_ttl_ns(e->expires, r->now_unix));
	if (ret == -EEXIST)
		return 0;
	if (ret) {
		snprintf(why, whylen, "%s: %s", castle_cidr_str(&e->cidr, cidr, sizeof(cidr)),
			 strerror(-ret));
		return ret;
	}
	if (e->comment[0])
		castle_note_put(r->m, &e->cidr, castle_note_list(e->allow, false),
				e->comment);
	else /* a leftover of the expired block or auto-ban it replaced */
		castle_note_del(r->m, &e->cidr, castle_note_list(e->allow, false));
	r->restored++;
	return 0;
}

int castle_persist_restore(struct castle_persist *p, const struct castle_maps *m, int *restored,
			   char *err, size_t errlen)
{
	struct restore_ctx r = { .m = m, .now_unix = time(NULL) };
	FILE *f = fopen(p->path, "re");
	int ret;

	*restored = 0;
	if (!f) {
		if (errno == ENOENT)
			return 0;
		snprintf(err, errlen, "%s: %s", p->path, strerror(errno));
		return -errno;
	}
	ret = castle_persist_read(f, p->path, restore_entry, &r, err, errlen);
	fclose(f);
	*restored = r.restored;
	return ret;
}
