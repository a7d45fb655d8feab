// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * fuzz_policy.c - castle_policy_parse on arbitrary bytes (the policy file is
 * the daemon's main untrusted-ish input: a typo must be an error, never a
 * crash), then castle_policy_compile when it parses. Invariants: the return
 * value agrees with the error count; every kept diagnostic is a non-empty
 * "NAME:..." string; a parsed policy respects the data path's limits; nothing
 * leaks (libFuzzer's leak check).
 */
#include <stdint.h>

#include "policy.h"
#include "units.h"
#include "fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct castle_policy_conf conf;
	struct castle_policy_compiled comp;
	struct castle_errors errs;
	char err[512] = "";

	if (size > 64 * 1024)
		return 0;
	castle_errors_init(&errs);
	memset(&conf, 0, sizeof(conf));
	int rc = castle_policy_parse("fuzz.yaml", (const char *)data, size, &conf, &errs);

	FUZZ_CHECK((rc == 0) == (errs.nerrors == 0), "rc %d with %zu errors", rc, errs.nerrors);
	FUZZ_CHECK(errs.n <= errs.nerrors + errs.nwarnings && errs.n <= CASTLE_ERRORS_KEEP,
		   "%zu kept of %zu+%zu", errs.n, errs.nerrors, errs.nwarnings);
	for (size_t i = 0; i < errs.n; i++)
		FUZZ_CHECK(errs.v[i].msg && !strncmp(errs.v[i].msg, "fuzz.yaml", 9),
			   "diagnostic %zu: '%s'", i, errs.v[i].msg ? errs.v[i].msg : "(null)");
	if (rc == 0) {
		FUZZ_CHECK(conf.version == 1, "version %d", conf.version);
		FUZZ_CHECK(conf.nclasses <= CASTLE_MAX_CLASSES, "%u classes", conf.nclasses);
		FUZZ_CHECK(conf.tls.nports <= CASTLE_MAX_TLS_PORTS, "%u tls ports", conf.tls.nports);
		for (unsigned int i = 0; i < conf.nclasses; i++) {
			const struct castle_class_conf *k = &conf.classes[i];
			FUZZ_CHECK(k->rate_pps > 0 && k->burst >= 1 && k->nports <= CASTLE_MAX_PORT_RANGES,
				   "class %u: rate %g burst %llu", i, k->rate_pps,
				   (unsigned long long)k->burst);
			FUZZ_CHECK(k->plen4 <= 32 && k->plen6 <= 128, "class %u per %u/%u", i,
				   k->plen4, k->plen6);
			FUZZ_CHECK(memchr(k->name, '\0', sizeof(k->name)), "class %u name", i);
		}
		if (!castle_policy_compile(&conf, &comp, err, sizeof(err))) {
			FUZZ_CHECK(comp.pol.nclasses == conf.nclasses, "compiled %u of %u classes",
				   comp.pol.nclasses, conf.nclasses);
			for (unsigned int i = 0; i < comp.pol.nclasses; i++)
				FUZZ_CHECK(comp.pol.classes[i].pkt_cost_ns > 0 ||
						   conf.classes[i].rate_pps >= CASTLE_RATE_MAX,
					   "class %u costs nothing", i);
			castle_policy_compiled_free(&comp);
		} else {
			FUZZ_CHECK(fuzz_msg_ok(err, sizeof(err)), "compile failed without a message");
		}
		castle_policy_free(&conf);
	}
	castle_errors_free(&errs);
	return 0;
}
