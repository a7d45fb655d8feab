// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_args.c - castlectl's command line: the parser and the help texts,
 * both driven by the tables in ctl_verbs.c, and castle_ctl_main().
 */
#include <errno.h>
#include <net/if.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "ctl.h"
#include "loader.h"
#include "units.h"

/* ---- messages ----------------------------------------------------------- */

void ctl_errf(struct ctl *c, const char *fmt, ...)
{
	va_list ap;

	fputs("castlectl: ", c->err);
	va_start(ap, fmt);
	vfprintf(c->err, fmt, ap);
	va_end(ap);
	fputc('\n', c->err);
}

static void synopsis(FILE *f, const struct ctl_verb *v)
{
	fprintf(f, "castlectl [--pin-dir DIR]%s %s", v->reads ? " [-j]" : "", v->name);
	for (const struct ctl_opt *o = v->opts; o->help; o++)
		if (!o->name)
			fprintf(f, " %s", o->metavar);
	for (const struct ctl_opt *o = v->opts; o->help; o++) {
		if (!o->name)
			continue;
		if (o->short_name)
			fprintf(f, " [-%c %s]", o->short_name, o->metavar);
		else if (o->type == CTL_T_FLAG)
			fprintf(f, " [--%s]", o->name);
		else
			fprintf(f, " [--%s %s]", o->name, o->metavar);
	}
	fputc('\n', f);
}

/* Print text wrapped at 79 columns; continuation lines indented by indent
 * (the first line is assumed to start at column `col`). */
static void wrap(FILE *f, const char *text, int col, int indent)
{
	const char *p = text;

	while (*p) {
		const char *sp = strchr(p, ' ');
		int n = sp ? (int)(sp - p) : (int)strlen(p);

		if (col > indent && col + 1 + n > 79) {
			fprintf(f, "\n%*s", indent, "");
			col = indent;
		} else if (col > indent) {
			fputc(' ', f);
			col++;
		}
		fwrite(p, 1, n, f);
		col += n;
		p += n;
		while (*p == ' ')
			p++;
	}
	fputc('\n', f);
}

static void verb_help(FILE *f, const struct ctl_verb *v)
{
	fputs("Usage: ", f);
	synopsis(f, v);
	fputc('\n', f);
	wrap(f, v->help, 0, 0);
	fputc('\n', f);
	fputs("Arguments and options:\n", f);
	for (const struct ctl_opt *o = v->opts; o->help; o++) {
		char left[64];

		if (!o->name)
			snprintf(left, sizeof(left), "%s", o->metavar);
		else if (o->short_name)
			snprintf(left, sizeof(left), "-%c, --%s %s", o->short_name, o->name, o->metavar);
		else
			snprintf(left, sizeof(left), "--%s %s", o->name, o->type == CTL_T_FLAG ? "" : o->metavar);
		char text[512];

		snprintf(text, sizeof(text), "%s%s%s%s", o->help, o->def ? " (default " : "",
			 o->def ? o->def : "", o->def ? ")" : "");
		fprintf(f, "  %-22s ", left);
		wrap(f, text, 25, 25);
	}
	if (v->reads)
		fprintf(f, "  %-22s %s\n", "-j, --json", "JSON output (schema: docs/JSON.md)");
	fprintf(f, "  %-22s %s\n", "-h, --help", "this text");
}

static void main_help(FILE *f)
{
	fputs("Usage: castlectl [--pin-dir DIR] [--state-dir DIR] [-j|--json] VERB [ARGS...]\n\n"
	      "Read and change castle's gate at run time. castlectl works on the pinned maps\n"
	      "directly, so it works while castled is down.\n\nVerbs:\n", f);
	for (const struct ctl_verb *v = ctl_verbs; v->name; v++)
		fprintf(f, "  %-12s %s\n", v->name, v->summary);
	fputs("\nGlobal options (before the verb):\n"
	      "  --pin-dir DIR    castle's pin directory (default " CASTLE_PIN_DIR_DEFAULT ")\n"
	      "  --state-dir DIR  castled's state directory: block/allow changes made while\n"
	      "                   castled is down are saved there (default " CASTLE_STATE_DIR_DEFAULT ",\n"
	      "                   if castled wrote a state file there and --pin-dir is the default)\n"
	      "  -j, --json       JSON output on every reading verb (docs/JSON.md)\n"
	      "  -h, --help       this text; 'castlectl VERB --help' for a verb\n"
	      "  -V, --version    print the version\n\n"
	      "Exit status: 0 done, 1 failed (stderr says why), 2 usage error.\n", f);
}

