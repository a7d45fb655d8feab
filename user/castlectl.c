// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castlectl - read and change castle's gate at run time. Everything lives in
 * user/lib/ctl_*.c so the unit tests can drive the same code with their own
 * argv and output streams; this file is only the process entry point.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "ctl.h"

int main(int argc, char **argv)
{
	/* libbpf's own warnings would duplicate castlectl's messages. */
	int ret = castle_ctl_main(argc, argv, stdout, stderr);

	/* Output that did not reach its file (a full disk, /dev/full) is a
	 * failure: a script must not take a cut list for the whole. */
	errno = 0;
	if (fflush(stdout) == EOF || ferror(stdout)) {
		fprintf(stderr, "castlectl: cannot write the output%s%s\n", errno ? ": " : "",
			errno ? strerror(errno) : "");
		return ret ? ret : 1;
	}
	return ret;
}
