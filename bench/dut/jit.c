// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * jit.c - castle-dut jit: a loaded program's JIT image and where each of its
 * functions sits in kernel memory (see jit.h). bench/hotspots.py maps perf
 * samples to instructions with it; bpftool needs libbfd for the same, which
 * Debian's build lacks.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <bpf/bpf.h>

#include "jit.h"

int dut_jit_dump(__u32 id, const char *out)
{
	struct bpf_prog_info info = {};
	__u32 len = sizeof(info), n, nk, nl;
	unsigned char *img = NULL;
	__u64 *ksyms = NULL;
	__u32 *lens = NULL;
	FILE *f = NULL;
	int fd, err = 0;

	fd = bpf_prog_get_fd_by_id(id);
	if (fd < 0) {
		fprintf(stderr, "castle-dut: jit: program %u: %s\n", id, strerror(errno));
		return -errno;
	}
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		fprintf(stderr, "castle-dut: jit: program %u: %s\n", id, strerror(errno));
		goto out;
	}
	n = info.jited_prog_len;
	nk = info.nr_jited_ksyms;
	nl = info.nr_jited_func_lens;
	if (!n || !nk || nk != nl) {
		fprintf(stderr, "castle-dut: jit: program %u has no JIT image to read (%u bytes, "
			"%u symbols, %u lengths)\n", id, n, nk, nl);
		err = -ENOENT;
		goto out;
	}
	img = malloc(n);
	ksyms = calloc(nk, sizeof(*ksyms));
	lens = calloc(nl, sizeof(*lens));
	if (!img || !ksyms || !lens) {
		err = -ENOMEM;
		goto out;
	}
	memset(&info, 0, sizeof(info));
	info.jited_prog_len = n;
	info.jited_prog_insns = (__u64)(unsigned long)img;
	info.nr_jited_ksyms = nk;
	info.jited_ksyms = (__u64)(unsigned long)ksyms;
	info.nr_jited_func_lens = nl;
	info.jited_func_lens = (__u64)(unsigned long)lens;
	len = sizeof(info);
	if (bpf_obj_get_info_by_fd(fd, &info, &len)) {
		err = -errno;
		fprintf(stderr, "castle-dut: jit: program %u: %s\n", id, strerror(errno));
		goto out;
	}
	f = fopen(out, "wb");
	if (!f || fwrite(img, 1, n, f) != n || fclose(f)) {
		err = -errno;
		fprintf(stderr, "castle-dut: jit: writing %s: %s\n", out, strerror(errno));
		f = NULL;
		goto out;
	}
	f = NULL;
	/* One line per function, in the image's order: kernel address, length. */
	printf("{\"id\": %u, \"image\": \"%s\", \"funcs\": [", id, out);
	for (__u32 i = 0; i < nk; i++)
		printf("%s{\"addr\": %llu, \"len\": %u}", i ? ", " : "", (unsigned long long)ksyms[i],
		       lens[i]);
	printf("]}\n");
out:
	if (f)
		fclose(f);
	free(img);
	free(ksyms);
	free(lens);
	close(fd);
	return err;
}
