/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tls.h - what the TC TLS gate shares with user space: its connection tables,
 * the per-result connection counters and the table-pressure counters. Same
 * layout rules as castle.h (fixed widths, explicit padding, multiples of 8).
 * See docs/TLS.md for the state machine these structs carry.
 */
#ifndef CASTLE_TLS_H
#define CASTLE_TLS_H

#ifndef __bpf__
#include <linux/types.h>
#endif
#include <castle/castle.h>

/* Default capacities; castled may override the two LRUs with
 * bpf_map__set_max_entries() before load. */
#define CASTLE_TLS_PENDING_DEFAULT 65536	/* handshakes in flight (SYN seen, hello not judged) */
#define CASTLE_TLS_CONNS_DEFAULT 262144		/* judged connections (verified or bad) */
#define CASTLE_TLS_MARKS (1u << 18)		/* SYN marks: slots of the "seen a SYN" filter */
#define CASTLE_TLS_MARK_WINDOW_S 120		/* a SYN mark lasts this long (seconds) */
#define CASTLE_TLS_TAIL 16			/* stream bytes kept from the previous segment */

/* Key of tls_pending and tls_conns: the client -> server 5-tuple (TCP only). */
struct castle_tls_key {
	__u8 saddr[16];		/* IPv4 in the first 4 bytes, rest zero */
	__u8 daddr[16];
	__u16 sport;		/* host byte order */
	__u16 dport;
	__u32 family;		/* 4 or 6 */
};

/* Why a connection was judged; tls_results is a PERCPU_ARRAY of __u64 indexed
 * by CASTLE_TLS_RESULTS_KEY(interface counter slot, result): each interface
 * counts apart, in a power-of-two stride the BPF side bounds with a mask. */
enum castle_tls_result {
	CASTLE_TLS_RES_TLS = 0,		/* valid ClientHello, passed version and SNI */
	CASTLE_TLS_RES_NOT_TLS,		/* first payload is not a ClientHello */
	CASTLE_TLS_RES_OLD_VERSION,	/* below tls.min_version */
	CASTLE_TLS_RES_SNI_DENIED,	/* SNI not on tls.sni.allow */
	CASTLE_TLS_RES_QUIC_DROPPED,	/* QUIC long-header datagram dropped */
	CASTLE_TLS_RESULT_MAX,
};

#define CASTLE_TLS_RESULTS "tls", "not_tls", "old_version", "sni_denied", "quic_dropped"
#define CASTLE_TLS_RESULT_SLOTS 8
#define CASTLE_TLS_RESULTS_KEY(ifslot, res) ((ifslot) * CASTLE_TLS_RESULT_SLOTS + (res))
#define CASTLE_TLS_RESULTS_ENTRIES (CASTLE_MAX_IFACES * CASTLE_TLS_RESULT_SLOTS)
_Static_assert(CASTLE_TLS_RESULT_MAX <= CASTLE_TLS_RESULT_SLOTS, "results must fit their slots");

/* Index of tls_pressure (PERCPU_ARRAY of __u64). pending_inserts minus
 * pending_resolved, beyond the table's capacity, is how many handshakes the
 * LRU evicted. */
enum castle_tls_pressure {
	CASTLE_TLSP_PENDING_INSERTS = 0, /* entries opened in tls_pending (SYN or adopted hello) */
	CASTLE_TLSP_PENDING_RESOLVED,	 /* pending entries judged and deleted */
	CASTLE_TLSP_CONN_INSERTS,	 /* entries written to tls_conns */
	CASTLE_TLSP_ADOPTED,		 /* ClientHello with no pending entry (its SYN entry was evicted) */
	CASTLE_TLSP_LOST_STATE_DROPS,	 /* payload without state on a SYN-marked tuple: dropped */
	CASTLE_TLSP_OOO_DROPS,		 /* hello segment ahead of the inspected stream: dropped */
	CASTLE_TLSP_MAX,
};

#define CASTLE_TLS_PRESSURE_NAMES                                                        \
	"pending_inserts", "pending_resolved", "conn_inserts", "adopted", "lost_state_drops", \
		"ooo_drops"

