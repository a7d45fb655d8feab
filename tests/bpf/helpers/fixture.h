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
	/* ingress_ifindex of the frames fx_run* sends (0: the kernel's
	 * default, loopback); must name a device of the test's namespace. */
	uint32_t ifindex;
};

/* Key `key` of the per-CPU array of u64 `fd`, summed over the CPUs. */
uint64_t fx_percpu_sum(int fd, uint32_t key);

/* When not 0, the size fx_open gives every manual/auto map (a test of a
 * full map sets it before its setup). */
extern uint32_t fx_man_entries;

/* rl_entries: size of the rate-limit LRU (0 = small test default). */
int fx_open(struct fx *f, uint32_t rl_entries);
void fx_close(struct fx *f);
/* cmocka fixtures: *state is a fresh fx with the default rate-limit table,
 * closed after the test. */
int fx_setup(void **state);
int fx_teardown(void **state);

/* Start a new policy (empty lists, no classes, enforce mode). */
void fx_begin(struct fx *f);
void fx_block(struct fx *f, const char *cidr, uint64_t ttl_ns);
void fx_allow(struct fx *f, const char *cidr);
/* Add a class; returns its slot. src may be NULL (any); ports "443,9000-9100" or NULL. */
int fx_class(struct fx *f, const char *src, uint8_t proto, const char *ports, double rate,
	     uint32_t burst);
/* Refine a class added by fx_class (before fx_commit). */
void fx_class_bytes(struct fx *f, int slot, double bytes_per_sec, uint64_t byte_burst);
void fx_class_ban(struct fx *f, int slot, uint32_t after, uint64_t for_ns);
void fx_class_per(struct fx *f, int slot, uint8_t plen4, uint8_t plen6);
/* Policy flags (CASTLE_F_*) and event sampling of the policy being built. */
void fx_flags(struct fx *f, uint32_t flags);
void fx_events_per_sec(struct fx *f, uint32_t per_sec);
void fx_commit(struct fx *f);

/* Manual entries, as castlectl writes them. */
void fx_manual_block(struct fx *f, const char *cidr, uint64_t ttl_ns);
void fx_manual_allow(struct fx *f, const char *cidr);

/* A UDP datagram from src (IPv4, IPv6) to port 53. */
struct pkt_spec fx_udp4(const char *src);
struct pkt_spec fx_udp6(const char *src);

/* Run one frame through the XDP program; returns the XDP action. */
int fx_run(struct fx *f, const void *frame, size_t len);
int fx_run_spec(struct fx *f, const struct pkt_spec *s);
/* Same frame `repeat` times in one test run. */
int fx_run_repeat(struct fx *f, const void *frame, size_t len, uint32_t repeat);
int fx_run_spec_repeat(struct fx *f, const struct pkt_spec *s, uint32_t repeat);

/* Packets counted with this verdict and reason, summed over CPUs and interfaces. */
uint64_t fx_count(struct fx *f, int verdict, int reason);
uint64_t fx_bytes(struct fx *f, int verdict, int reason);
uint64_t fx_total(struct fx *f);
/* A class's packets (bytes) with this verdict, summed over CPUs and interfaces. */
uint64_t fx_class_count(struct fx *f, uint32_t slot, int verdict);
uint64_t fx_class_bytes_count(struct fx *f, uint32_t slot, int verdict);
/* The same on one interface (its counter slot; ifindex 0: slot 0, where
 * interfaces without a slot count). */
uint64_t fx_class_count_if(struct fx *f, uint32_t ifindex, uint32_t slot, int verdict);

/* The live block (or allow) entry stored for exactly this CIDR, from any list
 * (policy generation, manual, auto); false when there is none or it expired. */
bool fx_block_entry(struct fx *f, const char *cidr, struct castle_entry *out);
bool fx_allow_entry(struct fx *f, const char *cidr, struct castle_entry *out);
/* Raw presence of a key in a manual/auto map, expired or not. */
bool fx_manual_has(struct fx *f, const char *cidr);
/* Sources tracked in rl_state. */
uint32_t fx_tracked(struct fx *f);

/* Packets (or bytes) with this verdict and reason in a stats map (xdp_stats
 * or tc_stats), summed over CPUs and interfaces. */
uint64_t fx_stats_sum(const struct castle_maps *m, int stats_fd, int verdict, int reason,
		     bool bytes);

/* Parse a CIDR or die (test input is trusted). */
void fx_cidr(const char *s, struct castle_cidr *c);

#endif
