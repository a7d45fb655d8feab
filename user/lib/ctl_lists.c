// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_lists.c - castlectl block/allow add, del and list. Writes go to the
 * man_* maps only (a policy reload never touches them), and a comment to the
 * `notes` map; every write is all or nothing.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ctl.h"
#include "ctl_maps.h"
#include "loader.h"
#include "persist.h"
#include "out.h"
#include "units.h"

static const char *list_name(bool allow)
{
	return allow ? "allowlist" : "blocklist";
}

/* A full map: say which list and how full, like the spec asks. */
static void report_full(struct ctl *c, int fd, bool allow, const char *cidr)
{
	uint32_t n = 0, cap = 0;

	if (castle_map_usage(fd, &n, &cap) == 0)
		ctl_errf(c, "%s full: %u entries (capacity %u); %s not added", list_name(allow), n,
			 cap, cidr);
	else
		ctl_errf(c, "%s full; %s not added", list_name(allow), cidr);
}

/*
 * A change made while castled is down is saved to the state file, so it
 * survives a reboot before castled runs again (castled saves every second
 * while it runs, and castlectl leaves that to it). The file is castled's
 * STATE_DIR/manual.state: --state-dir names it; without it, the default
 * directory is used only with the default pin dir and a state file castled
 * already wrote there (castlectl never makes one where castled has none, nor
 * writes one instance's entries into another's file). Otherwise it says
 * where the change lives until castled saves it. The change itself stands
 * either way: a failed save is a warning.
 */

/* castled's state dir while castled is down, or NULL: castled runs (it
 * saves), or castlectl does not know the dir (*why says so). */
static const char *down_state_dir(struct ctl *c, const char **why)
{
	static char path[4200];
	struct castle_state st;

	*why = NULL;
	if (!castle_state_read(c->maps.state, &st) && st.daemon_pid &&
	    castle_daemon_alive((pid_t)st.daemon_pid))
		return NULL;
	if (c->state_dir)
		return c->state_dir;
	snprintf(path, sizeof(path), "%s/%s", CASTLE_STATE_DIR_DEFAULT, CASTLE_STATE_FILE);
	if (!strcmp(c->pin_dir, CASTLE_PIN_DIR_DEFAULT) && !access(path, F_OK))
		return CASTLE_STATE_DIR_DEFAULT;
	*why = "castlectl: note: castled is not running: the change is enforced, and saved when "
	       "castled runs again (give --state-dir, castled's, to save it now)\n";
	return NULL;
}

/*
 * Before a change while castled is down: maps a castled start pinned and did
 * not restore the file into (it was killed, or failed after pinning) lack
 * the file's entries, and saving them would lose those. With the state dir
 * known, castlectl restores the file into them first (keeping any manual
 * entry already there, written since), as the next castled would, and marks
 * them restored; then the change, and its save, are on the whole set (an
 * unblock of an entry of the file stays an unblock). Without the dir, the
 * change is made and not saved: the next castled restores the file beside
 * it (which brings back an entry of the file this change deleted: said).
 */
static void ctl_restore_first(struct ctl *c, bool del)
{
	const char *why, *dir;
	struct castle_persist p;
	char err[512];
	int restored = 0, bad;

	if (!castle_daemon_unrestored(c->maps.daemon))
		return;
	dir = down_state_dir(c, &why);
	if (!dir) {
		if (why)
			fprintf(c->err, "castlectl: note: castled is not running, and its state file has "
				"not been restored into these maps yet: the change is enforced and not "
				"saved; the next castled restores the file beside it%s (give --state-dir, "
				"castled's, to restore it now)\n",
				del ? ", which brings back an entry of the file deleted now" : "");
		return;
	}
	if (castle_persist_init(&p, dir, err, sizeof(err))) {
		fprintf(c->err, "castlectl: warning: %s: the state file is not restored into these "
			"maps, and the change is not saved\n", err);
		return;
	}
	bad = castle_persist_restore(&p, &c->maps, &restored, err, sizeof(err));
	if (bad < 0 || bad > 0) {
		/* what could not be restored stays in the file only: no save
		 * may write over it; castled keeps a copy when it restores */
		fprintf(c->err, "castlectl: warning: restoring %s: %s: the change is enforced and "
			"not saved (castled restores the file when it starts)\n", p.path, err);
		return;
	}
	castle_daemon_set_flags(c->maps.daemon, CASTLE_DAEMON_F_RESTORED);
	fprintf(c->err, "castlectl: note: restored %d entr%s of %s into maps a castled start left "
		"before its restore\n", restored, restored == 1 ? "y" : "ies", p.path);
}

