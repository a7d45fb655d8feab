// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * policy.c - read the policy file and walk its YAML document: the file checks,
 * the libyaml node helpers, the top-level keys and the allow/block lists.
 * Classes and tls are in policy_limits.c, the cross-entry checks in
 * policy_check.c. Every problem is collected; none stops the walk.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "policy_int.h"
#include "units.h"

/* ---- messages and node helpers ----------------------------------------- */

/* Each formats its own va_list (no va_list passed down: simpler for the
 * static analysers) and hands the message to castle_errors_add. */
void pol_err_at(struct pol_ctx *c, enum castle_severity sev, unsigned int line, unsigned int col,
		const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	castle_errors_add(c->errs, sev, c->name, line, col, "%s", msg);
}

void pol_err(struct pol_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	castle_errors_add(c->errs, CASTLE_SEV_ERROR, c->name, pol_line(n), pol_col(n), "%s", msg);
}

void pol_warn(struct pol_ctx *c, const yaml_node_t *n, const char *fmt, ...)
{
	char msg[768];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	castle_errors_add(c->errs, CASTLE_SEV_WARNING, c->name, pol_line(n), pol_col(n), "%s",
			  msg);
}

bool pol_is_null(const yaml_node_t *n)
{
	const char *v;

	if (!n || n->type != YAML_SCALAR_NODE || n->data.scalar.style != YAML_PLAIN_SCALAR_STYLE)
		return false;
	v = (const char *)n->data.scalar.value;
	return !*v || !strcmp(v, "~") || !strcmp(v, "null") || !strcmp(v, "Null") ||
	       !strcmp(v, "NULL");
}

static const char *node_kind(const yaml_node_t *n)
{
	if (n->type == YAML_SEQUENCE_NODE)
		return "a list";
	if (n->type == YAML_MAPPING_NODE)
		return "a mapping";
	return "empty";
}

const char *pol_scalar(struct pol_ctx *c, const yaml_node_t *n, const char *what)
{
	if (n->type != YAML_SCALAR_NODE || pol_is_null(n)) {
		pol_err(c, n, "%s must be a value, not %s", what, node_kind(n));
		return NULL;
	}
	/* libyaml NUL-terminates scalars, but "\0" in a quoted string would cut
	 * the name we check short of the one we store */
	if (strlen((const char *)n->data.scalar.value) != n->data.scalar.length) {
		pol_err(c, n, "%s contains a NUL character", what);
		return NULL;
	}
	return (const char *)n->data.scalar.value;
}

int pol_uint(struct pol_ctx *c, const yaml_node_t *n, const char *what, uint64_t min,
	     uint64_t max, uint64_t *out)
{
	const char *s = pol_scalar(c, n, what);
	uint64_t v = 0;
	bool big = false;

	if (!s)
		return -1;
	for (const char *p = s; *p; p++) {
		if (*p < '0' || *p > '9') {
			pol_err(c, n, "%s must be a whole number, not '%s'", what, s);
			return -1;
		}
		if (__builtin_mul_overflow(v, 10, &v) ||
		    __builtin_add_overflow(v, (uint64_t)(*p - '0'), &v))
			big = true;
	}
	if (big || v < min || v > max) {
		pol_err(c, n, "%s %s out of range (%llu-%llu)", what, s, (unsigned long long)min,
			(unsigned long long)max);
		return -1;
	}
	*out = v;
	return 0;
}

/* The line of the first key `name` of mapping n (the key's, not its value's:
 * a list under it starts on the next line). */
static unsigned int first_key_line(struct pol_ctx *c, yaml_node_t *n, const char *name)
{
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);

		if (k->type == YAML_SCALAR_NODE && !strcmp((const char *)k->data.scalar.value, name))
			return pol_line(k);
	}
	return 0;
}