static int usage(struct ctl *c, const struct ctl_verb *v, const char *fmt, const char *arg)
{
	fprintf(c->err, "castlectl: %s%s", v ? v->name : "", v ? ": " : "");
	fprintf(c->err, fmt, arg);
	fputc('\n', c->err);
	if (v) {
		fputs("Usage: ", c->err);
		synopsis(c->err, v);
	} else {
		fputs("Usage: castlectl [--pin-dir DIR] [-j] VERB [ARGS...]; "
		      "see castlectl --help\n", c->err);
	}
	return CTL_USAGE;
}

/* ---- values ------------------------------------------------------------- */

int ctl_parse_value(const struct ctl_opt *o, const char *s, struct ctl_args *a, char *err,
		    size_t errlen)
{
	void *p = (char *)a + o->offset;
	char *end;

	switch (o->type) {
	case CTL_T_FLAG:
		*(bool *)p = true;
		return 0;
	case CTL_T_STR:
		*(const char **)p = s;
		return 0;
	case CTL_T_COMMENT: {
		if (castle_comment_check(s, err, errlen))
			return -1;
		*(const char **)p = s;
		return 0;
	}
	case CTL_T_UINT: {
		unsigned long long v;

		errno = 0;
		v = strtoull(s, &end, 10);
		if (!*s || *end || errno || *s == '-' || *s == '+') {
			snprintf(err, errlen, "'%s' is not a number", s);
			return -1;
		}
		if (v < o->min || v > o->max) {
			snprintf(err, errlen, "%llu is out of range (%llu..%llu)", v,
				 (unsigned long long)o->min, (unsigned long long)o->max);
			return -1;
		}
		*(uint64_t *)p = v;
		return 0;
	}
	case CTL_T_DURATION: {
		uint64_t ns;

		if (castle_parse_duration(s, &ns, err, errlen))
			return -1;
		/* --ttl 0 would read as "never expires" or "expired now": refuse it,
		 * leave --ttl out for a permanent entry. */
		if (!ns && o->offset == offsetof(struct ctl_args, ttl_ns)) {
			snprintf(err, errlen, "a TTL of 0 means nothing: leave --ttl out for an entry "
				 "that never expires");
			return -1;
		}
		/* expired before 'block list' could show it */
		if (ns < 1000000000ull && o->offset == offsetof(struct ctl_args, ttl_ns)) {
			snprintf(err, errlen, "a TTL under 1s ('%s') would end before the entry could "
				 "be listed: give 1s or more", s);
			return -1;
		}
		*(uint64_t *)p = ns;
		return 0;
	}
	case CTL_T_CIDR:
	case CTL_T_CIDR_EXISTING:
		if ((o->type == CTL_T_CIDR ? castle_cidr_parse : castle_cidr_parse_existing)(
			    s, (struct castle_cidr *)p, err, errlen))
			return -1;
		a->cidr_str = s;
		return 0;
	case CTL_T_IFACE:
		if (!*s || strlen(s) >= IFNAMSIZ || strchr(s, '/') || strpbrk(s, " \t\n")) {
			snprintf(err, errlen, "'%s' is not an interface name", s);
			return -1;
		}
		*(const char **)p = s;
		return 0;
	}
	snprintf(err, errlen, "internal error: option type %d", o->type);
	return -1;
}

/* ---- parsing ------------------------------------------------------------ */

static bool word_eq(const char *name, size_t len, const char *w)
{
	return strlen(w) == len && !strncmp(name, w, len);
}

/* The verb at argv[*i]: one or two words. NULL and a usage message if none. */
/* `castlectl block --help`: the subcommands of a group, each with its
 * synopsis and what it does. false when w1 is not a group. */
