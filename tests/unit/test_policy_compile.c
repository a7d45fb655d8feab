// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * test_policy_compile.c - user/lib/policy_compile.c: policies of
 * tests/unit/policies/ turned into struct castle_policy (GCRA parameters,
 * flags, tls), the class-source LPM entries and the SNI keys.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "policy.h"

#define S 1000000000ull

static const char *pol_path(const char *name)
{
	static char buf[512];
	const char *slash = strrchr(__FILE__, '/');
	int dirlen = slash ? (int)(slash - __FILE__) : 1;

	snprintf(buf, sizeof(buf), "%.*s/policies/%s", dirlen, slash ? __FILE__ : ".", name);
	return buf;
}

static void load_ok(const char *name, struct castle_policy_conf *c)
{
	struct castle_errors e;

	castle_errors_init(&e);
	if (castle_policy_load(pol_path(name), c, &e)) {
		for (size_t i = 0; i < e.n; i++)
			print_message("#   %s\n", e.v[i].msg);
		fail_msg("%s should load", name);
	}
	castle_errors_free(&e);
}

static void compile_minimal_policy_is_empty(void **state)
{
	struct castle_policy_conf c;
	struct castle_policy_compiled pc;
	char err[256];

	(void)state;
	load_ok("minimal.yaml", &c);
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_int_equal(pc.pol.flags, 0);
	assert_int_equal(pc.pol.nclasses, 0);
	assert_int_equal(pc.pol.any_src_classes, 0);
	assert_int_equal(pc.ncsrc, 0);
	assert_int_equal(pc.nsni, 0);
	castle_policy_compiled_free(&pc);
	castle_policy_free(&c);
}

static void compile_contract_example(void **state)
{
	struct castle_policy_conf c;
	struct castle_policy_compiled pc;
	const struct castle_class *k;
	char err[256];

	(void)state;
	load_ok("full.yaml", &c);
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_int_equal(pc.pol.flags, CASTLE_F_TLS | CASTLE_F_TLS_QUIC_ALLOW | CASTLE_F_TLS_SNI);
	assert_int_equal(pc.pol.nclasses, 1);
	/* src 0.0.0.0/0 and ::/0 is every source: no LPM entries needed */
	assert_int_equal(pc.pol.any_src_classes, 1);
	assert_int_equal(pc.ncsrc, 0);
	assert_string_equal(pc.pol.class_names[0], "api");
	k = &pc.pol.classes[0];
	assert_int_equal(k->pkt_cost_ns, 5000000);
	assert_int_equal(k->pkt_tol_ns, 399ull * 5000000);
	/* 10 MiB/s: 95.367431640625 ns per byte, exactly 6250000 in 48.16 */
	assert_int_equal(k->byte_cost_fp, 6250000);
	assert_int_equal(k->byte_burst_ns, 1000000000);	/* 1 s of rate */
	assert_int_equal(k->ban_after, 1000);
	assert_int_equal(k->ban_for_ns, 600 * S);
	assert_int_equal(k->proto, CASTLE_PROTO_TCP);
	assert_int_equal(k->nranges, 3);
	assert_int_equal(k->ports[0].lo, 443);
	assert_int_equal(k->ports[0].hi, 443);
	assert_int_equal(k->ports[2].lo, 9000);
	assert_int_equal(k->ports[2].hi, 9100);
	assert_int_equal(k->plen4, 32);
	assert_int_equal(k->plen6, 64);
	assert_int_equal(pc.pol.tls.nports, 2);
	assert_int_equal(pc.pol.tls.ports[0], 443);
	assert_int_equal(pc.pol.tls.ports[1], 8443);
	assert_int_equal(pc.pol.tls.min_version, 0x0303);
	assert_int_equal(pc.nsni, 2);
	assert_string_equal(pc.sni[0].name, "example.com");
	assert_string_equal(pc.sni[1].name, "*.example.com");
	castle_policy_compiled_free(&pc);
	castle_policy_free(&c);
}