int pol_map(struct pol_ctx *c, yaml_node_t *n, const char *what, const char *const keys[],
	    yaml_node_t *vals[])
{
	size_t nkeys = 0;

	while (keys[nkeys])
		vals[nkeys++] = NULL;
	if (n->type != YAML_MAPPING_NODE) {
		if (n->type == YAML_SCALAR_NODE && !n->data.scalar.length &&
		    n->data.scalar.style == YAML_PLAIN_SCALAR_STYLE)
			pol_err(c, n, "%s is empty: it must be a mapping (key: value)", what);
		else
			pol_err(c, n, "%s must be a mapping (key: value), not %s", what,
				n->type == YAML_SCALAR_NODE ? "a single value" : node_kind(n));
		return -1;
	}
	for (yaml_node_pair_t *p = n->data.mapping.pairs.start; p < n->data.mapping.pairs.top; p++) {
		yaml_node_t *k = yaml_document_get_node(c->doc, p->key);
		yaml_node_t *v = yaml_document_get_node(c->doc, p->value);
		const char *name;
		size_t i;

		if (k->type != YAML_SCALAR_NODE) {
			pol_err(c, k, "keys of %s must be names, not %s", what, node_kind(k));
			continue;
		}
		name = (const char *)k->data.scalar.value;
		if (strlen(name) != k->data.scalar.length) {
			/* "mode\0junk" would otherwise read as mode */
			pol_err(c, k, "a key of %s contains a NUL byte", what);
			continue;
		}
		for (i = 0; i < nkeys && strcmp(name, keys[i]) != 0; i++)
			;
		if (i == nkeys) {
			char list[256] = "";
			size_t off = 0;

			for (size_t j = 0; j < nkeys && off < sizeof(list); j++)
				off += (size_t)snprintf(list + off, sizeof(list) - off, "%s%s",
							j ? ", " : "", keys[j]);
			pol_err(c, k, "unknown key '%s' in %s (expected %s)", name, what, list);
		} else if (vals[i]) {
			pol_err(c, k, "duplicate key '%s' in %s (first at line %u)", name, what,
				first_key_line(c, n, name));
		} else {
			vals[i] = v;
		}
	}
	return 0;
}

int pol_list(struct pol_ctx *c, yaml_node_t *n, const char *what, struct pol_list *l)
{
	memset(l, 0, sizeof(*l));
	if (pol_is_null(n))
		return 0;
	if (n->type == YAML_SCALAR_NODE) {
		l->single = n;
		l->n = 1;
		return 0;
	}
	if (n->type != YAML_SEQUENCE_NODE) {
		pol_err(c, n, "%s must be a list, not %s", what, node_kind(n));
		return -1;
	}
	l->items = n->data.sequence.items.start;
	l->n = (size_t)(n->data.sequence.items.top - n->data.sequence.items.start);
	return 0;
}

yaml_node_t *pol_list_get(struct pol_ctx *c, const struct pol_list *l, size_t i)
{
	return l->single ? l->single : yaml_document_get_node(c->doc, l->items[i]);
}

/* ---- allow / block ------------------------------------------------------ */

/* The CIDR of a list entry: a plain string, or the cidr key of a mapping
 * whose other keys land in vals. Returns the cidr's node, NULL if it failed. */
static yaml_node_t *entry_cidr(struct pol_ctx *c, yaml_node_t *n, const char *what,
			       const char *const keys[], yaml_node_t *vals[],
			       struct castle_cidr *cidr)
{
	char err[256];
	const char *s;
	yaml_node_t *cn = n;

	if (n->type == YAML_MAPPING_NODE) {
		pol_map(c, n, what, keys, vals);
		cn = vals[0];
		if (!cn) {
			pol_err(c, n, "%s needs a cidr", what);
			return NULL;
		}
	} else if (n->type != YAML_SCALAR_NODE) {
		pol_err(c, n, "%s must be a CIDR or a mapping with a cidr, not %s", what,
			node_kind(n));
		return NULL;
	}
	s = pol_scalar(c, cn, "cidr");
	if (!s)
		return NULL;
	if (castle_cidr_parse(s, cidr, err, sizeof(err))) {
		pol_err(c, cn, "%s", err);
		return NULL;
	}
	return cn;
}

static char *entry_comment(struct pol_ctx *c, yaml_node_t *n)
{
	char err[96];
	const char *s;
	char *d;

	if (!n || pol_is_null(n))
		return NULL;
	s = pol_scalar(c, n, "comment");
	if (!s)
		return NULL;
	if (castle_comment_check(s, err, sizeof(err))) {
		pol_err(c, n, "%s", err);
		return NULL;
	}
	d = strdup(s);
	if (!d)
		pol_err(c, n, "out of memory");
	return d;
}