static void ctl_persist(struct ctl *c)
{
	struct castle_persist p;
	const char *why, *dir;
	char err[512];

	dir = down_state_dir(c, &why);
	if (!dir) {
		if (why)
			fputs(why, c->err);
		return;
	}
	/* still unrestored (ctl_restore_first could not): said there */
	if (castle_daemon_unrestored(c->maps.daemon))
		return;
	if (castle_persist_init(&p, dir, err, sizeof(err)) ||
	    castle_persist_sync(&p, &c->maps, false, NULL, NULL, err, sizeof(err)) < 0)
		fprintf(c->err, "castlectl: warning: castled is not running and the change could not "
			"be saved: %s (it is enforced; castled saves it when it runs again)\n", err);
}

/*
 * The entry goes in first and its note second, the order castle_notes_gc
 * relies on (it reads the notes before the entries, so a note it sees has its
 * entry already). If the note cannot be written, the entry is put back as it
 * was (or removed when it was new): never a partial change. Without a comment,
 * a stale note (of an expired entry, or of one gone) is deleted after the
 * entry is written: for that instant the new entry may show it.
 */
static int add_entry(struct ctl *c, const struct ctl_args *a, bool allow)
{
	uint32_t list = allow ? CASTLE_NOTE_ALLOW : CASTLE_NOTE_BLOCK;
	char cs[CASTLE_CIDR_STRLEN];
	struct castle_block_val old_b;
	struct castle_allow_val old_a;
	bool had = false;
	int ret;

	if (ctl_open(c))
		return CTL_FAIL;
	ctl_restore_first(c, false);
	castle_cidr_str(&a->cidr, cs, sizeof(cs));
	if (allow)
		ret = castle_manual_allow_put_prev(&c->maps, &a->cidr, &had, &old_a);
	else
		ret = castle_manual_block_put_prev(&c->maps, &a->cidr, a->ttl_ns, CASTLE_ORIGIN_MANUAL,
						   &had, &old_b);
	if (ret) {
		if (ret == -ENOSPC)
			report_full(c, allow ? castle_manual_allow_fd(&c->maps, &a->cidr)
					     : castle_manual_block_fd(&c->maps, &a->cidr),
				    allow, cs);
		else
			ctl_errf(c, "%s add %s: %s", allow ? "allow" : "block", cs, strerror(-ret));
		return CTL_FAIL;
	}
	if (a->comment) {
		ret = castle_note_put(&c->maps, &a->cidr, list, a->comment);
		if (ret) {
			int u = allow ? castle_manual_allow_undo(&c->maps, &a->cidr, had, &old_a)
				      : castle_manual_block_undo(&c->maps, &a->cidr, had, &old_b);
			if (ret == -ENOSPC) {
				uint32_t n = 0, cap = 0;
				castle_map_usage(c->maps.notes, &n, &cap);
				ctl_errf(c, "comment store full: %u entries (capacity %u); %s not added",
					 n, cap, cs);
			} else {
				ctl_errf(c, "write the comment of %s: %s; %s not added", cs,
					 strerror(-ret), cs);
			}
			if (u)
				ctl_errf(c, "could not take back the %s entry of %s: %s", list_name(allow),
					 cs, strerror(-u));
			return CTL_FAIL;
		}
	} else if (!had || (!allow && (old_b.origin != CASTLE_ORIGIN_MANUAL ||
				       (old_b.expires_ns && old_b.expires_ns <= castle_now_boot_ns())))) {
		/* Adding an entry keeps its comment; but one that was not
		 * there for the operator (expired, not reaped yet; an auto-ban;
		 * gone, its note not collected yet) leaves none to keep. */
		castle_note_del(&c->maps, &a->cidr, list);
	}
	if (!allow) {
		struct castle_allow_val av;

		/* Not an error (the operator may mean to lift the allow next), but
		 * the block would silently do nothing: say so. */
		int pol = castle_allow_lookup(&c->maps, &a->cidr, true, &av);

		if (!castle_allow_lookup(&c->maps, &a->cidr, false, &av) || !pol)
			fprintf(c->err, "castlectl: warning: %s is also allowlisted, and allow beats "
				"block: the block has no effect until the allow entry is removed\n", cs);
		else if (pol == -EPERM)
			fprintf(c->err, "castlectl: note: whether the policy allowlists %s (allow "
				"beats block) cannot be read: %s\n", cs, CTL_BY_ID_NEEDS);
	}
	ctl_persist(c);
	return CTL_OK;
}

