/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * tls.h - a streaming ClientHello parser for the TC gate. A hello may span
 * several TCP segments, so the parser is a resumable state machine whose whole
 * state lives in the tls_pending entry (struct castle_tls_pend): each segment
 * is fed in chunks, and each step reads one small item (a length, a type) or
 * one SNI byte. An item cut by a segment boundary is re-read on the next
 * segment from the last CASTLE_TLS_TAIL stream bytes kept in the entry.
 *
 * Also here: the QUIC header check for UDP to the protected ports.
 */
#ifndef CASTLE_BPF_TLS_H
#define CASTLE_BPF_TLS_H

#include "common.h"
#include <castle/tls.h>

#define TLS_BUF 4096				/* scratch size: a power of two for masks */
#define TLS_CHUNK (TLS_BUF - CASTLE_TLS_TAIL)	/* payload bytes parsed per chunk */
#define TLS_MAX_CHUNKS 17			/* > 64 KiB: a GRO super-segment */
#define TLS_STEPS 1536				/* parser steps per chunk (bpf_loop) */
#define TLS_REC_MAX 16384			/* RFC 8446 5.1: plaintext record limit */
#define TLS_HELLO_MIN 41			/* version, random, sid, 1 suite, 1 method */

/* Scratch (per-CPU): the tail of the stream so far, then the chunk. */
struct castle_tls_buf {
	__u8 b[TLS_BUF];
};

enum tls_phase {
	PH_REC = 0,	/* record header: type 22, version 3.x, length */
	PH_HS,		/* handshake header: type 1, 24-bit length */
	PH_VER,		/* legacy_version, then skip random */
	PH_SID,
	PH_CS,
	PH_COMP,
	PH_EXTS,	/* extensions block length */
	PH_EXT,		/* one extension header */
	PH_SNI,		/* server_name list head: list length, type, name length */
	PH_SNI_NAME,	/* one name byte per step */
	PH_SV_LEN,
	PH_SV,		/* one version per step */
};

/* Outcome of feeding a segment. */
enum tls_res {
	TLS_MORE = 0,	/* hello not complete: pass, wait for the next segment */
	TLS_DONE,	/* hello parsed (or inspection limit reached): judge it */
	TLS_BAD,	/* not a ClientHello, or lengths that contradict each other */
};

/* Item read result. */
enum { GET_OK = 0, GET_MORE, GET_LIMIT };

struct tls_walk {
	struct castle_tls_pend *st;
	struct castle_tls_buf *buf;
	__u32 c0;	/* stream offset of the chunk's first byte (buf index TAIL) */
	__u32 c1;	/* stream offset just past the chunk */
	int res;
};

/* Copy the item [pos, pos + n) out of the tail + chunk. n is a constant at
 * every call site, so the loop unrolls. The limit is checked first: an item
 * that would cross the end of the inspected region is a verdict, not a wait. */
static __always_inline int tls_get(const struct tls_walk *w, __u32 pos, __u32 n, __u8 *out)
{
	const struct castle_tls_pend *st = w->st;

	if (pos + n > st->lim)
		return GET_LIMIT;
	if (pos + n > w->c1)
		return GET_MORE;
	if (pos + CASTLE_TLS_TAIL < w->c0)
		return GET_LIMIT; /* cannot happen: items are shorter than the tail */
	__u32 idx = pos + CASTLE_TLS_TAIL - w->c0;
#pragma unroll
	for (int i = 0; i < 5; i++)
		if (i < (int)n)
			out[i] = w->buf->b[(idx + i) & (TLS_BUF - 1)];
	return GET_OK;
}

static __always_inline __u16 be16(const __u8 *b)
{
	return (__u16)b[0] << 8 | b[1];
}