static void parse_allow(struct pol_ctx *c, yaml_node_t *n)
{
	static const char *const keys[] = { "cidr", "comment", NULL };
	struct castle_policy_conf *conf = c->conf;
	struct pol_list l;

	if (pol_list(c, n, "allow", &l) || !l.n)
		return;
	conf->allow = calloc(l.n, sizeof(*conf->allow));
	if (!conf->allow) {
		pol_err(c, n, "out of memory for %zu allow entries", l.n);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i), *vals[2], *cn;
		struct castle_allow_entry *a = &conf->allow[conf->nallow];

		vals[1] = NULL;
		cn = entry_cidr(c, e, "allow entry", keys, vals, &a->cidr);
		if (!cn)
			continue;
		a->comment = entry_comment(c, vals[1]);
		a->line = pol_line(cn);
		a->col = pol_col(cn);
		conf->nallow++;
	}
}

static void parse_block(struct pol_ctx *c, yaml_node_t *n)
{
	static const char *const keys[] = { "cidr", "ttl", "comment", NULL };
	struct castle_policy_conf *conf = c->conf;
	struct pol_list l;
	char err[256];

	if (pol_list(c, n, "block", &l) || !l.n)
		return;
	conf->block = calloc(l.n, sizeof(*conf->block));
	if (!conf->block) {
		pol_err(c, n, "out of memory for %zu block entries", l.n);
		return;
	}
	for (size_t i = 0; i < l.n; i++) {
		yaml_node_t *e = pol_list_get(c, &l, i), *vals[3] = { NULL, NULL, NULL }, *cn;
		struct castle_block_entry *b = &conf->block[conf->nblock];
		const char *s;

		cn = entry_cidr(c, e, "block entry", keys, vals, &b->cidr);
		if (!cn)
			continue;
		if (vals[1] && (s = pol_scalar(c, vals[1], "ttl"))) {
			if (castle_parse_duration(s, &b->ttl_ns, err, sizeof(err)))
				pol_err(c, vals[1], "ttl: %s", err);
			else if (!b->ttl_ns)
				pol_err(c, vals[1], "ttl must be above 0 (leave it out for a permanent block)");
		}
		b->comment = entry_comment(c, vals[2]);
		b->line = pol_line(cn);
		b->col = pol_col(cn);
		conf->nblock++;
	}
}

/* Policy entries go to fixed-size maps: refuse here, with the count, rather
 * than fail half-way through filling them. */
static void check_capacity(struct pol_ctx *c, yaml_node_t *n, const char *what, size_t v4,
			   size_t v6, size_t cap)
{
	if (v4 > cap)
		pol_err(c, n, "%s: %zu IPv4 entries, more than the %zu the map holds", what, v4, cap);
	if (v6 > cap)
		pol_err(c, n, "%s: %zu IPv6 entries, more than the %zu the map holds", what, v6, cap);
}

static void check_lists(struct pol_ctx *c, yaml_node_t *allow, yaml_node_t *block)
{
	static const char *const names[2] = { "allow", "block" };
	struct castle_policy_conf *conf = c->conf;
	size_t n = conf->nallow + conf->nblock, k = 0;
	size_t a4 = 0, a6 = 0, h4 = 0, h6 = 0, n4 = 0, n6 = 0;
	struct pol_cref *refs;

	for (size_t i = 0; i < conf->nallow; i++)
		conf->allow[i].cidr.family == 4 ? a4++ : a6++;
	for (size_t i = 0; i < conf->nblock; i++) {
		const struct castle_cidr *b = &conf->block[i].cidr;

		if (castle_cidr_is_host(b))
			b->family == 4 ? h4++ : h6++;
		else
			b->family == 4 ? n4++ : n6++;
	}
	if (allow)
		check_capacity(c, allow, "allow", a4, a6, CASTLE_POL_ALLOW_ENTRIES);
	if (block) {
		check_capacity(c, block, "block (addresses)", h4, h6, CASTLE_POL_EXACT_ENTRIES);
		check_capacity(c, block, "block (networks)", n4, n6, CASTLE_POL_NET_ENTRIES);
	}

	if (n < 2)
		return;
	refs = malloc(n * sizeof(*refs));
	if (!refs) {
		pol_err_at(c, CASTLE_SEV_ERROR, 0, 0, "out of memory checking %zu entries", n);
		return;
	}
	for (size_t i = 0; i < conf->nallow; i++, k++)
		pol_cref_set(&refs[k], &conf->allow[i].cidr, (uint32_t)i, 0, conf->allow[i].line,
			     conf->allow[i].col);
	for (size_t i = 0; i < conf->nblock; i++, k++)
		pol_cref_set(&refs[k], &conf->block[i].cidr, (uint32_t)i, 1, conf->block[i].line,
			     conf->block[i].col);
	pol_check_cidrs(c, refs, n, names, true);
	free(refs);
}

