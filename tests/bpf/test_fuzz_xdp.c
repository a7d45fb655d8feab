// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_fuzz_xdp.c - packet fuzzing of the XDP gate. A million random and
 * mutated frames (mutations of a corpus of valid frames: v4/v6 TCP/UDP/ICMP,
 * VLAN, QinQ, IPv4 options, IPv6 extension chains, fragments, TLS and HTTP
 * payloads, ND, non-IP; helpers/fuzz_frames.c) go through BPF_PROG_TEST_RUN
 * with a policy loaded, and every verdict must equal the one of an
 * independent user-space model (helpers/xdp_model.c, written from the README
 * rules). Counters must add up: per reason, per class, and in total.
 * test_fuzz_tc.c does the same to the TC TLS gate.
 *
 * Reproduce a run: CASTLE_FUZZ_SEED=<seed printed by the test>. Other knobs:
 * CASTLE_FUZZ_PACKETS (default 1000000), CASTLE_FUZZ_STRICT=1 (check the
 * reason counters after every packet instead of every window, slower).
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>
#include <errno.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"
#include "fuzz_frames.h"
#include "xdp_model.h"

#define WINDOW 1024		/* packets between two counter checks */
#define RL_ENTRIES (1u << 18)	/* rate-limit LRU: far more than the run creates */

/* ---- the policy, applied to the kernel and to the model alike ---------- */

struct ctx {
	struct fx f;
	struct xm m;
};

static void both_allow(struct ctx *c, const char *cidr, bool manual)
{
	struct castle_cidr cc;

	fx_cidr(cidr, &cc);
	if (manual)
		fx_manual_allow(&c->f, cidr);
	else
		fx_allow(&c->f, cidr);
	xm_allow(&c->m, &cc, manual);
}

/* ttl 1 ns: already expired when the first packet arrives */
static void both_block(struct ctx *c, const char *cidr, bool manual, bool expired)
{
	struct castle_cidr cc;

	fx_cidr(cidr, &cc);
	if (manual)
		fx_manual_block(&c->f, cidr, expired ? 1 : 0);
	else
		fx_block(&c->f, cidr, expired ? 1 : 0);
	xm_block(&c->m, &cc, manual, expired);
}

static void both_class(struct ctx *c, const char *src, uint8_t proto, const char *ports,
		       enum xm_rl_kind kind, uint32_t ban_after, uint8_t plen4, uint8_t plen6)
{
	struct xm_class xc = { .any_src = !src, .proto = proto, .kind = kind,
			       .ban_after = ban_after, .plen4 = plen4, .plen6 = plen6 };
	/* ONCE: 1/h with a burst of 1; UNLIMITED: 1e9/s with a burst of 1e6. */
	double rate = kind == XM_RL_ONCE ? 1.0 / 3600 : 1e9;
	uint32_t burst = kind == XM_RL_ONCE ? 1 : 1000000;
	int slot = fx_class(&c->f, src, proto, ports, rate, burst);
	struct castle_class *k = &c->f.pol.classes[slot];

	k->plen4 = plen4;
	k->plen6 = plen6;
	if (ban_after) {
		k->ban_after = ban_after;
		k->ban_for_ns = 3600ull * 1000000000ull;
	}
	if (src)
		fx_cidr(src, &xc.src);
	xc.nports = k->nranges;
	memcpy(xc.ports, k->ports, sizeof(xc.ports));
	assert_int_equal(xm_add_class(&c->m, &xc), slot);
}

/* The counter slot of the policy's i-th class in this test. */
static uint32_t class_slot(uint32_t i)
{
	return CASTLE_MAX_CLASSES - 1 - i;
}

enum phase { PH_ENFORCE, PH_DRY_RUN, PH_MALFORMED_PASS, PH_ENFORCE_AGAIN, PH_MAX };
static const char *const phase_names[PH_MAX] = { "enforce", "dry-run", "malformed-pass",
						 "enforce-again" };

/* Manual entries: written once, like castlectl; reloads never touch them. */
static void apply_manual(struct ctx *c)
{
	both_allow(c, "198.18.11.0/24", true);
	both_allow(c, "2001:db8:11::/48", true);
	both_block(c, "203.0.113.9", true, false);
	both_block(c, "2001:db8:dead::/48", true, false);
	both_block(c, "203.0.114.0/24", true, true);
	both_block(c, "2001:db8:dead:beef::7", true, true);
	/* A live CIDR with an expired longer prefix inside it (same map). */
	both_block(c, "100.64.0.0/10", true, false);
	both_block(c, "100.64.1.0/24", true, true);
}