static int del_entry(struct ctl *c, const struct ctl_args *a, bool allow)
{
	uint32_t list = allow ? CASTLE_NOTE_ALLOW : CASTLE_NOTE_BLOCK;
	char cs[CASTLE_CIDR_STRLEN];
	struct castle_block_val bv;
	struct castle_allow_val av;
	bool in_policy;
	int ret, pol_ret;

	if (ctl_open(c))
		return CTL_FAIL;
	ctl_restore_first(c, true);
	castle_cidr_str(&a->cidr, cs, sizeof(cs));
	pol_ret = allow ? castle_allow_lookup(&c->maps, &a->cidr, true, &av)
			: castle_block_lookup(&c->maps, &a->cidr, true, &bv);
	in_policy = !pol_ret;
	ret = allow ? castle_manual_allow_del(&c->maps, &a->cidr)
		    : castle_manual_block_del(&c->maps, &a->cidr);
	if (ret == -ENOENT) {
		if (in_policy)
			ctl_errf(c, "%s comes from the policy file; edit the policy", cs);
		else if (pol_ret == -EPERM)
			ctl_errf(c, "%s is not a manual entry (whether the policy has it cannot be "
				 "read: %s)", cs, CTL_BY_ID_NEEDS);
		else
			ctl_errf(c, "%s is not in the %s", cs, list_name(allow));
		return CTL_FAIL;
	}
	if (ret) {
		ctl_errf(c, "%s del %s: %s", allow ? "allow" : "block", cs, strerror(-ret));
		return CTL_FAIL;
	}
	/* The policy's entry of the same prefix has a note of its own. */
	castle_note_del(&c->maps, &a->cidr, list);
	if (in_policy)
		fprintf(c->err, "castlectl: note: removed the manual entry; %s is also in the policy "
			"file and stays %sed\n", cs, allow ? "allow" : "block");
	ctl_persist(c);
	return CTL_OK;
}

int ctl_block_add(struct ctl *c, const struct ctl_args *a) { return add_entry(c, a, false); }
int ctl_block_del(struct ctl *c, const struct ctl_args *a) { return del_entry(c, a, false); }
int ctl_allow_add(struct ctl *c, const struct ctl_args *a) { return add_entry(c, a, true); }
int ctl_allow_del(struct ctl *c, const struct ctl_args *a) { return del_entry(c, a, true); }

/* ---- listing ------------------------------------------------------------ */

struct row {
	struct castle_entry e;
	char note[CASTLE_NOTE_MAX];
	bool has_note;
};

struct rows {
	struct ctl *c;
	struct row *v;
	size_t n, cap;
	bool oom;
};

static int collect(const struct castle_entry *e, void *arg)
{
	struct rows *r = arg;

	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 64;
		struct row *v = realloc(r->v, cap * sizeof(*v));
		if (!v) {
			r->oom = true;
			return -ENOMEM;
		}
		r->v = v;
		r->cap = cap;
	}
	struct row *row = &r->v[r->n++];
	memset(row, 0, sizeof(*row));
	row->e = *e;
	row->has_note = !castle_note_get(&r->c->maps, &e->cidr,
					 castle_note_list(e->allow, e->origin == CASTLE_ORIGIN_POLICY),
					 row->note, sizeof(row->note));
	return 0;
}

static int row_cmp(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	int d = castle_cidr_cmp(&x->e.cidr, &y->e.cidr);

	return d ? d : (int)x->e.origin - (int)y->e.origin;
}

static double secs(uint64_t ns)
{
	return (double)ns / 1e9;
}

