#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""profile.py - what each stage of castle_xdp costs, by subtraction.

perf and `bpftool prog profile` need hardware events a VM often lacks, so this
builds variants of bpf/castle_xdp.bpf.c with one stage cut out (a textual
edit of a copy of bpf/ under build/bench/prof/VARIANT/), runs
`castle-cost xdp --obj VARIANT.o` on the paths given, and prints each
variant's median ns/pkt and its difference to the full program, plus the
verifier's instruction count and the JIT'd size. A variant's numbers are only
a cost estimate of what was cut (the compiler may lay out the rest
differently); a variant is never a correct gate.

  python3 bench/profile.py [--paths block-exact-v4,pass-v4] [--runs 7]
                           [--repeat 2000000] [--variants full,no-event,...]
                           [--no-allow]

Two builds side by side (another commit's object, a change not yet in
bpf/), on a host whose samples fall in two modes (the minimum of each
round's K runs, castle-cost on one CPU):

  python3 bench/profile.py --variants '' --obj old=OLD/build/bpf/castle_xdp.bpf.o \
      --obj new=build/bpf/castle_xdp.bpf.o --per-round 5 --stat min --cpu 1 --runs 8

Live, with a million sources (what test-run's hot caches hide):

  python3 bench/profile.py --live VARIANT [--scenario ab-limit-1m] [--runs 7]

copies the tree (git's files) to build/bench/live/VARIANT/ with the variant's
edits, builds its castled there (and this tree's), and runs bench/run.py's
ab-* scenario: this tree's castled (A) against the variant's (B), pairs
through the veth in alternating order (an even count). A/B below 1 means
the variant is faster. On a noisy VM single pairs spread by +-20-40 %: read
10 pairs or more, and only when most agree.

A change too big for a few regexes is kept as a patch under
bench/experiments/ and priced the same way (its header says what it is and
what it measured):

  python3 bench/profile.py --live full --patch bench/experiments/NAME.patch

  python3 bench/profile.py --check   # every variant's edits and every patch still apply
Needs root (test-run, namespaces); builds with clang like the Makefile.
"""
import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys

# name -> [(file, regex, replacement)]; every edit must apply.
VARIANTS = {
    "full": [],
    "no-event": [("castle_xdp.bpf.c", r"\bcastle_event\(s,", "if (0) castle_event(s,")],
    "no-last-hit": [("lists.h", r"__u64 hit = castle_tick_mono_ns\(castle_state_get\(\)\);\n\tif \(hit - v->last_hit_ns >= 1000000ull\)\n\t\tv->last_hit_ns = hit;", "")],
    # No hit counter at all (neither the per-CPU slot nor the locked add).
    "no-hits-atomic": [("lists.h", r"\n\tcastle_hit\(&v->hits, v->class_slot\);", "")],
    # The locked add of entries without a per-CPU slot as a plain add (no
    # lock prefix, so no full barrier): it loses counts when CPUs share an
    # entry (docs/BENCHMARKS.md).
    "hits-plain": [("lists.h", r"(static __always_inline void castle_hit[\s\S]*?)"
                    r"__sync_fetch_and_add\(hits, 1\);", r"\1*hits += 1;")],
    # Every hit by the locked add, policy CIDRs too (before their per-CPU slots).
    "hits-locked": [("lists.h", r"if \(\(slot & \(CASTLE_HIT_SLOT \| CASTLE_HIT_MAN\)\) == \(CASTLE_HIT_SLOT \| CASTLE_HIT_MAN\)\) \{",
                     "if (0) {"),
                    ("lists.h", r"\} else if \(slot & CASTLE_HIT_SLOT\) \{", "} else if (0) {")],
    "no-allow": [("castle_xdp.bpf.c", r"return p \? castle_allowed\(gen, have, p\) : 0;", "return 0;")],
    "no-manual": [("common.h", r"have \|= CASTLE_HAVE_MAN\(i\);", ";")],
    "no-count": [("castle_xdp.bpf.c", r"\bcastle_count_slot\(&xdp_stats,", "if (0) castle_count_slot(&xdp_stats,")],
    "no-ratelimit": [("castle_xdp.bpf.c", r"int rl = pol && pol->nclasses \? castle_xdp_ratelimit\(gen, &p, len, ifs\) : CASTLE_NO_CLASS;",
                      "int rl = CASTLE_NO_CLASS;")],
    "no-rl-last-ns": [("ratelimit.h", r"\tif \(tick - v->last_ns >= CASTLE_RL_SEEN_STEP_NS\)\n\t\tv->last_ns = tick;\n", "")],
    "no-class-stats": [("castle_xdp.bpf.c", r"if \(cs\) \{", "if (0) {")],
    # The parser as a global function again (how it was before 412fe73).
    "global-parse": [("castle_xdp.bpf.c",
                      r"static __always_inline int castle_xdp_parse\(struct xdp_md \*ctx, struct castle_pkt \*p\)\n\{\n",
                      "__noinline int castle_xdp_parse(struct xdp_md *ctx, struct castle_pkt *p)\n{\n"
                      "\tif (!p)\n\t\treturn CASTLE_P_BAD_L3;\n")],
    "no-man-count": [("common.h", r"struct castle_man_count \*mc = bpf_map_lookup_elem\(&man_count, &zero\);",
                      "struct castle_man_count *mc = 0; (void)zero;"),
                     ("common.h", r"if \(!mc\)\n\t\treturn have \| 0xffff0000u;", "if (!mc)\n\t\treturn have;")],
    # An entry's expiry on the precise boot clock, as before castle_boot_now.
    "ttl-precise": [("lists.h", r"\*now = castle_boot_now\(\);", "*now = bpf_ktime_get_boot_ns();")],
    "no-ifslot": [("common.h", r"__u32 \*slot = bpf_map_lookup_elem\(&ifslot, &ifindex\);",
                   "__u32 *slot = NULL;")],
}
# For --live at a million sources: no promotion into the steady tier at all
# (a source's entry is read-only once it counted its 8 packets).
VARIANTS["no-promote"] = [("ratelimit.h", r"\tif \(now - v->first_ns < CASTLE_RL_PROMOTE_NS \|\|\n"
                           r"\t    now < \*\(volatile __u64 \*\)&castle_steady_full_until\)\n",
                           "\tif (1)\n")]
# For --live ab-limit-1m: after the program's first lookups (interface slot,
# state, policy), the bare LRU lookup of the
# rate-limit key (class slot 0, the source as an IPv6 /128: that scenario's one
# class); a tracked source is counted as a rate-limit drop and dropped, so the
# parser, the lists, the class match and the buckets never run. Against the
# full program it says whether castle's code around the lookup or what runs
# beside the program (castled, the counters) makes castle slower than the
# bare-LRU floor. Never a correct gate.
VARIANTS["rl-bare-first"] = [("castle_xdp.bpf.c", r"(\t__u32 slot = CASTLE_NO_CLASS;\n)",
                              r"""\1\t{
\t\tstruct ipv6hdr *ip6_ = (void *)(long)ctx->data + sizeof(struct ethhdr);
\t\tstruct castle_rl_key k_ = { .class_slot = 0, .family = 6 };

\t\tif ((void *)(ip6_ + 1) <= (void *)(long)ctx->data_end) {
\t\t\t__builtin_memcpy(k_.addr, &ip6_->saddr, 16);
\t\t\tif (bpf_map_lookup_elem(&rl_state, &k_)) {
\t\t\t\tcastle_count_slot(&xdp_stats, ifs, CASTLE_DROP, CASTLE_R_RATELIMIT, len);
\t\t\t\treturn XDP_DROP;
\t\t\t}
\t\t}
\t\tasm volatile("" : "+r"(ctx));	/* no ctx pointer kept for the parser */
\t}
""")]
# The same, but the drop also reads the entry's TAT (the value, after the
# 24-byte key: most of it on the element's next cache line), as any limiter
# must: against rl-bare-first it prices the state's own line.
VARIANTS["rl-bare-first-value"] = [
    (f, rx, rep.replace(r"\t\t\tif (bpf_map_lookup_elem(&rl_state, &k_)) {",
                        r"\t\t\tstruct castle_rl_val *v_ = bpf_map_lookup_elem(&rl_state, &k_);\n\n"
                        r"\t\t\tif (v_ && *(volatile __u64 *)&v_->tat != 1) {"))
    for f, rx, rep in VARIANTS["rl-bare-first"]]
# What castle does on a blocked packet beyond the lookup and the counters
# (events, last-hit stamp, hit counter, interface slot), with no-allow: castle
# vs xdp-filter's setting.
VARIANTS["no-allow+no-extras"] = [e for v in ("no-allow", "no-event", "no-last-hit",
                                              "no-hits-atomic", "no-ifslot")
                                  for e in VARIANTS[v]]


def sh(cmd, **kw):
    p = subprocess.run(cmd, capture_output=True, text=True, **kw)
    if p.returncode:
        sys.exit(f"profile.py: {' '.join(cmd)}: exit {p.returncode}: {p.stderr.strip()[-600:]}")
    return p.stdout


def build(name, edits, out, clang_flags):
    d = os.path.join(out, name)
    shutil.rmtree(d, ignore_errors=True)
    shutil.copytree("bpf", d)
    apply_edits(name, edits, d)
    obj = os.path.join(out, f"{name}.o")
    sh(["clang"] + clang_flags + [f"-I{d}", "-c", os.path.join(d, "castle_xdp.bpf.c"),
                                   "-o", obj])
    return obj


def apply_edits(name, edits, d):
    for fname, rx, rep in edits:
        path = os.path.join(d, fname)
        with open(path) as f:
            text = f.read()
        new, n = re.subn(rx, rep, text)
        if not n:
            sys.exit(f"profile.py: variant {name}: edit {rx!r} matched nothing in {fname}")
        with open(path, "w") as f:
            f.write(new)


def check_variants(args):
    """Every variant's edits still match bpf/ (they are regexes over the
    source, so a change there can silently break one)."""
    import tempfile
    with tempfile.TemporaryDirectory() as d:
        for name, edits in VARIANTS.items():
            shutil.rmtree(d)
            shutil.copytree("bpf", d)
            apply_edits(name, edits, d)     # exits on an edit that matches nothing
    print(f"profile.py: the edits of all {len(VARIANTS)} variants apply")
    pdir = os.path.join(os.path.dirname(os.path.abspath(__file__)), "experiments")
    patches = sorted(f for f in os.listdir(pdir) if f.endswith(".patch")) if os.path.isdir(pdir) else []
    for f in patches:
        p = subprocess.run(["git", "apply", "--check", os.path.join(pdir, f)],
                           capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"profile.py: bench/experiments/{f} no longer applies: {p.stderr.strip()}")
    print(f"profile.py: all {len(patches)} patches in bench/experiments apply")
    return 0


def live(args):
    """castled of this tree against castled of a variant, through the veth."""
    if args.live not in VARIANTS:
        sys.exit(f"profile.py: no variant {args.live!r} (one of {', '.join(VARIANTS)})")
    d = os.path.abspath(os.path.join(args.build, "bench", "live", args.live))
    shutil.rmtree(d, ignore_errors=True)
    os.makedirs(d)
    for f in sh(["git", "ls-files", "-z"]).split("\0"):
        if f and os.path.isfile(f):
            os.makedirs(os.path.join(d, os.path.dirname(f)), exist_ok=True)
            shutil.copy2(f, os.path.join(d, f))
    if args.patch:
        p = subprocess.run(["git", "apply", "--directory", os.path.relpath(d), os.path.abspath(args.patch)],
                           capture_output=True, text=True)
        if p.returncode:
            sys.exit(f"profile.py: {args.patch} does not apply: {p.stderr.strip()}")
    apply_edits(args.live, VARIANTS[args.live], os.path.join(d, "bpf"))
    jobs = f"-j{os.cpu_count() or 1}"
    print(f"# building {args.build}/castled (A) and {d}/build/castled (B)", file=sys.stderr,
          flush=True)
    sh(["make", jobs, f"{args.build}/castled", f"{args.build}/castlectl",
        f"{args.build}/bpf/castle_xdp.bpf.o", "bench-build"])
    sh(["make", "-C", d, jobs, "build/castled", "build/castlectl", "build/bpf/castle_xdp.bpf.o"])
    sys.exit(subprocess.call([
        sys.executable, "bench/run.py", "--full", "--build", os.path.join(args.build, "bench"),
        "--castle-obj", os.path.join(args.build, "bpf", "castle_xdp.bpf.o"),
        "--castle-b-obj", os.path.join(d, "build", "bpf", "castle_xdp.bpf.o"),
        "--runs", str(args.runs), "--only", args.scenario,
        "--json", os.path.join(args.build, "bench", f"live-{args.live}.json")]))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--paths", default="block-exact-v4,block-exact-v6,block-cidr-v4,"
                    "pass-v4,rl-drop-v4,allow-v4")
    ap.add_argument("--variants", default=",".join(VARIANTS))
    ap.add_argument("--runs", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=2_000_000)
    ap.add_argument("--exact", type=int, default=65536)
    ap.add_argument("--nets", type=int, default=4096)
    ap.add_argument("--no-allow", action="store_true",
                    help="no allowlist in the policy (xdp-filter's setting)")
    ap.add_argument("--build", default="build")
    ap.add_argument("--json", help="write the results here too")
    ap.add_argument("--live", metavar="VARIANT",
                    help="price VARIANT live: castled of this tree vs the variant's")
    ap.add_argument("--patch", metavar="FILE",
                    help="with --live: apply this patch (git apply, e.g. one of bench/experiments/) "
                         "to the variant's copy before its edits")
    ap.add_argument("--scenario", default="ab-limit-1m",
                    help="with --live: ab-limit-1m, ab-block-1m, ab-block-cidr, ab-manual-cidr "
                         "or ab-banned")
    ap.add_argument("--check", action="store_true",
                    help="only check that every variant's edits apply to bpf/ (no build, no root)")
    ap.add_argument("--obj", action="append", default=[], metavar="NAME=PATH",
                    help="a built castle_xdp.bpf.o as one more variant (e.g. another commit's "
                         "build/bpf/castle_xdp.bpf.o); with --variants '' only these")
    ap.add_argument("--per-round", type=int, default=1, metavar="K",
                    help="castle-cost runs per variant and round (the round's sample: their "
                         "median, or with --stat min their minimum)")
    ap.add_argument("--stat", choices=("median", "min"), default="median",
                    help="min: for a host whose samples fall in two modes (docs/BENCHMARKS.md, "
                         "thirteenth round)")
    ap.add_argument("--cpu", type=int, help="run castle-cost on this CPU only (taskset)")
    args = ap.parse_args()
    if args.check:
        return check_variants(args)
    if args.live:
        return live(args)
    out = os.path.join(args.build, "bench", "prof")
    os.makedirs(out, exist_ok=True)
    flags = ["-g", "-O2", "-target", "bpf", "-mcpu=v3", "-D__TARGET_ARCH_x86", "-Wall",
             "-Wno-unused-function", f"-I{args.build}", "-Iinclude"]
    cost = os.path.join(args.build, "bench", "castle-cost")
    paths = args.paths.split(",")
    if args.no_allow:
        # castle-cost has no allow-* paths without an allowlist
        paths = [p for p in paths if not p.startswith("allow-")]
    res = {}
    objs = {v: build(v, VARIANTS[v], out, flags) for v in args.variants.split(",") if v}
    for spec in args.obj:
        name, _, path = spec.partition("=")
        if not name or not os.path.isfile(path):
            sys.exit(f"profile.py: --obj {spec}: want NAME=PATH of a built object")
        objs[name] = path
    if not objs:
        sys.exit("profile.py: nothing to run (no --variants, no --obj)")
    pin = ["taskset", "-c", str(args.cpu)] if args.cpu is not None else []
    # Interleave: every variant once per round, rounds = --runs.
    samples = {v: {p: [] for p in paths} for v in objs}
    info = {}
    for r in range(args.runs):
        for v, obj in objs.items():
            o = sh(pin + [cost, "xdp", "--obj", obj, "--only", ",".join(paths),
                    "--runs", str(args.per_round),
                    "--repeat", str(args.repeat), "--exact", str(args.exact),
                    "--nets", str(args.nets)] + (["--no-check"] if v in VARIANTS and v != "full" else []) +
                   (["--no-allow"] if args.no_allow else []))
            for line in o.splitlines():
                j = json.loads(line)
                if "info" in j:
                    info[v] = j["info"]
                else:
                    samples[v][j["path"]].append(j.get("ns_min", min(j["samples"])) if args.stat == "min"
                                                 else j["ns"])
        print(f"# round {r + 1}/{args.runs} done", file=sys.stderr, flush=True)
    ref = "full" if "full" in objs else next(iter(objs))     # the (+/-) column's reference
    full = {p: statistics.median(samples[ref][p]) for p in paths}
    w = max(len(v) for v in objs)
    print(f"{'variant':{w}}  {'insns':>7}  {'jit B':>6}  " +
          "  ".join(f"{p:>16}" for p in paths))
    for v in objs:
        cells = []
        for p in paths:
            m = statistics.median(samples[v][p])
            d = f" ({m - full[p]:+.0f})" if v != ref else ""
            cells.append(f"{m:.0f}{d}".rjust(16))
        print(f"{v:{w}}  {info[v]['verified_insns']:>7}  {info[v]['jited_bytes']:>6}  " +
              "  ".join(cells))
        res[v] = {"info": info[v], "median_ns": {p: statistics.median(samples[v][p]) for p in paths},
                  "samples": samples[v]}
    if args.json:
        with open(args.json, "w") as f:
            json.dump(res, f, indent=2)


if __name__ == "__main__":
    main()