/* ---- top level ---------------------------------------------------------- */

static void parse_choice(struct pol_ctx *c, yaml_node_t *n, const char *what, const char *a,
			 const char *b, bool *is_b)
{
	const char *s;

	if (!n || !(s = pol_scalar(c, n, what)))
		return;
	if (!strcmp(s, a))
		*is_b = false;
	else if (!strcmp(s, b))
		*is_b = true;
	else
		pol_err(c, n, "%s must be %s or %s, not '%s'", what, a, b, s);
}

static void parse_root(struct pol_ctx *c, yaml_node_t *root)
{
	static const char *const keys[] = { "version", "mode",	 "malformed", "allow",
					    "block",   "limits", "tls",	      "events_per_sec",
					    NULL };
	enum { K_VERSION, K_MODE, K_MALFORMED, K_ALLOW, K_BLOCK, K_LIMITS, K_TLS, K_EVENTS };
	yaml_node_t *v[8];
	const char *s;
	uint64_t u;

	if (pol_map(c, root, "the policy", keys, v))
		return;
	if (!v[K_VERSION]) {
		pol_err(c, root, "missing 'version: 1'");
	} else if ((s = pol_scalar(c, v[K_VERSION], "version"))) {
		if (strcmp(s, "1") != 0)
			pol_err(c, v[K_VERSION], "unsupported policy version '%s' (this castle reads version 1)",
				s);
		else
			c->conf->version = 1;
	}
	parse_choice(c, v[K_MODE], "mode", "enforce", "dry-run", &c->conf->dry_run);
	parse_choice(c, v[K_MALFORMED], "malformed", "drop", "pass", &c->conf->malformed_pass);
	if (v[K_EVENTS] && !pol_uint(c, v[K_EVENTS], "events_per_sec", 1, 1000000, &u))
		c->conf->events_per_sec = (uint32_t)u;
	if (v[K_ALLOW])
		parse_allow(c, v[K_ALLOW]);
	if (v[K_BLOCK])
		parse_block(c, v[K_BLOCK]);
	check_lists(c, v[K_ALLOW], v[K_BLOCK]);
	if (v[K_LIMITS])
		pol_parse_limits(c, v[K_LIMITS]);
	if (v[K_TLS])
		pol_parse_tls(c, v[K_TLS]);
}

/* Line and column (1-based) of byte offset off of buf, counting line breaks
 * as libyaml's marks do: LF, CR, CR LF (one break), NEL, LS and PS. */
static void offset_position(const char *buf, size_t len, size_t off, unsigned int *line,
			    unsigned int *col)
{
	const unsigned char *u = (const unsigned char *)buf;

	*line = 1;
	*col = 1;
	for (size_t i = 0; i < off && i < len; i++) {
		size_t brk = 0;

		if (u[i] == '\n')
			brk = 1;
		else if (u[i] == '\r')
			brk = i + 1 < len && u[i + 1] == '\n' ? 2 : 1;
		else if (u[i] == 0xc2 && i + 1 < len && u[i + 1] == 0x85)
			brk = 2;
		else if (u[i] == 0xe2 && i + 2 < len && u[i + 1] == 0x80 &&
			 (u[i + 2] == 0xa8 || u[i + 2] == 0xa9))
			brk = 3;
		if (brk && i + brk <= off) {
			++*line;
			*col = 1;
			i += brk - 1;
		} else if ((u[i] & 0xc0) != 0x80) {
			++*col; /* a character, not a UTF-8 continuation byte */
		}
	}
}