static void apply_policy(struct ctx *c, enum phase ph)
{
	fx_begin(&c->f);
	xm_policy_reset(&c->m);

	both_allow(c, "198.18.10.0/24", false);
	both_allow(c, "2001:db8:10::/48", false);
	both_allow(c, "198.18.66.10", false);
	both_block(c, "198.18.66.0/24", false, false);
	both_block(c, "198.18.77.7", false, false);
	both_block(c, "198.18.10.5", false, false);	/* allowlisted too: allow wins */
	both_block(c, "2001:db8:bad::/48", false, false);
	both_block(c, "2001:db8:77::7", false, false);
	both_block(c, "198.18.88.0/24", false, true);
	both_block(c, "198.18.99.9", false, true);
	both_block(c, "2001:db8:88::/48", false, true);
	/* Policy twin of the manual shadowing case. */
	both_block(c, "198.18.200.0/21", false, false);
	both_block(c, "198.18.201.0/24", false, true);
	both_block(c, "2001:db8:200::/40", false, false);
	both_block(c, "2001:db8:201::/48", false, true);

	both_class(c, "198.18.50.0/24", CASTLE_PROTO_UDP, "53,5000-5100", XM_RL_ONCE, 3, 32, 64);
	both_class(c, "2001:db8:50::/48", CASTLE_PROTO_ANY, NULL, XM_RL_ONCE, 4, 32, 64);
	both_class(c, NULL, CASTLE_PROTO_TCP, "80,443,8443,9000-9100", XM_RL_UNLIMITED, 0, 32, 64);
	both_class(c, NULL, CASTLE_PROTO_ICMP, NULL, XM_RL_UNLIMITED, 0, 32, 64);
	both_class(c, "198.18.51.0/24", CASTLE_PROTO_ANY, "1-1024", XM_RL_ONCE, 0, 24, 64);
	both_class(c, NULL, CASTLE_PROTO_ANY, NULL, XM_RL_UNLIMITED, 0, 32, 64);

	c->m.dry_run = ph == PH_DRY_RUN;
	c->m.malformed_pass = ph == PH_MALFORMED_PASS;
	if (c->m.dry_run)
		c->f.pol.flags |= CASTLE_F_DRY_RUN;
	if (c->m.malformed_pass)
		c->f.pol.flags |= CASTLE_F_MALFORMED_PASS;
	/* The classes count in slots other than their index, as castle_apply
	 * may place them (the same in every phase: names keep their slots). */
	for (uint32_t i = 0; i < CASTLE_MAX_CLASSES; i++)
		c->f.gen.slots.slot_xor[i] = (uint8_t)(i ^ class_slot(i));
	c->f.gen.slots_set = true;
	fx_commit(&c->f);
}

static void read_stats(struct fx *f, struct castle_stats *out)
{
	uint32_t ifs[CASTLE_MAX_IFACES];
	int n = castle_stats_ifaces(&f->maps, f->maps.xdp_stats, ifs, CASTLE_MAX_IFACES);

	memset(out, 0, sizeof(*out));
	for (int i = 0; i < n; i++) {
		struct castle_stats st;
		assert_int_equal(castle_stats_read(&f->maps, f->maps.xdp_stats, ifs[i], &st), 0);
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			for (int r = 0; r < CASTLE_REASON_SLOTS; r++) {
				out->c[v][r].packets += st.c[v][r].packets;
				out->c[v][r].bytes += st.c[v][r].bytes;
			}
	}
}

static const char *const reason_names[] = { CASTLE_REASONS };

struct tally {
	struct castle_stats st;				/* expected counters */
	uint64_t cls[CASTLE_MAX_CLASSES][CASTLE_VERDICT_MAX];
	uint64_t packets, bytes;
};

