// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_xdp_events.c - what the XDP gate reports: sampled drop events in the
 * `events` ring buffer (fields, dry-run mark, the per-second cap under a
 * flood) and the packet and byte counters by verdict and reason.
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
#include <arpa/inet.h>
#include <cmocka.h>
#include <bpf/libbpf.h>
#include <linux/bpf.h>
#include <bpf/bpf.h>

#include "fixture.h"

#define MAX_EV 4096

struct evs {
	int n;
	struct castle_event e[MAX_EV];
};

static int on_event(void *ctx, void *data, size_t size)
{
	struct evs *v = ctx;

	assert_int_equal(size, sizeof(struct castle_event));
	if (v->n < MAX_EV)
		memcpy(&v->e[v->n], data, sizeof(struct castle_event));
	v->n++;
	return 0;
}

struct ctx {
	struct fx f;
	struct ring_buffer *rb;
	struct evs evs;
};

static int setup(void **state)
{
	static struct ctx c;

	fx_open(&c.f, 0);
	c.evs.n = 0;
	c.rb = ring_buffer__new(c.f.maps.events, on_event, &c.evs, NULL);
	assert_non_null(c.rb);
	*state = &c;
	return 0;
}

static int teardown(void **state)
{
	struct ctx *c = *state;

	ring_buffer__free(c->rb);
	fx_close(&c->f);
	return 0;
}

static int drain(struct ctx *c)
{
	c->evs.n = 0;
	ring_buffer__consume(c->rb);
	return c->evs.n;
}

static void drop_events_carry_reason_family_address_class(void **state)
{
	struct ctx *c = *state;
	struct fx *f = &c->f;
	struct pkt_spec bl = { .family = 4, .src = "198.18.66.7", .proto = 17, .sport = 1, .dport = 53 },
			rl = { .family = 6, .src = "2001:db8::7", .proto = 6, .sport = 1, .dport = 443 },
			ok = { .family = 4, .src = "198.18.1.1", .proto = 17, .dport = 53 };
	uint8_t buf[PKT_MAX], a4[16] = { 0 }, a6[16];

	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_class(f, NULL, CASTLE_PROTO_UDP, NULL, 1e9, 1000000);
	int slot = fx_class(f, NULL, CASTLE_PROTO_TCP, "443", 1, 1);
	fx_commit(f);
	inet_pton(AF_INET, "198.18.66.7", a4);
	inet_pton(AF_INET6, "2001:db8::7", a6);

	size_t n = pkt_build(&bl, buf, sizeof(buf));
	assert_int_equal(fx_run(f, buf, n), XDP_DROP);
	assert_int_equal(drain(c), 1);
	struct castle_event *e = &c->evs.e[0];
	assert_int_equal(e->stage, CASTLE_STAGE_XDP);
	assert_int_equal(e->reason, CASTLE_R_BLOCKLIST);
	assert_int_equal(e->family, 4);
	assert_memory_equal(e->addr, a4, 16);
	assert_int_equal(e->proto, 17);
	assert_int_equal(e->dport, 53);
	assert_int_equal(e->class_slot, CASTLE_NO_CLASS);
	assert_int_equal(e->dry_run, 0);
	assert_int_equal(e->len, n);
	assert_true(e->ifindex > 0);
	assert_true(e->ts_ns > 0 && e->ts_ns <= castle_now_boot_ns());

	n = pkt_build(&rl, buf, sizeof(buf));
	assert_int_equal(fx_run_repeat(f, buf, n, 2), XDP_DROP); /* pass, then drop */
	assert_int_equal(drain(c), 1);
	e = &c->evs.e[0];
	assert_int_equal(e->reason, CASTLE_R_RATELIMIT);
	assert_int_equal(e->family, 6);
	assert_memory_equal(e->addr, a6, 16);
	assert_int_equal(e->proto, 6);
	assert_int_equal(e->dport, 443);
	assert_int_equal(e->class_slot, slot);
	assert_int_equal(e->len, n);

	/* passes are not events */
	assert_int_equal(fx_run_spec(f, &ok), XDP_PASS);
	assert_int_equal(drain(c), 0);
}

static void dry_run_events_are_marked(void **state)
{
	struct ctx *c = *state;
	struct fx *f = &c->f;
	struct pkt_spec bl = { .family = 4, .src = "198.18.66.7", .proto = 17, .dport = 53 };

	fx_begin(f);
	fx_flags(f, CASTLE_F_DRY_RUN);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);
	assert_int_equal(fx_run_spec(f, &bl), XDP_PASS);
	assert_int_equal(drain(c), 1);
	assert_int_equal(c->evs.e[0].reason, CASTLE_R_BLOCKLIST);
	assert_int_equal(c->evs.e[0].dry_run, 1);
	assert_int_equal(fx_count(f, CASTLE_PASS, CASTLE_R_BLOCKLIST), 1);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/* A flood of drops yields at most events_per_sec * (1 + T) events in T
 * seconds (a burst of one second's worth, then the rate). */
