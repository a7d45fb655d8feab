#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""hotspots.py - where castle's XDP program spends its time live.

Runs the castle side of one of run.py's live scenarios (castled with its
policy) in the bench's namespaces, sends the scenario's traffic with
castle-gen and records `perf record -a` (cpu-clock: this VM has no hardware
events) meanwhile. Then prints the
kernel symbols by share of all samples and, for castle's own functions, the
instructions the samples hit most, disassembled from the program's JIT image
(castle-dut jit; objdump). A sample lands on the instruction after the one
that stalled (skid), so both are printed.

test-run (castle-cost, profile.py) runs one frame over and over with hot
caches and an empty store buffer; this shows what a packet costs among the
driver's work, where e.g. a locked add waits for every store before it
(docs/BENCHMARKS.md, eighth round).

  python3 bench/hotspots.py [--scenario castle-vs-nft-set|castle-blocklist-1m|...] [--seconds 3]
"""

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run                                                          # noqa: E402
from benchlib import DUT_DEV, BenchError, Env                       # noqa: E402
from benchlib import run as run_cmd                                 # noqa: E402
from variants import CastleDaemon                                   # noqa: E402

def castle_scenarios():
    """run.py's live scenarios whose A side is castled: what can be profiled."""
    return {sc.name: sc for sc in run.scenarios() if isinstance(sc.a, CastleDaemon)}


def attached_prog(env):
    """castle's XDP program on veth-dut: its id, or every castle_xdp loaded
    when a dispatcher is what is attached."""
    p = env.dut_cmd(["ip", "-j", "link", "show", DUT_DEV])
    xdp = json.loads(p.stdout)[0].get("xdp", {})
    ids = [xdp["prog"]["id"]] if "prog" in xdp else [x["id"] for x in xdp.get("attached", [])]
    progs = json.loads(run_cmd(["bpftool", "-j", "prog", "show"]).stdout)
    names = {pr["id"]: pr.get("name", "") for pr in progs}
    castle = [i for i in ids if names.get(i) == "castle_xdp"]
    return castle or [pr["id"] for pr in progs if pr.get("name") == "castle_xdp"]


def kallsyms_names(addrs):
    """Kernel symbol names of the given addresses (bpf_prog_TAG_NAME)."""
    want, names = set(addrs), {}
    with open("/proc/kallsyms") as f:
        for line in f:
            a, _, name = line.split()[:3]
            a = int(a, 16)
            if a in want:
                names[a] = name
    return names


def disasm(image, start, stop):
    """(offset, text) of the x86-64 instructions of image[start:stop]; start
    must be where an instruction begins (a function's start)."""
    p = subprocess.run(["objdump", "-D", "-b", "binary", "-mi386:x86-64", "--no-show-raw-insn",
                        f"--start-address={start}", f"--stop-address={stop}", image],
                       capture_output=True, text=True)
    out = []
    for line in p.stdout.splitlines():
        head, _, text = line.partition(":\t")
        try:
            out.append((int(head.strip(), 16), text.strip()))
        except ValueError:
            continue
    return out