/* last: the packet just run, dumped on a mismatch (exact in strict mode) */
static void compare_counters(struct ctx *c, const struct tally *want, uint64_t seed, uint64_t idx,
			     const struct fz_frame *last)
{
	struct castle_stats got;
	uint64_t total = 0, bytes = 0;

	read_stats(&c->f, &got);
	if (last && memcmp(&got, &want->st, sizeof(got))) {
		fprintf(stderr, "last frame (%zu bytes):\n", last->len);
		fz_hexdump(last->b, last->len);
	}
	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_SLOTS; r++) {
			total += got.c[v][r].packets;
			bytes += got.c[v][r].bytes;
			if (got.c[v][r].packets != want->st.c[v][r].packets ||
			    got.c[v][r].bytes != want->st.c[v][r].bytes)
				fail_msg("seed %llu, by packet %llu: counter %s/%s is %llu packets "
					 "%llu bytes, model says %llu/%llu (rerun with "
					 "CASTLE_FUZZ_STRICT=1 to find the packet)",
					 (unsigned long long)seed, (unsigned long long)idx,
					 v ? "drop" : "pass",
					 r < CASTLE_REASON_MAX ? reason_names[r] : "?",
					 (unsigned long long)got.c[v][r].packets,
					 (unsigned long long)got.c[v][r].bytes,
					 (unsigned long long)want->st.c[v][r].packets,
					 (unsigned long long)want->st.c[v][r].bytes);
		}
	/* The invariant in its plainest form: every packet counted once. */
	assert_int_equal(total, want->packets);
	assert_int_equal(bytes, want->bytes);
	for (uint32_t s = 0; s < c->m.nclasses; s++)
		for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
			if (fx_class_count(&c->f, class_slot(s), v) != want->cls[s][v]) {
				if (last) {
					fprintf(stderr, "last frame (%zu bytes):\n", last->len);
					fz_hexdump(last->b, last->len);
				}
				fail_msg("seed %llu: class %u %s count %llu, model %llu",
					 (unsigned long long)seed, s, v ? "drop" : "pass",
					 (unsigned long long)fx_class_count(&c->f, class_slot(s), v),
					 (unsigned long long)want->cls[s][v]);
			}
}

/* Independent of the model's pipeline: in enforce mode a frame that carries
 * an IP ethertype (within two tags) and a blocked, non-allowlisted source
 * address never passes, whatever else is wrong with it; nor does a frame with
 * a third VLAN tag. ND (documented to always pass) is the one exception. */
static bool must_drop(const struct xm *m, const struct fz_frame *fr, const struct xm_result *r)
{
	size_t off = 14;
	uint16_t type = (uint16_t)(fr->b[12] << 8 | fr->b[13]);
	int tags = 0;

	while (type == 0x8100 || type == 0x88a8) {
		if (tags == 2)
			return true;
		if (fr->len < off + 4)
			return true;
		type = (uint16_t)(fr->b[off + 2] << 8 | fr->b[off + 3]);
		off += 4;
		tags++;
	}
	if (r->reason == CASTLE_R_ND)
		return false;
	if (type == 0x0800 && fr->len >= off + 16)
		return xm_block_reason(m, 4, fr->b + off + 12) != CASTLE_R_OK &&
		       !xm_is_allowed(m, 4, fr->b + off + 12);
	if (type == 0x86dd && fr->len >= off + 24)
		return xm_block_reason(m, 6, fr->b + off + 8) != CASTLE_R_OK &&
		       !xm_is_allowed(m, 6, fr->b + off + 8);
	return false;
}

static int run_frame(struct fx *f, const struct fz_frame *fr)
{
	LIBBPF_OPTS(bpf_test_run_opts, o, .data_in = fr->b, .data_size_in = (uint32_t)fr->len);
	int err = bpf_prog_test_run_opts(f->prog_fd, &o);

	if (err)
		fail_msg("BPF_PROG_TEST_RUN of a %zu-byte frame: %s", fr->len, strerror(-err));
	return (int)o.retval;
}

static const char *const parse_names[] = { "ip", "non_ip", "bad_l3", "bad_l4" };

