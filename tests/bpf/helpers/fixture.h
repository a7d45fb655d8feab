/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fixture.h - load castle's programs for BPF_PROG_TEST_RUN tests with private,
 * unpinned maps; apply a policy through the same user/lib/maps.c code castled
 * uses; run frames; read counters.
 */
#ifndef CASTLE_TEST_FIXTURE_H
#define CASTLE_TEST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>
#include <castle/castle.h>
#include "maps.h"
#include "pkt.h"

struct castle_xdp_bpf;

struct fx {
	struct castle_xdp_bpf *xdp;
	int prog_fd;
	struct castle_maps maps;
	/* policy being built by fx_* calls, applied by fx_commit() */
	struct castle_gen gen;
	struct castle_policy pol;
	bool building;
};

/* rl_entries: size of the rate-limit LRU (0 = small test default). */
int fx_open(struct fx *f, uint32_t rl_entries);
void fx_close(struct fx *f);

/* Start a new policy (empty lists, no classes, enforce mode). */
void fx_begin(struct fx *f);
void fx_block(struct fx *f, const char *cidr, uint64_t ttl_ns);
void fx_allow(struct fx *f, const char *cidr);
/* Add a class; returns its slot. src may be NULL (any); ports "443,9000-9100" or NULL. */
int fx_class(struct fx *f, const char *src, uint8_t proto, const char *ports, double rate,
	     uint32_t burst);
void fx_commit(struct fx *f);

/* Manual entries, as castlectl writes them. */
void fx_manual_block(struct fx *f, const char *cidr, uint64_t ttl_ns);
void fx_manual_allow(struct fx *f, const char *cidr);

/* Run one frame through the XDP program; returns the XDP action. */
int fx_run(struct fx *f, const void *frame, size_t len);
int fx_run_spec(struct fx *f, const struct pkt_spec *s);
/* Same frame `repeat` times in one test run. */
int fx_run_repeat(struct fx *f, const void *frame, size_t len, uint32_t repeat);

/* Packets counted with this verdict and reason, summed over CPUs and interfaces. */
uint64_t fx_count(struct fx *f, int verdict, int reason);
uint64_t fx_bytes(struct fx *f, int verdict, int reason);
uint64_t fx_total(struct fx *f);
uint64_t fx_class_count(struct fx *f, uint32_t slot, int verdict);

/* Parse a CIDR or die (test input is trusted). */
void fx_cidr(const char *s, struct castle_cidr *c);

#endif