static bool group_help(FILE *f, const char *w1)
{
	bool any = false;

	for (const struct ctl_verb *v = ctl_verbs; v->name; v++) {
		const char *sp = strchr(v->name, ' ');

		if (!sp || !word_eq(v->name, (size_t)(sp - v->name), w1))
			continue;
		if (!any)
			fputs("Usage:\n", f);
		any = true;
		fputs("  ", f);
		synopsis(f, v);
		fputs("      ", f);
		wrap(f, v->help, 6, 6);
	}
	if (any)
		fprintf(f, "'castlectl %s SUBCOMMAND --help' for its options.\n", w1);
	return any;
}

static const struct ctl_verb *find_verb(struct ctl *c, int argc, char **argv, int *i)
{
	const char *w1 = argv[*i], *w2 = *i + 1 < argc ? argv[*i + 1] : NULL;
	bool group = false;
	char groups[128] = "";

	for (const struct ctl_verb *v = ctl_verbs; v->name; v++) {
		const char *sp = strchr(v->name, ' ');
		size_t n1 = sp ? (size_t)(sp - v->name) : strlen(v->name);

		if (!word_eq(v->name, n1, w1))
			continue;
		if (!sp) {
			*i += 1;
			return v;
		}
		group = true;
		if (strlen(groups) + strlen(sp + 1) + 3 < sizeof(groups))
			strcat(strcat(groups, *groups ? ", " : ""), sp + 1);
		if (w2 && !strcmp(w2, sp + 1)) {
			*i += 2;
			return v;
		}
	}
	if (group) {
		fprintf(c->err, "castlectl: %s: %s%s%s; expected one of: %s\n", w1,
			w2 ? "unknown subcommand '" : "missing subcommand", w2 ? w2 : "", w2 ? "'" : "",
			groups);
		fputs("Usage: castlectl [--pin-dir DIR] [-j] VERB [ARGS...]; see castlectl --help\n",
		      c->err);
	} else {
		usage(c, NULL, "unknown verb '%s'", w1);
	}
	return NULL;
}

static const struct ctl_opt *find_opt(const struct ctl_verb *v, const char *arg, size_t len,
				      bool is_long)
{
	for (const struct ctl_opt *o = v->opts; o->help; o++) {
		if (!o->name)
			continue;
		if (is_long ? word_eq(arg, len, o->name) : (len == 1 && o->short_name == *arg))
			return o;
	}
	return NULL;
}

/* Parse the verb's arguments; CTL_OK, CTL_FAIL or CTL_USAGE; -1 means --help
 * was printed. */
static int parse_verb(struct ctl *c, const struct ctl_verb *v, int argc, char **argv,
		      struct ctl_args *a)
{
	char err[256];
	int npos = 0, got = 0;
	bool dashdash = false;