static void fuzz_packets_match_model(void **state)
{
	struct ctx *c = *state;
	uint64_t seed = fz_env_u64("CASTLE_FUZZ_SEED", (uint64_t)time(NULL) ^ ((uint64_t)getpid() << 32));
	uint64_t npk = fz_env_u64("CASTLE_FUZZ_PACKETS", 1000000);
	bool strict = fz_env_u64("CASTLE_FUZZ_STRICT", 0) != 0;
	/* share of the packets per phase, in per mille */
	static const unsigned share[PH_MAX] = { 600, 150, 150, 100 };
	struct tally t;
	uint64_t seen[CASTLE_VERDICT_MAX][CASTLE_REASON_SLOTS] = { { 0 } };
	uint64_t must_drops = 0, idx = 0;
	struct timespec t0, t1;
	struct fz_frame fr;

	printf("# seed %llu (CASTLE_FUZZ_SEED=%llu to reproduce), %llu packets\n",
	       (unsigned long long)seed, (unsigned long long)seed, (unsigned long long)npk);
	fflush(stdout);
	fz_rng_state = seed;
	memset(&t, 0, sizeof(t));
	fz_build_corpus();
	apply_manual(c);
	clock_gettime(CLOCK_MONOTONIC, &t0);

	for (int ph = 0; ph < PH_MAX; ph++) {
		uint64_t n = npk * share[ph] / 1000;
		if (ph == PH_MAX - 1)
			n = npk - idx;
		apply_policy(c, (enum phase)ph);
		for (uint64_t i = 0; i < n; i++, idx++) {
			struct xm_result r;
			unsigned pick = fz_below(100);

			if (pick < 5) {
				fz_random_frame(&fr);
			} else {
				fr = fz_corpus[fz_below((uint32_t)fz_ncorpus)];
				if (pick >= 15)
					fz_mutate(&fr);
			}
			int act = run_frame(&c->f, &fr);
			xm_judge(&c->m, fr.b, fr.len, &r);
			int want = r.verdict == CASTLE_DROP ? XDP_DROP : XDP_PASS;

			if (act != want) {
				fprintf(stderr, "frame (%zu bytes):\n", fr.len);
				fz_hexdump(fr.b, fr.len);
				fail_msg("seed %llu, packet %llu (%s): XDP returned %s, the model "
					 "says %s (parse %s, reason %s, class %d)",
					 (unsigned long long)seed, (unsigned long long)idx,
					 phase_names[ph], act == XDP_DROP ? "DROP" : "PASS",
					 want == XDP_DROP ? "DROP" : "PASS", parse_names[r.parse],
					 reason_names[r.reason], r.slot);
			}
			if ((ph == PH_ENFORCE || ph == PH_ENFORCE_AGAIN) && must_drop(&c->m, &fr, &r)) {
				must_drops++;
				if (act != XDP_DROP) {
					fz_hexdump(fr.b, fr.len);
					fail_msg("seed %llu, packet %llu: a blocked source (or a "
						 "third VLAN tag) passed", (unsigned long long)seed,
						 (unsigned long long)idx);
				}
			}
			t.st.c[r.verdict][r.reason].packets++;
			t.st.c[r.verdict][r.reason].bytes += fr.len;
			if (r.slot >= 0)
				t.cls[r.slot][r.class_drop ? CASTLE_DROP : CASTLE_PASS]++;
			t.packets++;
			t.bytes += fr.len;
			seen[r.verdict][r.reason]++;
			if (strict || (idx + 1) % WINDOW == 0)
				compare_counters(c, &t, seed, idx, &fr);
		}
	}
	compare_counters(c, &t, seed, idx, NULL);
	assert_int_equal(t.packets, npk);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	double secs = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	printf("# %llu packets in %.2fs (%.0f/s); %llu had to drop; %llu auto-bans; %llu rl keys\n",
	       (unsigned long long)npk, secs, (double)npk / secs, (unsigned long long)must_drops,
	       (unsigned long long)c->m.autobans, (unsigned long long)c->m.rl_keys);
	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			if (seen[v][r])
				printf("#   %-4s %-11s %llu\n", v ? "drop" : "pass", reason_names[r],
				       (unsigned long long)seen[v][r]);

	/* The run proves something only if every path was taken often. */
	if (npk >= 100000) {
		static const int drops[] = { CASTLE_R_BLOCKLIST, CASTLE_R_AUTOBAN, CASTLE_R_RATELIMIT,
					     CASTLE_R_MALFORMED };
		static const int passes[] = { CASTLE_R_OK, CASTLE_R_ALLOWLIST, CASTLE_R_NON_IP,
					      CASTLE_R_ND };
		for (size_t i = 0; i < 4; i++) {
			if (seen[CASTLE_DROP][drops[i]] < 100)
				fail_msg("only %llu drops for %s", (unsigned long long)seen[CASTLE_DROP][drops[i]],
					 reason_names[drops[i]]);
			if (seen[CASTLE_PASS][drops[i]] < 10)
				fail_msg("only %llu dry-run passes for %s",
					 (unsigned long long)seen[CASTLE_PASS][drops[i]], reason_names[drops[i]]);
			if (seen[CASTLE_PASS][passes[i]] < 100)
				fail_msg("only %llu passes for %s", (unsigned long long)seen[CASTLE_PASS][passes[i]],
					 reason_names[passes[i]]);
		}
		assert_true(must_drops > 1000);
	}
	/* No rate-limit state was evicted, or the model's ONCE classes would be
	 * wrong for reasons that are not bugs. */
	assert_true(c->m.rl_keys < RL_ENTRIES / 2);
}


static int setup(void **state)
{
	static struct ctx c;

	fx_open(&c.f, RL_ENTRIES);
	xm_init(&c.m);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	fx_close(&c->f);
	xm_free(&c->m);
	fz_free_corpus();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(fuzz_packets_match_model, setup, teardown),
	};

	return cmocka_run_group_tests_name("fuzz_xdp", tests, NULL, NULL);
}