static void expect_csrc(const struct castle_policy_compiled *pc, const char *cidr, uint32_t bits)
{
	char buf[CASTLE_CIDR_STRLEN];

	for (size_t i = 0; i < pc->ncsrc; i++) {
		if (!strcmp(castle_cidr_str(&pc->csrc[i].cidr, buf, sizeof(buf)), cidr)) {
			if (pc->csrc[i].classes != bits)
				fail_msg("%s: classes %#x, expected %#x", cidr, pc->csrc[i].classes,
					 bits);
			return;
		}
	}
	fail_msg("%s not in the class-source entries", cidr);
}

static void compile_classes_nest_sources_and_defaults(void **state)
{
	struct castle_policy_conf c;
	struct castle_policy_compiled pc;
	const struct castle_class *k;
	char err[256];

	(void)state;
	load_ok("classes.yaml", &c);
	assert_true(c.dry_run);
	assert_true(c.malformed_pass);
	assert_int_equal(c.events_per_sec, 50);
	assert_int_equal(c.nclasses, 6);
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_int_equal(pc.pol.flags,
			 CASTLE_F_DRY_RUN | CASTLE_F_MALFORMED_PASS | CASTLE_F_TLS | CASTLE_F_TLS_SNI);
	assert_int_equal(pc.pol.events_per_sec, 50);
	/* rest (no src) and both_any (0.0.0.0/0 + ::/0) match every source */
	assert_int_equal(pc.pol.any_src_classes, (1u << 3) | (1u << 4));

	/* one LPM lookup answers for all classes: enclosing prefixes' bits ORed */
	assert_int_equal(pc.ncsrc, 5);
	expect_csrc(&pc, "0.0.0.0/0", 1u << 0);
	expect_csrc(&pc, "10.0.0.0/8", (1u << 0) | (1u << 1));
	expect_csrc(&pc, "10.1.0.0/16", (1u << 0) | (1u << 1) | (1u << 2));
	expect_csrc(&pc, "10.1.2.3", (1u << 0) | (1u << 1) | (1u << 2) | (1u << 5));
	expect_csrc(&pc, "2001:db8::/32", 1u << 1);

	assert_string_equal(pc.pol.class_names[0], "world");
	assert_string_equal(pc.pol.class_names[5], "lab_host");
	assert_string_equal(pc.pol.class_names[6], "");
	k = &pc.pol.classes[0];	/* world: 10/m, default burst 1 */
	assert_int_equal(k->pkt_cost_ns, 6 * S);
	assert_int_equal(k->pkt_tol_ns, 0);
	assert_int_equal(k->proto, CASTLE_PROTO_UDP);
	assert_int_equal(k->byte_cost_fp, 0);
	assert_int_equal(k->ban_for_ns, 0);

	k = &pc.pol.classes[1];	/* lan_10: 0.5/s burst 3, 1000 B/s, 64 KiB */
	assert_int_equal(k->pkt_cost_ns, 2 * S);
	assert_int_equal(k->pkt_tol_ns, 4 * S);
	assert_int_equal(k->byte_cost_fp, 1000000ull << CASTLE_BYTE_FP_SHIFT);
	assert_int_equal(k->byte_burst_ns, 65536ull * 1000000);
	assert_int_equal(k->plen4, 24);
	assert_int_equal(k->plen6, 48);
	assert_int_equal(k->nranges, 1);
	assert_int_equal(k->ports[0].lo, 53);
	assert_int_equal(k->ports[0].hi, 53);
	assert_int_equal(k->proto, CASTLE_PROTO_ANY);

	k = &pc.pol.classes[2];	/* lab: 5/h */
	assert_int_equal(k->pkt_cost_ns, 720 * S);
	assert_int_equal(k->proto, CASTLE_PROTO_ICMP);

	k = &pc.pol.classes[3];	/* rest: 1e9/s, default burst = 1 s of rate */
	assert_int_equal(k->pkt_cost_ns, 1);
	assert_int_equal(k->pkt_tol_ns, 999999999);
	assert_int_equal(k->ban_after, 3);
	assert_int_equal(k->ban_for_ns, 5400 * S);

	/* tls: unquoted 1.3 (a YAML float) read as written; SNI lower-cased,
	 * trailing dot dropped; quic: drop */
	assert_int_equal(pc.pol.tls.min_version, 0x0304);
	assert_int_equal(pc.pol.tls.nports, 1);
	assert_int_equal(pc.pol.tls.ports[0], 443);
	assert_int_equal(pc.nsni, 3);
	assert_string_equal(pc.sni[0].name, "example.com");
	assert_string_equal(pc.sni[1].name, "*.example.org");
	assert_string_equal(pc.sni[2].name, "xn--bcher-kva.example");
	castle_policy_compiled_free(&pc);
	castle_policy_free(&c);
}

