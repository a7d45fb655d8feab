/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tc_state.h - the TC gate's own maps (TLS handshakes pending, connections
 * judged, SYN marks, counters, scratch) and the SYN marks kept over them.
 * Included by castle_tc.bpf.c only; the maps both programs share are in
 * maps.h.
 */
#ifndef CASTLE_BPF_TC_STATE_H
#define CASTLE_BPF_TC_STATE_H

#include "maps.h"
#include "tls.h"

/* How long a SYN mark lasts; castled may set it before load. */
const volatile __u32 tls_mark_window_s = CASTLE_TLS_MARK_WINDOW_S;

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CASTLE_TLS_PENDING_DEFAULT);
	__type(key, struct castle_tls_key);
	__type(value, struct castle_tls_pend);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tls_pending SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_LRU_HASH);
	__uint(max_entries, CASTLE_TLS_CONNS_DEFAULT);
	__type(key, struct castle_tls_key);
	__type(value, struct castle_tls_conn);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tls_conns SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_ARRAY);
	__uint(max_entries, CASTLE_TLS_MARKS);
	__type(key, __u32);
	__type(value, struct castle_tls_mark);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tls_marks SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_TLS_RESULTS_ENTRIES);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tls_results SEC(".maps");

struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, CASTLE_TLSP_MAX);
	__type(key, __u32);
	__type(value, __u64);
	__uint(pinning, LIBBPF_PIN_BY_NAME);
} tls_pressure SEC(".maps");

/* Not pinned: per-CPU scratch, meaningless outside one program run. */
struct {
	__uint(type, BPF_MAP_TYPE_PERCPU_ARRAY);
	__uint(max_entries, 1);
	__type(key, __u32);
	__type(value, struct castle_tls_buf);
} tls_scratch SEC(".maps");

/* SYN marks: tls_marks remembers, per hash slot of the connection key, that a
 * handshake was opened there and not yet verified. */

static __always_inline __u32 tls_slot(const struct castle_tls_key *k)
{
	const __u32 *w = (const void *)k;
	__u32 h = 0x9e3779b9;

	/* Word-wise multiply-xorshift over the 40-byte key. */
	for (int i = 0; i < (int)(sizeof(*k) / 4); i++) {
		h ^= w[i];
		h *= 0x85ebca6b;
		h ^= h >> 13;
	}
	return h & (CASTLE_TLS_MARKS - 1);
}

static __always_inline __u32 now_s(void)
{
	return bpf_ktime_get_ns() / 1000000000ull;
}

/* A handshake opened in this slot: it stays marked until verified or until
 * no SYN has hit the slot for tls_mark_window_s. */
static __always_inline void mark_open(const struct castle_tls_key *k)
{
	__u32 slot = tls_slot(k), now = now_s();
	struct castle_tls_mark *m = bpf_map_lookup_elem(&tls_marks, &slot);

	if (!m)
		return;
	if (now - m->last_s >= tls_mark_window_s)
		m->unresolved = 0; /* stale: a lost race only keeps it marked longer */
	__sync_fetch_and_add(&m->unresolved, 1);
	m->last_s = now;
}

static __always_inline void mark_verified(const struct castle_tls_key *k)
{
	__u32 slot = tls_slot(k);
	struct castle_tls_mark *m = bpf_map_lookup_elem(&tls_marks, &slot);

	if (m && m->unresolved)
		__sync_fetch_and_add(&m->unresolved, -1);
}

static __always_inline int marked(const struct castle_tls_key *k)
{
	__u32 slot = tls_slot(k);
	struct castle_tls_mark *m = bpf_map_lookup_elem(&tls_marks, &slot);

	return m && m->unresolved && now_s() - m->last_s < tls_mark_window_s;
}

#endif /* CASTLE_BPF_TC_STATE_H */
