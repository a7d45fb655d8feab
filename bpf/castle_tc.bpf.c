// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * castle_tc.bpf.c - the TC ingress TLS gate. The body reads as the order of
 * checks: tls enabled? (IPv4/IPv6 pass unparsed when not) -> parse ->
 * malformed (only where it is the gate's business, allowlist first) ->
 * protected port? -> the tuple's judged verdict (one tls_conns lookup: a
 * verified connection passes here) -> allowlist -> QUIC (UDP), a bad
 * connection's drop, or the TCP connection state machine -> count. It runs
 * after the XDP gate,
 * so blocked and rate-limited sources never get here.
 *
 * TCP state (docs/TLS.md): a SYN opens an entry in tls_pending; the first
 * payload is fed to the ClientHello parser (bpf/tls.h), segment by segment,
 * until the hello is judged; the verdict moves the connection to tls_conns,
 * where a verified connection passes at the cost of one lookup and a bad one
 * is dropped for good. tls_marks remembers, per hash slot, that a handshake
 * was opened and not yet verified, so that losing an entry to LRU eviction
 * never turns a connection into an unchecked one.
 *
 * Pass is TC_ACT_UNSPEC (TCX_NEXT): the next filter or program still runs.
 */
#include "common.h"
#include "parse.h"
#include "lists.h"
#include "tls.h"
#include "tc_parse.h"
#include "tc_state.h"

char LICENSE[] SEC("license") = "Dual BSD/GPL";

#define TC_PASS (-1)	/* TC_ACT_UNSPEC / TCX_NEXT */
#define TC_DROP 2	/* TC_ACT_SHOT */

#define TCP_FIN 0x01
#define TCP_SYN 0x02
#define TCP_RST 0x04
#define TCP_ACK 0x10

/* Stage results: reason in the low byte, drop in bit 8. */
#define R_PASS(r) (r)
#define R_DROP(r) ((r) | 0x100)
/* castle_tc_judged: no verdict yet, castle_tc_tcp decides; R_ABSENT also
 * says the tuple had no tls_conns entry, so castle_tc_tcp does not look
 * again. (Between the two, another CPU may judge the tuple; the state
 * machine then works from the older view, as it always could between its
 * own lookups of tls_conns and tls_pending.) */
#define R_UNDECIDED (-1)
#define R_ABSENT (-2)

static __always_inline void bump(void *map, __u32 idx)
{
	__u64 *v = bpf_map_lookup_elem(map, &idx);

	if (v)
		*v += 1; /* per-CPU slot */
}

/* ---- policy ------------------------------------------------------------- */

/* Inlined: a call and return for this short loop cost more than the loop
 * on a host with return thunks, on every packet to a TLS-gated host. */
static __always_inline int castle_tc_protected(const struct castle_policy *pol, __u16 dport)
{
	if (!pol)
		return 0;
	for (int i = 0; i < CASTLE_MAX_TLS_PORTS; i++) {
		if (i >= pol->tls.nports)
			break;
		if (pol->tls.ports[i] == dport)
			return 1;
	}
	return 0;
}

/* Allowed sources are never TLS-checked. No hit accounting: XDP counted it. */
__noinline int castle_tc_allowed(__u32 gen, const struct castle_pkt *p)
{
	if (!p)
		return 0;
	__u32 have = castle_have(bpf_map_lookup_elem(&policy, &gen));

	return (p->family == 4 ? castle_allow4(gen, have, p) : castle_allow6(gen, have, p)) != NULL;
}

struct sni_wild {
	const struct castle_tls_pend *st;
	struct castle_sni_key *k;
	__u32 from;	/* index of the first '.' */
};

/* k->name[1 + i] = sni[from + i]: one byte per bpf_loop step, so the verifier
 * checks the copy once instead of once per (dot, length) pair. */
static long sni_wild_step(__u64 i, void *ctx)
{
	struct sni_wild *w = ctx;
	__u32 src = w->from + (__u32)i;

	if (src >= w->st->sni_len || i >= CASTLE_SNI_MAX - 1)
		return 1;
	w->k->name[(1 + i) & (CASTLE_SNI_MAX - 1)] = w->st->sni[src & (CASTLE_SNI_MAX - 1)];
	return 0;
}

