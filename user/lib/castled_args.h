/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * castled_args.h - castled's command line: options, their checks, and what
 * is settled before anything is pinned (paths made absolute, interfaces
 * that exist).
 */
#ifndef CASTLED_ARGS_H
#define CASTLED_ARGS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>
#include "loader.h"

#define CASTLED_DEFAULT_METRICS "127.0.0.1:9753"
#define CASTLED_DEFAULT_STATE_DIR CASTLE_STATE_DIR_DEFAULT

struct castled_opts {
	char abs[3][PATH_MAX];		/* policy, pin_dir, state_dir made absolute */
	const char *ifaces[CASTLE_MAX_IFACES];
	int nifaces;
	const char *policy;
	const char *metrics;
	const char *pin_dir;
	const char *state_dir;
	enum castle_xdp_req xdp_mode;
	enum castle_tc_req tc_mode;
	uint32_t max_sources;
	bool foreground;
	bool check;
};

/* Parse argv into o. Returns -1 to go on, else the exit status: 0 after
 * --help or --version (printed to stdout), 2 after a usage error (printed to
 * stderr, with a hint). */
int castled_parse_args(int argc, char **argv, struct castled_opts *o);

/* Before anything is pinned or attached: the policy, pin and state paths made
 * absolute (castled leaves its directory when it daemonizes) and every
 * interface checked. 0, or -1 with a message on stderr. */
int castled_preflight(struct castled_opts *o);

#endif /* CASTLED_ARGS_H */