static void drop_flood_events_capped_per_second(void **state)
{
	struct ctx *c = *state;
	struct fx *f = &c->f;
	struct pkt_spec bl = { .family = 4, .src = "198.18.66.7", .proto = 17, .dport = 53 };
	const uint32_t per_sec = 50;
	uint8_t buf[PKT_MAX];
	size_t n = pkt_build(&bl, buf, sizeof(buf));
	uint64_t sent = 0;
	int events = 0;

	fx_begin(f);
	fx_events_per_sec(f, per_sec);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);
	double t0 = now_s();
	while (now_s() - t0 < 1.0) {
		fx_run_repeat(f, buf, n, 10000);
		sent += 10000;
		events += drain(c); /* keep the ring from filling */
	}
	double T = now_s() - t0;
	events += drain(c);
	printf("# %lu drops in %.3f s: %d events (cap %.0f)\n", (unsigned long)sent, T, events,
	       per_sec * (1 + T));
	assert_int_equal(fx_count(f, CASTLE_DROP, CASTLE_R_BLOCKLIST), sent);
	assert_true(sent > 10 * per_sec * (1 + T));
	assert_true(events <= per_sec * (1 + T) + 1);
	assert_true(events >= (int)per_sec); /* the burst at least */

	/* The rate travels as a cost per event, divided once by
	 * castle_gen_commit, and the program goes by that cost: a slot that
	 * says 10/s as a cost is held to 10/s whatever events_per_sec says. A
	 * slot without a cost (0, or more than a second: a writer other than
	 * castle_gen_commit) makes the program divide events_per_sec. */
	struct castle_state st;
	struct castle_policy *pol = calloc(1, sizeof(*pol));
	uint32_t zero = 0, live;
	const uint32_t cost_rates[] = { 10, 0 }; /* 0: no cost, per_sec applies */

	assert_non_null(pol);
	assert_int_equal(bpf_map_lookup_elem(f->maps.state, &zero, &st), 0);
	live = st.gen & 1;
	assert_int_equal(bpf_map_lookup_elem(f->maps.policy, &live, pol), 0);
	assert_int_equal(pol->event_cost_ns, 1000000000u / per_sec);
	for (int i = 0; i < 2; i++) {
		double rate = cost_rates[i] ? cost_rates[i] : per_sec;

		pol->event_cost_ns = cost_rates[i] ? 1000000000u / cost_rates[i] : 0;
		assert_int_equal(bpf_map_update_elem(f->maps.policy, &live, pol, BPF_ANY), 0);
		drain(c);
		sleep(1); /* let the burst fill up again */
		t0 = now_s();
		events = 0;
		while (now_s() - t0 < 0.5) {
			fx_run_repeat(f, buf, n, 10000);
			events += drain(c);
		}
		T = now_s() - t0;
		events += drain(c);
		assert_true(events <= rate * (1 + T) + 1);
		assert_true(events >= (int)rate);
	}
	free(pol);

	/* the default rate applies when the policy names none */
	fx_begin(f);
	fx_block(f, "198.18.66.0/24", 0);
	fx_commit(f);
	drain(c);
	/* The flood above left the sampler's TAT up to a second ahead, and the
	 * default rate's tolerance is one default cost (10 ms) shorter than that:
	 * without a pause the first event waits on how far the last flood's
	 * TAT happened to be (this failed now and then). 200 ms is well past
	 * the 10 ms plus a few ticks of the sampler's clock. */
	usleep(200000);
	fx_run_repeat(f, buf, n, 100000);
	events = drain(c);
	assert_true(events <= 2 * CASTLE_EVENTS_PER_SEC_DEFAULT + 1);
	assert_true(events >= 1);
}

/* Every packet is counted once, with its frame length, under its verdict
 * and reason. */
