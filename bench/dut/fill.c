// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fill.c - castle-dut attach --fill: the generator's pool written into a
 * floor program's hash before it is attached (see fill.h).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <bpf/bpf.h>
#include <bpf/libbpf.h>

#include "fill.h"

int dut_fill_hash(struct bpf_object *bo, const char *fill, unsigned long count)
{
	enum { CHUNK = 65536 };
	unsigned char a6[16];
	int v6 = inet_pton(AF_INET6, fill, a6) == 1;
	struct in_addr a4;
	struct bpf_map *m;
	__u32 base;
	int err = 0;

	if (!v6 && inet_pton(AF_INET, fill, &a4) != 1) {
		fprintf(stderr, "castle-dut: --fill: '%s' is not an IPv4 or IPv6 address\n",
			fill);
		return -EINVAL;
	}
	m = bpf_object__find_map_by_name(bo, v6 ? "hash6" : "hash4");
	if (!m) {
		fprintf(stderr, "castle-dut: --fill: this program has no %s\n",
			v6 ? "hash6" : "hash4");
		return -EINVAL;
	}
	if (count > bpf_map__max_entries(m)) {
		fprintf(stderr, "castle-dut: --fill-count %lu: the hash holds %u\n", count,
			bpf_map__max_entries(m));
		return -E2BIG;
	}
	memcpy(&base, v6 ? a6 + 12 : (unsigned char *)&a4.s_addr, 4);
	base = ntohl(base);
	if ((unsigned long)base + count - 1 > UINT32_MAX) {
		fprintf(stderr, "castle-dut: --fill %s + %lu runs past the last 32 bits\n",
			fill, count);
		return -EINVAL;
	}
	size_t ksz = v6 ? 16 : 4;
	unsigned char *keys = malloc(CHUNK * ksz);
	__u32 *vals = calloc(CHUNK, sizeof(*vals));

	if (!keys || !vals) {
		err = -ENOMEM;
		goto out;
	}
	for (unsigned long done = 0; done < count && !err;) {
		__u32 n = count - done < CHUNK ? count - done : CHUNK;

		for (__u32 i = 0; i < n; i++) {
			__u32 low = htonl(base + (__u32)(done + i));
			unsigned char *k = keys + i * ksz;

			if (v6)
				memcpy(k, a6, 12);
			memcpy(k + ksz - 4, &low, 4);
		}
		LIBBPF_OPTS(bpf_map_batch_opts, bo_opts);
		__u32 cnt = n;

		if (bpf_map_update_batch(bpf_map__fd(m), keys, vals, &cnt, &bo_opts)) {
			err = -errno;
			fprintf(stderr, "castle-dut: --fill: writing %s: %s\n", bpf_map__name(m),
				strerror(errno));
		}
		done += n;
	}
out:
	free(keys);
	free(vals);
	return err;
}