/* One parser step; returns 1 to stop the loop (w->res says why). */
static long tls_step(__u64 i, void *ctx)
{
	struct tls_walk *w = ctx;
	struct castle_tls_pend *st = w->st;
	__u8 b[5] = {};
	__u32 pos = st->pos, len;
	int g;

	(void)i;
	switch (st->phase) {
	case PH_REC:
		g = tls_get(w, pos, 5, b);
		if (g != GET_OK)
			break;
		len = be16(b + 3);
		/* Record versions seen in the wild for a first record: 3.0 .. 3.4. */
		if (b[0] != 22 || b[1] != 3 || b[2] > 4 || len < 4 + TLS_HELLO_MIN || len > TLS_REC_MAX)
			goto bad;
		st->rec_end = 5 + len;
		st->lim = st->rec_end;
		st->pos = 5;
		st->phase = PH_HS;
		return 0;
	case PH_HS:
		g = tls_get(w, pos, 4, b);
		if (g != GET_OK)
			break;
		len = (__u32)b[1] << 16 | (__u32)b[2] << 8 | b[3];
		if (b[0] != 1 || len < TLS_HELLO_MIN)
			goto bad;
		st->hs_end = 9 + len;
		/* A hello fragmented over several records is inspected in its
		 * first record only (lim); see docs/TLS.md. */
		if (st->hs_end < st->lim)
			st->lim = st->hs_end;
		st->pos = 9;
		st->phase = PH_VER;
		return 0;
	case PH_VER:
		g = tls_get(w, pos, 2, b);
		if (g != GET_OK)
			break;
		if (b[0] != 3)
			goto bad;
		st->legacy_ver = be16(b);
		st->pos = pos + 2 + 32; /* skip random */
		st->phase = PH_SID;
		return 0;
	case PH_SID:
		g = tls_get(w, pos, 1, b);
		if (g != GET_OK)
			break;
		if (b[0] > 32)
			goto bad;
		st->pos = pos + 1 + b[0];
		st->phase = PH_CS;
		return 0;
	case PH_CS:
		g = tls_get(w, pos, 2, b);
		if (g != GET_OK)
			break;
		len = be16(b);
		if (len < 2 || (len & 1))
			goto bad;
		st->pos = pos + 2 + len;
		st->phase = PH_COMP;
		return 0;
	case PH_COMP:
		g = tls_get(w, pos, 1, b);
		if (g != GET_OK)
			break;
		if (b[0] < 1)
			goto bad;
		st->pos = pos + 1 + b[0];
		st->phase = PH_EXTS;
		return 0;
	case PH_EXTS:
		if (pos == st->hs_end)
			goto done; /* no extensions: legacy_version decides */
		g = tls_get(w, pos, 2, b);
		if (g != GET_OK)
			break;
		st->ext_end = pos + 2 + be16(b);
		if (st->ext_end != st->hs_end)
			goto bad;
		st->pos = pos + 2;
		st->phase = PH_EXT;
		return 0;
	case PH_EXT:
		if (pos == st->ext_end)
			goto done;
		g = tls_get(w, pos, 4, b);
		if (g != GET_OK)
			break;
		st->item_end = pos + 4 + be16(b + 2);
		if (st->item_end > st->ext_end)
			goto bad;
		st->pos = pos + 4;
		if (be16(b) == 0 && !(st->flags & CASTLE_TLS_PF_SNI))
			st->phase = PH_SNI;
		else if (be16(b) == 43 && !(st->flags & CASTLE_TLS_PF_SV))
			st->phase = PH_SV_LEN;
		else
			st->pos = st->item_end;
		return 0;
	case PH_SNI:
		g = tls_get(w, pos, 5, b);
		if (g != GET_OK)
			break;
		len = be16(b + 3);
		st->sub_end = pos + 5 + len;
		if (pos + 2 + be16(b) != st->item_end || st->sub_end > st->item_end)
			goto bad;
		if (b[2] != 0) { /* not host_name: no name to check */
			st->pos = st->item_end;
			st->phase = PH_EXT;
			return 0;
		}
		st->flags |= CASTLE_TLS_PF_SNI;
		if (len == 0 || len >= CASTLE_SNI_MAX) {
			st->flags |= CASTLE_TLS_PF_SNI_LONG;
			st->pos = st->item_end;
			st->phase = PH_EXT;
			return 0;
		}
		st->sni_len = 0;
		st->pos = pos + 5;
		st->phase = PH_SNI_NAME;
		return 0;
	case PH_SNI_NAME:
		if (pos >= st->sub_end) {
			st->pos = st->item_end; /* further names are not checked */
			st->phase = PH_EXT;
			return 0;
		}
		g = tls_get(w, pos, 1, b);
		if (g != GET_OK)
			break;
		if (b[0] >= 'A' && b[0] <= 'Z')
			b[0] += 'a' - 'A';
		/* Not a host name: would match a name of the list it is not
		 * (NULs pad the keys; '*' is the wildcard's; ".x" has an empty
		 * label for "*.x"). Collected on, matched never. */
		if (!b[0] || b[0] == '*' || (b[0] == '.' && !st->sni_len))
			st->flags |= CASTLE_TLS_PF_SNI_LONG;
		if (b[0] == '.' && !st->sni_dot)
			st->sni_dot = st->sni_len + 1;
		st->sni[st->sni_len & (CASTLE_SNI_MAX - 1)] = b[0];
		st->sni_len++;
		st->pos = pos + 1;
		return 0;
	case PH_SV_LEN:
		g = tls_get(w, pos, 1, b);
		if (g != GET_OK)
			break;
		if (b[0] < 2 || (b[0] & 1) || pos + 1 + b[0] != st->item_end)
			goto bad;
		st->flags |= CASTLE_TLS_PF_SV;
		st->sub_end = st->item_end;
		st->pos = pos + 1;
		st->phase = PH_SV;
		return 0;
	case PH_SV:
		if (pos >= st->sub_end) {
			st->phase = PH_EXT;
			return 0;
		}
		g = tls_get(w, pos, 2, b);
		if (g != GET_OK)
			break;
		/* Only 3.x counts: GREASE (0x?a?a) and drafts are ignored. */
		if (b[0] == 3 && be16(b) > st->best_ver)
			st->best_ver = be16(b);
		st->pos = pos + 2;
		return 0;
	default:
		goto bad;
	}
	if (g == GET_MORE)
		return 1; /* w->res stays TLS_MORE */
	/* GET_LIMIT: a field runs past the end of the hello (its lengths lie),
	 * or past the first record of a multi-record hello (inspection ends). */
	if (st->lim == st->hs_end)
		goto bad;
done:
	w->res = TLS_DONE;
	return 1;
bad:
	w->res = TLS_BAD;
	return 1;
}

