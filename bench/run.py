#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""run.py - castle's benchmark driver.

Builds two network namespaces joined by a veth pair (gen -> dut), runs every
scenario as A/B pairs interleaved (A B, B A, ...: an even number of pairs),
reads what the device under
test received from its own counters, and prints medians and the median of
the per-pair ratios A/B; the same numbers go to a JSON file.

  gen netns                                    dut netns
  castle-gen (test-run, LIVE_FRAMES) -> veth-gen ==== veth-dut -> program under test
  (XDP_PASS prog on veth-gen)                                     (+ nft / tcx / ...)

Everything it creates carries its pid (namespaces castle-bench-{gen,dut}-PID,
pins under /sys/fs/bpf/castle-bench-PID) and is removed on exit, on error and
on SIGINT/SIGTERM; leftovers of a killed run are removed by the next one.

Numbers are reported, never asserted: noise cannot fail a run. A scenario
that cannot run (a tool missing, castle's daemon not built yet) is reported
as skipped or pending; a harness error makes the exit status 1.

Adding a scenario: write a Variant in variants.py (or reuse XdpProg, NftSet,
...), then add a Scenario row to scenarios() below. The plumbing (commands,
namespaces) is in benchlib.py. See docs/BENCHMARKS.md.
"""

import argparse
import datetime
import json
import os
import re
import signal
import statistics
import sys
import time

sys.dont_write_bytecode = True      # keep bench/ free of __pycache__
from benchlib import SRC6, BenchError, Env, log, settle              # noqa: E402
from benchlib import run as run_cmd                                    # noqa: E402
from hostinfo import cpu_model, git_commit, git_dirty, machine         # noqa: E402
from variants import (AttachedCost, CastleDaemon, Cost, Hashlimit, IpsetSet,  # noqa: E402
                      NftMeter, NftSet, XdpFilter, XdpProg, nft_cidrs, udp4_frame)


# ---- scenarios -------------------------------------------------------------

class Scenario:
    def __init__(self, name, title, a, b, traffic, quick=False, goal=None):
        self.name, self.title = name, title
        self.a, self.b = a, b
        self.traffic = traffic
        self.quick = quick
        self.goal = goal            # (op, x): A/B op x is the goal


class Probe:
    """A measurement that is not one A/B pair: fn(env, args, runs) returns
    a list of result rows (A/B rows of a test-run suite, or one row with
    "values")."""
    def __init__(self, name, title, fn, quick=False):
        self.name, self.title, self.fn, self.quick = name, title, fn, quick


def v4(sources=1000, **kw):
    return dict(family=4, sources=sources, **kw)


def v6(sources=1000, **kw):
    return dict(family=6, sources=sources, **kw)


def blocklist_policy(cidrs):
    """castle policy text blocking every CIDR that cidrs() returns."""
    def text():
        return "version: 1\nmode: enforce\nblock:\n" + "".join(f"  - {c}\n" for c in cidrs())
    return text


def v6_hosts(n):
    """n /128s from 2001:db8:5:: up: a blocklist the IPv6 pool hits entirely."""
    return [f"2001:db8:5::{i >> 16 & 0xffff:x}:{i & 0xffff:x}/128" for i in range(n)]


def v6_nets(n):
    """n /96s in 2001:db8:6::/64: CIDRs loaded beside the exact entries
    (the traffic, from 2001:db8:5::/64, hits none of them)."""
    return [f"2001:db8:6:0:{i >> 16:x}:{i & 0xffff:x}::/96" for i in range(n)]


def v4_hosts(n):
    """n IPv4 /32s from 198.18.0.0 up (xdp-filter's denied addresses too)."""
    base = 198 << 24 | 18 << 16
    return [f"{a >> 24}.{a >> 16 & 255}.{a >> 8 & 255}.{a & 255}/32"
            for a in range(base, base + n)]


def ratelimit_policy(rate, burst, per="s"):
    def text():
        return ("version: 1\nmode: enforce\nlimits:\n  - name: bench\n"
                f"    match: {{ proto: udp }}\n    rate: {rate}/{per}\n    burst: {burst}\n"
                # One bucket per address: the IPv6 default (/64) would fold
                # the whole 2001:db8:5::/64 pool into a single source.
                "    per: { ipv4: 32, ipv6: 128 }\n")
    return text


# The rate-limit scenarios: 1 packet per minute per source, burst 1. With
# 1M sources at ~1 Mpps each source sends about once a second, so after the
# warm-up (which admits every source's first packet and fills rl_state) almost
# every packet is over its limit: the drop path of the rate limiter.
RL_RATE, RL_BURST = 1, 1
RL_WARMUP = 2.0             # s of traffic before counting (1M sources)


def ban_policy():
    """The rate-limit scenarios' policy, banning a source for an hour on its
    first drop: a flood through it leaves one auto-ban per source."""
    rl = ratelimit_policy(RL_RATE, RL_BURST, "m")
    return lambda: rl() + "    ban: { after: 1, for: 1h }\n"


def scenarios():
    """The scenario table. quick=True rows run in `make bench-quick`."""
    drop, pas = (lambda: XdpProg("xdp-drop", "xdp-drop")), (lambda: XdpProg("xdp-pass", "xdp-pass"))
    rl = ratelimit_policy(RL_RATE, RL_BURST, "m")
    blk_1m = blocklist_policy(lambda: v6_hosts(1 << 20) + v6_nets(100_000))
    rows = [
        Scenario("sanity-drop", "trivial XDP_DROP vs itself (ratio ~1)",
                 drop(), drop(), v4(1000), quick=True),
        Scenario("castle-pass-v4", "castle XDP, no policy (pass path) vs XDP_PASS",
                 XdpProg("castle", "castle"), pas(), v4(1000), quick=True),
        Scenario("cost-v4", "castle_xdp (no policy) vs XDP_DROP, test-run ns/pkt, UDPv4",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"),
                 v4(1), quick=True),
        Scenario("castle-pass-v6", "castle XDP, no policy vs XDP_PASS, IPv6",
                 XdpProg("castle", "castle"), pas(), v6(1000)),
        Scenario("cost-v6", "castle_xdp (no policy) vs XDP_DROP, test-run ns/pkt, UDPv6",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"), v6(1)),
        Scenario("tcx-ok", "XDP_PASS + tcx TC_ACT_OK vs XDP_PASS alone",
                 XdpProg("pass+tc-ok", "xdp-pass", extra="tc-ok"), pas(), v4(1000)),
        Scenario("nft-set-drop", "nft netdev ingress, 1000-CIDR set -> drop vs XDP_DROP",
                 NftSet("nft-set", 1000), drop(), v4(4096)),
        Scenario("nft-meter", "nft per-source limit (dynamic set), 1M sources vs XDP_DROP",
                 NftMeter("nft-meter", RL_RATE, RL_BURST, "minute"), drop(),
                 v6(1 << 20, warmup=RL_WARMUP)),
        # The iptables rivals, in raw PREROUTING (after the stack built the
        # skb and checked the IP header): an ipset of the nft set's CIDRs,
        # hashlimit per source with the nft meter's limit.
        Scenario("ipset-drop", "iptables raw + ipset hash:net, 1000 CIDRs -> drop vs XDP_DROP",
                 IpsetSet("ipset", 1000), drop(), v4(4096), quick=True),
        Scenario("hashlimit", "iptables hashlimit per source, 1M sources vs XDP_DROP",
                 Hashlimit("hashlimit", RL_RATE, RL_BURST, "minute"), drop(),
                 v6(1 << 20, warmup=RL_WARMUP)),
        # quick: keeps the hashlimit variant working in CI
        Scenario("hashlimit-1k", "iptables hashlimit per source, 1000 sources vs XDP_DROP",
                 Hashlimit("hashlimit", RL_RATE, RL_BURST, "minute", size=1024), drop(),
                 v6(1000, warmup=0.5), quick=True),
        Scenario("xdp-filter-drop", "xdp-filter, 1000 denied sources vs XDP_DROP",
                 XdpFilter("xdp-filter", 1000), drop(), v4(1000)),
        # castle with a policy, through castled.
        Scenario("castle-blocklist-1m", "castle, 1M /128 + 100k /96 blocklist (all hit) "
                 "vs XDP_DROP", CastleDaemon("castle-block", blk_1m), drop(), v6(1 << 20),
                 goal=(">=", 0.9)),
        # The floor under goal 1: one hash lookup of the source over the
        # same 1M addresses, nothing else. Where it is far below XDP_DROP,
        # the table's memory, not castle, sets the rate.
        Scenario("hash-drop-1k", "bare hash lookup, 1k /128 (all hit) vs XDP_DROP",
                 hash_drop(1000), drop(), v6(1000), quick=True),
        Scenario("hash-drop-1m", "bare hash lookup, 1M /128 (all hit) vs XDP_DROP",
                 hash_drop(1 << 20), drop(), v6(1 << 20)),
        Scenario("castle-vs-hash-1m", "castle's 1M+100k blocklist vs the bare 1M hash lookup",
                 CastleDaemon("castle-block", blk_1m), hash_drop(1 << 20), v6(1 << 20)),
        # The floor under goal 2: one LRU lookup per packet over the same
        # 1M sources (no clock, no bucket).
        Scenario("lru-drop-1m", "bare LRU lookup, 1M sources seen before vs XDP_DROP",
                 XdpProg("lru-1m", "xdp-lru-drop", big_state=True), drop(), v6(1 << 20, warmup=RL_WARMUP)),
        Scenario("castle-vs-lru-1m", "castle's rate limit vs the bare LRU lookup, 1M sources",
                 CastleDaemon("castle-limit", rl), XdpProg("lru-1m", "xdp-lru-drop", big_state=True),
                 v6(1 << 20, warmup=RL_WARMUP)),
        # A table of sets of adjacent cache lines, not a kernel hash map:
        # what such a design could reach, beside the LRU floor.
        Scenario("slot-vs-lru-1m", "bare set-associative table (4 x 64 B per set) vs the "
                 "bare LRU lookup, 1M sources", XdpProg("slot-1m", "xdp-slot-drop", big_state=True),
                 XdpProg("lru-1m", "xdp-lru-drop", big_state=True),
                 v6(1 << 20, warmup=RL_WARMUP)),
        Scenario("castle-ratelimit-1m", "castle, 1M sources over a 1/min limit vs XDP_DROP",
                 CastleDaemon("castle-limit", rl), drop(),
                 v6(1 << 20, warmup=RL_WARMUP), goal=(">=", 0.7)),
        Scenario("castle-pass-policy", "castle pass path, policy loaded (1M blocklist, a "
                 "limit no packet matches) vs XDP_PASS",
                 CastleDaemon("castle-pass", pass_policy(blk_1m)), pas(),
                 v4(1000)),
        Scenario("castle-vs-nft-set", "castle vs nft, the same 1000-CIDR blocklist",
                 CastleDaemon("castle-block", blocklist_policy(lambda: nft_cidrs(1000))),
                 NftSet("nft-set", 1000), v4(4096), goal=(">=", 3.0)),
        Scenario("castle-vs-nft-meter", "castle vs nft meter, 1M sources over a 1/min limit",
                 CastleDaemon("castle-limit", rl),
                 NftMeter("nft-meter", RL_RATE, RL_BURST, "minute"),
                 v6(1 << 20, warmup=RL_WARMUP), goal=(">=", 3.0)),
        Scenario("castle-vs-ipset", "castle vs iptables + ipset, the same 1000-CIDR blocklist",
                 CastleDaemon("castle-block", blocklist_policy(lambda: nft_cidrs(1000))),
                 IpsetSet("ipset", 1000), v4(4096)),
        Scenario("castle-vs-hashlimit", "castle vs iptables hashlimit, 1M sources over a "
                 "1/min limit", CastleDaemon("castle-limit", rl),
                 Hashlimit("hashlimit", RL_RATE, RL_BURST, "minute"),
                 v6(1 << 20, warmup=RL_WARMUP)),
        Scenario("castle-vs-xdp-filter", "castle vs xdp-filter, 1000 exact IPv4 denies, "
                 "test-run ns/pkt of the attached program (lower is better)",
                 xdp_filter_castle("castle", "castle-block"),
                 AttachedCost("xdp-filter", XdpFilter("xdp-filter", 1000),
                              udp4_frame("198.18.0.5")),
                 v4(1), goal=("<=", 1.0), quick=True),   # quick: keeps castled in the harness
    ]
    # Sweeps for the plots: throughput vs sources (rate limit) and vs
    # blocklist size; their 1M points are the -1m rows above.
    for n, tag in ((1, "1"), (1000, "1k"), (100_000, "100k")):
        rows.append(Scenario(f"sweep-sources-{tag}", f"castle rate limit, {n} source(s) "
                             "over a 1/min limit vs XDP_DROP",
                             CastleDaemon("castle-limit", rl), drop(),
                             v6(n, warmup=min(RL_WARMUP, 0.5 + n / 1e6))))
    for n, tag in ((1000, "1k"), (100_000, "100k")):
        rows.append(Scenario(f"sweep-blocklist-{tag}", f"castle, {n} /128 blocklist "
                             "(all hit) vs XDP_DROP",
                             CastleDaemon("castle-block",
                                          blocklist_policy(lambda n=n: v6_hosts(n))),
                             drop(), v6(n)))
    # iptables-legacy (x_tables), the same jobs as the iptables rows above.
    # Last: a legacy table stays hooked into the dut namespace until it
    # goes, and would tax every later scenario whose packets reach the stack.
    rows += [
        Scenario("ipset-drop-legacy", "iptables-legacy raw + ipset hash:net, 1000 CIDRs -> "
                 "drop vs XDP_DROP", IpsetSet("ipset-legacy", 1000, legacy=True), drop(), v4(4096)),
        Scenario("hashlimit-legacy", "iptables-legacy hashlimit per source, 1M sources vs XDP_DROP",
                 Hashlimit("hashlimit-legacy", RL_RATE, RL_BURST, "minute", legacy=True), drop(),
                 v6(1 << 20, warmup=RL_WARMUP)),
        Scenario("castle-vs-ipset-legacy", "castle vs iptables-legacy + ipset, the same 1000-CIDR "
                 "blocklist", CastleDaemon("castle-block", blocklist_policy(lambda: nft_cidrs(1000))),
                 IpsetSet("ipset-legacy", 1000, legacy=True), v4(4096)),
        Scenario("castle-vs-hashlimit-legacy", "castle vs iptables-legacy hashlimit, 1M sources "
                 "over a 1/min limit", CastleDaemon("castle-limit", rl),
                 Hashlimit("hashlimit-legacy", RL_RATE, RL_BURST, "minute", legacy=True),
                 v6(1 << 20, warmup=RL_WARMUP)),
    ]
    return rows


MAN20 = ("198.18.0.0/20",)     # the 4096 sources of v4(4096), from SRC4


def xdp_filter_castle(label, daemon, obj=None):
    """castle-vs-xdp-filter's castle side: castled (of `obj`'s build, else
    this one) with the 1000 exact IPv4 denies, test-run of its attached
    program on one blocked frame."""
    return AttachedCost(label, CastleDaemon(daemon, blocklist_policy(lambda: v4_hosts(1000)),
                                            obj), udp4_frame("198.18.0.5"))


def ab_scenarios(args):
    """castled of two builds side by side (--castle-b-obj): a change priced
    live, where test-run's hot caches hide what a million sources cost."""
    if not args.castle_b_obj:
        return []
    b = os.path.abspath(args.castle_b_obj)
    rl = ratelimit_policy(RL_RATE, RL_BURST, "m")
    blk = blocklist_policy(lambda: v6_hosts(1 << 20))
    cidrs = blocklist_policy(lambda: nft_cidrs(1000))
    empty = blocklist_policy(lambda: [])
    banned = ban_policy()
    return [
        Scenario("ab-limit-1m", "castle A vs castle B: rate limit, 1M sources over a 1/min limit",
                 CastleDaemon("A-limit", rl), CastleDaemon("B-limit", rl, b),
                 v6(1 << 20, warmup=RL_WARMUP)),
        Scenario("ab-block-1m", "castle A vs castle B: 1M /128 blocklist, all hit",
                 CastleDaemon("A-block", blk), CastleDaemon("B-block", blk, b), v6(1 << 20)),
        # castle-vs-nft-set's castle side: a small blocklist in cache, where
        # a few ns of castle's own per-packet work show.
        Scenario("ab-block-cidr", "castle A vs castle B: the 1000-CIDR blocklist of "
                 "castle-vs-nft-set, all hit", CastleDaemon("A-block", cidrs),
                 CastleDaemon("B-block", cidrs, b), v4(4096)),
        # An operator's block during a flood: one manual CIDR (castlectl,
        # outside the policy) that every source of the pool, from both
        # CPUs, hits.
        Scenario("ab-manual-cidr", "castle A vs castle B: one manual /20 (castlectl block "
                 "add) that all 4096 sources hit", CastleDaemon("A-manual", empty, manual=MAN20),
                 CastleDaemon("B-manual", empty, b, manual=MAN20), v4(4096)),
        # A flood from sources the rate limiter has auto-banned (the warm-up
        # bans all 4096): every packet is a hit on an entry with a TTL.
        Scenario("ab-banned", "castle A vs castle B: 4096 auto-banned sources (a limit that "
                 "bans on the first drop, for 1h) flooding", CastleDaemon("A-banned", banned),
                 CastleDaemon("B-banned", banned, b), v4(4096, warmup=1.0)),
        # castle-vs-xdp-filter's castle side, the two builds priced the way
        # goal 5 is (test-run of castled's attached program): castle-cost's
        # rows can miss what a change's code layout does there (fourteenth
        # round of docs/BENCHMARKS.md).
        Scenario("ab-xdp-filter-cost", "castle A vs castle B: castle-vs-xdp-filter's castle "
                 "side, test-run ns/pkt of the attached program (lower is better)",
                 xdp_filter_castle("A-block", "A-block"),
                 xdp_filter_castle("B-block", "B-block", b), v4(1)),
    ]


def hash_drop(n):
    """xdp-hash-drop with the first n sources of the IPv6 pool in its hash."""
    return XdpProg("hash-1m" if n == 1 << 20 else f"hash-{n}", "xdp-hash-drop",
                   args=["--fill", SRC6, "--fill-count", str(n)], big_state=n >= 100_000)


def pass_policy(blocklist):
    """The blocklist's policy plus a udp/9 limit the bench traffic (udp/443)
    never matches: the pass path walks every stage with everything loaded."""
    def text():
        return blocklist() + ("limits:\n  - name: other\n    match: { proto: udp, dst_ports: [9] }\n"
                              "    rate: 10/s\n    burst: 10\n")
    return text


def probes(args):
    """Measurements that are not one A/B pair."""
    return [
        Probe("cost-xdp", "castle_xdp per path, test-run ns/pkt vs XDP_DROP/XDP_PASS",
              lambda env, runs: cost_suite(env, "xdp", runs), quick=True),
        Probe("cost-tc", "castle_tc per path, test-run ns/pkt vs TC_ACT_OK",
              lambda env, runs: cost_suite(env, "tc", runs), quick=True),
        Probe("control-plane", "castled: start to ready with 1M+100k entries, 100k reload, "
              "kernel memory per tracked source", control_plane),
        Probe("accuracy", "token bucket admitted/expected, one and both CPUs "
              "(tests/bpf/test_xdp_accuracy)", accuracy),
    ]


# ---- probes ------------------------------------------------------------------

def cost_suite(env, prog, runs):
    """castle-cost: every path, interleaved with its baseline inside the tool."""
    quick = not env.args.full
    cmd = [os.path.join(env.args.build, "castle-cost"), prog, "--runs", str(runs),
           "--repeat", str(env.args.cost_repeat // (10 if quick else 1))]
    if prog == "xdp":
        cmd += ["--exact", str(65536 if quick else 1 << 20),
                "--nets", str(4096 if quick else 100_000), "--obj", env.castle_obj]
    p = run_cmd(cmd, timeout=600)
    rows = []
    for line in p.stdout.splitlines():
        if not line.startswith("{"):
            continue
        r = json.loads(line)
        if "info" in r:
            rows.append({"name": f"cost-{prog}:verifier", "status": "ok",
                         "title": f"castle_{prog}: verifier and JIT", "values": r["info"]})
            continue
        rows.append({"name": f"cost-{prog}:{r['path']}", "title": f"castle_{prog} {r['path']}",
                     "unit": "ns/pkt", "traffic": {"test_run": True},
                     "a": {"label": f"castle-{prog}", "median": r["ns"], "min": r.get("ns_min"),
                           "samples": [{"value": v} for v in r["samples"]]},
                     "b": {"label": r["base"], "median": r["base_ns"], "min": r.get("base_ns_min"),
                           "samples": [{"value": v} for v in r["base_samples"]]},
                     "ratios": [], "ratio_median": r["ratio"], "status": "ok",
                     "retval": r["retval"]})
    if not rows:
        raise BenchError(f"castle-cost {prog}: no rows: {p.stderr.strip()[-300:]}")
    log("  " + p.stderr.strip().replace("\n", "\n  ")) if p.stderr.strip() else None
    return rows


def map_mem(pin):
    """bytes_memlock / max_entries of a pinned map (bpftool)."""
    info = json.loads(run_cmd(["bpftool", "-j", "map", "show", "pinned", pin]).stdout)
    mem = int(info.get("bytes_memlock", 0))
    return {"max_entries": info["max_entries"], "bytes_memlock": mem,
            "bytes_per_entry": round(mem / info["max_entries"], 1)}


def control_plane(env, runs):
    big = blocklist_policy(lambda: v6_hosts(1 << 20) + v6_nets(100_000))
    reload_text = blocklist_policy(lambda: v4_hosts(50_000) + v6_hosts(50_000))()
    ready, reload, mem = [], [], {}
    for i in range(min(runs, 3)):
        d = CastleDaemon("castle-cp", big)
        try:
            d.setup(env)
            ready.append(d.ready_s)
            reload.append(d.reload(reload_text))
            if not mem:
                for m in ("rl_state", "rl_steady", "pol_block6", "man_block6"):
                    path = f"{d.pins[0]}/{m}"
                    if os.path.exists(path):
                        mem[m] = map_mem(path)
        finally:
            d.teardown(env)
        log(f"  control-plane run {i + 1}: ready {ready[-1]:.2f} s, reload {reload[-1]:.2f} s")
    vals = {"start_to_ready_1m_s": statistics.median(ready),
            "reload_100k_s": statistics.median(reload),
            "ready_samples_s": [round(x, 3) for x in ready],
            "reload_samples_s": [round(x, 3) for x in reload],
            "maps": mem}
    vals.update(housekeeping(env))
    if "rl_state" in mem:
        vals["bytes_per_tracked_source"] = mem["rl_state"]["bytes_per_entry"]
    if "rl_steady" in mem:
        vals["bytes_per_steady_source"] = mem["rl_steady"]["bytes_per_entry"]
    return [{"name": "control-plane", "title": "castled control plane", "status": "ok",
             "values": vals}]


def housekeeping(env, secs=15):
    """castled's own CPU once a flood has left ~1M auto-bans (a rate limit
    that bans on the first drop, 1M sources for a few seconds), measured over
    `secs` with no traffic: its walks of the manual maps (user/lib/paced.h)."""
    d = CastleDaemon("castle-ban", ban_policy())
    try:
        d.setup(env)
        env.gen(v6(1 << 20), 4.0)
        time.sleep(3)               # a first walk over the bans
        bans = d.metric(env, "castle_blocklist_entries", 'origin="auto",family="ipv6"')
        if not bans or bans < 900_000:
            raise BenchError(f"housekeeping: the flood left {bans} auto-bans, not ~1M "
                             f"(the gauge lags castled's walk; castled: {d.log_tail()})")
        c0, t0 = d.cpu_s(), time.monotonic()
        time.sleep(secs)
        pct = 100 * (d.cpu_s() - c0) / (time.monotonic() - t0)
    finally:
        d.teardown(env)
    log(f"  housekeeping: {int(bans)} auto-bans, castled {pct:.1f} % of a CPU")
    return {"autobans": int(bans or 0), "castled_cpu_pct_with_autobans": round(pct, 2)}


def accuracy(env, runs):
    exe = os.path.join(os.path.dirname(os.path.dirname(env.castle_obj)), "tests", "bpf",
                       "test_xdp_accuracy")
    if not os.access(exe, os.X_OK):
        return [{"name": "accuracy", "status": "skipped", "reason": f"{exe} not built"}]
    p = run_cmd([exe], timeout=300, check=False)
    vals = {"exit": p.returncode}
    for m in re.finditer(r"# (bytes, )?(\d) cpu\(s\): .*?\(([\d.]+)%\)", p.stdout):
        key = f"{'bytes' if m.group(1) else 'packets'}_{m.group(2)}cpu_admitted_pct"
        vals[key] = float(m.group(3))
    vals["lines"] = [ln for ln in p.stdout.splitlines() if ln.startswith("# ")]
    return [{"name": "accuracy", "title": "token bucket admitted / expected (window)",
             "status": "ok" if p.returncode == 0 else "error", "values": vals,
             **({} if p.returncode == 0 else {"reason": p.stdout.strip()[-300:]})}]


# ---- running and reporting ---------------------------------------------------

def run_scenario(env, sc, runs, duration):
    res = {"name": sc.name, "title": sc.title, "unit": sc.a.unit, "traffic": sc.traffic,
           "a": {"label": sc.a.label, "samples": []},
           "b": {"label": sc.b.label, "samples": []}, "ratios": []}
    for v in (sc.a, sc.b):
        why = v.unavailable(env)
        if why:
            pending = why.startswith("pending: ")
            res["status"] = "pending" if pending else "skipped"
            res["reason"] = f"{v.label}: {why[len('pending: '):] if pending else why}"
            return res
    try:
        for i in range(runs):
            pair = {}
            # A B, then B A: the side that runs second in a pair follows the
            # other's teardown, not its own (castled against castled of the
            # same build read 0.95 with A always first), so the order
            # alternates and such an effect cancels in the median.
            order = (("a", sc.a), ("b", sc.b)) if i % 2 == 0 else (("b", sc.b), ("a", sc.a))
            for side, v in order:
                m = v.measure(env, sc.traffic, duration)
                if v.big_state:     # its maps are being freed now
                    m["settle_s"] = round(settle(), 2)
                res[side]["samples"].append(m)
                pair[side] = m["value"]
            pair = (pair["a"], pair["b"])
            res["ratios"].append(pair[0] / pair[1] if pair[1] else None)
            log(f"  {sc.name} run {i + 1}/{runs}: {sc.a.label} {pair[0]:.3f}, "
                f"{sc.b.label} {pair[1]:.3f} {sc.a.unit}")
    except BenchError as e:
        res["status"] = "error"
        res["reason"] = str(e)
        return res
    for side in ("a", "b"):
        res[side]["median"] = statistics.median(s["value"] for s in res[side]["samples"])
        off = [s["offered_mpps"] for s in res[side]["samples"] if "offered_mpps" in s]
        if off:
            res[side]["offered_median"] = statistics.median(off)
    ratios = [r for r in res["ratios"] if r is not None]
    res["ratio_median"] = statistics.median(ratios) if ratios else None
    res["status"] = "ok"
    set_goal(res, sc.goal)
    return res


def set_goal(res, goal):
    if not goal or res.get("ratio_median") is None:
        return
    op, x = goal
    r = res["ratio_median"]
    res["goal"] = f"{op} {x:g}"
    res["goal_met"] = r >= x if op == ">=" else r <= x


def table(results):
    head = ["scenario", "A", "B", "A median", "B median", "A/B", "unit", "goal", "status"]
    rows = []
    for r in results:
        ok = r["status"] == "ok"
        goal = "-"
        if "goal" in r:
            goal = f"{r['goal']} {'met' if r['goal_met'] else 'MISSED'}"
        rows.append([r["name"], r["a"]["label"], r["b"]["label"],
                     f"{r['a']['median']:.3f}" if ok else "-",
                     f"{r['b']['median']:.3f}" if ok else "-",
                     f"{r['ratio_median']:.3f}" if ok and r["ratio_median"] else "-",
                     r["unit"], goal, r["status"]])
    w = [max(len(str(x[i])) for x in [head] + rows) for i in range(len(head))]
    num = {3, 4, 5}
    lines = []
    for x in [head] + rows:
        lines.append("  ".join(str(c).rjust(w[i]) if i in num else str(c).ljust(w[i])
                               for i, c in enumerate(x)).rstrip())
        if x is head:
            lines.append("  ".join("-" * n for n in w))
    for r in results:
        if r["status"] != "ok":
            lines.append(f"{r['name']}: {r['status']}: {r.get('reason', '')}")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description="castle benchmark driver (needs root)")
    mode = ap.add_mutually_exclusive_group()
    mode.add_argument("--quick", action="store_true", help="the short set (default)")
    mode.add_argument("--full", action="store_true", help="every scenario")
    ap.add_argument("--only", action="append", default=[], metavar="NAME",
                    help="run only this scenario (repeatable, or NAME,NAME,...)")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--runs", type=int, help="A/B pairs per scenario, even (quick 2, full 6)")
    ap.add_argument("--duration", type=float, help="seconds per run (quick 1, full 2)")
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="generator threads (one per CPU)")
    ap.add_argument("--queues", type=int, default=max(2, os.cpu_count() or 1),
                    help="veth queues (>= threads)")
    ap.add_argument("--max-count", type=int, default=200_000_000,
                    help="frames per run at most (the duration usually stops first)")
    ap.add_argument("--cost-repeat", type=int, default=1_000_000,
                    help="test-run repeat for ns/pkt scenarios")
    ap.add_argument("--build", default="build/bench", help="where castle-gen/castle-dut are")
    ap.add_argument("--castle-obj", default="build/bpf/castle_xdp.bpf.o")
    ap.add_argument("--castle-b-obj", metavar="OBJ",
                    help="another build's castle_xdp.bpf.o (its castled beside it, "
                    "OTHER/build/castled): adds the ab-* scenarios, castled of "
                    "--castle-obj (A) against castled of this build (B), to price a "
                    "change live (see bench/profile.py --live)")
    ap.add_argument("--json", help="results file (default BUILD/results-MODE.json, "
                    "BUILD/results-MODE-partial.json with --only)")
    args = ap.parse_args()
    args.only = [n for o in args.only for n in o.split(",") if n]
    mode_name = "full" if args.full else "quick"
    if not args.json:
        args.json = os.path.join(args.build, f"results-{mode_name}"
                                 f"{'-partial' if args.only else ''}.json")

    all_sc = scenarios() + ab_scenarios(args) + probes(args)
    if args.list:
        for sc in all_sc:
            print(f"{sc.name:22} {'quick' if sc.quick else 'full ':5}  {sc.title}")
        return 0
    if args.only:
        unknown = set(args.only) - {sc.name for sc in all_sc}
        if unknown:
            log(f"run.py: unknown scenario(s): {', '.join(sorted(unknown))} (see --list)")
            return 2
        chosen = [sc for sc in all_sc if sc.name in args.only]
    else:
        chosen = [sc for sc in all_sc if args.full or sc.quick]
    # Pairs alternate A B / B A (see run_scenario): an even count balances
    # the order, so an odd --runs is rounded up.
    runs = args.runs or (6 if args.full else 2)
    if runs % 2:
        log(f"run.py: --runs {runs} -> {runs + 1}: pairs alternate A B / B A, "
            "an even count balances the order")
        runs += 1
    duration = args.duration or (2.0 if args.full else 1.0)
    if runs < 1 or runs > 100 or duration <= 0 or duration > 60:
        log("run.py: --runs must be 1..100 and --duration 0..60 s")
        return 2
    if os.geteuid() != 0:
        log("run.py: needs root (namespaces, XDP, bpffs)")
        return 1

    def on_signal(sig, _frame):
        log(f"run.py: signal {sig}: cleaning up")
        raise SystemExit(128 + sig)
    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    env = Env(args)
    results = []
    t0 = time.monotonic()
    # What is measured is the tree as the run starts (edits made while it
    # runs do not change the programs it loaded).
    commit, dirty = git_commit(), git_dirty()
    try:
        env.setup()
        log(f"run.py: {len(chosen)} scenario(s), {runs} A/B pairs, {duration:g} s per run, "
            f"{args.threads} generator thread(s)")
        # Warm-up: fault in the generator and the veth rings.
        warm = XdpProg("xdp-drop", "xdp-drop")
        warm.measure(env, v4(1000), min(duration, 0.3))
        for sc in chosen:
            log(f"run.py: {sc.name}: {sc.title}")
            if isinstance(sc, Probe):
                try:
                    results.extend(sc.fn(env, runs))
                except BenchError as e:
                    log(f"run.py: {sc.name}: {e}")
                    results.append({"name": sc.name, "status": "error", "reason": str(e)})
            else:
                results.append(run_scenario(env, sc, runs, duration))
    except BenchError as e:
        log(f"run.py: {e}")
        results.append({"name": "setup", "status": "error", "reason": str(e)})
    finally:
        env.teardown()

    report = {
        "meta": {
            "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
            "kernel": os.uname().release, "cpus": os.cpu_count(),
            "mode": mode_name, "runs": runs, "only": args.only,
            "duration_s": duration, "threads": args.threads, "queues": args.queues,
            "wall_s": round(time.monotonic() - t0, 1),
            "cpu_model": cpu_model(), "commit": commit, "dirty": dirty,
            "machine": machine(),
        },
        "scenarios": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(table([r for r in results if "a" in r]))
    for r in results:
        if "a" in r:
            continue
        if "values" in r:
            print(f"{r['name']}: " + ", ".join(
                f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}"
                for k, v in r["values"].items() if not isinstance(v, (list, dict))))
        else:
            print(f"{r['name']}: {r['status']}: {r.get('reason', '')}")
    print(f"results: {args.json} ({report['meta']['wall_s']} s)")
    return 1 if any(r["status"] == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