static void yaml_problem(struct pol_ctx *c, const yaml_parser_t *p, const char *buf, size_t len)
{
	const char *problem = p->problem ? p->problem : "cannot parse";

	if (p->error == YAML_MEMORY_ERROR) {
		pol_err_at(c, CASTLE_SEV_ERROR, 0, 0, "out of memory parsing YAML");
	} else if (p->error == YAML_READER_ERROR) {
		/* the reader (encoding, control characters) sets an offset, not
		 * a mark */
		unsigned int line, col;

		offset_position(buf, len, p->problem_offset, &line, &col);
		if (p->problem_offset < len)
			pol_err_at(c, CASTLE_SEV_ERROR, line, col, "YAML: %s (byte 0x%02x there)",
				   problem, (unsigned char)buf[p->problem_offset]);
		else
			pol_err_at(c, CASTLE_SEV_ERROR, line, col, "YAML: %s (at the end)", problem);
	} else if (p->context) {
		pol_err_at(c, CASTLE_SEV_ERROR, (unsigned int)p->problem_mark.line + 1,
			   (unsigned int)p->problem_mark.column + 1, "YAML: %s %s (line %zu)",
			   problem, p->context, p->context_mark.line + 1);
	} else {
		pol_err_at(c, CASTLE_SEV_ERROR, (unsigned int)p->problem_mark.line + 1,
			   (unsigned int)p->problem_mark.column + 1, "YAML: %s", problem);
	}
}

/*
 * Refuse a document nested deeper than CASTLE_POLICY_MAX_DEPTH before it is
 * loaded: libyaml's scanner walks every open flow level for each token, so
 * "[[[[...]]]]" 80,000 deep (160 KB) took 26 s to load, and a reload runs on
 * castled's main loop. Event by event, stopping at the first collection too
 * deep, costs a few hundred tokens. Only flow collections cost that (block
 * nesting 80,000 deep loads in 0.05 s), and they need a '[' or '{' each: a
 * file with no more of those than the limit (a million-entry block list
 * has none) skips the pass, which would add ~0.3 s to its 1.2 s load. 0
 * when fine (or when the YAML is bad: the load says why), -1 with the
 * error added.
 */
static int check_depth(struct pol_ctx *c, const char *buf, size_t len)
{
	yaml_parser_t p;
	yaml_event_t ev;
	int depth = 0, ret = 0;
	size_t openers = 0;

	for (size_t i = 0; i < len; i++)
		openers += buf[i] == '[' || buf[i] == '{';
	if (openers <= CASTLE_POLICY_MAX_DEPTH)
		return 0;
	if (!yaml_parser_initialize(&p))
		return 0;
	yaml_parser_set_input_string(&p, (const unsigned char *)buf, len);
	for (bool done = false; !done && !ret;) {
		if (!yaml_parser_parse(&p, &ev))
			break;
		switch (ev.type) {
		case YAML_SEQUENCE_START_EVENT:
		case YAML_MAPPING_START_EVENT:
			if (++depth > CASTLE_POLICY_MAX_DEPTH) {
				pol_err_at(c, CASTLE_SEV_ERROR, (unsigned int)ev.start_mark.line + 1,
					   (unsigned int)ev.start_mark.column + 1,
					   "nested deeper than %d levels (a policy needs a handful)",
					   CASTLE_POLICY_MAX_DEPTH);
				ret = -1;
			}
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			depth--;
			break;
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
	}
	yaml_parser_delete(&p);
	return ret;
}

int castle_policy_parse(const char *name, const char *buf, size_t len,
			struct castle_policy_conf *out, struct castle_errors *errs)
{
	struct pol_ctx c = { .name = name, .errs = errs, .conf = out };
	size_t nerr0 = errs->nerrors, n0 = errs->n;
	yaml_parser_t parser;
	yaml_document_t doc, extra;
	yaml_node_t *root;

	memset(out, 0, sizeof(*out));
	out->path = strdup(name);
	if (!yaml_parser_initialize(&parser) || !out->path) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, name, 0, 0, "out of memory");
		goto out;
	}
	if (check_depth(&c, buf, len)) {
		yaml_parser_delete(&parser);
		goto out;
	}
	yaml_parser_set_input_string(&parser, (const unsigned char *)buf, len);
	if (!yaml_parser_load(&parser, &doc)) {
		yaml_problem(&c, &parser, buf, len);
		yaml_parser_delete(&parser);
		goto out;
	}
	c.doc = &doc;
	root = yaml_document_get_root_node(&doc);
	if (!root) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, name, 0, 0,
				  "empty policy (it needs at least 'version: 1')");
	} else {
		parse_root(&c, root);
		/* a second document would be silently ignored: say so instead */
		if (!yaml_parser_load(&parser, &extra)) {
			yaml_problem(&c, &parser, buf, len);
		} else {
			yaml_node_t *r2 = yaml_document_get_root_node(&extra);

			if (r2)
				pol_err(&c, r2, "a second YAML document; a policy is one document");
			yaml_document_delete(&extra);
		}
	}
	yaml_document_delete(&doc);
	yaml_parser_delete(&parser);