def main():
    ap = argparse.ArgumentParser(description="castle's XDP program under live traffic, "
                                 "perf samples by symbol and by instruction (needs root)")
    ap.add_argument("--scenario", choices=sorted(castle_scenarios()), default="castle-vs-nft-set",
                    help="whose castle side and traffic to run (castle-blocklist-1m, "
                    "castle-ratelimit-1m, ...)")
    ap.add_argument("--seconds", type=float, default=3.0)
    ap.add_argument("--top", type=int, default=12, help="symbols and instructions to print")
    ap.add_argument("--build", default="build/bench")
    ap.add_argument("--castle-obj", default="build/bpf/castle_xdp.bpf.o")
    args = ap.parse_args()
    if not 0.5 <= args.seconds <= 30:
        sys.exit("hotspots.py: --seconds must be 0.5..30")
    if os.geteuid() != 0:
        sys.exit("hotspots.py: needs root (namespaces, XDP, perf -a)")
    for tool in ("perf", "objdump"):
        if shutil.which(tool) is None:
            sys.exit(f"hotspots.py: {tool} not found (make deps installs it)")
    env_args = argparse.Namespace(build=args.build, castle_obj=args.castle_obj, queues=2,
                                  threads=min(2, os.cpu_count() or 1), max_count=200_000_000,
                                  castle_b_obj=None)
    env = Env(env_args)
    sc = castle_scenarios()[args.scenario]
    traffic, d = sc.traffic, sc.a
    data = os.path.abspath(os.path.join(args.build, f"hotspots-{args.scenario}.data"))
    image = os.path.abspath(os.path.join(args.build, f"hotspots-{args.scenario}.jit"))
    try:
        env.setup()
        d.setup(env)
        if traffic.get("warmup"):
            env.gen(traffic, traffic["warmup"])
        rec = subprocess.Popen(["perf", "record", "-a", "-e", "cpu-clock", "-F", "4999", "-o",
                                data, "--", "sleep", str(args.seconds + 0.3)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        time.sleep(0.1)
        g = env.gen(traffic, args.seconds)
        if rec.wait() != 0:
            sys.exit(f"hotspots.py: perf record failed: {rec.stderr.read().strip()[-400:]}")
        ids = attached_prog(env)
        if not ids:
            sys.exit("hotspots.py: castle_xdp is not loaded")
        funcs = []
        for i, pid in enumerate(ids):
            img = image if i == 0 else f"{image}.{pid}"
            j = json.loads(run_cmd([os.path.join(args.build, "castle-dut"), "jit", "--id",
                                        str(pid), "--out", img]).stdout)
            off = 0
            for fn in j["funcs"]:
                funcs.append({"addr": fn["addr"], "len": fn["len"], "off": off, "image": img})
                off += fn["len"]
        names = kallsyms_names([f["addr"] for f in funcs])     # while loaded
        for f in funcs:
            f["name"] = names.get(f["addr"], f"bpf@{f['addr']:x}")
    except BenchError as e:
        sys.exit(f"hotspots.py: {e}")
    finally:
        d.teardown(env)
        env.teardown()
    report(args, data, funcs, g)


def report(args, data, funcs, g):
    p = subprocess.run(["perf", "script", "-G", "-F", "ip,sym", "-i", data],
                       capture_output=True, text=True)
    by_sym, by_ins, total = collections.Counter(), collections.Counter(), 0
    for line in p.stdout.splitlines():
        parts = line.split(None, 1)
        if not parts:
            continue
        total += 1
        ip = int(parts[0], 16)
        fn = next((f for f in funcs if f["addr"] <= ip < f["addr"] + f["len"]), None)
        if fn:
            by_sym[fn["name"]] += 1
            by_ins[(fn["name"], ip - fn["addr"])] += 1
        else:
            by_sym[parts[1].strip() if len(parts) > 1 else "?"] += 1
    if not total:
        sys.exit(f"hotspots.py: no samples in {data}")
    print(f"{args.scenario} (castle's side): {g['mpps']:.2f} Mpps offered over {args.seconds:g} s; "
          f"{total} samples on all CPUs (cpu-clock; idle is pv_native_safe_halt or similar)")
    print("\nsymbols by share of all samples:")
    for sym, n in by_sym.most_common(args.top):
        print(f"  {100.0 * n / total:5.1f} %  {sym}")
    castle = sum(n for s, n in by_sym.items() if any(f["name"] == s for f in funcs))
    print(f"  castle's functions together: {100.0 * castle / total:.1f} %")
    print("\ncastle's hottest instructions (the one that stalled is usually the one before):")
    code = {}
    for (name, off), n in by_ins.most_common(args.top):
        fn = next(f for f in funcs if f["name"] == name)
        if name not in code:
            code[name] = disasm(fn["image"], fn["off"], fn["off"] + fn["len"])
        ins = [x for x in code[name] if x[0] <= fn["off"] + off]
        here = ins[-1][1] if ins else "?"
        before = ins[-2][1] if len(ins) > 1 else ""
        short = name.split("_", 3)[-1] if name.startswith("bpf_prog_") else name
        print(f"  {n:6d}  {short}+{off:#x}  {here:40.40}  after: {before}")


if __name__ == "__main__":
    main()
