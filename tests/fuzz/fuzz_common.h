/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/* fuzz_common.h - what every libFuzzer target of castle shares: turning the
 * input into a C string, and a loud assertion that libFuzzer reports as a
 * crash (abort) with the reason on stderr. */
#ifndef CASTLE_FUZZ_COMMON_H
#define CASTLE_FUZZ_COMMON_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define FUZZ_CHECK(cond, ...)                                                        \
	do {                                                                         \
		if (!(cond)) {                                                       \
			fprintf(stderr, "%s:%d: invariant '%s' broken: ", __FILE__,   \
				__LINE__, #cond);                                    \
			fprintf(stderr, __VA_ARGS__);                                \
			fputc('\n', stderr);                                         \
			abort();                                                     \
		}                                                                    \
	} while (0)

/* A malloc'ed, NUL-terminated copy of at most max bytes of the input. */
static inline char *fuzz_str(const unsigned char *data, size_t size, size_t max)
{
	size_t n = size < max ? size : max;
	char *s = malloc(n + 1);

	if (!s)
		abort();
	memcpy(s, data, n);
	s[n] = '\0';
	return s;
}

/* A message written by a parser: NUL-terminated within its buffer, not empty. */
static inline int fuzz_msg_ok(const char *err, size_t len)
{
	return memchr(err, '\0', len) != NULL && err[0] != '\0';
}

#endif
