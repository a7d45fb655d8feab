#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
"""report.py - a results JSON of bench/run.py as the Markdown tables of
docs/BENCHMARKS.md (main A/B table with goals, per-path costs, control
plane, memory, accuracy).

  python3 bench/report.py build/bench/results-full.json
"""
import json
import sys


def fmt(x, unit):
    return f"{x:.2f}" if unit == "Mpps" else f"{x:.0f}"


def machine_line(m):
    """The host's facts recorded by run.py (older results have none)."""
    h = m["machine"]
    q = lambda v: "?" if v is None else v           # noqa: E731
    guest = {True: "a VM guest", False: "bare metal", None: "guest ?"}[h.get("guest")]
    tree = {True: "tracked files changed from the commit (dirty)", False: "the commit's tree",
            None: "tree ?"}[m.get("dirty")]
    return (f"Machine: {guest}, {q(h.get('mem_gib'))} GiB, clocksource {q(h.get('clocksource'))}, "
            f"CONFIG_HZ {q(h.get('hz'))}, BPF JIT {q(h.get('bpf_jit'))}, "
            f"spectre_v2 \"{q(h.get('spectre_v2'))}\"; {tree}.")


def main():
    with open(sys.argv[1]) as f:
        res = json.load(f)
    m = res["meta"]
    print(f"Run: {m['date']}, commit {m.get('commit', '?')}, mode {m['mode']}, "
          f"{m['runs']} A/B pairs x {m['duration_s']} s, {m['threads']} generator threads, "
          f"kernel {m['kernel']}, {m['cpus']} CPUs ({m.get('cpu_model', '?')}), "
          f"wall {m['wall_s']} s.\n")
    if m.get("machine"):
        print(machine_line(m) + "\n")
    if m.get("rerun"):
        rr = m["rerun"]
        print(f"Rows run again at commit {rr['commit']} ({rr['date']}) and merged in: "
              f"{', '.join(rr['names'])}.\n")
    rows = [r for r in res["scenarios"] if "a" in r and ":" not in r["name"]]
    print("| scenario | A | B | A median | B median | A/B (median of pairs) | unit | goal |")
    print("|---|---|---|---:|---:|---:|---|---|")
    for r in rows:
        if r["status"] != "ok":
            print(f"| {r['name']} | {r['a']['label']} | {r['b']['label']} | - | - | - | "
                  f"{r['unit']} | {r['status']}: {r.get('reason', '')[:80]} |")
            continue
        goal = "-"
        if "goal" in r:
            goal = f"{r['goal']}: **{'met' if r['goal_met'] else 'missed'}**"
        print(f"| {r['name']} | {r['a']['label']} | {r['b']['label']} | "
              f"{fmt(r['a']['median'], r['unit'])} | {fmt(r['b']['median'], r['unit'])} | "
              f"{r['ratio_median']:.3f} | {r['unit']} | {goal} |")
    for prog in ("xdp", "tc"):
        cost = [r for r in res["scenarios"] if r["name"].startswith(f"cost-{prog}:") and "a" in r]
        if not cost:
            continue
        # The median of the runs, and the fastest run (results before the
        # fastest was recorded show "-"): on a host whose runs fall in two
        # modes the medians wander, the fastest does not.
        print(f"\n| castle_{prog} path | castle ns/pkt | fastest | baseline | baseline ns/pkt | "
              "fastest | castle - baseline | fastest - fastest | ratio |")
        print("|---|---:|---:|---|---:|---:|---:|---:|---:|")
        q = lambda v: "-" if v is None else f"{v:.0f}"   # noqa: E731
        for r in cost:
            a, b = r["a"]["median"], r["b"]["median"]
            am, bm = r["a"].get("min"), r["b"].get("min")
            print(f"| {r['name'].split(':', 1)[1]} | {a:.0f} | {q(am)} | {r['b']['label']} | "
                  f"{b:.0f} | {q(bm)} | {a - b:.0f} | "
                  f"{q(None if am is None or bm is None else am - bm)} | "
                  f"{r['ratio_median']:.2f} |")
        info = [r for r in res["scenarios"] if r["name"] == f"cost-{prog}:verifier"]
        if info:
            v = info[0]["values"]
            print(f"\ncastle_{prog}: verifier processed {v['verified_insns']} instructions; "
                  f"{v['xlated_bytes']} bytes of BPF, {v['jited_bytes']} bytes JIT'd, "
                  f"{v['subprogs']} functions.")
    for r in res["scenarios"]:
        if "values" in r and not r["name"].startswith("cost-"):
            print(f"\n{r['name']} ({r['status']}):")
            for k, v in r["values"].items():
                print(f"- {k}: {v}")


if __name__ == "__main__":
    main()