/* Is the lower-case name (or its one-label wildcard) on tls.sni.allow? */
__noinline int castle_tc_sni_allowed(__u32 gen, const struct castle_tls_pend *st)
{
	struct castle_sni_key k __attribute__((aligned(8)));
	void *inner = bpf_map_lookup_elem(&pol_sni, &gen);

	if (!st || !inner)
		return 0; /* an allow-list we cannot read allows nothing */
	if (st->sni_len == 0 || st->sni_len >= CASTLE_SNI_MAX)
		return 0;
	/* sni[] is zero past the name: it is the key as it stands. */
	for (int i = 0; i < CASTLE_SNI_MAX / 8; i++)
		((__u64 *)k.name)[i] = ((const __u64 *)st->sni)[i];
	if (bpf_map_lookup_elem(inner, &k))
		return 1;
	if (!st->sni_dot)
		return 0;
	/* "*." + the name without its first label. */
	__builtin_memset(&k, 0, sizeof(k));
	k.name[0] = '*';
	struct sni_wild w = { .st = st, .k = &k, .from = st->sni_dot - 1 };
	bpf_loop(CASTLE_SNI_MAX, sni_wild_step, &w, 0);
	return bpf_map_lookup_elem(inner, &k) != NULL;
}

/* ---- TCP ------------------------------------------------------------------ */

static __always_inline __u32 result_reason(__u32 res)
{
	switch (res) {
	case CASTLE_TLS_RES_OLD_VERSION:
		return CASTLE_R_TLS_VERSION;
	case CASTLE_TLS_RES_SNI_DENIED:
		return CASTLE_R_TLS_SNI;
	default:
		return CASTLE_R_TLS_NOT_TLS;
	}
}

/* A connection result, counted under the interface's counter slot `ifs`. */
static __always_inline void bump_result(__u32 ifs, __u32 res)
{
	bump(&tls_results, CASTLE_TLS_RESULTS_KEY(ifs & (CASTLE_MAX_IFACES - 1),
						  res & (CASTLE_TLS_RESULT_SLOTS - 1)));
}

static __always_inline void judge_conn(const struct castle_tls_key *k, __u32 isn, __u32 res,
				       __u32 ifs, __u8 flags)
{
	struct castle_tls_conn c = {
		.since_ns = bpf_ktime_get_ns(),
		.isn = isn,
		.state = res == CASTLE_TLS_RES_TLS ? CASTLE_TLS_S_VERIFIED : CASTLE_TLS_S_BAD,
		.result = res,
		.flags = flags,
	};

	bpf_map_update_elem(&tls_conns, k, &c, BPF_ANY);
	bump(&tls_pressure, CASTLE_TLSP_CONN_INSERTS);
	bump_result(ifs, res);
	if (res == CASTLE_TLS_RES_TLS)
		mark_verified(k);
}

/* Open (or restart) the pending entry of a handshake; NULL if the map
 * refused. Written from a zero template and filled in place: the value is
 * too big for the stack next to everything else. */
static __always_inline struct castle_tls_pend *open_pending(const struct castle_tls_key *k,
							     __u32 isn)
{
	static const struct castle_tls_pend zero;
	struct castle_tls_pend *st;

	if (bpf_map_update_elem(&tls_pending, k, &zero, BPF_ANY))
		return NULL;
	st = bpf_map_lookup_elem(&tls_pending, k);
	if (!st)
		return NULL;
	st->syn_ns = bpf_ktime_get_ns();
	st->isn = isn;
	st->lim = 5; /* until the record header is read */
	bump(&tls_pressure, CASTLE_TLSP_PENDING_INSERTS);
	mark_open(k);
	return st;
}

