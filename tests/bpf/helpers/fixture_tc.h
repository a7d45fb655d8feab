/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * fixture_tc.h - load the TC TLS gate for BPF_PROG_TEST_RUN tests with
 * private, unpinned maps; apply a tls policy through user/lib/maps.c; drive
 * TCP connections segment by segment; build ClientHellos; read counters.
 */
#ifndef CASTLE_TEST_FIXTURE_TC_H
#define CASTLE_TEST_FIXTURE_TC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <castle/castle.h>
#include <castle/tls.h>
#include "maps.h"
#include "pkt.h"

/* Program return values (TC_ACT_UNSPEC / TC_ACT_SHOT). */
#define FTC_PASS (-1)
#define FTC_DROP 2

struct castle_tc_bpf;

struct ftc {
	struct castle_tc_bpf *tc;
	int prog_fd;
	struct castle_maps maps;
	int pending_fd, conns_fd, marks_fd, results_fd, pressure_fd;
	struct castle_gen gen;
	struct castle_policy pol;
	bool building;
	/* ifindex of the frames ftc_run sends (0: the kernel's default,
	 * loopback); must name a device of the test's namespace. */
	uint32_t ifindex;
};

/* When not 0, ftc_open loads the program taking only the first this many
 * bytes of a frame as linear data (castle_tc_test_linear): headers past them
 * are read with bpf_skb_load_bytes, as when a driver left them in the frags;
 * test-run skbs are all linear. 1: every header by the helper. */
extern uint32_t ftc_test_linear;
/* When not 0, ftc_open sets the SYN-mark window (tls_mark_window_s, seconds)
 * to this: a test that runs one packet through several gates keeps every
 * time window open for the whole run, so the gates' clocks (microseconds
 * apart) never straddle its end. */
extern uint32_t ftc_mark_window_s;

/* Table sizes: 0 = small test defaults. */
int ftc_open(struct ftc *f, uint32_t pending_entries, uint32_t conns_entries);
void ftc_close(struct ftc *f);

/* Start a policy with tls on `ports` ("443,8443"), min_version and extra
 * flags (CASTLE_F_TLS is always set; CASTLE_F_TLS_SNI when a name is added). */
void ftc_begin(struct ftc *f, const char *ports, uint16_t min_version, uint32_t flags);
/* A policy without a tls section. */
void ftc_begin_no_tls(struct ftc *f);
void ftc_sni(struct ftc *f, const char *name);
void ftc_allow(struct ftc *f, const char *cidr);
void ftc_commit(struct ftc *f);

int ftc_run(struct ftc *f, const void *frame, size_t len);
int ftc_run_spec(struct ftc *f, const struct pkt_spec *s);

uint64_t ftc_count(struct ftc *f, int verdict, int reason);
uint64_t ftc_total(struct ftc *f);
/* Connections judged with this result, summed over CPUs and interfaces;
 * _if: on one interface (its counter slot; 0: slot 0). */
uint64_t ftc_result(struct ftc *f, int result);
uint64_t ftc_result_if(struct ftc *f, uint32_t ifindex, int result);
uint64_t ftc_pressure(struct ftc *f, int idx);

/* A client connection: segments are built with pkt.c. */
struct ftc_conn {
	int family;
	const char *src, *dst;
	uint16_t sport, dport;
	uint32_t isn;
	uint32_t next;		/* stream offset of the next byte to send */
	uint8_t proto;		/* 0 = TCP */
};

void ftc_conn_init(struct ftc_conn *c, int family, const char *src, uint16_t sport, uint16_t dport);
/* The tls_pending/tls_conns key of c (client -> server). */
void ftc_conn_key(const struct ftc_conn *c, struct castle_tls_key *k);
int ftc_syn(struct ftc *f, struct ftc_conn *c);
int ftc_ack(struct ftc *f, struct ftc_conn *c);
/* Send data at the current stream offset and advance it. */
int ftc_send(struct ftc *f, struct ftc_conn *c, const void *data, size_t len);
/* Send data at stream offset `off` (retransmissions, reordering). */
int ftc_send_at(struct ftc *f, struct ftc_conn *c, uint32_t off, const void *data, size_t len);
/* Send data in pieces of the given sizes (0-terminated); returns the verdict
 * of the last piece, or the first drop. */
int ftc_send_split(struct ftc *f, struct ftc_conn *c, const void *data, size_t len,
		   const size_t *sizes);
/* A UDP datagram from the connection's addresses. */
int ftc_udp(struct ftc *f, struct ftc_conn *c, const void *data, size_t len);

/* The tls_conns entry of a connection: 0 if absent, else its state. */
int ftc_conn_state(struct ftc *f, const struct ftc_conn *c);
bool ftc_conn_pending(struct ftc *f, const struct ftc_conn *c);

/* ---- ClientHello builder ---------------------------------------------- */

struct ftc_hello {
	uint16_t rec_ver;		/* 0: 0x0301 */
	uint16_t legacy_ver;		/* 0: 0x0303 */
	const uint16_t *versions;	/* supported_versions; NULL: no extension */
	int nversions;
	const char *sni;		/* NULL: no server_name */
	size_t pad;			/* bytes of a key_share-like extension */
	bool sni_last;			/* server_name after the big extension */
};

/* Returns the length (0 if it does not fit). */
size_t ftc_hello(const struct ftc_hello *h, uint8_t *buf, size_t cap);

#endif
