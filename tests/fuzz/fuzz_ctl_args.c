// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_ctl_args.c - castlectl's command line (castle_ctl_main: global
 * options, verb lookup, the option tables, every typed value parser) on
 * arbitrary argument vectors: the input split at NUL bytes. The pin directory
 * is forced to one that does not exist, so no verb can reach real maps; every
 * run must end in exit status 0, 1 or 2, with a message when it is not 0.
 */
#include <stdint.h>
#include <unistd.h>

#include "ctl.h"
#include "fuzz_common.h"

#define MAX_ARGS 16

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static char pin[64];
	char *argv[MAX_ARGS + 4];
	int argc = 0;
	char *buf, *errbuf = NULL, *outbuf = NULL;
	size_t errlen = 0, outlen = 0;

	if (size > 4096)
		return 0;
	if (!pin[0])
		snprintf(pin, sizeof(pin), "/nonexistent/castle-fuzz-%d", (int)getpid());
	buf = fuzz_str(data, size, size);
	argv[argc++] = "castlectl";
	argv[argc++] = "--pin-dir";
	argv[argc++] = pin;
	for (char *p = buf; p <= buf + size && argc < MAX_ARGS + 3; p += strlen(p) + 1) {
		/* Never let the input point castlectl at a real pin directory. */
		if (strstr(p, "pin-dir")) {
			free(buf);
			return 0;
		}
		argv[argc++] = p;
	}
	argv[argc] = NULL;

	FILE *out = open_memstream(&outbuf, &outlen), *err = open_memstream(&errbuf, &errlen);
	if (!out || !err)
		abort();
	int rc = castle_ctl_main(argc, argv, out, err);
	fclose(out);
	fclose(err);
	FUZZ_CHECK(rc == CTL_OK || rc == CTL_FAIL || rc == CTL_USAGE, "exit status %d", rc);
	FUZZ_CHECK(rc == CTL_OK || errlen > 0, "exit status %d without a message", rc);
	free(outbuf);
	free(errbuf);
	free(buf);
	return 0;
}