/* The hello verdict once parsed: version, then SNI. */
static __always_inline __u32 hello_result(__u32 gen, const struct castle_tls_pend *st)
{
	struct castle_policy *pol = bpf_map_lookup_elem(&policy, &gen);
	__u16 ver = (st->flags & CASTLE_TLS_PF_SV) ? st->best_ver : st->legacy_ver;

	if (!pol)
		return CASTLE_TLS_RES_TLS;
	if (ver < pol->tls.min_version)
		return CASTLE_TLS_RES_OLD_VERSION;
	/* SNI is checked where it is found: a hello without one passes. */
	if ((pol->flags & CASTLE_F_TLS_SNI) && (st->flags & CASTLE_TLS_PF_SNI)) {
		if (st->flags & CASTLE_TLS_PF_SNI_LONG)
			return CASTLE_TLS_RES_SNI_DENIED;
		if (!castle_tc_sni_allowed(gen, st))
			return CASTLE_TLS_RES_SNI_DENIED;
	}
	return CASTLE_TLS_RES_TLS;
}

/* Feed payload bytes [skip, len) of the segment - stream bytes from st->seen
 * on - to the parser, in chunks behind the kept tail. */
__noinline int castle_tls_feed(struct __sk_buff *skb, struct castle_tls_pend *st, __u32 pay_off,
			       __u32 skip, __u32 len)
{
	__u32 zero = 0;
	struct castle_tls_buf *buf = bpf_map_lookup_elem(&tls_scratch, &zero);

	if (!st || !buf)
		return TLS_DONE;
	for (int k = 0; k < TLS_MAX_CHUNKS; k++) {
		if (skip >= len)
			return TLS_MORE;
		__u32 n = len - skip;
		if (n > TLS_CHUNK)
			n = TLS_CHUNK;
		__builtin_memcpy(buf->b, st->tail, CASTLE_TLS_TAIL);
		/* n in [1, TLS_CHUNK]: the verifier needs to see both bounds. */
		n &= TLS_BUF - 1;
		if (n == 0 || n > TLS_CHUNK)
			return TLS_DONE;
		if (bpf_skb_load_bytes(skb, pay_off + skip, &buf->b[CASTLE_TLS_TAIL], n))
			return TLS_BAD;

		struct tls_walk w = { .st = st, .buf = buf, .c0 = st->seen, .c1 = st->seen + n };
		bpf_loop(TLS_STEPS, tls_step, &w, 0);

		for (int i = 0; i < CASTLE_TLS_TAIL; i++)
			st->tail[i] = buf->b[(n + i) & (TLS_BUF - 1)];
		st->seen += n;
		skip += n;
		if (w.res != TLS_MORE)
			return w.res;
		/* Steps ran out with unread items behind the tail: stop here. */
		if (st->pos + CASTLE_TLS_TAIL < st->seen)
			return TLS_DONE;
	}
	return skip >= len ? TLS_MORE : TLS_DONE;
}

static __always_inline __u32 tc_seg_key(const struct castle_tc_pkt *p, struct castle_tls_key *k)
{
	__builtin_memcpy(k->saddr, p->ip.saddr, 16);
	__builtin_memcpy(k->daddr, p->ip.daddr, 16);
	k->sport = p->ip.sport;
	k->dport = p->ip.dport;
	k->family = p->ip.family;
	return 0;
}

/* Does the payload start like a ClientHello? (6 bytes, no state) */
static __always_inline int payload_is_hello(struct __sk_buff *skb, const struct castle_tc_pkt *p)
{
	__u8 b[6];

	if (p->pay_len < 6 || bpf_skb_load_bytes(skb, p->pay_off, b, 6))
		return 0;
	return tls_is_hello_start(b);
}

/* ... or, shorter than 6 bytes, like the start of one: a first segment
 * sent again on a verified connection may be as short as the original. */
static __always_inline int payload_may_be_hello(struct __sk_buff *skb,
						const struct castle_tc_pkt *p)
{
	__u8 b[8] = {};
	__u32 n = p->pay_len;

	if (n >= 6)
		return payload_is_hello(skb, p);
	if (n < 1 || n > 5 || bpf_skb_load_bytes(skb, p->pay_off, b, n))
		return 0;
	return b[0] == 22 && (n < 2 || b[1] == 3) && (n < 3 || b[2] <= 4);
}