/* Reset the parser to stream offset 0 (first segment seen again). */
static __always_inline void tls_reset(struct castle_tls_pend *st)
{
	st->seen = 0;
	st->pos = 0;
	st->rec_end = st->hs_end = 0;
	st->ext_end = st->item_end = st->sub_end = 0;
	st->legacy_ver = st->best_ver = 0;
	st->phase = PH_REC;
	st->flags = 0;
	st->sni_len = 0;
	st->sni_dot = 0;
	__builtin_memset(st->sni, 0, CASTLE_SNI_MAX);
	/* lim is raised by the record header; until then allow its 5 bytes. */
	st->lim = 5;
}

/* The first bytes of a payload say "ClientHello": handshake record of a sane
 * version whose first message is type 1. Used without state (adoption). */
static __always_inline int tls_is_hello_start(const __u8 *b)
{
	return b[0] == 22 && b[1] == 3 && b[2] <= 4 && b[5] == 1;
}

/* ---- QUIC (RFC 8999/9000/9369) ------------------------------------------ */

static __always_inline int quic_known_version(__u32 v)
{
	/* v1, v2, and the late drafts 29..34 some clients still send. */
	return v == 0x00000001 || v == 0x6b3343cf || (v >= 0xff00001d && v <= 0xff000022);
}

/* The least UDP payload that may open a QUIC connection (RFC 9000, 14.1). */
#define CASTLE_QUIC_MIN_INITIAL 1200

/* A datagram that can be QUIC:
 * - a long header of a known version;
 * - a long header of any other version (a later QUIC, or a reserved
 *   0x?a?a?a?a version a client sends to force version negotiation) in a
 *   datagram big enough to open a connection: the server answers it with a
 *   Version Negotiation packet (RFC 8999, 6; RFC 9000, 6.1), and RFC 9000
 *   (5.2.2) has it drop smaller ones. Version 0 is Version Negotiation
 *   itself, which only a server sends;
 * - a short header (fixed bit set) long enough for a packet number and an
 *   AEAD tag. */
static __always_inline int quic_ok(const __u8 *h, __u32 len)
{
	if (len < 1)
		return 0;
	if (h[0] & 0x80) {
		if (len < 7)
			return 0;
		__u32 v = (__u32)h[1] << 24 | (__u32)h[2] << 16 | (__u32)h[3] << 8 | h[4];

		return quic_known_version(v) || (v && len >= CASTLE_QUIC_MIN_INITIAL);
	}
	return (h[0] & 0x40) && len >= 21;
}

#endif /* CASTLE_BPF_TLS_H */
