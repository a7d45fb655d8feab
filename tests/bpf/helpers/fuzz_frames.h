/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fuzz_frames.h - frames for the packet fuzzers: a seedable PRNG
 * (splitmix64), a corpus of valid frames (v4/v6 TCP/UDP/ICMP, VLAN, QinQ,
 * IPv4 options, IPv6 extension chains, fragments, TLS and HTTP payloads, ND,
 * non-IP) from the sources fz_src4/fz_src6, and mutations of them.
 */
#ifndef CASTLE_TEST_FUZZ_FRAMES_H
#define CASTLE_TEST_FUZZ_FRAMES_H

#include <stddef.h>
#include <stdint.h>

#define FZ_FRAME_MAX 1600

struct fz_frame {
	uint8_t b[FZ_FRAME_MAX];
	size_t len;
	size_t l3, l4;		/* header offsets (l4 0 if none) */
	int family;		/* 4, 6 or 0 (non-IP) */
};

extern uint64_t fz_rng_state;	/* the PRNG's state: set it to seed a run */
uint64_t fz_rnd(void);
uint32_t fz_below(uint32_t n);	/* uniform in [0, n), 0 for n 0 */
uint64_t fz_env_u64(const char *name, uint64_t def);

/* The source population: the fuzz policies block, allow and limit some. */
extern const char *const fz_src4[];
extern const char *const fz_src6[];
extern const size_t fz_nsrc4, fz_nsrc6;
#define FZ_NSRC4 fz_nsrc4
#define FZ_NSRC6 fz_nsrc6

extern const uint8_t fz_client_hello[];	/* a ClientHello record start, SNI example.com */
extern const size_t fz_client_hello_len;
extern const char fz_http_get[];
extern const size_t fz_http_get_len;

extern struct fz_frame *fz_corpus;
extern size_t fz_ncorpus;
void fz_build_corpus(void);
void fz_free_corpus(void);

void fz_mutate(struct fz_frame *fr);		/* 1-4 mutations, mostly in the headers */
void fz_random_frame(struct fz_frame *fr);	/* random bytes, often a plausible ethertype */
void fz_hexdump(const uint8_t *b, size_t n);	/* to stderr, for a failing frame */

#endif