/* The parser's verdict (TLS_BAD or TLS_DONE) on the pending handshake st:
 * its tls_conns entry written, the pending entry gone, the segment's verdict
 * returned. */
static __always_inline int judge_pending(__u32 gen, const struct castle_tls_key *k,
					 struct castle_tls_pend *st, int res, __u32 ifs)
{
	__u32 r = res == TLS_BAD ? CASTLE_TLS_RES_NOT_TLS : hello_result(gen, st);

	judge_conn(k, st->isn, r, ifs, st->conn_flags);
	bpf_map_delete_elem(&tls_pending, k);
	bump(&tls_pressure, CASTLE_TLSP_PENDING_RESOLVED);
	return r == CASTLE_TLS_RES_TLS ? R_PASS(CASTLE_R_TLS) : R_DROP(result_reason(r));
}

/* A pending handshake gets a segment with payload whose first byte has
 * sequence number dseq (seq, or seq + 1 on a SYN). */
static __always_inline int tcp_pending(struct __sk_buff *skb, const struct castle_tc_pkt *p,
				       __u32 gen, const struct castle_tls_key *k,
				       struct castle_tls_pend *st, __u32 dseq, __u32 ifs)
{
	__u32 off = dseq - st->isn - 1;
	int res;

	if (off == 0 && st->seen)
		tls_reset(st); /* the first segment again: inspect it again */
	/* Whether offset 0, as inspected now, came on a SYN (dseq past seq):
	 * the first bytes sent again without it clear the flag. */
	if (off == 0)
		st->conn_flags = dseq != p->seq ? CASTLE_TLS_CF_CHECK0 : 0;
	if (off > st->seen) {
		/* A gap (reordering or loss before us), or data before the
		 * stream start: drop it, TCP sends it again in order. */
		bump(&tls_pressure, CASTLE_TLSP_OOO_DROPS);
		return R_DROP(CASTLE_R_TLS_NOT_TLS);
	}
	if (off + p->pay_len <= st->seen)
		return R_PASS(CASTLE_R_OK); /* already inspected */

	res = castle_tls_feed(skb, st, p->pay_off, st->seen - off, p->pay_len);
	if (res == TLS_MORE)
		return R_PASS(CASTLE_R_OK);
	return judge_pending(gen, k, st, res, ifs);
}

/* The verdict on a segment (not a SYN) of a connection judged bad: dropped
 * with its judgement's reason, except a FIN or RST without data, which
 * carries nothing; letting it through lets the server close the socket
 * instead of waiting out its handshake timeout. */
static __always_inline int bad_conn_verdict(const struct castle_tls_conn *c,
					    const struct castle_tc_pkt *p)
{
	if (!p->pay_len && (p->tcp_flags & (TCP_FIN | TCP_RST)))
		return R_PASS(CASTLE_R_OK);
	return R_DROP(result_reason(c->result));
}

/* The connection state machine for a TCP segment to a protected port that
 * the fast path left undecided; `conns_miss`: the fast path found no tls_conns
 * entry for the tuple (a segment with payload and no state costs one lookup
 * fewer: castle-cost untracked). */
