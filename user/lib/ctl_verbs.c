// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * ctl_verbs.c - castlectl's verbs and their options as data: ctl_args.c
 * parses the command line and prints --help from these tables, so the two
 * cannot drift; docs/man/castlectl.8 follows them by hand.
 */
#include <stddef.h>
#include <stdint.h>

#include "ctl.h"

#define ARG(field) offsetof(struct ctl_args, field)
#define END { .help = NULL }

static const struct ctl_opt o_none[] = { END };

static const struct ctl_opt o_block_add[] = {
	{ NULL, 0, CTL_T_CIDR, "CIDR", ARG(cidr), NULL, 0, 0,
	  "source to block: an IPv4 or IPv6 address or prefix, host bits clear" },
	{ "ttl", 0, CTL_T_DURATION, "DUR", ARG(ttl_ns), NULL, 0, 0,
	  "remove the entry after DUR (e.g. 30s, 10m, 1h30m); the kernel enforces it" },
	{ "comment", 0, CTL_T_COMMENT, "TEXT", ARG(comment), NULL, 0, 0,
	  "a note shown by 'block list' (at most 63 bytes)" },
	END
};

static const struct ctl_opt o_cidr_del[] = {
	{ NULL, 0, CTL_T_CIDR_EXISTING, "CIDR", ARG(cidr), NULL, 0, 0,
	  "the entry to remove, written as it was added" },
	END
};

static const struct ctl_opt o_allow_add[] = {
	{ NULL, 0, CTL_T_CIDR, "CIDR", ARG(cidr), NULL, 0, 0,
	  "source to allow: an IPv4 or IPv6 address or prefix, host bits clear" },
	{ "comment", 0, CTL_T_COMMENT, "TEXT", ARG(comment), NULL, 0, 0,
	  "a note shown by 'allow list' (at most 63 bytes)" },
	END
};

static const struct ctl_opt o_top[] = {
	{ "count", 'n', CTL_T_UINT, "N", ARG(n), "10", 1, 10000, "show the N sources dropped most" },
	{ "interval", 0, CTL_T_DURATION, "DUR", ARG(interval_ns), "1s", 0, 0,
	  "how long to sample drop events (0 or 0s: do not sample)" },
	END
};

static const struct ctl_opt o_events[] = {
	{ "count", 'n', CTL_T_UINT, "N", ARG(count), NULL, 1, UINT32_MAX,
	  "stop after N events (exit 1 if --timeout ends first)" },
	{ "timeout", 't', CTL_T_DURATION, "DUR", ARG(timeout_ns), NULL, 0, 0,
	  "stop after DUR" },
	END
};

static const struct ctl_opt o_reload[] = {
	{ "timeout", 't', CTL_T_DURATION, "DUR", ARG(timeout_ns), "10s", 0, 0,
	  "how long to wait for castled's answer (0: as long as it takes)" },
	END
};

static const struct ctl_opt o_unload[] = {
	{ NULL, 0, CTL_T_IFACE, "IFACE", ARG(iface), NULL, 0, 0,
	  "the interface to detach castle from" },
	END
};

const struct ctl_verb ctl_verbs[] = {
	{ "status", "attached interfaces, modes, program ids, policy generation, daemon",
	  "Show what castle is attached to (interface, XDP mode and program id, TC mode and "
	  "program id), the live policy (generation, serial, mode), whether castled runs, and "
	  "its reload counters.",
	  o_none, true, ctl_status },
	{ "stats", "counters by interface, stage, verdict and reason",
	  "Show the packet and byte counters of the XDP and TC programs, by interface, stage "
	  "(xdp, tc), verdict (pass, drop) and reason. Only non-zero counters are listed. In "
	  "dry-run, packets that would have dropped count as pass with their drop reason.",
	  o_none, true, ctl_stats },
	{ "block add", "block a source (address or prefix) now",
	  "Add a manual blocklist entry. It takes effect on the next packet, survives policy "
	  "reloads and castled restarts, and works while castled is down. Adding an entry "
	  "that exists replaces its TTL (and its comment, if one is given).",
	  o_block_add, false, ctl_block_add },
	{ "block del", "remove a manual or auto-ban blocklist entry",
	  "Remove a manual (or auto-ban) blocklist entry. Entries from the policy file are "
	  "refused: edit the policy and reload.",
	  o_cidr_del, false, ctl_block_del },
	{ "block list", "every blocklist entry: origin, TTL left, hits, last hit, comment",
	  "List every blocklist entry of the live policy and of the manual/auto-ban maps, "
	  "with its origin (policy, manual, auto), time to live, packets dropped, last hit "
	  "and comment. Expired entries are not shown.",
	  o_none, true, ctl_block_list },
	{ "allow add", "allow a source: never blocked, limited or TLS-checked",
	  "Add a manual allowlist entry. allow beats every block and limit.",
	  o_allow_add, false, ctl_allow_add },
	{ "allow del", "remove a manual allowlist entry",
	  "Remove a manual allowlist entry. Entries from the policy file are refused.",
	  o_cidr_del, false, ctl_allow_del },
	{ "allow list", "every allowlist entry: origin, hits, comment",
	  "List every allowlist entry (policy and manual) with its origin, the packets it "
	  "let through and its comment.",
	  o_none, true, ctl_allow_list },
	{ "limit list", "rate-limit classes, settings, tracked sources, pass/drop counts",
	  "List the rate-limit classes of the live policy in match order: protocol, "
	  "destination ports, rate, burst, byte rate, aggregation prefixes, auto-ban, the "
	  "sources currently tracked and the packets passed and dropped.",
	  o_none, true, ctl_limit_list },
	{ "top", "sources dropped most, with reason and class",
	  "Rank the sources castle drops most. Two measures, shown separately: (1) block "
	  "entries (policy, manual, auto-ban) by the packets each dropped since it was "
	  "added; (2) sources seen in the sampled drop events during --interval (the ring "
	  "buffer carries at most the policy's events_per_sec events per second, so these "
	  "are samples, not totals), with their reason and class, and for rate-limited "
	  "sources the drops in a row their token bucket holds now. Sampling reads the "
	  "'events' ring buffer: see 'events' for the one-reader caveat.",
	  o_top, true, ctl_top },
	{ "events", "follow sampled drop events (Ctrl-C to stop)",
	  "Print one line per sampled drop event (time, interface, stage, reason, source, "
	  "protocol, destination port, class, length; dry-run events are marked) until "
	  "interrupted. A BPF ring buffer has a single consumer position: two readers "
	  "(two 'castlectl events', or 'events' and 'top') steal events from each other.",
	  o_events, true, ctl_events },
	{ "reload", "have castled re-read its policy and wait for the outcome",
	  "Send SIGHUP to castled (the pid it recorded in PIN/state) and wait until it "
	  "reports the reload succeeded or failed. Exit 1 if castled is not running, "
	  "refused the policy, or did not answer in time.",
	  o_reload, false, ctl_reload },
	{ "unload", "detach castle's XDP and TC programs from IFACE",
	  "Detach castle's XDP and TC programs from IFACE and forget it. When no interface "
	  "is left, the pins (maps, programs, links) are removed, whether castled runs or "
	  "not, which ends enforcement and clears manual entries held in the kernel; a "
	  "castled left with no interface exits on its own.",
	  o_unload, false, ctl_unload },
	{ NULL, NULL, NULL, NULL, false, NULL },
};