static void counters_add_up_packets_and_bytes(void **state)
{
	struct ctx *c = *state;
	struct fx *f = &c->f;
	static const uint8_t pad[1400];
	struct pkt_spec ok = { .family = 4, .src = "198.18.1.1", .proto = 17, .dport = 53,
			       .payload = pad, .paylen = 100 },
			bl = { .family = 6, .src = "2001:db8:bad::1", .proto = 6, .dport = 80,
			       .payload = pad, .paylen = 1400 },
			al = { .family = 4, .src = "198.18.10.1", .proto = 1, .icmp_type = 8 },
			arp = { .ethertype = 0x0806 },
			nd = { .family = 6, .src = "fe80::1", .proto = 58, .icmp_type = 135 },
			rl = { .family = 4, .src = "198.18.2.2", .proto = 6, .dport = 22,
			       .payload = pad, .paylen = 7 };
	uint8_t buf[PKT_MAX];
	struct {
		struct pkt_spec *s;
		int reps, verdict, reason;
	} sends[] = {
		{ &ok, 3, CASTLE_PASS, CASTLE_R_OK },
		{ &bl, 5, CASTLE_DROP, CASTLE_R_BLOCKLIST },
		{ &al, 2, CASTLE_PASS, CASTLE_R_ALLOWLIST },
		{ &arp, 4, CASTLE_PASS, CASTLE_R_NON_IP },
		{ &nd, 6, CASTLE_PASS, CASTLE_R_ND },
	};
	uint64_t total = 0, packets = 0;

	fx_begin(f);
	fx_block(f, "2001:db8:bad::/48", 0);
	fx_allow(f, "198.18.10.0/24");
	fx_class(f, NULL, CASTLE_PROTO_TCP, "22", 1, 2);
	fx_commit(f);
	for (size_t i = 0; i < sizeof(sends) / sizeof(sends[0]); i++) {
		size_t n = pkt_build(sends[i].s, buf, sizeof(buf));
		fx_run_repeat(f, buf, n, sends[i].reps);
		assert_int_equal(fx_count(f, sends[i].verdict, sends[i].reason), sends[i].reps);
		assert_int_equal(fx_bytes(f, sends[i].verdict, sends[i].reason), sends[i].reps * n);
		total += sends[i].reps * n;
		packets += sends[i].reps;
	}
	size_t n = pkt_build(&rl, buf, sizeof(buf));
	fx_run_repeat(f, buf, n, 7);
	assert_int_equal(fx_bytes(f, CASTLE_PASS, CASTLE_R_OK), 3 * pkt_build(&ok, buf, sizeof(buf)) + 2 * n);
	assert_int_equal(fx_bytes(f, CASTLE_DROP, CASTLE_R_RATELIMIT), 5 * n);
	assert_int_equal(fx_class_bytes_count(f, 0, CASTLE_PASS), 2 * n);
	assert_int_equal(fx_class_bytes_count(f, 0, CASTLE_DROP), 5 * n);
	total += 7 * n;
	packets += 7;

	uint64_t bytes = 0;
	for (int v = 0; v < CASTLE_VERDICT_MAX; v++)
		for (int r = 0; r < CASTLE_REASON_MAX; r++)
			bytes += fx_bytes(f, v, r);
	assert_int_equal(bytes, total);
	assert_int_equal(fx_total(f), packets);
}

/* A rate-limit drop names its class by the slot its name keeps across
 * reloads (class_slots), as the counters and buckets do: here the second
 * class is in slot 9. A slot map written for another policy serial (by an
 * older castled's commit) is ignored: class i in slot i. */
static void drop_event_names_the_class_slot(void **state)
{
	struct ctx *c = *state;
	struct fx *f = &c->f;
	struct pkt_spec rl = { .family = 4, .src = "198.18.5.7", .proto = 6, .sport = 1, .dport = 443 };
	struct castle_class_slots cs;
	uint32_t gen = 0, zero = 0;
	struct castle_state st;

	fx_begin(f);
	fx_class(f, NULL, CASTLE_PROTO_UDP, NULL, 1e9, 1000000);
	int k = fx_class(f, NULL, CASTLE_PROTO_TCP, "443", 1.0 / 3600, 1);
	f->gen.slots.slot_xor[0] = 0 ^ 3;
	f->gen.slots.slot_xor[3] = 3 ^ 0;
	f->gen.slots.slot_xor[1] = 1 ^ 9;
	f->gen.slots.slot_xor[9] = 9 ^ 1;
	f->gen.slots_set = true;
	fx_commit(f);
	assert_int_equal(k, 1);
	assert_int_equal(fx_run_spec_repeat(f, &rl, 2), XDP_DROP); /* pass, then drop */
	assert_int_equal(drain(c), 1);
	assert_int_equal(c->evs.e[0].class_slot, 9);

	/* the same generation's slots marked as another policy's */
	assert_int_equal(bpf_map_lookup_elem(f->maps.state, &zero, &st), 0);
	gen = st.gen & 1;
	assert_int_equal(bpf_map_lookup_elem(f->maps.class_slots, &gen, &cs), 0);
	cs.serial++;
	assert_int_equal(bpf_map_update_elem(f->maps.class_slots, &gen, &cs, BPF_ANY), 0);
	assert_int_equal(fx_run_spec(f, &rl), XDP_PASS); /* a fresh bucket, in slot 1 */
	assert_int_equal(fx_run_spec(f, &rl), XDP_DROP);
	assert_int_equal(drain(c), 1);
	assert_int_equal(c->evs.e[0].class_slot, 1);
	assert_int_equal(fx_class_count(f, 1, CASTLE_PASS), 1);
	assert_int_equal(fx_class_count(f, 9, CASTLE_PASS), 1);
}

int main(void)
{
#define T(fn) cmocka_unit_test_setup_teardown(fn, setup, teardown)
	const struct CMUnitTest tests[] = {
		T(drop_events_carry_reason_family_address_class),
		T(drop_event_names_the_class_slot),
		T(dry_run_events_are_marked),
		T(drop_flood_events_capped_per_second),
		T(counters_add_up_packets_and_bytes),
	};
#undef T
	return cmocka_run_group_tests_name("xdp_events", tests, NULL, NULL);
}
