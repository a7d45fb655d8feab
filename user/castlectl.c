// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castlectl - read and change castle's gate at run time. Everything lives in
 * user/lib/ctl_*.c so the unit tests can drive the same code with their own
 * argv and output streams; this file is only the process entry point.
 */
#include <stdio.h>

#include "ctl.h"
#include "out.h"

int main(int argc, char **argv)
{
	/* libbpf's own warnings would duplicate castlectl's messages. */
	return out_stdout_status("castlectl", castle_ctl_main(argc, argv, stdout, stderr));
}