static void compile_rounds_costs_and_refuses_overflow(void **state)
{
	struct castle_policy_conf c;
	struct castle_policy_compiled pc;
	char err[256];

	(void)state;
	memset(&c, 0, sizeof(c));
	c.nclasses = 1;
	c.classes[0].rate_pps = 3;	/* 333333333.3 ns: rounds up (never over the rate) */
	c.classes[0].burst = 1;
	c.classes[0].plen4 = 32;
	c.classes[0].plen6 = 64;
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_int_equal(pc.pol.classes[0].pkt_cost_ns, 333333334);
	castle_policy_compiled_free(&pc);
	/* 33.3 ns: 34, not 33 (30.3M/s); a whole quotient stays whole */
	static const struct { double rate; uint64_t cost; } q[] = {
		{ 30000000, 34 }, { 1000, 1000000 }, { 1000000, 1000 }, { 7, 142857143 },
		{ 1.0 / 3600, 3600000000000ull }, { 700000000, 2 }, { 2e9, 1 },
	};
	for (size_t i = 0; i < sizeof(q) / sizeof(*q); i++) {
		c.classes[0].rate_pps = q[i].rate;
		assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
		if (pc.pol.classes[0].pkt_cost_ns != q[i].cost)
			fail_msg("rate %g: cost %llu ns, want %llu", q[i].rate,
				 (unsigned long long)pc.pol.classes[0].pkt_cost_ns,
				 (unsigned long long)q[i].cost);
		castle_policy_compiled_free(&pc);
	}
	c.classes[0].rate_pps = 3;

	c.classes[0].rate_pps = 0;	/* never produced by the parser */
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), -1);
	c.classes[0].rate_pps = 1e-9;
	c.classes[0].burst = 1000000000;
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "out of range"));
}

/* A ban.for past 2^62 ns (213503d parses) is held there: the data path's
 * created + for then cannot wrap around to a ban that expired already. */
static void compile_saturates_a_huge_ban(void **state)
{
	static const char buf[] = "version: 1\nlimits:\n  - name: a\n    rate: 10/s\n"
				  "    ban: {after: 100, for: 213503d}\n";
	static const char ok[] = "version: 1\nlimits:\n  - name: a\n    rate: 10/s\n"
				 "    ban: {after: 100, for: 36500d}\n";
	struct castle_policy_conf c;
	struct castle_policy_compiled pc;
	struct castle_errors e;
	char err[256];

	(void)state;
	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", buf, sizeof(buf) - 1, &c, &e), 0);
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_true(pc.pol.classes[0].ban_for_ns == CASTLE_BAN_FOR_MAX_NS);
	castle_policy_compiled_free(&pc);
	castle_policy_free(&c);
	castle_errors_free(&e);

	castle_errors_init(&e);
	assert_int_equal(castle_policy_parse("mem", ok, sizeof(ok) - 1, &c, &e), 0);
	assert_int_equal(castle_policy_compile(&c, &pc, err, sizeof(err)), 0);
	assert_true(pc.pol.classes[0].ban_for_ns == 36500ull * 86400 * S);
	castle_policy_compiled_free(&pc);
	castle_policy_free(&c);
	castle_errors_free(&e);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(compile_minimal_policy_is_empty),
		cmocka_unit_test(compile_contract_example),
		cmocka_unit_test(compile_classes_nest_sources_and_defaults),
		cmocka_unit_test(compile_rounds_costs_and_refuses_overflow),
		cmocka_unit_test(compile_saturates_a_huge_ban),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