__noinline int castle_tc_tcp(struct __sk_buff *skb, const struct castle_tc_pkt *p, __u32 gen,
			  __u32 ifs, int conns_miss)
{
	struct castle_tls_key k = {};
	struct castle_tls_conn *c;
	struct castle_tls_pend *st;
	int syn;

	if (!p)
		return R_PASS(CASTLE_R_OK);
	tc_seg_key(p, &k);
	syn = (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN;
	/* Data on a segment without ACK (a SYN's aside) never reaches a
	 * socket (RFC 9293 3.10.7.4): no verdict may rest on it, and a check
	 * of the first bytes must not be passed by it. */
	if (p->pay_len && !syn && !(p->tcp_flags & TCP_ACK))
		return R_DROP(CASTLE_R_TLS_NOT_TLS);

	c = conns_miss ? NULL : bpf_map_lookup_elem(&tls_conns, &k);
	if (c && syn) {
		/* A SYN on a judged tuple. A bad verdict stands for the mark
		 * window: resetting it would let the old, still open socket
		 * take plaintext once a new "connection" passed. After that,
		 * or after a verified connection, the tuple is being reused -
		 * unless it is the verified connection's own SYN again (a
		 * duplicate, or a Fast Open SYN resent without its data),
		 * which an open server socket ignores: the connection goes on,
		 * and its offset 0 is inspected whole from now on (the same
		 * ISN may also open the tuple anew after a close). */
		if (c->state == CASTLE_TLS_S_BAD &&
		    bpf_ktime_get_ns() - c->since_ns < tls_mark_window_s * 1000000000ull)
			return R_DROP(result_reason(c->result));
		if (c->state == CASTLE_TLS_S_VERIFIED && p->seq == c->isn && !p->pay_len) {
			c->flags |= CASTLE_TLS_CF_CHECK0;
			return R_PASS(CASTLE_R_OK);
		}
		bpf_map_delete_elem(&tls_conns, &k);
		c = NULL;
	}
	if (c) {
		/* Not a SYN: castle_tc_judged decided every other segment of
		 * a judged tuple, unless it was judged since. */
		if (c->state != CASTLE_TLS_S_VERIFIED)
			return bad_conn_verdict(c, p);
		/* A verified connection's segment at stream offset 0 (a
		 * retransmitted first segment) is looked at again: whole when
		 * CHECK0 says so (the verdict rested on the SYN's data, which
		 * the server may have discarded; or the SYN came again); else
		 * its first bytes. */
		if (p->pay_len && p->seq == c->isn + 1 && (c->flags & CASTLE_TLS_CF_CHECK0)) {
			/* Judged on this segment alone, the verdict kept
			 * meanwhile: a part of a hello here would pass while
			 * later bytes, which the verdict lets through, are
			 * already queued at the server. So a segment that
			 * does not complete a hello is dropped (the server has
			 * offset 0 already, or gets a whole hello again). */
			int res;

			st = open_pending(&k, c->isn); /* conn_flags 0: offset 0 sent again */
			if (!st)
				return R_DROP(CASTLE_R_TLS_NOT_TLS);
			res = castle_tls_feed(skb, st, p->pay_off, 0, p->pay_len);
			if (res == TLS_MORE) {
				bpf_map_delete_elem(&tls_pending, &k);
				mark_verified(&k); /* the mark open_pending set */
				bump(&tls_pressure, CASTLE_TLSP_OOO_DROPS);
				return R_DROP(CASTLE_R_TLS_NOT_TLS);
			}
			return judge_pending(gen, &k, st, res, ifs);
		}
		if (p->pay_len && p->seq == c->isn + 1 && !payload_may_be_hello(skb, p)) {
			c->state = CASTLE_TLS_S_BAD;
			c->result = CASTLE_TLS_RES_NOT_TLS;
			c->since_ns = bpf_ktime_get_ns();
			bump_result(ifs, CASTLE_TLS_RES_NOT_TLS);
			return R_DROP(CASTLE_R_TLS_NOT_TLS);
		}
		return R_PASS(CASTLE_R_TLS);
	}

	if (p->first_frag) {
		/* A hello cut by IP fragmentation cannot be inspected whole;
		 * TCP stacks set DF, so this is never a real client. */
		return R_DROP(CASTLE_R_TLS_NOT_TLS);
	}

	st = bpf_map_lookup_elem(&tls_pending, &k);
	if (syn) {
		if (!st || st->isn != p->seq)
			st = open_pending(&k, p->seq);
		else if (st->seen)
			/* the same ISN again over bytes inspected already (a
			 * socket reset and opened anew with it): the verdict
			 * may rest on bytes the new socket never got */
			st->conn_flags |= CASTLE_TLS_CF_CHECK0;
		if (!p->pay_len)
			return R_PASS(CASTLE_R_OK);
		if (!st) /* TCP Fast Open data we cannot track */
			return R_DROP(CASTLE_R_TLS_NOT_TLS);
		return tcp_pending(skb, p, gen, &k, st, p->seq + 1, ifs);
	}
	if (st) {
		if (!p->pay_len)
			return R_PASS(CASTLE_R_OK);
		return tcp_pending(skb, p, gen, &k, st, p->seq, ifs);
	}

	/* No state at all: a connection older than the gate, or one whose
	 * entry was evicted. Segments without payload carry nothing to check. */
	if (!p->pay_len)
		return R_PASS(CASTLE_R_UNTRACKED);
	if (payload_is_hello(skb, p)) {
		/* A first payload whose SYN entry is gone: inspect it now. */
		bump(&tls_pressure, CASTLE_TLSP_ADOPTED);
		st = open_pending(&k, p->seq - 1);
		if (!st)
			return R_DROP(CASTLE_R_TLS_NOT_TLS);
		return tcp_pending(skb, p, gen, &k, st, p->seq, ifs);
	}
	if (marked(&k)) {
		/* A handshake was opened here and never verified: this is not
		 * an old connection, and its first payload is not TLS. */
		bump(&tls_pressure, CASTLE_TLSP_LOST_STATE_DROPS);
		judge_conn(&k, p->seq - 1, CASTLE_TLS_RES_NOT_TLS, ifs, 0);
		return R_DROP(CASTLE_R_TLS_NOT_TLS);
	}
	return R_PASS(CASTLE_R_UNTRACKED);
}

/*
 * The fast path: one lookup of the tuple's verdict, for every TCP segment to
 * a protected port but a SYN (SYN without ACK, as castle_tc_tcp counts
 * them). A segment of a verified connection passes (R_PASS(CASTLE_R_TLS)),
 * except a first segment again (R_UNDECIDED: castle_tc_tcp looks at it). A
 * segment of a connection judged bad gets bad_conn_verdict, which the caller
 * applies after the allowlist: a plaintext flood over a connection that was
 * judged costs this one lookup, not a second one in castle_tc_tcp
 * (castle-cost judged-not-tls). No entry: R_ABSENT. A SYN: R_UNDECIDED.
 * Inlined in the gate's body: as a subprogram its call and return were 5-8
 * ns of a verified segment's cost on a host with return thunks.
 */
static __always_inline int castle_tc_judged(const struct castle_tc_pkt *p)
{
	struct castle_tls_key k = {};
	struct castle_tls_conn *c;

	if (!p || (p->tcp_flags & (TCP_SYN | TCP_ACK)) == TCP_SYN)
		return R_UNDECIDED;
	tc_seg_key(p, &k);
	c = bpf_map_lookup_elem(&tls_conns, &k);
	if (!c)
		return R_ABSENT;
	if (c->state == CASTLE_TLS_S_VERIFIED)
		return p->pay_len && p->seq == c->isn + 1 ? R_UNDECIDED : R_PASS(CASTLE_R_TLS);
	return bad_conn_verdict(c, p);
}

/* ---- UDP: QUIC ------------------------------------------------------------ */

__noinline int castle_tc_quic(struct __sk_buff *skb, const struct castle_tc_pkt *p, __u32 flags,
			   __u32 ifs)
{
	__u8 h[7] = {};
	__u32 n;

	if (!p)
		return R_PASS(CASTLE_R_OK);
	n = p->pay_len < sizeof(h) ? p->pay_len : sizeof(h);
	if (n && bpf_skb_load_bytes(skb, p->pay_off, h, n & 7))
		n = 0;
	if ((flags & CASTLE_F_TLS_QUIC_ALLOW) && quic_ok(h, p->pay_len))
		return R_PASS(CASTLE_R_OK);
	if (n && (h[0] & 0x80))
		bump_result(ifs, CASTLE_TLS_RES_QUIC_DROPPED);
	return R_DROP(CASTLE_R_QUIC);
}

/* ---- the gate ------------------------------------------------------------- */

SEC("tc")
int castle_tc(struct __sk_buff *skb)
{
	__u64 len = skb->len;
	__u32 ifindex = skb->ifindex;
	__u32 ifs = castle_if_slot(ifindex);
	struct castle_tc_pkt p = {};
	struct castle_state *s = castle_state_get();
	__u32 gen = s ? s->gen & 1 : 0;
	struct castle_policy *pol = bpf_map_lookup_elem(&policy, &gen);
	__u32 flags = pol ? pol->flags : 0;
	__u32 reason = CASTLE_R_OK;
	__u32 verdict = CASTLE_PASS;
	int r;

	/* Without a TLS gate there is nothing to judge, only to count: IPv4
	 * and IPv6 frames are known by skb->protocol (eth_type_trans read it)
	 * without parsing, which cost ~25-30 ns of skb loads on every packet
	 * (cost-tc:no-tls-policy, 43-49 -> 17-19 ns side by side). Other
	 * frames are parsed, to tell non-IP from IP behind inner VLAN tags. */
	if (!(flags & CASTLE_F_TLS) &&
	    (skb->protocol == bpf_htons(ETH_P_IP) || skb->protocol == bpf_htons(ETH_P_IPV6)))
		goto out;

	int pr = castle_tc_parse(skb, &p);

	if (pr == CASTLE_P_NON_IP) {
		reason = CASTLE_R_NON_IP;
		goto out;
	}
	if (!(flags & CASTLE_F_TLS))
		goto out;
	if (pr == CASTLE_P_BAD_L4) {
		/* Source known, transport header cut (or, on TCP, a data offset
		 * past the packet). XDP judged it already (allowlist first, then
		 * `malformed:`); the gate adds a verdict only where it is its
		 * business: allow beats everything, a visible port that is not
		 * protected passes, and a protected or unknown port is
		 * malformed, the policy decides. docs/TLS.md, "Malformed". */
		if (castle_tc_allowed(gen, &p.ip)) {
			reason = CASTLE_R_ALLOWLIST;
			goto out;
		}
		if (p.ip.has_ports && !castle_tc_protected(pol, p.ip.dport))
			goto out;
		reason = CASTLE_R_MALFORMED;
		verdict = CASTLE_DROP;
		goto out;
	}
	if (pr != CASTLE_P_IP) {
		/* No trustworthy source (XDP calls it malformed before its
		 * allowlist, too): the malformed policy decides. */
		reason = CASTLE_R_MALFORMED;
		verdict = CASTLE_DROP;
		goto out;
	}
	if (!p.ip.has_ports || (p.ip.proto != IPPROTO_TCP && p.ip.proto != IPPROTO_UDP))
		goto out; /* later fragments: their first one was judged */
	if (!castle_tc_protected(pol, p.ip.dport))
		goto out;
	r = p.ip.proto == IPPROTO_TCP ? castle_tc_judged(&p) : R_UNDECIDED;
	if (r == R_PASS(CASTLE_R_TLS)) {
		reason = CASTLE_R_TLS;
		goto out;
	}
	if (castle_tc_allowed(gen, &p.ip)) {
		reason = CASTLE_R_ALLOWLIST;
		goto out;
	}
	if (p.ip.proto == IPPROTO_UDP)
		r = castle_tc_quic(skb, &p, flags, ifs);
	else if (r == R_UNDECIDED || r == R_ABSENT)
		r = castle_tc_tcp(skb, &p, gen, ifs, r == R_ABSENT);
	/* else: a bad connection's verdict from castle_tc_judged */
	reason = r & 0xff;
	verdict = (r & 0x100) ? CASTLE_DROP : CASTLE_PASS;
out:
	if (verdict == CASTLE_DROP) {
		int dry = (flags & CASTLE_F_DRY_RUN) ||
			  (reason == CASTLE_R_MALFORMED && (flags & CASTLE_F_MALFORMED_PASS));

		castle_event(s, pol, CASTLE_STAGE_TC, reason, ifindex,
			     p.ip.saddr, p.ip.family, p.ip.proto, p.ip.dport, CASTLE_NO_CLASS, dry,
			     len);
		if (dry)
			verdict = CASTLE_PASS;
	}
	castle_count_slot(&tc_stats, ifs, verdict, reason, len);
	return verdict == CASTLE_DROP ? TC_DROP : TC_PASS;
}