out:
	/* sort only what this parse added: the caller's earlier messages stay */
	{
		/* no diagnostics yet: v may be NULL, and NULL + 0 is UB */
		struct castle_errors tail = { .v = errs->v ? errs->v + n0 : NULL, .n = errs->n - n0 };

		castle_errors_sort(&tail);
	}
	if (errs->nerrors == nerr0)
		return 0;
	castle_policy_free(out);
	return -1;
}

int castle_policy_load(const char *path, struct castle_policy_conf *out,
		       struct castle_errors *errs)
{
	struct stat st;
	char *buf = NULL;
	size_t len = 0, cap;
	int fd, ret = -1;

	memset(out, 0, sizeof(*out));
	/* O_NONBLOCK: opening a FIFO would otherwise wait for a writer (and
	 * castled's reload with it); it is refused below as not a regular file.
	 * For a regular file the flag changes nothing. */
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0, "cannot open policy: %s",
				  strerror(errno));
		return -1;
	}
	/* fstat the open file, not the path, so what is checked is what is read */
	if (fstat(fd, &st)) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0, "cannot stat policy: %s",
				  strerror(errno));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0, "policy is not a regular file");
		goto out;
	}
	/* anyone could rewrite the firewall: refuse rather than trust it */
	if (st.st_mode & S_IWOTH) {
		castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0,
				  "policy file is world-writable (mode %04o); refusing it (chmod o-w %s)",
				  (unsigned int)(st.st_mode & 07777), path);
		goto out;
	}
	/* st_size is a hint (the file may grow while read): read to EOF */
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap);
	if (!buf)
		goto oom;
	for (;;) {
		ssize_t r;

		if (len == cap) {
			char *nb = realloc(buf, cap * 2);

			if (!nb)
				goto oom;
			buf = nb;
			cap *= 2;
		}
		r = read(fd, buf + len, cap - len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0,
					  "cannot read policy: %s", strerror(errno));
			goto out;
		}
		if (r == 0)
			break;
		len += (size_t)r;
	}
	ret = castle_policy_parse(path, buf, len, out, errs);
	goto out;
oom:
	castle_errors_add(errs, CASTLE_SEV_ERROR, path, 0, 0, "out of memory reading policy");
out:
	free(buf);
	close(fd);
	return ret;
}

void castle_policy_free(struct castle_policy_conf *conf)
{
	for (size_t i = 0; i < conf->nallow; i++)
		free(conf->allow[i].comment);
	for (size_t i = 0; i < conf->nblock; i++)
		free(conf->block[i].comment);
	for (unsigned int i = 0; i < CASTLE_MAX_CLASSES; i++)
		free(conf->classes[i].src);
	free(conf->allow);
	free(conf->block);
	free(conf->tls.sni);
	free(conf->path);
	memset(conf, 0, sizeof(*conf));
}
