/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * private_veth.h - for tests that need real interfaces: a shell command's
 * exit status, and a veth pair in a network namespace of the test process's
 * own (unshare(CLONE_NEWNET)), so nothing outside it is touched and the pair
 * goes away with the process.
 */
#ifndef CASTLE_TEST_PRIVATE_VETH_H
#define CASTLE_TEST_PRIVATE_VETH_H

#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

static inline int sh(const char *cmd)
{
	int st = system(cmd);

	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

/* Enter a private network namespace and create the pair a <-> b, both up.
 * 0 or -1 (with the reason on stderr). */
static inline int private_veth(const char *a, const char *b)
{
	char cmd[256];

	if (unshare(CLONE_NEWNET)) {
		fprintf(stderr, "unshare(CLONE_NEWNET): %s\n", strerror(errno));
		return -1;
	}
	snprintf(cmd, sizeof(cmd), "ip link add %s type veth peer name %s && ip link set %s up && "
		 "ip link set %s up", a, b, a, b);
	return sh(cmd) ? -1 : 0;
}

#endif