	memset(a, 0, sizeof(*a));
	for (const struct ctl_opt *o = v->opts; o->help; o++) {
		if (o->def && ctl_parse_value(o, o->def, a, err, sizeof(err))) {
			ctl_errf(c, "internal error: default of --%s: %s", o->name, err);
			return CTL_FAIL;
		}
		if (!o->name)
			npos++;
	}
	for (int i = 0; i < argc; i++) {
		const char *s = argv[i], *val = NULL;

		if (!dashdash && !strcmp(s, "--")) {
			dashdash = true;
			continue;
		}
		if (!dashdash && s[0] == '-' && s[1]) {
			bool is_long = s[1] == '-';
			const char *name = s + (is_long ? 2 : 1);
			const char *eq = is_long ? strchr(name, '=') : NULL;
			size_t len = eq ? (size_t)(eq - name) : (is_long ? strlen(name) : 1);

			if ((is_long && !strcmp(name, "help")) || !strcmp(s, "-h")) {
				verb_help(c->out, v);
				return -1;
			}
			if (v->reads && (!strcmp(s, "-j") || !strcmp(s, "--json"))) {
				a->json = true;
				continue;
			}
			const struct ctl_opt *o = find_opt(v, name, len, is_long);
			if (!o)
				return usage(c, v, "unknown option '%s'", s);
			if (o->type == CTL_T_FLAG) {
				if (eq || (!is_long && s[2]))
					return usage(c, v, "option '%s' takes no value", s);
				ctl_parse_value(o, "", a, err, sizeof(err));
				continue;
			}
			if (eq)
				val = eq + 1;
			else if (!is_long && s[2])
				val = s + 2;
			else if (i + 1 < argc)
				val = argv[++i];
			else
				return usage(c, v, "option '%s' needs a value", s);
			if (ctl_parse_value(o, val, a, err, sizeof(err))) {
				ctl_errf(c, "%s: %s%s: %s", v->name, is_long ? "--" : "-",
					 is_long ? o->name : (char[]){ o->short_name, 0 }, err);
				return CTL_FAIL;
			}
			continue;
		}
		/* positional */
		const struct ctl_opt *o = v->opts;
		int k = 0;
		for (; o->help; o++)
			if (!o->name && k++ == got)
				break;
		if (!o->help)
			return usage(c, v, "unexpected argument '%s'", s);
		if (ctl_parse_value(o, s, a, err, sizeof(err))) {
			ctl_errf(c, "%s: %s", v->name, err);
			return CTL_FAIL;
		}
		got++;
	}
	if (got < npos) {
		const struct ctl_opt *o = v->opts;
		int k = 0;
		for (; o->help; o++)
			if (!o->name && k++ == got)
				break;
		return usage(c, v, "missing %s", o->metavar);
	}
	return CTL_OK;
}

/* argv[*i] as global option `name` with a value ("--pin-dir DIR" or
 * "--pin-dir=DIR") into *out: 1, 0 when it is another option, -1 when the
 * value is missing. */
static int global_dir(int argc, char **argv, int *i, const char *name, const char **out)
{
	size_t n = strlen(name);

	if (strncmp(argv[*i], name, n))
		return 0;
	if (argv[*i][n] == '=') {
		*out = argv[*i] + n + 1;
		return 1;
	}
	if (argv[*i][n])
		return 0;
	if (*i + 1 >= argc)
		return -1;
	*out = argv[++*i];
	return 1;
}

int castle_ctl_main(int argc, char **argv, FILE *out, FILE *err)
{
	struct ctl c = { .out = out, .err = err, .pin_dir = CASTLE_PIN_DIR_DEFAULT };
	struct ctl_args a;
	int i = 1, ret;

	for (; i < argc && argv[i][0] == '-'; i++) {
		const char *s = argv[i];

		if (!strcmp(s, "--")) {
			i++;
			break;
		} else if (!strcmp(s, "-j") || !strcmp(s, "--json")) {
			c.json = true;
		} else if (!strcmp(s, "-h") || !strcmp(s, "--help")) {
			main_help(out);
			return CTL_OK;
		} else if (!strcmp(s, "-V") || !strcmp(s, "--version")) {
			fprintf(out, "castlectl %s\n", CASTLE_VERSION);
			return CTL_OK;
		} else if ((ret = global_dir(argc, argv, &i, "--pin-dir", &c.pin_dir)) ||
			   (ret = global_dir(argc, argv, &i, "--state-dir", &c.state_dir))) {
			if (ret < 0)
				return usage(&c, NULL, "option '%s' needs a value", s);
		} else {
			return usage(&c, NULL, "unknown option '%s' (global options before the verb: "
				     "--pin-dir DIR, --state-dir DIR, -j)", s);
		}
	}
	if (!*c.pin_dir)
		return usage(&c, NULL, "%s", "--pin-dir: empty directory name");
	if (c.state_dir && !*c.state_dir)
		return usage(&c, NULL, "%s", "--state-dir: empty directory name");
	if (i >= argc)
		return usage(&c, NULL, "%s", "missing verb");
	if (i + 1 < argc && (!strcmp(argv[i + 1], "-h") || !strcmp(argv[i + 1], "--help")) &&
	    group_help(out, argv[i]))
		return CTL_OK;
	const struct ctl_verb *v = find_verb(&c, argc, argv, &i);
	if (!v)
		return CTL_USAGE;
	ret = parse_verb(&c, v, argc - i, argv + i, &a);
	if (ret < 0)
		return CTL_OK;
	if (ret)
		return ret;
	if (a.json)
		c.json = true;
	ret = v->run(&c, &a);
	fflush(out);
	if (c.maps_open)
		castle_maps_close(&c.maps);
	return ret;
}