enum castle_tls_state {
	CASTLE_TLS_S_VERIFIED = 1,	/* passed: later segments pass at one lookup */
	CASTLE_TLS_S_BAD = 2,		/* failed: every later segment is dropped */
};

/* Value of tls_conns (LRU): a judged connection. */
struct castle_tls_conn {
	__u64 since_ns;		/* bpf_ktime_get_ns() of the verdict */
	__u32 isn;		/* client ISN: seq of stream byte 0 is isn + 1 */
	__u8 state;		/* enum castle_tls_state */
	__u8 result;		/* enum castle_tls_result */
	__u8 flags;		/* CASTLE_TLS_CF_* */
	__u8 _pad;
};

/* Flags of a judged connection. CHECK0: a payload at stream offset 0 is
 * inspected whole, as a new hello, not taken on the verdict. Set when the
 * verdict rested on bytes that came on the SYN (TCP Fast Open: a server
 * without the client's TFO cookie discards them, and the client sends its
 * first bytes again at offset 0), and when the connection's own SYN came
 * again (a duplicate; or the tuple closed and opened again with the same
 * ISN, whose first bytes must be a hello of their own). */
#define CASTLE_TLS_CF_CHECK0 0x01

/* Parser flags of a pending handshake. */
#define CASTLE_TLS_PF_SNI 0x01		/* server_name host_name found */
#define CASTLE_TLS_PF_SNI_LONG 0x02	/* ... but one that matches nothing: empty, too
					 * long, or not a host name (a NUL or '*', an
					 * empty first label) */
#define CASTLE_TLS_PF_SV 0x04		/* supported_versions found */

/* Value of tls_pending (LRU): a ClientHello being parsed across segments.
 * Stream offsets count from the first payload byte (seq isn + 1). */
struct castle_tls_pend {
	__u64 syn_ns;
	__u32 isn;
	__u32 seen;		/* stream bytes inspected = next in-order offset */
	__u32 pos;		/* parser cursor (may run ahead of seen when skipping) */
	__u32 rec_end;		/* end of the first TLS record */
	__u32 hs_end;		/* end of the ClientHello message */
	__u32 lim;		/* min(rec_end, hs_end): inspection stops here */
	__u32 ext_end;		/* end of the extensions block */
	__u32 item_end;		/* end of the current extension */
	__u32 sub_end;		/* end of the SNI name / supported_versions list */
	__u16 legacy_ver;	/* ClientHello.legacy_version */
	__u16 best_ver;		/* highest supported_versions entry (GREASE ignored) */
	__u8 phase;		/* parser phase (bpf/tls.h) */
	__u8 flags;		/* CASTLE_TLS_PF_* */
	__u8 sni_len;		/* name bytes collected in sni[] */
	__u8 sni_dot;		/* 1 + index of the first '.' in sni[]; 0 = none */
	__u8 conn_flags;	/* CASTLE_TLS_CF_* its verdict's tls_conns entry gets:
				 * CHECK0 when offset 0 came on the SYN */
	__u8 _pad[3];
	__u8 tail[CASTLE_TLS_TAIL]; /* stream bytes [seen - TAIL, seen) */
	char sni[CASTLE_SNI_MAX];   /* lower case, zero past sni_len */
};

/* Value of tls_marks (ARRAY indexed by a hash of the 5-tuple): handshakes
 * opened in this slot and not yet verified, and when the last SYN came. */
struct castle_tls_mark {
	__u32 unresolved;
	__u32 last_s;		/* bpf_ktime_get_ns() / 1e9 */
};

#define CASTLE_MAP_TLS_PENDING "tls_pending"
#define CASTLE_MAP_TLS_CONNS "tls_conns"
#define CASTLE_MAP_TLS_MARKS "tls_marks"
#define CASTLE_MAP_TLS_RESULTS "tls_results"
#define CASTLE_MAP_TLS_PRESSURE "tls_pressure"

#endif /* CASTLE_TLS_H */
