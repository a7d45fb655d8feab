#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""run.py - castle's benchmark driver.

Builds two network namespaces joined by a veth pair (gen -> dut), runs every
scenario as A/B pairs interleaved (A B A B ...), reads what the device under
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
import signal
import statistics
import sys
import time

sys.dont_write_bytecode = True      # keep bench/ free of __pycache__
from benchlib import BenchError, Env, log                            # noqa: E402
from variants import (CastleDaemon, Cost, NftMeter, NftSet, XdpFilter,  # noqa: E402
                      XdpProg, nft_cidrs)


# ---- scenarios -------------------------------------------------------------

class Scenario:
    def __init__(self, name, title, a, b, traffic, quick=False):
        self.name, self.title = name, title
        self.a, self.b = a, b
        self.traffic = traffic
        self.quick = quick


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


def ratelimit_policy(rate, burst):
    def text():
        return ("version: 1\nmode: enforce\nlimits:\n  - name: bench\n"
                f"    match: {{ proto: udp }}\n    rate: {rate}/s\n    burst: {burst}\n"
                # One bucket per address: the IPv6 default (/64) would fold
                # the whole 2001:db8:5::/64 pool into a single source.
                "    per: { ipv4: 32, ipv6: 128 }\n")
    return text


def scenarios():
    """The scenario table. quick=True rows run in `make bench-quick`."""
    return [
        Scenario("sanity-drop", "trivial XDP_DROP vs itself (ratio ~1)",
                 XdpProg("xdp-drop", "xdp-drop"), XdpProg("xdp-drop", "xdp-drop"),
                 v4(1000), quick=True),
        Scenario("castle-pass-v4", "castle XDP, no policy (pass path) vs XDP_PASS",
                 XdpProg("castle", "castle"), XdpProg("xdp-pass", "xdp-pass"),
                 v4(1000), quick=True),
        Scenario("cost-v4", "castle_xdp vs XDP_DROP, test-run ns/pkt, UDPv4",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"),
                 v4(1), quick=True),
        Scenario("castle-pass-v6", "castle XDP, no policy vs XDP_PASS, IPv6",
                 XdpProg("castle", "castle"), XdpProg("xdp-pass", "xdp-pass"), v6(1000)),
        Scenario("cost-v6", "castle_xdp vs XDP_DROP, test-run ns/pkt, UDPv6",
                 Cost("castle", "castle"), Cost("xdp-drop", "xdp-drop"), v6(1)),
        Scenario("tcx-ok", "XDP_PASS + tcx TC_ACT_OK vs XDP_PASS alone",
                 XdpProg("pass+tc-ok", "xdp-pass", extra="tc-ok"),
                 XdpProg("xdp-pass", "xdp-pass"), v4(1000)),
        Scenario("nft-set-drop", "nft netdev ingress, 1000-CIDR set -> drop vs XDP_DROP",
                 NftSet("nft-set", 1000), XdpProg("xdp-drop", "xdp-drop"), v4(4096)),
        Scenario("nft-meter", "nft per-source limit (dynamic set) vs XDP_PASS",
                 NftMeter("nft-meter", 10, 5), XdpProg("xdp-pass", "xdp-pass"), v4(65536)),
        Scenario("xdp-filter-drop", "xdp-filter, 1000 denied sources vs XDP_DROP",
                 XdpFilter("xdp-filter", 1000), XdpProg("xdp-drop", "xdp-drop"), v4(1000)),
        # castle with a policy, through castled (pending until it is built).
        Scenario("castle-blocklist-1m", "castle, 1M-entry blocklist (all hit) vs XDP_DROP",
                 CastleDaemon("castle-block", blocklist_policy(lambda: v6_hosts(1 << 20))),
                 XdpProg("xdp-drop", "xdp-drop"), v6(1 << 20)),
        Scenario("castle-vs-nft-set", "castle vs nft, the same 1000-CIDR blocklist",
                 CastleDaemon("castle-block", blocklist_policy(lambda: nft_cidrs(1000))),
                 NftSet("nft-set", 1000), v4(4096)),
        Scenario("castle-ratelimit-1m", "castle, 1M-source rate limit vs XDP_PASS",
                 CastleDaemon("castle-limit", ratelimit_policy(10, 5)),
                 XdpProg("xdp-pass", "xdp-pass"), v6(1 << 20)),
        Scenario("castle-vs-nft-meter", "castle 1M-source limit vs nft meter",
                 CastleDaemon("castle-limit", ratelimit_policy(10, 5)),
                 NftMeter("nft-meter", 10, 5), v6(1 << 20)),
    ]


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
            pair = []
            for side, v in (("a", sc.a), ("b", sc.b)):
                m = v.measure(env, sc.traffic, duration)
                res[side]["samples"].append(m)
                pair.append(m["value"])
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
    return res


def table(results):
    head = ["scenario", "A", "B", "A median", "B median", "A/B", "unit", "status"]
    rows = []
    for r in results:
        ok = r["status"] == "ok"
        rows.append([r["name"], r["a"]["label"], r["b"]["label"],
                     f"{r['a']['median']:.3f}" if ok else "-",
                     f"{r['b']['median']:.3f}" if ok else "-",
                     f"{r['ratio_median']:.3f}" if ok and r["ratio_median"] else "-",
                     r["unit"], r["status"]])
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
                    help="run only this scenario (repeatable)")
    ap.add_argument("--list", action="store_true", help="list scenarios and exit")
    ap.add_argument("--runs", type=int, help="A/B pairs per scenario (quick 3, full 5)")
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
    ap.add_argument("--json", default="build/bench/results.json", help="results file")
    args = ap.parse_args()

    all_sc = scenarios()
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
    runs = args.runs or (5 if args.full else 3)
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
    try:
        env.setup()
        log(f"run.py: {len(chosen)} scenario(s), {runs} A/B pairs, {duration:g} s per run, "
            f"{args.threads} generator thread(s)")
        # Warm-up: fault in the generator and the veth rings.
        warm = XdpProg("xdp-drop", "xdp-drop")
        warm.measure(env, v4(1000), min(duration, 0.3))
        for sc in chosen:
            log(f"run.py: {sc.name}: {sc.title}")
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
            "mode": "full" if args.full else "quick", "runs": runs,
            "duration_s": duration, "threads": args.threads, "queues": args.queues,
            "wall_s": round(time.monotonic() - t0, 1),
        },
        "scenarios": results,
    }
    os.makedirs(os.path.dirname(os.path.abspath(args.json)), exist_ok=True)
    with open(args.json, "w") as f:
        json.dump(report, f, indent=2)
        f.write("\n")
    print(table([r for r in results if "a" in r]))
    for r in results:
        if "a" not in r:
            print(f"{r['name']}: {r['status']}: {r['reason']}")
    print(f"results: {args.json} ({report['meta']['wall_s']} s)")
    return 1 if any(r["status"] == "error" for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