/* ---- shared helpers ----------------------------------------------------- */

int ctl_open(struct ctl *c)
{
	char path[4096], err[512];
	int fd;

	if (c->maps_open)
		return CTL_OK;
	/* Probe one pin first: its errno tells the operator what to do, where a
	 * generic "open failed" would not. */
	snprintf(path, sizeof(path), "%s/%s", c->pin_dir, CASTLE_MAP_STATE);
	fd = bpf_obj_get(path);
	if (fd < 0) {
		int e = errno;

		if (e == EPERM || e == EACCES)
			ctl_errf(c, "permission denied opening %s: run as root or with CAP_BPF", path);
		else if (e == ENOENT && castle_bpffs_check(c->pin_dir, err, sizeof(err)) == -ENOTDIR)
			ctl_errf(c, "%s", err); /* "bpffs not mounted at DIR: mount -t bpf bpf DIR" */
		else if (e == ENOENT)
			ctl_errf(c, "%s not found: castle is not loaded (castled pins its maps in %s; "
				 "see --pin-dir)", path, c->pin_dir);
		else
			ctl_errf(c, "open %s: %s", path, strerror(e));
		return CTL_FAIL;
	}
	close(fd);
	if (castle_maps_open_pinned(c->pin_dir, &c->maps, err, sizeof(err))) {
		ctl_errf(c, "%s", err);
		return CTL_FAIL;
	}
	c->maps_open = true;
	return CTL_OK;
}

const char *ctl_ifname(const struct ctl *c, uint32_t ifindex, char *buf, size_t len)
{
	struct castle_iface ifc;
	char n[IF_NAMESIZE];

	if (c->maps_open && !bpf_map_lookup_elem(c->maps.ifaces, &ifindex, &ifc) && ifc.name[0])
		snprintf(buf, len, "%.*s", (int)sizeof(ifc.name), ifc.name);
	else if (if_indextoname(ifindex, n))
		snprintf(buf, len, "%s", n);
	else
		snprintf(buf, len, "if%u", ifindex);
	return buf;
}

const char *ctl_proto_name(uint8_t proto, int family)
{
	static char num[8];

	switch (proto) {
	case 0: return "any";
	case 1: return family == 6 ? "icmpv6" : "icmp";
	case 6: return "tcp";
	case 17: return "udp";
	case 58: return "icmpv6";
	}
	snprintf(num, sizeof(num), "%u", proto);
	return num;
}

const char *ctl_class_label(struct castle_policy *pol, int i, uint32_t slot, char *buf,
			    size_t len)
{
	if (i >= 0 && i < CASTLE_MAX_CLASSES) {
		pol->class_names[i][CASTLE_CLASS_NAME_LEN - 1] = 0;
		if (pol->class_names[i][0]) {
			snprintf(buf, len, "%s", pol->class_names[i]);
			return buf;
		}
	}
	snprintf(buf, len, "#%u", slot);
	return buf;
}

const char *ctl_class_name(struct ctl *c, uint32_t slot, char *buf, size_t len)
{
	uint32_t gen;

	/* Names travel in the policy struct, switched with the generation; read
	 * it once per command. */
	if (!c->pol_read && c->maps_open) {
		c->pol_read = castle_gen_live(&c->maps, &gen, &c->pol) == 0;
		if (c->pol_read)
			castle_class_slots_of(&c->maps, gen, &c->pol, c->slot_of);
	}
	if (slot >= CASTLE_MAX_CLASSES) {
		snprintf(buf, len, "-");
		return buf;
	}
	return ctl_class_label(&c->pol, c->pol_read ? castle_class_at(&c->pol, c->slot_of, slot) : -1,
			       slot, buf, len);
}