static void print_json(struct ctl *c, const struct rows *r, bool allow, uint64_t now)
{
	struct out_json j;
	char cs[CASTLE_CIDR_STRLEN], cls[40];

	out_json_init(&j, c->out);
	out_json_obj_begin(&j);
	out_json_kstr(&j, "list", allow ? "allow" : "block");
	out_json_key(&j, "entries");
	out_json_arr_begin(&j);
	for (size_t i = 0; i < r->n; i++) {
		const struct castle_entry *e = &r->v[i].e;

		out_json_obj_begin(&j);
		out_json_kstr(&j, "cidr", castle_cidr_str(&e->cidr, cs, sizeof(cs)));
		out_json_ku64(&j, "family", e->cidr.family);
		out_json_kstr(&j, "origin", e->origin < CASTLE_ORIGIN_MAX
						    ? castle_origin_names[e->origin] : "unknown");
		out_json_ku64(&j, "hits", e->hits);
		out_json_key(&j, "created_ago_s");
		if (e->created_ns && e->created_ns <= now)
			out_json_double(&j, secs(now - e->created_ns));
		else
			out_json_null(&j);
		if (!allow) {
			out_json_key(&j, "expires_in_s");
			if (e->expires_ns)
				out_json_double(&j, e->expires_ns > now ? secs(e->expires_ns - now) : 0);
			else
				out_json_null(&j);
			out_json_key(&j, "last_hit_ago_s");
			if (e->last_hit_ns)
				out_json_double(&j, now > e->last_hit_ns ? secs(now - e->last_hit_ns) : 0);
			else
				out_json_null(&j);
			out_json_kstr(&j, "class", e->origin == CASTLE_ORIGIN_AUTO
				      ? ctl_class_name(c, e->class_slot, cls, sizeof(cls)) : NULL);
		}
		out_json_kstr(&j, "comment", r->v[i].has_note ? r->v[i].note : NULL);
		out_json_obj_end(&j);
	}
	out_json_arr_end(&j);
	out_json_obj_end(&j);
	out_json_end_doc(&j);
}

static void print_table(struct ctl *c, const struct rows *r, bool allow, uint64_t now)
{
	static const struct out_col bcols[] = {
		{ "CIDR", OUT_LEFT }, { "ORIGIN", OUT_LEFT }, { "TTL", OUT_RIGHT },
		{ "HITS", OUT_RIGHT }, { "LAST HIT", OUT_RIGHT }, { "COMMENT", OUT_LEFT },
	};
	static const struct out_col acols[] = {
		{ "CIDR", OUT_LEFT }, { "ORIGIN", OUT_LEFT }, { "HITS", OUT_RIGHT },
		{ "COMMENT", OUT_LEFT },
	};
	struct out_table t;

	out_table_init(&t, allow ? acols : bcols, allow ? 4 : 6);
	for (size_t i = 0; i < r->n; i++) {
		const struct castle_entry *e = &r->v[i].e;
		char cs[CASTLE_CIDR_STRLEN], ttl[32], hits[32], last[40], cls[40];
		char note[4 * CASTLE_NOTE_MAX + 1];
		const char *origin = e->origin < CASTLE_ORIGIN_MAX ? castle_origin_names[e->origin]
								   : "unknown";

		castle_cidr_str(&e->cidr, cs, sizeof(cs));
		castle_human_count(e->hits, hits, sizeof(hits));
		if (r->v[i].has_note) /* escaped: an older castlectl let controls in */
			castle_comment_display(r->v[i].note, note, sizeof(note));
		else if (e->origin == CASTLE_ORIGIN_AUTO)
			snprintf(note, sizeof(note), "auto-ban by class %s",
				 ctl_class_name(c, e->class_slot, cls, sizeof(cls)));
		else
			note[0] = 0;
		if (allow) {
			const char *cells[] = { cs, origin, hits, note };
			out_table_row(&t, cells);
		} else {
			const char *cells[] = { cs, origin, out_ttl(e->expires_ns, now, ttl, sizeof(ttl)),
						hits, out_ago(e->last_hit_ns, now, last, sizeof(last)),
						note };
			out_table_row(&t, cells);
		}
	}
	out_table_print(&t, c->out);
	out_table_free(&t);
}

static int list(struct ctl *c, bool allow)
{
	struct rows r = { .c = c };
	uint64_t now;
	int ret;

	if (ctl_open(c))
		return CTL_FAIL;
	/* Listing never deletes: reaping while walking a hash map would restart
	 * the walk and print entries twice. The kernel ignores expired ones. */
	ret = allow ? castle_allow_foreach(&c->maps, collect, &r)
		    : castle_block_foreach(&c->maps, false, collect, &r);
	if (ret) {
		ctl_errf(c, "read the %s: %s%s", list_name(allow), strerror(-ret),
			 ret == -EPERM ? " (" CTL_BY_ID_NEEDS ")" : "");
		free(r.v);
		return CTL_FAIL;
	}
	now = castle_now_boot_ns();
	if (r.n)
		qsort(r.v, r.n, sizeof(*r.v), row_cmp);
	if (c->json)
		print_json(c, &r, allow, now);
	else
		print_table(c, &r, allow, now);
	free(r.v);
	return CTL_OK;
}

int ctl_block_list(struct ctl *c, const struct ctl_args *a) { (void)a; return list(c, false); }
int ctl_allow_list(struct ctl *c, const struct ctl_args *a) { (void)a; return list(c, true); }
